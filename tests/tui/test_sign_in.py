"""Staff sign-in: who is at the desk is picked at start (PIN when they have one), shown in
the header and recorded in the audit trail beside the OS login; the settings keep only
PIN hashes, in a file only its owner can read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from linker_tui.common.actor import check_pin, hash_pin, is_pin_hash
from linker_tui.settings.config import ConfigError, Settings, load_settings
from linker_tui.store.enums import RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.reject import RejectReason
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.screens.sign_in import SignInScreen
from tests.tui.drive import SMALL, main_screen, notifications, select, settle, wait_screen
from tests.tui.world import build_world

PIN = "2468"
STAFF = {"Alice Chen": hash_pin(PIN), "Bob Singh": ""}


async def _sign_in_screen(pilot: object) -> SignInScreen:
    screen = await wait_screen(pilot, SignInScreen)  # type: ignore[arg-type]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(screen, SignInScreen)
    return screen


async def test_bob_signs_in_and_his_decision_is_recorded_under_his_name(tmp_path: Path) -> None:
    world = build_world(tmp_path, staff=STAFF)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _sign_in_screen(pilot)
        names = screen.query_one("#staff", OptionList)
        assert [str(names.get_option_at_index(i).prompt) for i in range(2)] == [
            "Alice Chen",
            "Bob Singh",
        ]
        await pilot.press("down", "enter")  # Bob has no PIN
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert main_screen(app).top_bar.who_text == "Bob Singh"
        assert any("Signed in as Bob Singh" in m for m in notifications(app))
        await select(pilot, "unknown")
        await pilot.press("r")
        await wait_screen(pilot, RejectReason)
        await pilot.press("1", "enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    request = world.request("unknown")
    assert request.state == RequestState.REJECTED.value
    assert request.decided_by == "Bob Singh@desk-1"
    (event,) = world.audit("unknown")
    assert (event.desk_user, event.os_user, event.workstation) == ("Bob Singh", "tester", "desk-1")


async def test_a_pin_is_asked_and_a_wrong_one_refused(tmp_path: Path) -> None:
    world = build_world(tmp_path, staff=STAFF)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _sign_in_screen(pilot)
        await pilot.press("enter")  # Alice: her PIN is asked
        await settle(pilot)
        field = screen.query_one("#pin", Input)
        assert app.focused is field and field.password
        await pilot.press("1", "2", "3", "4", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.message == "! Wrong PIN for Alice Chen: try again (Esc: back to the names)"
        assert field.value == ""
        assert world.services.actor.staff == ""
        await pilot.press(*PIN, "enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert world.services.actor.staff == "Alice Chen"
        assert main_screen(app).top_bar.who_text == "Alice Chen"
        # u: the next person at the desk
        await pilot.press("u")
        screen = await _sign_in_screen(pilot)
        await pilot.press("down", "enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert world.services.actor.staff == "Bob Singh"
        assert world.services.workflow.actor.staff == "Bob Singh"


async def test_optional_sign_in_can_be_skipped_required_cannot(tmp_path: Path) -> None:
    world = build_world(tmp_path, staff=STAFF)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _sign_in_screen(pilot)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert world.services.actor.staff == "" and main_screen(app).top_bar.who_text == ""

    required = build_world(tmp_path / "required", staff=STAFF, staff_sign_in="required")
    app = LinkerApp(required.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _sign_in_screen(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert screen.message.startswith("Signing in is required at this desk")


async def test_without_a_staff_list_the_pms_providers_are_offered(tmp_path: Path) -> None:
    world = build_world(tmp_path, staff_sign_in="optional")
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _sign_in_screen(pilot)
        names = screen.query_one("#staff", OptionList)
        shown = [str(names.get_option_at_index(i).prompt) for i in range(names.option_count)]
        assert "Dr. Amelia Chen" in shown and "Jo Smith" in shown
        assert not any("\x1b" in name for name in shown)


async def test_no_sign_in_by_default(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    assert world.services.sign_in_mode == "off"
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert app.check_action("sign_in", ()) is False
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


# ------------------------------------------------------------------ settings
@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "config.toml"
    monkeypatch.setenv("LINKER_CONFIG", str(path))
    return path


def test_pins_are_stored_hashed_and_checked() -> None:
    stored = hash_pin(PIN)
    assert PIN not in stored and is_pin_hash(stored)
    assert stored != hash_pin(PIN)  # a fresh salt each time
    assert check_pin(PIN, stored) and not check_pin("2469", stored)
    assert not check_pin(PIN, "2468") and not is_pin_hash("2468")
    assert not is_pin_hash("scrypt$1099511627776$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==")


def test_a_plain_pin_in_the_settings_is_refused_without_repeating_it(config: Path) -> None:
    config.write_text('[staff]\n"Alice Chen" = "8642"\n')
    config.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "'Alice Chen' is not a hash made by `linker-tui staff-pin`" in str(caught.value)
    assert "8642" not in str(caught.value)


def test_pin_hashes_need_a_file_only_its_owner_can_read(config: Path) -> None:
    config.write_text(f'[staff]\n"Alice Chen" = "{hash_pin(PIN)}"\n"Bob Singh" = ""\n')
    config.chmod(0o644)
    with pytest.raises(ConfigError, match="staff holds a password but the file may be read"):
        load_settings()
    config.chmod(0o600)
    settings = load_settings()
    assert list(settings.staff) == ["Alice Chen", "Bob Singh"]
    config.write_text('[staff]\n"Bob Singh" = ""\n')  # names only: no secret
    config.chmod(0o644)
    assert load_settings().staff == {"Bob Singh": ""}


def test_staff_pin_command_prints_a_line_the_settings_take(config: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LINKER_CONFIG": str(config)}
    config.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "linker_tui.cli.main", "staff-pin", "Zoë  Lefèvre"],
        input=f"{PIN}\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert PIN not in done.stdout and "chmod 600" in done.stderr
    config.write_text("[staff]\n" + done.stdout)
    config.chmod(0o600)
    settings = load_settings()
    assert check_pin(PIN, settings.staff["Zoë Lefèvre"])
    assert isinstance(settings, Settings)
