"""Build the MIME message for an outbox row, with every header value checked first.

Python before 3.11.10 folds a header value holding an RFC 2047 encoded-word in a way that
can smuggle a new header line (CVE-2024-6923), and any CR/LF in a value is an injection
attempt. Names and addresses come from the PMS and from patients, so values are checked
here and a bad one fails that one message (permanently) with a clear reason.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from email import policy
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.utils import format_datetime

from linker_tui.mail.compose import practice_domain
from linker_tui.store.models import EmailOutbox

_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?", re.ASCII)
_ADDR_SPEC = re.compile(r"^[^@\s\"(),:;<>\[\]\\]+@[^@\s\"(),:;<>\[\]\\]+\.[^@\s\"(),:;<>\[\]\\.]+$")
# RFC 5322 dot-atom text, and any non-ASCII character (RFC 6531, SMTPUTF8)
_LOCAL_PART = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+)*$"
)
_ASCII_DOMAIN = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
UTF8_POLICY = policy.default.clone(utf8=True)
"""Headers in UTF-8 (RFC 6532): for an address with non-ASCII characters before the @,
which only a server offering SMTPUTF8 takes."""


class InvalidHeader(ValueError):
    """A header value or address that must not be sent; the message is for staff."""


def check_header_value(field: str, value: str) -> str:
    """Refuse CR, LF and other control characters, and raw RFC 2047 encoded-words."""
    for char in value:
        if char in "\r\n":
            raise InvalidHeader(f"{field} contains a line break (header injection refused)")
        if unicodedata.category(char) == "Cc" and char != "\t":
            raise InvalidHeader(f"{field} contains a control character (U+{ord(char):04X})")
    if _ENCODED_WORD.search(value) or ("=?" in value and "?=" in value):
        raise InvalidHeader(f"{field} contains an encoded-word (=?...?=), refused")
    return value


def make_address(field: str, display_name: str, addr_spec: str) -> Address:
    """A checked ``Address`` (``email.headerregistry``); raises InvalidHeader if unusable.

    An internationalised domain (``zoë@exämple.ca``) is written in its ASCII form (IDNA,
    ``xn--exmple-cua.ca``), which every server takes; non-ASCII characters before the @
    stay (the message then needs a server offering SMTPUTF8: :func:`needs_smtputf8`)."""
    name = check_header_value(f"{field} name", display_name.strip())
    spec = check_header_value(f"{field} address", addr_spec.strip())
    invalid = f"{field} address {spec!r} is not a valid email address"
    if not _ADDR_SPEC.match(spec):
        raise InvalidHeader(invalid)
    local, _, domain = spec.rpartition("@")
    if not _LOCAL_PART.match(local):
        raise InvalidHeader(invalid)
    try:
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidHeader(
            f"{field} address {spec!r}: its domain has no ASCII form (IDNA: {exc})"
        ) from exc
    if not _ASCII_DOMAIN.match(domain):
        raise InvalidHeader(invalid)
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidHeader(invalid) from exc


def needs_smtputf8(message: EmailMessage) -> bool:
    """Whether an address of ``message`` has non-ASCII characters before the @."""
    return not all(
        address.username.isascii() for name in ("From", "To") for address in message[name].addresses
    )


def new_message_id(sender: str) -> str:
    """A fresh, globally unique Message-ID in the practice's domain (kept short, so the
    header is not folded)."""
    return f"<{uuid.uuid4().hex}@{practice_domain(sender)}>"


def build_message(row: EmailOutbox, sender: str, sender_name: str, now: datetime) -> EmailMessage:
    """The email for an outbox row: text (+ HTML) body, the ``.ics``, its stable Message-ID.

    Every message is read back from its bytes before it is used (:func:`read_back`). A
    display name the header folding cannot carry (Python 3.11 folds a word longer than a
    line, e.g. a 79-letter name, with an empty line inside ``To:``, so the headers after
    it become body text) is left out: the message goes to the bare address. Raises
    InvalidHeader for a value that must not go into a header, or a message that still does
    not read back intact.
    """
    problem = ""
    for from_name, to_name in ((sender_name, row.to_name), (sender_name, ""), ("", "")):
        message = _assemble(row, sender, from_name, to_name, now)
        problem = read_back(message)
        if not problem:
            return message
    raise InvalidHeader(f"the message does not read back intact: {problem}")


def read_back(message: EmailMessage) -> str:
    """Parse ``message`` back from its bytes; what is wrong ("" when nothing): every header
    there and no other, exactly one ``To`` with one address, From, To, Subject and
    Message-ID as built, and no defects."""
    utf8 = needs_smtputf8(message)
    raw = message.as_bytes()
    if utf8:  # RFC 6532: the headers are UTF-8 text
        parsed = Parser(policy=policy.default).parsestr(raw.decode("utf-8"))
    else:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
    if [k.lower() for k in parsed] != [k.lower() for k in message]:
        return f"headers {list(message.keys())} came back as {list(parsed.keys())}"
    for name in ("From", "To"):
        values = parsed.get_all(name) or []
        if len(values) != 1 or len(values[0].addresses) != 1:
            return f"{name} does not hold exactly one address"
        got, want = values[0].addresses[0], message[name].addresses[0]
        if (got.addr_spec, got.display_name) != (want.addr_spec, want.display_name):
            return f"{name} came back as {str(values[0])!r}"
    for name in ("Subject", "Message-ID"):  # folding may move the value to the next line
        if str(parsed[name]).split() != str(message[name]).split():
            return f"{name} came back as {str(parsed[name])!r}"
    defects = list(parsed.defects) + [d for k in parsed for d in parsed[k].defects]
    if utf8:  # non-ASCII before the @ is what SMTPUTF8 is for
        defects = [d for d in defects if not isinstance(d, NonASCIILocalPartDefect)]
    return f"defects {defects}" if defects else ""


def _assemble(
    row: EmailOutbox, sender: str, sender_name: str, to_name: str, now: datetime
) -> EmailMessage:
    sent_by = make_address("From", sender_name, sender)
    sent_to = make_address("To", to_name, row.to_address)
    ascii_only = sent_by.username.isascii() and sent_to.username.isascii()
    message = EmailMessage(policy=policy.default if ascii_only else UTF8_POLICY)
    message["From"] = sent_by
    message["To"] = sent_to
    message["Subject"] = check_header_value("Subject", row.subject)
    message["Date"] = format_datetime(now)
    message_id = check_header_value("Message-ID", row.message_id or new_message_id(sender))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    if row.ics:
        # bytes keep the iCalendar CRLFs exactly as written (base64 on the wire)
        message.add_attachment(
            row.ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename="appointment.ics",
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    return message
