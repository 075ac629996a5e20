"""The floor of ``bench_launch --floor``: the minimal app (``minimal_app.py``) plus what
linker-tui cannot skip before its first rows with the libraries it is built on.

    python -m tests.benchmarks.floor_app sqlite:///path/to/launch-1k.db

It imports SQLAlchemy (Core only) and pydantic-settings, builds a settings model, opens the
database and reads the first 100 pending requests with one Core query in a thread after
the first frame, then shows them. No ORM, no schema check, no ranking, no counts: nothing
linker-tui's own code adds. linker-tui's launch → first rows, over this app's, is what
the application costs; this app's over the minimal app's is what the libraries cost.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from pydantic_settings import BaseSettings, SettingsConfigDict
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static

PAGE = sa.text(
    "SELECT external_id, typed_first_name, typed_last_name FROM online_request "
    "WHERE state = 'pending' ORDER BY received_at, id LIMIT 100"
)


class FloorSettings(BaseSettings):
    """Where the database is (as linker-tui's settings say it)."""

    model_config = SettingsConfigDict(env_prefix="LINKER_FLOOR_", extra="forbid")
    database_url: str


class FloorApp(App[None]):
    """A label that shows the rows once read, and a footer."""

    def __init__(self, settings: FloorSettings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        """The label (empty until the rows are read), and the footer."""
        yield Static("", id="rows")
        yield Footer()

    def on_mount(self) -> None:
        """Read the rows off the UI thread, after the first frame."""
        self.run_worker(self._read, thread=True)

    def _read(self) -> None:
        engine = sa.create_engine(self.settings.database_url)
        with engine.connect() as connection:
            rows = connection.execute(PAGE).all()
        text = "\n".join(" ".join(row) for row in rows)
        self.call_from_thread(self.query_one("#rows", Static).update, f"Floor is up\n{text}")


if __name__ == "__main__":
    FloorApp(FloorSettings(database_url=sys.argv[1])).run()
