"""Benchmark: a key typed in the request list's filter → the changed list on screen, at
100k requests (10k open), on SQLite and PostgreSQL; and the database's own query time
beside it, against the old LIKE/ILIKE scan measured in the same run.

Run:  python -m tests.benchmarks.bench_filter [--workdir DIR] [--postgres URL] [--rounds N]

1. The database, for every prefix of the typed words, --rounds runs each: the scan the
   search replaced (every word ``ILIKE '%word%'`` on five columns; its page and count,
   as a key read them before) as the baseline; the page's ids alone, as a key reads them
   now (:mod:`linker_tui.read.filter`, its plan included), and the count read after the
   page is drawn; and ``request_page`` whole, as a filter key asks for it (the page's
   rows and hints too: what the list's worker thread waits for). Per prefix the median,
   then by kind of word (short: 1-2 characters, no trigram; common: fills a page; rare)
   the median and 90th percentile over keys and rounds.
2. The screen: the real ``linker-tui`` in a tmux pane (120x40) on the same database;
   ``/``, then the words key by key. After each key the pane is polled (``capture-pane
   -p``) until the status line shows the count that prefix gives (keys whose count is
   the same as the previous key's are typed but not timed: nothing on screen changes).
   Beside it, in the same key presses, the time until the typed character shows in the
   field (the terminal's and Textual's own floor for any key). By kind as above.
   The load average is printed before and after.

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
from functools import partial
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
    table = OnlineRequest.__table__
    return sa.and_(
        table.c.state.in_(OPEN_STATES),
        *(sa.or_(*(table.c[c].ilike(f"%{w}%") for c in SEARCHED)) for w in filter_words(text)),
    )


def _queries(where: sa.ColumnElement[bool]) -> tuple[Any, Any]:
    table = OnlineRequest.__table__
    total = sa.select(sa.func.count()).select_from(table).where(where)
    page = sa.select(table.c.id).where(where).order_by(table.c.received_at, table.c.id).limit(100)
    return total, page


Where = Callable[[sa.Connection], sa.ColumnElement[bool]]


def _run(engine: Engine, where: Where, *, page: bool = True, total: bool = True) -> int:
    """The page's ids and/or the count, as ``request_page`` and ``request_count`` read
    them (the plan included); returns the count (-1 if not read)."""
    with engine.connect() as conn:
        counting, paging = _queries(where(conn))
        if page:
            conn.execute(paging).all()
        return int(conn.execute(counting).scalar_one()) if total else -1


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """A screen test: ``pattern`` is found on it."""
    return lambda screen: bool(pattern.search(screen))


def _shows(*texts: str) -> Callable[[str], bool]:
    """A screen test: one of ``texts`` is on it."""
    return lambda screen: any(text in screen for text in texts)


def _times_ms(run: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def kind(text: str, total: int) -> str:
    """short: the last word has 1-2 characters (no trigram); common: 3 or more and it
    fills a page (100 or more open requests); rare: fewer."""
    words = filter_words(text)
    if not words or len(words[-1]) < 3:
        return "short"
    return "common" if total >= 100 else "rare"


KINDS = ("short", "common", "rare")
DB_COLUMNS = ("old scan", "page", "count", "request_page")


def database_times(engine: Engine, rounds: int) -> dict[str, tuple[int, list[list[float]]]]:
    """Per prefix: its count, and per column of :data:`DB_COLUMNS` the times of the rounds
    (ms): the old scan's page and count (what a key cost before), the page's ids alone
    (what the list waits for now), the count (read after the page is drawn), and
    ``request_page`` whole as a filter key asks for it (rows and hints, not counted)."""
    found: dict[str, tuple[int, list[list[float]]]] = {}
    for text in prefixes():
        query = ListQuery(text=text)

        def old(conn: sa.Connection, text: str = text) -> sa.ColumnElement[bool]:
            return _old_condition(text)

        def new(conn: sa.Connection, query: ListQuery = query) -> sa.ColumnElement[bool]:
            return _filtered(query, conn)  # the search plan included

        total = _run(engine, new)
        assert _run(engine, old) == total, text  # the same answer, or nothing to compare
        found[text] = (
            total,
            [
                _times_ms(partial(_run, engine, old), rounds),
                _times_ms(partial(_run, engine, new, total=False), rounds),
                _times_ms(partial(_run, engine, new, page=False), rounds),
                _times_ms(partial(request_page, engine, query, 0, TZ, NOW, counted=False), rounds),
            ],
        )
    return found


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-9 * len(ordered) // 10) - 1))]


def _summary(samples: dict[str, list[float]]) -> str:
    return "  ".join(
        f"{k} {statistics.median(v):6.1f} / {p90(v):6.1f}" if v else f"{k} -"
        for k, v in samples.items()
    )


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
                    echo = _wait(_matches(typed))
                    _wait(_shows(*rows))
                    listed = time.monotonic() - start
                    _wait(_shows(statuses[text]))
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
    print(f"\n== {name}: 100k requests, 10k open; load {os.getloadavg()[0]:.1f} ==")
    print("database, median ms per key: " + " | ".join(DB_COLUMNS))
    db = database_times(engine, rounds)
    by_kind: dict[str, list[list[float]]] = {k: [[] for _ in DB_COLUMNS] for k in KINDS}
    for text, (total, columns) in db.items():
        medians = [statistics.median(c) for c in columns]
        for samples, times in zip(by_kind[kind(text, total)], columns, strict=True):
            samples.extend(times)
        cells = " | ".join(f"{m:7.1f}" for m in medians)
        ratio = medians[0] / medians[1]
        print(f"  {text!r:18} {kind(text, total):6} {cells}   (page {ratio:.0f}x)")
    print("database by kind, median / p90 ms over keys and rounds:")
    for k, columns in by_kind.items():
        print(f"  {k:6} " + _summary(dict(zip(DB_COLUMNS, columns, strict=True))))
    print(f"screen (tmux, load {os.getloadavg()[0]:.1f}), median ms: typed shown | list | count")
    shown = screen_times(engine, _config(workdir, url), rounds)
    screen: dict[str, dict[str, list[float]]] = {
        k: {"typed shown": [], "list changed": [], "count shown": []} for k in KINDS
    }
    for text, key_times in shown.items():
        echo, changed, counted = ([t[i] * 1000 for t in key_times] for i in range(3))
        of_kind = screen[kind(text, db[text][0])]
        of_kind["typed shown"].extend(echo)
        of_kind["list changed"].extend(changed)
        of_kind["count shown"].extend(counted)
        cells = " | ".join(f"{statistics.median(v):7.1f}" for v in (echo, changed, counted))
        print(f"  {text!r:18} {cells}")
    print("screen by kind, median / p90 ms over keys and rounds:")
    for k, of_kind in screen.items():
        print(f"  {k:6} " + _summary(of_kind))
    lists = [t for of_kind in screen.values() for t in of_kind["list changed"]]
    print(f"  worst key -> list changed: {max(lists):.1f} ms (target <= 30 ms)")
    print(f"  load after: {os.getloadavg()[0]:.1f}")
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
