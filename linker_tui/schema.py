"""Schema versions: create or upgrade with Alembic, and refuse a database of another version."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import linker_tui.models  # noqa: F401  (registers the tables on the metadata)

VERSION_TABLE = "alembic_version"


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


def known_revisions() -> set[str]:
    """Every revision this version knows (older ones and the head)."""
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no linker-tui schema yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def has_unversioned_tables(engine: Engine) -> bool:
    """Whether linker-tui's tables exist without a recorded revision (a database made by
    ``create_all`` before migrations existed)."""
    names = set(sa.inspect(engine).get_table_names())
    return VERSION_TABLE not in names and "online_request" in names


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; returns (before, after).

    A database made before migrations existed (tables, no ``alembic_version``) is
    adopted: missing tables and the audit guard are added, then it is stamped as the
    newest revision (its tables are those of the initial revision).
    """
    before = current_revision(engine)
    if before is None and has_unversioned_tables(engine):
        from linker_tui.db import create_schema  # db imports this module

        create_schema(engine)  # create_all (missing tables only) + guard + stamp
        return before, head_revision()
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
    if current in known_revisions():
        raise SchemaMismatch(
            f"The database {url} has an older schema ({current}); this linker-tui needs "
            f"{head}. Run `linker-tui db upgrade` (on one workstation), then start again."
        )
    raise SchemaMismatch(
        f"The database {url} was upgraded by a newer linker-tui (schema {current}). "
        "Install the same linker-tui version as the other workstations."
    )


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate sees between the database and the models (empty: equal)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Check the schema before the app uses the database (see :func:`check_schema`).

    ``auto_upgrade`` (the default SQLite file in the user's data folder, which only this
    workstation uses): a missing or older schema is created or upgraded at once, so a
    first run just works. A configured ``database_url`` is never changed here: it may be
    shared by several desks, and ``linker-tui db upgrade`` is the administrator's job.
    A schema newer than this version is refused either way.
    """
    if auto_upgrade:
        current = current_revision(engine)
        if current is None or (current in known_revisions() and current != head_revision()):
            upgrade(engine)
    check_schema(engine)
