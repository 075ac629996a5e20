"""Who is at the desk: staff pick their name (and type their PIN when they have one), so
the audit trail records the person beside the OS login of a shared front-desk account.

Shown at start when the practice asks for it (setting ``staff_sign_in``) and on ``u``.
Esc skips it when sign-in is optional (the OS login is recorded, as before)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from linker_tui.common.actor import check_pin
from linker_tui.services import Services, StaffMember
from linker_tui.tui.keys import SIGN_IN_KEYS, bindings
from linker_tui.tui.safe import SafeInput, line, one_line
from linker_tui.tui.widgets.keybar import KeyBar


class SignInScreen(Screen[str | None]):
    """Dismissed with the staff member's name, or None (skipped: the OS login)."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(SIGN_IN_KEYS))
    AUTO_FOCUS = "#staff"
    DEFAULT_CSS = """
    SignInScreen {
        layout: vertical;
        & > #sign-in-header {
            height: 1;
            padding: 0 1;
            background: $panel;
        }
        & > #sign-in-body {
            height: 1fr;
            padding: 1 2;
        }
        & #sign-in-hint, & #sign-in-message {
            height: auto;
            margin-bottom: 1;
        }
        & #staff {
            height: auto;
            max-height: 1fr;
        }
        & #pin {
            width: 30;
            display: none;
        }
        & #pin.-asking {
            display: block;
        }
    }
    """

    def __init__(self, services: Services, *, required: bool) -> None:
        super().__init__()
        self.services = services
        self.required = required
        self.staff: list[StaffMember] = []
        self.chosen: StaffMember | None = None

    def compose(self) -> ComposeResult:
        """Title, what to do, the names, the PIN field, a message line, the keys."""
        with Horizontal(id="sign-in-header"):
            yield Static(line(("Who is at the desk?", "bold")), id="sign-in-title")
        with Vertical(id="sign-in-body"):
            yield Static(line(self._hint()), id="sign-in-hint")
            yield OptionList(id="staff")
            yield SafeInput(password=True, id="pin", placeholder="PIN, then Enter")
            yield Static(line(""), id="sign-in-message")
        yield KeyBar(id="sign-in-keys")

    def _hint(self) -> str:
        skip = "" if self.required else " Esc: carry on without signing in (the OS login)."
        return (
            "Pick your name (↑ ↓ Enter): your decisions are recorded under it, with this "
            f"computer's login.{skip}"
        )

    def on_mount(self) -> None:
        """Read the staff list (the settings, else the PMS providers)."""
        self.load()

    @work(exclusive=True, group="sign-in-load", exit_on_error=False)
    async def load(self) -> None:
        """The names to pick from."""
        self.staff = await asyncio.to_thread(self.services.staff_members)
        names = self.query_one("#staff", OptionList)
        names.clear_options()
        names.add_options(Option(one_line(m.name)) for m in self.staff)
        if not self.staff:
            self.say("No staff list: set `staff` in the settings (docs/settings.md).")
        else:
            names.highlighted = 0

    def say(self, message: str) -> None:
        """One line under the names (literal)."""
        self.query_one("#sign-in-message", Static).update(line(message))

    @property
    def message(self) -> str:
        """What the message line says (for tests)."""
        return str(self.query_one("#sign-in-message", Static).content)

    @on(OptionList.OptionSelected, "#staff")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        member = self.staff[event.option_index]
        if not member.pin_hash:
            self.dismiss(member.name)
            return
        self.chosen = member
        pin = self.query_one("#pin", Input)
        pin.value = ""
        pin.add_class("-asking")
        pin.focus()
        self.say(f"PIN for {member.name} (Esc: back to the names)")

    @on(Input.Submitted, "#pin")
    def _pin_entered(self, event: Input.Submitted) -> None:
        if self.chosen is not None:
            self._check(self.chosen, event.value)

    @work(exclusive=True, group="sign-in-check", exit_on_error=False)
    async def _check(self, member: StaffMember, pin: str) -> None:
        if await asyncio.to_thread(check_pin, pin, member.pin_hash):
            self.dismiss(member.name)
            return
        self.query_one("#pin", Input).value = ""
        self.say(f"! Wrong PIN for {member.name}: try again (Esc: back to the names)")

    def action_skip(self) -> None:
        """Esc: from the PIN back to the names; from the names, carry on as the OS login
        (unless sign-in is required)."""
        pin = self.query_one("#pin", Input)
        if pin.has_class("-asking"):
            pin.remove_class("-asking")
            self.chosen = None
            self.query_one("#staff", OptionList).focus()
            self.say("")
            return
        if self.required:
            self.say("Signing in is required at this desk: pick your name (q quits).")
            return
        self.dismiss(None)
