"""Finding patients in the database: candidates for a request, and staff's own search.

Candidates come from indexed key columns only (never a scan of all patients): the same
surname (whole, compact, or one part of a compound surname), a surname that sounds alike
with the same first name or a nickname of it, swapped first and last names, the same
birth date (or with day and month swapped), the same phone or email. Only those are
scored (:func:`linker_tui.matching.rank_patients`)."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from linker_tui.matching import (
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
    f" LIMIT {MAX_SURNAME_ONLY}) AS s",
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
    f" LIMIT {MAX_SHARED_CONTACT + 1}) AS h",
    "phone_mobile": "SELECT id FROM (SELECT id FROM patient WHERE phone_mobile_key = :phone"
    f" LIMIT {MAX_SHARED_CONTACT + 1}) AS m",
    "email": "SELECT id FROM (SELECT id FROM patient WHERE email_key = :email"
    f" LIMIT {MAX_SHARED_CONTACT + 1}) AS e",
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


def candidate_query(
    typed: TypedIdentity, region: str
) -> tuple[sa.TextualSelect, dict[str, Any]] | None:
    """The statement selecting the patients worth scoring for ``typed`` (a union of index
    lookups), and its parameters; None when nothing was typed to search by."""
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
    if not branches:
        return None
    return _statement(tuple(branches)), params


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
