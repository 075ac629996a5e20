"""Every built message is read back before it is queued and again before it is sent:
headers intact, exactly one To, nothing smuggled. Names the header folding cannot carry
go to the bare address; values that must never be sent are refused when staff link."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy.engine import Engine

from linker_tui.clock import FixedClock
from linker_tui.workflow import audit_trail
from tests.builders import NOW
from tests.mail_support import link_with_email, linked_email, make_relay, smtp_server

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
    (to,) = parsed.get_all("To")
    (address,) = to.addresses
    assert address.addr_spec == "pat@example.com"
    assert address.display_name in (f"{first} {last}", "")  # kept, or left out if unsafe
    if first == "Jo":
        assert address.display_name == "Jo O'Brien-Smith"
    assert str(parsed["Subject"]).startswith("Your appointment at Maple Grove Dental")
    assert len(parsed.get_all("Subject")) == 1 and parsed["Message-ID"]
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
