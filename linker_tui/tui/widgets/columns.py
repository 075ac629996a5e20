"""Share a table's width between its columns (pure arithmetic, no Textual)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnSpec:
    """A column: its key, heading, and how much room it wants."""

    key: str
    label: str
    minimum: int
    weight: int = 0
    maximum: int | None = None
    drop: int = 0
    """0: always shown; otherwise, when the minimums do not fit, columns are left out in
    increasing ``drop`` order (1 first) until the rest fit."""

    @property
    def fixed(self) -> bool:
        """The column never grows."""
        return self.weight == 0


GAP = 1
"""Blank cells after each column (the tables have no cell padding of their own)."""


def fit_widths(specs: Sequence[ColumnSpec], width: int) -> dict[str, int]:
    """Text widths per column: every column gets its minimum, spare room goes to the
    growing columns in proportion to their weight, up to their maximum."""
    widths = {spec.key: spec.minimum for spec in specs}
    spare = width - sum(widths.values()) - GAP * len(specs)
    growing = [spec for spec in specs if not spec.fixed]
    while spare > 0 and growing:
        total_weight = sum(spec.weight for spec in growing)
        handed = 0
        for spec in growing:
            share = max(1, spare * spec.weight // total_weight)
            if spec.maximum is not None:
                share = min(share, spec.maximum - widths[spec.key])
            share = min(share, spare - handed)
            widths[spec.key] += share
            handed += share
        spare -= handed
        growing = [
            spec for spec in growing if spec.maximum is None or widths[spec.key] < spec.maximum
        ]
        if handed == 0:
            break
    return widths


def fitting_columns(specs: Sequence[ColumnSpec], width: int) -> tuple[ColumnSpec, ...]:
    """``specs`` less the columns that must go for the rest to fit in ``width`` at their
    minimum widths (``drop`` 1 first, then 2, ...; columns with ``drop`` 0 always stay)."""
    kept = list(specs)

    def needed() -> int:
        return sum(spec.minimum + GAP for spec in kept)

    for spec in sorted((s for s in specs if s.drop), key=lambda s: s.drop):
        if needed() <= width:
            break
        kept.remove(spec)
    return tuple(kept)
