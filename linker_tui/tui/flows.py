"""The decision flows (accept, reject, reopen) as chains of dialogs.

Each flow runs inside a worker: database work goes to a thread (``asyncio.to_thread``),
dialogs are awaited with ``push_screen_wait``. Esc or Cancel at any step returns before
anything is written. Every write goes through :class:`~linker_tui.workflow.Workflow`,
which refuses decisions on a request that changed meanwhile (``WorkflowError``); those
errors propagate to the screen's single error handler.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.app import App

from linker_tui.services import Services
from linker_tui.sync.control import StopFlag
from linker_tui.tui.formatting import clock_time, long_datetime, plural
from linker_tui.tui.modals.accept import (
    Candidates,
    ConfirmLink,
    EmailPrompt,
    ExactChoice,
    ExactMatch,
    NoMatch,
    NoMatchChoice,
    Recheck,
)
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning, WarningChoice
from linker_tui.tui.safe import line
from linker_tui.views import AcceptCheck, CandidateView, MatchKind, PatientView, RequestRow

MailQueuedCallback = Callable[[int, str], None]
"""Told ``(outbox_id, address)`` when a link queued a confirmation email."""


@dataclass
class _Progress:
    """What a flow has written so far (a chosen patient stays chosen if staff cancel later)."""

    changed: bool = False


class Flows:
    """Accept, reject, reopen and choose patient, driven from the request list."""

    def __init__(
        self,
        app: App[Any],
        services: Services,
        on_mail_queued: MailQueuedCallback | None = None,
        *,
        stop: StopFlag | None = None,
    ) -> None:
        self.app = app
        self.stop = stop
        """Set when the app quits: a "Try again" sync stops with it."""
        self.services = services
        self.workflow = services.workflow
        self.tz = services.settings.tz
        self.on_mail_queued = on_mail_queued

    def _say(self, message: str) -> None:
        self.app.notify(message, markup=False, timeout=8)

    # -------------------------------------------------------------------- accept
    async def accept(self, row: RequestRow) -> bool:
        """Find the appointment, let staff pick and confirm it, then link. True if the
        request changed (linked, deferred, or its patient chosen)."""
        progress = _Progress()
        done = await self._accept(row, progress)
        return done or progress.changed

    async def _accept(self, row: RequestRow, progress: _Progress) -> bool:
        recheck = functools.partial(self.workflow.check, row.id)  # an open dialog, after a sync
        check = await asyncio.to_thread(recheck)
        if check.patient_id is None and check.possible_patients > 0:
            # Not an exact patient match: staff say who it is before any appointment.
            if await self._choose_patient(row) is None:
                return False
            progress.changed = True
            check = await asyncio.to_thread(self.workflow.check, row.id)
        note = ""
        while check.kind is MatchKind.NONE:
            no_match = NoMatch(row, check, self.tz, note, recheck=recheck)
            choice = await self.app.push_screen_wait(no_match)
            if choice is None:
                return False
            check = no_match.check
            if choice is NoMatchChoice.LATER:
                await asyncio.to_thread(self.workflow.defer, row.id, expected_version=check.version)
                self._say(f"{row.external_id} is now waiting for the PMS; it stays in the list.")
                return True
            # Try again: bring the PMS's newest data in first, then look again.
            summary = await asyncio.to_thread(
                self.services.sync_in_background, trigger="try-again", stop=self.stop
            )
            notify_sync = getattr(self.app, "sync_finished", None)
            if notify_sync is not None:
                notify_sync(summary)
            check = await asyncio.to_thread(self.workflow.check, row.id)
            checked = clock_time(self.services.clock.now(), self.tz)
            if summary.ok:
                note = f"Still nothing — checked at {checked} after a sync."
            else:
                reason = summary.error or summary.note or summary.status.value
                note = f"Still nothing — checked at {checked}; the sync did not work: {reason}"
        picked = await self._pick(row, check, recheck)
        if picked is None:
            return False
        candidate, check = picked
        confirm = ConfirmLink(row, check, candidate, self.tz, recheck=recheck)
        if not await self.app.push_screen_wait(confirm):
            return False
        # The dialog may show a newer state (a sync meanwhile moved the appointment).
        candidate, check = confirm.candidate, confirm.check
        appointment = candidate.appointment
        plan = await asyncio.to_thread(self.workflow.email_plan, appointment.id, row.id)
        send = await self.app.push_screen_wait(EmailPrompt(plan, appointment, self.tz))
        if send is None:
            return False
        result = await asyncio.to_thread(
            self.workflow.link,
            row.id,
            appointment.id,
            expected_version=check.version,
            send_email=send,
        )
        booked = long_datetime(result.appointment.start, self.tz)
        if result.appointment.provider_name:
            booked += f" ({result.appointment.provider_name})"
        message = f"Linked {row.external_id} to {booked}."
        if result.outbox_id is not None:
            message += f" Confirmation email queued for {plan.address}."
            if self.on_mail_queued is not None:
                self.on_mail_queued(result.outbox_id, plan.address)
        else:
            message += " No confirmation email."
        self._say(message)
        return True

    async def _pick(
        self, row: RequestRow, check: AcceptCheck, recheck: Recheck
    ) -> tuple[CandidateView, AcceptCheck] | None:
        """The appointment staff chose (the exact one, or one of the candidates), with the
        check it was chosen from (a sync meanwhile may have refreshed the dialog)."""
        if check.exact_candidate is not None:
            exact = ExactMatch(row, check, self.tz, recheck=recheck)
            choice = await self.app.push_screen_wait(exact)
            if choice is ExactChoice.LINK:
                return exact.candidate, exact.check
            if choice is None:
                return None
            check = exact.check
        candidates = Candidates(row, check, self.tz, recheck=recheck)
        chosen = await self.app.push_screen_wait(candidates)
        return None if chosen is None else (chosen, candidates.check)

    # ------------------------------------------------------------------- patient
    async def change_patient(self, row: RequestRow) -> bool:
        """ "Is this the same patient?" for an open request; True if the patient changed."""
        return await self._choose_patient(row) is not None

    async def _choose_patient(self, row: RequestRow) -> PatientView | None:
        """Show the ranked candidates (and search); write staff's choice, audited. ``None``
        when staff cancelled (nothing written)."""
        check = await asyncio.to_thread(self.workflow.patient_candidates, row.id)
        chosen = await self.app.push_screen_wait(PatientChooser(row, check, self.workflow))
        if chosen is None:
            return None
        if chosen.id == check.chosen_patient_id and check.chosen_by:
            self._say(f"{row.external_id}: {chosen.display_name} was already chosen.")
            return chosen
        await asyncio.to_thread(
            self.workflow.choose_patient, row.id, chosen.id, expected_version=check.version
        )
        self._say(f"{row.external_id}: patient set to {chosen.display_name} ({chosen.pms_id}).")
        return chosen

    # ----------------------------------------------------------------- attention
    async def dismiss_attention(self, row: RequestRow) -> bool:
        """Clear the sync's warning on the request (audited)."""
        await asyncio.to_thread(
            self.workflow.dismiss_attention, row.id, expected_version=row.version
        )
        self._say(f"{row.external_id}: sync warning marked as seen.")
        return True

    # -------------------------------------------------------------------- reject
    async def reject(self, row: RequestRow) -> bool:
        """Warn when the patient has scheduled appointments, ask for a reason, reject."""
        reload = functools.partial(self.workflow.scheduled_for_request, row.id)
        appointments = await asyncio.to_thread(reload)
        if appointments:
            warning = ScheduledWarning(row, appointments, self.tz, reload)
            choice = await self.app.push_screen_wait(warning)
            if choice is None:
                return False
            if choice is WarningChoice.LINK_INSTEAD:
                return await self.accept(row)
        reason = await self.app.push_screen_wait(RejectReason(row))
        if reason is None:
            return False
        await asyncio.to_thread(self.workflow.reject, row.id, reason, expected_version=row.version)
        self._say(f"Rejected {row.external_id}: {reason}")
        return True

    # -------------------------------------------------------------------- reopen
    async def reopen(self, row: RequestRow) -> bool:
        """Confirm, then put a linked or rejected request back to pending."""
        question = line(
            "Reopen ",
            (row.external_id, "bold"),
            f" from {row.typed_name}? It goes back to pending; "
            "a queued confirmation email is withdrawn.",
        )
        if not await self.app.push_screen_wait(Confirm("Reopen request?", question, "Reopen")):
            return False
        withdrawn = await asyncio.to_thread(
            self.workflow.reopen, row.id, expected_version=row.version
        )
        message = f"Reopened {row.external_id}: it is pending again."
        if withdrawn:
            message += f" {plural(withdrawn, 'queued email')} withdrawn."
        self._say(message)
        return True
