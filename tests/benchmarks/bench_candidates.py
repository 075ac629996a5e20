"""Benchmark: Accept on a request of a patient with very many appointments (a placeholder
"walk-in" patient with 1,873 scheduled ones) → the candidates dialog on screen, in a real
terminal, against the same key on an ordinary patient's request (2 appointments) in the
same run; with ``--source DIR``, the walk-in request in another checkout too (before/after).

Run:  python -m tests.benchmarks.bench_candidates [--workdir DIR] [--rounds N] [--source DIR]
      [--no-tmux]

Builds (once) a SQLite database: 3 providers, the walk-in patient with 1,873 scheduled
appointments from today on (weekdays, 08:00 to 16:00), an ordinary patient with 2, and a
request for each (the walk-in's is the first row of the list, the ordinary one the
second). Each kind of round runs in its own tmux pane (80x24), the real ``linker-tui``
command on that database, started before the clock; a round presses ``a`` in the pane
(``tmux send-keys``) and polls ``tmux capture-pane -p`` until the dialog's title and the
row of the appointment nearest to the requested time (its date and time on one line) are
on the screen, then Esc closes it. The
baseline is the same key on the same list pushing the smallest modal screen (one Static
with the same text, ``tests.benchmarks.minimal_dialog``): what Textual costs for any
dialog. The kinds take turns, round after round. Prints each kind's median and its ratio
to the baseline's (target: the walk-in dialog under 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from linker_tui.matching import patient_keys
from linker_tui.store.db import make_engine
from linker_tui.store.models import Appointment, OnlineRequest, Patient, Provider
from linker_tui.store.schema import create_schema

TZ = ZoneInfo("America/Toronto")
SESSION = "linker-bench-candidates"
WIDTH, HEIGHT = 80, 24
POLL = 0.002
WALK_IN_APPOINTMENTS = 1_873
TITLE = "Could this be the same appointment?"
BASELINE = "minimal modal (baseline)"
MINIMAL = "tests.benchmarks.minimal_dialog"


TMUX = ("tmux", "-L", SESSION)
"""A tmux server of its own: other sessions' benchmarks and tests start and stop theirs."""


def _tmux(*args: str) -> str:
    out = subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True)
    return out.stdout


def _patient(pms_id: str, first: str, last: str) -> dict[str, object]:
    keys = patient_keys(first, last, "", "", "", "")
    return {"pms_id": pms_id, "first_name": first, "last_name": last, **keys.columns()}


def build(path: Path, today: datetime) -> datetime:
    """The database; returns the walk-in request's requested time."""
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    asked = (today + timedelta(days=200)).replace(hour=10, minute=15, second=0, microsecond=0)
    while asked.weekday() >= 5:  # a weekday: the walk-in has appointments that day
        asked += timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Provider.__table__),
            [
                {"pms_id": f"D{n}", "abbr": f"D{n}", "first_name": f, "last_name": last}
                for n, (f, last) in enumerate((("Amelia", "Chen"), ("Ben", "Osei"), ("Jo", "Li")))
            ],
        )
        conn.execute(
            sa.insert(Patient.__table__),
            [_patient("WALKIN", "Walk", "In"), _patient("P2", "Mia", "Roy")],
        )
        rows: list[dict[str, object]] = []
        day = today.replace(hour=8, minute=0, second=0, microsecond=0)
        while len(rows) < WALK_IN_APPOINTMENTS:
            day += timedelta(days=1)
            if day.weekday() >= 5:
                continue
            for hour in (8, 11, 14, 16):
                if len(rows) < WALK_IN_APPOINTMENTS:
                    start = day.replace(hour=hour).astimezone(UTC)
                    rows.append(_appointment(f"W{len(rows)}", 1, 1 + len(rows) % 3, start))
        rows += [
            _appointment("M1", 2, 1, (asked + timedelta(days=2)).astimezone(UTC)),
            _appointment("M2", 2, 2, (asked + timedelta(days=9)).astimezone(UTC)),
        ]
        conn.execute(sa.insert(Appointment.__table__), rows)
        conn.execute(
            sa.insert(OnlineRequest.__table__),
            [
                _request("REQ-WALKIN", "Walk", "In", 1, asked, today - timedelta(hours=2)),
                _request("REQ-MIA", "Mia", "Roy", 2, asked, today - timedelta(hours=1)),
            ],
        )
    engine.dispose()
    return asked


def _appointment(pms_id: str, patient: int, provider: int, start: datetime) -> dict[str, object]:
    return {
        "pms_id": pms_id,
        "patient_id": patient,
        "provider_id": provider,
        "start": start,
        "duration_min": 30,
        "operatory": f"OP{provider}",
        "reason": "Walk-in",
        "status": "scheduled",
    }


def _request(
    external_id: str, first: str, last: str, patient: int, asked: datetime, received: datetime
) -> dict[str, object]:
    return {
        "external_id": external_id,
        "received_at": received.astimezone(UTC),
        "typed_first_name": first,
        "typed_last_name": last,
        "requested_start": asked.astimezone(UTC),
        "patient_id": patient,
        "state": "pending",
        "version": 1,
    }


def _lines(pane: str) -> list[str]:
    return _tmux("capture-pane", "-p", "-t", pane).splitlines()


def _wait(pane: str, shown: Callable[[list[str]], bool], timeout: float = 30.0) -> float:
    """Seconds until ``shown`` holds for the pane's text."""
    start = time.monotonic()
    while True:
        lines = _lines(pane)
        if shown(lines):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{pane}: not shown in time:\n" + "\n".join(lines))
        time.sleep(POLL)


def accept_round(pane: str, nearest: tuple[str, ...]) -> float:
    """Seconds from pressing ``a`` until the dialog and the nearest appointment's row (its
    date and time on one line: the requested time's line has the date too) show."""
    start = time.monotonic()
    _tmux("send-keys", "-t", pane, "a")
    _wait(pane, lambda lines: any(TITLE in line for line in lines) and _has(lines, *nearest))
    elapsed = time.monotonic() - start
    _tmux("send-keys", "-t", pane, "Escape")
    _wait(pane, lambda lines: not any(TITLE in line for line in lines))
    time.sleep(0.3)  # the list redraws; the next round starts on a quiet app
    return elapsed


def _has(lines: list[str], *parts: str) -> bool:
    """A line has all of ``parts``."""
    return any(all(part in line for part in parts) for line in lines)


async def _in_process(
    db: Path, workdir: Path, row: int, rounds: int, *, minimal: bool = False
) -> list[float]:
    """Seconds from the ``a`` key event (posted to the app, without Pilot's waits for
    idle) until the first frame of the candidates dialog with its rows is drawn
    (``minimal``: of the minimal modal screen), in this process."""
    from textual import events

    from linker_tui.services import Services
    from linker_tui.settings.config import Settings
    from linker_tui.tui.app import LinkerApp
    from linker_tui.tui.flows import Flows
    from linker_tui.tui.modals.candidates import Candidates, CandidateTable
    from linker_tui.tui.screens.main import MainScreen
    from tests.benchmarks.minimal_dialog import MinimalDialog, use_minimal_dialog

    settings = Settings(
        data_dir=workdir / "data",
        database_url=f"sqlite:///{db}",
        practice_name="Bench Dental",
        practice_timezone=TZ.key,
    )
    accept = Flows.accept
    if minimal:
        use_minimal_dialog()
    app = LinkerApp(Services.open(settings), background_jobs=False)
    timings: list[float] = []

    async def until(condition: Callable[[], bool]) -> None:
        deadline = time.perf_counter() + 30
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError("not shown in time")
            await asyncio.sleep(0.0005)

    drawn: list[object] = []
    """The screens of the frames drawn since the key (what a terminal would be sent)."""
    display = app._display

    def _display(screen: object, renderable: object) -> None:
        if renderable is not None:
            drawn.append(screen)
        display(screen, renderable)  # type: ignore[arg-type]

    app._display = _display  # type: ignore[method-assign]

    def shown() -> bool:
        screen = app.screen
        if screen not in drawn:
            return False
        if minimal:
            return isinstance(screen, MinimalDialog)
        return isinstance(screen, Candidates) and screen.query_one(CandidateTable).row_count > 0

    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(lambda: main.table.row_count > 1 and main.selected is not None)
        for _ in range(row):
            await pilot.press("down")
        for n in range(rounds + 1):
            await app.workers.wait_for_complete()
            gc.collect()
            drawn.clear()
            start = time.perf_counter()
            app.post_message(events.Key("a", "a"))
            await until(shown)
            if n:  # the first round imports the dialogs' modules
                timings.append(time.perf_counter() - start)
            await pilot.press("escape")
            await until(lambda: app.screen is main)
    Flows.accept = accept  # type: ignore[method-assign]
    return timings


def in_process(db: Path, workdir: Path, rounds: int) -> None:
    """The same rounds in this process (Pilot), the walk-in's dialog also listing every
    appointment (``CANDIDATE_LIMIT`` raised: the dialog as it was before the limit)."""
    from linker_tui.matching import appointment_search

    runs: dict[str, list[float]] = {}
    kinds = (
        (BASELINE, 0, 20),
        ("ordinary patient (2 appointments)", 1, appointment_search.CANDIDATE_LIMIT),
        (f"walk-in ({WALK_IN_APPOINTMENTS}), the nearest 20", 0, 20),
        (f"walk-in ({WALK_IN_APPOINTMENTS}), all listed (limit raised)", 0, 10_000),
    )
    for _ in range(3):  # the kinds take turns
        for kind, row, limit in kinds:
            appointment_search.CANDIDATE_LIMIT = limit
            runs.setdefault(kind, []).extend(
                asyncio.run(
                    _in_process(db, workdir, row, max(1, rounds // 3), minimal=kind == BASELINE)
                )
            )
    appointment_search.CANDIDATE_LIMIT = 20
    _report("in this process (Pilot), key event -> first frame of the dialog with its rows", runs)


def check_only(db: Path, workdir: Path, rounds: int) -> None:
    """The database part alone: ``Workflow.check`` of the walk-in's request (what the
    dialog waits for before it is built), the nearest 20 against every appointment."""
    from linker_tui.matching import appointment_search
    from linker_tui.services import Services
    from linker_tui.settings.config import Settings

    settings = Settings(
        data_dir=workdir / "data",
        database_url=f"sqlite:///{db}",
        practice_name="Bench Dental",
        practice_timezone=TZ.key,
    )
    workflow = Services.open(settings).workflow
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for kind, limit in (("the nearest 20", 20), ("all listed (limit raised)", 10_000)):
            appointment_search.CANDIDATE_LIMIT = limit
            start = time.perf_counter()
            workflow.check(1)
            runs.setdefault(f"walk-in ({WALK_IN_APPOINTMENTS}), {kind}", []).append(
                time.perf_counter() - start
            )
    appointment_search.CANDIDATE_LIMIT = 20
    _report("the check alone (Workflow.check, no dialog)", runs)


def _report(what: str, runs: dict[str, list[float]]) -> None:
    medians = {kind: statistics.median(values) for kind, values in runs.items()}
    print(f"Accept -> candidates dialog, {what}:")
    first = next(iter(medians))
    for kind, values in runs.items():
        low, high = min(values) * 1000, max(values) * 1000
        print(
            f"  {kind}: median {medians[kind] * 1000:.1f} ms ({low:.1f} to {high:.1f}),"
            f" {medians[kind] / medians[first]:.2f}x the {first}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--source", type=Path, help="also run the app from this checkout")
    parser.add_argument("--no-tmux", action="store_true", help="only the in-process rounds")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "candidates.db"
    db.unlink(missing_ok=True)  # appointments from today on: built for today
    asked = build(db, datetime.now(TZ))
    config = workdir / "candidates.toml"
    config.write_text(
        f'database_url = "sqlite:///{db}"\n'
        f'data_dir = "{workdir / "data"}"\n'
        'practice_name = "Bench Dental"\n'
        f'practice_timezone = "{TZ.key}"\n'
    )
    check_only(db, workdir, args.rounds)
    in_process(db, workdir, args.rounds)
    if not args.no_tmux:
        in_tmux(config, asked, args.rounds, args.source)
    print("target: the walk-in's dialog under 50 ms")


def in_tmux(config: Path, asked: datetime, rounds: int, source: Path | None) -> None:
    """Rounds in real terminals: one tmux pane (80x24) per kind, taking turns."""
    env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color"
    python = shlex.quote(sys.executable)
    here = shlex.quote(os.getcwd())  # this checkout: its linker_tui is found first
    app = f"cd {here} && {env} {python} -m linker_tui.cli.main"
    nearest = (f"{asked:%a %Y-%m-%d}", "11:00")  # the walk-in's: 11:00 on the day asked for
    mia = (f"{asked + timedelta(days=2):%a %Y-%m-%d}", f"{asked:%H:%M}")
    text = shlex.quote(f"{TITLE}\n{'  '.join(nearest)}")
    minimal = f"cd {here} && {env} BENCH_DIALOG_TEXT={text} {python} -m {MINIMAL}"
    kinds: dict[str, tuple[str, int, tuple[str, ...]]] = {
        BASELINE: (minimal, 0, nearest),
        "ordinary patient (2 appointments)": (app, 1, mia),
        f"walk-in ({WALK_IN_APPOINTMENTS}), the nearest 20": (app, 0, nearest),
    }
    if source is not None:
        old = f"cd {shlex.quote(str(source.resolve()))} && {env} {python} -m linker_tui.cli.main"
        kinds[f"walk-in ({WALK_IN_APPOINTMENTS}), {source.name}"] = (old, 0, nearest)
    subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    size = ("-x", str(WIDTH), "-y", str(HEIGHT))
    _tmux("new-session", "-d", "-s", SESSION, "-c", os.getcwd(), *size, "sleep 3600")
    os.environ.pop("NO_COLOR", None)
    runs: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for n, (command, row, shown) in enumerate(kinds.values()):
            if n:
                _tmux("new-window", "-t", SESSION, "sleep 3600")
            pane = f"{SESSION}:{n}"
            _tmux("respawn-pane", "-k", "-t", pane, command)
            _wait(pane, lambda lines: _has(lines, "Walk In"), 60)
            time.sleep(1.0)
            for _ in range(row):
                _tmux("send-keys", "-t", pane, "Down")
            time.sleep(0.5)
            accept_round(pane, shown)  # warm: the dialog's modules are imported on first use
        for _ in range(rounds):
            for n, (kind, (_, _, shown)) in enumerate(kinds.items()):
                runs[kind].append(accept_round(f"{SESSION}:{n}", shown))
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    _report("in a real terminal (tmux 80x24), key press -> dialog and rows on screen", runs)


if __name__ == "__main__":
    main()
