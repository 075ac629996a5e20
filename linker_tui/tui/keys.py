"""The app's key bindings as Textual bindings (the specs live in ``linker_tui.settings.keymap``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from textual.binding import Binding

from linker_tui.settings.keymap import *  # noqa: F403  (the specs, under their old names)
from linker_tui.settings.keymap import KeySpec


def binding(spec: KeySpec) -> Binding:
    """The Textual binding for ``spec``."""
    return Binding(
        spec.keys, spec.action, spec.label, show=spec.show, id=spec.id, tooltip=spec.help
    )


def bindings(specs: Iterable[KeySpec]) -> list[Binding]:
    """Textual bindings for ``specs``."""
    return [binding(spec) for spec in specs]


@runtime_checkable
class OffersCommands(Protocol):
    """A screen whose actions the command palette lists (each screen says which apply now;
    the app needs to know no screen by name)."""

    def palette_actions(self) -> Iterator[KeySpec]:
        """The actions that apply now."""
        ...
