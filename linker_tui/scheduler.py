"""Background jobs in the app process (APScheduler 3.x ``BackgroundScheduler``).

Each job runs in the scheduler's worker threads, never two instances of the same job at
once (``max_instances=1``), and runs missed while busy are merged into one
(``coalesce=True``). Results and errors go to callbacks, called in the worker thread:
the TUI turns them into messages (``post_message`` is thread-safe); the core stays free
of Textual. Example::

    jobs = JobScheduler()
    jobs.add_job("outbox", services.deliver_outbox, 60, on_result, on_error)
    jobs.start()
    ...
    jobs.shutdown()  # returns at once; a running job finishes in its thread
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import undefined

from linker_tui.models import SyncRunStatus
from linker_tui.services import Services
from linker_tui.sync.control import StopFlag
from linker_tui.sync.engine import SyncFailed, SyncSummary

log = logging.getLogger(__name__)

T = TypeVar("T")
ResultCallback = Callable[[str, Any], None]
ErrorCallback = Callable[[str, BaseException], None]

OUTBOX_JOB = "outbox"
SYNC_JOB = "sync"


class JobScheduler:
    """A small wrapper around ``BackgroundScheduler``: named interval jobs with callbacks."""

    def __init__(self, *, max_workers: int = 4) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": {"type": "threadpool", "max_workers": max_workers}},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        # Set by shutdown(): long jobs (the sync) check it and stop early, so quitting
        # does not wait for them.
        self.stopping = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the scheduler has been started and not shut down."""
        return bool(self._scheduler.running)

    def add_job(
        self,
        name: str,
        func: Callable[[], T],
        interval: float,
        on_result: Callable[[str, T], None] | None = None,
        on_error: ErrorCallback | None = None,
        *,
        run_now: bool = True,
    ) -> None:
        """Run ``func()`` every ``interval`` seconds (and at once when ``run_now``).

        ``on_result(name, result)`` or ``on_error(name, exception)`` is called after each
        run, in the worker thread. A job with the same name is replaced.
        """
        if interval <= 0:
            raise ValueError("the interval must be positive")

        def run() -> None:
            try:
                result = func()
            except Exception as exc:
                log.info("job %s failed: %s", name, exc, exc_info=True)
                _call(on_error, name, exc)
            else:
                _call(on_result, name, result)

        self._scheduler.add_job(
            run,
            "interval",
            seconds=interval,
            id=name,
            name=name,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) if run_now else undefined,
        )

    def run_now(self, name: str) -> None:
        """Run the job as soon as possible (e.g. "sync now"); skipped if it is running."""
        self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))

    def remove_job(self, name: str) -> None:
        """Stop running the job."""
        self._scheduler.remove_job(name)

    def job_names(self) -> list[str]:
        """The scheduled jobs."""
        return [job.id for job in self._scheduler.get_jobs()]

    def start(self) -> None:
        """Start the scheduler's thread (jobs start running)."""
        if not self._scheduler.running:
            self.stopping.clear()
            self._scheduler.start()

    def shutdown(self, wait: bool = False) -> None:
        """Stop scheduling. With ``wait=False`` (default) it returns at once; a job that is
        running finishes in its thread (an SMTP send is bounded by ``smtp_timeout``; a sync
        stops at its next check, within a fraction of a second, rolling back)."""
        self.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def __enter__(self) -> JobScheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=False)


def _call(callback: Callable[[str, Any], None] | None, name: str, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(name, value)
    except Exception:
        log.exception("callback of job %s failed", name)


def add_outbox_job(
    scheduler: JobScheduler,
    services: Services,
    on_result: Callable[[str, Any], None] | None = None,
    on_error: ErrorCallback | None = None,
) -> None:
    """Run the outbox relay every ``outbox_interval_seconds`` (result: a RelayReport)."""
    scheduler.add_job(
        OUTBOX_JOB,
        services.deliver_outbox,
        services.settings.outbox_interval_seconds,
        on_result,
        on_error,
    )


def add_sync_job(
    scheduler: JobScheduler,
    services: Services,
    on_result: Callable[[str, SyncSummary], None] | None = None,
    on_error: ErrorCallback | None = None,
    *,
    run_now: bool = True,
) -> None:
    """Sync every ``sync_interval_minutes`` (result: a :class:`SyncSummary`).

    A failed run is recorded in ``sync_run`` and reported to ``on_error`` as a
    :class:`SyncFailed` (its ``.summary`` has the details). A run that finds another one
    going on (staff's "sync now") is ``skipped``. ``scheduler.run_now(SYNC_JOB)`` asks for
    a run at once.
    """
    stop = StopFlag(scheduler.stopping)

    def job() -> SyncSummary:
        summary = services.sync_now(trigger="schedule", stop=stop, wait=False)
        if summary.status is SyncRunStatus.FAILED:
            raise SyncFailed(summary)
        return summary

    scheduler.add_job(
        SYNC_JOB,
        job,
        services.settings.sync_interval_minutes * 60,
        on_result,
        on_error,
        run_now=run_now,
    )
