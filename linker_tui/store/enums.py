"""The stored vocabularies: an appointment's status, a request's state and its patient
match level, an email's and a sync run's status. Plain enums (no SQLAlchemy), so what
only shows them needs not load the ORM; :mod:`linker_tui.store.tables` types its
columns with them."""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    """Status of an appointment as the PMS reports it."""

    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    BROKEN = "broken"
    UNSCHEDULED = "unscheduled"

    @property
    def bookable(self) -> bool:
        """Whether a request may be linked to an appointment in this status."""
        return self in (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)


BOOKABLE_STATUSES = tuple(s.value for s in AppointmentStatus if s.bookable)


class RequestState(StrEnum):
    """Where an online request stands."""

    PENDING = "pending"
    WAITING_PMS = "waiting_pms"
    LINKED = "linked"
    REJECTED = "rejected"

    @property
    def open(self) -> bool:
        """Whether staff still have to decide on the request."""
        return self in (RequestState.PENDING, RequestState.WAITING_PMS)

    @property
    def label(self) -> str:
        """How the state reads on screen."""
        return _STATE_LABELS[self]


_STATE_LABELS = {
    RequestState.PENDING: "Pending",
    RequestState.WAITING_PMS: "Waiting for PMS",
    RequestState.LINKED: "Linked",
    RequestState.REJECTED: "Rejected",
}

OPEN_STATES = tuple(s.value for s in RequestState if s.open)


class MatchLevel(StrEnum):
    """How sure the matcher is about a request's patient (stored on the request as
    ``patient_match_level``, "" when never ranked)."""

    EXACT = "exact"  # one patient, decided
    POSSIBLE = "possible"  # candidates for staff to choose from
    NONE = "none"  # nobody resembles the typed identity


class OutboxStatus(StrEnum):
    """Where a confirmation email stands."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SyncRunStatus(StrEnum):
    """How a sync run ended."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped (the app quit): nothing of it was kept
    SKIPPED = "skipped"  # another sync was running
