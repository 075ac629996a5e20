"""Known given names (``given_names.csv``: the sex each is usually given to, how common
it is, and equivalent names), to tell a typo from another person's name (pure)."""

from __future__ import annotations

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
def _table() -> tuple[dict[str, tuple[str, str]], tuple[tuple[str, str], ...]]:
    """The list as written: name key → (sex, frequency), and the pairs of equivalent names.

    Its lines are plain ``a,b,c`` (``scripts/build_given_names.py`` writes name keys,
    which need no quoting), split here by hand; a ``GivenName`` is made when a name is
    looked up. The first page of requests ranks the ones not ranked yet, which reads
    this list: csv.reader and 12,861 objects made that about three times slower."""
    text = files("linker_tui.matching").joinpath("given_names.csv").read_text(encoding="utf-8")
    names: dict[str, tuple[str, str]] = {}
    equivalents: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        first, second, third = line.split(",")
        if first == "=":
            equivalents.append((second, third))
        else:
            names[first] = (second, third)
    return names, tuple(equivalents)


@lru_cache(maxsize=8192)
def given_name(key: str) -> GivenName | None:
    """What the name list says about a name key (None: not a known given name)."""
    found = _table()[0].get(key)
    return None if found is None else GivenName(found[0], int(found[1]))


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
