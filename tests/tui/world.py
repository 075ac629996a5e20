"""A small practice for the TUI tests (and a dev launcher): every Accept outcome, the
email cases, a linked request, and hostile text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.mail.report import RelayReport
from linker_tui.mail.transport import DeliveryFailure
from linker_tui.matching import name_key, patient_keys
from linker_tui.matching.patient_search import rank_unranked
from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine, read_session, write_session
from linker_tui.store.enums import AppointmentStatus
from linker_tui.store.models import (
    Appointment,
    AuditEvent,
    EmailOutbox,
    OnlineRequest,
    Patient,
    Provider,
)

# key, typed first and last name, patient key, provider key, requested start, extra fields
RequestSpec = tuple[str, str, str, str | None, str, datetime, dict[str, object]]

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
PRACTICE = "Maple [b]Grove[/b] Dental"
HOSTILE_FIRST = "[@click=app.quit]x[/]"
HOSTILE_LAST = "\x1b[31mred[/]"
FAMILY_PHONE = "416-555-0101"
HOSTILE_NOTE = "[b]not bold[/b] \x1b]0;title\x07 [/] end"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at the practice in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@dataclass
class World:
    """The services and the ids the tests refer to."""

    services: Services
    tmp_path: Path
    requests: dict[str, int] = field(default_factory=dict)
    appointments: dict[str, int] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    providers: dict[str, int] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.services.engine

    def request(self, key: str) -> OnlineRequest:
        with read_session(self.engine) as s:
            request = s.get(OnlineRequest, self.requests[key])
            assert request is not None
            return request

    def outbox(self, key: str) -> list[EmailOutbox]:
        with read_session(self.engine) as s:
            query = select(EmailOutbox).where(EmailOutbox.request_id == self.requests[key])
            return list(s.exec(query.order_by(col(EmailOutbox.id))).all())

    def audit(self, key: str) -> list[AuditEvent]:
        with read_session(self.engine) as s:
            query = select(AuditEvent).where(AuditEvent.request_id == self.requests[key])
            return list(s.exec(query.order_by(col(AuditEvent.id))).all())

    def add_appointment(
        self, name: str, patient: str, provider: str | None, start: datetime, **extra: object
    ) -> int:
        with write_session(self.engine) as s:
            appointment = Appointment(
                pms_id=name,
                patient_id=self.patients[patient],
                provider_id=self.providers[provider] if provider else None,
                start=start,
                duration_min=int(extra.get("duration", 60)),  # type: ignore[call-overload]
                operatory=str(extra.get("operatory", "OP1")),
                reason=str(extra.get("reason", "Cleaning")),
                status=AppointmentStatus(str(extra.get("status", "scheduled"))),
            )
            s.add(appointment)
            s.flush()
            assert appointment.id is not None
            self.appointments[name] = appointment.id
            return appointment.id


def dump(engine: Engine) -> list[tuple[object, ...]]:
    """online_request + audit_event + email_outbox, to compare before and after."""
    with read_session(engine) as s:
        rows: list[tuple[object, ...]] = []
        for model in (OnlineRequest, AuditEvent, EmailOutbox):
            for row in s.exec(select(model).order_by(col(model.id))).all():
                rows.append((model.__name__, *sorted(row.model_dump().items())))
        return rows


def build_world(
    tmp_path: Path,
    *,
    practice: str = PRACTICE,
    engine: Engine | None = None,
    demo: bool = True,
    **more: object,
) -> World:
    """Create the database in ``tmp_path`` (or on ``engine``) and return its services
    (``more``: settings). ``demo``: a practice whose emails go to files on purpose (the
    status line does not say that mail is not sent).

    Syncs run in the app's threads unless ``sync_in_subprocess=True`` is given: a child
    process would record its runs at the real time, not at the world's fixed clock."""
    more.setdefault("sync_in_subprocess", False)
    settings = Settings(
        data_dir=tmp_path,
        practice_name=practice,
        practice_timezone="America/Toronto",
        keys={},
        **more,  # type: ignore[arg-type]
    )
    engine = engine or make_engine(f"sqlite:///{tmp_path / 'linker.db'}")
    services = Services.open(
        settings,
        clock=FixedClock(NOW),
        actor=Actor("tester", "desk-1"),
        engine=engine,
        demo=demo,
    )
    world = World(services=services, tmp_path=tmp_path)

    with write_session(engine) as s:
        for key, pms_id, title, first, last in (
            ("chen", "DOC1", "Dr.", "Amelia", "Chen"),
            ("osei", "DOC2", "Dr.", "Ben", "Osei"),
            ("hyg", "HYG1", "", "Jo", "Smith"),
            ("evil", "EVIL", "", "[bold]Mal", "[/]"),
        ):
            provider = Provider(
                pms_id=pms_id, abbr=pms_id, title=title, first_name=first, last_name=last
            )
            s.add(provider)
            s.flush()
            assert provider.id is not None
            world.providers[key] = provider.id
        for key, first, last, email, no_email in (
            ("jane", "Jane", "Exact", "jane.exact@example.com", False),
            ("bob", "Bob", "Partial", "bob.partial@example.com", False),
            ("carla", "Carla", "Several", "carla@example.com", False),
            ("dan", "Dan", "Nothing", "dan@example.com", False),
            ("olive", "Olive", "Optout", "olive@example.com", True),
            ("noah", "Noah", "Noaddress", "", False),
            ("greta", "Greta", "Linked", "greta@example.com", False),
        ):
            patient = Patient(
                pms_id=f"PAT-{key}",
                first_name=first,
                last_name=last,
                first_name_key=name_key(first),
                last_name_key=name_key(last),
                birthdate=date(1980, 1, 2),
                email=email,
                no_email=no_email,
            )
            s.add(patient)
            s.flush()
            assert patient.id is not None
            world.patients[key] = patient.id

        # A family sharing a phone: "Sam Lee" could be Samuel or Samantha (never decided).
        for key, first, last, born, email in (
            ("samuel", "Samuel", "Lee", date(1990, 3, 4), "lee.family@example.com"),
            ("samantha", "Samantha", "Lee", date(1992, 8, 9), "samantha.lee@example.com"),
            ("simon", "Simon", "Lee", date(1961, 5, 6), "lee.family@example.com"),
        ):
            keys = patient_keys(first, last, email=email, phone_mobile=FAMILY_PHONE)
            patient = Patient(
                pms_id=f"PAT-{key}",
                first_name=first,
                last_name=last,
                birthdate=born,
                email=email,
                phone_mobile=FAMILY_PHONE,
                **keys.columns(),
            )
            s.add(patient)
            s.flush()
            assert patient.id is not None
            world.patients[key] = patient.id

    appointments: tuple[tuple[str, str, str, datetime, dict[str, object]], ...] = (
        ("A-EXACT", "jane", "chen", at(12, 3, 9, 30), {}),
        ("A-BOB-1", "bob", "osei", at(12, 3, 10, 0), {"operatory": "OP2", "reason": "Checkup"}),
        ("A-BOB-2", "bob", "chen", at(12, 10, 9, 30), {}),
        ("A-CARLA-1", "carla", "chen", at(12, 2, 9, 30), {}),
        ("A-CARLA-2", "carla", "chen", at(12, 3, 14, 0), {}),
        ("A-CARLA-3", "carla", "hyg", at(12, 5, 11, 0), {"operatory": "HYG", "reason": "Hygiene"}),
        ("A-DAN-CANCELLED", "dan", "chen", at(12, 3, 9, 30), {"status": "cancelled"}),
        ("A-DAN-COMPLETED", "dan", "chen", at(11, 20, 9, 30), {"status": "completed"}),
        ("A-OLIVE", "olive", "chen", at(12, 3, 11, 0), {}),
        ("A-NOAH", "noah", "osei", at(12, 4, 8, 0), {}),
        ("A-GRETA", "greta", "chen", at(12, 7, 9, 0), {}),
        ("A-SAMANTHA", "samantha", "hyg", at(12, 11, 16, 0), {"reason": "Hygiene"}),
        ("A-SAMUEL", "samuel", "chen", at(12, 14, 8, 0), {}),
    )
    for name, patient_key, provider_key, start, extra in appointments:
        world.add_appointment(name, patient_key, provider_key, start, **extra)

    received = at(11, 26, 8, 0)
    requests: tuple[RequestSpec, ...] = (
        ("exact", "Jane", "Exact", "jane", "chen", at(12, 3, 9, 30), {}),
        ("partial", "Bob", "Partial", "bob", "chen", at(12, 3, 9, 30), {}),
        ("several", "Carla", "Several", "carla", "chen", at(12, 3, 9, 30), {}),
        ("none", "Dan", "Nothing", "dan", "chen", at(12, 3, 9, 30), {}),
        ("unknown", "Zoe", "Unknown", None, "osei", at(12, 8, 15, 0), {}),
        ("optout", "Olive", "Optout", "olive", "chen", at(12, 3, 11, 0), {}),
        ("noaddress", "Noah", "Noaddress", "noah", "osei", at(12, 4, 8, 0), {}),
        (
            "hostile",
            HOSTILE_FIRST,
            HOSTILE_LAST,
            None,
            "evil",
            at(12, 9, 10, 0),
            {"note": HOSTILE_NOTE, "reason": "[red]pain[/red]"},
        ),
        ("linked", "Greta", "Linked", "greta", "chen", at(12, 7, 9, 0), {}),
        (
            "twins",
            "Sam",
            "Lee",
            None,
            "hyg",
            at(12, 11, 16, 0),
            {"birthdate": None, "phone": FAMILY_PHONE},
        ),
    )
    for index, (key, first, last, patient_name, provider_name, start, extra) in enumerate(
        requests, start=1
    ):
        with write_session(engine) as s:
            request = OnlineRequest(
                external_id=f"REQ-{1000 + index}",
                received_at=received + timedelta(minutes=15 * index),
                typed_first_name=first,
                typed_last_name=last,
                typed_birthdate=extra.get("birthdate", date(1980, 1, 2)),  # type: ignore[arg-type]
                typed_email="",
                typed_phone=str(extra.get("phone", "")),
                requested_start=start,
                requested_provider_id=world.providers[provider_name],
                reason=str(extra.get("reason", "Cleaning")),
                note=str(extra.get("note", "")),
                patient_id=world.patients[patient_name] if patient_name else None,
            )
            s.add(request)
            s.flush()
            assert request.id is not None
            world.requests[key] = request.id

    with write_session(engine) as s:  # what a sync stores for requests never ranked
        rank_unranked(s, settings.phone_region)
    services.workflow.link(
        world.requests["linked"],
        world.appointments["A-GRETA"],
        expected_version=1,
        send_email=True,
    )
    return world


class RefusingMailer:
    """A mail server that refuses every recipient for good (SMTP 550)."""

    REASON = "550 5.1.1 <recipient>: no such user [/] \x1b[31m"

    def deliver(self, message: EmailMessage) -> None:
        raise DeliveryFailure(self.REASON, permanent=True)


def fail_outbox(world: World) -> RelayReport:
    """Run the relay once with :class:`RefusingMailer`: every due email fails for good."""
    return world.services.relay(RefusingMailer()).run_once()
