"""``linker-tui staff-pin NAME``: the line to put in the settings for a staff member's PIN
(its scrypt hash; the PIN itself is never stored)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from linker_tui.common.actor import hash_pin
from linker_tui.settings.config import Settings


def add_staff_pin_parser(sub: Any) -> None:
    """Register the ``staff-pin`` command on the CLI's subparsers."""
    parser = sub.add_parser(
        "staff-pin", help="hash a staff member's sign-in PIN for the settings (staff)"
    )
    parser.add_argument("name", help="the name as it is picked at sign-in")


def _read_pin() -> str | None:
    """The PIN: asked twice without echo at a terminal, else the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    pin = getpass.getpass("PIN: ")
    if getpass.getpass("The same PIN again: ") != pin:
        print("linker-tui: the two PINs differ; nothing written", file=sys.stderr)
        return None
    return pin


def run_staff_pin(args: argparse.Namespace, settings: Settings) -> int:
    """Print ``"Name" = "scrypt$…"`` for the ``[staff]`` table of the settings file."""
    name = " ".join(str(args.name).split())
    if not name:
        print("linker-tui: the name is empty", file=sys.stderr)
        return 2
    pin = _read_pin()
    if pin is None:
        return 1
    if len(pin) < 4 or not pin.isprintable():
        print("linker-tui: a PIN has at least 4 characters (and no control ones)", file=sys.stderr)
        return 2
    print(f"{json.dumps(name, ensure_ascii=False)} = {json.dumps(hash_pin(pin))}")
    print(
        "Put this line under [staff] in the settings file (readable by its owner only: chmod 600).",
        file=sys.stderr,
    )
    return 0
