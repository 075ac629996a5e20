"""Fellegi-Sunter weights: how much each field's agreement level says, learnt from the
practice's own data, and the match probability of a candidate (pure).

For a field at a level (first name the same, a typo, another name...), ``m`` is how
often the level occurs when the request and the patient are the same person and ``u``
when they are not. A candidate's match weight is the sum of ``log2(m / u)`` over the
fields (missing fields count 0). ``u`` of "the same name" / "the same birth date" is
adjusted to how common the value is among the practice's patients (term frequency): a
rare surname says more than a common one. ``m`` (and the share of candidate pairs that
match) are estimated by expectation-maximisation over the candidate pairs of the
practice's own requests (:func:`fit`); until a fit is stored the defaults below hold.

The probability of each candidate compares "the request is from this patient" with "from
another candidate" and "from somebody who is not a patient" (``PRIOR_KNOWN`` of requests
come from patients), so two alike candidates share the probability between them.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# The fields, as the values of :class:`linker_tui.matching.evidence.MatchField` (a str
# enum: its members are these keys).
F, L, B, P, E = "first name", "last name", "birth date", "phone", "email"
MatchField = str

# The levels of each field, with (m, u) before any fit. u of a contact that agrees is
# per patient having it (a family's shared phone: u times the number of patients).
DEFAULTS: dict[MatchField, dict[str, tuple[float, float]]] = {
    F: {
        "same": (0.86, 0.01),
        "nickname": (0.05, 0.004),
        "part": (0.01, 0.001),
        "typo": (0.04, 0.004),
        "short": (0.01, 0.003),
        "initial": (0.01, 0.03),
        "other": (0.005, 0.02),
        "differs": (0.015, 0.928),
    },
    L: {
        "same": (0.9, 0.004),
        "part": (0.02, 0.0003),
        "typo": (0.05, 0.002),
        "sounds": (0.01, 0.003),
        "differs": (0.02, 0.9907),
    },
    B: {
        "same": (0.86, 0.00004),
        "swapped": (0.02, 0.00001),
        "digit": (0.06, 0.0004),
        "differs": (0.06, 0.99955),
    },
    P: {"same": (0.6, 0.001), "close": (0.02, 0.004), "differs": (0.38, 0.995)},
    E: {"same": (0.6, 0.001), "close": (0.02, 0.01), "differs": (0.38, 0.989)},
}
SWAP_PENALTY = -1.0  # bits: first and last name typed the other way round
PRIOR_KNOWN = 0.9  # share of requests that come from a patient of the practice
# A practice is taken to have at least this many patients (a new database's first few
# patients do not make every name "common").
MIN_POPULATION = 1_000
# u of the same value never falls under this (a name or date only one patient has).
_U_FLOOR = {F: 0.0002, L: 0.0001, B: 0.00002}


@dataclass(frozen=True)
class MatchModel:
    """m and u per field and level, and where they come from."""

    m: Mapping[MatchField, Mapping[str, float]]
    u: Mapping[MatchField, Mapping[str, float]]
    source: str = "defaults"
    table: dict[tuple[MatchField, str], float] = field(default_factory=dict, compare=False)
    weighed: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)  # cache

    def __post_init__(self) -> None:
        weights = {(f, level): self.weight(f, level) for f in self.m for level in self.m[f]}
        weights.update({(f, "missing"): 0.0 for f in self.m})
        self.table.update(weights)

    def weight(self, field_: MatchField, level: str) -> float:
        """``log2(m / u)`` of a level (0 for a missing field)."""
        if level in ("", "missing"):
            return 0.0
        return math.log2(self.m[field_][level] / self.u[field_][level])

    def same_weight(self, field_: MatchField, share: float | None) -> float:
        """The weight of "the same value", ``share`` being the part of the practice's
        patients having it (None: unknown, the field's average u)."""
        u = self.u[field_]["same"] if share is None else max(share, _U_FLOOR[field_])
        return math.log2(self.m[field_]["same"] / u)

    def contact_weight(self, field_: MatchField, sharing: int) -> float:
        """The weight of a phone or email that ``sharing`` patients have."""
        return math.log2(self.m[field_]["same"] / (self.u[field_]["same"] * max(sharing, 1)))

    def to_json(self) -> str:
        """The model as JSON (stored in the database after a fit)."""
        return json.dumps(
            {
                "source": self.source,
                "m": {str(f): dict(v) for f, v in self.m.items()},
                "u": {str(f): dict(v) for f, v in self.u.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> MatchModel:
        """A model stored by :meth:`to_json` (levels it lacks keep their defaults)."""
        data = json.loads(text)
        m = {f: {**{k: v[0] for k, v in DEFAULTS[f].items()}} for f in DEFAULTS}
        u = {f: {**{k: v[1] for k, v in DEFAULTS[f].items()}} for f in DEFAULTS}
        for table, target in ((data["m"], m), (data["u"], u)):
            for name, levels in table.items():
                field_ = name
                target[field_].update(
                    {k: float(v) for k, v in levels.items() if k in target[field_]}
                )
        return cls(m, u, str(data.get("source", "stored")))


DEFAULT_MODEL = MatchModel(
    {f: {k: v[0] for k, v in levels.items()} for f, levels in DEFAULTS.items()},
    {f: {k: v[1] for k, v in levels.items()} for f, levels in DEFAULTS.items()},
)


@dataclass(frozen=True)
class Frequencies:
    """How many of the practice's patients have each value (for term frequencies)."""

    patients: int = 0
    first: Mapping[str, int] = field(default_factory=dict)
    last: Mapping[str, int] = field(default_factory=dict)
    born: Mapping[date, int] = field(default_factory=dict)

    def share(self, field_: MatchField, value: object) -> float | None:
        """The part of the patients having ``value`` (None when not counted)."""
        table: Mapping[object, int] = {F: self.first, L: self.last, B: self.born}[field_]  # type: ignore[assignment]
        count = table.get(value)
        if not count or not self.patients:
            return None
        return count / max(self.patients, MIN_POPULATION)


NO_FREQUENCIES = Frequencies()


def probabilities(weights: list[float], patients: int) -> list[float]:
    """The match probability of each candidate of one request, from their weights:
    P(this patient) against the other candidates and against somebody new."""
    population = max(patients, MIN_POPULATION)
    prior = math.log2(PRIOR_KNOWN / ((1 - PRIOR_KNOWN) * population))
    top = max(weights, default=0.0) + prior
    shift = max(top, 0.0)  # keep 2**x finite
    odds = [2.0 ** (w + prior - shift) for w in weights]
    none = 2.0**-shift
    total = sum(odds) + none
    return [o / total for o in odds]


# ----------------------------------------------------------------------------- fitting

Pattern = tuple[str, str, str, str, str]  # the level of each field (first, last, born...)
# The start model counts as this many candidate pairs in the fit (a Dirichlet prior).
PRIOR_PAIRS = 500
# Levels a fit may make rarer for the same person, never more common: another given name,
# a different name or birth date. Unlabelled requests from a twin or a new family member
# look like their sibling in every other field, and EM would take them for matches.
_NEVER_MORE_LIKELY = frozenset({(F, "other"), (F, "differs"), (L, "differs"), (B, "differs")})
_FIELDS = (F, L, B, P, E)


def fit(
    requests: Iterable[Sequence[Pattern]],
    patients: int,
    u: Mapping[MatchField, Mapping[str, float]] | None = None,
    *,
    iterations: int = 15,
    start: MatchModel = DEFAULT_MODEL,
) -> MatchModel:
    """Estimate m by expectation-maximisation over the level patterns of each request's
    candidates, u held fixed (``u``: from the practice's patients, see
    :func:`population_u`; else the start model's), the start model's m counting as
    ``PRIOR_PAIRS`` pairs.

    The expectation step is the ranking's own: each request is from at most one of its
    candidates or from somebody new (:func:`probabilities`), so a family sharing a
    phone does not count as several matches. Levels never seen keep their start value;
    every m stays within [0.001, 0.999]."""
    groups = Counter(tuple(patterns) for patterns in requests if patterns)
    if not groups:
        return start
    u_table = {f: dict(start.u[f]) for f in _FIELDS}
    for f, levels in (u or {}).items():
        u_table[f].update(levels)
    m_table = {f: dict(start.m[f]) for f in _FIELDS}
    pairs = sum(len(g) * n for g, n in groups.items())
    for _ in range(iterations):
        totals = _expected_levels(groups, m_table, u_table, patients)
        m_table = _maximised(totals, m_table, start)
    return MatchModel(m_table, u_table, f"fitted on {pairs} candidate pairs")


_Table = dict[MatchField, dict[str, float]]


def _expected_levels(
    groups: Mapping[tuple[Pattern, ...], int], m_table: _Table, u_table: _Table, patients: int
) -> dict[MatchField, dict[str, float]]:
    """The expectation step: how many matching pairs show each level, each request's
    candidates weighed by the chance that the request is from them."""
    weight = {
        (f, level): math.log2(m_table[f][level] / u_table[f][level])
        for f in _FIELDS
        for level in m_table[f]
    }
    totals: dict[MatchField, dict[str, float]] = {f: defaultdict(float) for f in _FIELDS}
    for group, count in groups.items():
        scores = [
            sum(
                weight[f, level]
                for f, level in zip(_FIELDS, pattern, strict=True)
                if level != "missing"
            )
            for pattern in group
        ]
        for pattern, chance in zip(group, probabilities(scores, patients), strict=True):
            for f, level in zip(_FIELDS, pattern, strict=True):
                if level != "missing":
                    totals[f][level] += chance * count
    return totals


def _maximised(totals: _Table, m_table: _Table, start: MatchModel) -> _Table:
    """The maximisation step: m from the expected counts, the start model as
    ``PRIOR_PAIRS`` pseudo-pairs (a rare level is not decided by a handful of pairs)."""
    out: _Table = {}
    for f in _FIELDS:
        seen = sum(totals[f].values()) + PRIOR_PAIRS
        levels = {}
        for level in m_table[f]:
            found = (totals[f].get(level, 0.0) + PRIOR_PAIRS * start.m[f][level]) / seen
            if (f, level) in _NEVER_MORE_LIKELY:
                found = min(found, start.m[f][level])
            levels[level] = min(max(found, 0.001), 0.999)
        norm = sum(levels.values())
        out[f] = {k: v / norm for k, v in levels.items()}
    return out


def population_u(
    frequencies: Iterable[tuple[MatchField, Iterable[int]]],
) -> dict[MatchField, dict[str, float]]:
    """u of "the same value" from the practice's patients: the chance that two patients
    taken at random share it, sum of (count / patients) squared, per field."""
    out: dict[MatchField, dict[str, float]] = {}
    for f, counts in frequencies:
        values = list(counts)
        total = sum(values)
        if total:
            out[f] = {"same": max(sum((c / total) ** 2 for c in values), _U_FLOOR[f])}
    return out
