"""The candidates dialog (the patient's scheduled appointments) and the no-match dialog."""

from __future__ import annotations

from enum import Enum
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button, Input, Static

from linker_tui.matching import Difference
from linker_tui.read.views import AcceptCheck, CandidateView, RequestRow
from linker_tui.tui.formatting import DIFFERS, clock_time, day, differences_text, plural
from linker_tui.tui.modals.base import button, focused_first, text
from linker_tui.tui.modals.checked import (
    BOLD,
    DIFF_STYLE,
    CheckedDialog,
    Recheck,
    note_box,
    patient_line,
    request_line,
    requested_line,
)
from linker_tui.tui.modals.narrow import NarrowField, NarrowLine, NarrowRow, more_text
from linker_tui.tui.modals.rows import RowTable
from linker_tui.tui.safe import cell, line, lines
from linker_tui.tui.widgets.columns import ColumnSpec

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
        return Text.assemble(DIFFERS, cell(value, width - 1, DIFF_STYLE), style=DIFF_STYLE)
    return Text.assemble(" ", cell(value, width - 1))


class CandidateTable(RowTable):
    """The patient's scheduled appointments, closest to the request first."""

    COLUMNS = CANDIDATE_COLUMNS

    def __init__(
        self, candidates: tuple[CandidateView, ...], tz: ZoneInfo, start_at: int | None = None
    ) -> None:
        super().__init__(id="candidates")
        self.candidates, self.tz = candidates, tz
        ids = [c.appointment.id for c in candidates]
        self.cursor_row = ids.index(start_at) if start_at in ids else 0
        """The row the cursor starts on (the appointment chosen before stepping back)."""

    @property
    def row_count(self) -> int:
        """How many appointments are listed."""
        return len(self.candidates)

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
        self.rows_changed(row)

    def cells(self, row: int, widths: dict[str, int]) -> list[Text]:
        """The appointment's date, time, provider, chair, reason and what differs."""
        candidate = self.candidates[row]
        a, diff, w = candidate.appointment, candidate.differences, widths
        return [
            _marked(day(a.start, self.tz), Difference.DATE in diff, w["date"]),
            _marked(clock_time(a.start, self.tz), Difference.TIME in diff, w["time"]),
            _marked(a.provider_name or "-", Difference.PROVIDER in diff, w["provider"]),
            cell(a.operatory or "-", w["chair"]),
            cell(a.reason or "-", w["reason"]),
            cell(differences_text(diff), w["differs"], DIFF_STYLE if diff else ""),
        ]

    def highlighted(self) -> CandidateView | None:
        """The candidate under the cursor."""
        if not self.candidates:
            return None
        return self.candidates[min(max(self.cursor_row, 0), len(self.candidates) - 1)]


class CandidateChoice(Enum):
    """What staff chose instead of an appointment."""

    NONE_OF_THESE = "none_of_these"


NARROW_HINT = "Enter: link · type to narrow · Esc: cancel, nothing changes"


class Candidates(CheckedDialog[CandidateView | CandidateChoice | None]):
    """ "Could this be the same appointment?": the patient's scheduled appointments nearest
    to the request (at most :data:`CANDIDATE_LIMIT`; typing narrows them)."""

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
        """The request for comparison, the appointments, the narrowing row (drawn as one
        line until it is used, unless the dialog opens with narrowing text in it)."""
        yield text(self._text(), id="body")
        yield from note_box(self.check)
        yield focused_first(CandidateTable(self.check.candidates, self.tz, self.start_at))
        shown = self._narrowing_shown()
        if self.check.narrow:
            yield NarrowRow(self.check.narrow, self._more_text(), shown=shown)
        else:
            yield NarrowLine(self._more_text(), shown=shown)

    def _narrowing_shown(self) -> bool:
        return bool(self.check.more or self.check.narrow)

    def _text(self) -> Content:
        check = self.check
        total = check.total
        if check.narrow and not check.candidates:
            how = line(("No scheduled appointment matches the narrowing.", BOLD))
        elif check.candidates:
            count = plural(total, "scheduled appointment")
            if check.narrow:
                count = plural(total, "appointment") + " match"
            closest = f"the {len(check.candidates)} closest" if check.more else "closest"
            how = line(f"{count}, {closest} first. ", (DIFFERS, BOLD), " marks what differs.")
        else:
            how = line(("The last sync left no scheduled appointment for this patient.", BOLD))
        return lines(
            request_line(self.row),
            patient_line(self.check),
            requested_line(self.check, self.tz),
            how,
        )

    def _more_text(self) -> Content:
        return more_text(self.check.more)

    def show_check(self, check: AcceptCheck) -> None:
        """The patient's appointments as the PMS has them now (and as narrowed), the
        cursor kept on the same appointment."""
        self._body().update(self._text())
        self.query_one(CandidateTable).replace(check.candidates)
        self.query_one("#link", Button).disabled = not check.candidates
        for row in self.query(NarrowRow).results():
            row.show_more(self._more_text(), shown=self._narrowing_shown())
        for drawn in self.query(NarrowLine).results():
            drawn.show_more(self._more_text(), shown=self._narrowing_shown())
        self.query_one(".dialog-hint", Static).update(line(self.hint_text()))

    def kept(self) -> int | None:
        """The appointment under the cursor stays listed when the dialog looks again."""
        current = self.query_one(CandidateTable).highlighted()
        return current.appointment.id if current is not None else None

    def buttons(self) -> ComposeResult:
        """Link / none of these / cancel."""
        yield button("Link appointment", "link", variant="primary")
        yield button("None of these", "none_of_these")
        yield button("Cancel", "cancel")

    def hint_text(self) -> str:
        """Enter links; typing narrows (said when there are more than shown)."""
        return NARROW_HINT if self._narrowing_shown() else super().hint_text()

    def cancelled(self) -> CandidateView | CandidateChoice | None:
        """Esc: nothing chosen."""
        return None

    # ------------------------------------------------------------- narrowing
    async def on_key(self, event: events.Key) -> None:
        """Typing anywhere else in the dialog goes into the narrowing field. A character
        that reaches the dialog was not typed into the field (the field takes its own),
        even when the focus is there by now: the app handed it to the list just before
        the character typed ahead of it moved the focus."""
        if not (event.is_printable and event.character):
            return
        if self.recheck is None or self.decided:
            return
        event.stop()
        event.prevent_default()
        field = await self._narrow_field()
        self.query_one(".dialog-hint", Static).update(line(NARROW_HINT))
        field.insert_text_at_cursor(event.character)

    async def _narrow_field(self) -> NarrowField:
        """The narrowing field, shown and focused; put in place of the drawn line (and
        mounted) on first use."""
        rows = self.query(NarrowRow)
        if rows:
            row = rows.first()
            row.add_class("-shown")
        else:
            drawn = self.query_one(NarrowLine)
            row = NarrowRow("", self._more_text(), shown=True)
            await self.query_one(".dialog").mount(row, after=drawn)
            await drawn.remove()
        self.set_focus(row.field)
        return row.field

    @on(NarrowLine.Used)
    async def _use_field(self, event: NarrowLine.Used) -> None:
        """Tab, → or a click reached the drawn line: the field instead."""
        event.stop()
        await self._narrow_field()

    def action_to_list(self) -> None:
        """Down or Enter in the narrowing field: back to the list."""
        self.query_one(CandidateTable).focus()

    @on(Input.Changed, "#narrow")
    def _narrowed(self, event: Input.Changed) -> None:
        """Look again with the new narrowing (the newest typing's answer is shown: a
        look still running is cancelled)."""
        event.stop()
        if self.recheck is not None and self.narrowing() != self.check.narrow:
            self.run_worker(self._look_again(keep=False), group="recheck", exclusive=True)

    def narrowing(self) -> str:
        """What is in the narrowing field (the check's before the field is used)."""
        rows = self.query(NarrowRow)
        return rows.first().field.value.strip() if rows else self.check.narrow

    # ---------------------------------------------------------------- choosing
    @on(RowTable.Selected, "#candidates")
    def _selected(self, event: RowTable.Selected) -> None:
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
        yield from note_box(self.check)

    def show_check(self, check: AcceptCheck) -> None:
        """Say so when the sync brought appointments (Try again then shows them)."""
        self.found = len({c.appointment.id for c in check.candidates} - self.known)
        self._body().update(self._text())

    def _text(self) -> Content:
        check = self.check
        if self.none_of_these:
            count = plural(check.total, "scheduled appointment")
            why = line(
                ("Patient: ", BOLD),
                check.patient_name,
                f" ({check.explanation}) has {count}; none is the one asked for.",
            )
        elif check.patient_name:
            why = line(
                ("Patient: ", BOLD),
                check.patient_name,
                f" ({check.explanation}) has no scheduled appointment from today on.",
            )
        else:
            why = line(("Patient: ", BOLD), f"patient not found ({check.explanation}).")
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
            rows.append(line((f"The last sync brought {found}: Try again to see them.", BOLD)))
        elif self.note:
            rows.append(line((self.note, BOLD)))
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
