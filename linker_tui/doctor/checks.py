"""What ``linker-tui doctor`` looks at, section by section (core: no Textual).

Every check reads; none changes the practice's data (the inbox check writes and removes one
empty file, the SMTP check logs in and quits without sending). The sections live in
``database``, ``pms`` and ``mail``; this module runs them in reading order and holds the
short ones (program, settings, terminal, log file).
"""

from __future__ import annotations

import locale
import os
import platform
import sys
from collections.abc import Callable

from sqlalchemy.engine import Engine

from linker_tui import __version__
from linker_tui.common.terminal import CONSOLE_TERMS, console_glyphs
from linker_tui.doctor.database import check_database, check_leases
from linker_tui.doctor.mail import check_mail
from linker_tui.doctor.pms import check_inbox, check_pms
from linker_tui.doctor.report import Report
from linker_tui.logs import MASK, current_handler, log_file, secrets_of
from linker_tui.settings.config import (
    Settings,
    default_config_file,
    is_secret_field,
    setting_sources,
    unknown_environment,
)

BOX_CHARS = "─│▃█≠·…→✓"

"""Characters the app draws (rules, scrollbar, marks): the terminal must be able to show them."""


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
        engine = check_database(report, settings)
    except Exception as exc:
        report.fail("check", f"the database check broke: {exc!r}")
    later: list[tuple[str, Callable[[], object]]] = [
        ("PMS source and sync", lambda: check_pms(report, settings, engine, bool(overridden))),
        ("request inbox", lambda: check_inbox(report, settings)),
        ("mail", lambda: check_mail(report, settings)),
        ("shared jobs (leases)", lambda: check_leases(report, settings, engine)),
        ("terminal", lambda: _terminal(report, settings)),
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


def _terminal(report: Report, settings: Settings) -> None:
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
    _glyphs(report, settings.terminal_glyphs, term, encoding)


def _glyphs(report: Report, setting: str, term: str, encoding: str) -> None:
    """How the app draws frames and marks here (``terminal_glyphs``), and why."""
    if not console_glyphs(setting, {"TERM": term}, encoding):
        report.info("glyphs", f"block elements and marks (terminal_glyphs = {setting})")
        return
    if setting == "console":
        why = "set so"
    elif term.split("-")[0] in CONSOLE_TERMS:
        why = f"TERM={term} is a text console"
    else:
        why = f"the locale's encoding {encoding} is not UTF-8"
    shown = "box lines and ASCII marks, no block elements"
    report.info("glyphs", f"{shown} (terminal_glyphs = {setting}: {why})")


def _log(report: Report, settings: Settings) -> None:
    path = log_file(settings)
    handler = current_handler()
    if handler is None or not path.exists():
        report.warn("log", f"{path} cannot be written", "set log_file to a writable path")
        return
    report.ok("log", f"{path} ({path.stat().st_size // 1024} KiB; rotated at 5 MB, 5 kept)")
