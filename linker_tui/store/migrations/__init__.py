"""Alembic migrations of the linker_tui schema (``linker-tui db upgrade``)."""
