"""The dialogs of the Reject flow: the scheduled-appointments warning and the reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from enum import Enum
from typing import ClassVar
from zoneinfo import ZoneInfo

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from linker_tui.read.views import AppointmentView, RequestRow
from linker_tui.tui.formatting import appointment_summary, plural
from linker_tui.tui.modals.base import Dialog, button, text
from linker_tui.tui.safe import SafeInput, line, lines

QUICK_REASONS: tuple[str, ...] = (
    "No availability",
    "Duplicate request",
    "Not a patient of this practice",
)
_SHOWN = 5


class WarningChoice(Enum):
    """What staff chose after the warning."""

    LINK_INSTEAD = "link_instead"
    REJECT_ANYWAY = "reject_anyway"


class ScheduledWarning(Dialog[WarningChoice | None]):
    """ "This patient has N scheduled appointment(s): … Link instead?"."""

    TITLE_TEXT = "Link instead of rejecting?"
    AUTO_FOCUS = "#link_instead"

    def __init__(
        self,
        row: RequestRow,
        appointments: Sequence[AppointmentView],
        tz: ZoneInfo,
        reload: Callable[[], Sequence[AppointmentView]] | None = None,
    ) -> None:
        super().__init__()
        self.row, self.appointments, self.tz = row, tuple(appointments), tz
        self.reload = reload  # the patient's scheduled appointments, read again after a sync

    def compose_body(self) -> ComposeResult:
        """The appointments, and why linking is better."""
        yield text(self._text(), id="body")

    def _text(self) -> Content:
        rows = [line("Request ", (self.row.external_id, "bold"), " from ", self.row.typed_name)]
        if not self.appointments:
            rows.append(
                line(("The last sync left no scheduled appointment for this patient.", "bold"))
            )
            return lines(*rows)
        count = plural(len(self.appointments), "scheduled appointment")
        rows.append(line(("This patient has ", "bold"), (count, "bold"), ":"))
        rows += [line("  • ", appointment_summary(a, self.tz)) for a in self.appointments[:_SHOWN]]
        if len(self.appointments) > _SHOWN:
            rows.append(line(f"  … and {len(self.appointments) - _SHOWN} more"))
        rows.append(line("Link instead? Rejecting only marks it declined: no message is sent."))
        return lines(*rows)

    def after_sync(self) -> None:
        """Read the patient's scheduled appointments again."""
        if self.reload is not None:
            self.run_worker(self._look_again(), group="recheck", exclusive=True)

    async def _look_again(self) -> None:
        assert self.reload is not None
        appointments = tuple(await asyncio.to_thread(self.reload))
        if not self.is_attached:
            return
        self.appointments = appointments
        # the dialog may have closed meanwhile: its widgets gone, the screen still attached
        with contextlib.suppress(NoMatches):
            self.query_one("#body", Static).update(self._text())
            self.query_one("#link_instead", Button).disabled = not appointments

    def buttons(self) -> ComposeResult:
        """Link instead / reject anyway / cancel."""
        yield button("Link instead", "link_instead", variant="primary")
        yield button("Reject anyway", "reject_anyway", variant="error")
        yield button("Cancel", "cancel")

    def cancelled(self) -> WarningChoice | None:
        """Esc: nothing chosen."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choices = {
            "link_instead": WarningChoice.LINK_INSTEAD,
            "reject_anyway": WarningChoice.REJECT_ANYWAY,
        }
        self.dismiss(choices.get(event.button.id or ""))


class RejectReason(Dialog[str | None]):
    """Asks for the reason (required). In the quick reasons, 1, 2, 3 pick one (into the
    reason field, which then has the focus) and any other typing goes into the field."""

    TITLE_TEXT = "Reject request"
    AUTO_FOCUS = "#quick"
    BINDINGS: ClassVar[list[BindingType]] = [
        *Dialog.BINDINGS,
        *(
            Binding(str(n), f"quick({n - 1})", reason, show=False, id=f"modal.reason_{n}")
            for n, reason in enumerate(QUICK_REASONS, 1)
        ),
    ]

    def __init__(self, row: RequestRow) -> None:
        super().__init__()
        self.row = row

    def compose_body(self) -> ComposeResult:
        """Quick reasons, the reason field, and room for an error."""
        yield text(
            lines(
                line("Reject ", (self.row.external_id, "bold"), " from ", self.row.typed_name, "?"),
                line("Pick a reason (1, 2, 3) or type one; it is kept in the audit trail."),
            )
        )
        yield OptionList(
            *(
                Option(Content(f"{n}  {reason}"), id=f"quick-{n}")
                for n, reason in enumerate(QUICK_REASONS, 1)
            ),
            id="quick",
            compact=True,
        )
        with Horizontal(id="reason-row"):
            yield Static(Content("Reason:"), id="reason-label")
            yield SafeInput(
                placeholder="type a reason (required)",
                id="reason",
                select_on_focus=False,
                compact=True,
            )
        yield Static(Content(""), id="reason-error", classes="dialog-error")

    def buttons(self) -> ComposeResult:
        """Reject / cancel."""
        yield button("Reject", "ok", variant="error")
        yield button("Cancel", "cancel")

    def cancelled(self) -> str | None:
        """Esc: not rejected."""
        return None

    def action_quick(self, index: int) -> None:
        """Use a quick reason: it fills the reason field, which takes the focus with the
        cursor at the end, as any text field (typing adds to it, Enter rejects)."""
        reason = self.query_one("#reason", Input)
        reason.value = QUICK_REASONS[index]
        self.query_one("#quick", OptionList).highlighted = index
        reason.focus()
        reason.cursor_position = len(reason.value)

    @on(OptionList.OptionSelected, "#quick")
    def _quick_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_quick(event.option_index)

    def on_key(self, event: events.Key) -> None:
        """Typing while the quick reasons are focused goes into the reason field."""
        if event.key in self.active_bindings:  # 1, 2, 3 pick a quick reason
            return
        reason = self.query_one("#reason", Input)
        if self.focused is self.query_one("#quick") and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            reason.focus()
            reason.insert_text_at_cursor(event.character)

    @on(Input.Submitted, "#reason")
    def _submitted(self) -> None:
        self._reject()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._reject()
        else:
            self.dismiss(None)

    def _reject(self) -> None:
        reason = " ".join(self.query_one("#reason", Input).value.split())
        if not reason:
            error = self.query_one("#reason-error", Static)
            error.update(line("A reason is needed."))
            error.add_class("-shown")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)
