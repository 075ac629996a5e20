"""Instruction counts (valgrind's callgrind) of Accept → the candidates dialog's first frame
with its rows, beside the minimal modal's (``tests.benchmarks.minimal_dialog``): a figure
the machine's load does not move, where the wall-clock ones of ``bench_candidates`` do.

Run:  python -m tests.benchmarks.count_candidates [--workdir DIR] [--rounds N] [--source DIR]

For each kind (minimal modal, ordinary patient, walk-in) a child process runs the app in
process (Pilot, 80x24) under ``valgrind --tool=callgrind --collect-atstart=no`` on the
database of ``bench_candidates``; a round counts from the ``a`` key event posted to the app
to the first frame that shows the dialog with its rows, that frame rendered to terminal
bytes as a real driver would (the headless one writes nothing). Collection is switched on
and off around each round by ``CALLGRIND_TOGGLE_COLLECT`` in a small C library built with
``cc`` here (a no-op outside valgrind); the switch is per thread, so the Accept check is
switched on and off in its own thread too. The
first round is not counted (it imports the dialog's modules). Prints the instructions per
round of each kind and its ratio to the minimal modal's. ``--source DIR`` runs the
children on another checkout's ``linker_tui`` (before/after, same script and database).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_candidates import HEIGHT, TZ, WIDTH, build

KINDS = {"minimal": 0, "ordinary": 1, "walk-in": 0}
"""Each kind and its request's row in the list."""
TOGGLE_C = "#include <valgrind/callgrind.h>\nvoid toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"


def _toggle_library(workdir: Path) -> Path:
    """The C library whose ``toggle()`` switches callgrind's collection on or off."""
    library = workdir / "callgrind_toggle.so"
    if not library.exists():
        source = workdir / "callgrind_toggle.c"
        source.write_text(TOGGLE_C)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


async def _rounds(
    db: Path, workdir: Path, kind: str, rounds: int, toggle: Callable[[], None]
) -> None:
    """The rounds of ``kind`` in this process, collection on from the key to the frame."""
    from textual import events
    from textual._compositor import CompositorUpdate

    from linker_tui.services import Services
    from linker_tui.settings.config import Settings
    from linker_tui.tui.app import LinkerApp
    from linker_tui.tui.modals.candidates import Candidates, CandidateTable
    from linker_tui.tui.screens.main import MainScreen
    from tests.benchmarks.minimal_dialog import MinimalDialog, use_minimal_dialog

    settings = Settings(
        data_dir=workdir / "data",
        database_url=f"sqlite:///{db}",
        practice_name="Bench Dental",
        practice_timezone=TZ.key,
    )
    minimal = kind == "minimal"
    if minimal:
        use_minimal_dialog()
    services = Services.open(settings)
    waiting = counting = False
    check = services.workflow.check

    def counted_check(*args: Any, **kwargs: Any) -> Any:
        """The check, counted in its own thread too: callgrind's collection is switched
        per thread, and the thread starts with it off."""
        if counting:
            toggle()
        try:
            return check(*args, **kwargs)
        finally:
            if counting:
                toggle()

    services.workflow.check = counted_check  # type: ignore[method-assign]
    app = LinkerApp(services, background_jobs=False)
    drawn = asyncio.Event()
    display = app._display

    def shown(screen: object) -> bool:
        if minimal:
            return isinstance(screen, MinimalDialog)
        return isinstance(screen, Candidates) and screen.query_one(CandidateTable).row_count > 0

    def _display(screen: object, renderable: object) -> None:
        nonlocal waiting
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # what a real driver writes
        display(screen, renderable)  # type: ignore[arg-type]
        if waiting and renderable is not None and screen is app.screen and shown(screen):
            if counting:
                toggle()
            waiting = False
            drawn.set()

    app._display = _display  # type: ignore[method-assign]
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        while not (main.table.row_count > 1 and main.selected is not None):
            await asyncio.sleep(0.01)
        for _ in range(KINDS[kind]):
            await pilot.press("down")
        for n in range(rounds + 1):
            await app.workers.wait_for_complete()
            await pilot.pause()
            gc.collect()
            drawn.clear()
            waiting, counting = True, n > 0  # the first round imports the dialogs' modules
            if counting:
                toggle()
            app.post_message(events.Key("a", "a"))
            await asyncio.wait_for(drawn.wait(), 20)
            await pilot.press("escape")
            while app.screen is not main:
                await asyncio.sleep(0.01)


def child(workdir: Path, kind: str, rounds: int) -> None:
    """Run the rounds of ``kind`` (inside valgrind)."""
    toggle = ctypes.CDLL(str(_toggle_library(workdir))).toggle
    asyncio.run(_rounds(workdir / "candidates.db", workdir, kind, rounds, toggle))


def count(workdir: Path, kind: str, rounds: int, source: Path | None) -> int:
    """Instructions per counted round of ``kind`` (a child process under callgrind)."""
    out = Path(tempfile.mkstemp(prefix=f"callgrind.{kind}.", dir=workdir)[1])
    tree = (source or Path.cwd()).resolve()
    # this script run as a file: ``linker_tui`` and the benchmark's helpers from ``tree``
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
    script = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--callgrind-out-file={out}",
            *script,
            "--workdir",
            str(workdir),
            "--rounds",
            str(rounds),
        ],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
    )
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    assert totals is not None, f"no totals in {out}"
    out.unlink()
    return int(totals.group(1)) // rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--source", type=Path, help="count this checkout's linker_tui too")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    if args.child:
        child(workdir, args.child, args.rounds)
        return
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "candidates.db"
    db.unlink(missing_ok=True)  # appointments from today on: built for today
    build(db, datetime.now(TZ))
    _toggle_library(workdir)
    sources: list[Path | None] = [None] if args.source is None else [args.source, None]
    for source in sources:
        name = "this checkout" if source is None else str(source)
        counts = {kind: count(workdir, kind, args.rounds, source) for kind in KINDS}
        print(f"Accept -> first frame with the dialog, instructions per round ({name}):")
        for kind, value in counts.items():
            ratio = value / counts["minimal"]
            print(f"  {kind}: {value / 1e6:.1f} M, {ratio:.2f}x the minimal modal")


if __name__ == "__main__":
    main()
