"""Package discovery: every ``linker_tui`` package, found, plus the demo practice's export
(``data/``) installed as ``linker_tui.demo_data``. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["linker_tui", "linker_tui.*"]), "linker_tui.demo_data"])
