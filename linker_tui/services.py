"""Everything the app and the CLI need, wired from the settings.

Opening the services connects to the database and checks its schema, nothing more: the
workflow (with the email templates), the outbox relay, the sync engine and its worker
process are made, and their modules imported, on first use. The app lists its first
requests before any of them is needed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock, SystemClock
from linker_tui.mail.pause import ServerPause  # light: no relay, no templates
from linker_tui.mail.queries import (
    OutboxEntry,
    SentEmail,
    outbox_counts,
    outbox_entries,
    sent_emails,
)
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.store.schema import ensure_schema
from linker_tui.sync.queries import (
    SyncProblemView,
    SyncStatus,
    latest_runs,
    sync_problems,
    sync_status,
)

if TYPE_CHECKING:
    from linker_tui.mail.preview import EmailPreview
    from linker_tui.mail.relay import OutboxRelay, RelayPolicy
    from linker_tui.mail.report import RelayReport
    from linker_tui.mail.transport import Mailer
    from linker_tui.read.queries import ChangeStamp, ListQuery, RequestPage
    from linker_tui.read.views import RequestDetail
    from linker_tui.store.lease import LeaseKeeper
    from linker_tui.sync.control import StopFlag
    from linker_tui.sync.engine import SyncEngine
    from linker_tui.sync.summary import SyncSummary
    from linker_tui.sync.worker import SyncWorker
    from linker_tui.workflow.decisions import Workflow

_SYNC_INIT = threading.Lock()
log = logging.getLogger(__name__)


def make_mailer(settings: Settings) -> Mailer:
    """The configured mail backend: ``file`` (``.eml`` files, the default) or ``smtp``."""
    from linker_tui.mail.transport import FileMailer, SmtpMailer

    if settings.mail_backend == "smtp":
        return SmtpMailer(
            settings.smtp_host,
            settings.effective_smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_secret(),
            timeout=settings.smtp_timeout,
        )
    return FileMailer(settings.effective_outbox_dir)


def not_sent_note(settings: Settings) -> str:
    """What the file backend does instead of sending: ``written to <folder> (mail is not
    sent: mail_backend = file)``; "" when mail really goes to an SMTP server."""
    if settings.mail_backend == "smtp":
        return ""
    return f"written to {settings.effective_outbox_dir} (mail is not sent: mail_backend = file)"


def relay_policy(settings: Settings) -> RelayPolicy:
    """Retry and lease settings for the outbox relay."""
    from linker_tui.mail.relay import RelayPolicy

    return RelayPolicy(
        max_attempts=settings.outbox_max_attempts,
        retry_base=timedelta(seconds=settings.outbox_retry_base_seconds),
        retry_cap=timedelta(seconds=settings.outbox_retry_cap_seconds),
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )


@dataclass(frozen=True)
class StaffMember:
    """A name staff can sign in with, and the hash of its PIN ("" when it has none)."""

    name: str
    pin_hash: str = ""


@dataclass
class Services:
    """The settings, the database and the workflow, ready to use."""

    settings: Settings
    engine: Engine
    clock: Clock
    actor: Actor
    _workflow: Workflow | None = field(default=None, repr=False, compare=False)
    demo: bool = False
    """The demo practice (``linker-tui demo``): its emails go to files on purpose."""
    _sync: SyncEngine | None = field(default=None, repr=False, compare=False)
    _leases: LeaseKeeper | None = field(default=None, repr=False, compare=False)
    _sync_worker: SyncWorker | None = field(default=None, repr=False, compare=False)
    _mail_pause: ServerPause = field(default_factory=ServerPause, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        actor: Actor | None = None,
        engine: Engine | None = None,
        demo: bool = False,
    ) -> Services:
        """Connect to the configured database; raises ``schema.SchemaMismatch`` (with what
        to do) unless its schema is this version's. The default SQLite file in the data
        folder (no ``database_url``) is created or upgraded at once; a configured
        database is left to ``linker-tui db upgrade``."""
        engine = engine or make_engine(settings.effective_database_url)
        ensure_schema(engine, auto_upgrade=not settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            clock=clock or SystemClock(),
            actor=actor or Actor.current(),
            demo=demo,
        )

    @property
    def workflow(self) -> Workflow:
        """The decisions (link, reject, defer, reopen), with the email templates."""
        with _SYNC_INIT:
            if self._workflow is None:
                from linker_tui.mail.compose import make_environment
                from linker_tui.workflow.decisions import Workflow
                from linker_tui.workflow.practice import PracticeInfo

                settings = self.settings
                practice = PracticeInfo(
                    settings.practice_name,
                    settings.practice_address,
                    settings.practice_phone,
                    settings.practice_email,
                )
                self._workflow = Workflow(
                    self.engine,
                    self.clock,
                    self.actor,
                    settings.tz,
                    practice,
                    templates=make_environment(settings.template_dir),
                    phone_region=settings.phone_region,
                )
            return self._workflow

    # ------------------------------------------------------------------ staff
    @property
    def sign_in_mode(self) -> str:
        """``off``, ``optional`` or ``required`` (``auto``: optional when the settings list
        staff, else off)."""
        mode = self.settings.staff_sign_in
        if mode == "auto":
            return "optional" if self.settings.staff else "off"
        return mode

    def staff_members(self) -> list[StaffMember]:
        """Who can sign in: the settings' ``staff``, else the PMS's providers (no PINs)."""
        if self.settings.staff:
            return [StaffMember(name, pin) for name, pin in self.settings.staff.items()]
        from sqlmodel import select

        from linker_tui.store.models import Provider

        with read_session(self.engine) as session:
            providers = session.exec(select(Provider)).all()
            names = {p.display_name.strip() for p in providers}
        return [StaffMember(name) for name in sorted(names - {""}, key=str.casefold)]

    def sign_in(self, staff: str) -> None:
        """``staff`` sits at the desk now: every action from here on is recorded under
        that name, with the OS login ("" signs out: the OS login alone)."""
        self.actor = replace(self.actor, staff=staff)
        if self._workflow is not None:
            self._workflow.actor = self.actor

    # ------------------------------------------------------------------ outbox
    @property
    def mail_notice(self) -> str:
        """What the status line says about mail when nothing else is to say: that it is not
        sent (the file backend outside the demo), or ""."""
        if self.demo or self.settings.mail_backend == "smtp":
            return ""
        return "mail is not sent: mail_backend = file"

    def relay(self, mailer: Mailer | None = None) -> OutboxRelay:
        """An outbox relay with the configured backend (or ``mailer``)."""
        from linker_tui.mail.relay import OutboxRelay, new_worker_id

        return OutboxRelay(
            self.engine,
            mailer or make_mailer(self.settings),
            self.clock,
            sender=self.settings.practice_email,
            sender_name=self.settings.practice_name,
            worker_id=new_worker_id(self.actor),  # one per run: claims never mix
            policy=relay_policy(self.settings),
            pause=self._mail_pause,  # a mail server away pauses every run of this process
        )

    def deliver_outbox(self) -> RelayReport:
        """Send the due confirmation emails once with the configured backend."""
        report = self.relay().run_once()
        if report.results:
            log.info("outbox relay run: %s", report.summary())
        return report

    def retry_email(self, outbox_id: int) -> None:
        """A failed email back to the queue, due now (raises OutboxActionError)."""
        from linker_tui.workflow.outbox_actions import retry_email

        retry_email(self.engine, outbox_id, self.clock, self.actor)

    def cancel_email(self, outbox_id: int, reason: str = "") -> None:
        """A queued or failed email cancelled (raises OutboxActionError)."""
        from linker_tui.workflow.outbox_actions import cancel_email

        cancel_email(self.engine, outbox_id, self.clock, self.actor, reason)

    def resend_email(self, outbox_id: int) -> int:
        """A sent email sent again as a new outbox row, queued; its id (raises
        OutboxActionError)."""
        from linker_tui.workflow.outbox_actions import Composer, resend_email

        workflow = self.workflow
        composer = Composer(workflow.practice, workflow.tz, workflow.templates)
        return resend_email(self.engine, outbox_id, self.clock, self.actor, composer=composer)

    def outbox_entries(
        self, statuses: tuple[OutboxStatus, ...] | None = None, limit: int = 500
    ) -> list[OutboxEntry]:
        """The outbox, newest first."""
        return outbox_entries(self.engine, statuses, limit)

    def outbox_counts(self) -> dict[OutboxStatus, int]:
        """Emails per status (for the status line's failed count)."""
        return outbox_counts(self.engine)

    def sent_emails(self, request_id: int) -> list[SentEmail]:
        """Emails the patient already has for this request (reopen warns of them)."""
        return sent_emails(self.engine, request_id)

    def email_preview(self, outbox_id: int) -> EmailPreview:
        """Outbox row ``outbox_id``'s email as it was (sent) or will be sent, with the
        file backend's ``.eml`` path; LookupError when the row is gone."""
        from linker_tui.mail.preview import email_preview

        settings = self.settings
        return email_preview(
            self.engine,
            outbox_id,
            sender=settings.practice_email,
            sender_name=settings.practice_name,
            now=self.clock.now(),
            outbox_dir=settings.effective_outbox_dir if settings.mail_backend == "file" else None,
        )

    # ------------------------------------------------------------------ what screens read
    def request_page(self, query: ListQuery, offset: int, *, counted: bool = True) -> RequestPage:
        """One page of the request list (``counted``: with its total)."""
        from linker_tui.read.queries import request_page

        settings = self.settings
        now = self.clock.now()
        return request_page(self.engine, query, offset, settings.tz, now, counted=counted)

    def request_count(self, query: ListQuery) -> int:
        """How many requests the list holds with ``query``."""
        from linker_tui.read.queries import request_count

        return request_count(self.engine, query)

    def state_counts(self) -> dict[RequestState, int]:
        """Requests per state (the header's counts)."""
        from linker_tui.read.queries import state_counts

        return state_counts(self.engine)

    def change_stamp(self) -> ChangeStamp:
        """What changes when anybody decides or a sync brings something (the live refresh
        compares it)."""
        from linker_tui.read.queries import change_stamp

        return change_stamp(self.engine)

    def request_detail(self, request_id: int) -> RequestDetail:
        """All of one request, for the detail pane; LookupError when it is gone."""
        from linker_tui.read.queries import request_detail

        settings = self.settings
        now = self.clock.now()
        return request_detail(self.engine, request_id, settings.tz, now)

    def sync_runs(self, limit: int) -> list[SyncSummary]:
        """The newest sync runs, newest first."""
        return latest_runs(self.engine, limit)

    def sync_problems(self, run_id: int, limit: int) -> list[SyncProblemView]:
        """What sync run ``run_id`` could not import (file:line or table and key)."""
        return sync_problems(self.engine, run_id, limit)

    # ------------------------------------------------------------------ leases
    @property
    def leases(self) -> LeaseKeeper:
        """This process's leader leases (one holder id per Services; see ``lease``)."""
        with _SYNC_INIT:
            if self._leases is None:
                from linker_tui.store.lease import LeaseKeeper, new_holder_id

                self._leases = LeaseKeeper(self.engine, self.clock, new_holder_id(self.actor))
            return self._leases

    # -------------------------------------------------------------------- sync
    @property
    def sync(self) -> SyncEngine:
        """The sync engine (one per Services: runs never overlap in this process)."""
        with _SYNC_INIT:
            if self._sync is None:
                from linker_tui.sync.configure import sync_engine

                self._sync = sync_engine(self.settings, self.engine, self.clock, self.actor)
            return self._sync

    def sync_now(
        self,
        *,
        force: bool = False,
        trigger: str = "manual",
        stop: StopFlag | None = None,
        wait: bool = True,
    ) -> SyncSummary:
        """Sync once from the PMS export and the request inbox; blocking (call it from a
        worker thread). Errors are in the summary (``.ok``, ``.error``), not raised.
        ``force`` reads the export even when unchanged since the last run."""
        return self.sync.run(trigger=trigger, force=force, stop=stop, wait=wait)

    @property
    def sync_worker(self) -> SyncWorker:
        """Runs the app's syncs in a child process (one at a time)."""
        with _SYNC_INIT:
            if self._sync_worker is None:
                from linker_tui.sync.worker import SyncWorker

                self._sync_worker = SyncWorker(self.settings, self.engine, self.clock)
            return self._sync_worker

    def close_sync_worker(self) -> None:
        """The app quits: the sync worker is done (no process waits between runs; a
        running one is ended by its stop flag)."""
        with _SYNC_INIT:
            worker = self._sync_worker
        if worker is not None:
            worker.close()

    def sync_in_background(
        self,
        *,
        force: bool = False,
        trigger: str = "manual",
        stop: StopFlag | None = None,
        wait: bool = True,
    ) -> SyncSummary:
        """Like :meth:`sync_now`, for a running app: in a child process (the default,
        ``sync_in_subprocess``), so the screen never stalls while a big export is read."""
        if self.settings.sync_in_subprocess:
            return self.sync_worker.run(trigger=trigger, force=force, stop=stop, wait=wait)
        return self.sync_now(trigger=trigger, force=force, stop=stop, wait=wait)

    @staticmethod
    def failed_sync_summary(error: BaseException) -> SyncSummary | None:
        """The summary of a scheduled sync that ended ``failed`` (the job raised it as
        ``SyncFailed``, so the scheduler's error callback hears), else None."""
        from linker_tui.sync.summary import SyncFailed  # light: the summary only

        return error.summary if isinstance(error, SyncFailed) else None

    def sync_status(self) -> SyncStatus:
        """Last run, last success, running, requests flagged and waiting (status line)."""
        return sync_status(self.engine, self.clock.now())
