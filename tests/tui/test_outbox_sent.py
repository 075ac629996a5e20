"""The outbox screen on a sent email: the truth about the file backend ("written", the
.eml file's path), Retry and Cancel saying why they do nothing, sending it again (a new
row, audited), the email as the patient sees it, and subjects that start alike."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from linker_tui.store.db import write_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.screens.email_preview import EmailPreviewScreen
from linker_tui.tui.screens.outbox import OutboxScreen, OutboxTable
from tests.tui.drive import LARGE, SMALL, notifications, plain, settle, wait_screen
from tests.tui.world import NOW, World, build_world, dump


def _screen(app: LinkerApp) -> OutboxScreen:
    screen = app.screen
    assert isinstance(screen, OutboxScreen)
    return screen


def _cells(app: LinkerApp, row: int) -> list[str]:
    table = _screen(app).query_one(OutboxTable)
    return [cell.plain for cell in table.get_row_at(row)]


async def _open_outbox(app: LinkerApp, pilot: object) -> OutboxScreen:
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press("m")  # type: ignore[attr-defined]
    await wait_screen(pilot, OutboxScreen)  # type: ignore[arg-type]
    await settle(pilot)  # type: ignore[arg-type]
    return _screen(app)


async def test_a_written_email_says_written_and_where_and_r_c_say_why_not(world: World) -> None:
    assert world.services.deliver_outbox().sent == 1  # the file backend writes it
    (email,) = world.outbox("linked")
    path = world.tmp_path / "outbox" / (email.message_id.strip("<>").replace("@", "_at_") + ".eml")
    assert path.exists()
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open_outbox(app, pilot)
        assert _cells(app, 0)[0] == "written"
        assert "sent" not in plain(screen.query_one("#outbox-counts"))  # "written 1"
        assert plain(screen.query_one("#outbox-counts")) == "written 1"
        detail = plain(screen.query_one("#outbox-detail"))
        assert "Status: written Fri 2026-11-27 09:00 (not sent: mail_backend = file)" in detail
        assert f"File: {path}" in detail
        commands = [spec.command for spec in screen.palette_actions()]
        assert "Retry email" not in commands and "Cancel email" not in commands
        assert "Send email again" in commands and "View email" in commands

        await pilot.press("r")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        said = notifications(app)
        assert said[-2].startswith(
            "This email was written Fri 2026-11-27 09:00; it cannot be retried"
        )
        assert said[-2].endswith("s sends it again (as a new email).")
        assert "it cannot be cancelled: the patient has it already" in said[-1]
        assert app.screen is screen  # no dialog
    assert dump(world.engine) == before  # nothing changed


async def test_send_again_asks_then_queues_a_new_email_and_keeps_the_sent_one(
    world: World,
) -> None:
    world.services.deliver_outbox()
    (sent,) = world.outbox("linked")
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open_outbox(app, pilot)
        await pilot.press("s")
        await wait_screen(pilot, Confirm)
        await pilot.press("escape")  # changes nothing
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        assert dump(world.engine) == before
        await pilot.press("s")
        await wait_screen(pilot, Confirm)
        await pilot.press("enter")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        assert [_cells(app, i)[0] for i in (0, 1)] == ["queued", "written"]
        assert any("queued again as email 2" in m for m in notifications(app))
    old, new = world.outbox("linked")
    assert old.model_dump() == sent.model_dump()  # its history is untouched
    assert (new.status, new.to_address, new.subject) == ("queued", sent.to_address, sent.subject)
    events = world.audit("linked")
    assert [e.action for e in events] == ["link", "email_resend"]
    assert (events[-1].desk_user, events[-1].workstation) == ("tester", "desk-1")


async def test_enter_shows_the_email_as_the_patient_sees_it(world: World) -> None:
    world.services.deliver_outbox()
    (sent,) = world.outbox("linked")
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open_outbox(app, pilot)
        await pilot.press("enter")
        preview = await wait_screen(pilot, EmailPreviewScreen)
        await settle(pilot)
        assert isinstance(preview, EmailPreviewScreen)
        text = preview.text()
        assert "To: Greta Linked <greta@example.com>" in text
        assert f"Subject: {sent.subject}" in text
        assert "From: " in text and "Date: Fri, 27 Nov 2026 14:00:00 +0000" in text
        assert sent.body_text.strip().splitlines()[0] in text
        assert "Attached: appointment.ics (text/calendar)" in text
        assert "File: " in text
        assert "\x1b" not in text
        await pilot.press("escape")
        await wait_screen(pilot, OutboxScreen)


async def test_subjects_that_start_alike_show_their_end_at_80_columns(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    (email,) = world.outbox("linked")
    start = email.subject.split(": ")[0]  # "Your appointment at <practice>"
    assert email.subject.startswith(f"{start}: Monday, December 7, 2026")
    with write_session(world.engine) as s:
        for n, when in enumerate(("Monday, December 7", "Tuesday, December 8"), start=1):
            s.add(
                EmailOutbox(
                    request_id=email.request_id,
                    appointment_id=email.appointment_id,
                    to_address=email.to_address,
                    subject=f"{start}: {when}, 2026 at 10:00 AM",
                    status=OutboxStatus.SENT,
                    created_at=NOW + timedelta(minutes=n),
                    sent_at=NOW + timedelta(minutes=n),
                )
            )
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open_outbox(app, pilot)
        subjects = [_cells(app, i)[3] for i in range(3)]
        assert subjects[0] == "…Tuesday, Decem…"
        assert subjects[1] == subjects[2] == "…Monday, Decemb…"
        detail = plain(_screen(app).query_one("#outbox-detail"))
        assert f"Subject: {start}: Tuesday, December 8, 2026 at 10:00 AM" in detail  # in full


async def test_smtp_backend_says_sent_and_shows_no_file(tmp_path: Path) -> None:
    world = build_world(tmp_path, mail_backend="smtp", demo=False)
    (email,) = world.outbox("linked")
    with write_session(world.engine) as s:
        row = s.get(EmailOutbox, email.id)
        assert row is not None
        row.status, row.sent_at, row.attempts = OutboxStatus.SENT, NOW, 1
        s.add(row)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open_outbox(app, pilot)
        assert _cells(app, 0)[0] == "sent"
        detail = plain(screen.query_one("#outbox-detail"))
        assert "Status: sent · 1 attempt · sent Fri 2026-11-27 09:00" in detail
        assert "File:" not in detail and "mail_backend" not in detail
