"""Known given names (``given_names.csv``: the sex each is usually given to, how common
it is, and equivalent names), to tell a typo from another person's name (pure)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from rapidfuzz.distance import DamerauLevenshtein


@dataclass(frozen=True)
class GivenName:
    """A known given name: ``M``, ``F`` or ``?`` (both), and frequency 1 (rare) to 13."""

    sex: str
    frequency: int


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, GivenName], tuple[tuple[str, str], ...]]:
    text = files("linker_tui.matching").joinpath("given_names.csv").read_text(encoding="utf-8")
    names: dict[str, GivenName] = {}
    equivalents: list[tuple[str, str]] = []
    for row in csv.reader(line for line in text.splitlines() if not line.startswith("#")):
        if row[0] == "=":
            equivalents.append((row[1], row[2]))
        else:
            names[row[0]] = GivenName(row[1], int(row[2]))
    return names, tuple(equivalents)


def given_name(key: str) -> GivenName | None:
    """What the name list says about a name key (None: not a known given name)."""
    return _table()[0].get(key)


def equivalent_names() -> tuple[tuple[str, str], ...]:
    """Pairs of name keys the list gives as the same name (``sam``/``samuel``)."""
    return _table()[1]


@lru_cache(maxsize=65_536)
def distinct_given_names(a: str, b: str) -> bool:
    """Whether two different compact name keys are two people's names, not one name
    mistyped: both are known given names (variants were checked before) and they are
    usually given to different sexes (``robert``/``roberta``, ``michelle``/``mitchell``),
    or one is the other lengthened (``jack``/``jackson``, ``sam``/``samara``), or they
    differ by more than one slip of the keyboard (``nicola``/``nicholas``); while
    ``micheal``/``michael`` and ``jenifer``/``jennifer`` stay typos."""
    if a == b:
        return False
    known_a, known_b = given_name(a), given_name(b)
    if known_a is None or known_b is None:
        return False
    if {known_a.sex, known_b.sex} == {"M", "F"}:
        return True
    shorter, longer = sorted((a, b), key=len)
    return longer.startswith(shorter) or DamerauLevenshtein.distance(a, b, score_cutoff=2) > 1
