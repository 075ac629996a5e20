"""The two PostgreSQL roles of a shared database, made fresh for a test: an admin that
owns the schema (runs the migrations) and a desk role the workstations log in as."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine, make_url

from linker_tui.store import schema
from linker_tui.store.db import make_engine
from linker_tui.store.schema import drop_schema


@dataclass(frozen=True)
class Roles:
    """The roles' names and the URLs that log in as them."""

    admin: str
    desk: str
    admin_url: str
    desk_url: str


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=role).render_as_string(hide_password=False)


@contextmanager
def linker_roles(url: str) -> Iterator[Roles]:
    """Fresh login roles ``audit_admin_…`` and ``audit_desk_…`` (random suffix: other
    tests share the server), the database emptied; both dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    admin, desk = f"audit_admin_{suffix}", f"audit_desk_{suffix}"
    root = make_engine(url)
    drop_schema(root)
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {admin} LOGIN PASSWORD '{admin}'")
        conn.exec_driver_sql(f"CREATE ROLE {desk} LOGIN PASSWORD '{desk}'")
        conn.exec_driver_sql(f"GRANT USAGE, CREATE ON SCHEMA public TO {admin}")
    try:
        yield Roles(admin, desk, _as(url, admin), _as(url, desk))
    finally:
        drop_schema(root)
        with root.begin() as conn:
            for role in (desk, admin):
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
                conn.exec_driver_sql(f"DROP ROLE {role}")
        root.dispose()


def upgrade_as_admin(roles: Roles) -> Engine:
    """``db upgrade`` by the admin, granting the desk role; returns the admin's engine."""
    admin = make_engine(roles.admin_url)
    schema.check_upgrader(admin, roles.admin, roles.desk)
    schema.upgrade(admin, roles.desk)
    return admin
