"""Background jobs of the app: the outbox relay and the PMS sync.

The jobs run in :class:`~linker_tui.scheduler.JobScheduler`'s threads. They never touch a
widget: each result or error is posted to the app as a :class:`~textual.message.Message`
(``post_message`` is thread-safe), and the app updates the screen in its own thread.

While the app runs, log records of the scheduler and the core are kept in memory
(:class:`LogKeeper`) instead of reaching the terminal, where they would garble the screen.

The scheduler, the relay and the sync engine are imported when the jobs are made (once
the first requests are listed), not with this module: the app imports it at start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from linker_tui.common.text import CleanFormatter
from linker_tui.logs import current_handler
from linker_tui.mail.report import RelayReport
from linker_tui.services import Services
from linker_tui.sync.summary import SyncSummary

if TYPE_CHECKING:
    from linker_tui.scheduler import JobScheduler

QUIET_LOGGERS = ("apscheduler", "linker_tui")
"""Loggers that must not write to the terminal while the app runs."""


class OutboxDelivered(Message):
    """A run of the outbox relay finished (``report`` says what it did)."""

    def __init__(self, report: RelayReport) -> None:
        super().__init__()
        self.report = report


class SyncFinished(Message):
    """A sync run ended (scheduled, "sync now" or "try again"); ``summary`` says how.

    ``manual``: staff asked for it at this desk (say what it did)."""

    def __init__(self, summary: SyncSummary, *, manual: bool = False) -> None:
        super().__init__()
        self.summary = summary
        self.manual = manual


class JobFailed(Message):
    """A background job raised (the database is unreachable, the mailer is misconfigured…)."""

    def __init__(self, name: str, error: BaseException) -> None:
        super().__init__()
        self.name = name
        self.error = error


class MailQueued(Message):
    """A decision queued a confirmation email: send it now, and say when it went."""

    def __init__(self, outbox_id: int, address: str) -> None:
        super().__init__()
        self.outbox_id = outbox_id
        self.address = address


class MailChanged(Message):
    """Staff changed the outbox (retry, cancel): refresh the status line, send what is due."""


class OutboxRunner:
    """The relay job: one run of ``deliver``; again at once if :meth:`kick` was called
    meanwhile (APScheduler skips a "run now" while the job is already running, and an email
    queued during a run must not wait for the next interval)."""

    def __init__(self, deliver: Callable[[], RelayReport]) -> None:
        self._deliver = deliver
        self._again = threading.Event()

    def kick(self) -> None:
        """Ask for another run (the caller also asks the scheduler to run the job now)."""
        self._again.set()

    def __call__(self) -> RelayReport:
        results: list[Any] = []
        stopped = ""
        while True:
            self._again.clear()
            report = self._deliver()
            results += report.results
            stopped = report.stopped
            if stopped or not self._again.is_set():
                return RelayReport(results=tuple(results), stopped=stopped)


class BackgroundJobs:
    """The app's scheduler: started on mount, shut down (without waiting) on exit."""

    def __init__(self, services: Services, post: Callable[[Message], object]) -> None:
        from linker_tui.scheduler import JobScheduler

        self.services = services
        self._post = post
        self._scheduler = JobScheduler(max_workers=2)
        self._outbox = OutboxRunner(services.deliver_outbox)

    @property
    def scheduler(self) -> JobScheduler:
        """The scheduler itself (to add more jobs, e.g. the PMS sync, before :meth:`start`)."""
        return self._scheduler

    def start(self) -> None:
        """Schedule the outbox relay and the sync (each runs once at once, then every
        interval)."""
        from linker_tui.scheduler import add_outbox_job, add_sync_job

        add_outbox_job(
            self._scheduler, self.services, self._on_result, self._on_error, relay=self._outbox
        )
        add_sync_job(self._scheduler, self.services, self._on_result, self._on_error)
        self._scheduler.start()

    @property
    def stopping(self) -> threading.Event:
        """Set when the app quits: a sync run started by staff stops too."""
        return self._scheduler.stopping

    def sync_now(self) -> None:
        """Run the scheduled sync at once (skipped if it is running)."""
        from linker_tui.scheduler import SYNC_JOB

        if self._scheduler.running:
            self._scheduler.run_now(SYNC_JOB)

    def send_mail_now(self) -> None:
        """Run the outbox relay as soon as possible (after a link queued an email)."""
        from linker_tui.scheduler import OUTBOX_JOB

        if not self._scheduler.running:
            return
        self._outbox.kick()
        self._scheduler.run_now(OUTBOX_JOB)

    def shutdown(self) -> None:
        """Stop scheduling; a send under way finishes in its thread, bounded by the SMTP
        timeout (the email stays ``sending`` until its lease ends if the process exits)."""
        self._scheduler.shutdown(wait=False)

    # Called in the job's thread: hand over to the app, never touch a widget here.
    def _on_result(self, name: str, result: Any) -> None:
        if isinstance(result, RelayReport):
            self._send(OutboxDelivered(result))
        elif isinstance(result, SyncSummary):
            self._send(SyncFinished(result))

    def _on_error(self, name: str, error: BaseException) -> None:
        failed = self.services.failed_sync_summary(error)
        if failed is not None:
            # Shown in the status line ("! sync failed 10:42"), not as a pop-up every run.
            self._send(SyncFinished(failed))
        else:
            self._send(JobFailed(name, error))

    def _send(self, message: Message) -> None:
        with contextlib.suppress(RuntimeError):  # the app's loop is closed: nobody to tell
            self._post(message)


class LogKeeper(logging.Handler):
    """Keeps the last log records in memory while the app owns the terminal."""

    def __init__(self, capacity: int = 200) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(CleanFormatter())  # whoever formats a record gets clean text
        self.records: deque[logging.LogRecord] = deque(maxlen=capacity)
        self._saved: dict[str, tuple[bool, int]] = {}
        self._file: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Remember the record (nothing is printed)."""
        self.records.append(record)

    def install(self) -> None:
        """Route the quiet loggers here and to the log file (not to stderr, not to the
        root's other handlers): the log file and this list hold the same records."""
        self._file = log_file = current_handler()
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self._saved[name] = (logger.propagate, logger.level)
            logger.addHandler(self)
            if log_file is not None:
                logger.addHandler(log_file)
            logger.propagate = False
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)

    def uninstall(self) -> None:
        """Put the loggers back as they were."""
        for name, (propagate, level) in self._saved.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self)
            if self._file is not None:
                logger.removeHandler(self._file)
            logger.propagate = propagate
            logger.setLevel(level)
        self._saved.clear()
