"""The decision flows (accept, reject, reopen) as chains of dialogs.

Each flow runs inside a worker: database work goes to a thread (``asyncio.to_thread``),
dialogs are awaited with ``push_screen_wait``. Esc or Cancel at any step returns before
anything is written. Every write goes through :class:`~linker_tui.workflow.decisions.Workflow`,
which refuses decisions on a request that changed meanwhile (``WorkflowError``); those
errors propagate to the screen's single error handler.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from textual.app import App

from linker_tui.read.views import (
    AcceptCheck,
    CandidateView,
    MatchKind,
    PatientCheck,
    PatientView,
    RequestRow,
)
from linker_tui.services import Services
from linker_tui.sync.control import StopFlag
from linker_tui.tui.formatting import clock_time, long_datetime, plural
from linker_tui.tui.modals.candidates import CandidateChoice, Candidates, NoMatch, NoMatchChoice
from linker_tui.tui.modals.checked import Recheck
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactChoice, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning, WarningChoice
from linker_tui.tui.safe import line, lines

MailQueuedCallback = Callable[[int, str], None]
"""Told ``(outbox_id, address)`` when a link queued a confirmation email."""


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
        request changed (linked or deferred). A patient chosen on the way ("Is this the
        same patient?") is saved with the link or the defer, not before: Esc at any step
        leaves the request as it was."""
        recheck = functools.partial(self.workflow.check, row.id)  # an open dialog, after a sync
        check = await asyncio.to_thread(recheck)
        chosen: PatientView | None = None
        if check.patient_id is None and check.possible_patients > 0:
            # Not an exact patient match: staff say who it is before any appointment.
            asked = await self._ask_patient(row)
            if asked is None:
                return False
            chosen = asked[0]
            recheck = functools.partial(self.workflow.check, row.id, chosen.id)
            check = await asyncio.to_thread(recheck)
        chosen_id = chosen.id if chosen is not None else None
        none_of_these = False  # staff said no listed appointment is the one
        chosen_appointment: int | None = None
        while True:
            if check.kind is MatchKind.NONE or none_of_these:
                outcome = await self._no_match(row, check, recheck, chosen_id, none_of_these)
                if isinstance(outcome, bool):
                    return outcome
                check, none_of_these = outcome, False
                if check.kind is MatchKind.NONE:
                    continue
            picked = await self._pick(row, check, recheck, chosen_appointment)
            if picked is None:
                return False
            if picked is CandidateChoice.NONE_OF_THESE:
                none_of_these = True
                continue
            candidate, check = picked
            confirm = ConfirmLink(row, check, candidate, self.tz, recheck=recheck)
            answer = await self.app.push_screen_wait(confirm)
            if answer is None:  # Esc: back to the appointments, the cursor on this one
                check, chosen_appointment = confirm.check, candidate.appointment.id
                continue
            if not answer:
                return False
            break
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
            patient_id=chosen_id,
        )
        booked = long_datetime(result.appointment.start, self.tz)
        if result.appointment.provider_name:
            booked += f" ({result.appointment.provider_name})"
        message = f"Linked {row.external_id} to {booked}."
        if chosen is not None:
            message += f" Patient: {chosen.display_name} ({chosen.pms_id})."
        if result.outbox_id is not None:
            message += f" Confirmation email queued for {plan.address}."
            if self.on_mail_queued is not None:
                self.on_mail_queued(result.outbox_id, plan.address)
        elif result.email_refused:
            message += f" No confirmation email: {result.email_refused}."
        else:
            message += " No confirmation email."
        self._say(message)
        return True

    async def _no_match(
        self,
        row: RequestRow,
        check: AcceptCheck,
        recheck: Recheck,
        chosen_id: int | None,
        none_of_these: bool,
    ) -> AcceptCheck | bool:
        """Nothing matched (or staff said "None of these"): Try again (sync, then look
        again) until something is found, or Do this later. The new check, or True when
        deferred, False when cancelled."""
        note = ""
        while True:
            no_match = NoMatch(
                row, check, self.tz, note, recheck=recheck, none_of_these=none_of_these
            )
            choice = await self.app.push_screen_wait(no_match)
            if choice is None:
                return False
            check = no_match.check
            if choice is NoMatchChoice.LATER:
                await asyncio.to_thread(
                    functools.partial(
                        self.workflow.defer,
                        row.id,
                        expected_version=check.version,
                        patient_id=chosen_id,
                    )
                )
                self._say(f"{row.external_id} is now waiting for the PMS; it stays in the list.")
                return True
            # Try again: bring the PMS's newest data in first, then look again.
            known = {c.appointment.id for c in check.candidates}
            summary = await asyncio.to_thread(
                self.services.sync_in_background, trigger="try-again", stop=self.stop
            )
            notify_sync = getattr(self.app, "sync_finished", None)
            if notify_sync is not None:
                notify_sync(summary)
            check = await asyncio.to_thread(recheck)
            found = {c.appointment.id for c in check.candidates}
            if check.kind is not MatchKind.NONE and (not none_of_these or found - known):
                return check
            checked = clock_time(self.services.clock.now(), self.tz)
            if summary.ok:
                note = f"Still nothing — checked at {checked} after a sync."
            else:
                reason = summary.error or summary.note or summary.status.value
                note = f"Still nothing — checked at {checked}; the sync did not work: {reason}"

    async def _pick(
        self, row: RequestRow, check: AcceptCheck, recheck: Recheck, start_at: int | None = None
    ) -> tuple[CandidateView, AcceptCheck] | CandidateChoice | None:
        """The appointment staff chose (the exact one, or one of the candidates), with the
        check it was chosen from (a sync meanwhile may have refreshed the dialog); "None of
        these"; or ``None`` (cancel). ``start_at``: the appointment chosen before staff
        stepped back (the list starts on it)."""
        if check.exact_candidate is not None and start_at is None:
            exact = ExactMatch(row, check, self.tz, recheck=recheck)
            choice = await self.app.push_screen_wait(exact)
            if choice is ExactChoice.LINK:
                return exact.candidate, exact.check
            if choice is None:
                return None
            check = exact.check
        candidates = Candidates(row, check, self.tz, recheck=recheck, start_at=start_at)
        chosen = await self.app.push_screen_wait(candidates)
        if chosen is None or isinstance(chosen, CandidateChoice):
            return chosen
        return chosen, candidates.check

    # ------------------------------------------------------------------- patient
    async def change_patient(self, row: RequestRow) -> bool:
        """ "Is this the same patient?" for an open request, as a decision of its own: the
        choice is confirmed (Cancel is the default when the birth date differs), then
        saved, audited. True if the patient changed."""
        asked = await self._ask_patient(row)
        if asked is None:
            return False
        chosen, check = asked
        if chosen.id == check.chosen_patient_id and check.chosen_by:
            self._say(f"{row.external_id}: {chosen.display_name} was already chosen.")
            return False
        born = check.typed_birthdate
        differs = born is not None and chosen.birthdate is not None and born != chosen.birthdate
        question = line(
            "Request ",
            (row.external_id, "bold"),
            f" from {row.typed_name or '(no name)'}: the patient becomes ",
            (f"{chosen.display_name} ({chosen.pms_id})", "bold"),
            ".",
        )
        if differs:
            assert born is not None and chosen.birthdate is not None
            question = lines(
                question,
                line(
                    (
                        f"The birth date differs: typed {born.isoformat()}, "
                        f"in the PMS {chosen.birthdate.isoformat()}.",
                        "bold",
                    )
                ),
            )
        confirm = Confirm("Set the patient?", question, "Set patient", default_ok=not differs)
        if not await self.app.push_screen_wait(confirm):
            return False
        await asyncio.to_thread(
            self.workflow.choose_patient, row.id, chosen.id, expected_version=check.version
        )
        self._say(f"{row.external_id}: patient set to {chosen.display_name} ({chosen.pms_id}).")
        return True

    async def _ask_patient(self, row: RequestRow) -> tuple[PatientView, PatientCheck] | None:
        """Show the ranked candidates (and search): staff's choice, with what was shown
        (nothing written). ``None`` when staff cancelled."""
        check = await asyncio.to_thread(self.workflow.patient_candidates, row.id)
        chosen = await self.app.push_screen_wait(PatientChooser(row, check, self.workflow))
        return None if chosen is None else (chosen, check)

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
        sent = await asyncio.to_thread(self.services.sent_emails, row.id)
        question = line(
            "Reopen ",
            (row.external_id, "bold"),
            f" from {row.typed_name}? It goes back to pending; "
            "a queued confirmation email is withdrawn.",
        )
        if sent:
            last = sent[-1]
            when = f" on {long_datetime(last.sent_at, self.tz)}" if last.sent_at else ""
            question = lines(
                question,
                line(
                    ("The patient already has the confirmation email", "bold"),
                    f" (sent to {last.to_address}{when}). Reopening does not take it back: "
                    "if the request is linked to another appointment, tell the patient.",
                ),
            )
        if not await self.app.push_screen_wait(Confirm("Reopen request?", question, "Reopen")):
            return False
        result = await asyncio.to_thread(self.workflow.reopen, row.id, expected_version=row.version)
        message = f"Reopened {row.external_id}: it is pending again."
        if result.withdrawn:
            message += f" {plural(result.withdrawn, 'queued email')} withdrawn."
        if sent:
            message += " The patient already has the confirmation email."
        for address in result.being_sent:
            message += (
                f" The confirmation email to {address} was being sent at that moment: it "
                "cannot be withdrawn and has most likely gone out (see the mail outbox)."
            )
        self._say(message)
        return True
