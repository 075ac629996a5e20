"""Which modules ``linker-tui`` has imported when the first request rows are on screen.

    python -m tests.benchmarks.launch_imports   (LINKER_CONFIG names the database)

Starts the app as the command does (``linker_tui.cli.main.main``), headless, and prints one
JSON list: the names in ``sys.modules`` at the moment the first page of requests is
shown. ``tests/tui/test_launch_imports.py`` checks that the scheduler, the mail and the
sync engine are not among them (they are imported once the rows are there).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    """Run the app until the first rows are listed, then print ``sys.modules`` and quit."""
    import asyncio

    from linker_tui.cli import main as cli
    from linker_tui.tui.app import LinkerApp
    from linker_tui.tui.widgets.request_list import RequestList

    seen: list[str] = []
    show_rows = RequestList.show_rows

    def first_rows(table: RequestList, *args: Any, **kwargs: Any) -> None:
        if not seen:  # the moment the first page is handed to the list
            seen.extend(sorted(sys.modules))
        show_rows(table, *args, **kwargs)

    async def watch(app: LinkerApp) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while not seen:
                await pilot.pause(0.01)

    def run(app: LinkerApp) -> None:
        asyncio.run(watch(app))

    RequestList.show_rows = first_rows  # type: ignore[method-assign,assignment]
    LinkerApp.run = run  # type: ignore[assignment,method-assign]
    cli.main([])
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
