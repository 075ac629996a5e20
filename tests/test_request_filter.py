"""The request list's filter on SQLite (FTS5 trigram table) and PostgreSQL (pg_trgm):
every word found, case-insensitively, inside the typed name, the request id, the reason
or the email; hostile text is text, never search syntax; the index follows the rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.read.filter import filter_words, fts_query, prefer_index, probe_limit
from linker_tui.read.queries import ListQuery, request_page
from linker_tui.store.db import make_engine, write_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import OnlineRequest
from linker_tui.store.search import FTS_TABLE
from tests.builders import NOW, TZ, add_request

PEOPLE = [
    # first, last, email, reason
    ("Jane", "Smith", "jane.smith@example.com", "Cleaning"),
    ("Amir", "Blacksmith", "", "Check-up"),
    ("Zoë", "Lefèvre-Côté", "zoe@example.ca", "Toothache"),
    ("O'Brien", 'D"Arcy', "ob@example.com", 'pain "near" molar*'),
    ("Mia", "Nguyen", "100%_sure@example.com", "NEAR(a b) -x OR y"),
    ("Li", "Wu", "", "back\\slash"),
    ("Ana", "Roy", "", "crown"),
]


@pytest.fixture
def people(engine: Engine) -> dict[str, int]:
    return {
        f"{first} {last}": add_request(engine, first, last, NOW, email=email, reason=reason)
        for first, last, email, reason in PEOPLE
    }


def names(engine: Engine, text: str, *, handled: bool = False) -> list[str]:
    page = request_page(engine, ListQuery(show_handled=handled, text=text), 0, TZ, NOW)
    assert page.total == len(page.rows)
    return sorted(row.typed_name for row in page.rows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smith", ["Amir Blacksmith", "Jane Smith"]),  # inside a word, any case
        ("SMITH jane", ["Jane Smith"]),  # every word, each in any column
        ("mith", ["Amir Blacksmith", "Jane Smith"]),
        ("example.com", ["Jane Smith", "Mia Nguyen", "O'Brien D\"Arcy"]),  # the email
        ("heck-u", ["Amir Blacksmith"]),  # the reason
        ("toothache côté", ["Zoë Lefèvre-Côté"]),
        ("CÔTÉ", ["Zoë Lefèvre-Côté"]),  # non-ASCII, folded
        ("zoë", ["Zoë Lefèvre-Côté"]),
        ("li", ["Li Wu"]),  # two letters: checked row by row
        ("wu li", ["Li Wu"]),
        (
            "m",
            ["Amir Blacksmith", "Jane Smith", "Mia Nguyen", "O'Brien D\"Arcy", "Zoë Lefèvre-Côté"],
        ),
        ("smith zzz", []),
        ("", [p[0] + " " + p[1] for p in sorted(PEOPLE)]),
    ],
)
def test_the_filter_finds_words_inside_the_searched_columns(
    engine: Engine, people: dict[str, int], text: str, expected: list[str]
) -> None:
    assert names(engine, text) == sorted(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', ["O'Brien D\"Arcy"]),
        ('d"arcy', ["O'Brien D\"Arcy"]),
        ('"near"', ["O'Brien D\"Arcy"]),
        ("molar*", ["O'Brien D\"Arcy"]),
        ("*", ["O'Brien D\"Arcy"]),
        ("o'brien", ["O'Brien D\"Arcy"]),
        ("NEAR(a", ["Mia Nguyen"]),
        ("-x", ["Mia Nguyen"]),
        ("OR", ["Mia Nguyen"]),  # a word, not the operator
        ("sure%", ["Mia Nguyen"]),  # % and _ are ignored
        ("%_sure", ["Mia Nguyen"]),
        ("%", [p[0] + " " + p[1] for p in sorted(PEOPLE)]),  # nothing left: no condition
        ("k\\sl", ["Li Wu"]),
        ("\\", ["Li Wu"]),
        ("AND", []),
        ("'); DROP TABLE online_request; --", []),
    ],
)
def test_hostile_text_is_searched_as_text(
    engine: Engine, people: dict[str, int], text: str, expected: list[str]
) -> None:
    assert names(engine, text) == sorted(expected)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM online_request")).scalar_one() == 7


def test_the_index_follows_inserts_updates_and_deletes(
    engine: Engine, people: dict[str, int]
) -> None:
    with write_session(engine) as session:
        request = session.get(OnlineRequest, people["Ana Roy"])
        assert request is not None
        request.typed_last_name = "Tremblay"
        request.reason = "whitening"
    assert names(engine, "roy") == []
    assert names(engine, "tremblay whiten") == ["Ana Tremblay"]
    with write_session(engine) as session:
        request = session.get(OnlineRequest, people["Ana Roy"])
        assert request is not None
        request.state = RequestState.REJECTED  # a state change: still found (all states)
    assert names(engine, "tremblay") == []
    assert names(engine, "tremblay", handled=True) == ["Ana Tremblay"]
    add_request(engine, "Wilma", "Wuthering", NOW)
    assert names(engine, "wut") == ["Wilma Wuthering"]


def test_sqlite_index_forgets_a_deleted_request(sqlite_engine: Engine) -> None:
    """(PostgreSQL's index is the table's own; requests are never deleted by the app.)"""
    request_id = add_request(sqlite_engine, "Li", "Wu", NOW, reason="back slash")
    query = sa.text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q")
    with sqlite_engine.begin() as conn:
        assert conn.execute(query, {"q": '"slash"'}).scalars().all() == [request_id]
        conn.execute(sa.text("DELETE FROM online_request WHERE id = :id"), {"id": request_id})
        assert conn.execute(query, {"q": '"slash"'}).scalars().all() == []


def test_the_filter_pages_and_counts_its_matches(engine: Engine) -> None:
    for i in range(230):
        add_request(engine, "Jo", f"Smith{i}" if i % 2 else f"Jones{i}", NOW)
    page = request_page(engine, ListQuery(text="smith"), 100, TZ, NOW)
    assert (page.total, page.offset, len(page.rows)) == (115, 100, 15)
    assert all("Smith" in row.typed_name for row in page.rows)


def test_the_words_and_the_fts_query() -> None:
    assert filter_words("  a%b  _ c_d ") == ["ab", "cd"]
    assert fts_query(['d"arcy', "near*"]) == '"d""arcy" AND "near*"'


def test_sqlite_weighs_the_index_against_checking_the_listed_rows() -> None:
    """10k requests listed of 100k: a word's matches come from the index unless it is so
    common that the list, read in its order, fills a page after a few rows."""
    listed, requests = 10_000, 100_000
    assert prefer_index(0, listed, requests)  # nothing to read
    assert prefer_index(3_416, listed, requests)  # a common surname: a third of the scan
    assert prefer_index(9_999, listed, requests)  # an id prefix (its matches cluster)
    assert not prefer_index(30_000, listed, requests)  # a page within ~1,300 rows
    assert not prefer_index(100_000, listed, requests)  # in every request
    # counting stops where the index stops paying, whatever more there are
    limit = probe_limit(listed, requests)
    assert prefer_index(limit - 1, listed, requests)
    assert not prefer_index(limit + 1, listed, requests)
    # every request listed (handled ones shown): a common word is cheaper to scan sooner
    assert not prefer_index(30_000, requests, requests)
    assert prefer_index(5_000, requests, requests)
    assert probe_limit(0, 0) == 1


@pytest.mark.postgres
def test_postgresql_plans_the_filter_with_its_words(engine: Engine) -> None:
    """The words are bound parameters, never written into the SQL; and PostgreSQL plans
    each filtered read with them. A statement psycopg prepared (after five runs on one
    connection) would be planned without its words after five more (a generic plan: 20-30
    ms for a rare word's page at 100k requests instead of 1-2); each read is a connection
    of its own, whose rollback makes psycopg drop what it prepared."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")
    add_request(engine, "O'Brien", "Tremblay7", NOW)
    own = make_engine(engine.url.render_as_string(hide_password=False))
    sent: list[tuple[str, object]] = []
    sa.event.listen(own, "before_cursor_execute", lambda *args: sent.append(args[2:4]))
    for _ in range(12):  # past psycopg's prepare threshold (5) and PostgreSQL's (5)
        page = request_page(own, ListQuery(text="o'brien tremblay7"), 0, TZ, NOW)
        assert [row.typed_name for row in page.rows] == ["O'Brien Tremblay7"]
    filtered = [(sql, params) for sql, params in sent if "ILIKE" in sql]
    assert filtered
    for sql, params in filtered:
        assert "brien" not in sql and "tremblay7" not in sql
        assert "%o'brien%" in str(params) and "%tremblay7%" in str(params)
    assert isinstance(own.pool, sa.pool.QueuePool) and own.pool.checkedin() == 1
    with own.connect() as connection:  # the one connection every read above used
        prepared = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement ILIKE '%% ILIKE %%'"
        ).scalar_one()
    own.dispose()
    assert prepared == 0
