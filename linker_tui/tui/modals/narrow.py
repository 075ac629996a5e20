"""The candidates dialog's narrowing row: "Narrow:", a field, and how many appointments
are not shown ("1,853 more — type to narrow").

The row is drawn first as one light widget (:class:`NarrowLine`) that looks as the row
does with its field empty. The real row (:class:`NarrowRow`: a label, an ``Input``, a
count) is put in its place on first use — a character typed in the dialog, Tab, → or a
click reaching the line — or from the start when the dialog opens with narrowing text
already in it: most dialogs are closed without narrowing, and the field with its label
cost a quarter of the dialog's time to open.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from linker_tui.tui.modals.base import StyledWhenShown
from linker_tui.tui.safe import SafeInput, line

LABEL = "Narrow:"
PLACEHOLDER = "date, time, dentist…"
FIELD_WIDTH = 30
"""The field's widest (``max-width``); it takes what the label and the count leave."""
PLACEHOLDER_STYLE = "narrow-line--placeholder"


def more_text(more: int) -> Content:
    """``1,853 more — type to narrow`` (empty when every appointment is shown)."""
    if more:
        return line((f"{more:,} more", "bold"), " — type to narrow")
    return line("")


class NarrowField(SafeInput, StyledWhenShown):
    """Narrows the appointments: every word must occur in the date, time, provider, chair
    or reason shown. Down or Enter go to the list; Esc empties the field, then cancels
    (the dialog's ``to_list`` and ``cancel`` actions)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "screen.to_list", "To the list", show=False),
        Binding("escape", "empty", "Empty the field", show=False),
    ]

    async def action_empty(self) -> None:
        """Esc: empty the field (all appointments again); when empty, cancel the dialog."""
        if self.value:
            self.value = ""
        else:
            await self.run_action("screen.cancel")

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.run_action("screen.to_list")


class NarrowRow(Horizontal):
    """The narrowing field, its label and how many appointments are not shown."""

    DEFAULT_CSS = """
    NarrowRow {
        display: none;
        height: 1;
    }
    NarrowRow.-shown {
        display: block;
    }
    NarrowRow > #narrow-label {
        width: auto;
        padding-right: 1;
    }
    NarrowRow > #narrow {
        width: 1fr;
        max-width: 30;
    }
    NarrowRow > #narrow-more {
        width: auto;
        padding-left: 1;
    }
    """

    def __init__(self, value: str, more: Content, *, shown: bool) -> None:
        super().__init__(id="narrow-row", classes="-shown" if shown else "")
        self.value, self.more = value, more

    def compose(self) -> ComposeResult:
        """Label, field, count."""
        yield Static(line(LABEL), id="narrow-label")
        yield NarrowField(
            value=self.value,
            placeholder=PLACEHOLDER,
            id="narrow",
            select_on_focus=False,
            compact=True,
        )
        yield Static(self.more, id="narrow-more", markup=False)

    @property
    def field(self) -> NarrowField:
        """The narrowing field."""
        return self.query_one(NarrowField)

    def show_more(self, more: Content, *, shown: bool) -> None:
        """A new count; the row shown or not."""
        self.query_one("#narrow-more", Static).update(more)
        self.set_class(shown, "-shown")


class NarrowLine(Widget, can_focus=True):
    """The narrowing row before its first use, drawn as one line: the label, the empty
    field with its placeholder (as the compact ``Input`` draws it) and the count. When
    the focus reaches it (Tab, →, a click) it asks for the real row (:class:`Used`)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {PLACEHOLDER_STYLE}
    DEFAULT_CSS = """
    NarrowLine {
        display: none;
        height: 1;
        &.-shown {
            display: block;
        }
        & > .narrow-line--placeholder {
            color: $text-disabled;
        }
        &:ansi > .narrow-line--placeholder {
            text-style: dim;
            color: ansi_default;
        }
    }
    """

    class Used(Message):
        """The focus reached the line: the real field is wanted in its place."""

    def __init__(self, more: Content, *, shown: bool) -> None:
        super().__init__(id="narrow-line", classes="-shown" if shown else "")
        self.more = more

    def render(self) -> Content:
        """``Narrow: date, time, dentist…           1,853 more — type to narrow``, each
        part where the row's layout puts it (label ``auto`` with one cell after it, the
        field ``1fr`` up to :data:`FIELD_WIDTH`, the count ``auto`` with one before)."""
        label = len(LABEL) + 1
        field = max(0, min(FIELD_WIDTH, self.size.width - label - self.more.cell_length - 1))
        placeholder = PLACEHOLDER[:field].ljust(field)
        return Content.assemble(
            LABEL.ljust(label), (placeholder, f".{PLACEHOLDER_STYLE}"), " ", self.more
        )

    def show_more(self, more: Content, *, shown: bool) -> None:
        """A new count; the line shown or not."""
        self.more = more
        self.set_class(shown, "-shown")
        self.refresh()

    def on_focus(self, event: events.Focus) -> None:
        """Tab, → or a click reached the line: the real field is wanted."""
        self.post_message(self.Used())
