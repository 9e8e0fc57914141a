"""Email messages: built from templates, handed to the SMTP server (or, without one, written
as .eml files into the outbox folder), and what a failure to hand one over means.

Both kinds of email Tether sends go through here: notifications (`email`) and invitations
(`invitation_email`). Each decides for itself when to try again."""

import asyncio
import os
import uuid
from collections.abc import Sequence
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tether.config import Settings
from tether.db import utcnow

OUTBOX_FOLDER = "outbox"
_MESSAGE_IDS = uuid.UUID("6d1b3c52-0f0e-4a59-9a52-3f7d1b6c2e10")

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def message_id(ids: Sequence[object], settings: Settings) -> str:
    """The same rows always make the same Message-ID, so a resend can be told for what it is."""
    key = uuid.uuid5(_MESSAGE_IDS, ",".join(sorted(str(i) for i in ids))).hex
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "tether.localhost"
    return f"<{key}@{domain}>"


def compose(
    *,
    template: str,
    context: dict[str, object],
    subject: str,
    to: tuple[str, str],
    key: Sequence[object],
    settings: Settings,
) -> Message:
    """An email from `<template>.txt` and `<template>.html`, its Message-ID made from `key`."""
    # Names come from providers and people: no line break may reach a header.
    # MIMEMultipart and MIMEText (compat32) build the same message as EmailMessage with the
    # default policy (same headers and parts once parsed) in a fraction of the time.
    message = MIMEMultipart("alternative")
    message["Subject"] = _header(_one_line(subject))  # type: ignore[assignment]
    message["From"] = formataddr(parseaddr(settings.smtp_from), charset="utf-8")
    message["To"] = formataddr((_one_line(to[0]), to[1]), charset="utf-8")
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(key, settings)
    # RFC 3834: no vacation replies to a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.attach(_text(_templates.get_template(f"{template}.txt").render(context), "plain"))
    message.attach(_text(_templates.get_template(f"{template}.html").render(context), "html"))
    return message


_UTF8_8BIT = Charset("utf-8")
_UTF8_8BIT.body_encoding = None  # type: ignore[assignment]  # None: 8bit
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
# RFC 5322: at most 998 characters a line; longer lines go quoted-printable.
_LINE_LIMIT = 998


def _text(body: str, subtype: str) -> Message:
    """A text part: 7bit when it can be, else 8bit UTF-8, quoted-printable if a line is long."""
    if not body.endswith("\n"):
        body += "\n"  # as EmailMessage.set_content does
    longest = max((len(line.encode()) for line in body.splitlines()), default=0)
    if body.isascii() and longest <= _LINE_LIMIT:
        return MIMEText(body, subtype, "us-ascii")
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_8BIT if longest <= _LINE_LIMIT else _UTF8_QP)
    return part


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def deliver(message: Message, recipient: str, settings: Settings) -> None:
    """Hand the message to the SMTP server, or without one write it into the outbox folder."""
    mailer = Mailer(settings)
    try:
        await mailer.deliver(message, recipient)
    finally:
        await mailer.close()


class Mailer:
    """One SMTP connection for a run of messages, opened when first needed.

    A message that fails drops the connection (its state is unknown) and fails as before; the
    next message opens a fresh one. Nothing is resent here: retries stay the outbox's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def deliver(self, message: Message, recipient: str) -> None:
        settings = self.settings
        if not settings.smtp_host:
            await asyncio.to_thread(_write_eml, message, settings.data_dir / OUTBOX_FOLDER)
            return
        try:
            if self._smtp is None or not self._smtp.is_connected:
                self._smtp = aiosmtplib.SMTP(
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username or None,
                    password=settings.smtp_password or None,
                    use_tls=settings.smtp_tls == "tls",
                    start_tls=settings.smtp_tls == "starttls",
                    timeout=settings.smtp_timeout_seconds,
                )
                await self._smtp.connect()
            await self._smtp.send_message(
                message, sender=parseaddr(settings.smtp_from)[1], recipients=[recipient]
            )
        except Exception:
            self._drop()
            raise

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except Exception:  # the messages are sent; a failed goodbye changes nothing
                smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _write_eml(message: Message, folder: Path) -> None:
    """Write `<message id>.eml` whole or not at all; writing it again replaces it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = str(message["Message-ID"]).strip("<>").partition("@")[0]
    path = folder / f"{name}.eml"
    partial = folder / f".{name}.eml.partial"
    partial.write_bytes(bytes(message))
    os.replace(partial, path)


# A refusal of the recipient or of the message itself: sending the same again cannot help.
_REFUSED_FOR_GOOD = (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)


def classify(error: Exception, settings: Settings) -> tuple[bool, str]:
    """Whether the failure is permanent, and the reason as stored and logged.

    A server's answer is kept as its code and text (e.g. "550 5.1.1 No such user"); 4xx
    answers, refusals of the sender or of the login, and lost connections are passing."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        permanent = isinstance(error, _REFUSED_FOR_GOOD) and 500 <= error.code < 600
        return permanent, _redacted(f"{error.code} {_one_line(error.message)}", settings)[:200]
    return False, _describe(error, settings)


def _describe(error: Exception, settings: Settings) -> str:
    """The error as stored and logged: its kind and message, never a credential."""
    return _redacted(f"{type(error).__name__}: {error}", settings)[:500]


def _redacted(text: str, settings: Settings) -> str:
    if settings.smtp_password:
        text = text.replace(settings.smtp_password, "***")
    return text
