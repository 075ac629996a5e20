"""Helpers for the Open Dental tests: a MariaDB database of their own with Open Dental's
tables (``tests/open_dental_schema.sql``), rows written as Open Dental writes them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.open_dental import OpenDentalConnector
from scripts.load_open_dental_demo import create_database
from tests.builders import NOW, TZ

MARIADB_URL = os.environ.get("LINKER_TEST_MARIADB_URL", "")
needs_mariadb = pytest.mark.skipif(not MARIADB_URL, reason="LINKER_TEST_MARIADB_URL is not set")
_numbers = itertools.count(1)


@contextmanager
def open_dental_database() -> Iterator[str]:
    """A fresh database on the test server (named after the URL's, this process and a
    counter, so parallel runs do not collide), dropped afterwards; yields its URL."""
    base = make_url(MARIADB_URL)
    name = f"{base.database or 'test'}_od{os.getpid()}_{next(_numbers)}"
    url = base.set(database=name).render_as_string(hide_password=False)
    create_database(url, replace=True)
    try:
        yield url
    finally:
        server = sa.create_engine(base.set(database=""))
        with server.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()


class OpenDental:
    """Writes to the test's Open Dental database as Open Dental would (root)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.engine.begin() as conn:
            if params:
                conn.exec_driver_sql(sql, tuple(params))
            else:  # no parameters: a "%" is a "%"
                conn.exec_driver_sql(sql.replace("%", "%%"))

    def value(self, sql: str) -> Any:
        with self.engine.begin() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def insert(self, table: str, **values: Any) -> None:
        names = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        self.run(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))

    def delete_appointment(self, apt_num: int) -> None:
        """Delete as Open Dental does: a copy in histappointment (HistApptAction 4
        Deleted), an entry in deletedobject (type 0), then the row goes."""
        columns = (
            "AptNum, PatNum, AptStatus, Pattern, Op, ProvNum, ProvHyg, AptDateTime, "
            "ProcDescript, ClinicNum, IsHygiene"
        )
        self.run(
            f"INSERT INTO histappointment (HistDateTStamp, HistApptAction, {columns}) "
            f"SELECT NOW(), 4, {columns} FROM appointment WHERE AptNum = %s",
            (apt_num,),
        )
        self.insert("deletedobject", ObjectNum=apt_num, ObjectType=0)
        self.run("DELETE FROM appointment WHERE AptNum = %s", (apt_num,))

    def dispose(self) -> None:
        self.engine.dispose()


def fill(od: OpenDental) -> None:
    """Two providers (a dentist, a hygienist), two operatories, three patients and seven
    appointment rows, stamped an hour ago (older than the connector's overlap)."""
    stamp = "NOW() - INTERVAL 1 HOUR"
    od.run(
        "INSERT INTO provider (ProvNum, Abbr, FName, LName, IsSecondary, IsHidden, DateTStamp) "
        f"VALUES (1, 'AC', 'Amelia', 'Chen', 0, 0, {stamp}), "
        f"(2, 'JB', 'Jordan', 'Blake', 1, 0, {stamp})"
    )
    od.run(
        "INSERT INTO operatory (OperatoryNum, OpName, Abbrev, DateTStamp) "
        f"VALUES (1, 'OP1', 'OP1', {stamp}), (2, 'Hygiene 2', 'HYG2', {stamp})"
    )
    od.run(
        "INSERT INTO patient (PatNum, LName, FName, Preferred, Birthdate, Email, HmPhone, "
        "WirelessPhone, Guarantor, PatStatus, DateTStamp) VALUES "
        "(1001, 'Hart', 'William', 'Bill', '1980-04-02', 'william@example.com', "
        f"'416 555 0101', '', 1001, 0, {stamp}), "
        "(1002, 'Lefèvre-Côté', 'Zoë', '', '1990-01-02', 'zoe@example.com', '', "
        f"'(647) 555-0102', 1002, 0, {stamp}), "
        f"(1003, 'Brown', 'Ava', '', '0001-01-01', '', '', '', 1002, 0, {stamp})"
    )
    rows = [
        # AptNum, PatNum, AptStatus, Pattern, Op, ProvNum, ProvHyg, AptDateTime, ProcDescript,
        # IsHygiene
        (1, 1001, 2, "X" * 6, 1, 1, 0, "2026-11-20 09:00:00", "Exam", 0),
        (2, 1001, 1, "X" * 12, 1, 1, 0, "2026-12-03 09:30:00", "Cleaning", 0),
        (3, 1002, 1, "/XX/" * 3, 2, 1, 2, "2026-12-04 10:00:00", "Prophy", 1),
        (4, 1003, 5, "X" * 8, 1, 1, 0, "2026-12-07 14:00:00", "Filling", 0),
        (5, 1002, 7, "XX", 1, 1, 0, "2026-12-08 08:00:00", "call back", 0),
        (6, 1002, 6, "XXXX", 0, 1, 0, "0001-01-01 00:00:00", "Crown", 0),
        (7, 1001, 3, "XXXXXX", 1, 1, 0, "2026-11-02 11:00:00", "Recall", 0),
    ]
    with od.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO appointment (AptNum, PatNum, AptStatus, Pattern, Op, ProvNum, ProvHyg, "
            "AptDateTime, ProcDescript, IsHygiene, DateTStamp) VALUES "
            f"(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {stamp})",
            rows,
        )


def make_od_sync(engine: Engine, connector: OpenDentalConnector, **options: object) -> SyncEngine:
    """A sync engine at the fixed test time reading ``connector``."""
    return SyncEngine(
        engine,
        FixedClock(NOW),
        Actor("sync", "desk-1"),
        SyncOptions(TZ, **options),  # type: ignore[arg-type]
        connector=connector,
    )
