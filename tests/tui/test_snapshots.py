"""Snapshots of the main screen and every dialog, at 80x24 and 120x40.

Deterministic: the fixture practice, a fixed clock, and each snapshot taken only after
every worker has finished. Look at the report before ``--snapshot-update``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select as sql_select
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from linker_tui.store.db import write_session
from linker_tui.store.enums import OutboxStatus, SyncRunStatus
from linker_tui.store.models import Appointment, EmailOutbox, OnlineRequest, SyncRun
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.jobs import SyncFinished
from linker_tui.tui.modals.candidates import Candidates, NoMatch
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.duplicate import Duplicate
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning
from linker_tui.tui.screens.email_preview import EmailPreviewScreen
from linker_tui.tui.screens.help import HelpScreen
from linker_tui.tui.screens.main import DECISION_GROUP, MainScreen
from linker_tui.tui.screens.outbox import OutboxScreen
from linker_tui.tui.screens.request import RequestScreen
from linker_tui.tui.screens.sign_in import SignInScreen
from linker_tui.tui.screens.sync_runs import SyncRunsScreen
from tests.sync_support import appointment
from tests.tui.drive import LARGE, SMALL, main_screen, select, settle, wait_screen, wait_until
from tests.tui.test_sync import CAN_LINK, dan_export
from tests.tui.world import NOW, RefusingMailer, build_world

Steps = Callable[[Pilot[None]], Awaitable[None]]


Step = tuple[str, type[Screen[Any]]]


async def _quiet(pilot: Pilot[None]) -> None:
    """Wait until every worker but the decision flow (which waits on the dialog) is done."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: all(w.is_finished or w.group == DECISION_GROUP for w in app.workers),
        "the workers to finish",
    )
    await pilot.pause()


def _goto(word: str | None, steps: tuple[Step, ...], *, handled: bool = False) -> Steps:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if handled:
            await pilot.press("h")
            await settle(pilot)
        if word is not None:
            await select(pilot, word)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await _quiet(pilot)

    return run


def _mail_failed(steps: tuple[Step, ...]) -> Steps:
    """The linked request's queued email fails for good (the server refuses it), then the
    list is refreshed and ``steps`` follow."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, LinkerApp)
        app.services.relay(RefusingMailer()).run_once()
        await pilot.press("f5")
        await settle(pilot)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await settle(pilot)

    return run


async def _patient_search(pilot: Pilot[None]) -> None:
    await _goto("Zoe", (("p", PatientChooser),))(pilot)
    pilot.app.screen.query_one("#patient-search", Input).insert_text_at_cursor("lee")
    await pilot.press("enter")
    await _quiet(pilot)


def _synced(*, problem: bool = False, steps: tuple[Step, ...] = ()) -> Steps:
    """A sync of a small export (with a bad row when ``problem``), then ``steps``."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, LinkerApp)
        export = app.services.settings.pms_export_dir
        assert export is not None
        data = dan_export()
        if problem:
            data.appointments.append(
                appointment("A-BAD", "PAT-dan", "2026-12-20T10:30", status="[b]x[/b]")
            )
        data.write(export, age=60)
        summary = await asyncio.to_thread(app.services.sync_now)
        app.post_message(SyncFinished(summary))
        await settle(pilot)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await settle(pilot)

    return run


def _stored_run(status: SyncRunStatus, minutes_ago: int, error: str = "") -> Steps:
    """A run stored by another desk (failed, or ok but long ago): the status line says so."""

    async def run(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, LinkerApp)
        with write_session(app.services.engine) as s:
            when = NOW - timedelta(minutes=minutes_ago)
            s.add(
                SyncRun(
                    started_at=when - timedelta(seconds=3),
                    finished_at=when,
                    status=status,
                    trigger="schedule",
                    inserted=3,
                    updated=12,
                    error=error,
                )
            )
        await settle(pilot)
        main_screen(app).poll()
        await settle(pilot)

    return run


async def _attention(pilot: Pilot[None]) -> None:
    """Two requests flagged by the sync (one open, one linked), handled requests shown."""
    app = pilot.app
    assert isinstance(app, LinkerApp)
    with write_session(app.services.engine) as s:
        for external_id, text in (
            ("REQ-1004", CAN_LINK),
            ("REQ-1009", "The linked appointment A-GRETA on Mon 2026-12-07 09:00 was cancelled."),
        ):
            request = s.exec(
                sql_select(OnlineRequest).where(OnlineRequest.external_id == external_id)
            ).one()
            request.attention = text
            s.add(request)
    await _goto(None, (("h", MainScreen), *(("down", MainScreen),) * 3))(pilot)


ALLERGY = (
    "IMPORTANT: I am allergic to penicillin and to latex gloves, so please make sure the "
    "hygienist knows before the cleaning starts. Last time the reaction was quite bad and I "
    "had to go to the walk-in clinic afterwards. I also take blood thinners (warfarin) every "
    "morning, my cardiologist asked me to tell every dentist about it. If the appointment "
    "needs a numbing shot please call me the day before at 416-555-0199. Thank you!"
)


def _second_request(
    appointment_pms_id: str, external_id: str, first: type[Screen[Any]], note: str = ""
) -> Steps:
    """Another request for the date, time and dentist of an appointment (its patient's),
    then Accept."""

    async def run(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, LinkerApp)
        with write_session(app.services.engine) as s:
            booked = s.exec(
                sql_select(Appointment).where(Appointment.pms_id == appointment_pms_id)
            ).one()
            s.add(
                OnlineRequest(
                    external_id=external_id,
                    received_at=NOW - timedelta(hours=1),
                    typed_first_name="Second",
                    typed_last_name="Request",
                    requested_start=booked.start,
                    requested_provider_id=booked.provider_id,
                    note=note,
                    patient_id=booked.patient_id,
                )
            )
        await _goto(external_id, (("a", first),))(pilot)

    return run


def _long_note(steps: tuple[Step, ...]) -> Steps:
    """The exact request carries a 392-character note (cut, and marked, in the pane)."""

    async def run(pilot: Pilot[None]) -> None:
        from tests.tui.test_request_screen import ALLERGY

        app = pilot.app
        assert isinstance(app, LinkerApp)
        with write_session(app.services.engine) as s:
            request = s.exec(
                sql_select(OnlineRequest).where(OnlineRequest.external_id == "REQ-1001")
            ).one()
            request.note = ALLERGY
            s.add(request)
        await _goto("REQ-1001", steps)(pilot)

    return run


async def _correction(pilot: Pilot[None]) -> None:
    """Greta's confirmation was sent, her request reopened: linking it again offers a
    correction email."""
    app = pilot.app
    assert isinstance(app, LinkerApp)
    with write_session(app.services.engine) as s:
        email = s.exec(sql_select(EmailOutbox)).one()
        email.status, email.sent_at = OutboxStatus.SENT, NOW - timedelta(hours=2)
        s.add(email)
        request = s.exec(
            sql_select(OnlineRequest).where(OnlineRequest.external_id == "REQ-1009")
        ).one()
        assert request.id is not None
        request_id = request.id
    await asyncio.to_thread(app.services.workflow.reopen, request_id, expected_version=2)
    steps = (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    await _goto("REQ-1009", steps)(pilot)


def _mail_written(steps: tuple[Step, ...]) -> Steps:
    """The linked request's email written by the file backend, then ``steps``."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, LinkerApp)
        services = app.services
        with write_session(services.engine) as s:  # a fixed Message-ID, hence file name
            for row in s.exec(sql_select(EmailOutbox)).all():
                row.message_id = f"<fixed-{row.id}@practice.invalid>"
                s.add(row)
        assert services.deliver_outbox().sent == 1
        # the screens name the file in this folder (the test's own varies)
        services.settings = services.settings.with_overrides(outbox_dir=Path("/srv/outbox"))
        await pilot.press("f5")
        await settle(pilot)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await settle(pilot)

    return run


def _staff(steps: tuple[Step, ...]) -> Steps:
    """The practice lists its staff (sign-in optional): ``u``, then ``steps``."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, LinkerApp)
        staff = {"Alice Chen": "", "Bob Singh": ""}
        app.services.settings = app.services.settings.with_overrides(staff=staff)
        first: Step = ("u", SignInScreen)
        for key, screen in (first, *steps):
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await settle(pilot)
        app.clear_notifications()  # the toast times out: not in the picture
        await pilot.pause()

    return run


CASES: dict[str, Steps] = {
    "main": _goto(None, ()),
    "main_handled": _goto(None, (("h", MainScreen),)),
    "exact": _goto("exact", (("a", ExactMatch),)),
    "candidates": _goto("partial", (("a", Candidates),)),
    "several": _goto("several", (("a", Candidates),)),
    "no_match": _goto("nothing", (("a", NoMatch),)),
    "confirm_link": _goto(
        "partial", (("a", Candidates), ("down", Candidates), ("enter", ConfirmLink))
    ),
    "email_yes": _goto(
        "exact", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "email_optout": _goto(
        "optout", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "email_noaddress": _goto(
        "noaddress", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "reject_warning": _goto("partial", (("r", ScheduledWarning),)),
    "reject_reason": _goto("unknown", (("r", RejectReason),)),
    "reopen": _goto("linked", (("o", Confirm),), handled=True),
    "help": _goto(None, (("question_mark", HelpScreen),)),
    "main_mail_failed": _mail_failed(()),
    "outbox": _mail_failed((("m", OutboxScreen),)),
    "patient_alike": _goto("REQ-1010", (("a", PatientChooser),)),
    "patient_search": _patient_search,
    "main_synced": _synced(),
    "main_sync_failed": _stored_run(SyncRunStatus.FAILED, 18, "appointments.csv: timed out"),
    "main_sync_stale": _stored_run(SyncRunStatus.OK, 75),
    "main_attention": _attention,
    "sync_runs": _synced(problem=True, steps=(("Y", SyncRunsScreen),)),
    "duplicate": _second_request("A-GRETA", "REQ-2001", Duplicate),
    "exact_note": _second_request("A-EXACT", "REQ-2002", ExactMatch, note=ALLERGY),
    "email_correction": _correction,
    "main_long_note": _long_note(()),
    "request": _long_note((("enter", RequestScreen),)),
    "outbox_written": _mail_written((("m", OutboxScreen),)),
    "email_preview": _mail_written((("m", OutboxScreen), ("enter", EmailPreviewScreen))),
    "sign_in": _staff(()),
    "main_signed_in": _staff((("down", SignInScreen), ("enter", MainScreen))),
}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("case", list(CASES))
def test_snapshot(
    snap_compare: Callable[..., bool], tmp_path: Path, case: str, size: tuple[int, int]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    world = build_world(tmp_path, pms_export_dir=export)
    app = LinkerApp(world.services, background_jobs=False)
    assert snap_compare(app, terminal_size=size, run_before=CASES[case])
