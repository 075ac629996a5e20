"""Deliver one message: to ``.eml`` files (the demo's backend) or to an SMTP server.

A mailer either returns (the message was handed over) or raises DeliveryFailure, which
says whether trying again later may help (``permanent``) and whether the problem is the
server or the connection rather than this message (``whole_run``: stop the run, the other
messages would meet the same problem).
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


class DeliveryFailure(Exception):
    """The message was not delivered; ``reason`` is meant for staff (and ``last_error``)."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        whole_run: bool = False,
        server_away: bool = False,
        code: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.whole_run = whole_run or server_away
        self.server_away = server_away
        """The server failed before any message was handed over, or said 421: not this
        message's fault (the relay pauses instead of charging it an attempt)."""
        self.code = code
        """The SMTP reply code, when there was one."""


class Mailer(Protocol):
    """Something that can deliver one message (raises DeliveryFailure when it cannot)."""

    def deliver(self, message: EmailMessage) -> None: ...


def eml_path(folder: Path, message_id: str) -> Path:
    """Where the file backend writes the message with ``message_id``: named by it, so a
    second attempt of the same email replaces the same file."""
    name = message_id.strip().strip("<>").replace("/", "_").replace("@", "_at_")
    return folder / f"{name}.eml"


class FileMailer:
    """Writes each message as an ``.eml`` file into a folder (demo and single desks)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, message: EmailMessage) -> None:
        """Write the message atomically (a temporary file, then a rename), named by its
        Message-ID so a second attempt of the same email replaces its file."""
        target = eml_path(self.folder, str(message["Message-ID"]))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(message.as_bytes())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise DeliveryFailure(
                f"cannot write to {self.folder}: {exc.strerror or exc}",
                permanent=False,
                server_away=True,
            ) from exc


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(f"{code} {text}".split())[:400]


def _by_code(code: int, what: str, reply: bytes | str) -> DeliveryFailure:
    """4xx: try again later; 5xx: permanent; 421: the server is closing (stop the run)."""
    reason = f"{what}: {_reply_text(code, reply)}"
    if 500 <= code < 600:
        return DeliveryFailure(reason, permanent=True, code=code)
    return DeliveryFailure(reason, permanent=False, server_away=code == 421, code=code)


class SmtpMailer:
    """Hands each message to an SMTP server (``smtplib``), one connection per message.

    ``security``: ``starttls`` (upgrade a plain connection, usually port 587), ``tls``
    (implicit TLS, usually 465) or ``none`` (a local relay). The password stays wrapped
    in a ``SecretStr`` until the moment of login; smtplib's debug output stays off.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "starttls",
        username: str = "",
        password: SecretStr | None = None,
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"SmtpMailer({user}{self.host}:{self.port}, {self.security})"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        """Connect, greet, secure and log in; any failure stops the whole run."""
        where = f"SMTP server {self.host}:{self.port}"
        client: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=self._context())
                client.ehlo()
            if self.username:
                secret = self._password.get_secret_value() if self._password else ""
                client.login(self.username, secret)
            return client
        except smtplib.SMTPAuthenticationError as exc:
            self._close(client)
            raise DeliveryFailure(
                f"{where} refused the login: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                permanent=False,
                server_away=True,
            ) from None  # no traceback chain that could carry the login exchange
        except smtplib.SMTPResponseException as exc:
            self._close(client)
            raise DeliveryFailure(
                f"{where}: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                permanent=False,
                server_away=True,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._close(client)
            raise DeliveryFailure(
                f"{where} unavailable: {_describe(exc)}", permanent=False, server_away=True
            ) from exc

    @staticmethod
    def _close(client: smtplib.SMTP | None) -> None:
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def deliver(self, message: EmailMessage) -> None:
        """Send one message; raises DeliveryFailure (4xx temporary, 5xx permanent)."""
        client = self._connect()
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (554, b"recipient refused"))
            raise _by_code(code, "recipient refused", reply) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(exc.smtp_code, "sender refused", exc.smtp_error) from exc
        except smtplib.SMTPDataError as exc:
            raise _by_code(exc.smtp_code, "message refused", exc.smtp_error) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, "SMTP error", exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            to = ", ".join(str(a) for a in message["To"].addresses)
            reason = f"the server cannot take this message: {exc}"
            if not to.isascii():
                reason = (
                    f"the address {to} has non-ASCII characters before the @: it needs "
                    f"SMTPUTF8, which the SMTP server {self.host}:{self.port} does not offer"
                )
            raise DeliveryFailure(reason, permanent=True) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise DeliveryFailure(
                f"connection lost while sending: {_describe(exc)}",
                permanent=False,
                whole_run=True,
            ) from exc
        except smtplib.SMTPException as exc:
            raise DeliveryFailure(f"SMTP error: {_describe(exc)}", permanent=False) from exc
        finally:
            self._close(client)  # after a successful send, a failing QUIT changes nothing


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
