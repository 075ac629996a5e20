"""An outbox email as the patient sees it: built by the same code that sends it
(:func:`linker_tui.mail.message.build_message`, which reads nothing but the row and
writes nothing), then read back from its bytes the way a mail program does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from pathlib import Path

from sqlalchemy.engine import Engine

from linker_tui.mail.message import InvalidHeader, build_message, needs_smtputf8
from linker_tui.mail.transport import eml_path
from linker_tui.store.db import read_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox

HEADERS = ("From", "To", "Subject", "Date")


@dataclass(frozen=True)
class EmailPreview:
    """What the patient's mail program shows: the headers, the text, the attachments."""

    outbox_id: int
    headers: tuple[tuple[str, str], ...]
    body: str
    attachments: tuple[str, ...] = ()
    problem: str = ""
    """Why the message cannot be built (it would fail when sent); the stored subject and
    text are shown instead."""
    file: Path | None = None
    """The ``.eml`` file the file backend wrote (or will write) for it."""


def email_preview(
    engine: Engine,
    outbox_id: int,
    *,
    sender: str,
    sender_name: str,
    now: datetime,
    outbox_dir: Path | None = None,
) -> EmailPreview:
    """The email of outbox row ``outbox_id`` as it was (sent) or will be sent; raises
    LookupError when the row is gone. ``outbox_dir``: the file backend's folder, for the
    ``.eml`` file's path."""
    with read_session(engine) as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None:
            raise LookupError(f"email {outbox_id} no longer exists")
        session.expunge(row)
    sent = row.status == OutboxStatus.SENT.value and row.sent_at is not None
    when = row.sent_at if sent and row.sent_at is not None else now
    file = eml_path(outbox_dir, row.message_id) if outbox_dir and row.message_id else None
    try:
        message = build_message(row, sender, sender_name, when)
    except InvalidHeader as exc:
        return EmailPreview(
            outbox_id,
            (("To", row.to_address), ("Subject", row.subject)),
            row.body_text,
            problem=str(exc),
            file=file,
        )
    return _read(outbox_id, message, file)


def _read(outbox_id: int, message: EmailMessage, file: Path | None) -> EmailPreview:
    """Parse the message back from its bytes and take what a mail program shows."""
    raw = message.as_bytes()
    if needs_smtputf8(message):  # RFC 6532: the headers are UTF-8 text
        parsed = Parser(policy=policy.default).parsestr(raw.decode("utf-8"))
    else:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    headers = tuple((name, str(parsed[name])) for name in HEADERS if parsed[name] is not None)
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    attachments = tuple(
        f"{a.get_filename() or 'attachment'} ({a.get_content_type()})"
        for a in parsed.iter_attachments()
        if isinstance(a, EmailMessage)
    )
    return EmailPreview(outbox_id, headers, body, attachments, file=file)
