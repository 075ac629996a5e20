"""The log file: every sync, relay run, decision and error, for support staff.

One rotating file per user (``log_file``, default the platform's user log folder), shared by
the app, its sync process and the CLI commands. Messages are cleaned with
:class:`linker_tui.common.text.CleanFormatter` (no control characters reach a terminal that shows
the log),
and the secrets of the settings are masked wherever they would appear. At INFO the code
logs ids (requests, emails, runs), never patient names or addresses.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from platformdirs import user_log_dir

from linker_tui.common.text import CleanFormatter
from linker_tui.settings.config import APP_NAME, Settings, is_secret_field

LOG_NAME = "linker-tui.log"
MAX_BYTES = 5_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(name)s: %(message)s"
MASK = "********"

_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):([^/@\s]+)@")

log = logging.getLogger(__name__)


def default_log_file() -> Path:
    """The platform's per-user log folder's ``linker-tui.log``."""
    return Path(user_log_dir(APP_NAME)) / LOG_NAME


def log_file(settings: Settings) -> Path:
    """Where this installation logs (``log_file`` setting, else the platform's folder)."""
    return (settings.log_file or default_log_file()).expanduser()


def secrets_of(settings: Settings) -> list[str]:
    """The secret values a log line must never show (passwords, also inside URLs)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if is_secret_field(name) and value is not None:
            found.append(value.get_secret_value())
        elif isinstance(value, str):
            found.extend(match.group(2) for match in _URL_PASSWORD.finditer(value))
    try:
        secret = settings.smtp_secret()
    except (OSError, ValueError):
        secret = None
    if secret is not None:
        found.append(secret.get_secret_value())
    return sorted({s for s in found if s}, key=len, reverse=True)


class LogFileFormatter(CleanFormatter):
    """The project's cleaning formatter (tracebacks keep their line breaks) that also
    masks secrets: the settings' passwords, and any password inside a URL."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__(FORMAT)
        self.secrets = list(secrets or [])

    def format(self, record: logging.LogRecord) -> str:
        """The record as one cleaned entry, secrets masked."""
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", super().format(record))
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class _Handler(RotatingFileHandler):
    """Our handler (so a second set-up in one process replaces it instead of doubling)."""


_current: _Handler | None = None


def current_handler() -> logging.Handler | None:
    """The log file's handler of this process, once :func:`setup_logging` has run."""
    return _current


def setup_logging(settings: Settings, *, command: str) -> Path | None:
    """Send INFO and above (``log_level``) of every logger to the rotating log file;
    returns its path, or None when it cannot be written (said once on stderr)."""
    global _current
    root = logging.getLogger()
    if _current is not None:
        root.removeHandler(_current)
        _current.close()
        _current = None
    path = log_file(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _Handler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as exc:
        print(f"linker-tui: cannot write the log file {path}: {exc}", file=sys.stderr)
        return None
    handler.setFormatter(LogFileFormatter(secrets_of(settings)))
    handler.setLevel(settings.log_level)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.getLevelName(settings.log_level):
        root.setLevel(settings.log_level)
    _current = handler
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up noise
    log.info("linker-tui %s started (pid %d, user %s)", command, os.getpid(), _user())
    return path


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "?"
