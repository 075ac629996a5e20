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
    PatientCheck,
    PatientView,
    RequestRow,
)
from linker_tui.services import Services
from linker_tui.sync.control import StopFlag
from linker_tui.tui.accept_flow import AcceptFlow
from linker_tui.tui.formatting import long_datetime, plural
from linker_tui.tui.modals.confirm import Confirm
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

    def say(self, message: str) -> None:
        """A toast for staff (what a decision did)."""
        self._say(message)

    def mail_queued(self, outbox_id: int, address: str) -> None:
        """A link queued an email (the app may send it right away)."""
        if self.on_mail_queued is not None:
            self.on_mail_queued(outbox_id, address)

    def patient_chooser(self, row: RequestRow, check: PatientCheck) -> PatientChooser:
        """ "Is this the same patient?" for ``row``."""
        return PatientChooser(row, check, self.workflow)

    # -------------------------------------------------------------------- accept
    async def accept(self, row: RequestRow) -> bool:
        """Find the appointment, let staff pick and confirm it, then link
        (:class:`~linker_tui.tui.accept_flow.AcceptFlow`). True if the request changed."""
        return bool(await AcceptFlow(self).run(row))

    # ------------------------------------------------------------------- patient
    async def change_patient(self, row: RequestRow) -> bool:
        """ "Is this the same patient?" for an open request, as a decision of its own: the
        choice is confirmed (Cancel is the default when the birth date differs), then
        saved, audited. True if the patient changed."""
        while True:
            asked = await self._ask_patient(row)
            if asked is None:
                return False
            answer = await self._confirm_patient(row, *asked)
            if answer is not None:
                return answer

    async def _confirm_patient(
        self, row: RequestRow, chosen: PatientView, check: PatientCheck
    ) -> bool | None:
        """ "Set the patient?", then save it: True if the patient changed, False when
        cancelled, ``None`` on Esc (back to the chooser)."""
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
        confirm.has_previous = True
        if not await self.app.push_screen_wait(confirm):
            return None if confirm.stepped_back else False
        await asyncio.to_thread(
            self.workflow.choose_patient, row.id, chosen.id, expected_version=check.version
        )
        self._say(f"{row.external_id}: patient set to {chosen.display_name} ({chosen.pms_id}).")
        return True

    async def _ask_patient(self, row: RequestRow) -> tuple[PatientView, PatientCheck] | None:
        """Show the ranked candidates (and search): staff's choice, with what was shown
        (nothing written). ``None`` when staff cancelled."""
        check = await asyncio.to_thread(self.workflow.patient_candidates, row.id)
        chosen = await self.app.push_screen_wait(self.patient_chooser(row, check))
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
        """Warn when the patient has scheduled appointments, ask for a reason, reject.
        Esc on the reason (or on Link instead's first dialog) steps back to the warning."""
        reload = functools.partial(self.workflow.scheduled_for_request, row.id)
        appointments = await asyncio.to_thread(reload)
        while True:
            if appointments:
                warning = ScheduledWarning(row, appointments, self.tz, reload)
                choice = await self.app.push_screen_wait(warning)
                if choice is None:
                    return False
                if choice is WarningChoice.LINK_INSTEAD:
                    linked = await AcceptFlow(self).run(row, has_previous=True)
                    if linked is None:  # Esc on its first dialog: the warning again
                        continue
                    return linked
            dialog = RejectReason(row)
            dialog.has_previous = bool(appointments)
            reason = await self.app.push_screen_wait(dialog)
            if reason is not None:
                break
            if not (appointments and dialog.stepped_back):
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
