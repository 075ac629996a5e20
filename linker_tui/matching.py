"""Pure functions: which patient a request belongs to, and which of their appointments
could be the one the request asks for."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo

import phonenumbers
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from linker_tui.text import casefold_ascii

_NON_NAME = re.compile(r"[^a-z0-9 ]+")


@lru_cache(maxsize=65_536)
def name_key(name: str) -> str:
    """Normalise a name for comparison: no case, accents, punctuation or extra spaces."""
    folded = casefold_ascii(name).replace("-", " ").replace("'", "")
    return " ".join(_NON_NAME.sub(" ", folded).split())


_NANP_REGIONS = frozenset(
    {"CA", "US", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN", "KY"}
    | {"LC", "MP", "MS", "PR", "SX", "TC", "TT", "VC", "VG", "VI"}
)
_NANP_PLAIN = re.compile(
    r"^[\s()+.\-/]*(?:1[\s()+.\-/]*)?([2-9]\d{2})[\s().\-/]*(\d{3})[\s.\-/]*(\d{4})\s*$"
)


def phone_key(phone: str, region: str = "CA") -> str:
    """A phone number as digits, for comparison: ``"+1 (416) 555-0134"`` → ``"4165550134"``.

    Numbers are read with the ``phonenumbers`` package, ``region`` being where numbers
    without a country code are from. A number of the region's own country becomes its
    national digits; a foreign one becomes ``+`` country code and national digits;
    extensions are dropped. Text that is no phone number keeps just its digits.
    """
    return _phone_key(phone.strip(), region.upper())


@lru_cache(maxsize=65_536)
def _phone_key(phone: str, region: str) -> str:
    if not phone:
        return ""
    if region in _NANP_REGIONS:
        plain = _NANP_PLAIN.match(phone)  # the common case, without the parser's cost
        if plain:
            return "".join(plain.groups())
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        national = phonenumbers.national_significant_number(number)
        if number.country_code == phonenumbers.country_code_for_region(region):
            return national
        return f"+{number.country_code}{national}"
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1") and region in _NANP_REGIONS:
        digits = digits[1:]
    return digits


_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def email_key(email: str) -> str:
    """An email address as the mailbox it reaches: no case, no ``+tag``, no Gmail dots."""
    text = email.strip().removeprefix("mailto:").strip().casefold()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return text
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


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
class PatientMatch:
    """The patient a request belongs to (``patient_id``), or why none was chosen."""

    patient_id: int | None
    explanation: str


def match_patient(typed: TypedIdentity, patients: Iterable[PatientRecord]) -> PatientMatch:
    """Choose the one patient whose name agrees and whose birth date or contact confirms it.

    The name (first, preferred or a nickname of it, and last) must agree. Among those, an
    equal birth date decides; without a birth date on either side, an email or phone
    that only one of the given patients has decides. Contact details alone never decide
    (families share them), a different birth date never lets a name decide, and two
    patients scoring alike give no match rather than a guess. See :func:`rank_patients`.
    """
    ranking = rank_patients(typed, list(patients))
    return PatientMatch(ranking.patient_id, ranking.explanation)


# --------------------------------------------------------------------------- names

# Particles of compound surnames that alone say little about a person.
_PARTICLES = frozenset(
    {"de", "da", "di", "do", "du", "del", "della", "der", "des", "den", "dos", "das"}
    | {"la", "le", "les", "lo", "van", "von", "ter", "ten", "st", "ste", "y", "e"}
)


def compact_key(key: str) -> str:
    """A name key without spaces: ``"de la cruz"`` → ``"delacruz"``."""
    return key.replace(" ", "")


@lru_cache(maxsize=65_536)
def name_tokens(key: str) -> frozenset[str]:
    """The telling words of a name key, without particles (``"van der berg"`` → ``{berg}``)."""
    words = key.split()
    telling = [w for w in words if w not in _PARTICLES]
    return frozenset(telling or words)


def last_name_alt_keys(last_name: str) -> frozenset[str]:
    """Other keys under which a compound or particle surname may be typed.

    ``"Lefèvre-Côté"`` → ``{"lefevre", "cote", "lefevrecote"}``, ``"De la Cruz"`` →
    ``{"cruz", "delacruz"}``; empty for a one-word surname (its key says it all).
    """
    key = name_key(last_name)
    if " " not in key:
        return frozenset()
    return frozenset({*name_tokens(key), compact_key(key)} - {key})


def typed_last_name_keys(last_name: str) -> frozenset[str]:
    """The keys a typed surname is looked up under (whole, compact, and each word)."""
    key = name_key(last_name)
    if not key:
        return frozenset()
    return frozenset({key, compact_key(key), *name_tokens(key)})


_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


@lru_cache(maxsize=65_536)
def soundex(key: str, length: int = 4) -> str:
    """American Soundex of a name key (``"Robert"`` → ``"r163"``); digits are ignored.

    A longer ``length`` keeps more of the name's consonants (fewer names share a code).
    """
    letters = [ch for ch in key if "a" <= ch <= "z"]
    if not letters:
        return ""
    codes = [ch.translate(_SOUNDEX) for ch in letters]
    out, last = [letters[0]], codes[0]
    for ch, code in zip(letters[1:], codes[1:], strict=True):
        if code.isdigit() and code != last:
            out.append(code)
        if ch not in "hw":
            last = code
    return "".join(out)[:length].ljust(4, "0")


def last_name_sound(last_name: str) -> str:
    """The phonetic key of a surname, for finding it despite a typo (Soundex, up to 8
    characters: ``"Thompson"`` → ``"t5125"``, as ``"Tomphson"``)."""
    return soundex(compact_key(name_key(last_name)), 8)


@lru_cache(maxsize=1)
def nickname_groups() -> dict[str, frozenset[int]]:
    """Name key → the numbers of the nickname groups it belongs to (``nicknames.csv``)."""
    groups: dict[str, set[int]] = {}
    text = files("linker_tui").joinpath("nicknames.csv").read_text(encoding="utf-8")
    rows = (r for r in csv.reader(line for line in text.splitlines() if not line.startswith("#")))
    for number, row in enumerate(rows):
        for name in row:
            key = name_key(name)
            if key:
                groups.setdefault(key, set()).add(number)
    return {key: frozenset(numbers) for key, numbers in groups.items()}


def nickname_variants(first_name: str) -> frozenset[str]:
    """The name key and every name key sharing a nickname group with it."""
    return _nickname_variants(name_key(first_name))


@lru_cache(maxsize=8192)
def _nickname_variants(key: str) -> frozenset[str]:
    if not key:
        return frozenset()
    table = nickname_groups()
    numbers = table.get(key)
    if not numbers:
        return frozenset({key})
    return frozenset({key, *(k for k, n in table.items() if n & numbers)})


def are_nicknames(a: str, b: str) -> bool:
    """Whether two name keys are in one nickname group (``bill``, ``william``)."""
    table = nickname_groups()
    return bool(table.get(a, frozenset()) & table.get(b, frozenset()))


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class PatientKeys:
    """The normalised columns a patient row is found by (computed when it is stored)."""

    first_name_key: str
    last_name_key: str
    preferred_name_key: str
    last_name_sound: str
    email_key: str
    phone_home_key: str
    phone_mobile_key: str
    last_name_alt_keys: frozenset[str]

    def columns(self) -> dict[str, str]:
        """The values of the patient table's key columns."""
        values = dict(vars(self))
        del values["last_name_alt_keys"]
        return values


def patient_keys(
    first_name: str,
    last_name: str,
    preferred_name: str = "",
    email: str = "",
    phone_home: str = "",
    phone_mobile: str = "",
    region: str = "CA",
) -> PatientKeys:
    """Compute a patient's search keys."""
    return PatientKeys(
        first_name_key=name_key(first_name),
        last_name_key=name_key(last_name),
        preferred_name_key=name_key(preferred_name),
        last_name_sound=last_name_sound(last_name),
        email_key=email_key(email),
        phone_home_key=phone_key(phone_home, region),
        phone_mobile_key=phone_key(phone_mobile, region),
        last_name_alt_keys=last_name_alt_keys(last_name),
    )


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

    def __str__(self) -> str:
        text = f"{self.field.value} {self.agreement.value}"
        return f"{text} ({self.note})" if self.note else text


_FIELD_ORDER = {f: i for i, f in enumerate(MatchField)}


class MatchLevel(StrEnum):
    """How sure the matcher is about a request's patient."""

    EXACT = "exact"  # one patient, decided
    POSSIBLE = "possible"  # candidates for staff to choose from
    NONE = "none"  # nobody resembles the typed identity


@dataclass(frozen=True)
class ScoredPatient:
    """A candidate patient with its score and the evidence behind it."""

    patient: PatientRecord
    score: float
    evidence: tuple[Evidence, ...]
    swapped: bool = False

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
        """Strong enough to decide alone: name and birth date, or name and a unique contact.

        A name with a typo counts only with both a birth date and a unique contact.
        """
        born = self.on(MatchField.BIRTHDATE).agreement
        if born is Agreement.AGREES and self.name_agrees:
            return True
        if born is Agreement.MISSING and self.name_agrees:
            return self.unique_contact_agrees
        return born is Agreement.AGREES and self.name_close and self.unique_contact_agrees

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


# Weights: log-odds-like points per field and agreement. A decision never rests on the
# total alone (see ScoredPatient.decisive); the total orders the candidates.
W_NAME_SAME = 4.0
W_NAME_NICK = 3.0
W_LAST_PART = 3.0
W_NAME_TYPO = 2.0
W_NAME_PREFIX = 1.5
W_NAME_INITIAL = 0.5
W_NAME_DIFFERS = -3.0
W_SWAPPED = -0.5
W_BORN_SAME = 5.0
W_BORN_TYPO = 1.5
W_BORN_DIFFERS = -5.0
W_CONTACT_UNIQUE = 3.0
W_CONTACT_SHARED = 1.0
W_CONTACT_CLOSE = 0.5
W_CONTACT_DIFFERS = -0.5
# Two candidates closer than this are "alike": neither is picked silently.
ALIKE_MARGIN = 2.5
# Candidates scoring below this are not offered.
MIN_SCORE = 1.0
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


def _compare_first(typed: str, patient: PatientRecord) -> Evidence:
    return _compare_given(typed, _given_names(patient.first_name, patient.preferred_name))


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
        return Evidence(first, Agreement.AGREES, W_NAME_SAME, why)
    if are_nicknames(typed, key):
        return Evidence(first, Agreement.AGREES, W_NAME_NICK, f"nickname of {key}")
    typed_words, words = typed.split(), key.split()
    if typed_words[0] == words[0] or (
        set(typed_words) & set(words) and len(typed_words) != len(words)
    ):
        return Evidence(first, Agreement.CLOSE, W_NAME_TYPO, f"part of {key}")
    if _is_typo(typed_compact, compact_key(key)) or _typo_of_any(typed, _other_variants(key)):
        return Evidence(first, Agreement.CLOSE, W_NAME_TYPO, "spelt differently")
    shorter, longer = sorted((typed_compact, compact_key(key)), key=len)
    if len(shorter) >= 3 and longer.startswith(shorter):
        return Evidence(first, Agreement.CLOSE, W_NAME_PREFIX, "short form")
    if len(shorter) == 1 and longer.startswith(shorter):
        return Evidence(first, Agreement.CLOSE, W_NAME_INITIAL, "initial")
    return Evidence(first, Agreement.DIFFERS, W_NAME_DIFFERS, why)


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


_LAST_SAME = Evidence(MatchField.LAST_NAME, Agreement.AGREES, W_NAME_SAME)
_LAST_PART = Evidence(
    MatchField.LAST_NAME, Agreement.AGREES, W_LAST_PART, "part of a compound surname"
)
_LAST_TYPO = Evidence(MatchField.LAST_NAME, Agreement.CLOSE, W_NAME_TYPO, "spelt differently")
_LAST_SOUNDS = Evidence(MatchField.LAST_NAME, Agreement.CLOSE, W_NAME_PREFIX, "sounds alike")
_LAST_DIFFERS = Evidence(MatchField.LAST_NAME, Agreement.DIFFERS, W_NAME_DIFFERS)


# The evidence that does not depend on the names compared, built once (Evidence is
# immutable; scoring many candidates then allocates little).
_MISSING = {f: Evidence(f, Agreement.MISSING, 0.0) for f in MatchField}
_FIRST_DIFFERS = Evidence(MatchField.FIRST_NAME, Agreement.DIFFERS, W_NAME_DIFFERS)
_BORN_SAME = Evidence(MatchField.BIRTHDATE, Agreement.AGREES, W_BORN_SAME)
_BORN_SWAPPED = Evidence(
    MatchField.BIRTHDATE, Agreement.CLOSE, W_BORN_TYPO, "day and month swapped"
)
_BORN_DIGIT = Evidence(MatchField.BIRTHDATE, Agreement.CLOSE, W_BORN_TYPO, "one digit differs")
_BORN_DIFFERS = Evidence(MatchField.BIRTHDATE, Agreement.DIFFERS, W_BORN_DIFFERS)
_CONTACT = {
    (f, outcome): Evidence(f, agreement, weight, note)
    for f in (MatchField.PHONE, MatchField.EMAIL)
    for outcome, agreement, weight, note in (
        ("unique", Agreement.AGREES, W_CONTACT_UNIQUE, _UNIQUE),
        ("shared", Agreement.AGREES, W_CONTACT_SHARED, _SHARED),
        ("close", Agreement.CLOSE, W_CONTACT_CLOSE, "similar"),
        ("differs", Agreement.DIFFERS, W_CONTACT_DIFFERS, ""),
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


@dataclass(frozen=True)
class _Typed:
    first: str
    last: str
    birthdate: date | None
    email: str
    phone: str


def score_patient(
    typed: TypedIdentity,
    patient: PatientRecord,
    *,
    region: str = "CA",
    phone_sharing: int = 1,
    email_sharing: int = 1,
) -> ScoredPatient:
    """Compare a typed identity with one patient, field by field.

    ``phone_sharing`` and ``email_sharing`` say how many patients have the typed phone
    and email; a contact that several patients share earns little and never decides.
    Swapped first and last names are tried too and kept when they fit better.
    """
    t = _normalise(typed, region)
    return _score(t, patient, region, phone_sharing, email_sharing)


def _normalise(typed: TypedIdentity, region: str) -> _Typed:
    return _Typed(
        first=name_key(typed.first_name),
        last=name_key(typed.last_name),
        birthdate=typed.birthdate,
        email=email_key(typed.email),
        phone=phone_key(typed.phone, region),
    )


def _score(
    t: _Typed, patient: PatientRecord, region: str, phone_sharing: int, email_sharing: int
) -> ScoredPatient:
    ((score, _, _, evidence, swapped),) = _score_rows(
        t, [patient], region, phone_sharing, email_sharing
    )
    return ScoredPatient(patient, score, evidence, swapped)


_ScoreRow = tuple[float, int, PatientRecord, tuple[Evidence, ...], bool]

# How a candidate's phone or email compares (before knowing how many patients share it).
_NO_CONTACT, _SAME_CONTACT, _CLOSE_CONTACT, _OTHER_CONTACT = range(4)


def _score_rows(
    t: _Typed,
    patients: Sequence[PatientRecord],
    region: str,
    phone_sharing: int | None,
    email_sharing: int | None,
) -> list[_ScoreRow]:
    """The score, id, patient, evidence and swap of each candidate (the lean form ranking
    sorts; only the candidates offered become :class:`ScoredPatient`).

    How many patients share the typed phone and email is counted among ``patients``
    when not given. One tight loop: this runs for every candidate of every request.
    """
    typed_first, typed_last, typed_born = t.first, t.last, t.birthdate
    typed_phone, typed_email = t.phone, t.email
    names_evidence, phone_keys, email_keys = _names_evidence, _phone_keys, _email_keys
    compare_birthdate = _compare_birthdate
    no_born = _MISSING[MatchField.BIRTHDATE]
    partial = []
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
            phones = phone_keys(p.phones, region)
            if phones:
                if typed_phone in phones:
                    phone = _SAME_CONTACT
                else:
                    phone = _CLOSE_CONTACT if _phone_close(typed_phone, phones) else _OTHER_CONTACT
        if typed_email:
            emails = email_keys(p.email)
            if emails:
                if typed_email in emails:
                    email = _SAME_CONTACT
                else:
                    email = _CLOSE_CONTACT if _email_close(typed_email, emails) else _OTHER_CONTACT
        partial.append((p, first, last, swapped, born_evidence, phone, email))
    if phone_sharing is None:
        phone_sharing = sum(1 for row in partial if row[5] == _SAME_CONTACT)
    if email_sharing is None:
        email_sharing = sum(1 for row in partial if row[6] == _SAME_CONTACT)
    phone_evidence = _contact_outcomes(MatchField.PHONE, phone_sharing)
    email_evidence = _contact_outcomes(MatchField.EMAIL, email_sharing)
    rows: list[_ScoreRow] = []
    for p, first, last, swapped, born_evidence, phone, email in partial:
        phone_ev, email_ev = phone_evidence[phone], email_evidence[email]
        score = round(
            first.weight + last.weight + born_evidence.weight + phone_ev.weight + email_ev.weight,
            2,
        )
        rows.append((score, p.id, p, (first, last, born_evidence, phone_ev, email_ev), swapped))
    return rows


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
            first = Evidence(MatchField.FIRST_NAME, s_first.agreement, s_first.weight, note)
            last = Evidence(MatchField.LAST_NAME, s_last.agreement, s_last.weight + W_SWAPPED, note)
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
) -> PatientRanking:
    """Score ``patients`` against what was typed and decide: exact, possible or none.

    Exact needs one patient whose evidence is decisive (name and birth date, or name and
    a contact no other patient has) and no other candidate scoring alike. How many
    patients share the typed phone and email is counted among ``patients`` unless given
    (the database search passes every patient having them). Candidates scoring under
    ``min_score`` are not offered (``None``: all are, e.g. to explain a staff choice).
    """
    t = _normalise(typed, region)
    if not t.first and not t.last:
        return PatientRanking(MatchLevel.NONE, (), "no name was typed")
    rows = _score_rows(t, patients, region, phone_sharing, email_sharing)
    if min_score is not None:
        rows = [row for row in rows if row[0] >= min_score]
    rows.sort(key=_best_first)
    offered = tuple(
        ScoredPatient(patient, score, evidence, swapped)
        for score, _, patient, evidence, swapped in rows[:MAX_CANDIDATES]
    )
    if not offered:
        return PatientRanking(MatchLevel.NONE, (), "no patient with this name")
    best = offered[0]
    rivals = [c for c in offered[1:] if c.decisive or c.score > best.score - ALIKE_MARGIN]
    if best.decisive and not rivals:
        return PatientRanking(MatchLevel.EXACT, offered, _why_exact(best))
    return PatientRanking(MatchLevel.POSSIBLE, offered, _why_not(t, offered))


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
        what = "birth date and contact details agree, the name is close"
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


class Difference(StrEnum):
    """What about a scheduled appointment differs from the request."""

    DATE = "date"
    TIME = "time"
    PROVIDER = "provider"


@dataclass(frozen=True)
class AppointmentFacts:
    """The fields of an appointment that ranking looks at."""

    id: int
    start: datetime
    provider_id: int | None


@dataclass(frozen=True)
class Candidate:
    """A scheduled appointment offered for a request, with what differs."""

    appointment_id: int
    distance: timedelta
    differences: frozenset[Difference] = field(default_factory=frozenset)

    @property
    def exact(self) -> bool:
        """Same date, time and (if one was asked for) provider."""
        return not self.differences


def differences(
    requested_start: datetime,
    requested_provider_id: int | None,
    appointment: AppointmentFacts,
    tz: ZoneInfo,
) -> frozenset[Difference]:
    """Which of date, time and provider differ, judged in the practice's timezone."""
    asked, booked = requested_start.astimezone(tz), appointment.start.astimezone(tz)
    found: set[Difference] = set()
    if asked.date() != booked.date():
        found.add(Difference.DATE)
    if asked.time() != booked.time():
        found.add(Difference.TIME)
    if requested_provider_id is not None and appointment.provider_id != requested_provider_id:
        found.add(Difference.PROVIDER)
    return frozenset(found)


def rank_candidates(
    requested_start: datetime,
    requested_provider_id: int | None,
    appointments: Sequence[AppointmentFacts],
    tz: ZoneInfo,
) -> list[Candidate]:
    """All given appointments, closest to the requested time first (exact ones lead)."""
    candidates = [
        Candidate(
            appointment_id=a.id,
            distance=abs(a.start - requested_start),
            differences=differences(requested_start, requested_provider_id, a, tz),
        )
        for a in appointments
    ]
    candidates.sort(key=lambda c: (not c.exact, c.distance, len(c.differences)))
    return candidates
