"""A sync engine wired from the settings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.ingest.pms_export import ExportFormat
from linker_tui.settings.config import Settings
from linker_tui.sync.connector import Connector
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.open_dental import OpenDentalConnector


def export_format(settings: Settings) -> ExportFormat:
    """How to read the PMS export: timezone, date formats, status table, demo shift."""
    return ExportFormat.with_statuses(
        settings.tz,
        settings.pms_status_map,
        shift=timedelta(days=settings.demo_shift_days),
        date_format=settings.pms_date_format,
        datetime_format=settings.pms_datetime_format,
    )


def connector(settings: Settings) -> Connector | None:
    """The configured PMS connector: ``pms = "open_dental"`` reads Open Dental's
    database (``open_dental_url``), else the CSV folder (none without ``pms_export_dir``)."""
    timeout = settings.sync_io_timeout_seconds
    if settings.pms == "open_dental":
        if not settings.open_dental_url:
            raise ValueError('pms = "open_dental" needs open_dental_url')
        return OpenDentalConnector(
            settings.open_dental_url,
            settings.tz,
            password=settings.open_dental_secret(),
            clinic=settings.open_dental_clinic,
            timeout=timeout,
            window_days_back=settings.sync_window_days_back,
            window_days_ahead=settings.sync_window_days_ahead,
        )
    if settings.pms_export_dir is None:
        return None
    return CsvFolderConnector(
        settings.pms_export_dir.expanduser(), export_format(settings), io_timeout=timeout
    )


def sync_engine(settings: Settings, engine: Engine, clock: Clock, actor: Actor) -> SyncEngine:
    """The configured connector (:func:`connector`) and request inbox."""
    timeout = settings.sync_io_timeout_seconds
    inbox = RequestInbox(
        settings.effective_inbox_dir.expanduser(),
        settings.tz,
        shift=timedelta(days=settings.demo_shift_days),
        phone_region=settings.phone_region,
        io_timeout=timeout,
    )
    options = SyncOptions(
        tz=settings.tz,
        phone_region=settings.phone_region,
        window_days_back=settings.sync_window_days_back,
        window_days_ahead=settings.sync_window_days_ahead,
    )
    return SyncEngine(engine, clock, actor, options, connector=connector(settings), inbox=inbox)
