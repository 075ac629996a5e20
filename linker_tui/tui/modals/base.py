"""What every dialog shares: Esc cancels, arrows move between buttons, a titled frame."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from functools import lru_cache
from typing import ClassVar, TypeVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual._context import NoActiveAppError
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.dom import DOMNode
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from linker_tui.tui.keys import MODAL_KEYS, bindings
from linker_tui.tui.messages import PmsSynced, RequestsChanged
from linker_tui.tui.safe import line

ResultT = TypeVar("ResultT")

HINT = "Enter: choose · Tab/arrows: move · Esc: cancel, nothing changes"
BACK_HINT = "Enter: choose · Tab/arrows: move · Esc: back, nothing changes"
"""The hint of a dialog that Esc steps back from to the one before it."""


class Dialog(ModalScreen[ResultT]):
    """A centred box with a title, a body and a row of buttons.

    Subclasses implement :meth:`compose_body`, :meth:`buttons` and :meth:`cancelled`
    (the result Esc returns) and handle ``Button.Pressed``.
    """

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(MODAL_KEYS))
    TITLE_TEXT = ""
    WIDE = False

    stepped_back = False
    """Set when Esc closed the dialog (not a button): the flow steps back one dialog."""
    has_previous = False
    """A flow sets it when another dialog came before this one: the hint says Esc goes back."""

    def __init__(self) -> None:
        super().__init__()
        self._styled = False
        """The styles have been applied once (when the widgets were added)."""
        with contextlib.suppress(NoActiveAppError):
            self._take_breakpoints(self.app.screen)

    def _take_breakpoints(self, below: Screen[object]) -> None:
        """Start with the size classes (``-narrow``, ``-short``…) of the screen below: the
        dialog has its size. Textual would add them on the first resize, and a change of
        classes styles every widget of the screen again."""
        app = self.app
        breakpoints = [*(app.HORIZONTAL_BREAKPOINTS or []), *(app.VERTICAL_BREAKPOINTS or [])]
        names = {name for _, name in breakpoints}
        self.add_class(*(below.classes & names), update=False)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown for the first time: its widgets were styled as they were added, so Textual
        need not style them all again (it runs before Screen's own handler)."""
        if not self._styled:
            self._styled = True
            event.refresh_styles = False

    def render(self) -> RenderableType:
        """The screen below, dimmed (its styles' dimmed versions kept between frames)."""
        below = super().render()
        if type(below) is BackgroundScreen:
            return DimmedScreen(below.screen, below.color)
        return below

    def compose(self) -> ComposeResult:
        """The frame: title, body, buttons, key hint."""
        with Vertical(classes="dialog -wide" if self.WIDE else "dialog"):
            yield Static(line((self.dialog_title(), "bold")), classes="dialog-title")
            yield from self.compose_body()
            with Horizontal(classes="dialog-buttons"):
                yield from self.buttons()
            yield Static(line(self.hint_text()), classes="dialog-hint")

    def dialog_title(self) -> str:
        """The title line (a constant of ours, shown literally)."""
        return self.TITLE_TEXT

    def hint_text(self) -> str:
        """The key hint under the buttons (a constant of ours)."""
        return BACK_HINT if self.has_previous else HINT

    def compose_body(self) -> ComposeResult:
        """The dialog's content."""
        yield from ()

    def buttons(self) -> ComposeResult:
        """The dialog's buttons, left to right."""
        yield from ()

    def cancelled(self) -> ResultT:
        """The result of Esc / Cancel."""
        raise NotImplementedError

    def on_pms_synced(self, message: PmsSynced) -> None:
        """A sync ended while the dialog is open (:meth:`after_sync`)."""
        self.after_sync()

    def on_requests_changed(self, message: RequestsChanged) -> None:
        """Another desk changed something (the live refresh saw it): as after a sync."""
        self.after_sync()

    def after_sync(self) -> None:
        """A sync ended while the dialog is open: a dialog showing PMS data looks again
        (off the UI thread) and shows the new state in place. This one shows none."""

    def action_cancel(self) -> None:
        """Esc: close the dialog (a flow steps back one dialog), nothing changes."""
        self.stepped_back = True
        self.dismiss(self.cancelled())

    def action_focus_previous(self) -> None:
        """Left/up: the previous button."""
        self.focus_previous()

    def action_focus_next(self) -> None:
        """Right/down: the next button."""
        self.focus_next()


def text(body: Content, *, classes: str = "dialog-text", id: str | None = None) -> Static:
    """A block of literal text for a dialog."""
    return Static(body, classes=classes, markup=False, id=id)


class StyledWhenShown(DOMNode):
    """A widget whose styles are worked out once, when it is added to the screen.

    ``Button`` and ``Input`` set CSS classes in their constructors (variant, flat,
    compact), and Textual restyles a node at each class change even before it is in the
    DOM: three or four full styling passes per button, all thrown away when the widget is
    added and styled anyway. Mix in after the widget class: Textual takes a widget's CSS
    (``DEFAULT_CSS``, component classes) from its first base class only."""

    def update_node_styles(self, animate: bool = True) -> None:
        """Restyle for a class change, once the widget is in the DOM (it is styled when
        added)."""
        if self.is_attached:
            super().update_node_styles(animate)


WidgetT = TypeVar("WidgetT", bound=Widget)


def focused_first(widget: WidgetT) -> WidgetT:
    """``widget``, the dialog's ``AUTO_FOCUS``, styled as focused from the start.

    Textual focuses it once the dialog's widgets are added and styled, and styles it and
    its parts again for its ``:focus`` rules: a second styling pass that the dialog's
    first frame waits for. (Not when the terminal is out of focus: Textual focuses
    nothing then.)"""
    with contextlib.suppress(NoActiveAppError):
        if widget.app.app_focus:
            widget.set_reactive(Widget.has_focus, True)
    return widget


class DialogButton(Button, StyledWhenShown):
    """A dialog's button (styled once, when added)."""


def button(label: str, button_id: str, *, variant: ButtonVariant = "default") -> Button:
    """A dialog button; labels are our constants, never data."""
    return DialogButton(Content(label), variant, id=button_id)


@lru_cache(maxsize=4096)
def _dimmed(style: Style | None, color: Color) -> Style:
    """``style`` as Textual dims it below a modal screen (links and meta removed)."""
    (segment,) = BackgroundScreen.process_segments([Segment(" ", style)], color)
    return segment.style or Style()


class DimmedScreen(BackgroundScreen):
    """Textual's dimmed screen below a modal one, each style dimmed once: the screen below
    is drawn again at every dialog's first frame, in the same few dozen styles."""

    @classmethod
    def process_segments(cls, segments: Iterable[Segment], color: Color) -> Iterable[Segment]:
        """Each segment in its style dimmed by ``color``."""
        for segment in segments:
            text, style, control = segment
            yield segment if control else Segment(text, _dimmed(style, color))
