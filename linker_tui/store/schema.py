"""Schema versions: create or upgrade with Alembic, and refuse a database of another version.

A start on a current schema does not import Alembic (about 200 ms): the revision is read
with a plain query and compared with :data:`HEAD_REVISION`. Alembic is imported when
something has to be created, upgraded, stamped or compared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.common.outage import DatabaseUnavailable
from linker_tui.store import search
from linker_tui.store.search import is_search_object
from linker_tui.store.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"
HEAD_REVISION = "0007_open_request_order"
"""The newest revision in ``linker_tui/store/migrations/versions``; a test checks it against
Alembic's own reading of that folder (:func:`alembic_head`), so a new migration that
forgets it fails the tests."""


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this version of linker-tui knows."""


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "linker_tui.store:migrations")
    return config


def head_revision() -> str:
    """The newest schema revision this version knows."""
    return HEAD_REVISION


def alembic_head() -> str:
    """The newest revision as Alembic reads it from the migrations folder."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision this version knows (older ones and the head)."""
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no linker-tui schema yet), read from
    Alembic's version table with one plain query; whether the table exists is asked only
    when that query fails (a new database), so a start costs one round trip."""
    query = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
    with engine.connect() as connection:
        try:
            revisions = list(connection.execute(query).scalars())
        except DatabaseUnavailable:
            raise
        except sa.exc.DBAPIError:
            connection.rollback()  # PostgreSQL: the failed statement ended the transaction
            if sa.inspect(connection).has_table(VERSION_TABLE):
                raise  # the table is there: the error is another one
            return None
    if len(revisions) > 1:
        raise SchemaMismatch(f"The database records several schema revisions: {revisions}.")
    return revisions[0] if revisions else None


def has_unversioned_tables(engine: Engine) -> bool:
    """Whether linker-tui's tables exist without a recorded revision (a database made by
    ``create_all`` before migrations existed)."""
    names = set(sa.inspect(engine).get_table_names())
    return VERSION_TABLE not in names and "online_request" in names


def upgrade(engine: Engine, desk_role: str = "") -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; returns (before, after).

    ``desk_role`` (PostgreSQL): the role the desks log in as, given its grants by the
    migrations (empty: no grants, one role does everything). A database made before
    migrations existed (tables, no ``alembic_version``) is adopted: missing tables and
    the audit guard are added, it is stamped as the initial revision (its tables are
    those of 1.x) and upgraded from there.
    """
    before = current_revision(engine)
    if before is None and has_unversioned_tables(engine):
        create_schema_tables(engine)  # create_all (missing tables only) + guard
        _run(engine, "stamp", "0001_initial", desk_role)
    _run(engine, "upgrade", "head", desk_role)
    return before, head_revision()


def _run(engine: Engine, what: str, revision: str, desk_role: str) -> None:
    from alembic import command

    config = _config()
    config.attributes["desk_role"] = desk_role
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # a migration may take longer
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        config.attributes["connection"] = connection
        getattr(command, what)(config, revision)


class WrongRole(RuntimeError):
    """``db upgrade`` run by a role that may not change the schema; says so in one line."""


def check_upgrader(engine: Engine, admin_role: str, desk_role: str) -> None:
    """Raise :class:`WrongRole` unless this connection may run the migrations (PostgreSQL):
    it must be the admin role (or a member of it, or a superuser), and the desk role
    must exist. Empty names skip the check."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        me = connection.execute(sa.text("SELECT session_user")).scalar_one()
        roles = set(
            connection.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE rolname IN (:a, :d)"),
                {"a": admin_role, "d": desk_role},
            ).scalars()
        )
        if admin_role and admin_role not in roles:
            raise WrongRole(
                f"the admin role {admin_role} does not exist: create it (see "
                "docs/multi-workstation.md) or name yours in database_admin_role"
            )
        if desk_role and desk_role not in roles:
            raise WrongRole(
                f"the desk role {desk_role} does not exist: create it (see "
                "docs/multi-workstation.md) or name yours in database_desk_role"
            )
        if (
            admin_role
            and not connection.execute(
                sa.text("SELECT pg_has_role(session_user, :a, 'MEMBER')"), {"a": admin_role}
            ).scalar_one()
        ):
            raise WrongRole(
                f"connected as {me}: the schema is changed by the admin role {admin_role} "
                "only; run `linker-tui db upgrade` with the admin's database URL"
            )


def stamp_head(engine: Engine) -> None:
    """Record that a schema made by ``create_all`` is at the newest revision."""
    _run(engine, "stamp", "head", "")


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaMismatch`, with what to do, unless the schema is current."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaMismatch(
            f"The database {url} has no linker-tui schema yet. "
            "Run `linker-tui db upgrade` once (whoever administers the database)."
        )
    if current in known_revisions():
        raise SchemaMismatch(
            f"The database {url} has an older schema ({current}); this linker-tui needs "
            f"{head}. Run `linker-tui db upgrade` (on one workstation), then start again."
        )
    raise SchemaMismatch(
        f"The database {url} was upgraded by a newer linker-tui (schema {current}). "
        "Install the same linker-tui version as the other workstations."
    )


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate sees between the database and the models (empty: equal).
    The request search index (:mod:`linker_tui.store.search`) is no part of the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def include_name(name: str | None, kind: str, parent: Any) -> bool:
        return not is_search_object(name)

    with engine.connect() as connection:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, metadata))


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Check the schema before the app uses the database (see :func:`check_schema`).

    ``auto_upgrade`` (the default SQLite file in the user's data folder, which only this
    workstation uses): a missing or older schema is created or upgraded at once, so a
    first run just works. A configured ``database_url`` is never changed here: it may be
    shared by several desks, and ``linker-tui db upgrade`` is the administrator's job.
    A schema newer than this version is refused either way.
    """
    if auto_upgrade:
        current = current_revision(engine)
        if current == head_revision():
            return  # the usual start: one query
        if current is None or current in known_revisions():
            upgrade(engine)
    check_schema(engine)


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

_PG_FUNCTIONS = (
    "linker_decide",
    "linker_audit_request",
    "linker_audit_email",
    "linker_new_request",
    "linker_audit_row",
    "linker_request_facts",
    "audit_event_append_only",
)


def create_schema(engine: Engine) -> None:
    """Create the newest schema (the demo and the tests; real databases are created and
    upgraded with ``linker-tui db upgrade``). SQLite: the tables from the models, the
    audit guard and the revision stamp; PostgreSQL: the migrations themselves, since the
    database's own part of the trail (functions, triggers) lives only there."""
    if engine.dialect.name == "postgresql":
        upgrade(engine)
        return
    create_schema_tables(engine)
    stamp_head(engine)


def create_schema_tables(engine: Engine) -> None:
    """Missing tables and indexes, and the audit trail's append-only guard."""
    metadata.create_all(engine)
    statements = _AUDIT_GUARD_SQLITE if engine.dialect.name == "sqlite" else []
    if engine.dialect.name == "postgresql":
        statements = _AUDIT_GUARD_POSTGRES
    with engine.begin() as conn:
        for statement in [*statements, *search.create_statements(engine.dialect.name)]:
            conn.exec_driver_sql(statement)


def drop_schema(engine: Engine) -> None:
    """Drop every table and the schema revision (tests and the demo's fresh start)."""
    if engine.dialect.name == "postgresql":  # the trail's functions go with the tables
        with engine.begin() as conn:
            for function in _PG_FUNCTIONS:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    with engine.begin() as conn:  # the search index is no table of the models
        for statement in search.drop_statements(engine.dialect.name):
            conn.exec_driver_sql(statement)
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
