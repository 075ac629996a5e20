"""One first frame, in this fresh process — the child of ``bench_tui``.

    python -m tests.benchmarks.first_frame empty|main [--db PATH --workdir DIR]

Starts one app headless at 120x40 and prints one JSON line: ``frame``, the seconds from
starting the app until Textual hands the first whole frame of its screen to the driver
(every kind is timed this way); ``at``, that moment on the machine's monotonic clock (the
parent subtracts the moment it launched this process: launch → first frame, Python's
start and the imports included); and for ``main`` ``listed``, the seconds until the first
page of requests is listed. Each kind imports only what it needs: ``empty`` nothing but
Textual, ``main`` what ``linker-tui`` imports before it starts the app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

SIZE = (120, 40)


class EmptyApp(App[None]):
    """The baseline: a Textual app with a label and a footer."""

    def compose(self) -> ComposeResult:
        yield Static("hello")
        yield Footer()


class FrameClock:
    """When an app first composes a whole frame of a screen of ``kind``: the moment Textual
    hands that frame to the terminal driver (``App._display``; headless, the driver then
    writes nothing)."""

    def __init__(self, app: App[Any], kind: type[Screen[Any]]) -> None:
        self.at: float | None = None
        self.monotonic: float | None = None
        real = app._display

        def display(screen: Screen[Any], renderable: object) -> None:
            if (
                self.at is None
                and renderable is not None
                and isinstance(screen, kind)
                and not app._batch_count
            ):
                self.at = time.perf_counter()
                self.monotonic = time.monotonic()
            real(screen, renderable)  # type: ignore[arg-type]

        app._display = display  # type: ignore[method-assign]


def main_app(db: Path, workdir: Path) -> tuple[App[None], Callable[[], bool]]:
    """The app as ``linker-tui`` starts it on ``db`` (its imports, its settings, the
    schema check, background jobs on), and a test for "the first page is listed"."""
    import linker_tui.cli  # noqa: F401 -- what the command imports before it starts the app
    from linker_tui.config import Settings
    from linker_tui.services import Services
    from linker_tui.tui.app import LinkerApp
    from linker_tui.tui.screens.main import MainScreen

    settings = Settings(
        database_url=f"sqlite:///{db}",
        data_dir=workdir,
        practice_name="Bench",
        practice_timezone="America/Toronto",
    )
    app = LinkerApp(Services.open(settings))

    def listed() -> bool:
        return isinstance(app.screen, MainScreen) and app.screen.table.row_count > 0

    return app, listed


async def measure(kind: str, db: Path | None, workdir: Path | None) -> dict[str, float]:
    """Start one app of ``kind`` and time its first frame (and first page, for main)."""
    listed: Callable[[], bool] | None = None
    screen_kind: type[Screen[Any]] = Screen
    if kind == "empty":
        app: App[None] = EmptyApp()
    else:
        assert db is not None and workdir is not None, "main needs --db and --workdir"
        from linker_tui.tui.screens.main import MainScreen

        app, listed = main_app(db, workdir)
        screen_kind = MainScreen
    clock = FrameClock(app, screen_kind)
    result: dict[str, float] = {}
    start = time.perf_counter()
    async with app.run_test(size=SIZE):
        while clock.at is None:
            await asyncio.sleep(0.0005)
        if listed is not None:
            while not listed():
                await asyncio.sleep(0.0005)
            result["listed"] = time.perf_counter() - start
            await app.workers.wait_for_complete()
    assert clock.at is not None and clock.monotonic is not None
    result["frame"] = clock.at - start
    result["at"] = clock.monotonic
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("kind", choices=("empty", "main"))
    parser.add_argument("--db", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.kind, args.db, args.workdir))))


if __name__ == "__main__":
    main()
