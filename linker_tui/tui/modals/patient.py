""" "Is this the same patient?": the ranked candidate patients, per-field evidence, search.

Each field (first name, last name, birth date, phone, email) carries a marker that reads
without colour: ``✓`` agrees, ``~`` close, ``✗`` differs, ``·`` missing. The cursor starts
on the best candidate, but nothing is chosen until staff press Enter (two candidates that
score alike are both shown, with a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Button, Input, Static
from textual.worker import Worker, WorkerState

from linker_tui.matching import Agreement, MatchField
from linker_tui.read.views import PatientCandidateView, PatientCheck, PatientView, RequestRow
from linker_tui.tui.formatting import plural
from linker_tui.tui.keys import PATIENT_SEARCH, bindings
from linker_tui.tui.modals.base import Dialog, StyledWhenShown, button, text
from linker_tui.tui.modals.rows import RowTable
from linker_tui.tui.safe import SafeInput, cell, line, lines, one_line
from linker_tui.tui.terminal import marks_for
from linker_tui.tui.widgets.columns import ColumnSpec
from linker_tui.workflow.decisions import Workflow

_BOLD = "bold"
MARKS: dict[Agreement, str] = {
    Agreement.AGREES: "✓",
    Agreement.CLOSE: "~",
    Agreement.DIFFERS: "✗",
    Agreement.MISSING: "·",
}
LEGEND = "✓ agrees  ~ close  ✗ differs  · missing  (Patient: first, last name)"
ALIKE = 2.5
"""Candidates within this many points of the best one are "alike" (as in the matcher)."""
SEARCH_LIMIT = 50
TABLE_MAX = 9
"""At most the heading and 8 patients; fewer when the terminal is short (see _fit_table)."""
TABLE_MIN = 3

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", "Patient", 20, weight=3, maximum=40),
    ColumnSpec("born", "Born", 12),
    ColumnSpec("phone", "Phone", 14, weight=1, maximum=24),
    ColumnSpec("email", "Email", 16, weight=3, maximum=40),
)


def field_mark(candidate: PatientCandidateView, field: MatchField) -> str:
    """The marker of one field (a blank when there is nothing to compare with)."""
    for evidence in candidate.evidence:
        if evidence.field is field:
            return MARKS[evidence.agreement]
    return " "


CURRENT = " (current)"
"""After the name of the patient the request is attached to now."""


def alike(candidates: Sequence[PatientCandidateView]) -> bool:
    """The two best candidates score alike: staff must tell them apart."""
    return (
        len(candidates) > 1
        and bool(candidates[0].evidence)
        and candidates[0].score - candidates[1].score < ALIKE
    )


class PatientTable(RowTable):
    """Candidate patients (or search results), one per row."""

    COLUMNS = COLUMNS

    def __init__(self, candidates: Sequence[PatientCandidateView], current_id: int | None) -> None:
        super().__init__(id="patients")
        self.candidates = tuple(candidates)
        self.current_id = current_id

    @property
    def row_count(self) -> int:
        """How many patients are listed."""
        return len(self.candidates)

    def show(self, candidates: Sequence[PatientCandidateView]) -> None:
        """Replace the rows; the cursor goes to the first (nothing is chosen by it)."""
        self.candidates = tuple(candidates)
        self.rows_changed(0)

    def cells(self, row: int, widths: dict[str, int]) -> list[Text]:
        """The patient's name (with the name marks), birth date, phone and email."""
        candidate = self.candidates[row]
        p, w = candidate.patient, widths

        def mark(candidate: PatientCandidateView, field: MatchField) -> str:
            return marks_for(self.app, field_mark(candidate, field))  # the console's marks

        first, last = mark(candidate, MatchField.FIRST_NAME), mark(candidate, MatchField.LAST_NAME)
        born = p.birthdate.isoformat() if p.birthdate else "-"
        phone = p.phones[0] if p.phones else "-"
        if len(p.phones) > 1:
            phone += f" +{len(p.phones) - 1}"
        current = CURRENT if p.id == self.current_id else ""
        return [
            cell(f"{first}{last} {p.display_name}{current}", w["name"], _BOLD),
            cell(f"{mark(candidate, MatchField.BIRTHDATE)} {born}", w["born"]),
            cell(f"{mark(candidate, MatchField.PHONE)} {phone}", w["phone"]),
            cell(f"{mark(candidate, MatchField.EMAIL)} {p.email or '-'}", w["email"]),
        ]

    def highlighted(self) -> PatientCandidateView | None:
        """The candidate under the cursor."""
        if not self.candidates or not 0 <= self.cursor_row < len(self.candidates):
            return None
        return self.candidates[self.cursor_row]


class SearchField(SafeInput, StyledWhenShown):
    """The search box: Enter searches, Esc goes back to the ranked candidates."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to the candidates", id="patient.search_back"),
    ]

    def on_key(self, event: events.Key) -> None:
        """The key that opens the search (``/``), pressed while the search is open and
        empty, only opens it: it is not typed (a letter bound to it is: it may start a
        name)."""
        active = self.screen.active_bindings.get(event.key)
        opens_search = active is not None and active.binding.id == PATIENT_SEARCH.id
        if opens_search and not self.value and not (event.character or "").isalnum():
            event.stop()
            event.prevent_default()

    def action_leave(self) -> None:
        """Close the search, show the ranked candidates again."""
        screen = self.screen
        if isinstance(screen, PatientChooser):
            screen.close_search()


class PatientChooser(Dialog[PatientView | None]):
    """Pick the PMS patient who sent the request; ``None`` (Esc) changes nothing."""

    TITLE_TEXT = "Is this the same patient?"
    AUTO_FOCUS = "#patients"
    WIDE = True
    BINDINGS: ClassVar[list[BindingType]] = list(bindings((PATIENT_SEARCH,)))
    HINT_TEXT = "Enter: this patient · / search · Esc: cancel, nothing changes"
    SEARCH_HINT = "Type a name, birth date or phone · Enter: search · Esc: back to the list"

    def __init__(self, row: RequestRow, check: PatientCheck, workflow: Workflow) -> None:
        super().__init__()
        self.row, self.check, self.workflow = row, check, workflow

    # ---------------------------------------------------------------- layout
    def compose_body(self) -> ComposeResult:
        """Typed identity, legend, candidates, the highlighted one in words, search."""
        yield text(lines(*self._intro()), id="body")
        yield Static(line(self._list_title()), id="patients-title", markup=False)
        yield PatientTable(self.check.candidates, self.check.chosen_patient_id)
        yield Static(line(""), id="patient-why", classes="dialog-text", markup=False)
        with Horizontal(id="patient-search-row"):
            yield Static(line("Search:"), id="patient-search-label")
            yield SearchField(
                placeholder="name, birth date or phone · Enter searches · Esc back",
                id="patient-search",
                compact=True,
            )

    def _intro(self) -> list[Content]:
        check = self.check
        typed = [check.typed_name or "(no name)"]
        born = check.typed_birthdate
        typed.append(f"born {born.isoformat()}" if born else "no birth date")
        typed.append(check.typed_phone or "no phone")
        typed.append(check.typed_email or "no email")
        rows = [
            line("Request ", (self.row.external_id, _BOLD), f" · {check.explanation}"),
            line(("Typed:   ", _BOLD), " · ".join(typed)),
            line(marks_for(self.app, LEGEND)),
        ]
        if alike(check.candidates):
            rows.append(
                line(
                    (
                        "The best candidates score alike: check birth date and contact "
                        "with the patient before choosing.",
                        _BOLD,
                    )
                )
            )
        return rows

    def _list_title(self) -> str:
        n = len(self.check.candidates)
        if not n:
            return "Nobody resembles what was typed: type a name, birth date or phone to search."
        return f"{plural(n, 'possible patient')}, best first:"

    def buttons(self) -> ComposeResult:
        """This patient / search / cancel."""
        yield button("This patient", "choose", variant="primary")
        yield button("Search…", "search")
        yield button("Cancel", "cancel")

    def hint_text(self) -> str:
        """The key hint: Enter picks, / searches; in the search, what to type."""
        if self.is_mounted and isinstance(self.focused, SearchField):
            return self.SEARCH_HINT
        return self.HINT_TEXT

    @on(events.DescendantFocus)
    def _focus_moved(self) -> None:
        """The hint follows the focus (the search field has its own)."""
        self.query_one(".dialog-hint", Static).update(line(self.hint_text()))

    def on_mount(self) -> None:
        """Explain the highlighted candidate; with nobody to show, start with the search."""
        self._explain()
        if not self.check.candidates:
            self.open_search()

    def on_resize(self) -> None:
        """Keep the whole dialog, buttons included, on a short terminal."""
        self.call_after_refresh(self._fit_table)

    def _fit_table(self) -> None:
        """Give the table the rows the rest of the dialog leaves (between 3 and 9)."""
        dialog = self.query_one(".dialog")
        table = self.table
        chrome = dialog.outer_size.height - dialog.size.height
        others = sum(
            child.outer_size.height + child.styles.margin.top + child.styles.margin.bottom
            for child in dialog.children
            if child is not table and child.display
        )
        room = self.size.height - chrome - others - table.styles.margin.top
        wanted = max(TABLE_MIN, min(TABLE_MAX, room))
        if table.styles.max_height is None or table.styles.max_height.value != wanted:
            table.styles.max_height = wanted

    @property
    def table(self) -> PatientTable:
        """The candidates."""
        return self.query_one(PatientTable)

    # ---------------------------------------------------------------- choosing
    def cancelled(self) -> PatientView | None:
        """Esc: nothing chosen."""
        return None

    @on(RowTable.Highlighted, "#patients")
    def _highlighted(self) -> None:
        self._explain()

    def _explain(self) -> None:
        candidate = self.table.highlighted()
        why = self.query_one("#patient-why", Static)
        self.query_one("#choose", Button).disabled = candidate is None
        if candidate is None:
            why.update(line(""))
            return
        p = candidate.patient
        said = candidate.summary or "nothing to compare with"
        current = ", the current patient" if p.id == self.check.chosen_patient_id else ""
        why.update(line((p.display_name, _BOLD), f" ({p.pms_id}{current}): {said}"))

    @on(RowTable.Selected, "#patients")
    def _selected(self, event: RowTable.Selected) -> None:
        event.stop()
        self._choose()

    def _choose(self) -> None:
        candidate = self.table.highlighted()
        if candidate is not None:
            self.dismiss(candidate.patient)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "choose":
            self._choose()
        elif event.button.id == "search":
            self.open_search()
        else:
            self.dismiss(None)

    # ---------------------------------------------------------------- after a sync
    def after_sync(self) -> None:
        """Rank the patients again (the sync may have brought the one who wrote)."""
        self.run_worker(self._look_again(), group="recheck", exclusive=True)

    async def _look_again(self) -> None:
        check = await asyncio.to_thread(self.workflow.patient_candidates, self.row.id)
        if not self.is_attached:
            return
        # the dialog may have closed meanwhile: its widgets gone, the screen still attached
        with contextlib.suppress(NoMatches):
            self.check = check
            self.query_one("#body", Static).update(lines(*self._intro()))
            if self.query_one("#patient-search-row").has_class("-shown"):
                return  # search results stay; Esc shows the new ranking
            current = self.table.highlighted()
            self.table.show(check.candidates)
            ids = [c.patient.id for c in check.candidates]
            if current is not None and current.patient.id in ids:
                self.table.move_cursor(row=ids.index(current.patient.id), animate=False)
            self.query_one("#patients-title", Static).update(line(self._list_title()))
            self._explain()

    # ---------------------------------------------------------------- search
    def action_search(self) -> None:
        """``/``: search patients."""
        self.open_search()

    def open_search(self) -> None:
        """Show and focus the search field."""
        self.query_one("#patient-search-row").add_class("-shown")
        self.query_one(SearchField).focus()
        self.call_after_refresh(self._fit_table)

    def close_search(self) -> None:
        """Hide the search field and show the ranked candidates again."""
        self.query_one("#patient-search-row").remove_class("-shown")
        self.call_after_refresh(self._fit_table)
        self.query_one(SearchField).value = ""
        self.table.show(self.check.candidates)
        self.query_one("#patients-title", Static).update(line(self._list_title()))
        self._explain()
        self.table.focus()

    @on(Input.Submitted, "#patient-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self._search(event.value.strip())

    @work(exclusive=True, group="patient-search", exit_on_error=False)
    async def _search(self, query: str) -> None:
        found = await asyncio.to_thread(
            self.workflow.search_patients, query, self.row.id, SEARCH_LIMIT
        )
        self.table.show(found)
        shown = f"“{one_line(query)}”"
        title = (
            f"{plural(len(found), 'patient')} found for {shown}, closest to what was typed first:"
            if found
            else f"Nobody found for {shown}. Try a surname, a birth date (YYYY-MM-DD) or a phone."
        )
        if len(found) >= SEARCH_LIMIT:
            title = f"The first {SEARCH_LIMIT} patients found for {shown}: search more precisely."
        self.query_one("#patients-title", Static).update(line(title))
        self._explain()
        if found:
            self.table.focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed search becomes a notification (the dialog stays open)."""
        if event.state is WorkerState.ERROR and event.worker.group == "patient-search":
            error = event.worker.error
            self.notify(
                f"The search failed: {type(error).__name__}: {error}",
                severity="error",
                markup=False,
                timeout=10,
            )
