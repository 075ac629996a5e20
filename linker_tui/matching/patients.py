"""Which patient a request belongs to: scoring candidates and deciding the level (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from linker_tui.matching.evidence import (
    _BORN_SAME,
    _CONTACT,
    _FIELD_ORDER,
    _MISSING,
    _UNIQUE,
    MAX_CANDIDATES,
    MIN_SCORE,
    W_NAME_SAME,
    W_SWAPPED,
    Agreement,
    Evidence,
    MatchField,
    _compare_birthdate,
    _compare_given,
    _compare_last,
    _email_close,
    _given_names,
    _phone_close,
)
from linker_tui.matching.keys import email_key, name_key, phone_key
from linker_tui.matching.weights import (
    DEFAULT_MODEL,
    NO_FREQUENCIES,
    SWAP_PENALTY,
    B,
    E,
    F,
    Frequencies,
    L,
    MatchModel,
    P,
    Pattern,
    probabilities,
)
from linker_tui.store.enums import MatchLevel

# A best candidate needs at least this probability (and the hard guards) to be exact.
P_EXACT = 0.99


@dataclass(frozen=True)
class TypedIdentity:
    """What a person typed into the booking form."""

    first_name: str
    last_name: str
    birthdate: date | None = None
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PatientRecord:
    """The fields of a PMS patient that matching looks at."""

    id: int
    first_name: str
    last_name: str
    preferred_name: str = ""
    birthdate: date | None = None
    email: str = ""
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoredPatient:
    """A candidate patient with its score and the evidence behind it."""

    patient: PatientRecord
    score: float  # the match weight (bits, Fellegi-Sunter)
    evidence: tuple[Evidence, ...]
    swapped: bool = False
    probability: float = 0.0  # that the request is from this patient

    @property
    def patient_id(self) -> int:
        """The patient's id."""
        return self.patient.id

    def on(self, field_: MatchField) -> Evidence:
        """The evidence for one field."""
        i = _FIELD_ORDER[field_]  # where scoring puts it
        if i < len(self.evidence) and self.evidence[i].field is field_:
            return self.evidence[i]
        return next(e for e in self.evidence if e.field is field_)

    @property
    def name_agrees(self) -> bool:
        """First (or preferred, or a nickname) and last name both agree."""
        return all(
            self.on(f).agreement is Agreement.AGREES
            for f in (MatchField.FIRST_NAME, MatchField.LAST_NAME)
        )

    @property
    def name_close(self) -> bool:
        """Neither name differs or is missing."""
        return all(
            self.on(f).agreement in (Agreement.AGREES, Agreement.CLOSE)
            for f in (MatchField.FIRST_NAME, MatchField.LAST_NAME)
        )

    @property
    def unique_contact_agrees(self) -> bool:
        """An email or phone agrees that no other patient has."""
        return any(
            e.agreement is Agreement.AGREES and e.note == _UNIQUE
            for e in (self.on(MatchField.EMAIL), self.on(MatchField.PHONE))
        )

    @property
    def decisive(self) -> bool:
        """The hard guards an exact match needs, whatever the probability: both names
        agree and the birth date agrees or is one slip off; or one name has a typo and
        the birth date agrees; or, with no birth date, both names agree and a phone or
        email no other patient has. A differing birth date, another given name
        (Robert/Roberta) or a shared family contact never decide."""
        first = self.on(MatchField.FIRST_NAME).level
        last = self.on(MatchField.LAST_NAME).level
        born = self.on(MatchField.BIRTHDATE).level
        names = first in ("same", "nickname") and last in ("same", "part")
        if born == "same":
            typo = (first in ("typo", "part") and last in ("same", "part")) or (
                first in ("same", "nickname") and last == "typo"
            )
            return names or typo or (self.name_close and self.unique_contact_agrees)
        if born in ("swapped", "digit"):
            return names
        return born == "missing" and names and self.unique_contact_agrees

    def summary(self) -> str:
        """``first name agrees (nickname); birth date differs; ...`` for staff and logs."""
        return "; ".join(str(e) for e in self.evidence if e.agreement is not Agreement.MISSING)


@dataclass(frozen=True)
class PatientRanking:
    """The patients a typed identity may belong to, best first, and the verdict."""

    level: MatchLevel
    candidates: tuple[ScoredPatient, ...]
    explanation: str
    error: str = ""  # matching failed (the request is left to staff)

    @property
    def patient_id(self) -> int | None:
        """The decided patient (exact level only)."""
        return self.candidates[0].patient_id if self.level is MatchLevel.EXACT else None


@dataclass(frozen=True)
class _Typed:
    first: str
    last: str
    birthdate: date | None
    email: str
    phone: str


def _plausible(born: date | None) -> bool:
    """A typed birth date that can be somebody's (not 1900-01-01 or in the future)."""
    return born is not None and date(1900, 1, 1) < born <= date.today()


def _normalise(typed: TypedIdentity, region: str) -> _Typed:
    return _Typed(
        first=name_key(typed.first_name),
        last=name_key(typed.last_name),
        birthdate=typed.birthdate if _plausible(typed.birthdate) else None,
        email=email_key(typed.email),
        phone=phone_key(typed.phone, region),
    )


_ScoreRow = tuple[float, int, PatientRecord, tuple[Evidence, ...], bool]

# How a candidate's phone or email compares (before knowing how many patients share it).
_NO_CONTACT, _SAME_CONTACT, _CLOSE_CONTACT, _OTHER_CONTACT = range(4)


def _score_rows(
    t: _Typed,
    patients: Sequence[PatientRecord],
    region: str,
    phone_sharing: int | None,
    email_sharing: int | None,
    model: MatchModel = DEFAULT_MODEL,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> list[_ScoreRow]:
    """The match weight, id, patient, evidence and swap of each candidate (the lean form
    ranking sorts; only the candidates offered become :class:`ScoredPatient`).

    How many patients share the typed phone and email is counted among ``patients``
    when not given. Tight loops: this runs for every candidate of every request.
    """
    compared = _compared(t, patients, region)
    if phone_sharing is None:
        phone_sharing = sum(1 for row in compared if row[5] == _SAME_CONTACT)
    if email_sharing is None:
        email_sharing = sum(1 for row in compared if row[6] == _SAME_CONTACT)
    phone_evidence = _contact_outcomes(MatchField.PHONE, phone_sharing)
    email_evidence = _contact_outcomes(MatchField.EMAIL, email_sharing)
    # The weight of each level for this request (the same value: by how common it is).
    table = model.table
    same = {
        MatchField.FIRST_NAME: model.same_weight(F, frequencies.share(F, t.first)),
        MatchField.LAST_NAME: model.same_weight(L, frequencies.share(L, t.last)),
        MatchField.BIRTHDATE: model.same_weight(B, frequencies.share(B, t.birthdate)),
    }
    contact = (
        (0.0, model.contact_weight(P, phone_sharing), table[P, "close"], table[P, "differs"]),
        (0.0, model.contact_weight(E, email_sharing), table[E, "close"], table[E, "differs"]),
    )
    rows: list[_ScoreRow] = []
    for p, first, last, swapped, born_evidence, phone, email in compared:
        weight = contact[0][phone] + contact[1][email]
        for e in (first, last, born_evidence):
            level = e.level
            if level == "same" and not swapped:
                weight += same[e.field]
            else:
                weight += table[e.field, level]
        if swapped:
            weight += SWAP_PENALTY
        evidence = (first, last, born_evidence, phone_evidence[phone], email_evidence[email])
        rows.append((round(weight, 2), p.id, p, evidence, swapped))
    return rows


_Compared = tuple[PatientRecord, Evidence, Evidence, bool, Evidence, int, int]


def _compared(t: _Typed, patients: Sequence[PatientRecord], region: str) -> list[_Compared]:
    """Each candidate compared field by field: patient, first- and last-name evidence,
    swap, birth-date evidence, and how the phone and email compare (``_NO_CONTACT``...)."""
    typed_first, typed_last, typed_born = t.first, t.last, t.birthdate
    typed_phone, typed_email = t.phone, t.email
    names_evidence, phone_keys, email_keys = _names_evidence, _phone_keys, _email_keys
    compare_birthdate, contact_level = _compare_birthdate, _contact_level
    no_born = _MISSING[MatchField.BIRTHDATE]
    out = []
    for p in patients:
        first, last, swapped = names_evidence(
            typed_first, typed_last, p.first_name, p.preferred_name, p.last_name
        )
        born = p.birthdate
        if typed_born is None or born is None:
            born_evidence = no_born
        elif born == typed_born:
            born_evidence = _BORN_SAME
        else:
            born_evidence = compare_birthdate(typed_born, born)
        phone = email = _NO_CONTACT
        if typed_phone:
            phone = contact_level(typed_phone, phone_keys(p.phones, region), _phone_close)
        if typed_email:
            email = contact_level(typed_email, email_keys(p.email), _email_close)
        out.append((p, first, last, swapped, born_evidence, phone, email))
    return out


def _contact_level(
    typed: str, keys: tuple[str, ...], close: Callable[[str, tuple[str, ...]], bool]
) -> int:
    """How a typed phone or email compares with a patient's (``_NO_CONTACT``...)."""
    if not keys:
        return _NO_CONTACT
    if typed in keys:
        return _SAME_CONTACT
    return _CLOSE_CONTACT if close(typed, keys) else _OTHER_CONTACT


def _contact_outcomes(field_: MatchField, sharing: int) -> tuple[Evidence, ...]:
    """The evidence for each way a contact compares (indexed by ``_NO_CONTACT`` ...)."""
    return (
        _MISSING[field_],
        _CONTACT[field_, "unique" if sharing <= 1 else "shared"],
        _CONTACT[field_, "close"],
        _CONTACT[field_, "differs"],
    )


@lru_cache(maxsize=131_072)
def _names_evidence(
    typed_first: str, typed_last: str, first_name: str, preferred_name: str, last_name: str
) -> tuple[Evidence, Evidence, bool]:
    """First- and last-name evidence, and whether the typed names fit better swapped."""
    first = _compare_given(typed_first, _given_names(first_name, preferred_name))
    last_key = name_key(last_name)
    last = _compare_last(typed_last, last_key)
    if (
        typed_first
        and typed_last
        and (first.agreement is not Agreement.AGREES or last.agreement is not Agreement.AGREES)
    ):
        s_last = _compare_last(typed_first, last_key)
        if s_last.weight + W_NAME_SAME + W_SWAPPED <= first.weight + last.weight:
            return first, last, False  # swapped, even the best first name would not do
        s_first = _compare_given(typed_last, _given_names(first_name, ""))
        if s_first.weight + s_last.weight + W_SWAPPED > first.weight + last.weight:
            note = "first and last name swapped"
            first = replace(s_first, note=note)
            last = replace(s_last, weight=s_last.weight + W_SWAPPED, note=note)
            return first, last, True
    return first, last, False


@lru_cache(maxsize=131_072)
def _phone_keys(phones: tuple[str, ...], region: str) -> tuple[str, ...]:
    """A patient's phone numbers as keys (empty ones left out)."""
    return tuple(k for k in (phone_key(p, region) for p in phones) if k)


@lru_cache(maxsize=131_072)
def _email_keys(email: str) -> tuple[str, ...]:
    """A patient's email as a key, in a tuple (empty when there is none)."""
    return (email_key(email),) if email.strip() else ()


def rank_patients(
    typed: TypedIdentity,
    patients: Sequence[PatientRecord],
    *,
    region: str = "CA",
    phone_sharing: int | None = None,
    email_sharing: int | None = None,
    min_score: float | None = MIN_SCORE,
    model: MatchModel = DEFAULT_MODEL,
    frequencies: Frequencies = NO_FREQUENCIES,
) -> PatientRanking:
    """Score ``patients`` against what was typed and decide: exact, possible or none.

    Each candidate gets a match weight (``model``; names and birth dates weighed by how
    common they are among the practice's patients, ``frequencies``) and a probability.
    Exact needs a best candidate whose probability is at least ``P_EXACT``, that passes
    the hard guards (:attr:`ScoredPatient.decisive`), with no other candidate passing
    them. How many patients share the typed phone and email is counted among
    ``patients`` unless given (the database search passes every patient having them).
    Candidates scoring under ``min_score`` are not offered (``None``: all are, e.g. to
    explain a staff choice).
    """
    t = _normalise(typed, region)
    if not t.first and not t.last:
        return PatientRanking(MatchLevel.NONE, (), "no name was typed")
    rows = _score_rows(t, patients, region, phone_sharing, email_sharing, model, frequencies)
    chances = probabilities([row[0] for row in rows], frequencies.patients)
    chance = {row[1]: c for row, c in zip(rows, chances, strict=True)}
    if min_score is not None:
        rows = [row for row in rows if row[0] >= min_score]
    rows.sort(key=_best_first)
    offered = tuple(
        ScoredPatient(patient, score, _weighed(evidence, model), swapped, round(chance[pid], 6))
        for score, pid, patient, evidence, swapped in rows[:MAX_CANDIDATES]
    )
    if not offered:
        return PatientRanking(MatchLevel.NONE, (), "no patient with this name")
    best = offered[0]
    rivals = [c for c in offered[1:] if c.decisive]
    if best.decisive and not rivals and best.probability >= P_EXACT:
        return PatientRanking(MatchLevel.EXACT, offered, _why_exact(best))
    return PatientRanking(MatchLevel.POSSIBLE, offered, _why_not(t, offered))


def comparison_patterns(
    typed: TypedIdentity, patients: Sequence[PatientRecord], region: str = "CA"
) -> list[Pattern]:
    """The level of each field (first, last, birth date, phone, email) for each of
    ``patients``: what the model is fitted on."""
    t = _normalise(typed, region)
    if not t.first and not t.last:
        return []
    return [
        tuple(e.level for e in evidence)  # type: ignore[misc]
        for _, _, _, evidence, _ in _score_rows(t, patients, region, None, None)
    ]


def _weighed(evidence: tuple[Evidence, ...], model: MatchModel) -> tuple[Evidence, ...]:
    """The evidence with the model's weight of each level (for staff and ``--json``)."""
    cache = model.weighed
    out = []
    for e in evidence:
        found = cache.get(e)
        if found is None:
            found = e
            if e.level not in ("", "missing"):
                found = replace(e, weight=round(model.table[e.field, e.level], 2))
            cache[e] = found
        out.append(found)
    return tuple(out)


def _best_first(row: _ScoreRow) -> tuple[float, int]:
    return -row[0], row[1]


def _why_exact(best: ScoredPatient) -> str:
    born = best.on(MatchField.BIRTHDATE).agreement is Agreement.AGREES
    what = "name and birth date agree" if born else "name and contact details agree"
    notes = [
        e.note for e in (best.on(MatchField.FIRST_NAME), best.on(MatchField.LAST_NAME)) if e.note
    ]
    if best.name_agrees and born and best.unique_contact_agrees:
        what = "name, birth date and contact details agree"
    elif not best.name_agrees:
        what = "birth date agrees, the name is close"
        if best.unique_contact_agrees:
            what = "birth date and contact details agree, the name is close"
    elif best.on(MatchField.BIRTHDATE).agreement is Agreement.CLOSE:
        what = "name agrees, the birth date is one slip off"
    return f"{what} ({', '.join(dict.fromkeys(notes))})" if notes else what


def _why_not(t: _Typed, offered: Sequence[ScoredPatient]) -> str:
    named = [c for c in offered if c.name_agrees]
    others = len(offered) - len(named)
    tail = f"; {len(offered)} possible patients" if len(offered) > 1 else "; 1 possible patient"
    if not named:
        return "no patient with this name" + tail
    born = [c for c in named if c.on(MatchField.BIRTHDATE).agreement is Agreement.AGREES]
    if len(born) > 1:
        return f"{len(born)} patients share this name and birth date"
    if (
        t.birthdate is not None
        and not born
        and any(c.on(MatchField.BIRTHDATE).agreement is not Agreement.MISSING for c in named)
    ):
        return "a patient has this name but another birth date" + (tail if others else "")
    contact = [
        c
        for c in named
        if Agreement.AGREES in (c.on(MatchField.EMAIL).agreement, c.on(MatchField.PHONE).agreement)
    ]
    if len(contact) > 1:
        return f"{len(contact)} patients share this name and contact"
    if len(named) > 1:
        return f"{len(named)} patients have this name"
    if born or contact:
        return "a patient has this name but another patient is alike" + tail
    return "a patient has this name but nothing else agrees" + (tail if others else "")
