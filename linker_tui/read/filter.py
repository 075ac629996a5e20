"""The request list's filter: which requests a text typed in the filter field matches.

Every word of the text (split on white space) must be found, case-insensitively, inside
one of the searched columns (:data:`~linker_tui.store.search.SEARCHED`: the typed first and
last name, the request's id, the reason, the typed email); ``%`` and ``_`` in a word are
ignored. Words of three characters or more are looked up in the database's text index
(:mod:`linker_tui.store.search`: FTS5 trigrams on SQLite, pg_trgm on PostgreSQL); shorter
words cannot be (a trigram index holds nothing shorter) and are checked row by row among
the requests the other conditions leave. On SQLite a word found in many of the listed
requests is checked row by row too (:func:`_sqlite_plan`); there ``LIKE`` folds the case
of ASCII letters only, as the filter always did, while the index folds every letter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from linker_tui.store.search import FTS_TABLE, SEARCHED

MIN_INDEXED = 3
"""The shortest word the trigram indexes can find."""
PROBE_MIN = 1000
"""SQLite: a word with up to this many matches always comes from the index."""

_FTS = sa.table(FTS_TABLE, sa.column("rowid"))


def filter_words(text: str) -> list[str]:
    """The words of the filter text, without ``%`` and ``_`` (empty words dropped)."""
    words = (word.replace("%", "").replace("_", "") for word in text.split())
    return [word for word in words if word]


def fts_query(words: list[str]) -> str:
    """An FTS5 query finding every word as a substring: each a quoted string (``"``
    doubled), so FTS5 syntax typed by staff (``*``, ``-``, ``NEAR``, ``OR``) is text."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in words)


def _contains(column: Any, word: str) -> sa.ColumnElement[bool]:
    escaped = word.replace("\\", "\\\\")
    condition: sa.ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return condition


def _any_column(table: Any, word: str) -> sa.ColumnElement[bool]:
    return sa.or_(*(_contains(table.c[name], word) for name in SEARCHED))


def _search_text(table: Any) -> Any:
    """PostgreSQL: the expression the pg_trgm index is built on (the same text)."""
    space: Any = sa.literal_column("' '")
    expression = table.c[SEARCHED[0]]
    for name in SEARCHED[1:]:
        expression = expression.op("||")(space).op("||")(table.c[name])
    return expression


def text_condition(
    connection: sa.Connection, table: Any, text: str, listed: int
) -> sa.ColumnElement[bool]:
    """The condition on ``table`` (``online_request``) that the filter ``text`` puts;
    ``listed``: how many requests the list holds without it (SQLite's plan below)."""
    words = filter_words(text)
    if connection.dialect.name == "postgresql":  # its planner weighs the index itself
        expression = _search_text(table)
        return sa.and_(sa.true(), *(_contains(expression, word) for word in words))
    if connection.dialect.name != "sqlite":
        return sa.and_(sa.true(), *(_any_column(table, word) for word in words))
    found, scanned = _sqlite_plan(connection, words, listed)
    conditions = [_any_column(table, word) for word in scanned]
    if found:
        match = sa.literal_column(FTS_TABLE).op("MATCH")(fts_query(found))
        conditions.append(table.c.id.in_(sa.select(_FTS.c.rowid).where(match)))
    return sa.and_(sa.true(), *conditions)


def _sqlite_plan(
    connection: sa.Connection, words: list[str], listed: int
) -> tuple[list[str], list[str]]:
    """Which words the FTS5 index answers, and which are checked row by row.

    SQLite takes a ``rowid IN (MATCH)`` list whole (about 5 µs a match) and cannot weigh
    it against the rows listed, so each indexed word is counted first, up to a quarter of
    ``listed``: a rarer word comes from the index, a commoner one is checked on the
    listed rows with ``LIKE`` (about 1 µs a row), as are words too short for trigrams."""
    limit = max(listed // 4, PROBE_MIN)
    found: list[str] = []
    scanned: list[str] = []
    for word in words:
        if len(word) < MIN_INDEXED:
            scanned.append(word)
            continue
        match = sa.literal_column(FTS_TABLE).op("MATCH")(fts_query([word]))
        probe = sa.select(_FTS.c.rowid).where(match).limit(limit + 1).subquery()
        matches = connection.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one()
        (found if matches <= limit else scanned).append(word)
    return found, scanned
