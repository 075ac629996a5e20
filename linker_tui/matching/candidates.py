"""The one candidate search: which patients are worth scoring for what was typed.

Several blocking passes, unioned, each an index lookup (never a scan of all patients):

- surname: the same surname (whole, compact, or one part of a compound surname) with a
  first name that is a variant of the typed one, the preferred name, or starts alike;
- phonetic: a surname sounding alike (Soundex, 8 characters) with a first-name variant;
- swapped: first and last name typed the other way round;
- given name: a first-name variant with the same birth year, or with a surname starting
  with the same two letters;
- birth date: the same day (or with day and month swapped);
- surname start + birth year: the first three letters of the surname and the year;
- contact: the same phone or email (a shared one capped at its first patients by id);
- a surname typed alone: its first ``MAX_SURNAME_ONLY`` patients.

One request (Accept) and a whole list (the inbox import, ``linker-tui match``) go through
the same code: all the requests' keys are looked up at once, one set-based statement per
kind of lookup (keys in chunks), and each request then takes the union of its own
lookups; each candidate row is read once, however many requests it is a candidate for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from linker_tui.matching import (
    PatientRecord,
    TypedIdentity,
    compact_key,
    email_key,
    last_name_sound,
    name_key,
    nickname_variants,
    phone_key,
    typed_last_name_keys,
)

# A phone or email shared by more patients than this is not a useful lead (a clinic's
# placeholder address, "000-000-0000"): at most this many of them become candidates.
MAX_SHARED_CONTACT = 50
# A surname typed without a first name: at most this many of its patients are scored.
MAX_SURNAME_ONLY = 200
# Parameters per statement (under 999, the limit of SQLite before 3.32).
_MAX_PARAMS = 900
_END = "zzzzzzzz"  # key ranges: [start, start + _END) holds every key starting so


@dataclass
class SearchPlan:
    """The index lookups of one typed identity (the blocking passes' keys)."""

    names: set[tuple[str, str]] = field(default_factory=set)  # (surname, first name)
    preferred: set[tuple[str, str]] = field(default_factory=set)  # (preferred, surname)
    name_starts: set[tuple[str, str, str]] = field(default_factory=set)  # surname, range
    compound: set[str] = field(default_factory=set)  # a part of a compound surname
    sounds: set[tuple[str, str]] = field(default_factory=set)  # (surname sound, first)
    given_born: set[tuple[str, str, str]] = field(default_factory=set)  # first, year range
    given_surname: set[tuple[str, str, str]] = field(default_factory=set)  # first, range
    surname_born: set[tuple[str, str, str, str]] = field(default_factory=set)
    born: set[date] = field(default_factory=set)
    contacts: set[tuple[str, str]] = field(default_factory=set)  # (column, key)
    surname_only: set[str] = field(default_factory=set)
    firsts: frozenset[str] = frozenset()  # the compound lookup's first-name filter
    start: tuple[str, str] = ("", "")


def _birthdate_variants(born: date) -> set[date]:
    variants = {born}
    if born.day <= 12 and born.day != born.month:
        variants.add(born.replace(month=born.day, day=born.month))
    return variants


def search_plan(typed: TypedIdentity, region: str, *, wide: bool = False) -> SearchPlan:
    """The lookups that find the patients worth scoring for ``typed`` (none when nothing
    was typed to search by). ``wide`` adds the passes for errors in two fields at once
    (given name with birth year or surname start, surname start with birth year, any
    first name starting with the same letter): asked only for the requests the narrow
    passes left without a likely patient."""
    plan = SearchPlan()
    first, last = name_key(typed.first_name), name_key(typed.last_name)
    firsts = nickname_variants(first) if first else frozenset()
    _surname_passes(plan, typed, first, firsts, wide=wide)
    if first and last:
        sound = last_name_sound(typed.last_name)
        if sound:
            plan.sounds |= {(sound, name) for name in firsts}
        swap_first = nickname_variants(last)
        plan.names |= {(k, n) for k in typed_last_name_keys(typed.first_name) for n in swap_first}
        if wide:
            _double_error_passes(plan, typed, last, firsts)
    if typed.birthdate is not None:
        plan.born |= _birthdate_variants(typed.birthdate)
    phone = phone_key(typed.phone, region)
    if phone:
        plan.contacts |= {("phone_home_key", phone), ("phone_mobile_key", phone)}
    email = email_key(typed.email)
    if email:
        plan.contacts.add(("email_key", email))
    return plan


def _surname_passes(
    plan: SearchPlan, typed: TypedIdentity, first: str, firsts: frozenset[str], *, wide: bool
) -> None:
    """The typed surname (whole, compact or a part) with a first-name variant, the
    preferred name or a first name starting alike; or the surname alone."""
    last_keys = typed_last_name_keys(typed.last_name)
    if last_keys and not first:
        plan.surname_only |= last_keys
    elif last_keys:
        start = compact_key(first)[: 1 if wide else 3 if len(first) > 3 else 2]
        plan.start = (start, start + _END)
        plan.firsts = firsts
        plan.names |= {(key, name) for key in last_keys for name in firsts}
        plan.preferred |= {(name, key) for key in last_keys for name in firsts}
        if wide or typed.birthdate is None:  # with one, a misspelt first name is found by it
            plan.name_starts |= {(key, start, start + _END) for key in last_keys}
        plan.compound |= last_keys


def _double_error_passes(
    plan: SearchPlan, typed: TypedIdentity, last: str, firsts: frozenset[str]
) -> None:
    """Given name with surname start or birth year, surname start with birth year."""
    head = compact_key(last)[:2]
    plan.given_surname |= {(name, head, head + _END) for name in firsts}
    if typed.birthdate:
        year = (f"{typed.birthdate.year:04d}-01-01", f"{typed.birthdate.year:04d}-12-31")
        plan.given_born |= {(name, *year) for name in firsts}
        head3 = compact_key(last)[:3]
        plan.surname_born.add((head3, head3 + _END, *year))


def _chunks(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    ordered = sorted(values)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


# ``{in}``: a list of placeholders; ``{rows}``: a VALUES list joined to a covering index.
_BY_SURNAME = "SELECT id, last_name_key, first_name_key FROM patient WHERE last_name_key IN ({in})"
_BY_NAME = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.last_name_key, p.first_name_key"
    " FROM k JOIN patient p ON p.last_name_key = k.a AND p.first_name_key = k.b"
)
_BY_PREFERRED = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.preferred_name_key, p.last_name_key"
    " FROM k JOIN patient p ON p.preferred_name_key = k.a AND p.last_name_key = k.b"
)
_BY_NAME_START = (
    "WITH k(a, b, c) AS (VALUES {rows}) SELECT p.id, k.a, k.b, k.c FROM k JOIN patient p"
    " ON p.last_name_key = k.a AND p.first_name_key >= k.b AND p.first_name_key < k.c"
)
_BY_SOUND = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.last_name_sound, p.first_name_key"
    " FROM k JOIN patient p ON p.last_name_sound = k.a AND p.first_name_key = k.b"
)
_BY_GIVEN_BORN = (
    "WITH k(a, b, c) AS (VALUES {rows}) SELECT p.id, k.a, k.b, k.c FROM k JOIN patient p"
    " ON p.first_name_key = k.a AND p.birthdate >= k.b AND p.birthdate <= k.c"
)
_BY_GIVEN_SURNAME = (
    "WITH k(a, b, c) AS (VALUES {rows}) SELECT p.id, k.a, k.b, k.c FROM k JOIN patient p"
    " ON p.first_name_key = k.a AND p.last_name_key >= k.b AND p.last_name_key < k.c"
)
_BY_SURNAME_BORN = (
    "WITH k(a, b, c, d) AS (VALUES {rows}) SELECT p.id, k.a, k.b, k.c, k.d FROM k"
    " JOIN patient p ON p.last_name_key >= k.a AND p.last_name_key < k.b"
    " AND p.birthdate >= k.c AND p.birthdate <= k.d"
)
_BY_ALT_KEY = (
    "SELECT k.key, p.id, p.first_name_key, p.preferred_name_key FROM patient_name_key k"
    " JOIN patient p ON p.id = k.patient_id WHERE k.key IN ({in})"
)
_BY_BIRTHDATE = "SELECT id, birthdate FROM patient WHERE birthdate IN ({in})"
_BY_CONTACT = (
    "SELECT id, {column} FROM (SELECT id, {column}, ROW_NUMBER() OVER"
    " (PARTITION BY {column} ORDER BY id) AS n FROM patient WHERE {column} IN ({in})) AS c"
    f" WHERE n <= {MAX_SHARED_CONTACT + 1}"
)
_BY_ID = (
    "SELECT id, first_name, last_name, preferred_name, birthdate, email, phone_home,"
    " phone_mobile FROM patient WHERE id IN ({in})"
)


def _as_date(value: Any) -> date | None:
    """A date column read without result typing (SQLite gives ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _driver_rows(session: Session, sql: str, values: Iterable[Any]) -> Iterator[Any]:
    """The rows of ``sql`` for ``values`` (sorted, in chunks), run by the database driver
    itself in the session's transaction (plain statements, many rows, plain tuples)."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sqlite = connection.dialect.name == "sqlite"
    width = sql[sql.index("k(") : sql.index(")")].count(",") + 1 if "{rows}" in sql else 1
    cursor = connection.connection.cursor()
    try:
        for chunk in _chunks(values, _MAX_PARAMS // width):
            params: list[Any] = []
            if "{rows}" in sql:
                for row in chunk:
                    params += row
                row_marks = "(" + ", ".join([mark] * len(chunk[0])) + ")"
                text = sql.replace("{rows}", ", ".join([row_marks] * len(chunk)))
            else:
                params = list(chunk)
                text = sql.replace("{in}", ", ".join([mark] * len(chunk)))
            if sqlite:
                params = [v.isoformat() if isinstance(v, date) else v for v in params]
            elif "birthdate >=" in sql:  # year ranges typed as dates for PostgreSQL
                params = [date.fromisoformat(v) if _is_iso(v) else v for v in params]
            cursor.execute(text, tuple(params))
            yield from cursor.fetchall()
    finally:
        cursor.close()


def _is_iso(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"


class CandidateIndex:
    """The patients a batch of plans may belong to, indexed by lookup, then read once."""

    def __init__(self) -> None:
        self.found: dict[str, dict[Any, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.by_surname: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.by_alt_key: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        self.records: dict[int, PatientRecord] = {}

    def load(self, session: Session, plans: Sequence[SearchPlan]) -> None:
        """Run every lookup the plans make (all plans' keys at once)."""

        def union(name: str) -> set[Any]:
            return set().union(*(getattr(plan, name) for plan in plans))

        for pid, last, first in _driver_rows(session, _BY_SURNAME, union("surname_only")):
            self.by_surname[last].append((first, pid))
        for kind, sql in (
            ("names", _BY_NAME),
            ("preferred", _BY_PREFERRED),
            ("name_starts", _BY_NAME_START),
            ("sounds", _BY_SOUND),
            ("given_born", _BY_GIVEN_BORN),
            ("given_surname", _BY_GIVEN_SURNAME),
            ("surname_born", _BY_SURNAME_BORN),
        ):
            table = self.found[kind]
            for pid, *key in _driver_rows(session, sql, union(kind)):
                table[tuple(str(k) if isinstance(k, date) else k for k in key)].append(pid)
        for key, pid, first, preferred in _driver_rows(session, _BY_ALT_KEY, union("compound")):
            self.by_alt_key[key].append((pid, first, preferred))
        born = self.found["born"]
        for pid, day in _driver_rows(session, _BY_BIRTHDATE, union("born")):
            born[_as_date(day)].append(pid)
        contacts = union("contacts")
        for column in ("phone_home_key", "phone_mobile_key", "email_key"):
            keys = {key for col, key in contacts if col == column}
            sql = _BY_CONTACT.replace("{column}", column)
            for pid, key in _driver_rows(session, sql, keys):
                self.found["contacts"][column, key].append(pid)

    def candidate_ids(self, plan: SearchPlan) -> list[int]:
        """The union of the plan's lookups (in no particular order: ranking orders them)."""
        found: set[int] = set()
        if plan.surname_only:
            rows = sorted(
                (key, first, pid)
                for key in plan.surname_only
                for first, pid in self.by_surname.get(key, ())
            )
            found.update(pid for _, _, pid in rows[:MAX_SURNAME_ONLY])
        for kind in (
            "names",
            "preferred",
            "name_starts",
            "sounds",
            "given_born",
            "given_surname",
            "surname_born",
            "born",
            "contacts",
        ):
            table = self.found[kind]
            for key in getattr(plan, kind):
                found.update(table.get(key, ()))
        start, end = plan.start
        for key in plan.compound:
            found.update(
                pid
                for pid, first, preferred in self.by_alt_key.get(key, ())
                if first in plan.firsts or preferred in plan.firsts or start <= first < end
            )
        return list(found)

    def load_records(self, session: Session, ids: Iterable[int]) -> None:
        """Read the candidates' rows (each once)."""
        for pid, first, last, preferred, born, email, home, mobile in _driver_rows(
            session, _BY_ID, set(ids) - self.records.keys()
        ):
            self.records[pid] = PatientRecord(
                id=pid,
                first_name=first,
                last_name=last,
                preferred_name=preferred,
                birthdate=_as_date(born),
                email=email,
                phones=tuple(p for p in (home, mobile) if p),
            )


def find_candidates(
    session: Session, typed: Sequence[TypedIdentity], region: str, *, wide: bool = False
) -> list[list[PatientRecord]]:
    """The candidate patients of each typed identity, in the same order (``wide``: with
    the passes for double errors too)."""
    plans = [search_plan(t, region, wide=wide) for t in typed]
    index = CandidateIndex()
    index.load(session, plans)
    found = [index.candidate_ids(plan) for plan in plans]
    index.load_records(session, (pid for ids in found for pid in ids))
    return [[index.records[pid] for pid in ids] for ids in found]
