"""Normalised keys of names, phones and emails, and the nickname groups (pure)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

import phonenumbers

from linker_tui.common.text import casefold_ascii
from linker_tui.matching.names import equivalent_names

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
    """Name key → the numbers of the nickname groups it belongs to (``nicknames.csv``,
    then each pair of equivalent names of ``given_names.csv``)."""
    groups: dict[str, set[int]] = {}
    text = files("linker_tui.matching").joinpath("nicknames.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.reader(line for line in text.splitlines() if not line.startswith("#"))]
    rows += [list(pair) for pair in equivalent_names()]
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

    def columns(self) -> dict[str, Any]:
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
