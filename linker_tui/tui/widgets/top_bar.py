"""The two lines above the list: the practice's name with the counts per state, and the
filter field with which rows of how many the list shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import Static

from linker_tui.store.enums import RequestState
from linker_tui.tui.formatting import count, state_short
from linker_tui.tui.latest import FrameHold
from linker_tui.tui.safe import SafeInput, line, one_line

LABEL = "Filter:"
FILTER_HINT = "/ to filter"
HOLD = 0.03
"""How long a filter key may hold the frames for its list (s): the typed character then
shows with the list it asks for, in one frame, unless the page takes longer."""


def counts_text(counts: Mapping[RequestState, int]) -> str:
    """``Pending 31 · Waiting for PMS 2 · Linked 0 · Rejected 0``."""
    return " · ".join(f"{state.label} {count(counts.get(state, 0))}" for state in RequestState)


def short_counts_text(counts: Mapping[RequestState, int]) -> str:
    """``pending 31 · waiting 2 · linked 0 · rejected 0`` (for a narrow screen)."""
    return " · ".join(
        f"{state_short(state)} {count(counts.get(state, 0))}" for state in RequestState
    )


class FilterInput(SafeInput):
    """The filter field: Enter or ↓ goes back to the list, Esc clears it first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave(True)", "Clear filter", id="filter.clear"),
        Binding("down", "leave(False)", "To the list", show=False, id="filter.to_list"),
    ]

    virtual_size = Reactive(Size(0, 0), layout=False)
    """As ``Input``'s, without a layout of the screen when it changes: ``Input`` sets it
    to its text's width on every key, but the field's own size never follows its text
    (one line, the width the status leaves), so the text scrolls within it all the same."""

    class Left(Message):
        """Staff leave the field for the list (Esc or ↓; Enter is ``Input.Submitted``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames = FrameHold(HOLD)
        """Held from a change of the text until the list shows what it asked for (the
        list's screen releases it)."""

    def watch_value(self) -> None:
        """A new text asks for a new list: hold the frames until it is drawn."""
        self.frames.hold(self.app)

    def on_focus(self) -> None:
        """Once used, the field shows as a field (until then the line shows the hint)."""
        self.add_class("-used")

    def action_leave(self, clear: bool) -> None:
        """Back to the list (clearing the text on Esc)."""
        if clear:
            self.value = ""
        self.post_message(self.Left())


class TopBar(Vertical):
    """Line 1: `` Bob Singh · Practice name     Pending 31 · Waiting for PMS 2 · … `` (who
    signed in at the desk, if anyone, and the practice's name, bold, cut first when the
    line is short). Line 2: `` Filter:  / to filter   rows 1\u2013100 of 9,310 · open · [ ] page ``
    (the hint is the field's placeholder)."""

    DEFAULT_CSS = """
    TopBar {
        height: 2;
        & > #header {
            height: 1;
            padding: 0 1;
            background: $panel;
        }
        & #practice {
            width: 1fr;
            min-width: 8;
            text-style: bold;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        & #counts, & #counts-short {
            width: auto;
            padding-left: 2;
            text-wrap: nowrap;
        }
        & #counts-short {
            display: none;
        }
        & > #filter-row {
            height: 1;
        }
        & #filter-label {
            width: auto;
            padding: 0 1;
        }
        & #filter {
            width: 1fr;
            height: 1;
            border: none;
            padding: 0 1;
            &:blur {
                background: $background;
            }
            &.-used {
                background: $surface;
            }
            & > .input--placeholder {
                color: $text-muted;
            }
        }
        & #page-status {
            width: auto;
            padding: 0 1;
            text-wrap: nowrap;
        }
    }
    """

    def __init__(self, practice_name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.practice_text = one_line(practice_name)
        """The name as shown: literal text, on one line."""
        self.counts_shown = ""
        """The counts as shown (empty until the first page is loaded)."""
        self.status_text = ""
        self._status_width = 0
        """The status's width as shown (cells, with any padding)."""
        self.who_text = ""
        """The staff member signed in, as shown ("" when nobody)."""
        """The page status as shown ("rows 1\u2013100 of 159 · open")."""

    def compose(self) -> ComposeResult:
        """The header line and the filter line."""
        with Horizontal(id="header"):
            yield Static(Content(self.practice_text), id="practice")
            yield Static(id="counts")
            yield Static(id="counts-short")  # instead of #counts on a narrow screen
        with Horizontal(id="filter-row"):
            yield Static(Content(LABEL), id="filter-label")
            yield FilterInput(placeholder=FILTER_HINT, id="filter", compact=True)
            yield Static(id="page-status")

    @property
    def filter_field(self) -> FilterInput:
        """The filter's input field."""
        return self.query_one(FilterInput)

    def show_who(self, staff: str) -> None:
        """Who signed in at the desk, before the practice's name (``Bob Singh · Maple
        Grove Dental``: the name of the practice is cut first); nothing when nobody did."""
        self.who_text = one_line(staff).strip()
        shown = f"{self.who_text} · {self.practice_text}" if self.who_text else self.practice_text
        self.query_one("#practice", Static).update(Content(shown))

    def show_counts(self, counts: Mapping[RequestState, int]) -> None:
        """Show the counts per state."""
        text = one_line(counts_text(counts))
        if text != self.counts_shown:
            self.counts_shown = text
            self.query_one("#counts", Static).update(Content(text))
            short = one_line(short_counts_text(counts))
            self.query_one("#counts-short", Static).update(Content(short))

    def show_status(self, text: str, *, keep_width: bool = False) -> None:
        """Which rows of how many are listed; ``keep_width``: a text shorter than the one
        shown now is padded to its width (while staff type in the filter, and while the
        count is still coming: the filter field, whose width follows the status's, does
        not narrow and widen again, and the screen is not laid out again per key)."""
        text = one_line(text)
        shown = text
        if keep_width:
            shown += " " * (self._status_width - cell_len(text))
        if text == self.status_text and cell_len(shown) == self._status_width:
            return
        self.status_text = text
        # a layout of the screen only when the status's width changes
        width, self._status_width = self._status_width, cell_len(shown)
        self.query_one("#page-status", Static).update(
            line(shown), layout=width != self._status_width
        )
