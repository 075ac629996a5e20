"""Read an online booking request: a FHIR R4 ``Appointment`` with status ``proposed``.

The fields linker_tui uses are validated with pydantic models of their FHIR shape
(strict: a number where text belongs, an object where a list belongs is refused), parsed
straight from the file's bytes by pydantic's JSON parser, which refuses text that is not
UTF-8, lone surrogates and nesting deeper than it can read. Every way a file can be wrong
ends as a :class:`RequestFormatError` with a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from linker_tui.common.clock import storable


class RequestFormatError(ValueError):
    """The file is not a usable FHIR appointment request; the message says why."""


@dataclass(frozen=True)
class ParsedRequest:
    """The fields of a booking request that linker_tui uses."""

    external_id: str
    received_at: datetime
    requested_start: datetime
    requested_end: datetime | None
    practitioner_pms_id: str
    reason: str
    note: str
    first_name: str
    last_name: str
    birthdate: date | None
    email: str
    phone: str


def _no_nul(value: Any) -> Any:
    """Text arrives without NUL characters (PostgreSQL refuses them in text)."""
    return value.replace("\0", "") if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_no_nul)]


class _Shape(BaseModel):
    """A FHIR element: strict types, unknown fields ignored, ``null`` allowed."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _Coding(_Shape):
    display: Text | None = None


class _Concept(_Shape):
    text: Text | None = None
    coding: list[_Coding] | None = None


class _Reference(_Shape):
    reference: Text | None = None


class _Participant(_Shape):
    actor: _Reference | None = None


class _Period(_Shape):
    start: Text | None = None
    end: Text | None = None


class _Name(_Shape):
    family: Text | None = None
    given: list[Text] | None = None


class _ContactPoint(_Shape):
    system: Text | None = None
    value: Text | None = None


class _Patient(_Shape):
    name: list[_Name] | None = None
    birthDate: Text | None = None
    telecom: list[_ContactPoint] | None = None


class _Appointment(_Shape):
    resourceType: Text | None = None
    id: Text | None = None
    status: Text | None = None
    created: Text | None = None
    requestedPeriod: list[_Period] | None = None
    participant: list[_Participant] | None = None
    contained: list[dict[str, Any]] | None = None
    reasonCode: list[_Concept] | None = None
    serviceType: list[_Concept] | None = None
    comment: Text | None = None


def _aware(value: str | None, field: str) -> datetime:
    if not value:
        raise RequestFormatError(f"{field} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RequestFormatError(f"{field} is not an ISO 8601 date-time: {value!r}") from exc
    if moment.tzinfo is None:
        raise RequestFormatError(f"{field} has no UTC offset: {value!r}")
    try:
        return storable(moment)
    except ValueError as exc:
        raise RequestFormatError(f"{field} {value!r}: {exc}") from exc


def _text(concepts: list[_Concept] | None) -> str:
    """The first ``text`` (or coding display) of a list of CodeableConcepts."""
    for concept in concepts or []:
        if concept.text:
            return concept.text
        for coding in concept.coding or []:
            if coding.display:
                return coding.display
    return ""


def _reason(error: ValidationError) -> str:
    """The first problem pydantic found, in one line."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Invalid JSON: ")
    if first["type"] == "json_invalid":
        return f"not JSON: {message}"
    return f"{where}: {message}" if where else message


def _validated(model: type[_Shape], data: bytes | dict[str, Any], what: str) -> Any:
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise RequestFormatError(f"{what}{_reason(exc)}") from None


def _contained_patient(appointment: _Appointment) -> _Patient:
    refs = [
        p.actor.reference or ""
        for p in appointment.participant or []
        if p.actor is not None and p.actor.reference
    ]
    for item in appointment.contained or []:
        if item.get("resourceType") == "Patient" and (
            not refs or f"#{_no_nul(item.get('id', ''))}" in refs
        ):
            patient: _Patient = _validated(_Patient, item, "contained Patient: ")
            return patient
    raise RequestFormatError("no contained Patient with the identity the person typed")


def _practitioner_id(appointment: _Appointment) -> str:
    for participant in appointment.participant or []:
        reference = participant.actor.reference if participant.actor else None
        if reference and reference.startswith("Practitioner/"):
            return reference.removeprefix("Practitioner/")
    return ""


def read_request(data: bytes) -> ParsedRequest:
    """Read a request file's bytes (UTF-8 JSON, a BOM allowed), or say what is wrong."""
    if not data.strip():
        raise RequestFormatError("the file is empty")
    appointment = _validated(_Appointment, data.removeprefix(b"\xef\xbb\xbf"), "")
    return _request(appointment)


def _request(appointment: _Appointment) -> ParsedRequest:
    if appointment.resourceType != "Appointment":
        raise RequestFormatError("not a FHIR Appointment resource")
    if appointment.status != "proposed":
        raise RequestFormatError(f"status is {appointment.status!r}, expected 'proposed'")
    external_id = (appointment.id or "").strip()
    if not external_id:
        raise RequestFormatError("the request has no id")
    if len(external_id) > 128:
        raise RequestFormatError("the request id is longer than 128 characters")
    periods = appointment.requestedPeriod or []
    if not periods:
        raise RequestFormatError("requestedPeriod is missing")
    start = _aware(periods[0].start, "requestedPeriod.start")
    end = _aware(periods[0].end, "requestedPeriod.end") if periods[0].end else None
    patient = _contained_patient(appointment)
    name = (patient.name or [_Name()])[0]
    birthdate = None
    if patient.birthDate:
        try:
            birthdate = date.fromisoformat(patient.birthDate)
        except ValueError as exc:
            raise RequestFormatError(f"birthDate is not a date: {patient.birthDate!r}") from exc
    telecom = patient.telecom or []
    return ParsedRequest(
        external_id=external_id,
        received_at=_aware(appointment.created, "created"),
        requested_start=start,
        requested_end=end,
        practitioner_pms_id=_practitioner_id(appointment),
        reason=_text(appointment.reasonCode) or _text(appointment.serviceType),
        note=appointment.comment or "",
        first_name=" ".join(name.given or []),
        last_name=name.family or "",
        birthdate=birthdate,
        email=next((t.value or "" for t in telecom if t.system == "email"), ""),
        phone=next((t.value or "" for t in telecom if t.system == "phone"), ""),
    )
