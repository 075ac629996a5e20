"""Field-by-field comparison of a typed identity with a patient: the evidence (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from linker_tui.matching.keys import (
    are_nicknames,
    compact_key,
    name_key,
    name_tokens,
    nickname_variants,
    soundex,
)
from linker_tui.matching.names import distinct_given_names
from linker_tui.matching.weights import DEFAULT_MODEL, SWAP_PENALTY, F

# --------------------------------------------------------------------------- evidence


class Agreement(StrEnum):
    """How one field of the typed identity compares with a patient's."""

    AGREES = "agrees"
    CLOSE = "close"
    DIFFERS = "differs"
    MISSING = "missing"


class MatchField(StrEnum):
    """The fields compared."""

    FIRST_NAME = "first name"
    LAST_NAME = "last name"
    BIRTHDATE = "birth date"
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True)
class Evidence:
    """What one field says: agrees / close / differs / missing, why, and its weight."""

    field: MatchField
    agreement: Agreement
    weight: float
    note: str = ""
    level: str = ""  # the Fellegi-Sunter level (see weights.DEFAULTS)

    def __str__(self) -> str:
        text = f"{self.field.value} {self.agreement.value}"
        return f"{text} ({self.note})" if self.note else text


_FIELD_ORDER = {f: i for i, f in enumerate(MatchField)}


# Default weights (bits) of the levels, to choose between a patient's names and to try
# swapped names; the score itself uses the practice's model (weights.MatchModel).
W_NAME_SAME = DEFAULT_MODEL.weight(F, "same")
W_NAME_NICK = DEFAULT_MODEL.weight(F, "nickname")
W_NAME_PART = DEFAULT_MODEL.weight(F, "part")
W_NAME_TYPO = DEFAULT_MODEL.weight(F, "typo")
W_NAME_PREFIX = DEFAULT_MODEL.weight(F, "short")
W_NAME_INITIAL = DEFAULT_MODEL.weight(F, "initial")
W_NAME_OTHER = DEFAULT_MODEL.weight(F, "other")
W_NAME_DIFFERS = DEFAULT_MODEL.weight(F, "differs")
W_SWAPPED = SWAP_PENALTY
# Candidates scoring below this (bits) are not offered.
MIN_SCORE = 0.0
MAX_CANDIDATES = 10

_UNIQUE = "only this patient"
_SHARED = "shared with other patients"


def _is_typo(a: str, b: str) -> bool:
    """One edit apart (two for long names), or very alike by Jaro-Winkler."""
    if not a or not b or (a[0] != b[0] and len(a) < 5):
        return False
    size_a, size_b = len(a), len(b)
    longest = size_a if size_a > size_b else size_b
    # The distance is at least the difference in length (no need to compute it then).
    if longest >= 4 and -2 <= size_a - size_b <= 2:
        distance = DamerauLevenshtein.distance(a, b, score_cutoff=2)
        if distance <= 1 or (distance <= 2 and longest >= 8):
            return True
    return (
        min(size_a, size_b) >= 4
        and JaroWinkler.normalized_similarity(a, b, score_cutoff=0.9) >= 0.9
    )


@lru_cache(maxsize=65_536)
def _given_names(first_name: str, preferred_name: str) -> tuple[tuple[str, str], ...]:
    """A patient's given names as keys, with why each counts (the preferred name)."""
    keys = ((name_key(first_name), ""), (name_key(preferred_name), "preferred name"))
    return tuple((key, why) for key, why in keys if key)  # "?", "-": no name at all


@lru_cache(maxsize=131_072)
def _compare_given(typed: str, names: tuple[tuple[str, str], ...]) -> Evidence:
    if not typed or not names:
        return _MISSING[MatchField.FIRST_NAME]
    best = _FIRST_DIFFERS
    typed_compact = compact_key(typed)
    for key, why in names:
        found = _given_evidence(typed, typed_compact, key, why)
        if found.weight > best.weight:
            best = found
    return best


@lru_cache(maxsize=65_536)
def _given_evidence(typed: str, typed_compact: str, key: str, why: str) -> Evidence:
    first = MatchField.FIRST_NAME
    if typed == key or typed_compact == compact_key(key):
        return Evidence(first, Agreement.AGREES, W_NAME_SAME, why, "same")
    if are_nicknames(typed, key):
        return Evidence(first, Agreement.AGREES, W_NAME_NICK, f"nickname of {key}", "nickname")
    typed_words, words = typed.split(), key.split()
    if typed_words[0] == words[0] or (
        set(typed_words) & set(words) and len(typed_words) != len(words)
    ):
        return Evidence(first, Agreement.CLOSE, W_NAME_PART, f"part of {key}", "part")
    compact = compact_key(key)
    typo = _is_typo(typed_compact, compact) or _typo_of_any(typed, _other_variants(key))
    shorter, longer = sorted((typed_compact, compact), key=len)
    short = len(shorter) >= 3 and longer.startswith(shorter)
    if (typo or short) and distinct_given_names(typed_compact, compact):
        # Roberta is not a typo of Robert: a twin or sibling, never the same person.
        return Evidence(first, Agreement.DIFFERS, W_NAME_OTHER, f"another name than {key}", "other")
    if typo:
        return Evidence(first, Agreement.CLOSE, W_NAME_TYPO, "spelt differently", "typo")
    if short:
        return Evidence(first, Agreement.CLOSE, W_NAME_PREFIX, "short form", "short")
    if len(shorter) == 1 and longer.startswith(shorter):
        return Evidence(first, Agreement.CLOSE, W_NAME_INITIAL, "initial", "initial")
    return Evidence(first, Agreement.DIFFERS, W_NAME_DIFFERS, why, "differs")


@lru_cache(maxsize=8192)
def _other_variants(key: str) -> tuple[str, ...]:
    """The nickname variants of a name key but itself."""
    return tuple(sorted(nickname_variants(key) - {key}))


def _typo_of_any(typed: str, names: tuple[str, ...]) -> bool:
    """Whether ``typed`` is a typo of one of ``names``."""
    if len(names) > 2 and (
        # None is close enough to be a typo by either measure: no need to try each.
        process.extractOne(typed, names, scorer=DamerauLevenshtein.distance, score_cutoff=2) is None
        and process.extractOne(
            typed, names, scorer=JaroWinkler.normalized_similarity, score_cutoff=0.9
        )
        is None
    ):
        return False
    return any(_is_typo(typed, n) for n in names)


@lru_cache(maxsize=65_536)
def _compare_last(typed: str, key: str) -> Evidence:
    if not typed or not key:
        return _MISSING[MatchField.LAST_NAME]
    if typed == key:
        return _LAST_SAME
    typed_compact, compact = compact_key(typed), compact_key(key)
    if typed_compact == compact:
        return _LAST_SAME
    typed_words, words = name_tokens(typed), name_tokens(key)
    if typed_words <= words or words <= typed_words:
        return _LAST_PART
    if _is_typo(typed_compact, compact) or (
        # one word each: the words are the compact forms, already compared
        (" " in typed or " " in key) and any(_is_typo(a, b) for a in typed_words for b in words)
    ):
        return _LAST_TYPO
    if soundex(typed_compact) == soundex(compact):
        return _LAST_SOUNDS
    return _LAST_DIFFERS


def _level(field_: MatchField, agreement: Agreement, level: str, note: str = "") -> Evidence:
    return Evidence(field_, agreement, DEFAULT_MODEL.weight(field_, level), note, level)


_LAST_SAME = _level(MatchField.LAST_NAME, Agreement.AGREES, "same")
_LAST_PART = _level(MatchField.LAST_NAME, Agreement.AGREES, "part", "part of a compound surname")
_LAST_TYPO = _level(MatchField.LAST_NAME, Agreement.CLOSE, "typo", "spelt differently")
_LAST_SOUNDS = _level(MatchField.LAST_NAME, Agreement.CLOSE, "sounds", "sounds alike")
_LAST_DIFFERS = _level(MatchField.LAST_NAME, Agreement.DIFFERS, "differs")


# The evidence that does not depend on the names compared, built once (Evidence is
# immutable; scoring many candidates then allocates little).
_MISSING = {f: Evidence(f, Agreement.MISSING, 0.0, "", "missing") for f in MatchField}
_FIRST_DIFFERS = _level(MatchField.FIRST_NAME, Agreement.DIFFERS, "differs")
_BORN_SAME = _level(MatchField.BIRTHDATE, Agreement.AGREES, "same")
_BORN_SWAPPED = _level(MatchField.BIRTHDATE, Agreement.CLOSE, "swapped", "day and month swapped")
_BORN_DIGIT = _level(MatchField.BIRTHDATE, Agreement.CLOSE, "digit", "one digit differs")
_BORN_DIFFERS = _level(MatchField.BIRTHDATE, Agreement.DIFFERS, "differs")
_CONTACT = {
    (f, outcome): _level(f, agreement, level, note)
    for f in (MatchField.PHONE, MatchField.EMAIL)
    for outcome, agreement, level, note in (
        ("unique", Agreement.AGREES, "same", _UNIQUE),
        ("shared", Agreement.AGREES, "same", _SHARED),
        ("close", Agreement.CLOSE, "close", "similar"),
        ("differs", Agreement.DIFFERS, "differs", ""),
    )
}


def _compare_birthdate(typed: date | None, found: date | None) -> Evidence:
    if typed is None or found is None:
        return _MISSING[MatchField.BIRTHDATE]
    if typed == found:
        return _BORN_SAME
    if typed.year == found.year and typed.month == found.day and typed.day == found.month:
        return _BORN_SWAPPED
    # One character of the ISO date differs: only one of year, month and day can differ.
    differing = (typed.year != found.year) + (typed.month != found.month) + (typed.day != found.day)
    if differing == 1:
        a, b = typed.isoformat(), found.isoformat()
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1 or (
            (typed.month, typed.day) == (found.month, found.day)
            and abs(typed.year - found.year) == 1
        ):
            return _BORN_DIGIT
    return _BORN_DIFFERS


def _phone_close(typed: str, found: Sequence[str]) -> bool:
    """One digit differs, or two adjacent digits are swapped."""
    size = len(typed)
    half = size // 2
    for other in found:
        if len(other) != size:
            continue
        # Such numbers differ in at most two adjacent places: one half is the same, or
        # all but the two digits in the middle are (a quick test before the distance).
        if (
            typed[:half] == other[:half]
            or typed[half:] == other[half:]
            or (typed[: half - 1] == other[: half - 1] and typed[half + 1 :] == other[half + 1 :])
        ) and DamerauLevenshtein.distance(typed, other, score_cutoff=1) <= 1:
            return True
    return False


def _email_close(typed: str, found: Sequence[str]) -> bool:
    local, _, domain = typed.partition("@")
    for other in found:
        other_local, _, other_domain = other.partition("@")
        if local == other_local or (
            domain == other_domain
            and abs(len(local) - len(other_local)) <= 1
            and DamerauLevenshtein.distance(local, other_local, score_cutoff=1) <= 1
        ):
            return True
    return False
