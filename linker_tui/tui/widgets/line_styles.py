"""The styles the main screen draws its lines with, resolved once from its stylesheet.

The main screen is one widget (the screen itself) that draws every line: header, filter
line, the request list, the detail pane, the status line and the keys. Each part is a
plain object that turns its state into strips (``top_bar``, ``request_table``,
``detail``, ``bottom_bar``); the colours come from the screen's component classes
(``main-screen--*`` in ``app.tcss``), looked up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rich.style import Style

COMPONENTS: dict[str, str] = {
    "top": "main-screen--top",
    "hint": "main-screen--hint",
    "list": "main-screen--list",
    "list_focus": "main-screen--list-focus",
    "list_header": "main-screen--list-header",
    "list_header_focus": "main-screen--list-header-focus",
    "cursor": "main-screen--cursor",
    "cursor_focus": "main-screen--cursor-focus",
    "list_muted": "main-screen--list-muted",
    "border": "main-screen--border",
    "problem": "main-screen--problem",
    "muted": "main-screen--muted",
    "keys": "main-screen--keys",
}
"""Field of :class:`LineStyles` → component class of the main screen."""


class StyledNode(Protocol):
    """What the styles are read from (the main screen)."""

    @property
    def rich_style(self) -> Style: ...

    def get_component_rich_style(self, *names: str, partial: bool = False) -> Style: ...


@dataclass(frozen=True)
class LineStyles:
    """Rich styles for every kind of line the main screen draws (``base``: the screen's
    own; the list's styles already reflect whether the list has the keyboard)."""

    base: Style
    top: Style
    hint: Style
    list: Style
    list_header: Style
    cursor: Style
    list_muted: Style
    border: Style
    problem: Style
    muted: Style
    keys: Style

    @classmethod
    def read(cls, node: StyledNode, *, list_focused: bool) -> LineStyles:
        """Resolve the styles from ``node``'s component classes."""
        base = node.rich_style

        def style(field: str) -> Style:
            return base + node.get_component_rich_style(COMPONENTS[field])

        focus = "_focus" if list_focused else ""
        return cls(
            base=base,
            top=style("top"),
            hint=style("hint"),
            list=style(f"list{focus}"),
            list_header=style(f"list_header{focus}"),
            cursor=style(f"cursor{focus}"),
            list_muted=style("list_muted"),
            border=style("border"),
            problem=style("problem"),
            muted=style("muted"),
            keys=style("keys"),
        )
