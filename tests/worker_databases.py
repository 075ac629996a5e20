"""A database of its own for each pytest-xdist worker.

The suite runs in parallel (``-n auto``): each worker gets ``<database>_<worker>`` on the
PostgreSQL and MariaDB servers named by ``LINKER_TEST_POSTGRES_URL`` and
``LINKER_TEST_MARIADB_URL``, created when missing, and the variables are pointed at it
(subprocesses started by tests inherit them). Without xdist, or with a variable unset,
nothing changes.
"""

from __future__ import annotations

import contextlib
import os

import sqlalchemy as sa
from sqlalchemy.engine import make_url

VARIABLES = ("LINKER_TEST_POSTGRES_URL", "LINKER_TEST_MARIADB_URL")


def _create(url: str, name: str) -> None:
    """Create database ``name`` on the server of ``url`` unless it exists."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if found is None:
                    with contextlib.suppress(sa.exc.IntegrityError):  # made meanwhile
                        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        engine.dispose()


MARK = "LINKER_TEST_WORKER_DATABASES"
"""Set once the variables name the worker's databases: processes a test starts (they
import the conftest again, with the variables already pointed) leave them alone."""


def use_worker_databases() -> None:
    """Point the test database variables at this worker's own databases."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker or os.environ.get(MARK) == worker:
        return
    os.environ[MARK] = worker
    for variable in VARIABLES:
        url = os.environ.get(variable, "")
        if not url:
            continue
        parsed = make_url(url)
        name = f"{parsed.database}_{worker}"
        _create(url, name)
        os.environ[variable] = parsed.set(database=name).render_as_string(hide_password=False)
