"""The request list's text search index, kept in step with ``online_request`` by the
database itself.

SQLite: an FTS5 table with the trigram tokenizer over the searched columns, an
external-content index of ``online_request`` (it stores no copy of the text), kept in
step by three triggers. PostgreSQL: a pg_trgm GIN index on the searched columns joined
by spaces. Both answer "contains this word" (three characters or more) from the index,
case-insensitively. Made by migration ``0005_request_search`` and by
:func:`linker_tui.store.db.create_schema_tables`; the statements live here once.
"""

from __future__ import annotations

from collections.abc import Sequence

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
POSTGRES_DROP: Sequence[str] = (f"DROP INDEX IF EXISTS {TRGM_INDEX}",)
"""The extension stays: other objects of the database may use it."""


def create_statements(dialect: str) -> Sequence[str]:
    """What makes the search index on this database (``sqlite`` or ``postgresql``)."""
    return {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}.get(dialect, ())


def drop_statements(dialect: str) -> Sequence[str]:
    """What removes it."""
    return {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(dialect, ())


def is_search_object(name: str | None) -> bool:
    """Whether a table or index belongs to the search index (not to the models)."""
    return bool(name) and (name == TRGM_INDEX or str(name).startswith(FTS_TABLE))
