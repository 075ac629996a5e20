"""Benchmark patient matching: 100,000 patients, 10,000 pending requests in a SQLite file.

Builds the database (through the sync, so the search keys are the real ones), then
ranks the patients of every pending request at once, the way ``linker-tui match`` and the
request import do (:func:`~linker_tui.matching.patient_search.rank_requests`: set-based index
lookups for the whole list, then scoring), then a sample one request at a time, the way
Accept does (checking both give the same rankings), and prints the figures.

    .venv/bin/python -m tests.benchmarks.bench_matching [--patients N] [--requests N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from linker_tui.ingest.pms_export import PatientRow
from linker_tui.matching import MatchLevel
from linker_tui.matching.patient_search import rank_request, rank_requests
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import OnlineRequest
from linker_tui.store.schema import create_schema
from tests import sync_support
from tests.matching_eval.generate import FIRST_F, FIRST_M, LAST, NICK

SUFFIXES = ["", "son", "ley", "ard", "ette", "ier", "ton", "berg", "ski", "ini", "ez", "ova"]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def build(path: Path, patients: int, requests: int, seed: int = 11) -> tuple[float, float]:
    """Create the database; returns the seconds spent loading patients and requests."""
    rng = random.Random(seed)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    surnames = [f"{last}{suffix}" for last in LAST for suffix in SUFFIXES]
    # Zipf-like: the commonest surname is about 1.3 % of patients (Smith in Canada: ~1 %)
    weights = [1 / (rank + 20) for rank in range(len(surnames))]
    rows: list[PatientRow] = []
    families: list[int] = []
    while len(rows) < patients:
        last = rng.choices(surnames, weights)[0]
        phone, email = f"{rng.choice(['416', '647', '905'])}{rng.randrange(10**7):07d}", ""
        for member in range(rng.choice([1, 1, 2, 3, 4])):
            first = rng.choice(FIRST_F + FIRST_M)
            email = email or f"{first}.{last}.{len(rows)}@example.com".lower()
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(30_000))
            rows.append(
                PatientRow(
                    pms_id=str(100_000 + len(rows)),
                    last_name=last,
                    first_name=first,
                    preferred_name="",
                    birthdate=born,
                    email=email,
                    phone_home=phone,
                    phone_mobile="",
                    guarantor_pms_id="",
                    no_email=False,
                )
            )
            families.append(member)
    started = time.perf_counter()
    sync_support.load_patients(engine, rows[:patients])
    load_patients = time.perf_counter() - started
    now = datetime(2026, 11, 27, 15, tzinfo=UTC)
    request_rows = []
    for i in range(requests):
        p = rng.choice(rows[:patients])
        first, last = p.first_name, p.last_name
        typed_born: date | None = p.birthdate
        email, phone = p.email, p.phone_home
        roll = rng.random()
        if roll < 0.15:  # somebody unknown
            first, last = rng.choice(FIRST_F), rng.choice(["Okafor", "Lindqvist", "Fontaine"])
            typed_born, email, phone = date(1990, 1, 1) + timedelta(days=i), f"n{i}@example.net", ""
        elif roll < 0.35:
            last = _typo(rng, last)
        elif roll < 0.45:
            first = NICK.get(first, first)
        elif roll < 0.65:
            typed_born = None
        elif roll < 0.75:
            email, phone = f"new{i}@example.net", f"514{rng.randrange(10**7):07d}"
        request_rows.append(
            {
                "external_id": f"B-{i:06d}",
                "received_at": now - timedelta(minutes=i),
                "typed_first_name": first,
                "typed_last_name": last,
                "typed_birthdate": typed_born,
                "typed_email": email,
                "typed_phone": phone,
                "requested_start": now + timedelta(days=7),
                "state": "pending",
                "version": 1,
            }
        )
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.insert(OnlineRequest.__table__), request_rows)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    load_requests = time.perf_counter() - started
    engine.dispose()
    return load_patients, load_requests


def run(path: Path, sample: int = 1_000) -> None:
    engine = make_engine(f"sqlite:///{path}")
    levels = {level: 0 for level in MatchLevel}
    with read_session(engine) as session:
        started, cpu = time.perf_counter(), time.process_time()
        pending = (
            session.execute(
                sa.select(OnlineRequest).where(col(OnlineRequest.state) == RequestState.PENDING)
            )
            .scalars()
            .all()
        )
        read = time.perf_counter() - started
        # The whole pending list at once, as ``linker-tui match`` and the request import do.
        rankings = rank_requests(session, pending)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        for ranking in rankings:
            levels[ranking.level] += 1
        candidates = [len(r.candidates) for r in rankings]
        # One request at a time, as Accept and the candidates dialog do (a sample).
        timings = []
        for request, batch in zip(pending[:sample], rankings, strict=False):
            t0 = time.perf_counter()
            ranking = rank_request(session, request)
            timings.append(time.perf_counter() - t0)
            assert ranking == batch, request.external_id
    timings.sort()
    print(
        f"matched {len(pending)} pending requests in {total:.2f} s "
        f"(reading them {read:.2f} s, ranking them all at once {total - read:.2f} s; "
        f"CPU time of this process {cpu:.2f} s: the machine is shared, wall time varies)"
    )
    print(
        f"one request at a time ({len(timings)} requests, same rankings): "
        f"mean {statistics.mean(timings) * 1000:.2f} ms, "
        f"p50 {timings[len(timings) // 2] * 1000:.2f} ms, "
        f"p95 {timings[int(len(timings) * 0.95)] * 1000:.2f} ms, "
        f"max {timings[-1] * 1000:.2f} ms"
    )
    print(f"candidates offered per request: mean {statistics.mean(candidates):.1f}")
    print("levels: " + ", ".join(f"{level.value} {count}" for level, count in levels.items()))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="keep the database here (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench_matching.db"
        if path.exists():
            path.unlink()
        load_patients, load_requests = build(path, args.patients, args.requests)
        print(
            f"{args.patients} patients loaded (keys computed) in {load_patients:.2f} s; "
            f"{args.requests} requests inserted in {load_requests:.2f} s"
        )
        run(path)


if __name__ == "__main__":
    main()
