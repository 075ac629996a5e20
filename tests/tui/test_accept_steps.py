"""More of the Accept flow with real keys: Esc one dialog back on every path, a second
request for an appointment already linked (close as duplicate), the correction email
when a request whose confirmation was sent is linked again, the patient's note."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Button, Static

from linker_tui.common.text import clean
from linker_tui.store.db import write_session
from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.store.models import Appointment, EmailOutbox, OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates
from linker_tui.tui.modals.checked import NoteBox
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.duplicate import Duplicate
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import (
    SMALL,
    dialog_text,
    notifications,
    plain,
    select,
    settle,
    wait_screen,
    wait_until,
)
from tests.tui.world import World, at, dump

ALLERGY = (
    "IMPORTANT: I am allergic to penicillin and to latex gloves, so please make sure the "
    "hygienist knows before the cleaning starts. Last time the reaction was quite bad and I "
    "had to go to the walk-in clinic afterwards. I also take blood thinners (warfarin) every "
    "morning, my cardiologist asked me to tell every dentist about it. If the appointment "
    "needs a numbing shot please call me the day before at 416-555-0199. Thank you! END"
)


def add_request(world: World, key: str, patient: str, appointment: str, note: str = "") -> int:
    """Another request from ``patient`` for the date, time and dentist of ``appointment``."""
    with write_session(world.engine) as s:
        booked = s.get_one(Appointment, world.appointments[appointment])
        request = OnlineRequest(
            external_id=f"REQ-{key}",
            received_at=at(11, 27, 8, 0),
            typed_first_name=key.title(),
            typed_last_name="Again",
            requested_start=booked.start,
            requested_provider_id=booked.provider_id,
            note=note,
            patient_id=world.patients[patient],
        )
        s.add(request)
        s.flush()
        assert request.id is not None
        world.requests[key] = request.id
        return request.id


async def test_esc_on_the_candidates_after_other_appointments_steps_back_to_the_exact_match(
    world: World,
) -> None:
    world.add_appointment("A-EXACT-2", "jane", "osei", at(12, 9, 10, 0))
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("right", "enter")  # Other appointments (1)
        await wait_screen(pilot, Candidates)
        assert "Esc: back, nothing changes" in plain(app.screen.query_one(".dialog-hint", Static))
        await pilot.press("escape")
        await wait_screen(pilot, ExactMatch)
        assert dump(world.engine) == before
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before


async def test_esc_on_set_the_patient_steps_back_to_the_chooser(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        await pilot.press("p")
        await wait_screen(pilot, PatientChooser)
        await pilot.press("down", "enter")
        await wait_screen(pilot, Confirm)
        assert "Esc: back, nothing changes" in plain(app.screen.query_one(".dialog-hint", Static))
        await pilot.press("escape")
        await wait_screen(pilot, PatientChooser)
        assert dump(world.engine) == before
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before


async def test_a_second_request_for_a_linked_appointment_closes_as_a_duplicate(
    world: World,
) -> None:
    add_request(world, "again", "greta", "A-GRETA")
    first = world.request("linked")
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-again")
        await pilot.press("a")
        await wait_screen(pilot, Duplicate)
        text = dialog_text(app)
        assert f"Already linked to {first.external_id} by tester@desk-1 at " in text
        assert "no message goes to the patient" in text
        assert app.focused is not None and app.focused.id == "close"
        await pilot.press("escape")  # the first dialog: back to the list, nothing changes
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert dump(world.engine) == before
        await pilot.press("a")
        await wait_screen(pilot, Duplicate)
        await pilot.press("enter")  # Close as duplicate
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any(f"Duplicate of {first.external_id}" in m for m in notifications(app))
    closed = world.request("again")
    assert closed.state == RequestState.REJECTED.value
    assert closed.reject_reason == f"Duplicate of {first.external_id}"
    assert world.outbox("again") == []
    (event,) = world.audit("again")
    assert event.action == "reject" and "closed as a duplicate of" in event.detail
    assert world.request("linked").version == first.version  # the earlier one untouched


async def test_linking_a_sent_request_again_offers_a_correction_email(world: World) -> None:
    """Greta's request was linked and its confirmation sent; reopened, then linked to
    another appointment: the email prompt offers a correction, queued with the link."""
    (sent,) = world.outbox("linked")
    with write_session(world.engine) as s:
        email = s.get_one(EmailOutbox, sent.id)
        email.status, email.sent_at = OutboxStatus.SENT, at(11, 26, 10, 0)
        s.add(email)
    world.services.workflow.reopen(world.requests["linked"], expected_version=2)
    world.add_appointment("A-GRETA-2", "greta", "chen", at(12, 8, 15, 0))
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "Greta")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("right", "enter")  # Other appointments (1)
        await wait_screen(pilot, Candidates)
        await pilot.press("down", "enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        screen = await wait_screen(pilot, EmailPrompt)
        assert plain(screen.query_one(".dialog-title", Static)) == "Correction email"
        text = dialog_text(app)
        assert "Send a correction email to greta" in text
        assert "The patient has the earlier confirmation (Mon 2026-12-07 09:00, sent to" in text
        assert "the correction replaces it" in text
        assert str(screen.query_one("#yes", Button).label) == "Yes, send correction"
        await pilot.press("escape")  # back to "Link this request?", nothing written
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any("Correction email queued for greta" in m for m in notifications(app))
    request = world.request("linked")
    assert request.linked_appointment_id == world.appointments["A-GRETA-2"]
    old, new = world.outbox("linked")
    assert old.status == OutboxStatus.SENT.value
    assert new.status == OutboxStatus.QUEUED.value
    assert new.subject.startswith("Correction: your appointment at")
    link = world.audit("linked")[-1]
    assert link.action == "link" and "correction email queued" in link.detail


async def _read_the_whole_note(pilot: Pilot[None], box: NoteBox) -> None:
    """The note box shows the whole note: wrapped, a few lines high, scrolled to its end."""
    await wait_until(pilot, lambda: box.size.height > 0, "the note box")
    shown = plain(box.query_one(Static))
    assert shown == f"Note: {clean(ALLERGY)}"
    assert shown.endswith("Thank you! END")
    assert 1 < box.size.height <= 4  # wrapped, a few lines high
    assert box.can_focus and box.max_scroll_y > 0
    focused = pilot.app.focused
    box.focus()
    await pilot.press("end")
    await wait_until(pilot, lambda: box.scroll_y == box.max_scroll_y, "scrolled")
    if focused is not None:
        focused.focus()


async def test_the_patients_long_note_is_in_the_accept_dialogs_whole(world: World) -> None:
    """392+ characters: wrapped in a box a few lines high; when longer, Tab reaches the
    box and the arrows scroll to its end: the whole text is there."""
    assert len(ALLERGY) >= 392
    add_request(world, "allergy", "jane", "A-EXACT", note=ALLERGY)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-allergy")
        await pilot.press("a")
        for dialog in (ExactMatch, ConfirmLink):
            screen = await wait_screen(pilot, dialog)
            await _read_the_whole_note(pilot, screen.query_one(NoteBox))
            await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("escape", "escape", "escape")
        await wait_screen(pilot, MainScreen)
