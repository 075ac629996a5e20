"""The Open Dental connector's read sessions: the statements that open one, a session
opened by one step and closed by another (the streamed full read), and the driver's
errors as a sentence for staff and IT (:class:`OpenDentalError`)."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from typing import Any

from linker_tui.common.text import clean


class OpenDentalError(RuntimeError):
    """The Open Dental database could not be read (the message says why)."""


class OpenRead:
    """A read session opened by one step and closed by another (the streamed read):
    closed once, with the exception that ended the read if one did (a connection in an
    unknown state is then dropped, not kept; a driver's error becomes an
    :class:`OpenDentalError`)."""

    def __init__(self, session: AbstractContextManager[Any]) -> None:
        self._session = session
        self.cur = session.__enter__()
        self.closed = False

    def close(self, exc: BaseException | None = None) -> None:
        """End the read (rolled back: it never writes)."""
        if self.closed:
            return
        self.closed = True
        if exc is None:
            self._session.__exit__(None, None, None)
        else:
            self._session.__exit__(type(exc), exc, exc.__traceback__)


def session_sql(conn: Any, timeout: float) -> list[str]:
    """The statements that open a read: UTC, the statement timeout, a read-only
    consistent snapshot."""
    version = conn.get_server_info() or ""
    seconds = max(1, round(timeout))
    limit = (
        f"SET SESSION max_statement_time = {seconds}"
        if "mariadb" in version.lower()
        else f"SET SESSION MAX_EXECUTION_TIME = {seconds * 1000}"
    )
    return [
        f"SET SESSION time_zone = '+00:00', {limit.removeprefix('SET ')}",
        "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",
    ]


def error_of(exc: BaseException | None, user: str, where: str, timeout: float) -> OpenDentalError:
    """A sentence for staff and IT instead of the driver's exception."""
    code = exc.args[0] if exc is not None and exc.args else None
    text = clean(
        str(exc.args[1]) if exc is not None and len(exc.args) > 1 else str(exc),
        single_line=True,
    )
    if code in (2003, 2005):
        return OpenDentalError(f"cannot reach the Open Dental database at {where} ({text})")
    if code in (1044, 1045, 1698):
        return OpenDentalError(
            f"the Open Dental database at {where} refused the user {user!r} "
            "(check open_dental_url and the password)"
        )
    if code in (1142, 1143):
        table = re.search(r"for (?:table|column) [`']?(?:[^`'.]*[`']?\.[`']?)?([^`' ]+)", text)
        name = table.group(1).strip("`'") if table else "a table"
        return OpenDentalError(f"the user {user!r} lacks SELECT on {name} ({where})")
    if code == 1146:
        return OpenDentalError(f"the Open Dental database at {where} has no such table: {text}")
    if code in (1969, 3024):
        return OpenDentalError(
            f"a query to the Open Dental database at {where} took longer than "
            f"{timeout:g} s and was stopped"
        )
    if code in (2006, 2013, 1927, 1053, 4031):
        return OpenDentalError(f"lost the connection to the Open Dental database at {where}")
    return OpenDentalError(f"reading the Open Dental database at {where} failed: {text}")
