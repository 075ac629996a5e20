"""Read-only snapshots handed from the core to its callers (the TUI, the CLI, tests).

They are plain frozen dataclasses, so no caller ever holds a live ORM object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from linker_tui.store.enums import RequestState

if TYPE_CHECKING:  # annotations only: the list's first page imports neither
    from linker_tui.matching import Difference, Evidence, MatchLevel
    from linker_tui.store.models import Appointment, Provider


@dataclass(frozen=True)
class AppointmentView:
    """A PMS appointment as staff see it."""

    id: int
    pms_id: str
    patient_id: int
    start: datetime
    duration_min: int
    provider_id: int | None
    provider_name: str
    operatory: str
    reason: str
    status: str


def appointment_view(appointment: Appointment, provider: Provider | None) -> AppointmentView:
    """A snapshot of an appointment with its provider's name."""
    assert appointment.id is not None
    return AppointmentView(
        id=appointment.id,
        pms_id=appointment.pms_id,
        patient_id=appointment.patient_id,
        start=appointment.start,
        duration_min=appointment.duration_min,
        provider_id=appointment.provider_id,
        provider_name=provider.display_name if provider else "",
        operatory=appointment.operatory,
        reason=appointment.reason,
        status=appointment.status,
    )


@dataclass(frozen=True)
class LinkedElsewhere:
    """The request an appointment is already linked to: by whom and when."""

    request_id: int
    external_id: str
    decided_by: str
    decided_at: datetime | None


@dataclass(frozen=True)
class CandidateView:
    """An appointment offered for linking, and what about it differs from the request."""

    appointment: AppointmentView
    differences: frozenset[Difference]
    linked_to: LinkedElsewhere | None = None
    """Another request is already linked to this appointment (it cannot be linked again)."""

    @property
    def exact(self) -> bool:
        """Nothing differs from the request."""
        return not self.differences


class MatchKind(StrEnum):
    """The three outcomes of Accept."""

    EXACT = "exact"
    PARTIAL = "partial"
    NONE = "none"


@dataclass(frozen=True)
class AcceptCheck:
    """What Accept found for a request."""

    request_id: int
    version: int
    kind: MatchKind
    patient_id: int | None
    patient_name: str
    explanation: str
    requested_start: datetime
    requested_provider_id: int | None
    requested_provider_name: str
    candidates: tuple[CandidateView, ...]
    # When no patient is known: how many possible patients "Is this the same patient?"
    # would offer (Workflow.patient_candidates).
    possible_patients: int = 0
    note: str = ""
    """What the patient wrote with the request (raw: shown through the TUI's safe text)."""
    # How many more scheduled appointments match than ``candidates`` (the nearest ones,
    # at most matching.appointment_search.CANDIDATE_LIMIT), and staff's narrowing text.
    more: int = 0
    narrow: str = ""

    @property
    def total(self) -> int:
        """How many scheduled appointments match (the narrowing, if any)."""
        return len(self.candidates) + self.more

    @property
    def exact_candidate(self) -> CandidateView | None:
        """The candidate that matches the request exactly, if there is one."""
        return self.candidates[0] if self.kind is MatchKind.EXACT else None

    @property
    def duplicate_of(self) -> LinkedElsewhere | None:
        """The earlier request already linked to the exactly matching appointment: this
        request is most likely a second one for the same appointment."""
        exact = self.exact_candidate
        return exact.linked_to if exact is not None else None


@dataclass(frozen=True)
class EmailPlan:
    """Whether and where to offer a confirmation email."""

    address: str
    send_by_default: bool
    note: str
    replaces: str = ""
    """The confirmation the patient already has for this request (``Thu 2026-12-03 09:30,
    sent 2026-12-01 …``) when it was linked before and emailed: the new email corrects it."""

    @property
    def possible(self) -> bool:
        """There is an address to write to."""
        return bool(self.address)


@dataclass(frozen=True)
class RequestRow:
    """One line of the request list."""

    id: int
    external_id: str
    received_at: datetime
    typed_name: str
    requested_start: datetime
    requested_provider_name: str
    reason: str
    state: RequestState
    patient_id: int | None
    match_hint: str
    version: int
    attention: str = ""
    """Set by the sync when staff should look again (the linked appointment was
    cancelled, the PMS now has an appointment for a waiting request); empty otherwise."""
    patient_status: str = ""
    """What is known of the patient: ``patient found``, ``pick patient (2)``...
    (:func:`linker_tui.matching.request_match.patient_status`)."""


@dataclass(frozen=True)
class RequestDetail:
    """Everything the detail pane shows about one request."""

    row: RequestRow
    typed_birthdate: date | None
    typed_email: str
    typed_phone: str
    note: str
    patient_name: str
    patient_status: str  # "patient found", "pick patient (2)"... (the list's words)
    patient_no_email: bool
    linked: AppointmentView | None
    reject_reason: str
    decided_by: str
    decided_at: datetime | None


@dataclass(frozen=True)
class LinkResult:
    """What a link did."""

    request_id: int
    appointment: AppointmentView
    outbox_id: int | None
    email_refused: str = ""
    """Why the confirmation email was not queued although staff asked for it."""


@dataclass(frozen=True)
class ReopenResult:
    """What a reopen did to the request's confirmation emails."""

    withdrawn: int
    """Queued emails cancelled."""
    being_sent: tuple[str, ...] = ()
    """Addresses of emails being sent at that moment: they cannot be withdrawn."""


@dataclass(frozen=True)
class PatientView:
    """A PMS patient as staff see it when choosing who sent a request."""

    id: int
    pms_id: str
    display_name: str
    birthdate: date | None
    email: str
    phones: tuple[str, ...]
    guarantor_pms_id: str


@dataclass(frozen=True)
class PatientCandidateView:
    """A patient offered for a request: the score and, per field, what agrees or differs.

    ``evidence`` is empty for a search result without a request to compare with.
    """

    patient: PatientView
    score: float
    evidence: tuple[Evidence, ...]
    decisive: bool

    @property
    def summary(self) -> str:
        """``first name agrees (nickname of william); birth date differs; ...``."""
        return "; ".join(str(e) for e in self.evidence if e.agreement.value != "missing")


@dataclass(frozen=True)
class PatientCheck:
    """ "Is this the same patient?": what was typed, the ranked candidates, the choice."""

    request_id: int
    version: int
    level: MatchLevel
    explanation: str
    typed_name: str
    typed_birthdate: date | None
    typed_email: str
    typed_phone: str
    candidates: tuple[PatientCandidateView, ...]
    # The patient currently attached to the request (by the matcher or staff), if any.
    chosen_patient_id: int | None
    chosen_by: str
