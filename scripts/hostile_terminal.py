"""Hostile text in a real terminal: run the app in tmux on a practice whose every name,
reason, note, request id, inbox file name and mail error holds every class of control
character, record the terminal's raw output (``tmux pipe-pane``), walk every screen and
toast with real keys, and count the control characters that came from data.

    python scripts/hostile_terminal.py [--keep] [--out DIR]

First a control run: the same hostile text printed raw by ``cat`` in the same kind of
pane, to show that the counter sees it (its count must be above 0, and tmux's pane title
becomes ``PWNED-TITLE``). Then the app: its count must be 0 and the pane title untouched.
Exit status 0 when both hold. Needs tmux; about a minute.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' hostile practice

from linker_tui.mail.transport import DeliveryFailure  # noqa: E402
from linker_tui.store.db import write_session  # noqa: E402
from linker_tui.store.models import Appointment, OnlineRequest  # noqa: E402
from tests.hostile import X, hostile_inbox, make_hostile  # noqa: E402
from tests.tui.world import NOW, build_world  # noqa: E402

SERVER = "linker-hostile"
SIZE = (120, 40)

# The app's own escape sequences: CSI (colours, cursor, modes), OSC ending in BEL or ST
# (Textual's pointer shape, hyperlinks), and two-character escapes (keypad modes, charset).
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_OSC = re.compile(r"\x1b\]([^\x07\x1b]*)(?:\x07|\x1b\\)")
_ESC2 = re.compile(r"\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMNOZc\\]")
_MARKERS = {
    "OSC 0 title": "\x1b]0;PWNED",
    "OSC 52 clipboard": "\x1b]52;c;UFdORUQ=",
    "OSC 8 link": "\x1b]8;;http://pwned",
    "SGR blink": "\x1b[5;31mPWNED",
    "C1 CSI": "\x9b5;31mPWNED",
    "C1 OSC": "\x9d0;PWNED",
}


def count_from_data(raw: bytes) -> Counter[str]:
    """Control characters in a terminal recording that the app did not write itself:
    the hostile payloads as sequences, OSCs that are not the app's (pointer shape ``22``,
    hyperlink ``8`` to a non-hostile target), and every control, C1, format (bidi,
    zero-width) or separator character left once the app's sequences are removed."""
    text = raw.decode("utf-8", errors="surrogateescape")
    found: Counter[str] = Counter()
    for name, marker in _MARKERS.items():
        if text.count(marker):
            found[name] += text.count(marker)
    for match in _OSC.finditer(text):
        payload = match.group(1)
        if "PWN" in payload or not payload.startswith(("22;", "8;")):
            found[f"OSC {payload.split(';', 1)[0]}"] += 1
    rest = _ESC2.sub("", _CSI.sub("", _OSC.sub("", text)))
    for ch in rest:
        if ch in "\r\n\t\b":
            continue
        kind = unicodedata.category(ch)
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            found["invalid UTF-8 byte"] += 1
        elif ch == "\x1b":
            found["ESC"] += 1
        elif ch == "\x07":
            found["BEL"] += 1
        elif 0x80 <= code <= 0x9F:
            found["C1"] += 1
        elif kind == "Cc":
            found["other C0 / DEL"] += 1
        elif kind in ("Cf", "Zl", "Zp"):
            found[f"format U+{code:04X}"] += 1
    return found


def tmux(*args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", SERVER, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 and args[0] not in ("kill-server", "has-session"):
        raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def record(command: str, recording: Path, env: dict[str, str]) -> None:
    """Start ``command`` in a fresh tmux pane whose raw output goes to ``recording``."""
    tmux("kill-server")
    time.sleep(1.0)  # the previous server has gone
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    width, height = SIZE
    tmux(
        "new-session", "-d", "-s", "hostile", "-x", str(width), "-y", str(height),
        f"sleep 1; env {exports} {command}; sleep 600",
    )  # fmt: skip
    tmux("set-option", "-g", "remain-on-exit", "on")
    tmux("pipe-pane", "-o", "-t", "hostile", f"cat >> {shlex.quote(str(recording))}")


def keys(*names: str, wait: float = 1.0) -> None:
    """Press keys (tmux key names) one by one, then let the app draw."""
    for name in names:
        tmux("send-keys", "-t", "hostile", name)
        time.sleep(0.15)
    time.sleep(wait)


def typed(text: str, wait: float = 0.5) -> None:
    tmux("send-keys", "-t", "hostile", "-l", text)
    time.sleep(wait)


def pasted(text: str, wait: float = 0.8) -> None:
    """A bracketed paste (what a terminal sends when staff paste copied text)."""
    tmux("set-buffer", "-b", "hostile", text)
    tmux("paste-buffer", "-p", "-b", "hostile", "-t", "hostile")
    time.sleep(wait)


def choose(word: str) -> None:
    """Filter the list by ``word`` (the field emptied first)."""
    keys("/", wait=0.5)
    keys("C-a", "C-k", wait=0.2)
    typed(word)
    keys("Enter", wait=1.5)


def pane_title() -> str:
    return tmux("display-message", "-p", "-t", "hostile", "#{pane_title}").strip()


class HostileMailer:
    """A mail server whose refusals carry every control class."""

    def deliver(self, message: object) -> None:
        raise DeliveryFailure(f"550 no such user {X}", permanent=True)


def shift_to_today(engine: Engine) -> None:
    """The practice is built at a fixed day; the app runs at the real time: move every
    appointment and request by whole weeks so that they lie ahead of today as they did."""
    weeks = max(0, (datetime.now(UTC) - NOW).days // 7 + 1)
    delta = timedelta(weeks=weeks)
    with write_session(engine) as s:
        for appointment in s.exec(select(Appointment)).all():
            appointment.start += delta
        for request in s.exec(select(OnlineRequest)).all():
            request.requested_start += delta
            request.received_at += delta


def build(folder: Path) -> None:
    """The hostile practice: names, reasons, an audited rejection, a failed email, a sync
    run with problems named after hostile inbox files."""
    shutil.rmtree(folder, ignore_errors=True)  # a fresh practice on every run
    world = build_world(folder)
    shift_to_today(world.engine)
    make_hostile(world.engine)
    world.services.workflow.reject(world.requests["none"], f"reason {X}", expected_version=1)
    world.services.relay(HostileMailer()).run_once()
    hostile_inbox(world.services.settings.effective_inbox_dir)
    world.services.sync_now(trigger="manual")
    hostile_inbox(world.services.settings.effective_inbox_dir)  # more for the app's syncs
    world.services.engine.dispose()


def walk(screens: list[str]) -> None:
    """Every screen and toast: the list, each row's detail, accept (exact → link → email),
    reject (warning, pasted reason), reopen, the patient chooser, a sync warning seen, sync
    now, the outbox, the sync runs, help. What the pane shows after each step is kept."""

    def snap(step: str) -> None:
        screens.append(f"===== {step}\n" + tmux("capture-pane", "-p", "-t", "hostile"))

    keys("Home", wait=0.5)
    snap("the list")
    for row in range(10):
        keys("Down", wait=0.6)
        snap(f"row {row + 2}: detail")
    choose("REQ-1001")
    keys("a", wait=1.5)
    snap("exact match")
    keys("Enter", wait=1.5)
    snap("confirm link")
    keys("Enter", wait=1.5)
    snap("email prompt")
    keys("Enter", wait=1.0)
    snap("linked toast")
    time.sleep(2.0)
    snap("email toast")
    choose("REQ-1002")
    keys("r", wait=1.5)
    snap("scheduled warning")
    keys("Right", "Enter", wait=1.5)
    keys("Tab", wait=0.3)  # to the reason field
    # Textual's input parser reads an ESC inside a bracketed paste as the start of a key
    # sequence (the rest leaks out as key presses): the paste carries every other class.
    pasted(f"pasted reason {X.replace(chr(27), '')}")
    snap("reject reason, pasted")
    keys("Enter", wait=1.5)
    snap("rejected toast")
    keys("h", wait=1.5)  # handled requests too
    choose("REQ-1001")
    keys("o", wait=1.5)
    snap("reopen question")
    keys("Enter", wait=1.5)
    snap("reopened toast")
    choose("REQ-1005")
    keys("p", wait=2.5)
    keys("Down", "Down", wait=1.0)
    snap("patient chooser")
    keys("Escape", wait=1.0)
    choose("REQ-1008")
    keys("d", wait=1.5)
    snap("sync warning seen")
    keys("y", wait=6.0)
    snap("sync now toast")
    keys("m", wait=2.0)
    keys("Down", wait=1.0)
    snap("outbox")
    keys("Escape", wait=1.0)
    keys("Y", wait=2.0)
    keys("Down", wait=1.0)
    snap("sync runs")
    keys("Escape", wait=1.0)
    keys("?", wait=1.5)
    snap("help")
    keys("Escape", wait=1.0)
    keys("q", wait=3.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep the recordings here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 2
    folder = args.out or Path(tempfile.mkdtemp(prefix="linker-hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "LINKER_DATA_DIR": str(folder / "data"),
        "LINKER_CONFIG": str(folder / "none.toml"),
        "LINKER_PRACTICE_TIMEZONE": "America/Toronto",
        "TERM": "xterm-256color",
    }
    try:
        # control: the same text, printed raw
        sample = folder / "hostile.txt"
        sample.write_text(X + "\n")
        control = folder / "control.bin"
        control.unlink(missing_ok=True)
        record(f"cat {shlex.quote(str(sample))}", control, env)
        time.sleep(3)
        control_title = pane_title()
        control_count = count_from_data(control.read_bytes())

        # the app
        build(folder / "data")
        app = folder / "app.bin"
        app.unlink(missing_ok=True)
        linker = shutil.which("linker-tui") or f"{sys.executable} -m linker_tui.cli.main"
        record(linker, app, env)
        time.sleep(4)  # first frame
        screens: list[str] = []
        walk(screens)
        app_title = pane_title()
        (folder / "screens.txt").write_text("\n".join(screens))
        app_count = count_from_data(app.read_bytes())
    finally:
        tmux("kill-server")
    size = app.stat().st_size
    print(
        f"control (cat of the hostile text): {sum(control_count.values())} control "
        f"characters from data {dict(control_count)}; pane title {control_title!r}"
    )
    print(
        f"app ({size} bytes recorded): {sum(app_count.values())} control characters "
        f"from data {dict(app_count)}; pane title {app_title!r}"
    )
    if args.out or args.keep:
        print(f"recordings in {folder} (app.bin, control.bin; screens.txt: the pane per step)")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    ok = sum(control_count.values()) > 0 and "PWNED" in control_title
    ok = ok and not app_count and "PWNED" not in app_title and size > 10_000
    if not ok:
        print("\n".join(screens), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
