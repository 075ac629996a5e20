"""The database being away: recognise it, say it in one line, and keep its state.

:func:`watch` (called by :func:`linker_tui.store.db.make_engine`) hooks an engine so that

* a failure that means "the database cannot be used now" (no connection, the connection
  lost, no answer within the time limit, a SQLite file that cannot be opened or stays
  locked) is raised as :class:`DatabaseUnavailable`, which names the server (its URL
  without the password), what failed and what to check, in one line;
* its :class:`DatabaseHealth` knows since when the database is away (cleared by the next
  statement that works: recovery is automatic) and whether a read has been waiting for
  more than :data:`SLOW_SECONDS` (the app says "waiting for the database…").

The command line exits with :data:`EXIT_DATABASE_UNAVAILABLE` when the database cannot be
reached (:func:`unavailable_exit`).
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from linker_tui.common.text import clean

EXIT_DATABASE_UNAVAILABLE = 69
"""Exit code of every command when the database cannot be reached (``EX_UNAVAILABLE`` of
sysexits.h): distinct from 1 (the command failed) and 2 (settings or schema)."""
SLOW_SECONDS = 1.0
"""A read that has waited this long shows "waiting for the database…"."""

P = ParamSpec("P")

# PostgreSQL SQLSTATEs that mean the server cannot serve us now: connection exceptions
# (class 08), statement timeout, admin/crash shutdown, cannot connect now, too many clients.
_PG_AWAY = {"57014", "57P01", "57P02", "57P03", "53300"}


class DatabaseUnavailable(OperationalError):
    """The database cannot be used now; ``str()`` is one line: which server, what failed,
    what to check."""

    def __init__(self, cause: DBAPIError, server: str, what: str, check: str) -> None:
        super().__init__(
            cause.statement,
            cause.params,
            cause.orig,  # type: ignore[arg-type]  # a DBAPI error always has one
            hide_parameters=True,
            connection_invalidated=cause.connection_invalidated,
        )
        self.server = server
        self.what = what
        self.check = check

    def __str__(self) -> str:
        return f"cannot use the database {self.server}: {self.what} — check {self.check}"


def server_label(url: URL) -> str:
    """The database URL without its password (for messages and logs)."""
    return url._replace(password=None).render_as_string(hide_password=False)


def _where(url: URL) -> str:
    port = f":{url.port}" if url.port else ""
    return f"{url.host or 'localhost'}{port}"


def diagnose(
    original: BaseException,
    url: URL,
    *,
    connecting: bool,
    disconnect: bool,
    timeouts: dict[str, Any],
) -> tuple[str, str] | None:
    """``(what failed, what to check)`` when ``original`` (a DBAPI error) means the
    database cannot be used now; None for any other error (a constraint, a bug...).
    ``connecting``: it happened while connecting."""
    message = str(original)
    low = message.lower()
    if url.get_backend_name() == "sqlite":
        return _diagnose_sqlite(low, url)
    where = _where(url)
    sqlstate = getattr(original, "sqlstate", None) or ""
    if sqlstate == "57014":
        limit = timeouts.get("statement_timeout")
        within = f" within {limit} s" if limit else " in time"
        return f"no answer{within} (statement timeout)", "the server's load and locks"
    known = [
        ("connection refused", "connection refused", f"that the server listens on {where}"),
        ("timeout expired", "no answer within {t} s", f"the network path to {where}"),
        (
            "could not translate host name",
            f"unknown host {url.host}",
            "the host name in database_url",
        ),
        ("name or service not known", f"unknown host {url.host}", "the host name in database_url"),
        (
            "password authentication failed",
            f"password authentication failed for user {url.username}",
            "the user and its password (~/.pgpass, PGPASSWORD)",
        ),
        ("does not exist", _first_line(message), "the database and user names in database_url"),
        ("no pg_hba.conf entry", "the server refuses this desk", "pg_hba.conf on the server"),
        ("too many", "the server has too many connections", "max_connections on the server"),
        ("starting up", "the server is starting up", "again in a minute"),
        ("shutting down", "the server is shutting down", "the server"),
    ]
    for needle, what, check in known if connecting or not sqlstate else ():
        if needle in low:
            return what.replace("{t}", str(timeouts.get("connect_timeout", "?"))), check
    if disconnect or sqlstate.startswith("08") or sqlstate in _PG_AWAY:
        return f"the connection was lost ({_first_line(message)})", f"the server at {where}"
    if connecting or (not sqlstate and _connection_phase(original)):
        return _first_line(message), f"that the server runs and can be reached at {where}"
    return None


def _connection_phase(original: BaseException) -> bool:
    """A DBAPI OperationalError without SQLSTATE: the driver could not talk to the server."""
    return type(original).__name__ in ("OperationalError", "InterfaceError")


def _diagnose_sqlite(low: str, url: URL) -> tuple[str, str] | None:
    if "unable to open database file" in low:
        return "cannot open the database file", "that its folder exists and this user may write"
    if "database is locked" in low:
        return "the file stays locked by another program", "what else uses the file"
    if "disk i/o error" in low:
        return "disk I/O error", "the disk holding the file"
    return None


_NOISE = re.compile(r"^(connection failed: )?(connection to server .*? failed: )?(FATAL: +)?")


def _first_line(message: str) -> str:
    lines = [part.strip() for part in message.splitlines() if part.strip()]
    text = lines[0] if lines else message
    text = _NOISE.sub("", text)
    return clean(text, single_line=True)[:200]


@dataclass(frozen=True)
class HealthState:
    """What the app says about its database now."""

    down_since: datetime | None
    """When the database went away (None: it works)."""
    error: DatabaseUnavailable | None
    """The last failure while away."""
    waiting: bool
    """A read has been waiting more than :data:`SLOW_SECONDS`."""


class DatabaseHealth:
    """Since when the database is away, and whether a read is waiting (thread-safe)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._inflight: dict[int, float] = {}
        self._down_since: datetime | None = None
        self._error: DatabaseUnavailable | None = None

    def begin(self) -> None:
        """This thread starts waiting on the database."""
        with self._lock:
            self._inflight.setdefault(threading.get_ident(), self._clock())

    def end(self, *, ok: bool = False) -> None:
        """This thread's wait is over; ``ok``: the database answered (it is back)."""
        with self._lock:
            self._inflight.pop(threading.get_ident(), None)
            if ok:
                self._down_since = None
                self._error = None

    def failed(self, error: DatabaseUnavailable) -> None:
        """The database is away (since now, unless it already was)."""
        with self._lock:
            self._inflight.pop(threading.get_ident(), None)
            if self._down_since is None:
                self._down_since = datetime.now(UTC)
            self._error = error

    def state(self) -> HealthState:
        """The state now."""
        with self._lock:
            now = self._clock()
            waiting = any(now - start >= SLOW_SECONDS for start in self._inflight.values())
            return HealthState(self._down_since, self._error, waiting)


_HEALTH: weakref.WeakKeyDictionary[Engine, DatabaseHealth] = weakref.WeakKeyDictionary()


def health(engine: Engine) -> DatabaseHealth:
    """The health record of an engine (a fresh one for an engine :func:`watch` never saw)."""
    return _HEALTH.setdefault(engine, DatabaseHealth())


def watch(engine: Engine, timeouts: dict[str, Any]) -> DatabaseHealth:
    """Hook ``engine``: errors that mean "away" become :class:`DatabaseUnavailable`, and
    its :class:`DatabaseHealth` follows every connection and statement. On a server
    database each connection taken from the pool is checked first (a dead one is replaced,
    and the check counts as a wait). ``timeouts``: the limits in force, in seconds."""
    record = health(engine)
    server = server_label(engine.url)

    def started(*_args: Any, **_kwargs: Any) -> None:
        record.begin()

    def answered(*_args: Any, **_kwargs: Any) -> None:
        record.end(ok=True)

    def on_error(context: ExceptionContext) -> BaseException | None:
        record.end()
        error = context.sqlalchemy_exception
        if context.is_pre_ping or not isinstance(error, DBAPIError):
            return None
        verdict = diagnose(
            context.original_exception,
            engine.url,
            connecting=context.connection is None,
            disconnect=context.is_disconnect,
            timeouts=timeouts,
        )
        if verdict is None:
            return None
        away = DatabaseUnavailable(error, server, *verdict)
        record.failed(away)
        return away

    event.listen(engine, "do_connect", started)
    event.listen(engine, "connect", answered)
    event.listen(engine, "before_cursor_execute", started)
    event.listen(engine, "after_cursor_execute", answered)
    event.listen(engine, "handle_error", on_error)
    if engine.dialect.name != "sqlite":
        event.listen(engine, "checkout", _checker(engine, record))
    return record


def _checker(engine: Engine, record: DatabaseHealth) -> Callable[..., None]:
    """A pool checkout hook: ping the connection (timed); a dead one is replaced."""
    dialect = engine.dialect

    def check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        record.begin()
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            record.end()
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError(str(error)) from error
            raise
        record.end(ok=True)

    return check


def unavailable(error: BaseException | None) -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` that ``error`` is or was caused by, if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DatabaseUnavailable):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def unavailable_exit(error: DatabaseUnavailable, *, prog: str = "linker-tui") -> int:
    """Say on stderr, in one line, that the database cannot be reached; the exit code."""
    print(f"{prog}: {error}", file=sys.stderr)
    return EXIT_DATABASE_UNAVAILABLE


def exit_when_unavailable(main: Callable[P, int]) -> Callable[P, int]:
    """Wrap a command's entry point: a database that cannot be reached ends it with one
    line on stderr and :data:`EXIT_DATABASE_UNAVAILABLE`, not a traceback."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except Exception as error:
            away = unavailable(error)
            if away is None:
                raise
            return unavailable_exit(away)

    return run
