"""The held-out evaluation: a practice of ~17,000 patients and 6,000 requests with the
errors web forms really have, generated (seeded) from name lists the matcher was not
tuned on (``holdout_names.py``; the tuning set is ``generate.py``/``cases.csv``).

Every request is a person of the practice (88 %) typed with independent errors per
field, so double errors occur at their natural rate: first name (short form, typo,
replaced by another name, initial), surname (typo, replaced, one part of a compound),
names swapped, birth date (missing, day/month swapped, a digit, the year, garbled), and
contact (own, the family's shared phone/email, new, none); children are booked with the
family's contact, twins included. The rest are unknown people: new, a new member of a
family with its contact, a twin not yet a patient (same birth date, family contact, a
close but different name: Robert/Roberta), a namesake with another birth date, a
namesake without birth date. All requests are ranked at once, as the inbox does.

    .venv/bin/python -m tests.matching_eval.holdout
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import select

from linker_tui.ingest.pms_export import PatientRow
from linker_tui.matching import MatchLevel, TypedIdentity
from linker_tui.matching.match_model import fit_and_store
from linker_tui.matching.patient_search import rank_typed_many
from linker_tui.store.db import make_engine, read_session, write_session
from linker_tui.store.models import Patient
from linker_tui.store.schema import create_schema
from tests.matching_eval import generate as tuning
from tests.matching_eval import holdout_names as names
from tests.sync_support import load_patients

SEED = 20261206
FAMILIES = 7_000
REQUESTS = 6_000
TARGET_PRECISION = 1.0
TARGET_RECALL_TOP3 = 0.99
TARGET_COVERAGE = 0.75


def _held_out(values: list[str], used: list[str]) -> list[str]:
    seen = {tuning.ascii_fold(v).casefold() for v in used}
    return list(dict.fromkeys(v for v in values if tuning.ascii_fold(v).casefold() not in seen))


FIRST_M = _held_out(names.FIRST_M, tuning.FIRST_M + tuning.FIRST_F)
FIRST_F = _held_out(names.FIRST_F, tuning.FIRST_M + tuning.FIRST_F)
LAST = _held_out(
    [n for n in names.LAST if n not in {"Dela", "Van", "der", "Da", "De"}], tuning.LAST
) + _held_out(names.LAST_COMPOUND, tuning.LAST)


@dataclass
class Person:
    row: PatientRow
    family: int


@dataclass
class Request:
    category: str
    typed: TypedIdentity
    expected: str  # pms id, "" for an unknown person
    family: int  # the family the person belongs to (-1: none)


@dataclass
class Tally:
    requests: int = 0
    known: int = 0
    top3: int = 0
    exact: int = 0
    exact_right: int = 0
    unknown: int = 0
    unknown_exact: int = 0
    family_mislinks: int = 0
    misses: list[str] = field(default_factory=list)


class Holdout:
    """Builds the practice and the requests."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.people: list[Person] = []
        self.families: list[list[Person]] = []
        self.next_id = 100_000
        self.phones: set[str] = set()

    # ---------------------------------------------------------------- practice
    def phone(self) -> str:
        while True:
            area = self.rng.choice(["416", "647", "905", "514", "613"])
            digits = f"{area}{self.rng.randrange(2_000_000, 10_000_000):07d}"
            if digits not in self.phones:
                self.phones.add(digits)
                return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"

    def email(self, first: str, last: str) -> str:
        local = tuning.ascii_fold(f"{first}{self.rng.choice(['.', '_', ''])}{last}").lower()
        local = "".join(ch for ch in local if ch.isalnum() or ch in "._")
        domain = self.rng.choice(["mail.test", "inbox.test", "post.test"])
        return f"{local}{self.rng.randrange(1000)}@{domain}"

    def born(self, start: int, end: int) -> date:
        first = date(start, 1, 1)
        return first + timedelta(days=self.rng.randrange((date(end, 12, 31) - first).days))

    def add(
        self,
        family: int,
        first: str,
        last: str,
        born: date | None,
        email: str,
        home: str,
        mobile: str,
        guarantor: str,
    ) -> Person:
        pms_id = str(self.next_id)
        self.next_id += 1
        row = PatientRow(
            pms_id=pms_id,
            last_name=last,
            first_name=first,
            preferred_name="",
            birthdate=born,
            email=email,
            phone_home=home,
            phone_mobile=mobile,
            guarantor_pms_id=guarantor or pms_id,
            no_email=False,
        )
        person = Person(row, family)
        self.people.append(person)
        return person

    def practice(self, families: int) -> None:
        rng = self.rng
        for number in range(families):
            last = rng.choice(LAST)
            home = self.phone()
            members: list[Person] = []
            for n in range(1 + (rng.random() < 0.55)):
                female = (n == 1) != (rng.random() < 0.5)
                first = rng.choice(FIRST_F if female else FIRST_M)
                member_last = last if n == 0 or rng.random() < 0.7 else rng.choice(LAST)
                members.append(
                    self.add(
                        number,
                        first,
                        member_last,
                        None if rng.random() < 0.02 else self.born(1940, 1998),
                        self.email(first, member_last) if rng.random() < 0.85 else "",
                        home,
                        self.phone() if rng.random() < 0.75 else "",
                        members[0].row.pms_id if members else "",
                    )
                )
            family_email = members[0].row.email
            kids = rng.choice([0, 0, 0, 1, 1, 2, 2, 3])
            twins = kids >= 2 and rng.random() < 0.15
            twin_born = self.born(2004, 2023)
            used = {m.row.first_name for m in members}
            for k in range(kids):
                if twins and k < 2 and rng.random() < 0.3:
                    pair = rng.choice(names.CLOSE_PAIRS)  # Robert and Roberta
                    first = pair[k]
                else:
                    first = rng.choice([n for n in rng.choice([FIRST_F, FIRST_M]) if n not in used])
                used.add(first)
                members.append(
                    self.add(
                        number,
                        first,
                        last,
                        twin_born if twins and k < 2 else self.born(2004, 2023),
                        family_email if rng.random() < 0.7 else "",
                        home,
                        "",
                        members[0].row.pms_id,
                    )
                )
            self.families.append(members)
        for _ in range(families // 50):  # namesakes: other people with the same name
            model = rng.choice(self.people).row
            self.families.append(
                [
                    self.add(
                        len(self.families),
                        model.first_name,
                        model.last_name,
                        self.born(1940, 2020),
                        self.email(model.first_name, model.last_name),
                        self.phone(),
                        "",
                        "",
                    )
                ]
            )

    # ---------------------------------------------------------------- errors
    def typo(self, word: str) -> str:
        letters = list(word)
        if len(letters) < 3:
            return word + word[-1]
        i = self.rng.randrange(1, len(letters) - 1)
        kind = self.rng.randrange(5)
        if kind == 0:
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        elif kind == 1:
            del letters[i]
        elif kind == 2:
            letters.insert(i, letters[i])
        elif kind == 3:
            letters[i] = self.rng.choice("aeiourstnl")
        else:
            letters.insert(i, self.rng.choice("aeiourstnlh"))
        return "".join(letters)

    def first_name(self, row: PatientRow) -> tuple[str, str]:
        r, first = self.rng.random(), row.first_name
        if r < 0.80:
            return first, ""
        if r < 0.86:
            return (names.SHORT.get(first, first), "short") if first in names.SHORT else (first, "")
        if r < 0.92:
            return self.typo(first), "typo"
        if r < 0.94:
            return self.rng.choice(FIRST_F + FIRST_M), "replaced"
        if r < 0.97:
            return first.upper(), ""
        if r < 0.98:
            return first[0], "initial"
        return first + " " + self.rng.choice(FIRST_F + FIRST_M), "two names"

    def last_name(self, row: PatientRow) -> tuple[str, str]:
        r, last = self.rng.random(), row.last_name
        if r < 0.88:
            return last, ""
        if r < 0.94:
            return self.typo(last), "typo"
        if r < 0.96:
            return self.rng.choice(LAST), "replaced"
        if (" " in last or "-" in last) and r < 0.98:
            return last.replace("-", " ").split()[-1], "part"
        return last.lower(), ""

    def birthdate(self, born: date | None) -> tuple[date | None, str]:
        r = self.rng.random()
        if born is None or r < 0.78:
            return born, ""
        if r < 0.88:
            return None, "missing"
        if r < 0.91 and born.day <= 12 and born.day != born.month:
            return born.replace(month=born.day, day=born.month), "day/month"
        if r < 0.95:
            text = born.isoformat()
            for _ in range(20):
                i = self.rng.choice([2, 3, 6, 9])
                garbled = text[:i] + str(self.rng.randrange(10)) + text[i + 1 :]
                try:
                    if garbled != text:
                        return date.fromisoformat(garbled), "digit"
                except ValueError:
                    continue
            return born, ""
        if r < 0.97:
            return born.replace(year=born.year + self.rng.choice([-1, 1])) if not (
                born.month == 2 and born.day == 29
            ) else born, "year"
        if r < 0.96:
            return self.rng.choice(
                [date(2026, 12, 1), date(1900, 1, 1), date(2000, 1, 1)]
            ), "garbled"
        return self.born(1940, 2023), "wrong"

    def contact(self, person: Person) -> tuple[str, str, str]:
        r, row = self.rng.random(), person.row
        head = self.families[person.family][0].row
        if r < 0.15:
            return "", "", "no contact"
        if r < 0.25:
            return self.email(row.first_name, "new"), self.phone(), "new contact"
        if row.pms_id != head.pms_id and r < 0.55:
            return head.email, head.phone_home, "family contact"
        email = row.email if self.rng.random() < 0.7 else ""
        phone = (row.phone_mobile or row.phone_home) if self.rng.random() < 0.7 else ""
        return email, phone, ""

    # ---------------------------------------------------------------- requests
    def known(self) -> Request:
        person = self.rng.choice(self.people)
        row = person.row
        first, e1 = self.first_name(row)
        last, e2 = self.last_name(row)
        if self.rng.random() < 0.02:
            first, last, e1 = last, first, "swapped"
        born, e3 = self.birthdate(row.birthdate)
        email, phone, e4 = self.contact(person)
        errors = [e for e in (e1, e2, e3) if e]
        category = "known: " + (" + ".join(errors) if len(errors) < 2 else "double error")
        if e4 in ("no contact", "family contact") and not errors:
            category = f"known: {e4}"
        return Request(
            category, TypedIdentity(first, last, born, email, phone), row.pms_id, person.family
        )

    def unknown(self) -> Request:
        rng, kind = self.rng, self.rng.randrange(5)
        if kind == 0:
            first, last = rng.choice(FIRST_F + FIRST_M), rng.choice(LAST)
            typed = TypedIdentity(
                first, last, self.born(1940, 2023), self.email(first, last), self.phone()
            )
            return Request("unknown: new", typed, "", -1)
        fam_no = rng.randrange(len(self.families))
        fam = self.families[fam_no]
        head = fam[0].row
        if kind in (1, 2):
            kids = [
                p
                for p in fam
                if p.row.pms_id != head.pms_id and p.row.birthdate and p.row.birthdate.year >= 2004
            ]
            if kind == 2 and kids:  # a twin who is not a patient yet
                sibling = rng.choice(kids).row
                pair = next((p for p in names.CLOSE_PAIRS if sibling.first_name in p), None)
                first = (
                    (pair[1] if pair[0] == sibling.first_name else pair[0])
                    if pair
                    else rng.choice(FIRST_F + FIRST_M)
                )
                if first in {p.row.first_name for p in fam}:
                    first = rng.choice(
                        [n for n in FIRST_F + FIRST_M if n not in {p.row.first_name for p in fam}]
                    )
                typed = TypedIdentity(
                    first, sibling.last_name, sibling.birthdate, head.email, head.phone_home
                )
                return Request("unknown: twin not a patient", typed, "", fam_no)
            taken = {p.row.first_name for p in fam}
            first = rng.choice([n for n in FIRST_F + FIRST_M if n not in taken])
            typed = TypedIdentity(
                first, head.last_name, self.born(2010, 2024), head.email, head.phone_home
            )
            return Request("unknown: family member", typed, "", fam_no)
        model = rng.choice(self.people).row
        if kind == 3:
            born = self.born(1940, 2023)
            typed = TypedIdentity(
                model.first_name,
                model.last_name,
                born,
                self.email(model.first_name, "x"),
                self.phone(),
            )
            return Request("unknown: namesake", typed, "", -1)
        typed = TypedIdentity(
            model.first_name, model.last_name, None, self.email(model.first_name, "y"), ""
        )
        return Request("unknown: namesake, no birth date", typed, "", -1)

    def requests(self, count: int) -> list[Request]:
        return [self.unknown() if self.rng.random() < 0.12 else self.known() for _ in range(count)]


def evaluate(
    workdir: Path, seed: int = SEED, *, fitted: bool = True
) -> tuple[dict[str, Tally], float]:
    """Load the practice into SQLite in ``workdir``, fit the model on the requests
    (EM, their true patients unknown to it) unless ``fitted`` is false, then rank every
    request in one batch; the tallies per category (and "ALL"), and the seconds
    ranking took. Calibration: the tally "p>=x" bins of the best candidate."""
    holdout = Holdout(seed)
    holdout.practice(FAMILIES)
    requests = holdout.requests(REQUESTS)
    engine = make_engine(f"sqlite:///{workdir / 'holdout.db'}")
    create_schema(engine)
    load_patients(engine, [p.row for p in holdout.people])
    family = {p.row.pms_id: p.family for p in holdout.people}
    if fitted:
        with write_session(engine) as session:
            fit_and_store(session, [r.typed for r in requests], "CA")
    tallies: dict[str, Tally] = {}
    calibrations.clear()
    with read_session(engine) as session:
        pms = dict(session.exec(select(Patient.id, Patient.pms_id)).all())
        started = time.perf_counter()
        rankings = rank_typed_many(session, [r.typed for r in requests])
        took = time.perf_counter() - started
    engine.dispose()
    for request, ranking in zip(requests, rankings, strict=True):
        found = [pms[c.patient_id] for c in ranking.candidates]
        exact = ranking.level is MatchLevel.EXACT
        chance = ranking.candidates[0].probability if ranking.candidates else 0.0
        band = next(b for b in _BANDS if chance >= b)
        for key in (band, -band - 1) if request.expected else (band,):  # negative: known only
            calibration = calibrations.setdefault(key, [0, 0.0, 0])
            calibration[0] += 1
            calibration[1] += chance
            calibration[2] += bool(found) and found[0] == request.expected
        for name in (request.category, "ALL"):
            t = tallies.setdefault(name, Tally())
            t.requests += 1
            t.exact += exact
            if request.expected:
                t.known += 1
                t.top3 += request.expected in found[:3]
                t.exact_right += exact and found[0] == request.expected
            else:
                t.unknown += 1
                t.unknown_exact += exact
            wrong = exact and found[0] != request.expected
            t.family_mislinks += wrong and family.get(found[0]) == request.family
            missed = request.expected and request.expected not in found[:3]
            if name == "ALL" and (wrong or missed):
                t.misses.append(
                    f"{request.category}: {request.typed} expected {request.expected or '-'}, "
                    f"got {found[:3]} ({ranking.level.value}: {ranking.explanation})"
                )
    return tallies, took


_BANDS = (0.99, 0.9, 0.5, 0.0)
# band -> [requests, sum of the best candidate's probability, best candidate right]
calibrations: dict[float, list[float]] = {}


def report(tallies: dict[str, Tally], took: float) -> str:
    lines = [
        f"{'category':<40}{'reqs':>6}{'exact':>7}{'prec.':>7}{'top3':>7}{'cover':>7}{'unk.ex':>7}{'fam.':>5}"
    ]
    for name in sorted(tallies, key=lambda n: (n == "ALL", n)):
        t = tallies[name]
        exact_known = t.exact - t.unknown_exact
        prec = f"{t.exact_right / t.exact:.3f}" if t.exact else "-"
        top3 = f"{t.top3 / t.known:.3f}" if t.known else "-"
        cover = f"{t.exact_right / t.known:.3f}" if t.known else "-"
        unknown = f"{t.unknown_exact}/{t.unknown}" if t.unknown else "-"
        del exact_known
        lines.append(
            f"{name:<40}{t.requests:>6}{t.exact:>7}{prec:>7}{top3:>7}{cover:>7}{unknown:>7}{t.family_mislinks:>5}"
        )
    t = tallies["ALL"]
    lines += [
        "",
        f"exact precision {t.exact_right / max(t.exact, 1):.4f} "
        f"({t.exact_right}/{t.exact}; target 1.000)",
        f"top-3 recall {t.top3 / t.known:.4f} ({t.top3}/{t.known}; target >= {TARGET_RECALL_TOP3})",
        f"exact coverage {t.exact_right / t.known:.4f} "
        f"({t.exact_right}/{t.known}; target >= {TARGET_COVERAGE})",
        f"unknown people linked exactly: {t.unknown_exact}/{t.unknown} (target 0)",
        f"family mislinks: {t.family_mislinks} (target 0)",
        f"ranking {t.requests} requests: {took:.2f} s",
    ]
    lines += ["", "calibration: best candidate's probability -> right patient (all; known)"]
    for band in _BANDS:
        n, chances, right = calibrations.get(band, [0, 0.0, 0])
        k, _known_chances, known_right = calibrations.get(-band - 1, [0, 0.0, 0])
        if n:
            lines.append(
                f"  p >= {band:<4}: {int(n):5d} requests, mean p {chances / n:.3f}, "
                f"right {right / n:.3f}; known {int(k)}, right {known_right / max(k, 1):.3f}"
            )
    if t.misses:
        lines += ["", f"misses ({len(t.misses)}, first 40):", *(f"  {m}" for m in t.misses[:40])]
    return "\n".join(lines)


def meets_targets(t: Tally) -> bool:
    return (
        t.exact_right == t.exact
        and t.top3 / t.known >= TARGET_RECALL_TOP3
        and t.exact_right / t.known >= TARGET_COVERAGE
        and t.unknown_exact == 0
        and t.family_mislinks == 0
    )


def main() -> int:
    fitted = "--defaults" not in sys.argv  # --defaults: the model before any fit
    with tempfile.TemporaryDirectory() as tmp:
        tallies, took = evaluate(Path(tmp), fitted=fitted)
    print(report(tallies, took))
    return 0 if meets_targets(tallies["ALL"]) else 1


if __name__ == "__main__":
    sys.exit(main())
