"""Schema versions: create or upgrade with Alembic, and refuse a database of another version."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this version of linker-tui knows."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "linker_tui:migrations")
    return config


def head_revision() -> str:
    """The newest schema revision this version knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no linker-tui schema yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head_revision()


def stamp_head(engine: Engine) -> None:
    """Record that a schema made by ``create_all`` is at the newest revision."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.stamp(config, "head")


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaMismatch`, with what to do, unless the schema is current."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaMismatch(
            f"The database {url} has no linker-tui schema yet. "
            "Run `linker-tui db upgrade` once (whoever administers the database)."
        )
    known = {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current in known:
        raise SchemaMismatch(
            f"The database {url} has an older schema ({current}); this linker-tui needs "
            f"{head}. Run `linker-tui db upgrade` (on one workstation), then start again."
        )
    raise SchemaMismatch(
        f"The database {url} was upgraded by a newer linker-tui (schema {current}). "
        "Install the same linker-tui version as the other workstations."
    )
