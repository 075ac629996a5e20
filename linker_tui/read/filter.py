"""The request list's filter: which requests a text typed in the filter field matches.

Every word of the text (split on white space) must be found, case-insensitively, inside
one of the searched columns (:data:`~linker_tui.store.search.SEARCHED`: the typed first and
last name, the request's id, the reason, the typed email); ``%`` and ``_`` in a word are
ignored. Words of three characters or more are looked up in the database's text index
(:mod:`linker_tui.store.search`: FTS5 trigrams on SQLite, pg_trgm on PostgreSQL); shorter
words cannot be (a trigram index holds nothing shorter) and are checked row by row among
the requests the other conditions leave, in the list's order, until its page is full.
On SQLite a word found in many requests is checked row by row too (:func:`_sqlite_plan`
weighs the two); there ``LIKE`` folds the case of ASCII letters only, as the filter
always did, while the index folds every letter.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from linker_tui.store.search import FTS_TABLE, SEARCHED
from linker_tui.store.tables import online_request

MIN_INDEXED = 3
"""The shortest word the trigram indexes can find."""
PAGE_ROWS = 100
"""How many matches the list's page needs (``read.queries.PAGE_SIZE``)."""
INDEX_COST = 0.3
"""SQLite: what a match read from the FTS5 index costs (``rowid IN (MATCH …)``, taken
whole), against a row checked with ``LIKE`` on the five columns (measured at 100k
requests: about 0.7 µs and 2.4 µs; docs/benchmarks.md)."""
UNEVEN = 4
"""SQLite: how much longer than if its matches were spread evenly a ``LIKE`` scan is
taken to run before the page is full. Matches cluster (request ids and dates go
together: ``req-00`` finds only the oldest), and the index's cost is known from its
count while the scan's is not, so the index is kept unless the scan is clearly cheaper."""

_FTS = sa.table(FTS_TABLE, sa.column("rowid"))


def filter_words(text: str) -> list[str]:
    """The words of the filter text, without ``%`` and ``_`` (empty words dropped)."""
    words = (word.replace("%", "").replace("_", "") for word in text.split())
    return [word for word in words if word]


def indexed_words(text: str) -> list[str]:
    """The words of the filter text the trigram indexes can find (:data:`MIN_INDEXED`)."""
    return [word for word in filter_words(text) if len(word) >= MIN_INDEXED]


def fts_query(words: list[str]) -> str:
    """An FTS5 query finding every word as a substring: each a quoted string (``"``
    doubled), so FTS5 syntax typed by staff (``*``, ``-``, ``NEAR``, ``OR``) is text."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in words)


def _contains(column: Any, word: str, *, sqlite: bool = False) -> sa.ColumnElement[bool]:
    """``column`` holds ``word``, in any case. SQLite's own ``LIKE`` folds ASCII letters,
    as its ``lower()`` does (half the cost of ``lower(column) LIKE lower(…)``). The
    pattern is a bound parameter: typed text is never written into the SQL."""
    pattern = "%" + word.replace("\\", "\\\\") + "%"
    if sqlite:
        return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
    return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]


def _any_column(table: Any, word: str, *, sqlite: bool = False) -> sa.ColumnElement[bool]:
    return sa.or_(*(_contains(table.c[name], word, sqlite=sqlite) for name in SEARCHED))


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
        # PostgreSQL plans each read with its words: a statement psycopg prepared (after
        # five runs on one connection) would get a plan made without them (a generic
        # plan: 20-30 ms for a rare word at 100k requests instead of 1-2), but each read
        # is a connection of its own and psycopg drops what it prepared at its rollback
        expression = _search_text(table)
        return sa.and_(sa.true(), *(_contains(expression, word) for word in words))
    if connection.dialect.name != "sqlite":
        return sa.and_(sa.true(), *(_any_column(table, word) for word in words))
    found, scanned = _sqlite_plan(connection, table, words, listed)
    conditions = [_any_column(table, word, sqlite=True) for word in scanned]
    if found:
        match = sa.literal_column(FTS_TABLE).op("MATCH")(fts_query(found))
        conditions.append(table.c.id.in_(sa.select(_FTS.c.rowid).where(match)))
    return sa.and_(sa.true(), *conditions)


def _sqlite_plan(
    connection: sa.Connection, table: Any, words: list[str], listed: int
) -> tuple[list[str], list[str]]:
    """Which words the FTS5 index answers, and which are checked row by row.

    SQLite takes a ``rowid IN (MATCH …)`` list whole and cannot weigh it against the rows
    listed, so each indexed word's matches are counted first (up to where the index stops
    paying, :func:`probe_limit`) and :func:`prefer_index` chooses; words too short for
    trigrams are checked row by row."""
    if not any(len(word) >= MIN_INDEXED for word in words):
        return [], words
    requests = int(connection.execute(_NEWEST).scalar() or 0)  # about how many there are
    limit = probe_limit(listed, requests)
    found: list[str] = []
    scanned: list[str] = []
    for word in words:
        if len(word) < MIN_INDEXED:
            scanned.append(word)
            continue
        probe = {"words": fts_query([word]), "limit": limit + 1}
        matches = connection.execute(_PROBE, probe).scalar_one()
        (found if prefer_index(matches, listed, requests) else scanned).append(word)
    return found, scanned


_NEWEST = sa.select(sa.func.max(online_request.c.id))
"""SQLite: the newest request's id (:func:`_sqlite_plan`)."""
_PROBE = sa.select(sa.func.count()).select_from(
    sa.select(_FTS.c.rowid)
    .where(sa.literal_column(FTS_TABLE).op("MATCH")(sa.bindparam("words")))
    .limit(sa.bindparam("limit"))
    .subquery()
)
"""SQLite: how many requests the FTS5 query ``words`` finds, up to ``limit``: one
statement for every word (built and compiled once)."""


def _scan_rows(matches: int, listed: int, requests: int) -> float:
    """About how many listed rows ``LIKE`` checks before the page is full: every one when
    the word is rare, fewer when it is common (the list is read in its order and stops
    at the page's last row; :data:`UNEVEN`)."""
    if matches <= 0:
        return float(listed)
    return min(float(listed), UNEVEN * PAGE_ROWS * max(requests, listed) / matches)


def prefer_index(matches: int, listed: int, requests: int) -> bool:
    """Whether a word with ``matches`` in the index (of ``requests`` in all) is cheaper to
    read from it than to check on the ``listed`` rows with ``LIKE``."""
    return INDEX_COST * matches <= _scan_rows(matches, listed, requests)


def probe_limit(listed: int, requests: int) -> int:
    """How many matches to count before the index surely stops paying: beyond
    ``listed / INDEX_COST``, or beyond where its cost meets the shortened scan's
    (``INDEX_COST * m = UNEVEN * PAGE_ROWS * requests / m``)."""
    crossing = math.sqrt(UNEVEN * PAGE_ROWS * max(requests, listed) / INDEX_COST)
    return int(min(listed / INDEX_COST, crossing)) + 1
