"""The dialogs that link: the exact match, "Link this request?" and the email prompt."""

from __future__ import annotations

from enum import Enum
from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button

from linker_tui.matching import Difference
from linker_tui.read.views import (
    AcceptCheck,
    AppointmentView,
    CandidateView,
    EmailPlan,
    LinkedElsewhere,
    RequestRow,
)
from linker_tui.tui.formatting import DIFFERS, appointment_summary, clock_time, day, long_datetime
from linker_tui.tui.modals.base import Dialog, button, text
from linker_tui.tui.modals.checked import (
    BOLD,
    DIFF_STYLE,
    GONE,
    CheckedDialog,
    Recheck,
    note_box,
    patient_line,
    request_line,
    requested_line,
    still_scheduled,
)
from linker_tui.tui.safe import line, lines


# --------------------------------------------------------------------- exact
class ExactChoice(Enum):
    """What staff chose in the exact-match dialog."""

    LINK = "link"
    OTHERS = "others"


class ExactMatch(CheckedDialog[ExactChoice | None]):
    """The appointment at exactly the requested time, offered for linking."""

    TITLE_TEXT = "Exact match"
    AUTO_FOCUS = "#link"

    def __init__(
        self, row: RequestRow, check: AcceptCheck, tz: ZoneInfo, recheck: Recheck | None = None
    ) -> None:
        super().__init__(check, recheck)
        assert check.exact_candidate is not None
        self.row, self.tz = row, tz
        self.candidate: CandidateView = check.exact_candidate
        self.gone = False

    @property
    def appointment(self) -> AppointmentView:
        """The appointment offered (as the last look at the PMS's data showed it)."""
        return self.candidate.appointment

    def compose_body(self) -> ComposeResult:
        """The request and the appointment side by side."""
        yield text(self._text(), id="body")
        yield from note_box(self.check)

    def _text(self) -> Content:
        a = self.appointment
        rows = [
            request_line(self.row),
            patient_line(self.check),
            requested_line(self.check, self.tz),
            line(("Scheduled:  ", BOLD), appointment_summary(a, self.tz)),
            line("            ", f"{a.duration_min} min · {a.status} · PMS appointment {a.pms_id}"),
        ]
        if self.gone:
            rows.append(line((GONE, BOLD)))
        return lines(*rows)

    def kept(self) -> int | None:
        """The appointment offered stays listed when the dialog looks again."""
        return self.appointment.id

    def show_check(self, check: AcceptCheck) -> None:
        """The appointment as the PMS has it now; Link is disabled if it is gone."""
        current = still_scheduled(check, self.appointment.id)
        self.gone = current is None
        if current is not None:
            self.candidate = current
        self._body().update(self._text())
        self.query_one("#link", Button).disabled = self.gone
        others = check.total - (0 if self.gone else 1)
        for button_ in self.query("#others").results(Button):
            button_.label = Content(f"Other appointments ({others})")
            button_.disabled = others <= 0

    def buttons(self) -> ComposeResult:
        """Link / other appointments / cancel."""
        yield button("Link appointment", "link", variant="primary")
        others = self.check.total - 1
        if others > 0:
            yield button(f"Other appointments ({others})", "others")
        yield button("Cancel", "cancel")

    def cancelled(self) -> ExactChoice | None:
        """Esc: nothing chosen."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choices = {"link": ExactChoice.LINK, "others": ExactChoice.OTHERS}
        self.dismiss(choices.get(event.button.id or ""))


# ------------------------------------------------------------------- confirm
class ConfirmLink(CheckedDialog[bool | None]):
    """States exactly what will be corrected (requested → scheduled) and needs an OK.
    ``True`` OK, ``False`` Cancel (the whole Accept), ``None`` Esc: back one dialog."""

    TITLE_TEXT = "Link this request?"
    AUTO_FOCUS = "#ok"

    def __init__(
        self,
        row: RequestRow,
        check: AcceptCheck,
        candidate: CandidateView,
        tz: ZoneInfo,
        recheck: Recheck | None = None,
    ) -> None:
        super().__init__(check, recheck)
        self.row, self.candidate, self.tz = row, candidate, tz
        self.gone = False
        self.has_previous = True  # always comes after the appointment was chosen

    def compose_body(self) -> ComposeResult:
        """Requested, scheduled, and one line per field that is corrected."""
        yield text(self._text(), id="body")
        yield from note_box(self.check)

    def _text(self) -> Content:
        rows = correction_lines(self.row, self.check, self.candidate, self.tz)
        if self.gone:
            rows.append(line((GONE, BOLD)))
        elif self.candidate.linked_to is not None:
            rows.append(line((taken_text(self.candidate.linked_to, self.tz), BOLD)))
        return lines(*rows)

    @property
    def blocked(self) -> bool:
        """The appointment cannot be linked (gone, or linked to another request)."""
        return self.gone or self.candidate.linked_to is not None

    def on_mount(self) -> None:
        """OK is disabled when the appointment cannot be linked."""
        self.query_one("#ok", Button).disabled = self.blocked

    def kept(self) -> int | None:
        """The appointment to link stays listed when the dialog looks again."""
        return self.candidate.appointment.id

    def show_check(self, check: AcceptCheck) -> None:
        """The appointment as the PMS has it now (a moved time is shown); OK is disabled
        if it is gone."""
        current = still_scheduled(check, self.candidate.appointment.id)
        self.gone = current is None
        if current is not None:
            self.candidate = current
        self._body().update(self._text())
        self.query_one("#ok", Button).disabled = self.blocked

    def buttons(self) -> ComposeResult:
        """OK / cancel."""
        yield button("OK", "ok", variant="primary")
        yield button("Cancel", "cancel")

    def cancelled(self) -> bool | None:
        """Esc: back to the appointments (nothing linked)."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ok")


def taken_text(linked: LinkedElsewhere, tz: ZoneInfo) -> str:
    """``Already linked to REQ-1001 by ann@desk1 at Tue 2026-12-01 10:00.``"""
    who, when = linked.decided_by or "someone", long_datetime(linked.decided_at, tz)
    return f"Already linked to {linked.external_id} by {who} at {when}."


def correction_lines(
    row: RequestRow, check: AcceptCheck, candidate: CandidateView, tz: ZoneInfo
) -> list[Content]:
    """The confirmation text: what was asked, what is booked, what differs."""
    a: AppointmentView = candidate.appointment
    diff = candidate.differences
    asked_provider = check.requested_provider_name or "(any provider)"
    fields = [
        ("date", Difference.DATE, day(check.requested_start, tz), day(a.start, tz)),
        ("time", Difference.TIME, clock_time(check.requested_start, tz), clock_time(a.start, tz)),
        ("provider", Difference.PROVIDER, asked_provider, a.provider_name or "-"),
    ]
    result = [
        request_line(row),
        patient_line(check),
        requested_line(check, tz),
        line(("Scheduled:  ", BOLD), appointment_summary(a, tz)),
        Content(""),
    ]
    if diff:
        result.append(line(("The request will be corrected to the scheduled appointment:", BOLD)))
    else:
        result.append(line("Nothing differs: the appointment is exactly what was requested."))
    for name, difference, asked, booked in fields:
        if difference in diff:
            result.append(line((f"{DIFFERS} {name:<9}", DIFF_STYLE), f"{asked} → {booked}"))
        else:
            result.append(line(f"  {name:<9}", f"{booked} (same)"))
    return result


# --------------------------------------------------------------------- email
class EmailPrompt(Dialog[bool | None]):
    """Send a confirmation email? ``True`` yes, ``False`` no, ``None`` Esc (back to "Link
    this request?") or Cancel (the whole link; ``stepped_back`` tells them apart). When
    the patient already has a confirmation of this request, it offers a correction."""

    def __init__(self, plan: EmailPlan, appointment: AppointmentView, tz: ZoneInfo) -> None:
        super().__init__()
        self.plan, self.appointment, self.tz = plan, appointment, tz
        self.has_previous = True  # always comes after "Link this request?"

    def dialog_title(self) -> str:
        """Confirmation, or correction when the patient has an earlier confirmation."""
        return "Correction email" if self.plan.replaces else "Confirmation email"

    def compose_body(self) -> ComposeResult:
        """The address (or why there is none), the note, the confirmation it corrects."""
        plan = self.plan
        rows: list[Content] = []
        kind = "correction" if plan.replaces else "confirmation"
        if plan.possible:
            rows.append(line(f"Send a {kind} email to ", (plan.address, BOLD), "?"))
            if plan.note:
                rows.append(line((plan.note, BOLD)))
            if plan.replaces:
                rows.append(
                    line(
                        ("The patient has the earlier confirmation ", BOLD),
                        f"({plan.replaces}); the correction replaces it.",
                    )
                )
            rows.append(
                line(
                    "The email shows the scheduled appointment: ",
                    appointment_summary(self.appointment, self.tz),
                )
            )
        else:
            rows.append(line((plan.note, BOLD)))
            if plan.replaces:
                rows.append(line(f"The patient has the earlier confirmation ({plan.replaces})."))
            rows.append(line("The request can still be linked."))
        yield text(lines(*rows))

    def buttons(self) -> ComposeResult:
        """Yes / no / cancel, or link-without-email / cancel."""
        if self.plan.possible:
            label = "Yes, send correction" if self.plan.replaces else "Yes, send"
            yield button(label, "yes", variant="primary" if self.default_yes else "default")
            yield button("No email", "no", variant="default" if self.default_yes else "primary")
        else:
            yield button("OK, link without email", "no", variant="primary")
        yield button("Cancel", "cancel")

    @property
    def default_yes(self) -> bool:
        """Yes is the default button."""
        return self.plan.possible and self.plan.send_by_default

    def on_mount(self) -> None:
        """Focus the default answer (No when the patient asked not to be emailed)."""
        self.set_focus(self.query_one("#yes" if self.default_yes else "#no", Button))

    def cancelled(self) -> bool | None:
        """Esc: back to "Link this request?" (nothing linked)."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"yes": True, "no": False}.get(event.button.id or ""))
