"""The doctor's findings: one line each, in sections, read top to bottom."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TextIO

from linker_tui.common.text import clean


class Level(StrEnum):
    """How a finding counts: ``fail`` makes the exit status 1, ``warn`` does not."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


MARKS = {Level.OK: "ok  ", Level.INFO: "    ", Level.WARN: "WARN", Level.FAIL: "FAIL"}


@dataclass(frozen=True)
class Finding:
    """One thing the doctor looked at: what, what it found, and what to do about it."""

    section: str
    name: str
    level: Level
    detail: str
    hint: str = ""


@dataclass
class Report:
    """Every finding, in the order they were made."""

    findings: list[Finding] = field(default_factory=list)
    section: str = ""

    def add(self, name: str, level: Level, detail: object, hint: str = "") -> Finding:
        """Record a finding in the current section (text is cleaned: it may hold data)."""
        finding = Finding(
            self.section,
            name,
            level,
            clean(str(detail), single_line=True),
            clean(hint, single_line=True),
        )
        self.findings.append(finding)
        return finding

    def ok(self, name: str, detail: object) -> None:
        """A check that passed."""
        self.add(name, Level.OK, detail)

    def info(self, name: str, detail: object) -> None:
        """A fact for the reader (no verdict)."""
        self.add(name, Level.INFO, detail)

    def warn(self, name: str, detail: object, hint: str = "") -> None:
        """Works, but someone should look at it."""
        self.add(name, Level.WARN, detail, hint)

    def fail(self, name: str, detail: object, hint: str = "") -> None:
        """Does not work: the desk cannot do its job until this is fixed."""
        self.add(name, Level.FAIL, detail, hint)

    @property
    def failed(self) -> list[Finding]:
        """The findings that make the exit status 1."""
        return [f for f in self.findings if f.level is Level.FAIL]

    @property
    def warnings(self) -> list[Finding]:
        """The findings that only warn."""
        return [f for f in self.findings if f.level is Level.WARN]

    def exit_status(self) -> int:
        """0 when nothing failed, 1 otherwise."""
        return 1 if self.failed else 0

    def write_text(self, out: TextIO) -> None:
        """The report as support reads it over SSH: sections, one line per finding."""
        section = None
        for finding in self.findings:
            if finding.section != section:
                out.write(f"{'' if section is None else chr(10)}{finding.section}\n")
                section = finding.section
            out.write(f"  {MARKS[finding.level]} {finding.name}: {finding.detail}\n")
            if finding.hint:
                out.write(f"       -> {finding.hint}\n")
        verdict = (
            f"{len(self.failed)} problem(s), {len(self.warnings)} warning(s)"
            if self.failed
            else f"no problems, {len(self.warnings)} warning(s)"
        )
        out.write(f"\n{verdict}\n")

    def write_json(self, out: TextIO) -> None:
        """The report for tools: ``{"status": ..., "findings": [...]}``."""
        data = {
            "status": "fail" if self.failed else "ok",
            "problems": len(self.failed),
            "warnings": len(self.warnings),
            "findings": [asdict(f) for f in self.findings],
        }
        json.dump(data, out, ensure_ascii=False, indent=1)
        out.write("\n")


def first_line(exc: BaseException) -> str:
    """The first line of an error (the driver's own, when SQLAlchemy wraps it)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
