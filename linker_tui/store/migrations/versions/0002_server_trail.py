"""The database keeps the trail: server time and identity, readable rows, desk grants.

Revision ID: 0002_server_trail
Revises: 0001_initial
Create Date: 2026-12-06

* ``audit_event`` gains ``desk_user`` (the staff member at the desk; the OS login until
  staff sign in), ``desk_at`` (the desk's own clock, for information), ``db_user`` and
  ``application_name`` (PostgreSQL: the database role and the connection's name, recorded
  by the database itself).
* PostgreSQL: a decision on a request goes through ``linker_decide`` (SECURITY DEFINER,
  owned by whoever runs the migrations: the admin role); a trigger on ``online_request``
  writes the audit row from the actual before/after rows, at the server's time, in the
  same transaction. A trigger on ``email_outbox`` does the same for staff's email actions;
  one on insert makes sure a desk's new request arrives undecided.
* PostgreSQL, when a desk role is named (``database_desk_role``): its grants. The desks
  read everything, write the data tables, insert requests; they cannot write
  ``audit_event`` nor update ``online_request`` (only through ``linker_decide``). Default
  privileges give tables of later migrations to the desks the same way.

The SQL is written out here, not imported: a migration must not change with the app.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0002_server_trail"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], str | None], ...] = (
    ("desk_user", sa.String(), "''"),
    ("desk_at", sa.DateTime(timezone=True), None),
    ("db_user", sa.String(), "''"),
    ("application_name", sa.String(), "''"),
)

_DISPLAY_PATIENT = """btrim(p.last_name || ', ' || p.first_name, ', ')
    || CASE WHEN p.preferred_name <> '' AND p.preferred_name <> p.first_name
            THEN ' "' || p.preferred_name || '"' ELSE '' END"""
_DISPLAY_PROVIDER = """COALESCE(NULLIF(concat_ws(' ', NULLIF(v.title, ''), NULLIF(v.first_name, ''),
    NULLIF(v.last_name, '')), ''), NULLIF(v.abbr, ''), v.pms_id)"""
_SETTING = "COALESCE(current_setting('linker.{}', true), '')"

_FUNCTIONS = [
    # what a person reads: PMS ids, names, the appointment as it was
    f"""CREATE OR REPLACE FUNCTION linker_request_facts(r online_request) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT jsonb_build_object(
        'request', r.external_id, 'state', r.state, 'version', r.version,
        'patient', (SELECT jsonb_build_object('pms_id', p.pms_id, 'name', {_DISPLAY_PATIENT})
                    FROM patient p WHERE p.id = r.patient_id),
        'appointment', (SELECT jsonb_build_object(
                'pms_id', a.pms_id,
                'start', to_char(a.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
                'provider', CASE WHEN v.id IS NULL THEN '' ELSE {_DISPLAY_PROVIDER} END,
                'status', a.status)
            FROM appointment a LEFT JOIN provider v ON v.id = a.provider_id
            WHERE a.id = r.linked_appointment_id),
        'reject_reason', r.reject_reason, 'attention', r.attention,
        'patient_chosen_by', r.patient_chosen_by, 'decided_by', r.decided_by)
    $$""",
    # one audit row, from the database's own time and identity; the app's explanation
    # (action, detail, who sits at the desk, the desk's clock) comes from linker.* settings
    f"""CREATE OR REPLACE FUNCTION linker_audit_row(
        p_request integer, p_before text, p_after text, p_default text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        INSERT INTO audit_event (at, desk_at, db_user, application_name, desk_user, os_user,
                                 workstation, action, request_id, before, after, detail)
        VALUES (clock_timestamp(),
                NULLIF({_SETTING.format("desk_at")}, '')::timestamptz,
                session_user, current_setting('application_name'),
                {_SETTING.format("desk_user")}, {_SETTING.format("os_user")},
                {_SETTING.format("workstation")},
                COALESCE(NULLIF({_SETTING.format("action")}, ''), p_default),
                p_request, p_before, p_after, {_SETTING.format("detail")});
    END $$""",
    """CREATE OR REPLACE FUNCTION linker_audit_request() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        PERFORM linker_audit_row(NEW.id, linker_request_facts(OLD)::text,
                                 linker_request_facts(NEW)::text, 'direct_update');
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION linker_audit_email() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF current_setting('linker.action', true) LIKE 'email\\_%' THEN
            PERFORM linker_audit_row(NEW.request_id,
                jsonb_build_object('outbox_id', OLD.id, 'status', OLD.status)::text,
                jsonb_build_object('outbox_id', NEW.id, 'status', NEW.status)::text, '');
        END IF;
        RETURN NULL;
    END $$""",
    # the one way a desk changes a request: under the row lock, on the version shown;
    # NULL when the request is gone or changed meanwhile (nothing is written then)
    """CREATE OR REPLACE FUNCTION linker_decide(
        p_request integer, p_version integer, p_action text, p_changes jsonb,
        p_detail text, p_desk_user text, p_os_user text, p_workstation text,
        p_desk_at timestamptz) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        r online_request;
        new_state text;
        label text := p_desk_user || '@' || p_workstation;
    BEGIN
        IF p_action NOT IN ('link', 'reject', 'defer', 'reopen', 'choose_patient',
                            'attention', 'attention_seen') THEN
            RAISE EXCEPTION 'unknown decision %', p_action;
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_object_keys(p_changes) k
                   WHERE k NOT IN ('state', 'patient_id', 'patient_chosen_by',
                                   'linked_appointment_id', 'reject_reason', 'attention')) THEN
            RAISE EXCEPTION 'a decision cannot change %', p_changes;
        END IF;
        SELECT * INTO r FROM online_request WHERE id = p_request FOR UPDATE;
        IF NOT FOUND OR r.version <> p_version THEN
            RETURN NULL;
        END IF;
        new_state := COALESCE(p_changes->>'state', r.state);
        IF new_state NOT IN ('pending', 'waiting_pms', 'linked', 'rejected') THEN
            RAISE EXCEPTION 'unknown state %', new_state;
        END IF;
        IF p_action IN ('link', 'reject', 'defer', 'choose_patient')
           AND r.state NOT IN ('pending', 'waiting_pms') THEN
            RAISE EXCEPTION 'request % is already %', r.external_id, r.state;
        END IF;
        PERFORM set_config('linker.action', p_action, true),
                set_config('linker.detail', p_detail, true),
                set_config('linker.desk_user', p_desk_user, true),
                set_config('linker.os_user', p_os_user, true),
                set_config('linker.workstation', p_workstation, true),
                set_config('linker.desk_at', COALESCE(p_desk_at::text, ''), true);
        UPDATE online_request SET
            state = new_state,
            patient_id = CASE WHEN p_changes ? 'patient_id'
                THEN (p_changes->>'patient_id')::integer ELSE patient_id END,
            patient_chosen_by = COALESCE(p_changes->>'patient_chosen_by', patient_chosen_by),
            linked_appointment_id = CASE WHEN p_changes ? 'linked_appointment_id'
                THEN (p_changes->>'linked_appointment_id')::integer
                ELSE linked_appointment_id END,
            reject_reason = COALESCE(p_changes->>'reject_reason', reject_reason),
            decided_by = CASE WHEN NOT p_changes ? 'state' THEN decided_by
                WHEN new_state IN ('linked', 'rejected') THEN label ELSE '' END,
            decided_at = CASE WHEN NOT p_changes ? 'state' THEN decided_at
                WHEN new_state IN ('linked', 'rejected') THEN clock_timestamp() END,
            attention = COALESCE(p_changes->>'attention', attention),
            attention_at = CASE WHEN NOT p_changes ? 'attention' THEN attention_at
                WHEN p_changes->>'attention' <> '' THEN clock_timestamp() END,
            version = version + 1
        WHERE id = p_request;
        PERFORM set_config('linker.' || k, '', true)
            FROM unnest(ARRAY['action', 'detail', 'desk_user', 'os_user', 'workstation',
                              'desk_at']) k;
        RETURN r.version + 1;
    END $$""",
    "DROP TRIGGER IF EXISTS online_request_audit ON online_request",
    """CREATE TRIGGER online_request_audit AFTER UPDATE ON online_request FOR EACH ROW
    WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.state IS DISTINCT FROM NEW.state
          OR OLD.patient_id IS DISTINCT FROM NEW.patient_id
          OR OLD.patient_chosen_by IS DISTINCT FROM NEW.patient_chosen_by
          OR OLD.linked_appointment_id IS DISTINCT FROM NEW.linked_appointment_id
          OR OLD.reject_reason IS DISTINCT FROM NEW.reject_reason
          OR OLD.decided_by IS DISTINCT FROM NEW.decided_by
          OR OLD.decided_at IS DISTINCT FROM NEW.decided_at
          OR OLD.attention IS DISTINCT FROM NEW.attention)
    EXECUTE FUNCTION linker_audit_request()""",
    # a request arrives undecided: a desk cannot insert one already decided (its owner,
    # restoring or repairing data, can)
    """CREATE OR REPLACE FUNCTION linker_new_request() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF (NEW.state NOT IN ('pending', 'waiting_pms') OR NEW.version <> 1
            OR NEW.linked_appointment_id IS NOT NULL OR NEW.reject_reason <> ''
            OR NEW.decided_by <> '' OR NEW.decided_at IS NOT NULL OR NEW.attention <> '')
           AND NOT pg_has_role(session_user,
                               (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
        THEN
            RAISE EXCEPTION 'a new request arrives undecided (pending, version 1)';
        END IF;
        RETURN NEW;
    END $$""",
    "DROP TRIGGER IF EXISTS online_request_arrives ON online_request",
    """CREATE TRIGGER online_request_arrives BEFORE INSERT ON online_request FOR EACH ROW
    EXECUTE FUNCTION linker_new_request()""",
    "DROP TRIGGER IF EXISTS email_outbox_audit ON email_outbox",
    """CREATE TRIGGER email_outbox_audit AFTER UPDATE OF status ON email_outbox
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION linker_audit_email()""",
    # only the desks (granted below) may decide; nobody may call the audit writer
    "REVOKE ALL ON FUNCTION linker_decide(integer, integer, text, jsonb, text, text, text,"
    " text, timestamptz) FROM PUBLIC",
    "REVOKE ALL ON FUNCTION linker_audit_row(integer, text, text, text) FROM PUBLIC",
]
_DROP_FUNCTIONS = [
    "DROP TRIGGER IF EXISTS online_request_audit ON online_request",
    "DROP TRIGGER IF EXISTS email_outbox_audit ON email_outbox",
    "DROP TRIGGER IF EXISTS online_request_arrives ON online_request",
    "DROP FUNCTION IF EXISTS linker_new_request()",
    "DROP FUNCTION IF EXISTS linker_decide(integer, integer, text, jsonb, text, text, text,"
    " text, timestamptz)",
    "DROP FUNCTION IF EXISTS linker_audit_request()",
    "DROP FUNCTION IF EXISTS linker_audit_email()",
    "DROP FUNCTION IF EXISTS linker_audit_row(integer, text, text, text)",
    "DROP FUNCTION IF EXISTS linker_request_facts(online_request)",
]
# the desks write these tables, read all, and never write the trail or a request's state
_KEPT_FROM_DESKS = ("audit_event", "online_request", "alembic_version")


def _grant_desk(role: str) -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        desk = bind.dialect.identifier_preparer.quote(role)
    else:
        raise RuntimeError(
            f"the desk role {role} does not exist: create it first "
            f"(CREATE ROLE {role} LOGIN) or name yours in database_desk_role"
        )
    tables = [t for t in sa.inspect(bind).get_table_names() if t not in _KEPT_FROM_DESKS]
    writable = ", ".join(bind.dialect.identifier_preparer.quote(t) for t in tables)
    for statement in (
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {desk}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {desk}",
        f"GRANT INSERT, UPDATE, DELETE ON {writable} TO {desk}",
        f"GRANT INSERT ON online_request TO {desk}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {desk}",
        "GRANT EXECUTE ON FUNCTION linker_decide(integer, integer, text, jsonb, text, text,"
        f" text, text, timestamptz) TO {desk}",
        # tables of later migrations (made by this same admin role): the desks write them
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {desk}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {desk}",
    ):
        op.execute(statement)


def upgrade() -> None:
    bind = op.get_bind()
    present = {c["name"] for c in sa.inspect(bind).get_columns("audit_event")}
    for name, type_, default in _COLUMNS:
        if name not in present:  # a database adopted from create_all may have them
            server_default = sa.text(default) if default else None
            column = sa.Column(name, type_, nullable=default is None, server_default=server_default)
            op.add_column("audit_event", column)
    if bind.dialect.name != "postgresql":
        return
    for statement in _FUNCTIONS:
        op.execute(statement)
    role = context.config.attributes.get("desk_role", "")
    if role:
        _grant_desk(role)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in _DROP_FUNCTIONS:
            op.execute(statement)
    for name, _type, _default in reversed(_COLUMNS):
        op.drop_column("audit_event", name)
