"""Benchmark: a key typed in the request list's filter → the changed list on screen, at
100k requests (10k open), on SQLite and PostgreSQL, against the floor measured in the same
run; and the database's own query time beside it, against the old LIKE/ILIKE scan.

Run:  python -m tests.benchmarks.bench_filter [--workdir DIR] [--postgres URL] [--rounds N]
          [--before REF] [--screen-only]

1. The database (unless --screen-only), for every prefix of the typed words, --rounds
   runs each: the scan the search replaced (every word ``ILIKE '%word%'`` on five
   columns; its page and count, as a key read them before) as the baseline; the page's
   ids alone, as a key reads them now (:mod:`linker_tui.read.filter`, its plan
   included), and the count read after the page is drawn; and ``request_page`` whole,
   as a filter key asks for it (the page's rows and hints too: what the list's worker
   thread waits for). Per prefix the median, then by kind of word (short: 1-2
   characters, no trigram; common: fills a page; rare) the median and 90th percentile
   over keys and rounds.
2. The screen, in tmux panes of 120x40 (a tmux server of its own): the floor
   (:mod:`tests.benchmarks.filter_floor_app`: a filter field and a list changed in the
   key's own handler, nothing of linker-tui), the real ``linker-tui`` on the same
   database, and with --before REF the ``linker-tui`` of that git ref (checked out in a
   temporary worktree). The panes take turns word by word, so a change of load weighs on
   them alike. In each: ``/`` (linker-tui), then the words key by key; after each key the
   pane is polled (``capture-pane -p``) until it shows the typed text in the field, the
   list of that prefix (its status ``rows 1-N of …`` or with the count) and its count
   with the text, each timed at the first capture that shows it (one capture tests all
   three: a list drawn in the same frame as its text is seen as soon as the text is;
   and a status is the key's only beside its text: ``rows 1-100 of …`` reads the same
   for ``c`` as for ``ch``, and a count as the one before it, as for ``c``). Keys whose
   status is the same as the previous key's are typed but not timed (nothing on screen
   changes). By kind as above, every key together, and the ratio of each app's median
   to the floor's. The load average is printed before and after.

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
from contextlib import ExitStack
from dataclasses import dataclass
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
from tests.benchmarks import filter_floor_app
from tests.benchmarks.bench_ssh_bytes import ROOT, checkout
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


def _both(first: Callable[[str], bool], second: Callable[[str], bool]) -> Callable[[str], bool]:
    """A screen test: both tests hold."""
    return lambda screen: first(screen) and second(screen)


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


TMUX = ("tmux", "-L", SESSION)
"""A tmux server of its own: other sessions' benchmarks and tests start and stop theirs."""


def _tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True).stdout


def _wait(pane: str, condition: Callable[[str], bool], timeout: float = 30.0) -> float:
    return _wait_each(pane, [condition], timeout)[0]


def _wait_each(
    pane: str, conditions: list[Callable[[str], bool]], timeout: float = 30.0
) -> list[float]:
    """Poll the pane until every condition held on a capture of it; per condition, the
    seconds until the first capture on which it held. One capture is tested for all of
    them: what a frame shows together is seen together (a condition waited for only
    after another was seen would cost a capture more)."""
    start = time.monotonic()
    seen: list[float | None] = [None] * len(conditions)
    while True:
        screen = _tmux("capture-pane", "-p", "-t", pane)
        now = time.monotonic() - start
        for i, condition in enumerate(conditions):
            if seen[i] is None and condition(screen):
                seen[i] = now
        if all(t is not None for t in seen):
            return [t for t in seen if t is not None]
        if now > timeout:
            raise TimeoutError(screen)
        time.sleep(0.002)


@dataclass(frozen=True)
class Pane:
    """An app in a tmux pane (a session) of its own, and how to tell what it shows."""

    name: str
    command: str
    ready: str
    """On the screen with nothing typed (after start, and after the field is cleared)."""
    listed: Callable[[str], tuple[str, ...]]
    """Per text: the screen shows one of these once the list changed for it."""
    counted: Callable[[str], str]
    """Per text: the screen shows this once the list's count is there too."""
    enter: str | None = None
    """The key that gives the filter field the keys (None: it has them)."""
    clear: str = "Escape"
    """The key that clears the field."""


def app_pane(name: str, totals: dict[str, int], config: Path, source: Path) -> Pane:
    """The real ``linker-tui`` of the checkout ``source`` (its ``linker_tui`` first)."""
    path, python = shlex.quote(str(source)), shlex.quote(sys.executable)
    env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color PYTHONPATH={path}"
    return Pane(
        name,
        f"cd {path} && {env} {python} -m linker_tui.cli.main",
        ready=_status(totals[""]),
        listed=lambda text: (_status(totals[text], counted=False), _status(totals[text])),
        counted=lambda text: _status(totals[text]),
        enter="/",
    )


def floor_pane() -> Pane:
    """The baseline: a filter field and a list changed in the key's own handler
    (:mod:`tests.benchmarks.filter_floor_app`)."""
    here, python = shlex.quote(str(ROOT)), shlex.quote(sys.executable)
    return Pane(
        "floor",
        f"cd {here} && env TERM=xterm-256color {python} -m tests.benchmarks.filter_floor_app",
        ready=filter_floor_app.READY,
        listed=lambda text: (f"row 1: [{text}]",),
        counted=lambda text: f"row 1: [{text}]",
        clear="C-u",
    )


Times = dict[str, list[tuple[float, float, float]]]
"""Per text typed, per time it was typed: key → (typed shown, list changed, count shown), s."""


def _type(pane: Pane, words: str, timed: set[str], found: Times) -> None:
    """Type ``words`` key by key in ``pane``, timing the keys that leave ``timed``."""
    if pane.enter is not None:
        _tmux("send-keys", "-t", pane.name, pane.enter)
        _wait(pane.name, _shows("Clear filter"))  # the field has the keys
    for n in range(1, len(words) + 1):
        text = words[:n]
        typed = re.compile(r"Filter:\s+" + re.escape(text) + r"\s")
        _tmux("send-keys", "-l", "-t", pane.name, text[-1])
        shown = _matches(typed)
        # the list and its count with the text: a status is not the key's own until the
        # text shows ("rows 1-100 of …" reads the same for "c" as for "ch")
        listed = _both(shown, _shows(*pane.listed(text)))
        counted = _both(shown, _shows(pane.counted(text)))
        echo, list_at, count_at = _wait_each(pane.name, [shown, listed, counted])
        if text in timed:
            found.setdefault(text, []).append((echo, list_at, count_at))
    _tmux("send-keys", "-t", pane.name, pane.clear)
    _wait(pane.name, _shows(pane.ready))


def timed_keys(totals: dict[str, int]) -> set[str]:
    """The texts whose key changes the list's status (a key that leaves it as it was is
    typed but not timed: nothing on the screen changes)."""
    timed = set()
    for words in WORDS:
        previous = _status(totals[""])
        for n in range(1, len(words) + 1):
            status = _status(totals[words[:n]])
            if status != previous:
                timed.add(words[:n])
            previous = status
    return timed


def screen_times(panes: list[Pane], totals: dict[str, int], rounds: int) -> dict[str, Times]:
    """Per pane, per timed text, over the rounds: (typed shown, list changed, count shown).
    The panes take turns word by word (each pane types every word of a round in turn),
    so a change of load weighs on all of them alike."""
    timed = timed_keys(totals)
    found: dict[str, Times] = {pane.name: {} for pane in panes}
    try:
        for pane in panes:
            _tmux("new-session", "-d", "-s", pane.name, "-x", "120", "-y", "40", pane.command)
        for pane in panes:
            _wait(pane.name, _shows(pane.ready))
        for _ in range(rounds):
            for words in WORDS:
                for pane in panes:
                    _type(pane, words, timed, found[pane.name])
    finally:
        for pane in panes:
            subprocess.run([*TMUX, "kill-session", "-t", pane.name], capture_output=True)
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


def report(
    name: str, url: str, workdir: Path, rounds: int, *, before: Path | None, database: bool
) -> None:
    """Both measurements on one database (the screen only unless ``database``)."""
    engine = make_engine(url)
    print(f"\n== {name}: 100k requests, 10k open; load {_load()} ==")
    totals = {text: request_count(engine, ListQuery(text=text)) for text in ["", *prefixes()]}
    if database:
        database_report(engine, rounds)
    engine.dispose()
    config = _config(workdir, url)
    panes = [floor_pane(), app_pane("linker-tui", totals, config, ROOT)]
    if before is not None:
        panes.append(app_pane("before", totals, config, before))
    print(f"screen (tmux 120x40, load {_load()}), median / p90 ms over keys and rounds:")
    shown = screen_times(panes, totals, rounds)
    lists: dict[str, float] = {}
    for pane in panes:
        print(f"  -- {pane.name}")
        screen = _by_kind(shown[pane.name], totals)
        for k, of_kind in screen.items():
            print(f"  {k:6} " + _summary(of_kind))
        every = [t for of_kind in screen.values() for t in of_kind["list changed"]]
        lists[pane.name] = statistics.median(every)
        print(f"  every key: list changed {lists[pane.name]:.1f} / {p90(every):.1f}")
    for pane in panes[1:]:
        ratio = lists[pane.name] / lists["floor"]
        print(f"  {pane.name}: list changed (median) {ratio:.2f}x the floor's")
    print(f"  target: list changed <= 30 ms per key; load after: {_load()}")


def database_report(engine: Engine, rounds: int) -> None:
    """The database's own times per key and by kind of word."""
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


def _by_kind(shown: Times, totals: dict[str, int]) -> dict[str, dict[str, list[float]]]:
    """A pane's times (ms) by kind of word, per column (typed / list / count shown)."""
    screen: dict[str, dict[str, list[float]]] = {
        k: {"typed shown": [], "list changed": [], "count shown": []} for k in KINDS
    }
    for text, key_times in shown.items():
        of_kind = screen[kind(text, totals[text])]
        for column, i in (("typed shown", 0), ("list changed", 1), ("count shown", 2)):
            of_kind[column].extend(t[i] * 1000 for t in key_times)
    return screen


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--postgres", default=os.environ.get("LINKER_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before", help="also type in the app of this git ref (checked out in a temporary tree)"
    )
    parser.add_argument("--screen-only", action="store_true", help="skip the database's times")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    db = prepare_sqlite(workdir)
    os.environ.pop("NO_COLOR", None)
    with ExitStack() as stack:
        before = None if args.before is None else stack.enter_context(checkout(args.before))
        database = not args.screen_only
        report("SQLite", f"sqlite:///{db}", workdir, args.rounds, before=before, database=database)
        if args.postgres:
            prepare_postgres(db, args.postgres)
            report(
                "PostgreSQL", args.postgres, workdir, args.rounds, before=before, database=database
            )


if __name__ == "__main__":
    main()
