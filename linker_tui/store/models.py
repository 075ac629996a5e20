"""The tables: providers, patients and appointments (copied from the PMS), online requests,
the audit trail and the email outbox. Every timestamp is stored as UTC and read back
timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel

from linker_tui.store.enums import (
    AppointmentStatus,
    OutboxStatus,
    RequestState,
    SyncRunStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC on every backend.

    SQLite has no timezone type: values are converted to UTC and stored without offset,
    then given ``UTC`` back when read. Naive datetimes are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A column for a timezone-aware timestamp."""
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def enum_column(kind: type[StrEnum], default: StrEnum, *, index: bool = False) -> Any:
    """A status column typed by its enum: read back as the enum member, written from the
    member (or its value). Stored as the member's value in a ``VARCHAR(16)`` without a
    CHECK constraint, exactly as the plain string columns of the migrations, so the
    databases need no change. A value the enum does not know is refused when written
    and raises ``LookupError`` when read."""
    column_type = sa.Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
    return Field(default=default, sa_column=Column(column_type, nullable=False, index=index))


class Provider(SQLModel, table=True):
    """A dentist or hygienist, as the PMS knows them."""

    id: int | None = Field(default=None, primary_key=True)
    pms_id: str = Field(unique=True, max_length=64)
    abbr: str = Field(default="", max_length=32)
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    active: bool = True

    @property
    def display_name(self) -> str:
        """``Dr. Amelia Chen`` or ``Jo Smith (HYG1)``."""
        name = " ".join(part for part in (self.title, self.first_name, self.last_name) if part)
        return name or self.abbr or self.pms_id


class Patient(SQLModel, table=True):
    """A patient, as the PMS knows them.

    The ``*_key`` and ``*_sound`` columns are normalised copies (see
    :func:`linker_tui.matching.patient_keys`) that patient matching searches by index.
    """

    __table_args__ = (
        sa.Index("ix_patient_name", "last_name_key", "first_name_key"),
        sa.Index("ix_patient_sound", "last_name_sound", "first_name_key"),
        sa.Index("ix_patient_preferred", "preferred_name_key", "last_name_key"),
        sa.Index("ix_patient_birthdate", "birthdate"),
        sa.Index("ix_patient_given_born", "first_name_key", "birthdate"),
        sa.Index("ix_patient_given_name", "first_name_key", "last_name_key"),
        sa.Index("ix_patient_surname_born", "last_name_key", "birthdate"),
        sa.Index("ix_patient_email", "email_key"),
        sa.Index("ix_patient_phone_home", "phone_home_key"),
        sa.Index("ix_patient_phone_mobile", "phone_mobile_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pms_id: str = Field(unique=True, max_length=64)
    first_name: str = ""
    last_name: str = ""
    preferred_name: str = ""
    first_name_key: str = Field(default="", max_length=200)
    last_name_key: str = Field(default="", max_length=200)
    preferred_name_key: str = Field(default="", max_length=200)
    last_name_sound: str = Field(default="", max_length=8)
    email_key: str = Field(default="", max_length=320)
    phone_home_key: str = Field(default="", max_length=32)
    phone_mobile_key: str = Field(default="", max_length=32)
    birthdate: date | None = None
    email: str = ""
    phone_home: str = ""
    phone_mobile: str = ""
    guarantor_pms_id: str = ""
    no_email: bool = False

    @property
    def display_name(self) -> str:
        """``Last, First ("Preferred")``."""
        name = f"{self.last_name}, {self.first_name}".strip(", ")
        if self.preferred_name and self.preferred_name != self.first_name:
            name += f' "{self.preferred_name}"'
        return name


class PatientNameKey(SQLModel, table=True):
    """Another key a compound or particle surname may be typed as (``cote`` for
    ``Lefèvre-Côté``, ``delacruz`` for ``De la Cruz``); one-word surnames have none."""

    __tablename__ = "patient_name_key"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    key: str = Field(max_length=200, index=True)


class Appointment(SQLModel, table=True):
    """An appointment copied from the PMS."""

    __table_args__ = (sa.Index("ix_appointment_patient_start", "patient_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    pms_id: str = Field(unique=True, max_length=64)
    patient_id: int = Field(foreign_key="patient.id")
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    start: datetime = utc_column(nullable=False)
    duration_min: int = 30
    operatory: str = ""
    reason: str = ""
    status: AppointmentStatus = enum_column(AppointmentStatus, AppointmentStatus.SCHEDULED)
    pms_updated_at: datetime | None = utc_column()


class OnlineRequest(SQLModel, table=True):
    """An appointment request a patient sent from the practice website."""

    __tablename__ = "online_request"
    __table_args__ = (sa.Index("ix_request_state_received", "state", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, max_length=128)
    received_at: datetime = utc_column(nullable=False)
    typed_first_name: str = ""
    typed_last_name: str = ""
    typed_birthdate: date | None = None
    typed_email: str = ""
    typed_phone: str = ""
    requested_start: datetime = utc_column(nullable=False)
    requested_duration_min: int | None = None
    requested_provider_id: int | None = Field(default=None, foreign_key="provider.id")
    reason: str = ""
    note: str = ""
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    # Who chose ``patient_id`` (``user@workstation``); empty when the matcher did.
    patient_chosen_by: str = ""
    # The patient ranking when the request was last ranked (linker_tui.matching.request_match):
    # exact / possible / none ("" = not ranked yet), and how many candidates it offered.
    patient_match_level: str = Field(default="", max_length=16)
    patient_match_count: int = 0
    state: RequestState = enum_column(RequestState, RequestState.PENDING)
    linked_appointment_id: int | None = Field(
        default=None, foreign_key="appointment.id", unique=True
    )
    reject_reason: str = ""
    decided_by: str = ""
    decided_at: datetime | None = utc_column()
    version: int = 1
    # Something staff should look at, set by the sync (the linked appointment was cancelled
    # in the PMS; a waiting request's patient now has an appointment); cleared by a decision.
    attention: str = ""
    attention_at: datetime | None = utc_column()

    @property
    def typed_name(self) -> str:
        """The name as the patient typed it: ``First Last``."""
        return f"{self.typed_first_name} {self.typed_last_name}".strip()


class AuditEvent(SQLModel, table=True):
    """One decision or change, never updated or deleted.

    On PostgreSQL the database writes it (``linker_tui.workflow.trail``): ``at`` is the server's
    time, ``db_user`` and ``application_name`` its own record of the connection; the
    desk adds who sits there (``desk_user``: the staff member, ``system`` for the sync),
    its OS login, machine and own clock (``desk_at``, information only).
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(nullable=False, index=True)
    desk_at: datetime | None = utc_column()
    db_user: str = ""
    application_name: str = ""
    desk_user: str = ""
    os_user: str = ""
    workstation: str = ""
    action: str = Field(max_length=32)
    request_id: int | None = Field(default=None, foreign_key="online_request.id", index=True)
    before: str = ""
    after: str = ""
    detail: str = ""


class EmailOutbox(SQLModel, table=True):
    """A confirmation email, composed when the request was linked, and its delivery state.

    ``queued`` rows are due at ``next_attempt_at``; a relay claims one by setting it to
    ``sending`` with its ``claimed_by`` and ``lease_until``; it ends ``sent``, ``failed``
    (after a permanent error or too many attempts) or ``cancelled``.
    """

    __tablename__ = "email_outbox"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="online_request.id", index=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    to_address: str
    to_name: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    ics: str = ""
    status: OutboxStatus = enum_column(OutboxStatus, OutboxStatus.QUEUED, index=True)
    attempts: int = 0
    last_error: str = ""
    created_at: datetime = utc_column(nullable=False)
    next_attempt_at: datetime | None = utc_column()
    last_attempt_at: datetime | None = utc_column()
    claimed_by: str = Field(default="", max_length=200)
    lease_until: datetime | None = utc_column()
    sent_at: datetime | None = utc_column()
    message_id: str = ""


class SyncRun(SQLModel, table=True):
    """One run of the PMS sync and the request inbox (see ``linker_tui.sync``)."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = utc_column(nullable=False, index=True)
    finished_at: datetime | None = utc_column()
    status: SyncRunStatus = enum_column(SyncRunStatus, SyncRunStatus.RUNNING, index=True)
    trigger: str = Field(default="", max_length=16)  # schedule, manual, cli, demo
    source: str = ""
    workstation: str = ""
    # the process running it, ``host/pid``: a later run closes it if that process is gone
    holder: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0  # appointments newly cancelled or gone from the export
    problems: int = 0
    requests_imported: int = 0
    flagged: int = 0  # requests flagged for staff
    note: str = ""
    error: str = ""
    detail: str = ""  # JSON: counts per table and phase


class SyncProblem(SQLModel, table=True):
    """A row or file a sync run could not import: file, line and reason."""

    __tablename__ = "sync_problem"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="sync_run.id", index=True)
    source: str = Field(default="pms", max_length=16)  # pms or inbox
    file: str = ""
    line: int = 0
    reason: str = ""


class SyncState(SQLModel, table=True):
    """What the last successful sync of a source saw: the export's cursor and, per file,
    the fingerprints of the rows it imported (so the next run parses changed rows only).
    Written in the same transaction as the data it describes."""

    __tablename__ = "sync_state"
    __table_args__ = (sa.UniqueConstraint("source", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=500)
    name: str = Field(max_length=100)
    run_id: int | None = None
    cursor: str = ""
    data: bytes = Field(default=b"", sa_column=Column(sa.LargeBinary, nullable=False))


class JobLease(SQLModel, table=True):
    """Which workstation runs a shared background job (the PMS sync, the outbox relay)
    until ``expires_at``: claimed and renewed with a conditional UPDATE or INSERT (see
    ``linker_tui.store.lease``), so with several desks on one database only one runs it."""

    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=200)
    acquired_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
