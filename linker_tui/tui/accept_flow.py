"""Accept as a chain of dialogs, one step each: who the patient is, the appointment (exact
match, duplicate, candidates or no match), "Link this request?", the email.

Esc steps back one dialog (from the first, back to the list); Cancel ends the flow.
Nothing is written before the last step's answer: the link (or "Do this later", or
"Close as duplicate") is the one decision, in one transaction (``Workflow``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from linker_tui.read.views import AcceptCheck, CandidateView, MatchKind, PatientView, RequestRow
from linker_tui.tui.formatting import clock_time, long_datetime
from linker_tui.tui.jobs import SyncFinished
from linker_tui.tui.modals.base import Dialog
from linker_tui.tui.modals.candidates import CandidateChoice, Candidates, NoMatch, NoMatchChoice
from linker_tui.tui.modals.checked import Recheck
from linker_tui.tui.modals.duplicate import Duplicate, DuplicateChoice
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactChoice, ExactMatch

if TYPE_CHECKING:
    from linker_tui.tui.flows import Flows


class Step(Enum):
    """A dialog of the Accept flow."""

    PATIENT = auto()
    DUPLICATE = auto()
    EXACT = auto()
    CANDIDATES = auto()
    NO_MATCH = auto()
    CONFIRM = auto()
    EMAIL = auto()


@dataclass(frozen=True)
class Go:
    """Show ``step`` next; ``replace``: Esc there does not come back to this dialog."""

    step: Step
    replace: bool = False


Outcome = Go | bool | None
"""What a step leads to: the next dialog, the end of the flow (True: the request changed),
or ``None``: Esc, back one dialog."""


@dataclass
class AcceptRun:
    """What one Accept has gathered so far (nothing of it is saved before the decision)."""

    row: RequestRow
    check: AcceptCheck
    recheck: Recheck
    chosen: PatientView | None = None
    """The patient staff chose ("Is this the same patient?"), saved with the decision."""
    candidate: CandidateView | None = None
    """The appointment chosen (kept when stepping back: the list starts on it)."""
    none_of_these: bool = False
    note: str = ""
    """The no-match dialog's note after a "Try again" that found nothing."""
    steps: list[Step] = field(default_factory=list)
    """The dialogs Esc steps back to, the last one first."""
    has_previous: bool = False
    """A dialog of the caller came before the first (Reject's warning)."""

    @property
    def chosen_id(self) -> int | None:
        """The id of the patient chosen in this flow."""
        return self.chosen.id if self.chosen is not None else None


def first_step(check: AcceptCheck) -> Step:
    """The first appointment dialog for ``check``."""
    if check.kind is MatchKind.NONE:
        return Step.NO_MATCH
    if check.duplicate_of is not None:
        return Step.DUPLICATE
    return Step.EXACT if check.exact_candidate is not None else Step.CANDIDATES


class AcceptFlow:
    """Runs the Accept dialogs for :class:`~linker_tui.tui.flows.Flows`."""

    def __init__(self, flows: Flows) -> None:
        self.flows = flows
        self.app = flows.app
        self.workflow = flows.workflow
        self.tz = flows.tz
        self._steps: dict[Step, Callable[[AcceptRun], Awaitable[Outcome]]] = {
            Step.PATIENT: self._patient,
            Step.DUPLICATE: self._duplicate,
            Step.EXACT: self._exact,
            Step.CANDIDATES: self._candidates,
            Step.NO_MATCH: self._no_match,
            Step.CONFIRM: self._confirm,
            Step.EMAIL: self._email,
        }

    async def run(self, row: RequestRow, *, has_previous: bool = False) -> bool | None:
        """The whole Accept; True if the request changed (linked, deferred, closed), False
        if not, ``None`` when Esc left its first dialog (``has_previous``: a dialog of the
        caller came before, shown again then)."""
        recheck = functools.partial(self.workflow.check, row.id)
        check = await asyncio.to_thread(recheck)
        run = AcceptRun(row, check, recheck, has_previous=has_previous)
        step = first_step(check)
        if check.patient_id is None and check.possible_patients > 0:
            step = Step.PATIENT  # staff say who it is before any appointment
        while True:
            outcome = await self._steps[step](run)
            if outcome is None:  # Esc: back one dialog; from the first, back to the list
                if not run.steps:
                    return None if has_previous else False
                step = run.steps.pop()
            elif isinstance(outcome, bool):
                return outcome
            else:
                if not outcome.replace:
                    run.steps.append(step)
                step = outcome.step

    async def _show(self, run: AcceptRun, dialog: Dialog[Any]) -> Any:
        """Show ``dialog`` (its hint says Esc goes back when a dialog came before it)."""
        dialog.has_previous = dialog.has_previous or run.has_previous or bool(run.steps)
        return await self.app.push_screen_wait(dialog)

    @staticmethod
    def _ended(dialog: Dialog[Any]) -> bool | None:
        """Closed without a choice: Esc steps back (``None``), Cancel ends (``False``)."""
        return None if dialog.stepped_back else False

    # ------------------------------------------------------------------ steps
    async def _patient(self, run: AcceptRun) -> Outcome:
        check = await asyncio.to_thread(self.workflow.patient_candidates, run.row.id)
        chooser = self.flows.patient_chooser(run.row, check)
        chosen = await self._show(run, chooser)
        if chosen is None:
            return self._ended(chooser)
        run.chosen, run.candidate = chosen, None
        run.recheck = functools.partial(self.workflow.check, run.row.id, chosen.id)
        run.check = await asyncio.to_thread(run.recheck)
        return Go(first_step(run.check))

    async def _duplicate(self, run: AcceptRun) -> Outcome:
        dialog = Duplicate(run.row, run.check, self.tz, recheck=run.recheck)
        choice = await self._show(run, dialog)
        run.check = dialog.check
        if choice is DuplicateChoice.OTHERS:
            run.candidate = None
            return Go(Step.CANDIDATES)
        if choice is not DuplicateChoice.CLOSE:
            return self._ended(dialog)
        reason = await asyncio.to_thread(
            functools.partial(
                self.workflow.close_duplicate,
                run.row.id,
                dialog.original.request_id,
                expected_version=dialog.check.version,
            )
        )
        self.flows.say(f"Closed {run.row.external_id}: {reason}. No message to the patient.")
        return True

    async def _exact(self, run: AcceptRun) -> Outcome:
        exact = ExactMatch(run.row, run.check, self.tz, recheck=run.recheck)
        choice = await self._show(run, exact)
        run.check = exact.check
        if choice is ExactChoice.LINK:
            run.candidate = exact.candidate
            return Go(Step.CONFIRM)
        if choice is ExactChoice.OTHERS:
            run.candidate = None
            return Go(Step.CANDIDATES)
        return self._ended(exact)

    async def _candidates(self, run: AcceptRun) -> Outcome:
        start_at = run.candidate.appointment.id if run.candidate is not None else None
        dialog = Candidates(run.row, run.check, self.tz, recheck=run.recheck, start_at=start_at)
        chosen = await self._show(run, dialog)
        run.check = dialog.check
        if chosen is CandidateChoice.NONE_OF_THESE:
            run.none_of_these, run.note = True, ""
            return Go(Step.NO_MATCH)
        if chosen is None:
            return self._ended(dialog)
        assert isinstance(chosen, CandidateView)
        run.candidate = chosen
        return Go(Step.CONFIRM)

    async def _no_match(self, run: AcceptRun) -> Outcome:
        """Nothing matched (or "None of these"): Try again (sync, look again) until
        something is found, or Do this later."""
        while True:
            dialog = NoMatch(
                run.row,
                run.check,
                self.tz,
                run.note,
                recheck=run.recheck,
                none_of_these=run.none_of_these,
            )
            choice = await self._show(run, dialog)
            run.check = dialog.check
            if choice is None:
                run.none_of_these, run.note = False, ""
                return self._ended(dialog)
            if choice is NoMatchChoice.LATER:
                return await self._defer(run)
            if await self._try_again(run):
                run.none_of_these, run.note = False, ""
                return Go(first_step(run.check), replace=True)

    async def _defer(self, run: AcceptRun) -> bool:
        await asyncio.to_thread(
            functools.partial(
                self.workflow.defer,
                run.row.id,
                expected_version=run.check.version,
                patient_id=run.chosen_id,
            )
        )
        self.flows.say(f"{run.row.external_id} is now waiting for the PMS; it stays in the list.")
        return True

    async def _try_again(self, run: AcceptRun) -> bool:
        """Bring the PMS's newest data in, then look again: True when it found something
        (new, after "None of these"); else the note says so."""
        known = {c.appointment.id for c in run.check.candidates}
        services = self.flows.services
        summary = await asyncio.to_thread(
            services.sync_in_background, trigger="try-again", stop=self.flows.stop
        )
        self.app.post_message(SyncFinished(summary))  # the status line, an open runs screen
        run.check = await asyncio.to_thread(run.recheck)
        found = {c.appointment.id for c in run.check.candidates}
        if run.check.kind is not MatchKind.NONE and (not run.none_of_these or found - known):
            return True
        checked = clock_time(services.clock.now(), self.tz)
        if summary.ok:
            run.note = f"Still nothing — checked at {checked} after a sync."
        else:
            reason = summary.error or summary.note or summary.status.value
            run.note = f"Still nothing — checked at {checked}; the sync did not work: {reason}"
        return False

    async def _confirm(self, run: AcceptRun) -> Outcome:
        assert run.candidate is not None
        confirm = ConfirmLink(run.row, run.check, run.candidate, self.tz, recheck=run.recheck)
        answer = await self._show(run, confirm)
        # The dialog may show a newer state (a sync meanwhile moved the appointment).
        run.check, run.candidate = confirm.check, confirm.candidate
        if answer is None:  # Esc: back, the list's cursor on this appointment
            return None
        return Go(Step.EMAIL) if answer else False

    async def _email(self, run: AcceptRun) -> Outcome:
        assert run.candidate is not None
        appointment = run.candidate.appointment
        plan = await asyncio.to_thread(self.workflow.email_plan, appointment.id, run.row.id)
        prompt = EmailPrompt(plan, appointment, self.tz)
        send = await self._show(run, prompt)
        if send is None:
            return self._ended(prompt)
        result = await asyncio.to_thread(
            self.workflow.link,
            run.row.id,
            appointment.id,
            expected_version=run.check.version,
            send_email=send,
            patient_id=run.chosen_id,
        )
        booked = long_datetime(result.appointment.start, self.tz)
        if result.appointment.provider_name:
            booked += f" ({result.appointment.provider_name})"
        message = f"Linked {run.row.external_id} to {booked}."
        if run.chosen is not None:
            message += f" Patient: {run.chosen.display_name} ({run.chosen.pms_id})."
        kind = "Correction" if plan.replaces else "Confirmation"
        if result.outbox_id is not None:
            message += f" {kind} email queued for {plan.address}."
            self.flows.mail_queued(result.outbox_id, plan.address)
        elif result.email_refused:
            message += f" No {kind.lower()} email: {result.email_refused}."
        else:
            message += f" No {kind.lower()} email."
        self.flows.say(message)
        return True
