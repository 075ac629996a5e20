"""Benchmark: a key typed in the request list's filter → the changed list on screen, at
100k requests (10k open), on SQLite and PostgreSQL; and the database's own query time
beside it, against the old LIKE/ILIKE scan measured in the same run.

Run:  python -m tests.benchmarks.bench_filter [--workdir DIR] [--postgres URL] [--rounds N]

1. The database: the filter's queries (the count and the page's ids, as ``request_page``
   runs them) for every prefix of the typed words, with the search index
   (:mod:`linker_tui.read.filter`) and with the scan it replaced (every word ``ILIKE
   '%word%'`` on five columns), median of --rounds runs each; and ``request_page`` whole
   (the page's rows and hints too: what the list's worker thread waits for).
2. The screen: the real ``linker-tui`` in a tmux pane (120x40) on the same database;
   ``/``, then the words key by key. After each key the pane is polled (``capture-pane
   -p``) until the status line shows the count that prefix gives (keys whose count is
   the same as the previous key's are typed but not timed: nothing on screen changes).
   Beside it, in the same key presses, the time until the typed character shows in the
   field (the terminal's and Textual's own floor for any key).

SQLite is built once into --workdir (100k requests of which 90% rejected, those whose
patient is not known ranked as on arrival, without ANALYZE statistics, as the app's own
files); --postgres (a database that may be emptied) gets a copy of it (ANALYZEd:
PostgreSQL's autovacuum does so anyway).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.matching.patient_search import rank_requests
from linker_tui.matching.request_match import record_ranking
from linker_tui.read.filter import filter_words
from linker_tui.read.queries import ListQuery, _filtered, request_count, request_page
from linker_tui.store.db import make_engine, write_session
from linker_tui.store.enums import OPEN_STATES
from linker_tui.store.models import OnlineRequest
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.store.search import SEARCHED
from linker_tui.tui.formatting import count
from tests.benchmarks.build_db import build

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SESSION = "linker-bench-filter"
WORDS = ["chen123", "req-0045", "tremblay7 noah"]
"""What staff type (a surname with its number, a request id, two words), key by key."""
TABLES = ("provider", "patient", "appointment", "online_request")


def prepare_sqlite(workdir: Path) -> Path:
    """100k requests, 10k of them open (every tenth), the rest rejected (built once)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "filter-100k.db"
    if not db.exists():
        today = NOW.date()
        engine = build(
            db, patients=20_000, appointments=20_000, requests=100_000, today=today, tz=TZ
        )
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE online_request SET state = 'rejected' WHERE id % 10")
            # build() ran ANALYZE; the app never does, and SQLite's statistics (without
            # STAT4) would say a state holds half the rows and turn the open list's
            # index-backed reads, old and new alike, into table scans
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        _rank(engine)
        engine.dispose()
    return db


def _rank(engine: Engine) -> None:
    """Rank the patients of the requests whose patient is not known, as the sync does
    when they arrive (else every page read ranks its unranked requests again)."""
    with write_session(engine) as session:
        unknown = session.exec(
            select(OnlineRequest).where(col(OnlineRequest.patient_id).is_(None))
        ).all()
        for request, ranking in zip(unknown, rank_requests(session, unknown), strict=True):
            record_ranking(request, ranking)


def _ranked(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM online_request WHERE patient_match_level <> ''"
        return int(conn.exec_driver_sql(query).scalar_one())


def prepare_postgres(db: Path, url: str) -> None:
    """A copy of the SQLite database in PostgreSQL (made by the migrations)."""
    source, target = make_engine(f"sqlite:///{db}"), make_engine(url)
    with target.connect() as conn:
        has = sa.inspect(conn).has_table("online_request")
        rows = conn.exec_driver_sql("SELECT count(*) FROM online_request").scalar() if has else 0
    if rows == 100_000 and _ranked(target) == _ranked(source):
        return
    drop_schema(target)
    create_schema(target)
    metadata = sa.MetaData()
    metadata.reflect(source, only=TABLES)
    for name in TABLES:
        table = sa.Table(name, sa.MetaData(), autoload_with=target)
        with source.connect() as conn:
            data = [dict(row._mapping) for row in conn.execute(sa.select(metadata.tables[name]))]
        with target.begin() as conn:
            for start in range(0, len(data), 5000):
                conn.execute(table.insert(), data[start : start + 5000])
            sequence = f"pg_get_serial_sequence('{name}', 'id')"
            conn.exec_driver_sql(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))")
    with target.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def prefixes() -> list[str]:
    """Every text the field holds while the words are typed."""
    return [words[:n] for words in WORDS for n in range(1, len(words) + 1)]


def _old_condition(text: str) -> sa.ColumnElement[bool]:
    """The filter before the search index: every word ``ILIKE '%word%'`` on five columns."""
    table = OnlineRequest.__table__  # type: ignore[attr-defined]
    return sa.and_(
        table.c.state.in_(OPEN_STATES),
        *(sa.or_(*(table.c[c].ilike(f"%{w}%") for c in SEARCHED)) for w in filter_words(text)),
    )


def _queries(where: sa.ColumnElement[bool]) -> tuple[Any, Any]:
    table = OnlineRequest.__table__  # type: ignore[attr-defined]
    total = sa.select(sa.func.count()).select_from(table).where(where)
    page = sa.select(table.c.id).where(where).order_by(table.c.received_at, table.c.id).limit(100)
    return total, page


def _run(engine: Engine, where: Callable[[sa.Connection], sa.ColumnElement[bool]]) -> int:
    """The count and the page's ids, as ``request_page`` reads them; returns the count."""
    with engine.connect() as conn:
        total, page = _queries(where(conn))
        found = conn.execute(total).scalar_one()
        conn.execute(page).all()
    return int(found)


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def database_times(engine: Engine, rounds: int) -> dict[str, tuple[float, float, float]]:
    """Per prefix: (old scan, search index, request_page whole), median ms."""
    found: dict[str, tuple[float, float, float]] = {}
    for text in prefixes():
        query = ListQuery(text=text)

        def old(conn: sa.Connection, text: str = text) -> sa.ColumnElement[bool]:
            return _old_condition(text)

        def new(conn: sa.Connection, query: ListQuery = query) -> sa.ColumnElement[bool]:
            return _filtered(query, conn)  # the search plan included

        # the same answer, or the comparison means nothing
        assert _run(engine, old) == _run(engine, new), text
        found[text] = (
            _median_ms(lambda old=old: _run(engine, old), rounds),
            _median_ms(lambda new=new: _run(engine, new), rounds),
            _median_ms(lambda query=query: request_page(engine, query, 0, TZ, NOW), rounds),
        )
    return found


def _status(total: int, counted: bool = True) -> str:
    if not total:
        return "no open requests"
    return f"rows 1\u2013{count(min(total, 100))} of {count(total) if counted else '…'} · open"


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _wait(condition: Callable[[str], bool], timeout: float = 30.0) -> float:
    start = time.monotonic()
    while True:
        screen = _tmux("capture-pane", "-p", "-t", SESSION)
        if condition(screen):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(screen)
        time.sleep(0.002)


def screen_times(
    engine: Engine, config: Path, rounds: int
) -> dict[str, list[tuple[float, float, float]]]:
    """Per timed prefix, over the rounds: key → (typed text shown, list changed, count
    shown). The list changes when its rows are drawn with the status ``rows 1-N of …``
    (the filter's count follows in its own read) or with the count already there."""
    totals = {text: request_count(engine, ListQuery(text=text)) for text in ["", *prefixes()]}
    statuses = {text: _status(total) for text, total in totals.items()}
    # this checkout's linker_tui, as the database part above
    here, python = shlex.quote(os.getcwd()), shlex.quote(sys.executable)
    env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color"
    command = f"cd {here} && {env} {python} -m linker_tui.cli.main"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True, check=False)
    _tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", command)
    found: dict[str, list[tuple[float, float, float]]] = {}
    try:
        _wait(lambda screen: statuses[""] in screen)
        for _ in range(rounds):
            for words in WORDS:
                _tmux("send-keys", "-t", SESSION, "/")
                _wait(lambda screen: "Clear filter" in screen)  # the field has the keys
                previous = statuses[""]
                for n in range(1, len(words) + 1):
                    text = words[:n]
                    typed = re.compile(r"Filter:\s+" + re.escape(text) + r"\s")
                    _tmux("send-keys", "-l", "-t", SESSION, text[-1])
                    start = time.monotonic()
                    total = totals[text]
                    rows = (_status(total, counted=False), statuses[text])
                    echo = _wait(lambda screen, typed=typed: bool(typed.search(screen)))
                    _wait(lambda screen, rows=rows: any(r in screen for r in rows))
                    listed = time.monotonic() - start
                    _wait(lambda screen, s=statuses[text]: s in screen)
                    if statuses[text] != previous:
                        found.setdefault(text, []).append((echo, listed, time.monotonic() - start))
                    previous = statuses[text]
                _tmux("send-keys", "-t", SESSION, "Escape")  # clears the field
                _wait(lambda screen: statuses[""] in screen)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True, check=False)
    return found


def _config(workdir: Path, url: str) -> Path:
    config = workdir / f"filter-{url.split(':')[0].split('+')[0]}.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        f'data_dir = "{workdir / "data"}"\n'
        'practice_name = "Bench Dental"\n'
        f'practice_timezone = "{TZ.key}"\n'
    )
    return config


def report(name: str, url: str, workdir: Path, rounds: int) -> None:
    """Both measurements on one database."""
    engine = make_engine(url)
    print(f"\n== {name}: 100k requests, 10k open ==")
    print("database, median ms per key: old LIKE scan | search index | request_page whole")
    db = database_times(engine, rounds)
    for text, (old, new, whole) in db.items():
        print(f"  {text!r:18} {old:8.1f} | {new:8.1f} | {whole:8.1f}   ({old / new:.0f}x)")
    olds, news, wholes = zip(*db.values(), strict=True)
    print(
        f"  worst: old {max(olds):.1f} ms, index {max(news):.1f} ms, "
        f"request_page {max(wholes):.1f} ms; median index {statistics.median(news):.1f} ms"
    )
    print("screen (tmux), median ms per key: typed text shown | list changed | count shown")
    shown = screen_times(engine, _config(workdir, url), rounds)
    lists = []
    for text, times in shown.items():
        echo, changed, counted = (statistics.median(t[i] for t in times) * 1000 for i in range(3))
        lists.append(changed)
        print(f"  {text!r:18} {echo:8.1f} | {changed:8.1f} | {counted:8.1f}")
    print(f"  worst key → list changed: {max(lists):.1f} ms (target <= 30 ms)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--postgres", default=os.environ.get("LINKER_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    db = prepare_sqlite(workdir)
    os.environ.pop("NO_COLOR", None)
    report("SQLite", f"sqlite:///{db}", workdir, args.rounds)
    if args.postgres:
        prepare_postgres(db, args.postgres)
        report("PostgreSQL", args.postgres, workdir, args.rounds)


if __name__ == "__main__":
    main()
