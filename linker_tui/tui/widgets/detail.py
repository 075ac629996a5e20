"""The pane under the list: everything about the highlighted request, under a rule.

The pane has six lines; what does not fit is cut and the cut is marked (``… ⏎: read
all``): the whole request is on its own screen (:mod:`linker_tui.tui.screens.request`).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from linker_tui.read.views import RequestDetail
from linker_tui.store.enums import RequestState
from linker_tui.tui.formatting import appointment_summary, long_datetime, with_provider
from linker_tui.tui.safe import line, lines

_LABEL = "bold"
HEIGHT = 7
"""The rule and six lines of text (a longer text is cut, and the cut marked)."""
ELLIPSIS = "…"


def cut_rows(rows: list[Content], width: int, height: int, more: str = "") -> list[Content]:
    """``rows`` (wrapped to ``width``); when there are more than ``height``, the first
    ``height`` with the last one cut and ended by ``… more`` (always the ellipsis)."""
    if len(rows) <= height or height < 1:
        return rows
    tail = f"{ELLIPSIS} {more}" if more else ELLIPSIS
    if len(tail) >= width:
        tail = ELLIPSIS
    last = rows[height - 1].rstrip().truncate(max(width - len(tail), 0)).rstrip()
    return [*rows[: height - 1], last + Content(tail)]


def fit(text: Content, width: int, height: int, more: str = "") -> Content:
    """``text`` wrapped to ``width`` and cut to ``height`` lines (see :func:`cut_rows`);
    unchanged when it fits."""
    if width < 1 or height < 1:
        return text
    rows = [
        piece.rstrip()
        for row in text.split("\n", allow_blank=True)
        for piece in (row.wrap(width) or [row])
    ]
    if len(rows) <= height:
        return text
    return Content("\n").join(cut_rows(rows, width, height, more))


class CutText(Static):
    """Literal text in a fixed height: what does not fit is cut, the cut marked with an
    ellipsis and ``more`` (see :func:`fit`)."""

    def __init__(self, text: Content, *, id: str | None = None, more: str = "") -> None:
        super().__init__(text, id=id, markup=False)
        self.more = more
        """What ends a cut text after the ellipsis (``⏎: view``)."""

    def render(self) -> RenderResult:
        """The text, cut to the widget with the cut marked (see :func:`fit`)."""
        text = self.content
        if not isinstance(text, Content):
            return super().render()
        size = self.content_size
        return fit(text, size.width, size.height, self.more)


class ChangedCells(Widget):
    """One line of literal text that, when it changes, is drawn again only up to its
    last changed cell (Textual sends a refreshed region from the widget's left edge up
    to the region's right edge: the unchanged end of the line and the blank cells after
    the longer of the two texts are not sent)."""

    DEFAULT_CSS = """
    ChangedCells {
        width: 1fr;
        height: 1;
        text-wrap: nowrap;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.text = Content("")

    def render(self) -> RenderResult:
        """The text (one line), padded with blanks of its own style to the width: a text
        shorter than the last is one styled piece up to its last changed cell, not two."""
        return self.text.pad_right(max(0, self.size.width - self.text.cell_length))

    def show(self, text: Content) -> None:
        """Show ``text``, drawing again only the cells up to the last one that changed."""
        old, self.text = self.text, text
        end = changed_end(old, text)
        if end:
            self.refresh(Region(0, 0, end, 1))


def changed_end(old: Content, new: Content) -> int:
    """How many cells from the left cover every cell that differs between ``old`` and
    ``new`` (0: none differs)."""
    if old.plain == new.plain and old.spans == new.spans:
        return 0
    longest = max(old.cell_length, new.cell_length)
    if (
        old.spans != new.spans
        or old.cell_length != len(old.plain)
        or (new.cell_length != len(new.plain))
    ):
        return longest  # styles moved or wide characters: every cell up to the longer end
    was, now = old.plain.ljust(longest), new.plain.ljust(longest)
    return next(i for i in range(longest, 0, -1) if was[i - 1] != now[i - 1])


class DetailPane(Vertical):
    """Typed identity, note, matched patient, state and decision of one request (the
    text can be selected with the mouse and copied).

    The text is wrapped to the pane's width here and shown one screen line per
    :class:`ChangedCells`: a cursor step sends, on each line, the cells up to the last
    one that changed; the rule and the rest of the screen stay (what crosses an SSH
    link; ``tests/benchmarks/bench_ssh_bytes.py``)."""

    DEFAULT_CSS = f"""
    DetailPane {{
        height: {HEIGHT};
        padding: 0 1;
        border-top: solid $primary;
        overflow: hidden hidden;
    }}
    """

    def __init__(self, tz: ZoneInfo, *, id: str | None = None, more: str = "") -> None:
        super().__init__(id=id)
        self.tz = tz
        self.more = more
        """What ends a cut text after the ellipsis (``⏎: read all``)."""
        self.request_id: int | None = None
        self._pieces: list[Content] = [line("No request selected.")]
        self._rows: list[str] = []
        """The text of each line as shown."""

    def compose(self) -> ComposeResult:
        """One :class:`ChangedCells` per screen line under the rule."""
        for _ in range(HEIGHT - 1):
            yield ChangedCells()

    @property
    def shown(self) -> list[str]:
        """The pane's lines as drawn (for tests)."""
        return list(self._rows)

    @property
    def content(self) -> Content:
        """The text shown (before it is wrapped to the width)."""
        return lines(*self._pieces)

    def show_message(self, message: str) -> None:
        """A one-line message instead of a request (empty list, request gone)."""
        self.request_id = None
        self._pieces = [line(message)]
        self._draw()

    def show_detail(self, detail: RequestDetail) -> None:
        """Show one request."""
        self.request_id = detail.row.id
        self._pieces = detail_lines(detail, self.tz)
        self._draw()

    def on_resize(self) -> None:
        """Wrap the text to the new width."""
        self._draw()

    def _draw(self) -> None:
        """Wrap the text and show it line by line (each line sends what changed)."""
        width = self.content_size.width
        if width <= 0 or not self.is_mounted:
            return  # on_resize draws it
        screen_lines = list(self.query_children(ChangedCells).results(ChangedCells))
        rows = [row for piece in self._pieces for row in piece.wrap(width)]
        rows = cut_rows(rows, width, len(screen_lines), self.more)
        rows += [Content("")] * (len(screen_lines) - len(rows))
        for screen_line, row in zip(screen_lines, rows, strict=False):
            screen_line.show(row)
        self._rows = [row.plain for row in rows[: len(screen_lines)]]


def render_detail(detail: RequestDetail, tz: ZoneInfo) -> Content:
    """The detail pane's text (literal: every piece of data is cleaned, never markup)."""
    return lines(*detail_lines(detail, tz))


def detail_lines(detail: RequestDetail, tz: ZoneInfo) -> list[Content]:
    """The detail pane's lines (literal: every piece of data is cleaned, never markup)."""
    row = detail.row
    typed = [row.typed_name or "(no name)"]
    if detail.typed_birthdate:
        typed.append(f"born {detail.typed_birthdate.isoformat()}")
    typed += [value for value in (detail.typed_phone, detail.typed_email) if value]
    patient = detail.patient_name or detail.patient_status
    if detail.patient_name and detail.patient_no_email:
        patient += " (asked not to be emailed)"
    requested = with_provider(row.requested_start, row.requested_provider_name, tz)
    if row.reason:
        requested += f" · {row.reason}"
    if row.state.open:
        first = line(
            (f"{row.external_id} · {row.state.label}", _LABEL),
            f" · received {long_datetime(row.received_at, tz)} · {row.match_hint}",
        )
    else:
        first = line(
            (f"{row.external_id} · {row.state.label}", _LABEL),
            f" by {detail.decided_by or '?'} at {long_datetime(detail.decided_at, tz)}",
        )
    rows = [first]
    if row.attention:
        rows.append(line(("! Sync: ", _LABEL), row.attention, " (d: seen)"))
    rows += [
        line(("Typed: ", _LABEL), " · ".join(typed)),
        line(("Patient: ", _LABEL), patient),
        line(("Requested: ", _LABEL), requested),
    ]
    if row.state is RequestState.LINKED:
        linked = appointment_summary(detail.linked, tz) if detail.linked else "(appointment gone)"
        rows.append(line(("Linked to: ", _LABEL), linked))
    elif row.state is RequestState.REJECTED:
        rows.append(line(("Reason: ", _LABEL), detail.reject_reason or "-"))
    rows.append(line(("Note: ", _LABEL), detail.note or "-"))
    return rows
