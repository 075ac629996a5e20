"""Read an online booking request: a FHIR R4 ``Appointment`` with status ``proposed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


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


def _aware(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise RequestFormatError(f"{field} is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestFormatError(f"{field} is not an ISO 8601 date-time: {value!r}") from exc
    if moment.tzinfo is None:
        raise RequestFormatError(f"{field} has no UTC offset: {value!r}")
    return moment


def _text(concepts: Any) -> str:
    """The first ``text`` (or coding display) of a list of CodeableConcepts."""
    for concept in concepts or []:
        if isinstance(concept, dict):
            if concept.get("text"):
                return str(concept["text"])
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and coding.get("display"):
                    return str(coding["display"])
    return ""


def _contained_patient(resource: dict[str, Any]) -> dict[str, Any]:
    refs = [
        str((p.get("actor") or {}).get("reference", ""))
        for p in resource.get("participant") or []
        if isinstance(p, dict)
    ]
    for item in resource.get("contained") or []:
        is_patient = isinstance(item, dict) and item.get("resourceType") == "Patient"
        if is_patient and (not refs or f"#{item.get('id', '')}" in refs):
            return item
    raise RequestFormatError("no contained Patient with the identity the person typed")


def _practitioner_id(resource: dict[str, Any]) -> str:
    for participant in resource.get("participant") or []:
        reference = str(((participant or {}).get("actor") or {}).get("reference", ""))
        if reference.startswith("Practitioner/"):
            return reference.removeprefix("Practitioner/")
    return ""


def parse_request(resource: Any) -> ParsedRequest:
    """Turn a decoded FHIR JSON object into a :class:`ParsedRequest`, or say what is wrong."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise RequestFormatError("not a FHIR Appointment resource")
    if resource.get("status") != "proposed":
        raise RequestFormatError(f"status is {resource.get('status')!r}, expected 'proposed'")
    external_id = str(resource.get("id") or "").strip()
    if not external_id:
        raise RequestFormatError("the request has no id")
    periods = resource.get("requestedPeriod") or []
    if not periods or not isinstance(periods[0], dict):
        raise RequestFormatError("requestedPeriod is missing")
    start = _aware(periods[0].get("start"), "requestedPeriod.start")
    end = _aware(periods[0]["end"], "requestedPeriod.end") if periods[0].get("end") else None
    patient = _contained_patient(resource)
    names = patient.get("name") or [{}]
    name = names[0] if isinstance(names[0], dict) else {}
    given = " ".join(str(g) for g in name.get("given") or [])
    birthdate = None
    if patient.get("birthDate"):
        try:
            birthdate = date.fromisoformat(str(patient["birthDate"]))
        except ValueError as exc:
            raise RequestFormatError(f"birthDate is not a date: {patient['birthDate']!r}") from exc
    telecom = [t for t in patient.get("telecom") or [] if isinstance(t, dict)]
    return ParsedRequest(
        external_id=external_id,
        received_at=_aware(resource.get("created"), "created"),
        requested_start=start,
        requested_end=end,
        practitioner_pms_id=_practitioner_id(resource),
        reason=_text(resource.get("reasonCode")) or _text(resource.get("serviceType")),
        note=str(resource.get("comment") or ""),
        first_name=given,
        last_name=str(name.get("family") or ""),
        birthdate=birthdate,
        email=next((str(t.get("value", "")) for t in telecom if t.get("system") == "email"), ""),
        phone=next((str(t.get("value", "")) for t in telecom if t.get("system") == "phone"), ""),
    )
