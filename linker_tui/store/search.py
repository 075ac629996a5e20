"""The request list's text search index, kept in step with ``online_request`` by the
database itself.

SQLite: an FTS5 table with the trigram tokenizer over the searched columns, an
external-content index of ``online_request`` (it stores no copy of the text), kept in
step by three triggers. PostgreSQL: a pg_trgm GIN index on the searched columns joined
by spaces. Both answer "contains this word" (three characters or more) from the index,
case-insensitively. Made by migration ``0005_request_search`` and by
:func:`linker_tui.store.db.create_schema_tables`; the statements live here once.

PostgreSQL also has two partial indexes of the open requests (migration
``0007_open_request_order``): the list's order (``received_at``, ``id``), so a page of a
common word reads the first rows in order and stops, and the same GIN index over the
open requests only, so a rarer word's matches among them are found without visiting the
handled ones. A query uses them only when its condition is the indexes' own, with the
states written in: :func:`open_requests`. (SQLite's planner uses neither: it reads the
open requests through ``ix_request_state_received`` and stops early by itself.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from linker_tui.store.enums import OPEN_STATES

SEARCHED = ("typed_first_name", "typed_last_name", "external_id", "reason", "typed_email")
"""The columns the list's filter looks in."""

FTS_TABLE = "online_request_search"
"""SQLite: the FTS5 table (its shadow tables are ``online_request_search_*``)."""

TRGM_INDEX = "ix_online_request_search"
"""PostgreSQL: the pg_trgm GIN index."""

SEARCH_TEXT = " || ' ' || ".join(SEARCHED)
"""PostgreSQL: the indexed expression (the filter's words hold no space, so a word never
matches across two columns)."""

_COLUMNS = ", ".join(SEARCHED)
_NEW = ", ".join(f"new.{c}" for c in SEARCHED)
_OLD = ", ".join(f"old.{c}" for c in SEARCHED)
_DELETE_OLD = (
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD});"
)
_INSERT_NEW = f"INSERT INTO {FTS_TABLE}(rowid, {_COLUMNS}) VALUES (new.id, {_NEW});"

SQLITE_CREATE: Sequence[str] = (
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({_COLUMNS},
        content='online_request', content_rowid='id', tokenize='trigram')""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON online_request
        BEGIN {_INSERT_NEW} END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON online_request
        BEGIN {_DELETE_OLD} END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF {_COLUMNS}
        ON online_request BEGIN {_DELETE_OLD} {_INSERT_NEW} END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",  # the rows already there
)
SQLITE_DROP: Sequence[str] = (
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)

POSTGRES_CREATE: Sequence[str] = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"""CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON online_request
        USING gin (({SEARCH_TEXT}) gin_trgm_ops)""",
)
OPEN_ORDER_INDEX = "ix_request_open_received"
"""PostgreSQL: the open requests in the list's order (migration 0007)."""
OPEN_TRGM_INDEX = "ix_online_request_search_open"
"""PostgreSQL: the pg_trgm GIN index of the open requests only (migration 0007)."""

POSTGRES_DROP: Sequence[str] = (
    f"DROP INDEX IF EXISTS {TRGM_INDEX}",
    f"DROP INDEX IF EXISTS {OPEN_TRGM_INDEX}",
    f"DROP INDEX IF EXISTS {OPEN_ORDER_INDEX}",
)
"""The extension stays: other objects of the database may use it."""


def open_requests(state: Any) -> sa.ColumnElement[bool]:
    """``state`` (``online_request.state``) is open, with the states written into the SQL
    rather than bound, so PostgreSQL sees its partial indexes' own condition."""
    values: sa.BindParameter[list[str]] = sa.bindparam(
        "open_states", OPEN_STATES, expanding=True, literal_execute=True
    )
    condition: sa.ColumnElement[bool] = state.in_(values)
    return condition


def create_statements(dialect: str) -> Sequence[str]:
    """What makes the search index on this database (``sqlite`` or ``postgresql``)."""
    return {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}.get(dialect, ())


def drop_statements(dialect: str) -> Sequence[str]:
    """What removes it."""
    return {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(dialect, ())


def is_search_object(name: str | None) -> bool:
    """Whether a table or index belongs to the search index (not to the models)."""
    indexes = (TRGM_INDEX, OPEN_TRGM_INDEX, OPEN_ORDER_INDEX)
    return bool(name) and (name in indexes or str(name).startswith(FTS_TABLE))
