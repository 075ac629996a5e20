"""The lock file (``requirements.lock``, made by pip-compile from pyproject.toml) pins every
library the application needs, at versions pyproject.toml allows: CI installs the wheel
with it, and the README tells IT to."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;#]+)\s*$")


def _locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, text in enumerate((ROOT / "requirements.lock").read_text().splitlines(), 1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        found = PIN.match(text)
        assert found, f"requirements.lock:{number}: not a `name==version` pin: {text!r}"
        pins[canonicalize_name(found[1])] = Version(found[2])
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_dependency_is_locked_at_a_version_pyproject_allows() -> None:
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not in requirements.lock"
        version = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, pyproject.toml asks {requirement}"
        )


def test_textual_is_pinned_exactly_in_both() -> None:
    (textual,) = [r for r in _declared() if canonicalize_name(r.name) == "textual"]
    (pin,) = list(textual.specifier)
    assert pin.operator == "=="
    assert _locked()["textual"] == Version(pin.version)
