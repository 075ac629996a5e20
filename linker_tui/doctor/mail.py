"""``doctor``'s mail section: the sender, and the SMTP server (connect, EHLO, STARTTLS,
login; it quits without sending), or a warning that mail only goes to files."""

from __future__ import annotations

import smtplib
import ssl

from linker_tui.doctor.report import Report, first_line
from linker_tui.settings.config import Settings

_HINTS = {
    "connect": "is the SMTP server up, and smtp_host / smtp_port right? a firewall?",
    "STARTTLS": "does the server offer STARTTLS on this port? (smtp_security)",
    "login": "check smtp_username and the password (LINKER_SMTP_PASSWORD or smtp_password_file)",
}


def check_mail(report: Report, settings: Settings) -> None:
    """The sender address, then the backend."""
    if settings.practice_email.endswith(".invalid"):
        report.warn("sender", f"{settings.practice_email}", "set practice_email")
    else:
        report.ok("sender", settings.practice_email)
    if settings.mail_backend == "file":
        report.warn(
            "backend",
            f"mail is not sent: mail_backend = file, emails are written to "
            f"{settings.effective_outbox_dir}",
            'set mail_backend = "smtp" and the smtp_* settings to send them',
        )
        return
    try:
        password = settings.smtp_secret()
    except (OSError, ValueError) as exc:
        report.fail("password", str(exc))
        return
    _smtp(report, settings, password.get_secret_value() if password else "")


def _smtp(report: Report, settings: Settings, password: str) -> None:
    """Each step of an SMTP session up to the login; the first that fails is the finding."""
    host, port = settings.smtp_host, settings.effective_smtp_port
    where = f"{host}:{port} ({settings.smtp_security})"
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    step = "connect"
    try:
        if settings.smtp_security == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=settings.smtp_timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.smtp_timeout)
        report.ok("connect", where)
        step = "EHLO"
        code, _ = client.ehlo()
        report.ok("EHLO", f"{code}")
        if settings.smtp_security == "starttls":
            step = "STARTTLS"
        _encryption(report, settings, client, context)
        if settings.smtp_username:
            step = "login"
            client.login(settings.smtp_username, password)
            report.ok("login", f"as {settings.smtp_username}")
        else:
            report.info("login", "none (smtp_username is empty)")
    except (smtplib.SMTPException, OSError) as exc:
        report.fail(step, f"{where}: {first_line(exc)}", _HINTS.get(step, ""))
    finally:
        if client is not None:
            _quit(client)


def _encryption(
    report: Report, settings: Settings, client: smtplib.SMTP, context: ssl.SSLContext
) -> None:
    """STARTTLS when asked for; a warning when the session stays in clear."""
    if settings.smtp_security == "starttls":
        client.starttls(context=context)
        client.ehlo()
        report.ok("STARTTLS", "the connection is encrypted")
    elif settings.smtp_security == "none":
        report.warn("encryption", "none: passwords and emails cross the network in clear")


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
