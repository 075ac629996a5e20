"""The tables, in SQLAlchemy Core: the one definition of the schema (columns, types,
defaults, keys and indexes; the migrations are checked against it). Every timestamp is
stored as UTC and read back timezone-aware.

The ORM classes of :mod:`linker_tui.store.models` (SQLModel) map onto these tables. What
is read before the request list's first page (the page, the counts) is read through
these tables with SQLAlchemy Core, so the app shows its first rows without importing the
ORM (about a third of a second of imports).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from linker_tui.store.enums import (
    AppointmentStatus,
    OutboxStatus,
    RequestState,
    SyncRunStatus,
)

metadata = sa.MetaData()
"""Every table of linker-tui's schema (Alembic's target; ``create_all`` in tests)."""


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


def _utc(name: str, *, nullable: bool = True, index: bool = False) -> sa.Column[datetime]:
    """A timezone-aware timestamp."""
    return sa.Column(name, UTCDateTime(), nullable=nullable, index=index)


def _enum(
    name: str, kind: type[StrEnum], default: StrEnum, *, index: bool = False
) -> sa.Column[Any]:
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
    return sa.Column(name, column_type, nullable=False, index=index, default=default)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _text(name: str, length: int | None = None, *, default: str | None = "") -> sa.Column[str]:
    """A string column, NOT NULL; ``default`` None: no default (the caller gives it)."""
    return sa.Column(name, sa.String(length), nullable=False, default=default)


def _int(name: str, default: int | None = 0, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=nullable, default=default)


def _bool(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean, nullable=False, default=default)


def _ref(
    name: str, target: str, *, nullable: bool = True, index: bool = False, unique: bool = False
) -> sa.Column[int]:
    """A foreign key to ``target`` (``table.id``)."""
    return sa.Column(
        name, sa.Integer, sa.ForeignKey(target), nullable=nullable, index=index, unique=unique
    )


provider = sa.Table(
    "provider",
    metadata,
    _id(),
    sa.Column("pms_id", sa.String(64), nullable=False, unique=True),
    _text("abbr", 32),
    _text("first_name"),
    _text("last_name"),
    _text("title"),
    _bool("active", True),
)
"""A dentist or hygienist, as the PMS knows them."""

patient = sa.Table(
    "patient",
    metadata,
    _id(),
    sa.Column("pms_id", sa.String(64), nullable=False, unique=True),
    _text("first_name"),
    _text("last_name"),
    _text("preferred_name"),
    _text("first_name_key", 200),
    _text("last_name_key", 200),
    _text("preferred_name_key", 200),
    _text("last_name_sound", 8),
    _text("email_key", 320),
    _text("phone_home_key", 32),
    _text("phone_mobile_key", 32),
    sa.Column("birthdate", sa.Date, nullable=True, default=None),
    _text("email"),
    _text("phone_home"),
    _text("phone_mobile"),
    _text("guarantor_pms_id"),
    _bool("no_email", False),
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
"""A patient, as the PMS knows them. The ``*_key`` and ``*_sound`` columns are normalised
copies (see :func:`linker_tui.matching.patient_keys`) that patient matching searches by
index."""

patient_name_key = sa.Table(
    "patient_name_key",
    metadata,
    _id(),
    _ref("patient_id", "patient.id", nullable=False, index=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),
)
"""Another key a compound or particle surname may be typed as (``cote`` for
``Lefèvre-Côté``, ``delacruz`` for ``De la Cruz``); one-word surnames have none."""

appointment = sa.Table(
    "appointment",
    metadata,
    _id(),
    sa.Column("pms_id", sa.String(64), nullable=False, unique=True),
    _ref("patient_id", "patient.id", nullable=False),
    _ref("provider_id", "provider.id"),
    _utc("start", nullable=False),
    _int("duration_min", 30),
    _text("operatory"),
    _text("reason"),
    _enum("status", AppointmentStatus, AppointmentStatus.SCHEDULED),
    _utc("pms_updated_at"),
    sa.Index("ix_appointment_patient_start", "patient_id", "start"),
)
"""An appointment copied from the PMS."""

online_request = sa.Table(
    "online_request",
    metadata,
    _id(),
    sa.Column("external_id", sa.String(128), nullable=False, unique=True),
    _utc("received_at", nullable=False),
    _text("typed_first_name"),
    _text("typed_last_name"),
    sa.Column("typed_birthdate", sa.Date, nullable=True, default=None),
    _text("typed_email"),
    _text("typed_phone"),
    _utc("requested_start", nullable=False),
    _int("requested_duration_min", None, nullable=True),
    _ref("requested_provider_id", "provider.id"),
    _text("reason"),
    _text("note"),
    _ref("patient_id", "patient.id", index=True),
    # Who chose ``patient_id`` (``user@workstation``); empty when the matcher did.
    _text("patient_chosen_by"),
    # The patient ranking when the request was last ranked (matching.request_match):
    # exact / possible / none ("" = not ranked yet), and how many candidates it offered.
    _text("patient_match_level", 16),
    _int("patient_match_count"),
    _enum("state", RequestState, RequestState.PENDING),
    _ref("linked_appointment_id", "appointment.id", unique=True),
    _text("reject_reason"),
    _text("decided_by"),
    _utc("decided_at"),
    _int("version", 1),
    # Something staff should look at, set by the sync (the linked appointment was cancelled
    # in the PMS; a waiting request's patient now has an appointment); cleared by a decision.
    _text("attention"),
    _utc("attention_at"),
    sa.Index("ix_request_state_received", "state", "received_at"),
)
"""An appointment request a patient sent from the practice website."""

audit_event = sa.Table(
    "audit_event",
    metadata,
    _id(),
    _utc("at", nullable=False, index=True),
    _utc("desk_at"),
    _text("db_user"),
    _text("application_name"),
    _text("desk_user"),
    _text("os_user"),
    _text("workstation"),
    _text("action", 32, default=None),
    _ref("request_id", "online_request.id", index=True),
    _text("before"),
    _text("after"),
    _text("detail"),
)
"""One decision or change, never updated or deleted (see ``models.AuditEvent``)."""

email_outbox = sa.Table(
    "email_outbox",
    metadata,
    _id(),
    _ref("request_id", "online_request.id", nullable=False, index=True),
    _ref("appointment_id", "appointment.id", nullable=False),
    _text("to_address", default=None),
    _text("to_name"),
    _text("subject"),
    _text("body_text"),
    _text("body_html"),
    _text("ics"),
    _enum("status", OutboxStatus, OutboxStatus.QUEUED, index=True),
    _int("attempts"),
    _text("last_error"),
    _utc("created_at", nullable=False),
    _utc("next_attempt_at"),
    _utc("last_attempt_at"),
    _text("claimed_by", 200),
    _utc("lease_until"),
    _utc("sent_at"),
    _text("message_id"),
)
"""A confirmation email and its delivery state (see ``models.EmailOutbox``)."""

sync_run = sa.Table(
    "sync_run",
    metadata,
    _id(),
    _utc("started_at", nullable=False, index=True),
    _utc("finished_at"),
    _enum("status", SyncRunStatus, SyncRunStatus.RUNNING, index=True),
    _text("trigger", 16),  # schedule, manual, cli, demo
    _text("source"),
    _text("workstation"),
    # the process running it, ``host/pid``: a later run closes it if that process is gone
    sa.Column("holder", sa.String(200), nullable=False, default="", server_default=""),
    _int("rows_seen"),
    _int("inserted"),
    _int("updated"),
    _int("cancelled"),  # appointments newly cancelled or gone from the export
    _int("problems"),
    _int("requests_imported"),
    _int("flagged"),  # requests flagged for staff
    _text("note"),
    _text("error"),
    _text("detail"),  # JSON: counts per table and phase
)
"""One run of the PMS sync and the request inbox (see ``linker_tui.sync``)."""

sync_problem = sa.Table(
    "sync_problem",
    metadata,
    _id(),
    _ref("run_id", "sync_run.id", nullable=False, index=True),
    _text("source", 16, default="pms"),  # pms or inbox
    _text("file"),
    _int("line"),
    _text("reason"),
)
"""A row or file a sync run could not import: file, line and reason."""

sync_state = sa.Table(
    "sync_state",
    metadata,
    _id(),
    _text("source", 500, default=None),
    _text("name", 100, default=None),
    _int("run_id", None, nullable=True),
    _text("cursor"),
    sa.Column("data", sa.LargeBinary, nullable=False, default=b""),
    sa.UniqueConstraint("source", "name"),
)
"""What the last successful sync of a source saw (see ``models.SyncState``)."""

job_lease = sa.Table(
    "job_lease",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    _text("holder", 200, default=None),
    _utc("acquired_at", nullable=False),
    _utc("expires_at", nullable=False),
)
"""Which workstation runs a shared background job until ``expires_at`` (see
``linker_tui.store.lease``)."""


def provider_name(title: str, first_name: str, last_name: str, abbr: str, pms_id: str) -> str:
    """How a provider reads on screen: ``Dr. Amelia Chen`` or ``HYG1`` (a row of
    ``provider``, or ``models.Provider.display_name``)."""
    name = " ".join(part for part in (title, first_name, last_name) if part)
    return name or abbr or pms_id


def typed_name(first_name: str, last_name: str) -> str:
    """A request's name as the patient typed it: ``First Last``."""
    return f"{first_name} {last_name}".strip()
