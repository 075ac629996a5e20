"""Sync from the PMS (connectors) and the request inbox; see ``docs/sync.md``.

For the app: :meth:`linker_tui.services.Services.sync_now`, the scheduled job
(:func:`linker_tui.scheduler.add_sync_job`) and the read side in
:mod:`linker_tui.sync.queries`.
"""

from __future__ import annotations

from linker_tui.sync.connector import Changed, ChangeSet, Connector, TableChanges
from linker_tui.sync.control import StopFlag, SyncCancelled, SyncTimeout
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncFailed, SyncOptions, SyncSummary
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.queries import (
    SyncProblemView,
    SyncStatus,
    last_successful_sync,
    latest_runs,
    sync_problems,
    sync_status,
)

__all__ = [
    "ChangeSet",
    "Changed",
    "Connector",
    "CsvFolderConnector",
    "RequestInbox",
    "StopFlag",
    "SyncCancelled",
    "SyncEngine",
    "SyncFailed",
    "SyncOptions",
    "SyncProblemView",
    "SyncStatus",
    "SyncSummary",
    "SyncTimeout",
    "TableChanges",
    "last_successful_sync",
    "latest_runs",
    "sync_problems",
    "sync_status",
]
