"""What the Accept dialogs share: a dialog showing an :class:`AcceptCheck` that looks again
after a sync, and the request/patient/requested lines at their top."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Protocol
from zoneinfo import ZoneInfo

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Button, Static

from linker_tui.read.views import AcceptCheck, CandidateView, RequestRow
from linker_tui.tui.formatting import with_provider
from linker_tui.tui.modals.base import Dialog, ResultT, text
from linker_tui.tui.safe import line
from linker_tui.workflow.errors import WorkflowError

BOLD = "bold"
DIFF_STYLE = "bold underline"
GONE = "The last sync changed this appointment in the PMS: it is no longer scheduled."
"""Shown in a dialog whose appointment a sync cancelled or removed while it was open."""


class Recheck(Protocol):
    """Looks at the request again (``Workflow.check``, the request and patient given);
    blocking, run off the UI thread. ``narrow``: staff's narrowing of the appointments;
    ``keep``: an appointment listed whatever the limit and the narrowing."""

    def __call__(self, *, narrow: str = "", keep: int | None = None) -> AcceptCheck:
        """The check as the database has it now."""
        ...


class CheckedDialog(Dialog[ResultT]):
    """A dialog showing an :class:`AcceptCheck`: after a sync it looks again (when given a
    ``recheck``) and shows the new state in place (:meth:`show_check`)."""

    def __init__(self, check: AcceptCheck, recheck: Recheck | None = None) -> None:
        super().__init__()
        self.check = check
        self.recheck = recheck
        self.decided = ""
        """Why the request can no longer be decided here (another desk did), once known."""

    def after_sync(self) -> None:
        """A sync ended: look at the request again, off the UI thread."""
        if self.recheck is not None:
            self.run_worker(self._look_again(), group="recheck", exclusive=True)

    def kept(self) -> int | None:
        """The appointment this dialog shows, listed when it looks again (if any)."""
        return None

    async def _look_again(self, *, keep: bool = True) -> None:
        """Look again (with the narrowing shown, and the appointment shown ``kept``)."""
        assert self.recheck is not None
        recheck = functools.partial(
            self.recheck, narrow=self.narrowing(), keep=self.kept() if keep else None
        )
        try:
            check = await asyncio.to_thread(recheck)
        except WorkflowError as error:  # another desk decided the request meanwhile
            if self.is_attached:
                with contextlib.suppress(NoMatches):  # closed meanwhile: nothing to show
                    self.show_decided(str(error))
            return
        if self.is_attached and not self.decided:
            self.check = check
            # The look took a moment: the dialog (or the app) may have closed meanwhile and
            # its widgets be gone, although the screen is still attached.
            with contextlib.suppress(NoMatches):
                self.show_check(check)

    def narrowing(self) -> str:
        """Staff's narrowing of the appointments (the check's, unless the dialog has its
        own field)."""
        return self.check.narrow

    def show_check(self, check: AcceptCheck) -> None:
        """Show ``check`` (already stored in ``self.check``) in place."""

    def show_decided(self, why: str) -> None:
        """Another desk decided the request: say who and when; only Cancel is left."""
        first = not self.decided
        self.decided = why
        if first:
            notice = text(line(("Decided at another desk meanwhile. ", BOLD), why), id="decided")
            self.query_one(".dialog").mount(notice, after=self._body())
        for each in self.query(".dialog-buttons Button").results(Button):
            each.disabled = each.id != "cancel"
        self.set_focus(self.query_one("#cancel", Button))

    def _body(self) -> Static:
        return self.query_one("#body", Static)


def still_scheduled(check: AcceptCheck, appointment_id: int) -> CandidateView | None:
    """The candidate for ``appointment_id`` in ``check``, if the PMS still has it scheduled."""
    return next((c for c in check.candidates if c.appointment.id == appointment_id), None)


def request_line(row: RequestRow) -> Content:
    """``Request REQ-1001 from Jane Doe``."""
    return line("Request ", (row.external_id, BOLD), " from ", row.typed_name or "(no name)")


def requested_line(check: AcceptCheck, tz: ZoneInfo) -> Content:
    """``Requested:  Thu 2026-12-03 09:30 with Dr. X``."""
    asked = with_provider(check.requested_start, check.requested_provider_name, tz)
    return line(("Requested:  ", BOLD), asked)


def patient_line(check: AcceptCheck) -> Content:
    """``Patient: Doe, Jane`` or ``Patient: patient not found (why)``."""
    if check.patient_name:
        return line(("Patient: ", BOLD), check.patient_name)
    return line(("Patient: ", BOLD), f"patient not found ({check.explanation})")


class NoteBox(VerticalScroll):
    """The patient's note (it can be long: "IMPORTANT: I am allergic to penicillin…"),
    wrapped, at most a few lines high; when it is longer, Tab reaches the box and the
    arrows scroll through the whole text."""

    DEFAULT_CSS = """
    NoteBox {
        height: auto;
        max-height: 4;
        width: 100%;
        scrollbar-size-vertical: 1;
    }
    NoteBox > Static { width: 1fr; height: auto; }
    """

    def __init__(self, note: str) -> None:
        super().__init__(id="note", can_focus=False)
        self.note = note

    def compose(self) -> ComposeResult:
        """The note, literal and wrapped."""
        yield text(line(("Note: ", BOLD), self.note), classes="dialog-text note-text")

    def on_resize(self) -> None:
        """Focusable (to scroll it) only when the note is longer than the box."""
        self.can_focus = self.max_scroll_y > 0


def note_box(check: AcceptCheck) -> ComposeResult:
    """The request's note under the dialog's text, when the patient wrote one."""
    if check.note.strip():
        yield NoteBox(check.note)
