"""The schema check at every start: one query on a current database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.store import schema


def test_a_current_schema_is_checked_with_one_query(engine: Engine) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "ROLLBACK", "COMMIT"):
            statements.append(statement)

    engine.dispose()  # a new connection: what a start makes
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        schema.ensure_schema(engine, auto_upgrade=True)
        schema.ensure_schema(engine, auto_upgrade=False)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert statements == [f"SELECT version_num FROM {schema.VERSION_TABLE}"] * 2


def test_an_error_other_than_a_missing_table_is_not_taken_for_no_schema(engine: Engine) -> None:
    with engine.begin() as connection:  # a version table the query cannot read as expected
        connection.exec_driver_sql(f"DROP TABLE {schema.VERSION_TABLE}")
        connection.exec_driver_sql(f"CREATE TABLE {schema.VERSION_TABLE} (other INTEGER)")
    with pytest.raises(sa.exc.DBAPIError):  # not None: "no schema yet"
        schema.current_revision(engine)
