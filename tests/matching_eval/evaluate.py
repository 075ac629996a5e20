"""Measure patient matching on the labelled evaluation set (``cases.csv``, ``patients.csv``).

The patients are loaded into a fresh SQLite database through the sync (so the search
keys are the real ones), and every case goes through the same index-backed candidate
search and scoring as a request. Prints, overall and per category:

- precision of the exact level (target 1.0): exact matches that are the right patient;
- recall within the top 3 (target >= 0.98): known people whose patient is among the
  first three candidates;
- unknown people given an exact match (target 0).

Run from the repository root: ``.venv/bin/python -m tests.matching_eval.evaluate``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import select

from linker_tui.ingest.pms_export import PatientRow
from linker_tui.matching import MatchLevel, TypedIdentity
from linker_tui.matching.patient_search import rank_typed
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.models import Patient
from linker_tui.store.schema import create_schema
from tests.sync_support import load_patients

HERE = Path(__file__).parent
TARGET_PRECISION = 1.0
TARGET_RECALL_TOP3 = 0.98
TARGET_UNKNOWN_EXACT = 0.0


@dataclass
class Tally:
    cases: int = 0
    exact: int = 0
    exact_right: int = 0
    known: int = 0
    known_top3: int = 0
    known_top1: int = 0
    unknown: int = 0
    unknown_exact: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("cases", "exact", "exact_right", "known", "known_top3", "known_top1"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unknown += other.unknown
        self.unknown_exact += other.unknown_exact
        self.misses += other.misses

    @property
    def precision(self) -> float:
        return self.exact_right / self.exact if self.exact else 1.0

    @property
    def recall_top3(self) -> float:
        return self.known_top3 / self.known if self.known else 1.0

    @property
    def unknown_exact_rate(self) -> float:
        return self.unknown_exact / self.unknown if self.unknown else 0.0


@dataclass(frozen=True)
class Result:
    total: Tally
    by_category: dict[str, Tally]

    @property
    def meets_targets(self) -> bool:
        return (
            self.total.precision >= TARGET_PRECISION
            and self.total.recall_top3 >= TARGET_RECALL_TOP3
            and self.total.unknown_exact_rate <= TARGET_UNKNOWN_EXACT
        )


def _patients() -> list[PatientRow]:
    with (HERE / "patients.csv").open(encoding="utf-8") as handle:
        return [
            PatientRow(
                pms_id=r["patient_id"],
                last_name=r["last_name"],
                first_name=r["first_name"],
                preferred_name=r["preferred_name"],
                birthdate=date.fromisoformat(r["birthdate"]) if r["birthdate"] else None,
                email=r["email"],
                phone_home=r["phone_home"],
                phone_mobile=r["phone_mobile"],
                guarantor_pms_id=r["guarantor_id"],
                no_email=False,
            )
            for r in csv.DictReader(handle)
        ]


def evaluate(workdir: Path) -> Result:
    """Load the patients into ``workdir`` and match every case."""
    engine = make_engine(f"sqlite:///{workdir / 'eval.db'}")
    create_schema(engine)
    load_patients(engine, _patients())
    by_category: dict[str, Tally] = defaultdict(Tally)
    with read_session(engine) as session:
        pms = {id_: pms_id for id_, pms_id in session.exec(_id_query()).all()}
        with (HERE / "cases.csv").open(encoding="utf-8") as handle:
            for case in csv.DictReader(handle):
                typed = TypedIdentity(
                    first_name=case["first_name"],
                    last_name=case["last_name"],
                    birthdate=date.fromisoformat(case["birthdate"]) if case["birthdate"] else None,
                    email=case["email"],
                    phone=case["phone"],
                )
                ranking = rank_typed(session, typed)
                found = [pms[c.patient_id] for c in ranking.candidates]
                expected = case["expected_patient_id"]
                tally = by_category[case["category"]]
                label = f"{case['case_id']} {case['category']}"
                tally.cases += 1
                exact = ranking.level is MatchLevel.EXACT
                if exact:
                    tally.exact += 1
                    tally.exact_right += found[0] == expected
                if expected:
                    tally.known += 1
                    tally.known_top3 += expected in found[:3]
                    tally.known_top1 += bool(found) and found[0] == expected
                    if expected not in found[:3] or (exact and found[0] != expected):
                        tally.misses.append(
                            f"{label}: expected {expected}, got {found[:3]} "
                            f"({ranking.level.value}: {ranking.explanation})"
                        )
                else:
                    tally.unknown += 1
                    tally.unknown_exact += exact
                    if exact:
                        tally.misses.append(f"{label}: unknown person matched {found[0]}")
    engine.dispose()
    total = Tally()
    for tally in by_category.values():
        total.add(tally)
    return Result(total, dict(sorted(by_category.items())))


def _id_query() -> Any:
    return select(Patient.id, Patient.pms_id)


def report(result: Result) -> str:
    lines = [
        f"{'category':<32}{'cases':>6}{'exact':>7}{'prec.':>7}{'top1':>7}{'top3':>7}{'unk.exact':>10}"
    ]
    for name, t in [*result.by_category.items(), ("ALL", result.total)]:
        top1 = f"{t.known_top1 / t.known:.3f}" if t.known else "-"
        top3 = f"{t.recall_top3:.3f}" if t.known else "-"
        unknown = f"{t.unknown_exact}/{t.unknown}" if t.unknown else "-"
        lines.append(
            f"{name:<32}{t.cases:>6}{t.exact:>7}{t.precision:>7.3f}{top1:>7}{top3:>7}{unknown:>10}"
        )
    t = result.total
    lines += [
        "",
        f"precision of the exact level: {t.precision:.4f} "
        f"({t.exact_right}/{t.exact}; target {TARGET_PRECISION})",
        f"recall of the true patient within the top 3: {t.recall_top3:.4f} "
        f"({t.known_top3}/{t.known}; target >= {TARGET_RECALL_TOP3})",
        f"unknown people given an exact match: {t.unknown_exact_rate:.4f} "
        f"({t.unknown_exact}/{t.unknown}; target {TARGET_UNKNOWN_EXACT})",
        f"exact level coverage of known people: {t.exact_right / t.known:.3f}" if t.known else "",
    ]
    if t.misses:
        lines += ["", "misses:", *(f"  {m}" for m in t.misses)]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(Path(tmp))
    print(report(result))
    return 0 if result.meets_targets else 1


if __name__ == "__main__":
    sys.exit(main())
