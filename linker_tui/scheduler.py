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

With several workstations on one database, a job can be given a *leader lease*
(``lease=``, see :mod:`linker_tui.store.lease`): before each scheduled run the job claims it,
and a workstation that is not the leader skips the run (no callback is called). A run
asked for with :meth:`JobScheduler.run_now` (staff's "sync now", an email just queued)
runs anyway: the sync's advisory lock and the outbox's per-row claims keep it safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import undefined

from linker_tui.services import Services
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.lease import lease_ttl
from linker_tui.sync.control import StopFlag
from linker_tui.sync.summary import SyncFailed, SyncSummary

log = logging.getLogger(__name__)

T = TypeVar("T")
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
        self._forced: set[str] = set()  # run_now: this job's next run ignores its lease
        self._forced_lock = threading.Lock()
        self._releases: dict[str, Callable[[], object]] = {}
        self._due_at_start: set[str] = set()  # run_now jobs added before start()

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
        lease: Callable[[], bool] | None = None,
        release: Callable[[], object] | None = None,
    ) -> None:
        """Run ``func()`` every ``interval`` seconds (and at once when ``run_now``).

        ``on_result(name, result)`` or ``on_error(name, exception)`` is called after each
        run, in the worker thread. A job with the same name is replaced.

        ``lease()`` is called before each scheduled run: False (another workstation leads)
        skips the run silently. ``release()`` is called by :meth:`shutdown` so another
        workstation takes the lease over at once.
        """
        if interval <= 0:
            raise ValueError("the interval must be positive")

        def run() -> None:
            with self._forced_lock:
                forced = name in self._forced
                self._forced.discard(name)
            try:
                if lease is not None and not forced and not lease():
                    log.debug("job %s skipped: another workstation holds its lease", name)
                    return
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
        if run_now and not self._scheduler.running:
            self._due_at_start.add(name)
        if release is not None:
            self._releases[name] = release
        else:
            self._releases.pop(name, None)

    def run_now(self, name: str) -> None:
        """Run the job as soon as possible (e.g. "sync now"), leader or not; skipped if it
        is running."""
        with self._forced_lock:
            self._forced.add(name)
        self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))

    def remove_job(self, name: str) -> None:
        """Stop running the job."""
        self._due_at_start.discard(name)
        self._scheduler.remove_job(name)

    def job_names(self) -> list[str]:
        """The scheduled jobs."""
        return [job.id for job in self._scheduler.get_jobs()]

    def start(self) -> None:
        """Start the scheduler's thread (jobs start running)."""
        if not self._scheduler.running:
            self.stopping.clear()
            # A job added before the start runs at the start, and every interval after it:
            # due "at add_job" it would run late once and then again a moment later.
            now = datetime.now(UTC)
            for name in self._due_at_start:
                self._scheduler.modify_job(name, next_run_time=now)
            self._due_at_start.clear()
            self._scheduler.start()

    def shutdown(self, wait: bool = False, *, release_leases: bool = True) -> None:
        """Stop scheduling. With ``wait=False`` (default) it returns at once; a job that is
        running finishes in its thread (an SMTP send is bounded by ``smtp_timeout``; a sync
        stops at its next check, within a fraction of a second, rolling back).

        Leases held are released (another workstation takes over at its next check),
        waiting at most a second for the database; ``release_leases=False`` leaves them to
        run out, as a crash would."""
        self.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        if release_leases and self._releases:
            releases = list(self._releases.items())
            worker = threading.Thread(
                target=_release_all, args=(releases,), name="release-leases", daemon=True
            )
            worker.start()
            worker.join(_RELEASE_WAIT)

    def __enter__(self) -> JobScheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=False)


_RELEASE_WAIT = 1.0


def _release_all(releases: list[tuple[str, Callable[[], object]]]) -> None:
    for name, release in releases:
        try:
            release()
        except Exception:
            log.info("could not release the lease of job %s", name, exc_info=True)


def leader_lease(services: Services, name: str, interval: float) -> dict[str, Any]:
    """``add_job``'s ``lease``/``release`` for a job shared by the workstations: the lease
    lasts one interval (plus a margin) and is renewed at every run
    (:mod:`linker_tui.store.lease`)."""
    ttl = lease_ttl(interval)
    return {
        "lease": lambda: services.leases.claim(name, ttl),
        "release": lambda: services.leases.release(name),
    }


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
    *,
    relay: Callable[[], Any] | None = None,
) -> None:
    """Run the outbox relay every ``outbox_interval_seconds`` (result: a RelayReport), on
    the workstation that holds the outbox's leader lease (one desk relays per interval;
    "send now" after a link ignores the lease). ``relay``: what runs (default
    ``services.deliver_outbox``; the app passes its runner that "send now" can kick)."""
    interval = services.settings.outbox_interval_seconds
    scheduler.add_job(
        OUTBOX_JOB,
        relay or services.deliver_outbox,
        interval,
        on_result,
        on_error,
        **leader_lease(services, OUTBOX_JOB, interval),
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
    a run at once. With several workstations, only the one holding the sync's leader lease
    runs the scheduled syncs (a run it skips calls no callback).
    """
    stop = StopFlag(scheduler.stopping)

    def job() -> SyncSummary:
        summary = services.sync_in_background(trigger="schedule", stop=stop, wait=False)
        if summary.status is SyncRunStatus.FAILED:
            raise SyncFailed(summary)
        return summary

    interval = services.settings.sync_interval_minutes * 60
    scheduler.add_job(
        SYNC_JOB,
        job,
        interval,
        on_result,
        on_error,
        run_now=run_now,
        **leader_lease(services, SYNC_JOB, interval),
    )
