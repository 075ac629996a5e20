"""Build ``linker_tui/matching/given_names.csv`` from Jörg Michael's ``nam_dict.txt``.

Source: ``nam_dict.txt`` (© 2007-2008 Jörg Michael, GNU Free Documentation License 1.2
or later), as shipped in the PyPI package ``gender-guesser`` 0.4.0
(``gender_guesser/data/nam_dict.txt``). Run::

    pip download --no-deps gender-guesser==0.4.0 && unzip gender_guesser-*.whl
    python scripts/build_given_names.py gender_guesser/data/nam_dict.txt

Keeps every name used in Western Europe or North America (the countries of columns
Great Britain … East Frisia, and the U.S.A.), one row per name key: the sex it is usually
given to (``M``, ``F``, or ``?`` when both are common), and its highest frequency there
(1 rare … 13 extremely common); then the dictionary's equivalent names (``=`` lines).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from linker_tui.matching.keys import name_key

OUT = Path(__file__).parent.parent / "linker_tui" / "matching" / "given_names.csv"
FIRST, LAST = 30, 41  # the columns of GB, IE, US, IT, MT, PT, ES, FR, BE, LU, NL
HEADER = """\
# Given names, the sex they are usually given to, and their frequency (1-13).
# Derived from nam_dict.txt, (c) 2007-2008 Joerg Michael, distributed under the GNU Free
# Documentation License 1.2 or later (via the PyPI package gender-guesser 0.4.0);
# this derived file is under the same licence. Built by scripts/build_given_names.py.
# Rows "=,<short>,<long>" are the dictionary's equivalent names.
"""


def main(source: Path) -> None:
    sexes: dict[str, dict[str, int]] = {}
    equivalents: set[tuple[str, str]] = set()
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or len(line) < 30 or line[29] == "+":
            continue
        kind, name = line[:2].strip(), line[3:29].strip().replace("+", " ")
        digits = [int(ch, 16) for ch in line[FIRST:LAST] if ch.strip()]
        if kind == "=":
            short, _, long = name.partition(" ")
            a, b = name_key(short), name_key(long)
            if a and b and a != b:
                equivalents.add((a, b))
            continue
        key = name_key(name)
        if not key or not digits:
            continue
        counts = sexes.setdefault(key, {"M": 0, "F": 0})
        weight = max(digits)
        for sex in ("M", "F"):
            if kind in (sex, f"1{sex}"):
                counts[sex] = max(counts[sex], weight)
            elif kind in (f"?{sex}", "?"):
                counts[sex] = max(counts[sex], weight - (0 if kind == "?" else 2))
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        writer = csv.writer(handle, lineterminator="\n")
        for key in sorted(sexes):
            m, f = sexes[key]["M"], sexes[key]["F"]
            sex = "M" if m >= f + 3 else "F" if f >= m + 3 else "?"
            writer.writerow([key, sex, max(m, f)])
        for a, b in sorted(equivalents):
            if a in sexes and b in sexes:
                writer.writerow(["=", a, b])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
