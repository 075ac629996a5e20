"""The practice's own matching model: term frequencies of its patients' names and birth
dates, and the m probabilities learnt by EM from its requests' candidate pairs, stored in
the database (``sync_state``, source ``matching``) so that every desk and every way of
ranking (one request at Accept, the whole inbox) use the same one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from linker_tui.matching import TypedIdentity, name_key
from linker_tui.matching.candidates import find_candidates
from linker_tui.matching.patients import comparison_patterns
from linker_tui.matching.weights import (
    DEFAULT_MODEL,
    B,
    F,
    Frequencies,
    L,
    MatchModel,
    fit,
    population_u,
)
from linker_tui.store.models import OnlineRequest, Patient, SyncState

_SOURCE, _NAME = "matching", "model"
_MAX_PARAMS = 900


def load_model(session: Session) -> MatchModel:
    """The stored model, or the defaults when none was fitted yet."""
    row = session.exec(
        select(SyncState).where(SyncState.source == _SOURCE, SyncState.name == _NAME)
    ).first()
    if row is None or not row.data:
        return DEFAULT_MODEL
    return MatchModel.from_json(row.data.decode("utf-8"))


def frequencies(session: Session, typed: Sequence[TypedIdentity]) -> Frequencies:
    """How many patients have each typed first name, surname and birth date."""
    total = int(session.execute(sa.select(sa.func.count()).select_from(Patient)).scalar_one())
    found: list[dict[Any, int]] = []
    for column, values in (
        (col(Patient.first_name_key), {name_key(t.first_name) for t in typed} - {""}),
        (col(Patient.last_name_key), {name_key(t.last_name) for t in typed} - {""}),
        (col(Patient.birthdate), {t.birthdate for t in typed} - {None}),
    ):
        counts: dict[Any, int] = {}
        ordered = sorted(values)  # type: ignore[type-var]
        for i in range(0, len(ordered), _MAX_PARAMS):
            statement = (
                sa.select(column, sa.func.count())
                .where(column.in_(ordered[i : i + _MAX_PARAMS]))
                .group_by(column)
            )
            counts.update({value: int(n) for value, n in session.execute(statement)})
        found.append(counts)
    first, last, born = found
    return Frequencies(total, first, last, {_day(k): v for k, v in born.items()})


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def fit_model(session: Session, region: str = "CA", requests: int = 5_000) -> MatchModel:
    """Learn the model from the practice's data and store it: u of the same name and
    birth date from how its patients' values are spread, m by EM over the candidate
    pairs of its latest ``requests`` requests (their true patients unknown)."""
    recent = session.exec(
        select(OnlineRequest).order_by(col(OnlineRequest.received_at).desc()).limit(requests)
    ).all()
    typed = [
        TypedIdentity(
            r.typed_first_name, r.typed_last_name, r.typed_birthdate, r.typed_email, r.typed_phone
        )
        for r in recent
    ]
    return fit_and_store(session, typed, region)


def fit_and_store(session: Session, typed: Sequence[TypedIdentity], region: str) -> MatchModel:
    """Fit the model on the candidate pairs of ``typed`` and store it (see
    :func:`fit_model`)."""
    spread = []
    for field_, column in ((F, Patient.first_name_key), (L, Patient.last_name_key)):
        statement = sa.select(sa.func.count()).where(col(column) != "").group_by(col(column))
        spread.append((field_, [int(n) for (n,) in session.execute(statement)]))
    statement = (
        sa.select(sa.func.count())
        .where(col(Patient.birthdate).is_not(None))
        .group_by(col(Patient.birthdate))
    )
    spread.append((B, [int(n) for (n,) in session.execute(statement)]))
    total = int(session.execute(sa.select(sa.func.count()).select_from(Patient)).scalar_one())
    patterns = [
        comparison_patterns(t, records, region)
        for t, records in zip(typed, find_candidates(session, typed, region), strict=True)
    ]
    model = fit(patterns, total, population_u(spread))
    row = session.exec(
        select(SyncState).where(SyncState.source == _SOURCE, SyncState.name == _NAME)
    ).first() or SyncState(source=_SOURCE, name=_NAME)
    row.data = model.to_json().encode("utf-8")
    session.add(row)
    session.flush()
    return model
