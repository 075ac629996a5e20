"""Finding patients in the database: candidates for a request, and staff's own search.

Candidates come from indexed key columns only (never a scan of all patients): the same
surname (whole, compact, or one part of a compound surname), a surname that sounds alike
with the same first name or a nickname of it, swapped first and last names, the same
birth date (or with day and month swapped), the same phone or email. Only those are
scored (:func:`linker_tui.matching.rank_patients`)."""

from __future__ import annotations

import gc
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from linker_tui.matching import (
    MatchLevel,
    PatientRanking,
    PatientRecord,
    TypedIdentity,
    compact_key,
    email_key,
    last_name_sound,
    name_key,
    nickname_variants,
    phone_key,
    rank_patients,
    typed_last_name_keys,
)
from linker_tui.models import OnlineRequest, Patient, PatientNameKey
from linker_tui.text import clean

log = logging.getLogger(__name__)

# A phone or email shared by more patients than this is not a useful lead (a clinic's
# placeholder address, "000-000-0000"): at most this many of them become candidates.
MAX_SHARED_CONTACT = 50

# A surname typed without a first name: at most this many of its patients are scored.
MAX_SURNAME_ONLY = 200

_COLUMNS: tuple[Any, ...] = (
    col(Patient.id),
    col(Patient.first_name),
    col(Patient.last_name),
    col(Patient.preferred_name),
    col(Patient.birthdate),
    col(Patient.email),
    col(Patient.phone_home),
    col(Patient.phone_mobile),
)


def typed_identity(request: OnlineRequest) -> TypedIdentity:
    """What the patient typed into the booking form."""
    return TypedIdentity(
        first_name=request.typed_first_name,
        last_name=request.typed_last_name,
        birthdate=request.typed_birthdate,
        email=request.typed_email,
        phone=request.typed_phone,
    )


def _records(session: Session, statement: sa.Select[Any]) -> list[PatientRecord]:
    return _rows_to_records(session.execute(statement))


def _rows_to_records(rows: Any) -> list[PatientRecord]:
    return [
        PatientRecord(
            id=row.id,
            first_name=row.first_name,
            last_name=row.last_name,
            preferred_name=row.preferred_name,
            birthdate=row.birthdate,
            email=row.email,
            phones=tuple(p for p in (row.phone_home, row.phone_mobile) if p),
        )
        for row in rows
    ]


def _birthdate_variants(born: date) -> set[date]:
    variants = {born}
    if born.day <= 12 and born.day != born.month:
        variants.add(born.replace(month=born.day, day=born.month))
    return variants


_BRANCHES = {
    "surname_only": "SELECT id FROM (SELECT id FROM patient WHERE last_name_key IN :last_keys"
    f" ORDER BY last_name_key, first_name_key, id LIMIT {MAX_SURNAME_ONLY}) AS s",
    "surname_start": "SELECT id FROM patient WHERE last_name_key IN :last_keys"
    " AND first_name_key >= :start AND first_name_key < :start_end",
    "surname_nickname": "SELECT id FROM patient WHERE last_name_key IN :last_keys"
    " AND first_name_key IN :firsts",
    "surname_preferred": "SELECT id FROM patient WHERE preferred_name_key IN :firsts"
    " AND last_name_key IN :last_keys",
    "compound": "SELECT k.patient_id FROM patient_name_key k JOIN patient p ON p.id = k.patient_id"
    " WHERE k.key IN :last_keys AND (p.first_name_key IN :firsts"
    " OR p.preferred_name_key IN :firsts"
    " OR (p.first_name_key >= :start AND p.first_name_key < :start_end))",
    "sound": "SELECT id FROM patient WHERE last_name_sound = :sound AND first_name_key IN :firsts",
    "swapped": "SELECT id FROM patient WHERE last_name_key IN :swap_last"
    " AND first_name_key IN :swap_first",
    "born": "SELECT id FROM patient WHERE birthdate IN :born",
    "phone_home": "SELECT id FROM (SELECT id FROM patient WHERE phone_home_key = :phone"
    f" ORDER BY id LIMIT {MAX_SHARED_CONTACT + 1}) AS h",
    "phone_mobile": "SELECT id FROM (SELECT id FROM patient WHERE phone_mobile_key = :phone"
    f" ORDER BY id LIMIT {MAX_SHARED_CONTACT + 1}) AS m",
    "email": "SELECT id FROM (SELECT id FROM patient WHERE email_key = :email"
    f" ORDER BY id LIMIT {MAX_SHARED_CONTACT + 1}) AS e",
}
_EXPANDING = ("last_keys", "firsts", "swap_last", "swap_first")


@lru_cache(maxsize=64)
def _statement(branches: tuple[str, ...]) -> sa.TextualSelect:
    """One statement per combination of branches (built once, then reused)."""
    union = " UNION ".join(_BRANCHES[b] for b in branches)
    columns = ", ".join(c.key for c in _COLUMNS)
    sql = f"SELECT {columns} FROM patient WHERE id IN ({union}) ORDER BY id"
    used = [name for name in _EXPANDING if f":{name}" in sql]
    params: list[sa.BindParameter[Any]] = [sa.bindparam(name, expanding=True) for name in used]
    if ":born" in sql:
        params.append(sa.bindparam("born", expanding=True, type_=sa.Date()))
    return sa.text(sql).bindparams(*params).columns(*_COLUMNS)


def _search_plan(typed: TypedIdentity, region: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Which index lookups find the patients worth scoring for ``typed`` (the branches of
    the candidate search), with their parameters; no branches when nothing was typed."""
    first, last = name_key(typed.first_name), name_key(typed.last_name)
    branches: list[str] = []
    params: dict[str, Any] = {}
    last_keys = sorted(typed_last_name_keys(typed.last_name))
    if last_keys:
        params["last_keys"] = last_keys
    if first:
        start = compact_key(first)[: 3 if len(first) > 3 else 2]
        params.update(
            firsts=sorted(nickname_variants(first)), start=start, start_end=start + "zzzzzzzz"
        )
    if last_keys and not first:
        branches.append("surname_only")
    elif last_keys:
        # The surname with a first name that starts alike, is a nickname of the typed one
        # or is the preferred name: a common surname does not bring thousands of patients.
        branches += ["surname_nickname", "surname_preferred", "compound"]
        if typed.birthdate is None:  # with one, a misspelt first name is found by it
            branches.append("surname_start")
    if first and last:
        sound = last_name_sound(typed.last_name)
        if sound:
            branches.append("sound")
            params["sound"] = sound
        branches.append("swapped")
        params["swap_last"] = sorted(typed_last_name_keys(typed.first_name))
        params["swap_first"] = sorted(nickname_variants(last))
    if typed.birthdate is not None:
        branches.append("born")
        params["born"] = sorted(_birthdate_variants(typed.birthdate))
    phone = phone_key(typed.phone, region)
    if phone:
        branches += ["phone_home", "phone_mobile"]
        params["phone"] = phone
    email = email_key(typed.email)
    if email:
        branches.append("email")
        params["email"] = email
    return tuple(branches), params


def candidate_query(
    typed: TypedIdentity, region: str
) -> tuple[sa.TextualSelect, dict[str, Any]] | None:
    """The statement selecting the patients worth scoring for ``typed`` (a union of index
    lookups), and its parameters; None when nothing was typed to search by."""
    branches, params = _search_plan(typed, region)
    if not branches:
        return None
    return _statement(branches), params


def candidate_patients(session: Session, typed: TypedIdentity, region: str) -> list[PatientRecord]:
    """The patients worth scoring for ``typed``, from the key indexes."""
    query = candidate_query(typed, region)
    if query is None:
        return []
    statement, params = query
    return _rows_to_records(session.execute(statement, params))


def contact_sharing(session: Session, typed: TypedIdentity, region: str) -> tuple[int, int]:
    """How many patients have the typed phone, and the typed email (capped)."""
    counts = []
    phone, email = phone_key(typed.phone, region), email_key(typed.email)
    for value, where in (
        (
            phone,
            sa.or_(col(Patient.phone_home_key) == phone, col(Patient.phone_mobile_key) == phone),
        ),
        (email, col(Patient.email_key) == email),
    ):
        if not value:
            counts.append(0)
            continue
        capped = sa.select(col(Patient.id)).where(where).limit(MAX_SHARED_CONTACT + 1).subquery()
        counts.append(
            int(session.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one())
        )
    return counts[0], counts[1]


def score_records(
    session: Session, typed: TypedIdentity, records: list[PatientRecord], region: str = "CA"
) -> PatientRanking:
    """Score given patients (a staff search, a staff choice) against a typed identity,
    counting shared phones and emails over the whole database; nobody is left out."""
    phones, emails = contact_sharing(session, typed, region)
    return rank_patients(
        typed, records, region=region, phone_sharing=phones, email_sharing=emails, min_score=None
    )


def rank_typed(session: Session, typed: TypedIdentity, region: str = "CA") -> PatientRanking:
    """Rank the database's patients for a typed identity (exact, possible or none)."""
    return rank_patients(typed, candidate_patients(session, typed, region), region=region)


def rank_request(session: Session, request: OnlineRequest, region: str = "CA") -> PatientRanking:
    """Rank the database's patients for what a request's sender typed."""
    return rank_typed(session, typed_identity(request), region)


# --------------------------------------------------------------------------- batches

# Requests whose candidates are gathered together (bounds the rows held in memory).
BATCH_REQUESTS = 10_000
# Parameters per statement (under 999, the limit of SQLite before 3.32).
_MAX_PARAMS = 900


def _chunks(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    ordered = sorted(values)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


# The lookups of a batch read the key indexes (covering ones, but for the alternative
# surname keys and the rows finally scored); see _driver_rows for ``{in}`` and ``{rows}``.
_BY_SURNAME = "SELECT id, last_name_key, first_name_key FROM patient WHERE last_name_key IN ({in})"
_BY_NAME_START = (
    "WITH k(a, b, c) AS (VALUES {rows}) SELECT p.id, k.a, k.b FROM k JOIN patient p"
    " ON p.last_name_key = k.a AND p.first_name_key >= k.b AND p.first_name_key < k.c"
)
_BY_NAME = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.last_name_key, p.first_name_key"
    " FROM k JOIN patient p ON p.last_name_key = k.a AND p.first_name_key = k.b"
)
_BY_PREFERRED = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.last_name_key, p.preferred_name_key"
    " FROM k JOIN patient p ON p.preferred_name_key = k.a AND p.last_name_key = k.b"
)
_BY_SOUND = (
    "WITH k(a, b) AS (VALUES {rows}) SELECT p.id, p.last_name_sound, p.first_name_key"
    " FROM k JOIN patient p ON p.last_name_sound = k.a AND p.first_name_key = k.b"
)
_BY_ALT_KEY = (
    "SELECT k.key, p.id, p.first_name_key, p.preferred_name_key FROM patient_name_key k"
    " JOIN patient p ON p.id = k.patient_id WHERE k.key IN ({in})"
)
_BY_BIRTHDATE = "SELECT id, birthdate FROM patient WHERE birthdate IN ({in})"
# A shared contact: its first MAX_SHARED_CONTACT + 1 patients by id (as one request's).
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
    itself, in the session's transaction: the statements are plain and the rows many (as
    plain tuples, without the ORM's or SQLAlchemy's layers).

    ``{in}`` in ``sql`` becomes a list of placeholders for single values; ``{rows}`` a
    VALUES list of tuples (each searched in the index the statement joins it to)."""
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
                params = [v.isoformat() if sqlite and isinstance(v, date) else v for v in chunk]
                text = sql.replace("{in}", ", ".join([mark] * len(chunk)))
            cursor.execute(text, tuple(params))
            yield from cursor.fetchall()
    finally:
        cursor.close()


class _CandidateIndex:
    """The patients any of a batch's requests may belong to.

    Found with a few set-based lookups of the key indexes (all the batch's keys at once,
    in chunks), indexed in memory so that each request's candidates are exactly those of
    its own union of lookups (:func:`candidate_query`); only the candidates' rows are then
    read in full, once each, however many requests they are candidates for.
    """

    def __init__(self) -> None:
        self.by_surname: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.by_name_start: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_preferred: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_alt_key: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        self.by_sound: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_born: dict[date, list[int]] = defaultdict(list)
        self.by_contact: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.records: dict[int, PatientRecord] = {}

    def load(
        self, session: Session, plans: Sequence[tuple[tuple[str, ...], dict[str, Any]]]
    ) -> None:
        """Read the key indexes for every lookup the plans make."""
        surnames: set[str] = set()
        starts: set[tuple[str, str, str]] = set()
        names: set[tuple[str, str]] = set()
        preferred: set[tuple[str, str]] = set()
        alt: set[str] = set()
        sounds: set[tuple[str, str]] = set()
        born: set[date] = set()
        contacts: dict[str, set[str]] = {"phone": set(), "email": set()}
        for branches, params in plans:
            last_keys, firsts = params.get("last_keys", ()), params.get("firsts", ())
            for branch in branches:
                if branch == "surname_only":
                    surnames.update(last_keys)
                elif branch == "surname_start":
                    limits = (params["start"], params["start_end"])
                    starts.update((key, *limits) for key in last_keys)
                elif branch == "surname_nickname":
                    names.update((key, first) for key in last_keys for first in firsts)
                elif branch == "surname_preferred":
                    preferred.update((first, key) for key in last_keys for first in firsts)
                elif branch == "compound":
                    alt.update(last_keys)
                elif branch == "sound":
                    sounds.update((params["sound"], first) for first in firsts)
                elif branch == "swapped":
                    names.update(
                        (key, first)
                        for key in params["swap_last"]
                        for first in params["swap_first"]
                    )
                elif branch == "born":
                    born.update(params["born"])
            for kind, values in contacts.items():
                if kind in params:
                    values.add(params[kind])
        for pid, last, first in _driver_rows(session, _BY_SURNAME, surnames):
            self.by_surname[last].append((first, pid))
        for pid, last, start in _driver_rows(session, _BY_NAME_START, starts):
            self.by_name_start[last, start].append(pid)
        for pid, last, first in _driver_rows(session, _BY_NAME, names):
            self.by_name[last, first].append(pid)
        for pid, last, name in _driver_rows(session, _BY_PREFERRED, preferred):
            self.by_preferred[last, name].append(pid)
        for key, pid, first, name in _driver_rows(session, _BY_ALT_KEY, alt):
            self.by_alt_key[key].append((pid, first, name))
        for pid, sound, first in _driver_rows(session, _BY_SOUND, sounds):
            self.by_sound[sound, first].append(pid)
        for pid, day in _driver_rows(session, _BY_BIRTHDATE, born):
            self.by_born[_as_date(day)].append(pid)  # type: ignore[index]
        for column, kind in (
            ("phone_home_key", "phone"),
            ("phone_mobile_key", "phone"),
            ("email_key", "email"),
        ):
            sql = _BY_CONTACT.replace("{column}", column)
            for pid, key in _driver_rows(session, sql, contacts[kind]):
                self.by_contact[column, key].append(pid)

    def candidate_ids(self, branches: tuple[str, ...], params: dict[str, Any]) -> list[int]:
        """The ids the union of ``branches`` finds (as :func:`candidate_query`; in no
        particular order: ranking orders them)."""
        found: set[int] = set()
        last_keys: list[str] = params.get("last_keys", [])
        firsts: list[str] = params.get("firsts", [])
        start, end = params.get("start", ""), params.get("start_end", "")
        for branch in branches:
            if branch == "surname_only":
                rows = sorted(
                    (key, first, pid)
                    for key in last_keys
                    for first, pid in self.by_surname.get(key, ())
                )
                found.update(pid for _, _, pid in rows[:MAX_SURNAME_ONLY])
            elif branch == "surname_start":
                for key in last_keys:
                    found.update(self.by_name_start.get((key, start), ()))
            elif branch in ("surname_nickname", "surname_preferred"):
                table = self.by_name if branch == "surname_nickname" else self.by_preferred
                for key in last_keys:
                    for first in firsts:
                        found.update(table.get((key, first), ()))
            elif branch == "compound":
                names = set(firsts)
                for key in last_keys:
                    found.update(
                        pid
                        for pid, first, preferred in self.by_alt_key.get(key, ())
                        if first in names or preferred in names or start <= first < end
                    )
            elif branch == "sound":
                for first in firsts:
                    found.update(self.by_sound.get((params["sound"], first), ()))
            elif branch == "swapped":
                for key in params["swap_last"]:
                    for first in params["swap_first"]:
                        found.update(self.by_name.get((key, first), ()))
            elif branch == "born":
                for day in params["born"]:
                    found.update(self.by_born.get(day, ()))
            elif branch in ("phone_home", "phone_mobile"):
                found.update(self.by_contact.get((f"{branch}_key", params["phone"]), ()))
            elif branch == "email":
                found.update(self.by_contact.get(("email_key", params["email"]), ()))
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


def rank_typed_many(
    session: Session, typed: Sequence[TypedIdentity], region: str = "CA"
) -> list[PatientRanking]:
    """Rank the database's patients for many typed identities at once: the same rankings
    as :func:`rank_typed` for each, from a few set-based index lookups per
    ``BATCH_REQUESTS`` identities instead of one query per identity."""
    rankings: list[PatientRanking] = []
    collecting = gc.isenabled()
    # Scoring makes many small objects but no reference cycles: the cyclic collector
    # would only walk the caches over and over (a third of the time).
    gc.disable()
    try:
        for block in range(0, len(typed), BATCH_REQUESTS):
            identities = typed[block : block + BATCH_REQUESTS]
            plans = [_search_plan(t, region) for t in identities]
            index = _CandidateIndex()
            index.load(session, plans)
            found = [index.candidate_ids(branches, params) for branches, params in plans]
            index.load_records(session, (pid for ids in found for pid in ids))
            records = index.records
            rankings += [
                _rank_isolated(t, [records[pid] for pid in ids], region)
                for t, ids in zip(identities, found, strict=True)
            ]
    finally:
        if collecting:
            gc.enable()
    return rankings


def _rank_isolated(
    typed: TypedIdentity, records: list[PatientRecord], region: str
) -> PatientRanking:
    """Rank one identity; a failure (a bug, a record scoring cannot read) is logged and
    costs this identity its match, never the others of the batch."""
    try:
        return rank_patients(typed, records, region=region)
    except Exception as exc:
        log.exception("matching failed for one request")
        error = clean(f"{type(exc).__name__}: {exc}", single_line=True)
        return PatientRanking(MatchLevel.NONE, (), f"matching failed ({error})", error)


def rank_requests(
    session: Session, requests: Sequence[OnlineRequest], region: str = "CA"
) -> list[PatientRanking]:
    """Rank the database's patients for many requests at once (a whole pending list):
    the same rankings as :func:`rank_request`, in the same order, much faster."""
    return rank_typed_many(session, [typed_identity(r) for r in requests], region)


_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _parse_date(text: str) -> list[date]:
    match = _DATE.match(text)
    if not match:
        return []
    if match.group(1):
        parts = [(int(match.group(1)), int(match.group(2)), int(match.group(3)))]
    else:  # dd/mm/yyyy or mm/dd/yyyy: try both
        a, b, year = int(match.group(4)), int(match.group(5)), int(match.group(6))
        parts = [(year, b, a), (year, a, b)]
    found = []
    for year, month, day in parts:
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return found


def _prefix(column: Any, word: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``word`` (a key: lower-case ASCII), as an index range."""
    return sa.and_(column >= word, column < word + "zzzzzzzz", column.like(f"{word}%"))


def search_patients(
    session: Session, text: str, region: str = "CA", limit: int = 50
) -> list[PatientRecord]:
    """Staff's patient search: a name (``hart``, ``bill hart``, ``hart, bill``, the start
    of a surname), a birth date (``1980-04-02``, ``02/04/1980``), a phone number or an
    email. Index-backed; at most ``limit`` patients, by surname and first name."""
    text = text.strip()
    if not text:
        return []
    conditions: list[sa.ColumnElement[bool]] = []
    dates = _parse_date(text)
    if dates:
        conditions.append(col(Patient.birthdate).in_(dates))
    elif "@" in text:
        conditions.append(col(Patient.email_key) == email_key(text))
    elif sum(ch.isdigit() for ch in text) >= 7 and not any(ch.isalpha() for ch in text):
        phone = phone_key(text, region)
        conditions.append(
            sa.or_(col(Patient.phone_home_key) == phone, col(Patient.phone_mobile_key) == phone)
        )
    else:
        words = [w for w in (name_key(part) for part in re.split(r"[,\s]+", text)) if w]
        if not words:
            return []
        if len(words) == 1:
            (word,) = words
            conditions.append(_prefix(col(Patient.last_name_key), word))
            conditions.append(
                col(Patient.id).in_(
                    sa.select(col(PatientNameKey.patient_id)).where(col(PatientNameKey.key) == word)
                )
            )
        else:
            for i in range(1, len(words)):
                head, tail = " ".join(words[:i]), " ".join(words[i:])
                for given, family in ((head, tail), (tail, head)):
                    names = sorted(nickname_variants(given))
                    conditions.append(
                        sa.and_(
                            _prefix(col(Patient.last_name_key), family),
                            sa.or_(
                                col(Patient.first_name_key).in_(names),
                                col(Patient.preferred_name_key).in_(names),
                                _prefix(col(Patient.first_name_key), given),
                            ),
                        )
                    )
    statement = (
        sa.select(*_COLUMNS)
        .where(sa.or_(*conditions))
        .order_by(col(Patient.last_name_key), col(Patient.first_name_key), col(Patient.id))
        .limit(limit)
    )
    return _records(session, statement)
