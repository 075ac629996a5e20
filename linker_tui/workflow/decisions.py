"""Decisions on online requests: accept-check, link, defer, reject, reopen.

This module is the only writer of request state. Every decision is one transaction:
the request's new state, its audit event and (for a link) its outbox row are written
together or not at all. A decision names the request version it was made on; if the
request changed since (another workstation, a sync), it is refused and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from linker_tui.matching.patient_search import score_records, typed_identity
from linker_tui.read.views import AppointmentView, LinkResult, ReopenResult, appointment_view
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import AppointmentStatus, OutboxStatus, RequestState
from linker_tui.store.models import (
    Appointment,
    EmailOutbox,
    OnlineRequest,
    Patient,
    Provider,
)
from linker_tui.workflow.checks import Checks, find_patient, patient_record
from linker_tui.workflow.confirmation import (
    confirmation_email,
    correction_text,
    earlier_confirmation,
    replaces_text,
)
from linker_tui.workflow.errors import (
    AppointmentUnavailable,
    InvalidDecision,
    RequestNotFound,
    StaleRequest,
)
from linker_tui.workflow.practice import format_local
from linker_tui.workflow.trail import decide, read_request


class Workflow(Checks):
    """Staff decisions on requests, each in its own transaction."""

    def choose_patient(
        self, request_id: int, patient_id: int | None, *, expected_version: int
    ) -> int:
        """Staff say which patient sent the request ("Is this the same patient?").

        The choice is kept on the request (``patient_id``, ``patient_chosen_by``), audited,
        in one transaction, refused if the request changed since it was shown. ``None``
        forgets the choice: the request is matched automatically again. Only open requests
        can change patient. Returns the request's new version.
        """
        with self._deciding(request_id, expected_version) as (session, request):
            previous = session.get(Patient, request.patient_id) if request.patient_id else None
            chosen_by = ""
            if patient_id is None:
                detail = "patient choice withdrawn"
            else:
                detail = self._staff_choice(session, request, patient_id).removesuffix("; ")
                chosen_by = self.actor.label
            if previous is not None:
                detail += f" (was {previous.pms_id} {previous.display_name})"
            changes = {"patient_id": patient_id, "patient_chosen_by": chosen_by}
            self._decide(session, request, "choose_patient", changes, detail)
            return request.version

    # ---------------------------------------------------------------- deciding
    def link(
        self,
        request_id: int,
        appointment_id: int,
        *,
        expected_version: int,
        send_email: bool,
        patient_id: int | None = None,
    ) -> LinkResult:
        """Link the request to a scheduled appointment, and queue the confirmation email.

        ``patient_id``: the patient staff chose in this Accept flow ("Is this the same
        patient?"), recorded with the link in the same decision. Refused (nothing changes)
        when the request changed since ``expected_version``, the appointment is no longer
        scheduled, belongs to another patient, or is already linked to another request.
        """
        try:
            with self._deciding(request_id, expected_version) as (session, request):
                chosen = self._staff_choice(session, request, patient_id)
                view = self._linkable(session, request, appointment_id, patient_id)
                email, email_detail, refused = self._link_email(session, request, view, send_email)
                detail = chosen + correction_text(session, request, view, self.tz) + email_detail
                changes = {
                    "state": RequestState.LINKED.value,
                    "linked_appointment_id": view.id,
                    "patient_id": view.patient_id,
                    "attention": "",
                }
                if patient_id is not None:
                    changes["patient_chosen_by"] = self.actor.label
                self._decide(session, request, "link", changes, detail)
                outbox_id = None
                if email is not None:
                    session.add(email)
                    session.flush()
                    outbox_id = email.id
        except IntegrityError as exc:
            raise AppointmentUnavailable(self._taken_meanwhile(appointment_id)) from exc
        return LinkResult(request_id, view, outbox_id, email_refused=refused)

    def _linkable(
        self,
        session: Session,
        request: OnlineRequest,
        appointment_id: int,
        patient_id: int | None,
    ) -> AppointmentView:
        """The appointment, if the request may be linked to it (else AppointmentUnavailable)."""
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise AppointmentUnavailable(
                "That appointment is no longer in the PMS data. Nothing was changed."
            )
        provider = (
            session.get(Provider, appointment.provider_id)
            if appointment.provider_id is not None
            else None
        )
        self._check_bookable(session, request, appointment, patient_id)
        return appointment_view(appointment, provider)

    def _link_email(
        self, session: Session, request: OnlineRequest, view: AppointmentView, send: bool
    ) -> tuple[EmailOutbox | None, str, str]:
        """The email to queue with a link (a correction when the patient already has a
        confirmation of this request), the audit detail's end, and why it was refused."""
        patient = session.get(Patient, view.patient_id)
        plan = self._email_plan(patient, request)
        if not send:
            return None, "; no confirmation email", ""
        if not plan.possible:
            return None, "; " + plan.note, ""
        assert request.id is not None
        earlier = earlier_confirmation(session, request.id)
        email, refused = confirmation_email(
            session,
            request,
            view,
            patient,
            plan,
            earlier,
            practice=self.practice,
            tz=self.tz,
            now=self.clock.now(),
            templates=self.templates,
        )
        if refused:
            return None, f"; no confirmation email: {refused}", refused
        if earlier is not None:
            replaced = replaces_text(earlier, self.tz)
            return email, f"; correction email queued (replaces the confirmation of {replaced})", ""
        return email, "", ""

    def defer(
        self, request_id: int, *, expected_version: int, patient_id: int | None = None
    ) -> None:
        """ "Do this later": keep the request open, marked as waiting for the PMS
        (``patient_id``: the patient staff chose in this flow, saved with it)."""
        with self._deciding(request_id, expected_version) as (session, request):
            chosen = self._staff_choice(session, request, patient_id)
            changes: dict[str, Any] = {"state": RequestState.WAITING_PMS.value, "attention": ""}
            if patient_id is not None:
                changes |= {"patient_id": patient_id, "patient_chosen_by": self.actor.label}
            self._decide(session, request, "defer", changes, chosen + "waiting for the PMS")

    def reject(self, request_id: int, reason: str, *, expected_version: int) -> None:
        """Reject the request with a reason (staff were warned about scheduled appointments)."""
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidDecision("A reason is needed to reject a request.")
        with self._deciding(request_id, expected_version) as (session, request):
            changes = {
                "state": RequestState.REJECTED.value,
                "reject_reason": reason,
                "attention": "",
            }
            self._decide(session, request, "reject", changes, reason)

    def close_duplicate(self, request_id: int, original_id: int, *, expected_version: int) -> str:
        """Close a second request for an appointment already linked to ``original_id``: it
        becomes rejected with the reason ``Duplicate of REQ-…`` (no message goes to the
        patient; the earlier request keeps the link and its email). Refused when the
        original is no longer linked. Returns the reason."""
        with self._deciding(request_id, expected_version) as (session, request):
            original = session.get(OnlineRequest, original_id)
            if (
                original is None
                or original.id == request.id
                or original.state != RequestState.LINKED.value
                or original.linked_appointment_id is None
            ):
                raise InvalidDecision(
                    "The earlier request is no longer linked: look at this one again. "
                    "Nothing was changed."
                )
            appointment = session.get(Appointment, original.linked_appointment_id)
            reason = f"Duplicate of {original.external_id}"
            when = format_local(appointment.start, self.tz) if appointment else "-"
            detail = (
                f"closed as a duplicate of {original.external_id} (linked to appointment "
                f"{appointment.pms_id if appointment else '?'} on {when} by "
                f"{original.decided_by or 'someone'} at "
                f"{format_local(original.decided_at, self.tz)}); no message to the patient"
            )
            changes = {
                "state": RequestState.REJECTED.value,
                "reject_reason": reason,
                "attention": "",
            }
            self._decide(session, request, "reject", changes, detail)
            return reason

    def reopen(self, request_id: int, *, expected_version: int) -> ReopenResult:
        """Put a linked or rejected request back to pending.

        Confirmation emails still queued for it are cancelled (withdrawn); sent ones stay
        sent; one being sent at this moment cannot be withdrawn (the server may already
        have it): the result and the audit trail say so.
        """
        with self._deciding(request_id, expected_version, must_be_open=False) as (
            session,
            request,
        ):
            if RequestState(request.state).open:
                raise InvalidDecision("This request is still open: there is nothing to reopen.")
            queued = session.exec(
                select(EmailOutbox).where(
                    EmailOutbox.request_id == request_id,
                    EmailOutbox.status == OutboxStatus.QUEUED.value,
                )
            ).all()
            for email in queued:
                email.status = OutboxStatus.CANCELLED
                email.last_error = "request reopened before sending"
                session.add(email)
            sending = session.exec(
                select(EmailOutbox.to_address).where(
                    EmailOutbox.request_id == request_id,
                    EmailOutbox.status == OutboxStatus.SENDING.value,
                )
            ).all()
            changes = {
                "state": RequestState.PENDING.value,
                "linked_appointment_id": None,
                "reject_reason": "",
                "attention": "",
            }
            detail = f"reopened; {len(queued)} queued email(s) withdrawn" if queued else "reopened"
            for address in sending:
                detail += f"; the email to {address} was being sent: not withdrawn"
            self._decide(session, request, "reopen", changes, detail)
            return ReopenResult(len(queued), tuple(sending))

    def dismiss_attention(self, request_id: int, *, expected_version: int) -> int:
        """Staff have seen the request's attention flag: clear it (audited). Returns the
        request's new version."""
        with self._deciding(request_id, expected_version, must_be_open=False) as (
            session,
            request,
        ):
            if not request.attention:
                raise InvalidDecision("This request has nothing to look at. Nothing was changed.")
            self._decide(session, request, "attention_seen", {"attention": ""}, request.attention)
            return request.version

    # ----------------------------------------------------------------- helpers
    @contextmanager
    def _deciding(
        self, request_id: int, expected_version: int, *, must_be_open: bool = True
    ) -> Iterator[tuple[Session, OnlineRequest]]:
        """The decision skeleton's start, in one write transaction: read the request, make
        sure nobody changed it since it was shown (and, for most decisions, that it is
        still open). The caller checks the rest, then calls :meth:`_decide`."""
        with write_session(self.engine) as session:
            request = self._current(session, request_id, expected_version)
            if must_be_open and not RequestState(request.state).open:
                raise InvalidDecision(self._already_decided(request))
            yield session, request

    def _current(self, session: Session, request_id: int, expected_version: int) -> OnlineRequest:
        request = read_request(session, request_id)
        if request is None:
            raise RequestNotFound("This request no longer exists. Nothing was changed.")
        if request.version != expected_version:
            raise StaleRequest(self._changed_meanwhile(request))
        return request

    def _decide(
        self,
        session: Session,
        request: OnlineRequest,
        action: str,
        changes: dict[str, Any],
        detail: str,
    ) -> None:
        """The skeleton's end: snapshot, apply on the version read, version + 1, audit
        (:func:`linker_tui.workflow.trail.decide`); another desk was quicker: StaleRequest."""
        shown = request.version
        assert request.id is not None
        if not decide(session, request, action, changes, detail, self.actor, self.clock):
            self._current(session, request.id, shown)  # raises, saying who and when
            raise StaleRequest("This request was changed meanwhile. Nothing was changed.")

    def _changed_meanwhile(self, request: OnlineRequest) -> str:
        state = RequestState(request.state)
        if state.open:
            return (
                f"This request was changed meanwhile (it is now {state.label.lower()}). "
                "Nothing was changed; please look at it again."
            )
        return self._already_decided(request)

    def _staff_choice(
        self, session: Session, request: OnlineRequest, patient_id: int | None
    ) -> str:
        """The audit detail's start for a patient chosen in the flow ("" when none)."""
        if patient_id is None:
            return ""
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise InvalidDecision("This patient no longer exists. Nothing was changed.")
        scored = score_records(
            session, typed_identity(request), [patient_record(patient)], self.phone_region
        ).candidates
        evidence = f" ({scored[0].summary()})" if scored else ""
        return f"patient {patient.pms_id} {patient.display_name} chosen{evidence}; "

    def _check_bookable(
        self,
        session: Session,
        request: OnlineRequest,
        appointment: Appointment,
        chosen_patient_id: int | None = None,
    ) -> None:
        status = AppointmentStatus(appointment.status)
        when = format_local(appointment.start, self.tz)
        if not status.bookable:
            raise AppointmentUnavailable(
                f"The appointment on {when} is now {status.value} in the PMS. Nothing was changed."
            )
        if appointment.start < self.start_of_today():
            raise AppointmentUnavailable(
                f"The appointment on {when} is in the past. Nothing was changed."
            )
        patient_id = chosen_patient_id or request.patient_id
        if patient_id is None:
            patient_id = find_patient(session, request, self.phone_region).patient_id
        if patient_id != appointment.patient_id:
            raise AppointmentUnavailable(
                f"The appointment on {when} belongs to another patient. Nothing was changed."
            )
        taken = session.exec(
            select(OnlineRequest).where(
                OnlineRequest.linked_appointment_id == appointment.id,
                OnlineRequest.id != request.id,
            )
        ).first()
        if taken is not None:
            raise AppointmentUnavailable(
                f"The appointment on {when} is already linked to request {taken.external_id} "
                f"by {taken.decided_by or 'someone'} at {format_local(taken.decided_at, self.tz)}. "
                "Nothing was changed."
            )

    def _taken_meanwhile(self, appointment_id: int) -> str:
        """The message when another workstation linked the appointment at the same moment
        (the UNIQUE constraint on ``linked_appointment_id`` refused ours)."""
        with read_session(self.engine) as session:
            taken = session.exec(
                select(OnlineRequest).where(OnlineRequest.linked_appointment_id == appointment_id)
            ).first()
        if taken is None:
            return "That appointment was linked to another request meanwhile. Nothing was changed."
        return (
            f"That appointment was linked to request {taken.external_id} meanwhile, by "
            f"{taken.decided_by or 'someone'} at {format_local(taken.decided_at, self.tz)}. "
            "Nothing was changed."
        )
