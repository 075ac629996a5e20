"""The dialogs of the Accept flow: exact match, candidates, no match, confirm, email."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button, DataTable, Static

from linker_tui.matching import Difference
from linker_tui.read.views import (
    AcceptCheck,
    AppointmentView,
    CandidateView,
    EmailPlan,
    RequestRow,
)
from linker_tui.tui.formatting import (
    DIFFERS,
    appointment_summary,
    clock_time,
    day,
    differences_text,
    plural,
    with_provider,
)
from linker_tui.tui.modals.base import Dialog, ResultT, button, text
from linker_tui.tui.safe import cell, line, lines
from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths
from linker_tui.workflow.decisions import WorkflowError

_BOLD = "bold"
_DIFF_STYLE = "bold underline"
GONE = "The last sync changed this appointment in the PMS: it is no longer scheduled."
"""Shown in a dialog whose appointment a sync cancelled or removed while it was open."""

Recheck = Callable[[], AcceptCheck]
"""Looks at the request again (``Workflow.check``); blocking, run off the UI thread."""


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

    async def _look_again(self) -> None:
        assert self.recheck is not None
        try:
            check = await asyncio.to_thread(self.recheck)
        except WorkflowError as error:  # another desk decided the request meanwhile
            if self.is_attached:
                self.show_decided(str(error))
            return
        if self.is_attached and not self.decided:
            self.check = check
            self.show_check(check)

    def show_check(self, check: AcceptCheck) -> None:
        """Show ``check`` (already stored in ``self.check``) in place."""

    def show_decided(self, why: str) -> None:
        """Another desk decided the request: say who and when; only Cancel is left."""
        first = not self.decided
        self.decided = why
        if first:
            notice = text(line(("Decided at another desk meanwhile. ", _BOLD), why), id="decided")
            self.query_one(".dialog").mount(notice, after=self._body())
        for each in self.query(".dialog-buttons Button").results(Button):
            each.disabled = each.id != "cancel"
        self.set_focus(self.query_one("#cancel", Button))

    def _body(self) -> Static:
        return self.query_one("#body", Static)


def _still_scheduled(check: AcceptCheck, appointment_id: int) -> CandidateView | None:
    """The candidate for ``appointment_id`` in ``check``, if the PMS still has it scheduled."""
    return next((c for c in check.candidates if c.appointment.id == appointment_id), None)


def request_line(row: RequestRow) -> Content:
    """``Request REQ-1001 from Jane Doe``."""
    return line("Request ", (row.external_id, _BOLD), " from ", row.typed_name or "(no name)")


def requested_line(check: AcceptCheck, tz: ZoneInfo) -> Content:
    """``Requested:  Thu 2026-12-03 09:30 with Dr. X``."""
    asked = with_provider(check.requested_start, check.requested_provider_name, tz)
    return line(("Requested:  ", _BOLD), asked)


def patient_line(check: AcceptCheck) -> Content:
    """``Patient: Doe, Jane`` or ``Patient: patient not found (why)``."""
    if check.patient_name:
        return line(("Patient: ", _BOLD), check.patient_name)
    return line(("Patient: ", _BOLD), f"patient not found ({check.explanation})")


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

    def _text(self) -> Content:
        a = self.appointment
        rows = [
            request_line(self.row),
            patient_line(self.check),
            requested_line(self.check, self.tz),
            line(("Scheduled:  ", _BOLD), appointment_summary(a, self.tz)),
            line("            ", f"{a.duration_min} min · {a.status} · PMS appointment {a.pms_id}"),
        ]
        if self.gone:
            rows.append(line((GONE, _BOLD)))
        return lines(*rows)

    def show_check(self, check: AcceptCheck) -> None:
        """The appointment as the PMS has it now; Link is disabled if it is gone."""
        current = _still_scheduled(check, self.appointment.id)
        self.gone = current is None
        if current is not None:
            self.candidate = current
        self._body().update(self._text())
        self.query_one("#link", Button).disabled = self.gone
        others = len(check.candidates) - (0 if self.gone else 1)
        for button_ in self.query("#others").results(Button):
            button_.label = Content(f"Other appointments ({others})")
            button_.disabled = others <= 0

    def buttons(self) -> ComposeResult:
        """Link / other appointments / cancel."""
        yield button("Link appointment", "link", variant="primary")
        others = len(self.check.candidates) - 1
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


# ---------------------------------------------------------------- candidates
CANDIDATE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("date", "Date", 15),
    ColumnSpec("time", "Time", 6),
    ColumnSpec("provider", "Provider", 10, weight=3, maximum=26),
    ColumnSpec("chair", "Chair", 5, weight=1, maximum=10),
    ColumnSpec("reason", "Reason", 8, weight=3, maximum=30),
    ColumnSpec("differs", "Differs", 14, weight=2, maximum=20),
)


def _marked(value: str, differs: bool, width: int) -> Text:
    """A cell with the ≠ marker (and bold underline) when it differs from the request."""
    if differs:
        return Text.assemble(DIFFERS, cell(value, width - 1, _DIFF_STYLE), style=_DIFF_STYLE)
    return Text.assemble(" ", cell(value, width - 1))


class CandidateTable(DataTable[Text]):
    """The patient's scheduled appointments, closest to the request first."""

    def __init__(
        self, candidates: tuple[CandidateView, ...], tz: ZoneInfo, start_at: int | None = None
    ) -> None:
        super().__init__(cursor_type="row", cell_padding=0, id="candidates")
        self.candidates, self.tz = candidates, tz
        self._widths: dict[str, int] = {}
        ids = [c.appointment.id for c in candidates]
        self._start = ids.index(start_at) if start_at in ids else 0
        """The row the cursor starts on (the appointment chosen before stepping back)."""

    def on_resize(self) -> None:
        """(Re)build the rows with columns that fit the width."""
        widths = fit_widths(CANDIDATE_COLUMNS, max(0, self.size.width - 1))
        if widths == self._widths:
            return
        first = not self._widths
        self._widths = widths
        self._rebuild(self._start if first else self.cursor_row)

    def replace(self, candidates: tuple[CandidateView, ...]) -> None:
        """Show ``candidates`` instead, the cursor staying on the same appointment (if it is
        still there)."""
        current = self.highlighted()
        self.candidates = candidates
        row = 0
        if current is not None:
            ids = [c.appointment.id for c in candidates]
            if current.appointment.id in ids:
                row = ids.index(current.appointment.id)
        if self._widths:
            self._rebuild(row)

    def _rebuild(self, row: int) -> None:
        self.clear(columns=True)
        for spec in CANDIDATE_COLUMNS:
            self.add_column(Text(spec.label), width=self._widths[spec.key] + GAP, key=spec.key)
        for index, candidate in enumerate(self.candidates):
            self.add_row(*self._cells(candidate), key=str(index))
        self.move_cursor(row=row, animate=False)

    def _cells(self, candidate: CandidateView) -> list[Text]:
        a, diff, w = candidate.appointment, candidate.differences, self._widths
        return [
            _marked(day(a.start, self.tz), Difference.DATE in diff, w["date"]),
            _marked(clock_time(a.start, self.tz), Difference.TIME in diff, w["time"]),
            _marked(a.provider_name or "-", Difference.PROVIDER in diff, w["provider"]),
            cell(a.operatory or "-", w["chair"]),
            cell(a.reason or "-", w["reason"]),
            cell(differences_text(diff), w["differs"], _DIFF_STYLE if diff else ""),
        ]

    def highlighted(self) -> CandidateView | None:
        """The candidate under the cursor."""
        if not self.candidates:
            return None
        return self.candidates[min(max(self.cursor_row, 0), len(self.candidates) - 1)]


class CandidateChoice(Enum):
    """What staff chose instead of an appointment."""

    NONE_OF_THESE = "none_of_these"


class Candidates(CheckedDialog[CandidateView | CandidateChoice | None]):
    """ "Could this be the same appointment?": every scheduled appointment of the patient."""

    TITLE_TEXT = "Could this be the same appointment?"
    AUTO_FOCUS = "#candidates"
    WIDE = True

    def __init__(
        self,
        row: RequestRow,
        check: AcceptCheck,
        tz: ZoneInfo,
        recheck: Recheck | None = None,
        start_at: int | None = None,
    ) -> None:
        super().__init__(check, recheck)
        self.row, self.tz, self.start_at = row, tz, start_at

    def compose_body(self) -> ComposeResult:
        """The request for comparison, then the appointments."""
        yield text(self._text(), id="body")
        yield CandidateTable(self.check.candidates, self.tz, self.start_at)

    def _text(self) -> Content:
        if self.check.candidates:
            count = plural(len(self.check.candidates), "scheduled appointment")
            how = line(f"{count}, closest first. ", (DIFFERS, _BOLD), " marks what differs.")
        else:
            how = line(("The last sync left no scheduled appointment for this patient.", _BOLD))
        return lines(
            request_line(self.row),
            patient_line(self.check),
            requested_line(self.check, self.tz),
            how,
        )

    def show_check(self, check: AcceptCheck) -> None:
        """The patient's appointments as the PMS has them now, the cursor kept."""
        self._body().update(self._text())
        self.query_one(CandidateTable).replace(check.candidates)
        self.query_one("#link", Button).disabled = not check.candidates

    def buttons(self) -> ComposeResult:
        """Link / none of these / cancel."""
        yield button("Link appointment", "link", variant="primary")
        yield button("None of these", "none_of_these")
        yield button("Cancel", "cancel")

    def cancelled(self) -> CandidateView | CandidateChoice | None:
        """Esc: nothing chosen."""
        return None

    @on(DataTable.RowSelected, "#candidates")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(self.query_one(CandidateTable).highlighted())

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "link":
            self.dismiss(self.query_one(CandidateTable).highlighted())
        elif event.button.id == "none_of_these":
            self.dismiss(CandidateChoice.NONE_OF_THESE)
        else:
            self.dismiss(None)


# ------------------------------------------------------------------ no match
class NoMatchChoice(Enum):
    """What staff chose when nothing matched."""

    TRY_AGAIN = "try_again"
    LATER = "later"


class NoMatch(CheckedDialog[NoMatchChoice | None]):
    """Nothing scheduled (or the patient is unknown): try again, or do it later."""

    TITLE_TEXT = "No matching appointment"
    AUTO_FOCUS = "#try_again"

    def __init__(
        self,
        row: RequestRow,
        check: AcceptCheck,
        tz: ZoneInfo,
        note: str = "",
        recheck: Recheck | None = None,
        *,
        none_of_these: bool = False,
    ) -> None:
        super().__init__(check, recheck)
        self.row, self.tz, self.note = row, tz, note
        self.none_of_these = none_of_these
        """Staff said none of the patient's scheduled appointments is the one asked for."""
        self.known = {c.appointment.id for c in check.candidates}
        self.found = 0

    def compose_body(self) -> ComposeResult:
        """Why nothing was found, and what to do."""
        yield text(self._text(), id="body")

    def show_check(self, check: AcceptCheck) -> None:
        """Say so when the sync brought appointments (Try again then shows them)."""
        self.found = len({c.appointment.id for c in check.candidates} - self.known)
        self._body().update(self._text())

    def _text(self) -> Content:
        check = self.check
        if self.none_of_these:
            count = plural(len(self.known), "scheduled appointment")
            why = line(
                ("Patient: ", _BOLD),
                check.patient_name,
                f" ({check.explanation}) has {count}; none is the one asked for.",
            )
        elif check.patient_name:
            why = line(
                ("Patient: ", _BOLD),
                check.patient_name,
                f" ({check.explanation}) has no scheduled appointment from today on.",
            )
        else:
            why = line(("Patient: ", _BOLD), f"patient not found ({check.explanation}).")
        rows = [
            request_line(self.row),
            requested_line(check, self.tz),
            why,
            line(
                "Book it in the PMS, then Try again; or Do this later: the request stays "
                "in the list as Waiting for PMS."
            ),
        ]
        if self.found:
            found = plural(self.found, "scheduled appointment")
            rows.append(line((f"The last sync brought {found}: Try again to see them.", _BOLD)))
        elif self.note:
            rows.append(line((self.note, _BOLD)))
        return lines(*rows)

    def buttons(self) -> ComposeResult:
        """Try again / do this later / cancel."""
        yield button("Try again", "try_again", variant="primary")
        yield button("Do this later", "later")
        yield button("Cancel", "cancel")

    def cancelled(self) -> NoMatchChoice | None:
        """Esc: nothing chosen."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choices = {"try_again": NoMatchChoice.TRY_AGAIN, "later": NoMatchChoice.LATER}
        self.dismiss(choices.get(event.button.id or ""))


# ------------------------------------------------------------------- confirm
BACK_HINT = "Enter: choose · Tab/arrows: move · Esc: back, nothing changes"


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

    def compose_body(self) -> ComposeResult:
        """Requested, scheduled, and one line per field that is corrected."""
        yield text(self._text(), id="body")

    def _text(self) -> Content:
        rows = correction_lines(self.row, self.check, self.candidate, self.tz)
        if self.gone:
            rows.append(line((GONE, _BOLD)))
        return lines(*rows)

    def show_check(self, check: AcceptCheck) -> None:
        """The appointment as the PMS has it now (a moved time is shown); OK is disabled
        if it is gone."""
        current = _still_scheduled(check, self.candidate.appointment.id)
        self.gone = current is None
        if current is not None:
            self.candidate = current
        self._body().update(self._text())
        self.query_one("#ok", Button).disabled = self.gone

    def buttons(self) -> ComposeResult:
        """OK / cancel."""
        yield button("OK", "ok", variant="primary")
        yield button("Cancel", "cancel")

    def hint_text(self) -> str:
        """Esc steps back to the appointments."""
        return BACK_HINT

    def cancelled(self) -> bool | None:
        """Esc: back to the appointments (nothing linked)."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ok")


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
        line(("Scheduled:  ", _BOLD), appointment_summary(a, tz)),
        Content(""),
    ]
    if diff:
        result.append(line(("The request will be corrected to the scheduled appointment:", _BOLD)))
    else:
        result.append(line("Nothing differs: the appointment is exactly what was requested."))
    for name, difference, asked, booked in fields:
        if difference in diff:
            result.append(line((f"{DIFFERS} {name:<9}", _DIFF_STYLE), f"{asked} → {booked}"))
        else:
            result.append(line(f"  {name:<9}", f"{booked} (same)"))
    return result


# --------------------------------------------------------------------- email
class EmailPrompt(Dialog[bool | None]):
    """Send a confirmation email? ``True`` yes, ``False`` no, ``None`` cancel the link."""

    TITLE_TEXT = "Confirmation email"

    def __init__(self, plan: EmailPlan, appointment: AppointmentView, tz: ZoneInfo) -> None:
        super().__init__()
        self.plan, self.appointment, self.tz = plan, appointment, tz

    def compose_body(self) -> ComposeResult:
        """The address (or why there is none) and the note."""
        plan = self.plan
        rows: list[Content] = []
        if plan.possible:
            rows.append(line("Send a confirmation email to ", (plan.address, _BOLD), "?"))
            if plan.note:
                rows.append(line((plan.note, _BOLD)))
            rows.append(
                line(
                    "The email shows the scheduled appointment: ",
                    appointment_summary(self.appointment, self.tz),
                )
            )
        else:
            rows.append(line((plan.note, _BOLD)))
            rows.append(line("The request can still be linked."))
        yield text(lines(*rows))

    def buttons(self) -> ComposeResult:
        """Yes / no / cancel, or link-without-email / cancel."""
        if self.plan.possible:
            yield button("Yes, send", "yes", variant="primary" if self.default_yes else "default")
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
        """Esc: cancel the whole link."""
        return None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"yes": True, "no": False}.get(event.button.id or ""))
