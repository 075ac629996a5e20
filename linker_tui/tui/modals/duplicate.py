"""A second request for an appointment already linked to an earlier one: close it as a
duplicate (no message goes to the patient), or look at the other appointments."""

from __future__ import annotations

from enum import Enum
from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button

from linker_tui.read.views import AcceptCheck, LinkedElsewhere, RequestRow
from linker_tui.tui.formatting import appointment_summary
from linker_tui.tui.modals.base import button, text
from linker_tui.tui.modals.checked import (
    BOLD,
    CheckedDialog,
    Recheck,
    note_box,
    patient_line,
    request_line,
    requested_line,
)
from linker_tui.tui.modals.link import taken_text
from linker_tui.tui.safe import line, lines

NO_LONGER = "The earlier request is no longer linked to it: Cancel, then Accept again."
"""Shown when the earlier request was reopened (or relinked) while the dialog was open."""


class DuplicateChoice(Enum):
    """What staff chose in the duplicate dialog."""

    CLOSE = "close"
    OTHERS = "others"


class Duplicate(CheckedDialog[DuplicateChoice | None]):
    """The appointment at exactly the requested time is linked to an earlier request."""

    TITLE_TEXT = "Duplicate request?"
    AUTO_FOCUS = "#close"

    def __init__(
        self, row: RequestRow, check: AcceptCheck, tz: ZoneInfo, recheck: Recheck | None = None
    ) -> None:
        super().__init__(check, recheck)
        assert check.duplicate_of is not None
        self.row, self.tz = row, tz
        self.original: LinkedElsewhere = check.duplicate_of

    def compose_body(self) -> ComposeResult:
        """The request, the appointment and the earlier request linked to it."""
        yield text(self._text(), id="body")
        yield from note_box(self.check)

    def _text(self) -> Content:
        exact = self.check.exact_candidate
        rows = [
            request_line(self.row),
            patient_line(self.check),
            requested_line(self.check, self.tz),
        ]
        if exact is not None:
            rows.append(
                line(("Scheduled:  ", BOLD), appointment_summary(exact.appointment, self.tz))
            )
        rows.append(line((taken_text(self.original, self.tz), BOLD)))
        if self.check.duplicate_of == self.original:
            rows.append(
                line(
                    "This request looks like a second one for the same appointment. Close as "
                    "duplicate marks it closed; no message goes to the patient."
                )
            )
        else:
            rows.append(line((NO_LONGER, BOLD)))
        return lines(*rows)

    def show_check(self, check: AcceptCheck) -> None:
        """After a sync or another desk's decision: still a duplicate of the same request?"""
        self._body().update(self._text())
        self.query_one("#close", Button).disabled = check.duplicate_of != self.original

    def buttons(self) -> ComposeResult:
        """Close as duplicate / other appointments / cancel."""
        yield button("Close as duplicate", "close", variant="primary")
        others = len(self.check.candidates) - 1
        if others > 0:
            yield button(f"Other appointments ({others})", "others")
        yield button("Cancel", "cancel")

    def cancelled(self) -> DuplicateChoice | None:
        """Esc: nothing chosen."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choices = {"close": DuplicateChoice.CLOSE, "others": DuplicateChoice.OTHERS}
        self.dismiss(choices.get(event.button.id or ""))
