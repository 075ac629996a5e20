"""Patient and appointment matching (pure functions): keys, evidence, ranking, levels.

``keys`` normalises names, phones and emails; ``evidence`` compares one field;
``patients`` scores candidates and decides the level; ``appointments`` ranks a
patient's appointments against a request. The database search is
:mod:`linker_tui.matching.patient_search`.
"""

from linker_tui.matching.appointments import (
    AppointmentFacts,
    Candidate,
    Difference,
    differences,
    rank_candidates,
)
from linker_tui.matching.evidence import Agreement, Evidence, MatchField
from linker_tui.matching.keys import (
    PatientKeys,
    are_nicknames,
    compact_key,
    email_key,
    last_name_alt_keys,
    last_name_sound,
    name_key,
    name_tokens,
    nickname_groups,
    nickname_variants,
    patient_keys,
    phone_key,
    soundex,
    typed_last_name_keys,
)
from linker_tui.matching.patients import (
    PatientRanking,
    PatientRecord,
    ScoredPatient,
    TypedIdentity,
    rank_patients,
)
from linker_tui.store.enums import MatchLevel

__all__ = [
    "Agreement",
    "AppointmentFacts",
    "Candidate",
    "Difference",
    "Evidence",
    "MatchField",
    "MatchLevel",
    "PatientKeys",
    "PatientRanking",
    "PatientRecord",
    "ScoredPatient",
    "TypedIdentity",
    "are_nicknames",
    "compact_key",
    "differences",
    "email_key",
    "last_name_alt_keys",
    "last_name_sound",
    "name_key",
    "name_tokens",
    "nickname_groups",
    "nickname_variants",
    "patient_keys",
    "phone_key",
    "rank_candidates",
    "rank_patients",
    "soundex",
    "typed_last_name_keys",
]
