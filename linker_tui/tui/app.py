"""The Textual app: ``LinkerApp(services).run()``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from linker_tui.services import Services
from linker_tui.tui.keys import APP_KEYS, bindings
from linker_tui.tui.screens.help import HelpScreen
from linker_tui.tui.screens.main import MainScreen


class LinkerApp(App[None]):
    """Link online appointment requests to appointments that exist in the PMS."""

    TITLE = "linker-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(APP_KEYS))

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def get_default_screen(self) -> Screen[None]:
        """The request list."""
        return MainScreen(self.services)

    def on_mount(self) -> None:
        """Apply the practice's key remapping; mark monochrome terminals for the CSS."""
        self.set_keymap(dict(self.services.settings.keys))
        if self.no_color or self.ansi_color:
            self.add_class("-mono")

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.services.settings.keys))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers every action that applies now, with its description."""
        if isinstance(screen, MainScreen):
            for spec in screen.palette_actions():
                yield SystemCommand(spec.command, spec.help, _runner(screen, spec.action))
        yield SystemCommand("Help", "Show every key and what it does", self.action_help)
        yield from super().get_system_commands(screen)


def _runner(screen: MainScreen, action: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await screen.run_action(action)

    return run
