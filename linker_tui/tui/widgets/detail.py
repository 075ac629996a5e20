"""The pane under the list, drawn by the main screen: everything about the highlighted
request, under a rule."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from linker_tui.models import RequestState
from linker_tui.tui.formatting import appointment_summary, long_datetime, with_provider
from linker_tui.tui.safe import line, lines
from linker_tui.tui.widgets.line_styles import LineStyles
from linker_tui.views import RequestDetail

_LABEL = "bold"
HEIGHT = 7
"""The rule and six lines of text (a longer text is cut)."""
RULE = "─"


class DetailPane:
    """Typed identity, note, matched patient, state and decision of one request: a rule,
    then the text wrapped to the width with a blank at each side.

    ``refresh()`` is called when the pane must be drawn again."""

    def __init__(self, tz: ZoneInfo, *, refresh: Callable[[], None]) -> None:
        self.tz = tz
        self.request_id: int | None = None
        self.content: Content = line("No request selected.")
        """The text as shown (literal: every piece of data is cleaned, never markup)."""
        self._refresh = refresh
        self._strips: tuple[tuple[int, object], list[Strip]] | None = None

    def show_message(self, message: str) -> None:
        """A one-line message instead of a request (empty list, request gone)."""
        self.request_id = None
        self._show(line(message))

    def show_detail(self, detail: RequestDetail) -> None:
        """Show one request."""
        self.request_id = detail.row.id
        self._show(render_detail(detail, self.tz))

    def _show(self, content: Content) -> None:
        self.content = content
        self._strips = None
        self._refresh()

    def line(self, y: int, width: int, styles: LineStyles, screen: Widget) -> Strip:
        """Line ``y`` of the pane: the rule (0), then the text."""
        if y == 0:
            return Strip([Segment(RULE * width, styles.border)], width)
        text = self._text_lines(width - 2, styles, screen)
        body = text[y - 1] if y - 1 < len(text) else Strip.blank(width - 2, styles.base)
        return Strip([Segment(" ", styles.base), *body, Segment(" ", styles.base)], width).crop(
            0, width
        )

    def _text_lines(self, width: int, styles: LineStyles, screen: Widget) -> list[Strip]:
        """The text wrapped to ``width`` (as a ``Static`` would), each line padded to it."""
        key = (width, styles.base)
        if self._strips is None or self._strips[0] != key:
            strips = Visual.to_strips(
                screen, self.content, width, HEIGHT - 1, screen.visual_style, pad=True
            )
            padded = [strip.crop_extend(0, width, styles.base) for strip in strips[: HEIGHT - 1]]
            self._strips = (key, padded)
        return self._strips[1]


def render_detail(detail: RequestDetail, tz: ZoneInfo) -> Content:
    """The detail pane's text (literal: every piece of data is cleaned, never markup)."""
    row = detail.row
    typed = [row.typed_name or "(no name)"]
    if detail.typed_birthdate:
        typed.append(f"born {detail.typed_birthdate.isoformat()}")
    typed += [value for value in (detail.typed_phone, detail.typed_email) if value]
    patient = detail.patient_name or "patient not found"
    if detail.patient_name and detail.patient_no_email:
        patient += " (asked not to be emailed)"
    requested = with_provider(row.requested_start, row.requested_provider_name, tz)
    if row.reason:
        requested += f" · {row.reason}"
    if row.state.open:
        first = line(
            (row.external_id, _LABEL),
            " · ",
            (row.state.label, _LABEL),
            f" · received {long_datetime(row.received_at, tz)} · {row.match_hint}",
        )
    else:
        first = line(
            (row.external_id, _LABEL),
            " · ",
            (row.state.label, _LABEL),
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
    return lines(*rows)
