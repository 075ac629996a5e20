"""The help screen: every key and what it does, after the practice's remapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from linker_tui.tui.keys import (
    APP_KEYS,
    MAIN_KEYS,
    MODAL_CANCEL,
    OTHER_KEYS,
    OUTBOX_KEYS,
    PATIENT_SEARCH,
    PREVIEW_KEYS,
    REQUEST_KEYS,
    RUNS_KEYS,
    SIGN_IN_SKIP,
    KeySpec,
)
from linker_tui.tui.safe import line


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of Esc, q, ?, Enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,enter,f1", "close", "Close", id="help.close"),
    ]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        """The key table in a scrolling box: keys on the left, what they do on the right."""
        with Vertical(classes="dialog -wide", id="help"):
            yield Static(line(("Keys", "bold")), classes="dialog-title")
            with VerticalScroll(id="help-keys"), Grid(id="help-grid"):
                for keys, what in self._rows():
                    yield Static(keys, classes="help-key", markup=False)
                    yield Static(what, classes="help-what", markup=False)
            yield Static(line("Esc, q or ? closes this help."), classes="dialog-hint")

    def _key_names(self, spec: KeySpec) -> str:
        keys = spec.current_keys(self.keymap)
        return " ".join(self.app.get_key_display(Binding(key, spec.action)) for key in keys)

    def _rows(self) -> list[tuple[Content, Content]]:
        rows = [(line(("Request list", "bold")), Content(""))]
        rows += [(line(self._key_names(s)), line(s.help)) for s in (*MAIN_KEYS, *APP_KEYS)]
        rows.append((line(("Whole request (Enter on the list)", "bold")), Content("")))
        rows += [(line(self._key_names(s)), line(s.help)) for s in REQUEST_KEYS]
        rows.append((line(("Mail outbox", "bold")), Content("")))
        rows += [(line(self._key_names(s)), line(s.help)) for s in (*OUTBOX_KEYS, *PREVIEW_KEYS)]
        rows.append((line(("Sync runs", "bold")), Content("")))
        rows += [(line(self._key_names(s)), line(s.help)) for s in RUNS_KEYS]
        rows.append((line(("Everywhere", "bold")), Content("")))
        rows += [(line(keys), line(what)) for keys, what in OTHER_KEYS]
        rows.append((line(self._key_names(MODAL_CANCEL)), line(MODAL_CANCEL.help)))
        rows.append((line(self._key_names(PATIENT_SEARCH)), line(PATIENT_SEARCH.help)))
        rows.append((line(self._key_names(SIGN_IN_SKIP)), line(SIGN_IN_SKIP.help)))
        return rows

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
