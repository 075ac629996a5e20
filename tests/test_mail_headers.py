"""Every built message is read back before it is queued and again before it is sent:
headers intact, exactly one To, nothing smuggled. Names the header folding cannot carry
go to the bare address; values that must never be sent are refused when staff link."""

from __future__ import annotations

import asyncio
import threading
from email import policy
from email.parser import BytesParser, Parser

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import Engine

from linker_tui.common.clock import FixedClock
from linker_tui.mail.report import Outcome, RelayReport
from linker_tui.read.views import ReopenResult
from linker_tui.workflow.trail import audit_trail
from tests.builders import NOW
from tests.mail_support import (
    ScriptedHandler,
    link_with_email,
    linked_email,
    make_relay,
    practice_workflow,
    smtp_server,
)

LONG = "A" * 80
"""A name longer than a header line, without a space: Python 3.11's folding wrote an empty
line inside ``To:`` and every header after it became body text."""


@pytest.mark.parametrize(
    ("first", "last"),
    [(LONG, "B" * 79), ("Zoë " * 40, "Lefèvre"), ("Ω" * 100, "Ω"), ("Jo", "O'Brien-Smith")],
    ids=["ascii-80", "zoe-x40", "omega-100", "ordinary"],
)
def test_any_name_leaves_the_headers_intact(sqlite_engine: Engine, first: str, last: str) -> None:
    oid = linked_email(sqlite_engine, first=first, last=last, address="pat@example.com")
    with smtp_server() as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert report.sent == 1, report
    (got,) = server.handler.accepted
    assert got.rcpt_tos == ["pat@example.com"]
    raw_headers, _, body = got.raw.partition(b"\r\n\r\n")
    assert b"Subject:" not in body and b"Message-ID:" not in body
    parsed = BytesParser(policy=policy.default).parsebytes(got.raw)
    (to,) = parsed.get_all("To") or []
    (address,) = to.addresses
    assert address.addr_spec == "pat@example.com"
    assert address.display_name in (f"{first} {last}", "")  # kept, or left out if unsafe
    if first == "Jo":
        assert address.display_name == "Jo O'Brien-Smith"
    assert str(parsed["Subject"]).startswith("Your appointment at Maple Grove Dental")
    assert len(parsed.get_all("Subject") or []) == 1 and parsed["Message-ID"]
    assert parsed.get_body(("plain",)) is not None
    for line in raw_headers.split(b"\r\n"):
        assert line.strip(), "an empty line inside the headers"
    assert oid


@pytest.mark.parametrize(
    ("first", "address", "why"),
    [
        ("Eve\r\nBcc: x@evil.example", "eve@example.com", "To name contains a line break"),
        ("=?utf-8?q?Bcc=3A_x=40evil.example?=", "eve@example.com", "encoded-word"),
        ("Al", "al@@example", "To address 'al@@example' is not a valid email address"),
    ],
)
def test_a_message_that_cannot_be_sent_is_refused_when_staff_link(
    sqlite_engine: Engine, first: str, address: str, why: str
) -> None:
    """The link goes ahead; the email is not queued, and staff and the audit trail say why."""
    result = link_with_email(sqlite_engine, first=first, last="Smith", address=address)
    assert result.outbox_id is None
    assert why in result.email_refused
    (event,) = audit_trail(sqlite_engine, result.request_id)
    assert event.action == "link"
    assert f"; no confirmation email: {result.email_refused}" in event.detail


class SlowHandler(ScriptedHandler):
    """Holds the DATA reply until told (an email "being sent" for as long as a test needs)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_data = threading.Event()
        self.reply = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_data.set()
        await asyncio.to_thread(self.reply.wait, 10)
        return await super().handle_DATA(server, session, envelope)


def test_reopening_while_the_email_is_being_sent_says_so(sqlite_engine: Engine) -> None:
    """The server already has the message: it cannot be withdrawn, and reopen says so
    plainly (never "0 withdrawn" while it goes out)."""
    result = link_with_email(sqlite_engine, address="pat@example.com")
    handler = SlowHandler()
    with smtp_server(handler) as server:
        relay = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW))
        reports: list[RelayReport] = []
        sender = threading.Thread(target=lambda: reports.append(relay.run_once()))
        sender.start()
        assert handler.in_data.wait(10)
        desk = practice_workflow(sqlite_engine)  # staff reopen it meanwhile
        reopened = desk.reopen(result.request_id, expected_version=2)
        handler.reply.set()
        sender.join(10)
    assert reopened == ReopenResult(withdrawn=0, being_sent=("pat@example.com",))
    (event,) = [e for e in audit_trail(sqlite_engine, result.request_id) if e.action == "reopen"]
    assert event.detail == "reopened; the email to pat@example.com was being sent: not withdrawn"
    assert reports[0].sent == 1 and len(handler.accepted) == 1  # it did go out


def test_reopening_before_the_send_withdraws_it(sqlite_engine: Engine) -> None:
    result = link_with_email(sqlite_engine, address="pat@example.com")
    reopened = practice_workflow(sqlite_engine).reopen(result.request_id, expected_version=2)
    assert reopened == ReopenResult(withdrawn=1)
    with smtp_server() as server:
        assert make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once().sent == 0
    assert server.handler.accepted == []


def test_an_internationalised_domain_goes_out_in_its_ascii_form(sqlite_engine: Engine) -> None:
    linked_email(sqlite_engine, address="zoe@exämple.ca")
    with smtp_server(enable_SMTPUTF8=False) as server:  # no SMTPUTF8 needed
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert report.sent == 1
    (got,) = server.handler.accepted
    assert got.rcpt_tos == ["zoe@xn--exmple-cua.ca"]


def test_non_ascii_before_the_at_goes_to_a_server_offering_smtputf8(sqlite_engine: Engine) -> None:
    linked_email(sqlite_engine, address="zoë@exämple.ca")
    with smtp_server(enable_SMTPUTF8=True) as server:  # aiosmtpd's Controller default
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert report.sent == 1, report
    (got,) = server.handler.accepted
    assert got.rcpt_tos == ["zoë@xn--exmple-cua.ca"]
    parsed = Parser(policy=policy.default).parsestr(got.raw.decode("utf-8"))
    (address,) = parsed["To"].addresses
    assert (address.display_name, address.addr_spec) == ("Zoë Lefèvre", "zoë@xn--exmple-cua.ca")


def test_a_server_without_smtputf8_is_a_clear_permanent_failure(sqlite_engine: Engine) -> None:
    oid = linked_email(sqlite_engine, address="zoë@example.ca")
    other = linked_email(sqlite_engine, first="Bill", address="bill@example.com")
    with smtp_server(enable_SMTPUTF8=False) as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert (report.sent, report.failed) == (1, 1)
    (failed,) = (r for r in report.results if r.outcome is Outcome.FAILED)
    assert failed.outbox_id == oid and other != oid
    assert failed.reason == (
        "the address Zoë Lefèvre <zoë@example.ca> has non-ASCII characters before the @: "
        f"it needs SMTPUTF8, which the SMTP server 127.0.0.1:{server.port} does not offer"
    )
