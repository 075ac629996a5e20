"""What ``linker-tui doctor`` looks at, section by section (core: no Textual).

Every check reads; none changes the practice's data (the inbox check writes and removes one
empty file, the SMTP check logs in and quits without sending).
"""

from __future__ import annotations

import locale
import os
import platform
import smtplib
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from linker_tui import __version__
from linker_tui.doctor.report import Report
from linker_tui.logs import MASK, current_handler, log_file, secrets_of
from linker_tui.settings.config import (
    Settings,
    default_config_file,
    is_secret_field,
    setting_sources,
    unknown_environment,
)
from linker_tui.store import schema
from linker_tui.store.db import make_engine
from linker_tui.store.lease import all_leases
from linker_tui.store.models import AuditEvent
from linker_tui.sync.configure import connector as pms_connector
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import latest_runs, sync_problems, sync_status
from linker_tui.workflow.trail import clock_skew

BOX_CHARS = "─│▃█≠·…→✓"
"""Characters the app draws (rules, scrollbar, marks): the terminal must be able to show them."""
CLOCK_SKEW_WARN = timedelta(seconds=5)
PROBLEMS_SHOWN = 5


def run_checks(
    settings: Settings, *, title: str = "", overridden: frozenset[str] = frozenset()
) -> Report:
    """Every section, in reading order; a check that breaks is a finding, not a crash.
    ``overridden``: settings the command replaced (the demo's), shown as such."""
    report = Report()
    engine: Engine | None = None
    sections: list[tuple[str, Callable[[], object]]] = [
        ("linker-tui", lambda: _program(report, title)),
        ("settings", lambda: _settings(report, settings, overridden)),
    ]
    for section, check in sections:
        _run(report, section, check)
    report.section = "database"
    try:
        engine = _database(report, settings)
    except Exception as exc:
        report.fail("check", f"the database check broke: {exc!r}")
    later: list[tuple[str, Callable[[], object]]] = [
        ("PMS source and sync", lambda: _pms(report, settings, engine, bool(overridden))),
        ("request inbox", lambda: _inbox(report, settings)),
        ("mail", lambda: _mail(report, settings)),
        ("shared jobs (leases)", lambda: _leases(report, settings, engine)),
        ("terminal", lambda: _terminal(report)),
        ("log file", lambda: _log(report, settings)),
    ]
    for section, check in later:
        _run(report, section, check)
    if engine is not None:
        engine.dispose()
    return report


def _run(report: Report, section: str, check: Callable[[], object]) -> None:
    report.section = section
    try:
        check()
    except Exception as exc:
        report.fail("check", f"this check broke: {exc!r}")


def _program(report: Report, title: str) -> None:
    report.info("version", f"linker-tui {__version__}{title}")
    report.info("python", f"{platform.python_version()} ({sys.executable})")
    report.info("system", f"{platform.platform()} · host {platform.node()}")


def _settings(report: Report, settings: Settings, overridden: frozenset[str]) -> None:
    path = default_config_file()
    named = "LINKER_CONFIG" in os.environ
    if path.exists():
        report.ok("settings file", f"{path}{' (LINKER_CONFIG)' if named else ''}")
    else:
        report.info("settings file", f"{path} (none: defaults and environment only)")
    sources = setting_sources()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        shown = MASK if is_secret_field(name) and value is not None else _masked(value, settings)
        source = "the demo" if name in overridden else sources[name]
        report.info(name, f"{shown}  [{source}]")
    for variable in unknown_environment():
        report.warn(
            "environment",
            f"{variable} is set but names no setting (ignored)",
            "check its spelling against the README's settings",
        )


def _masked(value: object, settings: Settings) -> str:
    text = "" if value is None else str(value)
    for secret in secrets_of(settings):
        text = text.replace(secret, MASK)
    return repr(text) if isinstance(value, str) else text or "(none)"


def _database(report: Report, settings: Settings) -> Engine | None:
    engine = make_engine(settings.effective_database_url)
    report.info("url", engine.url.render_as_string(hide_password=True))
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        report.fail(
            "reachable",
            f"cannot connect: {_first_line(exc)}",
            "is the database server running and reachable from this machine? "
            "check database_url (host, port, user, password)",
        )
        engine.dispose()
        return None
    report.ok("reachable", f"connected in {(time.monotonic() - started) * 1000:.0f} ms")
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
        engine.dispose()
        return None
    else:
        report.ok("schema", f"{current} (this linker-tui's)")
    if engine.dialect.name == "postgresql":
        _grants(report, engine)
    _clock(report, engine)
    return engine


# What the desks' role may do (the migration's grants, 0002_server_trail): read every
# table; write every table but these; add requests (decisions go through linker_decide).
_DESK_READ_ONLY = ("audit_event", "alembic_version")
_DESK_INSERT_ONLY = ("online_request",)
_DECIDE = "linker_decide(integer, integer, text, jsonb, text, text, text, text, timestamptz)"


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
        for table in [*SQLModel.metadata.tables, schema.VERSION_TABLE]:
            if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
                continue
            writes = {"INSERT", "UPDATE", "DELETE"}
            if table in _DESK_READ_ONLY:
                needed, forbidden = {"SELECT"}, writes
            elif table in _DESK_INSERT_ONLY:
                needed, forbidden = {"SELECT", "INSERT"}, {"UPDATE", "DELETE"}
            else:
                needed, forbidden = {"SELECT"} | writes, set()
            for privilege in sorted(needed):
                if not _has(conn, "has_table_privilege", table, privilege):
                    missing.append(f"{privilege} on {table}")
            for privilege in sorted(forbidden | {"TRUNCATE"}):
                if _has(conn, "has_table_privilege", table, privilege):
                    excess.append(f"{privilege} on {table}")
        decide = conn.execute(sa.text("SELECT to_regprocedure(:f)"), {"f": _DECIDE}).scalar()
        if decide and not _has(conn, "has_function_privilege", _DECIDE, "EXECUTE"):
            missing.append("EXECUTE on linker_decide")
        sequences = conn.execute(
            sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars()
        for sequence in sequences:
            if not _has(conn, "has_sequence_privilege", sequence, "USAGE"):
                missing.append(f"USAGE on sequence {sequence}")
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


def _pms(report: Report, settings: Settings, engine: Engine | None, demo: bool) -> None:
    folder = settings.pms_export_dir
    if settings.pms == "open_dental":
        _open_dental(report, settings)
    elif folder is None:
        report.fail(
            "source",
            "no PMS source is configured: nothing is synced",
            "set pms_export_dir to the folder the PMS exports to (docs/sync.md)",
        )
    else:
        folder = folder.expanduser()
        if not folder.is_dir():
            report.fail("export folder", f"{folder} does not exist", "check pms_export_dir")
        elif not os.access(folder, os.R_OK | os.X_OK):
            report.fail("export folder", f"{folder} cannot be read by this user")
        else:
            files = [p for p in folder.iterdir() if p.suffix.lower() == ".csv"]
            if not files:
                report.fail("export folder", f"{folder} holds no .csv export")
            else:
                newest = max(p.stat().st_mtime for p in files)
                when = datetime.fromtimestamp(newest, UTC)
                age = datetime.now(UTC) - when
                report.ok("export folder", f"{folder}: {len(files)} CSV file(s)")
                if demo:
                    report.info("last export", f"{when:%Y-%m-%d} (the demo's, dates moved on)")
                else:
                    _age(report, "last export", when, age, settings)
    if engine is None:
        report.info("last sync", "unknown: no usable database (see above)")
        return
    status = sync_status(engine, datetime.now(UTC))
    success = status.last_success
    if success is None:
        report.warn("last good sync", "none yet", "run linker-tui sync")
    else:
        _age(
            report,
            "last good sync",
            success.started_at,
            datetime.now(UTC) - success.started_at,
            settings,
            success.text(),
        )
    runs = latest_runs(engine, 1)
    if runs and runs[0].problems and runs[0].run_id is not None:
        shown = sync_problems(engine, runs[0].run_id, limit=PROBLEMS_SHOWN)
        report.warn(
            "last run's problems",
            f"{runs[0].problems}: " + "; ".join(str(p) for p in shown),
            "linker-tui sync --runs 5, or the Sync runs screen (Y)",
        )
    if status.failing and status.last_run is not None:
        report.fail("last run", status.last_run.text())


def _open_dental(report: Report, settings: Settings) -> None:
    """Open Dental's database: reachable and readable (the connector reads its change
    marks, as every sync starts)."""
    source = pms_connector(settings)
    assert source is not None
    try:
        source.cursor(StopFlag())
    except Exception as exc:
        report.fail(
            "Open Dental",
            f"{source.source}: {_first_line(exc)}",
            "is the Open Dental server reachable, and may open_dental_url's user read "
            "its tables? (docs/sync.md, Open Dental)",
        )
    else:
        report.ok("Open Dental", f"{source.source} reachable and readable")


def _age(
    report: Report, name: str, when: datetime, age: timedelta, settings: Settings, extra: str = ""
) -> None:
    text = f"{when.astimezone(settings.tz):%Y-%m-%d %H:%M} ({_ago(age)})"
    if extra:
        text = f"{text} · {extra}"
    if age > settings.sync_stale_after:
        report.warn(name, text, f"older than {settings.sync_stale_after} (sync_stale_minutes)")
    else:
        report.ok(name, text)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min ago"
    return f"{minutes // (24 * 60)} days ago"


def _inbox(report: Report, settings: Settings) -> None:
    folder = settings.effective_inbox_dir.expanduser()
    if not folder.is_dir():
        parent = next((p for p in folder.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK | os.X_OK):
            report.warn("folder", f"{folder} does not exist yet (the next sync creates it)")
        else:
            report.fail("folder", f"{folder} does not exist and cannot be created here")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", suffix=".tmp"):
            pass
    except OSError as exc:
        report.fail("folder", f"{folder} is not writable: {exc.strerror}")
    else:
        report.ok("folder", f"{folder} readable and writable")
    waiting = list(folder.glob("*.json"))
    rejected = list((folder / "rejected").glob("*")) if (folder / "rejected").is_dir() else []
    report.info("waiting", f"{len(waiting)} request file(s) not imported yet")
    if rejected:
        report.warn("rejected", f"{len(rejected)} file(s) in {folder / 'rejected'}")
    else:
        report.ok("rejected", "none")


def _mail(report: Report, settings: Settings) -> None:
    if settings.practice_email.endswith(".invalid"):
        report.warn("sender", f"{settings.practice_email}", "set practice_email")
    else:
        report.ok("sender", settings.practice_email)
    if settings.mail_backend == "file":
        report.warn(
            "backend",
            f"mail is not sent: mail_backend = file, emails are written to "
            f"{settings.effective_outbox_dir}",
            'set mail_backend = "smtp" and the smtp_* settings to send them',
        )
        return
    host, port = settings.smtp_host, settings.effective_smtp_port
    where = f"{host}:{port} ({settings.smtp_security})"
    try:
        password = settings.smtp_secret()
    except (OSError, ValueError) as exc:
        report.fail("password", str(exc))
        return
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    step = "connect"
    try:
        if settings.smtp_security == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=settings.smtp_timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.smtp_timeout)
        report.ok("connect", where)
        step = "EHLO"
        code, _ = client.ehlo()
        report.ok("EHLO", f"{code}")
        if settings.smtp_security == "starttls":
            step = "STARTTLS"
            client.starttls(context=context)
            client.ehlo()
            report.ok("STARTTLS", "the connection is encrypted")
        elif settings.smtp_security == "none":
            report.warn("encryption", "none: passwords and emails cross the network in clear")
        if settings.smtp_username:
            step = "login"
            client.login(settings.smtp_username, password.get_secret_value() if password else "")
            report.ok("login", f"as {settings.smtp_username}")
        else:
            report.info("login", "none (smtp_username is empty)")
    except (smtplib.SMTPException, OSError) as exc:
        report.fail(step, f"{where}: {_first_line(exc)}", _smtp_hint(step))
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def _smtp_hint(step: str) -> str:
    return {
        "connect": "is the SMTP server up, and smtp_host / smtp_port right? a firewall?",
        "STARTTLS": "does the server offer STARTTLS on this port? (smtp_security)",
        "login": "check smtp_username and the password (LINKER_SMTP_PASSWORD or "
        "smtp_password_file)",
    }.get(step, "")


def _leases(report: Report, settings: Settings, engine: Engine | None) -> None:
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


def _terminal(report: Report) -> None:
    term = os.environ.get("TERM", "")
    report.info("TERM", term or "(not set)")
    colours = (
        "none (NO_COLOR)"
        if os.environ.get("NO_COLOR")
        else (
            "truecolor"
            if os.environ.get("COLORTERM") in ("truecolor", "24bit")
            else "256"
            if "256color" in term
            else "basic"
            if term and term != "dumb"
            else "none"
        )
    )
    report.info("colours", colours)
    encoding = locale.getpreferredencoding(False)
    try:
        BOX_CHARS.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        report.warn(
            "characters",
            f"the locale's encoding {encoding} cannot show {BOX_CHARS}",
            "use a UTF-8 locale (e.g. LANG=en_CA.UTF-8) for lines and marks",
        )
    else:
        report.ok("characters", f"{encoding}: can show {BOX_CHARS}")


def _log(report: Report, settings: Settings) -> None:
    path = log_file(settings)
    handler = current_handler()
    if handler is None or not path.exists():
        report.warn("log", f"{path} cannot be written", "set log_file to a writable path")
        return
    report.ok("log", f"{path} ({path.stat().st_size // 1024} KiB; rotated at 5 MB, 5 kept)")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
