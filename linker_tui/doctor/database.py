"""``doctor``'s database section: reachable, schema, the desk role's grants (PostgreSQL),
the clock against the server's, and the shared jobs' leases."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.doctor.report import Report, first_line
from linker_tui.settings.config import Settings
from linker_tui.store import schema
from linker_tui.store.db import make_engine
from linker_tui.store.lease import all_leases
from linker_tui.store.models import AuditEvent
from linker_tui.store.tables import metadata
from linker_tui.workflow.trail import clock_skew

CLOCK_SKEW_WARN = timedelta(seconds=5)

# What the desks' role may do (the migration's grants, 0002_server_trail): read every
# table; write every table but these; add requests (decisions go through linker_decide).
_DESK_READ_ONLY = ("audit_event", "alembic_version")
_DESK_INSERT_ONLY = ("online_request",)
_DECIDE = "linker_decide(integer, integer, text, jsonb, text, text, text, text, timestamptz)"
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})


def check_database(report: Report, settings: Settings) -> Engine | None:
    """Connect, check the schema, the grants and the clock; the engine when usable."""
    engine = make_engine(settings.effective_database_url)
    report.info("url", engine.url.render_as_string(hide_password=True))
    if not _reachable(report, engine) or not _schema(report, engine, settings):
        engine.dispose()
        return None
    if engine.dialect.name == "postgresql":
        _grants(report, engine)
    _clock(report, engine)
    return engine


def _reachable(report: Report, engine: Engine) -> bool:
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        report.fail(
            "reachable",
            f"cannot connect: {first_line(exc)}",
            "is the database server running and reachable from this machine? "
            "check database_url (host, port, user, password)",
        )
        return False
    report.ok("reachable", f"connected in {(time.monotonic() - started) * 1000:.0f} ms")
    return True


def _schema(report: Report, engine: Engine, settings: Settings) -> bool:
    current, head = schema.current_revision(engine), schema.head_revision()
    try:
        schema.check_schema(engine)
    except schema.SchemaMismatch as exc:
        auto = not settings.database_url and (
            current is None or current in schema.known_revisions()
        )
        if auto:
            report.ok("schema", f"{current or '(none)'}: created or upgraded at the next start")
        else:
            report.fail("schema", f"{current or '(none)'}, this linker-tui needs {head}", str(exc))
        return False
    report.ok("schema", f"{current} (this linker-tui's)")
    return True


def _grants(report: Report, engine: Engine) -> None:
    """The desk's role: what it needs (read all, write its tables, run linker_decide, use
    the sequences) and nothing it must not (write the trail, change a request's state
    behind linker_decide, TRUNCATE, own the tables, be a superuser)."""
    missing: list[str] = []
    excess: list[str] = []
    with engine.connect() as conn:
        role, superuser = conn.execute(
            sa.text("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
        ).one()
        for table in [*metadata.tables, schema.VERSION_TABLE]:
            _table_grants(conn, table, missing, excess)
        missing.extend(_routine_grants(conn))
        owner = conn.execute(
            sa.text("SELECT tableowner FROM pg_tables WHERE tablename = :t"),
            {"t": AuditEvent.__tablename__},
        ).scalar()
    if missing:
        report.fail(
            "grants",
            f"role {role} lacks {', '.join(missing)}",
            "run linker-tui db upgrade as the admin role with database_desk_role naming this "
            "role (it grants what the desks need); see docs/multi-workstation.md",
        )
    else:
        report.ok("grants", f"role {role} can read and write what the desk needs")
    why = ["a superuser"] if superuser else ["the tables' owner"] if owner == role else []
    if why or excess:
        report.warn(
            "grants",
            f"role {role} may do more than a desk should: {', '.join([*why, *excess][:8])}",
            "desks should log in as a role that owns nothing and cannot write the audit "
            "trail; see docs/multi-workstation.md",
        )


def _table_grants(conn: sa.Connection, table: str, missing: list[str], excess: list[str]) -> None:
    """Add to ``missing`` what the desk needs on ``table`` and lacks, to ``excess`` what it
    has and must not (a table not made yet: nothing)."""
    if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
        return
    if table in _DESK_READ_ONLY:
        needed, forbidden = {"SELECT"}, set(_WRITES)
    elif table in _DESK_INSERT_ONLY:
        needed, forbidden = {"SELECT", "INSERT"}, {"UPDATE", "DELETE"}
    else:
        needed, forbidden = {"SELECT"} | _WRITES, set()
    for privilege in sorted(needed):
        if not _has(conn, "has_table_privilege", table, privilege):
            missing.append(f"{privilege} on {table}")
    for privilege in sorted(forbidden | {"TRUNCATE"}):
        if _has(conn, "has_table_privilege", table, privilege):
            excess.append(f"{privilege} on {table}")


def _routine_grants(conn: sa.Connection) -> list[str]:
    """What the desk lacks on linker_decide and the sequences."""
    missing = []
    decide = conn.execute(sa.text("SELECT to_regprocedure(:f)"), {"f": _DECIDE}).scalar()
    if decide and not _has(conn, "has_function_privilege", _DECIDE, "EXECUTE"):
        missing.append("EXECUTE on linker_decide")
    sequences = conn.execute(
        sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
    ).scalars()
    for sequence in sequences:
        if not _has(conn, "has_sequence_privilege", sequence, "USAGE"):
            missing.append(f"USAGE on sequence {sequence}")
    return missing


def _has(conn: sa.Connection, function: str, name: str, privilege: str) -> bool:
    query = sa.text(f"SELECT {function}(current_user, :name, :privilege)")
    return bool(conn.execute(query, {"name": name, "privilege": privilege}).scalar())


def _clock(report: Report, engine: Engine) -> None:
    skew = clock_skew(engine)
    if skew is None:
        report.info("clock", "SQLite: the database uses this machine's clock")
        return
    text = f"this machine's clock is {skew.total_seconds():+.1f} s off the database server's"
    if abs(skew) > CLOCK_SKEW_WARN:
        report.warn(
            "clock", text, "decisions take the server's time; fix this machine's clock (NTP)"
        )
    else:
        report.ok("clock", text)


def check_leases(report: Report, settings: Settings, engine: Engine | None) -> None:
    """Who holds the shared jobs (sync, outbox relay), and until when."""
    if engine is None:
        report.info("holders", "unknown: no usable database (see above)")
        return
    leases = all_leases(engine)
    if not leases:
        report.info("holders", "none: no desk has run a shared job yet")
    now = datetime.now(UTC)
    for lease in leases:
        held = lease.expires_at > now
        taken = lease.acquired_at.astimezone(settings.tz)
        until = lease.expires_at.astimezone(settings.tz)
        report.info(
            lease.name,
            f"{'held' if held else 'free'} by {lease.holder}; taken {taken:%Y-%m-%d %H:%M:%S}, "
            f"{'runs out' if held else 'ran out'} {until:%H:%M:%S}",
        )
