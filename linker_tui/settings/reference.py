"""The settings reference (docs/settings.md), generated from the :class:`Settings` model so
it lists every setting; ``python scripts/settings_reference.py`` writes it, a test checks it."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from pydantic_core import PydanticUndefined

from linker_tui.settings.config import ENV_PREFIX, Settings, is_secret_field
from linker_tui.settings.keymap import CONTEXTS

HEADER = """# Settings reference

Generated from `linker_tui/settings/config.py` by `python scripts/settings_reference.py` (a test
checks that it is up to date). Each setting can be set in the TOML settings file
(`LINKER_CONFIG`, `--config PATH`, default `~/.config/linker-tui/config.toml` on Linux) or
as the environment variable shown; the environment wins over the file, which wins over the
default. A key the app does not know is an error. Secrets (marked 🔒) come from the
environment, or from a file only its owner can read (mode 0600).
`linker-tui doctor` shows every setting's value and where it came from.

| setting | environment | default | meaning |
|---------|-------------|---------|---------|
"""

KEYS_HEADER = """
## Key binding ids (for `keys`)

`keys = { "linker.accept" = "a,ctrl+a" }` replaces the keys of one binding. Keys are
Textual's names: a character (`a`, `A`, `?`), `enter`, `escape`, `tab`, `space`,
`up`/`down`/`left`/`right`, `home`, `end`, `pageup`, `pagedown`, `f1`…`f24`, with
`ctrl+`, `shift+`, `alt+` in front; several keys are separated by commas. A key may mean
one action in each place.

| id | where | default keys | what it does |
|----|-------|--------------|--------------|
"""


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "`{}`" if value == {} else "see meaning"
    if field.default is PydanticUndefined or field.default is None:
        return "none"
    if isinstance(field.default, bool):
        return f"`{str(field.default).lower()}`"
    if isinstance(field.default, str):
        return f'`"{field.default}"`'
    return f"`{field.default}`"


def meanings() -> dict[str, str]:
    """Each setting's meaning: the docstring under its line in :class:`Settings`, read
    from the source here (not when the settings load)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(Settings))).body[0]
    assert isinstance(body, ast.ClassDef)
    found: dict[str, str] = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = inspect.cleandoc(after.value.value)
    return found


def settings_reference() -> str:
    """The reference as Markdown."""
    rows = []
    described = meanings()
    for name, field in Settings.model_fields.items():
        meaning = " ".join(described.get(name, "").split()).replace("|", "\\|")
        lock = " 🔒" if is_secret_field(name) else ""
        rows.append(
            f"| `{name}`{lock} | `{ENV_PREFIX}{name.upper()}` | {_default(field)} | {meaning} |"
        )
    keys: dict[str, str] = {}
    for place, specs in CONTEXTS:
        for spec in specs:
            keys.setdefault(spec.id, f"| `{spec.id}` | {place} | `{spec.keys}` | {spec.help} |")
    return HEADER + "\n".join(rows) + "\n" + KEYS_HEADER + "\n".join(keys.values()) + "\n"
