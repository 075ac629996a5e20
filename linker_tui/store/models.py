"""The ORM classes (SQLModel) of the tables: providers, patients and appointments (copied
from the PMS), online requests, the audit trail and the email outbox.

The tables themselves, with every column's type, default, key and index, are defined
once in SQLAlchemy Core (:mod:`linker_tui.store.tables`); each class maps onto its table
(``__table__``), each field onto its column (:func:`_field`: the column's own default)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from linker_tui.store import tables
from linker_tui.store.enums import (
    AppointmentStatus,
    OutboxStatus,
    RequestState,
    SyncRunStatus,
)
from linker_tui.store.tables import UTCDateTime

__all__ = [
    "Appointment",
    "AuditEvent",
    "EmailOutbox",
    "JobLease",
    "OnlineRequest",
    "Patient",
    "PatientNameKey",
    "Provider",
    "SyncProblem",
    "SyncRun",
    "SyncState",
    "UTCDateTime",
]


def _fields(table: sa.Table) -> Callable[[str], Any]:
    """``field(name)``: the field of ``table``'s column ``name``, mapped onto that column;
    its default is the column's (None for an integer key or a nullable column without
    one; none at all, i.e. required, otherwise)."""

    def field(name: str) -> Any:
        column = table.c[name]
        if column.default is not None:
            return Field(default=column.default.arg, sa_column=column)  # type: ignore[attr-defined]
        if column.nullable or (column.primary_key and isinstance(column.type, sa.Integer)):
            return Field(default=None, sa_column=column)
        return Field(sa_column=column)

    return field


_provider = _fields(tables.provider)


class Provider(SQLModel, table=True):
    """A dentist or hygienist, as the PMS knows them."""

    __table__ = tables.provider

    id: int | None = _provider("id")
    pms_id: str = _provider("pms_id")
    abbr: str = _provider("abbr")
    first_name: str = _provider("first_name")
    last_name: str = _provider("last_name")
    title: str = _provider("title")
    active: bool = _provider("active")

    @property
    def display_name(self) -> str:
        """``Dr. Amelia Chen`` or ``HYG1`` (:func:`~linker_tui.store.tables.provider_name`)."""
        return tables.provider_name(
            self.title, self.first_name, self.last_name, self.abbr, self.pms_id
        )


_patient = _fields(tables.patient)


class Patient(SQLModel, table=True):
    """A patient, as the PMS knows them.

    The ``*_key`` and ``*_sound`` columns are normalised copies (see
    :func:`linker_tui.matching.patient_keys`) that patient matching searches by index.
    """

    __table__ = tables.patient

    id: int | None = _patient("id")
    pms_id: str = _patient("pms_id")
    first_name: str = _patient("first_name")
    last_name: str = _patient("last_name")
    preferred_name: str = _patient("preferred_name")
    first_name_key: str = _patient("first_name_key")
    last_name_key: str = _patient("last_name_key")
    preferred_name_key: str = _patient("preferred_name_key")
    last_name_sound: str = _patient("last_name_sound")
    email_key: str = _patient("email_key")
    phone_home_key: str = _patient("phone_home_key")
    phone_mobile_key: str = _patient("phone_mobile_key")
    birthdate: date | None = _patient("birthdate")
    email: str = _patient("email")
    phone_home: str = _patient("phone_home")
    phone_mobile: str = _patient("phone_mobile")
    guarantor_pms_id: str = _patient("guarantor_pms_id")
    no_email: bool = _patient("no_email")

    @property
    def display_name(self) -> str:
        """``Last, First ("Preferred")``."""
        name = f"{self.last_name}, {self.first_name}".strip(", ")
        if self.preferred_name and self.preferred_name != self.first_name:
            name += f' "{self.preferred_name}"'
        return name


_patient_name_key = _fields(tables.patient_name_key)


class PatientNameKey(SQLModel, table=True):
    """Another key a compound or particle surname may be typed as (``cote`` for
    ``Lefèvre-Côté``, ``delacruz`` for ``De la Cruz``); one-word surnames have none."""

    __table__ = tables.patient_name_key

    id: int | None = _patient_name_key("id")
    patient_id: int = _patient_name_key("patient_id")
    key: str = _patient_name_key("key")


_appointment = _fields(tables.appointment)


class Appointment(SQLModel, table=True):
    """An appointment copied from the PMS."""

    __table__ = tables.appointment

    id: int | None = _appointment("id")
    pms_id: str = _appointment("pms_id")
    patient_id: int = _appointment("patient_id")
    provider_id: int | None = _appointment("provider_id")
    start: datetime = _appointment("start")
    duration_min: int = _appointment("duration_min")
    operatory: str = _appointment("operatory")
    reason: str = _appointment("reason")
    status: AppointmentStatus = _appointment("status")
    pms_updated_at: datetime | None = _appointment("pms_updated_at")


_online_request = _fields(tables.online_request)


class OnlineRequest(SQLModel, table=True):
    """An appointment request a patient sent from the practice website."""

    __table__ = tables.online_request

    id: int | None = _online_request("id")
    external_id: str = _online_request("external_id")
    received_at: datetime = _online_request("received_at")
    typed_first_name: str = _online_request("typed_first_name")
    typed_last_name: str = _online_request("typed_last_name")
    typed_birthdate: date | None = _online_request("typed_birthdate")
    typed_email: str = _online_request("typed_email")
    typed_phone: str = _online_request("typed_phone")
    requested_start: datetime = _online_request("requested_start")
    requested_duration_min: int | None = _online_request("requested_duration_min")
    requested_provider_id: int | None = _online_request("requested_provider_id")
    reason: str = _online_request("reason")
    note: str = _online_request("note")
    patient_id: int | None = _online_request("patient_id")
    # Who chose ``patient_id`` (``user@workstation``); empty when the matcher did.
    patient_chosen_by: str = _online_request("patient_chosen_by")
    # The patient ranking when the request was last ranked (linker_tui.matching.request_match):
    # exact / possible / none ("" = not ranked yet), and how many candidates it offered.
    patient_match_level: str = _online_request("patient_match_level")
    patient_match_count: int = _online_request("patient_match_count")
    state: RequestState = _online_request("state")
    linked_appointment_id: int | None = _online_request("linked_appointment_id")
    reject_reason: str = _online_request("reject_reason")
    decided_by: str = _online_request("decided_by")
    decided_at: datetime | None = _online_request("decided_at")
    version: int = _online_request("version")
    # Something staff should look at, set by the sync (the linked appointment was cancelled
    # in the PMS; a waiting request's patient now has an appointment); cleared by a decision.
    attention: str = _online_request("attention")
    attention_at: datetime | None = _online_request("attention_at")

    @property
    def typed_name(self) -> str:
        """The name as the patient typed it: ``First Last``."""
        return tables.typed_name(self.typed_first_name, self.typed_last_name)


_audit_event = _fields(tables.audit_event)


class AuditEvent(SQLModel, table=True):
    """One decision or change, never updated or deleted.

    On PostgreSQL the database writes it (``linker_tui.workflow.trail``): ``at`` is the server's
    time, ``db_user`` and ``application_name`` its own record of the connection; the
    desk adds who sits there (``desk_user``: the staff member, ``system`` for the sync),
    its OS login, machine and own clock (``desk_at``, information only).
    """

    __table__ = tables.audit_event

    id: int | None = _audit_event("id")
    at: datetime = _audit_event("at")
    desk_at: datetime | None = _audit_event("desk_at")
    db_user: str = _audit_event("db_user")
    application_name: str = _audit_event("application_name")
    desk_user: str = _audit_event("desk_user")
    os_user: str = _audit_event("os_user")
    workstation: str = _audit_event("workstation")
    action: str = _audit_event("action")
    request_id: int | None = _audit_event("request_id")
    before: str = _audit_event("before")
    after: str = _audit_event("after")
    detail: str = _audit_event("detail")


_email_outbox = _fields(tables.email_outbox)


class EmailOutbox(SQLModel, table=True):
    """A confirmation email, composed when the request was linked, and its delivery state.

    ``queued`` rows are due at ``next_attempt_at``; a relay claims one by setting it to
    ``sending`` with its ``claimed_by`` and ``lease_until``; it ends ``sent``, ``failed``
    (after a permanent error or too many attempts) or ``cancelled``.
    """

    __table__ = tables.email_outbox

    id: int | None = _email_outbox("id")
    request_id: int = _email_outbox("request_id")
    appointment_id: int = _email_outbox("appointment_id")
    to_address: str = _email_outbox("to_address")
    to_name: str = _email_outbox("to_name")
    subject: str = _email_outbox("subject")
    body_text: str = _email_outbox("body_text")
    body_html: str = _email_outbox("body_html")
    ics: str = _email_outbox("ics")
    status: OutboxStatus = _email_outbox("status")
    attempts: int = _email_outbox("attempts")
    last_error: str = _email_outbox("last_error")
    created_at: datetime = _email_outbox("created_at")
    next_attempt_at: datetime | None = _email_outbox("next_attempt_at")
    last_attempt_at: datetime | None = _email_outbox("last_attempt_at")
    claimed_by: str = _email_outbox("claimed_by")
    lease_until: datetime | None = _email_outbox("lease_until")
    sent_at: datetime | None = _email_outbox("sent_at")
    message_id: str = _email_outbox("message_id")


_sync_run = _fields(tables.sync_run)


class SyncRun(SQLModel, table=True):
    """One run of the PMS sync and the request inbox (see ``linker_tui.sync``)."""

    __table__ = tables.sync_run

    id: int | None = _sync_run("id")
    started_at: datetime = _sync_run("started_at")
    finished_at: datetime | None = _sync_run("finished_at")
    status: SyncRunStatus = _sync_run("status")
    trigger: str = _sync_run("trigger")
    source: str = _sync_run("source")
    workstation: str = _sync_run("workstation")
    # the process running it, ``host/pid``: a later run closes it if that process is gone
    holder: str = _sync_run("holder")
    rows_seen: int = _sync_run("rows_seen")
    inserted: int = _sync_run("inserted")
    updated: int = _sync_run("updated")
    cancelled: int = _sync_run("cancelled")
    problems: int = _sync_run("problems")
    requests_imported: int = _sync_run("requests_imported")
    flagged: int = _sync_run("flagged")
    note: str = _sync_run("note")
    error: str = _sync_run("error")
    detail: str = _sync_run("detail")


_sync_problem = _fields(tables.sync_problem)


class SyncProblem(SQLModel, table=True):
    """A row or file a sync run could not import: file, line and reason."""

    __table__ = tables.sync_problem

    id: int | None = _sync_problem("id")
    run_id: int = _sync_problem("run_id")
    source: str = _sync_problem("source")
    file: str = _sync_problem("file")
    line: int = _sync_problem("line")
    reason: str = _sync_problem("reason")


_sync_state = _fields(tables.sync_state)


class SyncState(SQLModel, table=True):
    """What the last successful sync of a source saw: the export's cursor and, per file,
    the fingerprints of the rows it imported (so the next run parses changed rows only).
    Written in the same transaction as the data it describes."""

    __table__ = tables.sync_state

    id: int | None = _sync_state("id")
    source: str = _sync_state("source")
    name: str = _sync_state("name")
    run_id: int | None = _sync_state("run_id")
    cursor: str = _sync_state("cursor")
    data: bytes = _sync_state("data")


_job_lease = _fields(tables.job_lease)


class JobLease(SQLModel, table=True):
    """Which workstation runs a shared background job (the PMS sync, the outbox relay)
    until ``expires_at``: claimed and renewed with a conditional UPDATE or INSERT (see
    ``linker_tui.store.lease``), so with several desks on one database only one runs it."""

    __table__ = tables.job_lease

    name: str = _job_lease("name")
    holder: str = _job_lease("holder")
    acquired_at: datetime = _job_lease("acquired_at")
    expires_at: datetime = _job_lease("expires_at")
