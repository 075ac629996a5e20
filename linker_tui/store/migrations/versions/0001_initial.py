"""Initial schema: the tables of linker-tui 1.x, and the audit trail's append-only guard.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27

Written from ``alembic revision --autogenerate`` against an empty database, then
reviewed: plain SQLAlchemy types (``UTCDateTime`` is ``DateTime(timezone=True)`` in the
database), and the triggers of ``linker_tui.store.db`` (same DDL) added per dialect.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# The audit trail is append-only: the same DDL as ``linker_tui.store.schema.create_schema``
# (copied, not imported: a migration must not change when the app's code does).
_AUDIT_GUARD_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
]
_AUDIT_GUARD_POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event",
    """CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
       FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
]
_AUDIT_UNGUARD = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_event_no_update",
        "DROP TRIGGER IF EXISTS audit_event_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event",
        "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
        "DROP FUNCTION IF EXISTS audit_event_append_only()",
    ],
}


def _dialect() -> str:
    return op.get_bind().dialect.name


def upgrade() -> None:
    op.create_table(
        "job_lease",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pms_id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("last_name", sa.String(), nullable=False),
        sa.Column("preferred_name", sa.String(), nullable=False),
        sa.Column("first_name_key", sa.String(length=200), nullable=False),
        sa.Column("last_name_key", sa.String(length=200), nullable=False),
        sa.Column("preferred_name_key", sa.String(length=200), nullable=False),
        sa.Column("last_name_sound", sa.String(length=8), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("phone_home_key", sa.String(length=32), nullable=False),
        sa.Column("phone_mobile_key", sa.String(length=32), nullable=False),
        sa.Column("birthdate", sa.Date(), nullable=True),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("phone_home", sa.String(), nullable=False),
        sa.Column("phone_mobile", sa.String(), nullable=False),
        sa.Column("guarantor_pms_id", sa.String(), nullable=False),
        sa.Column("no_email", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pms_id"),
    )
    op.create_index("ix_patient_birthdate", "patient", ["birthdate"], unique=False)
    op.create_index("ix_patient_email", "patient", ["email_key"], unique=False)
    op.create_index("ix_patient_name", "patient", ["last_name_key", "first_name_key"], unique=False)
    op.create_index("ix_patient_phone_home", "patient", ["phone_home_key"], unique=False)
    op.create_index("ix_patient_phone_mobile", "patient", ["phone_mobile_key"], unique=False)
    op.create_index(
        "ix_patient_preferred", "patient", ["preferred_name_key", "last_name_key"], unique=False
    )
    op.create_index(
        "ix_patient_sound", "patient", ["last_name_sound", "first_name_key"], unique=False
    )
    op.create_table(
        "provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pms_id", sa.String(length=64), nullable=False),
        sa.Column("abbr", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("last_name", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pms_id"),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("workstation", sa.String(), nullable=False),
        sa.Column("rows_seen", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.Column("requests_imported", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sync_run_started_at"), "sync_run", ["started_at"], unique=False)
    op.create_index(op.f("ix_sync_run_status"), "sync_run", ["status"], unique=False)
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("cursor", sa.String(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "name"),
    )
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pms_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("operatory", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pms_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pms_id"),
    )
    op.create_index(
        "ix_appointment_patient_start", "appointment", ["patient_id", "start"], unique=False
    )
    op.create_table(
        "patient_name_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_patient_name_key_key"), "patient_name_key", ["key"], unique=False)
    op.create_index(
        op.f("ix_patient_name_key_patient_id"), "patient_name_key", ["patient_id"], unique=False
    )
    op.create_table(
        "sync_problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sync_problem_run_id"), "sync_problem", ["run_id"], unique=False)
    op.create_table(
        "online_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("typed_first_name", sa.String(), nullable=False),
        sa.Column("typed_last_name", sa.String(), nullable=False),
        sa.Column("typed_birthdate", sa.Date(), nullable=True),
        sa.Column("typed_email", sa.String(), nullable=False),
        sa.Column("typed_phone", sa.String(), nullable=False),
        sa.Column("requested_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_duration_min", sa.Integer(), nullable=True),
        sa.Column("requested_provider_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("patient_chosen_by", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("linked_appointment_id", sa.Integer(), nullable=True),
        sa.Column("reject_reason", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attention", sa.String(), nullable=False),
        sa.Column("attention_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["linked_appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_provider_id"],
            ["provider.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
        sa.UniqueConstraint("linked_appointment_id"),
    )
    op.create_index(
        op.f("ix_online_request_patient_id"), "online_request", ["patient_id"], unique=False
    )
    op.create_index(
        "ix_request_state_received", "online_request", ["state", "received_at"], unique=False
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("os_user", sa.String(), nullable=False),
        sa.Column("workstation", sa.String(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.String(), nullable=False),
        sa.Column("after", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["online_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index(op.f("ix_audit_event_request_id"), "audit_event", ["request_id"], unique=False)
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(), nullable=False),
        sa.Column("to_name", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("body_text", sa.String(), nullable=False),
        sa.Column("body_html", sa.String(), nullable=False),
        sa.Column("ics", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["online_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_email_outbox_request_id"), "email_outbox", ["request_id"], unique=False
    )
    op.create_index(op.f("ix_email_outbox_status"), "email_outbox", ["status"], unique=False)

    guard = {"sqlite": _AUDIT_GUARD_SQLITE, "postgresql": _AUDIT_GUARD_POSTGRES}
    for statement in guard.get(_dialect(), []):
        op.execute(statement)


def downgrade() -> None:
    for statement in _AUDIT_UNGUARD.get(_dialect(), []):
        op.execute(statement)
    op.drop_index(op.f("ix_email_outbox_status"), table_name="email_outbox")
    op.drop_index(op.f("ix_email_outbox_request_id"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index(op.f("ix_audit_event_request_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index("ix_request_state_received", table_name="online_request")
    op.drop_index(op.f("ix_online_request_patient_id"), table_name="online_request")
    op.drop_table("online_request")
    op.drop_index(op.f("ix_sync_problem_run_id"), table_name="sync_problem")
    op.drop_table("sync_problem")
    op.drop_index(op.f("ix_patient_name_key_patient_id"), table_name="patient_name_key")
    op.drop_index(op.f("ix_patient_name_key_key"), table_name="patient_name_key")
    op.drop_table("patient_name_key")
    op.drop_index("ix_appointment_patient_start", table_name="appointment")
    op.drop_table("appointment")
    op.drop_table("sync_state")
    op.drop_index(op.f("ix_sync_run_status"), table_name="sync_run")
    op.drop_index(op.f("ix_sync_run_started_at"), table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_table("provider")
    op.drop_index("ix_patient_sound", table_name="patient")
    op.drop_index("ix_patient_preferred", table_name="patient")
    op.drop_index("ix_patient_phone_mobile", table_name="patient")
    op.drop_index("ix_patient_phone_home", table_name="patient")
    op.drop_index("ix_patient_name", table_name="patient")
    op.drop_index("ix_patient_email", table_name="patient")
    op.drop_index("ix_patient_birthdate", table_name="patient")
    op.drop_table("patient")
    op.drop_table("job_lease")
