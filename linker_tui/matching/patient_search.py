"""Finding patients in the database: the ranking of requests (candidates from
:mod:`linker_tui.matching.candidates`, scored by :func:`linker_tui.matching.rank_patients`), and
staff's own search."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from linker_tui.common.text import clean
from linker_tui.matching import (
    MatchLevel,
    PatientRanking,
    PatientRecord,
    TypedIdentity,
    email_key,
    name_key,
    nickname_variants,
    phone_key,
    rank_patients,
)
from linker_tui.matching.candidates import MAX_SHARED_CONTACT, find_candidates
from linker_tui.matching.match_model import frequencies, load_model
from linker_tui.matching.request_match import record_ranking
from linker_tui.matching.weights import Frequencies, MatchModel
from linker_tui.store.db import write_session
from linker_tui.store.enums import OPEN_STATES
from linker_tui.store.models import OnlineRequest, Patient, PatientNameKey

log = logging.getLogger(__name__)

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
        typed,
        records,
        region=region,
        phone_sharing=phones,
        email_sharing=emails,
        min_score=None,
        model=load_model(session),
        frequencies=frequencies(session, [typed]),
    )


def rank_typed(session: Session, typed: TypedIdentity, region: str = "CA") -> PatientRanking:
    """Rank the database's patients for a typed identity (exact, possible or none)."""
    return rank_typed_many(session, [typed], region)[0]


def rank_request(session: Session, request: OnlineRequest, region: str = "CA") -> PatientRanking:
    """Rank the database's patients for what a request's sender typed."""
    return rank_typed(session, typed_identity(request), region)


# --------------------------------------------------------------------------- batches

# A request whose best candidate is less likely than this is searched again, wider.
WIDE_BELOW = 0.9
# Requests whose candidates are gathered together (bounds the rows held in memory).
BATCH_REQUESTS = 10_000


def rank_typed_many(
    session: Session, typed: Sequence[TypedIdentity], region: str = "CA"
) -> list[PatientRanking]:
    """Rank the database's patients for many typed identities at once: the same rankings
    as :func:`rank_typed` for each, from a few set-based index lookups per
    ``BATCH_REQUESTS`` identities instead of one query per identity."""
    rankings: list[PatientRanking] = []
    model = load_model(session)
    collecting = gc.isenabled()
    # Scoring makes many small objects but no reference cycles: the cyclic collector
    # would only walk the caches over and over (a third of the time).
    gc.disable()
    try:
        for block in range(0, len(typed), BATCH_REQUESTS):
            identities = typed[block : block + BATCH_REQUESTS]
            found = find_candidates(session, identities, region)
            counts = frequencies(session, identities)
            ranked = [
                _rank_isolated(t, records, region, model, counts)
                for t, records in zip(identities, found, strict=True)
            ]
            # The requests without a likely patient: search again with the wide passes.
            again = [i for i, r in enumerate(ranked) if _unsure(r)]
            wide = find_candidates(session, [identities[i] for i in again], region, wide=True)
            for i, records in zip(again, wide, strict=True):
                ranked[i] = _rank_isolated(identities[i], records, region, model, counts)
            rankings += ranked
    finally:
        if collecting:
            gc.enable()
    return rankings


def _unsure(ranking: PatientRanking) -> bool:
    """No candidate is likely the patient (the narrow passes may have missed them)."""
    if ranking.error or ranking.level is MatchLevel.EXACT:
        return False
    return not ranking.candidates or ranking.candidates[0].probability < WIDE_BELOW


def _rank_isolated(
    typed: TypedIdentity,
    records: list[PatientRecord],
    region: str,
    model: MatchModel,
    counts: Frequencies,
) -> PatientRanking:
    """Rank one identity; a failure (a bug, a record scoring cannot read) is logged and
    costs this identity its match, never the others of the batch."""
    try:
        return rank_patients(typed, records, region=region, model=model, frequencies=counts)
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


RANK_BATCH = 500
"""Requests never ranked that :func:`rank_unranked` ranks and stores in one transaction."""


def rank_unranked(session: Session, region: str = "CA", limit: int = RANK_BATCH) -> int:
    """Rank up to ``limit`` open requests that were never ranked (no patient, no stored
    ranking: imported before requests were ranked on arrival) and store each ranking on
    its request (:func:`~linker_tui.matching.request_match.record_ranking`), as the
    inbox does on arrival; returns how many. The request list only reads stored
    rankings. Rows another transaction holds are left for the next call (PostgreSQL)."""
    unranked = session.exec(
        select(OnlineRequest)
        .where(
            col(OnlineRequest.state).in_(OPEN_STATES),
            col(OnlineRequest.patient_id).is_(None),
            col(OnlineRequest.patient_match_level) == "",
        )
        .order_by(col(OnlineRequest.received_at), col(OnlineRequest.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for request, ranking in zip(unranked, rank_requests(session, unranked, region), strict=True):
        record_ranking(request, ranking)
    session.flush()
    return len(unranked)


def store_rankings(engine: Engine, region: str = "CA", between: Callable[[], object] = list) -> int:
    """:func:`rank_unranked` until none is left, a batch per transaction (``between``
    runs between two: the sync's stop check); how many were ranked. For the sync and
    ``linker-tui db upgrade`` (on a shared PostgreSQL database only the admin may)."""
    ranked = 0
    while True:
        with write_session(engine) as session:
            done = rank_unranked(session, region)
        ranked += done
        if done < RANK_BATCH:
            return ranked
        between()


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
