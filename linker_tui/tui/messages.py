"""Messages between the screens and the app (light: importing them imports no engine)."""

from __future__ import annotations

from textual.message import Message


class SyncRequested(Message):
    """Staff asked for a sync now (the app runs it, the status line says so)."""
