"""Turn untrusted text (from patients or the PMS) into renderables that are never parsed
as markup and carry no control characters.

Rules for the whole TUI:

* ``Static``/``Label`` get a :class:`~textual.content.Content` from :func:`content` or
  :func:`line` — never an f-string containing data;
* ``DataTable`` cells get a rich :class:`~rich.text.Text` from :func:`cell`;
* text fields are :class:`SafeInput`: what is typed or pasted is cleaned to one line;
* notifications: the app derives from :class:`SafeApp`, whose ``notify`` is the only way
  to a toast (``Screen.notify`` and ``Widget.notify`` call it): message and title are
  cleaned there and never parsed as markup, whatever the caller passes. Nothing else in
  the app may create a ``Notification`` (a test reads the source to keep it so).
"""

from __future__ import annotations

import re
from typing import TypeVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.widgets import Input

from linker_tui.common.text import clean

_LINE_BREAKS = re.compile(r"[\t\n\u2028\u2029]+")

ReturnType = TypeVar("ReturnType")

Part = str | tuple[str, str]
"""A piece of a line: plain text, or ``(text, style)`` where the style is ours (``"bold"``)."""


def content(text: str | None) -> Content:
    """Literal, multi-line text (control characters removed)."""
    return Content(clean(text))


def one_line(text: str | None) -> str:
    """``text`` cleaned, with line breaks and tabs turned into single spaces (other spacing,
    including leading and trailing blanks, is kept: pieces of a line are glued together)."""
    return _LINE_BREAKS.sub(" ", clean(text))


def line(*parts: Part) -> Content:
    """One literal line assembled from pieces; each text piece is cleaned to a single line.

    Styles in ``(text, style)`` tuples are the app's own constants; the text never is markup.
    """
    pieces: list[str | tuple[str, str]] = []
    for part in parts:
        if isinstance(part, tuple):
            text, style = part
            pieces.append((one_line(text), style))
        else:
            pieces.append(one_line(part))
    return Content.assemble(*pieces)


def lines(*rows: Content) -> Content:
    """Several lines joined by newlines."""
    return Content("\n").join(rows)


def cell(text: str | None, width: int | None = None, style: str | Style = "") -> Text:
    """A one-line table cell; cut to ``width`` cells with an ellipsis when given."""
    value = Text(clean(text, single_line=True), style=style, no_wrap=True, overflow="ellipsis")
    if width is not None and value.cell_len > width:
        value.truncate(width, overflow="ellipsis")
    return value


def toast_text(message: object) -> str:
    """What a notification shows for ``message`` (an error, a string): cleaned, literal."""
    return clean(str(message)).strip()


class SafeApp(App[ReturnType]):
    """An app whose notifications can carry no markup and no control characters."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a toast. ``message`` and ``title`` are cleaned and shown literally:
        ``markup`` is accepted for Textual's callers and ignored (data is never markup)."""
        super().notify(
            toast_text(message),
            title=one_line(title).strip(),
            severity=severity,
            timeout=timeout,
            markup=False,
        )


EDITING_KEYS: dict[str, str] = {
    key.strip(): binding.action
    for binding in Input.BINDINGS
    if isinstance(binding, Binding)
    for key in binding.key.split(",")
}
"""``Input``'s own keys (Backspace, arrows, Home, End, Enter, …) and their actions."""


class SafeInput(Input):
    """A text field whose value is always one clean line (a paste cannot bring escapes),
    whose keys act in the order they were typed.

    ``Input`` inserts a typed character when the key reaches the field, but runs its
    editing keys' bindings only once the key has bubbled up to the app: keys that arrive
    together (fast typing, a held key, an SSH packet) were applied out of order, so
    ``oli``, Backspace, ``w`` gave ``oli`` (the ``w`` typed, then deleted). Here the field
    runs its editing keys itself, as they arrive."""

    @on(events.Key)
    async def _edit_in_order(self, event: events.Key) -> None:
        """An editing key acts now, in turn with the typed characters around it."""
        action = EDITING_KEYS.get(event.key)
        if action is not None and await self.app.run_action(action, self):
            event.stop()  # done: the app must not run its binding again
            event.prevent_default()
        # An action that did not apply (Copy with nothing selected) goes on up the
        # binding chain as before: the app's own binding for the key, if any.

    def validate_value(self, value: str) -> str:
        """Clean every new value (typed, pasted or set by code)."""
        return one_line(value)
