"""Agent replies as MIME messages, sent with ``smtplib``; SMTP failures as typed errors."""

from __future__ import annotations

import email.policy
import email.utils
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

import attrs

from supportkit import ConfigurationError, IntegrationError, IntegrationTimeout, OutboundReply

from ._parse import _ADDRESS

__all__ = ["SmtpError", "SmtpSettings", "compose_reply", "send_message"]

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_MAX_REFERENCES = 20  # the root and the newest ids; long References headers break servers


class SmtpError(IntegrationError):
    """The SMTP server refused the message: ``code`` is its reply code, ``reply`` its text.

    A 4xx code is transient (the outbox retries later); a 5xx code is permanent
    (``permanent=True``: the outbox dead-letters the reply at once, with the server's reason).
    """

    def __init__(self, message: str, *, code: int, reply: str = "") -> None:
        super().__init__(message, permanent=500 <= code < 600)
        self.code = code
        self.reply = reply


@attrs.frozen
class SmtpSettings:
    """Where and how to send mail.

    *security* is ``"starttls"`` (upgrade a plain connection, port 587), ``"tls"`` (implicit
    TLS, port 465) or ``"none"`` (a local relay only). *username* and *password* log in when a
    username is given. *timeout* (seconds) bounds connecting and every server answer.
    *from_address* is the desk's address (``From``), shown with *from_name*; Message-IDs use
    *domain* (the from address's domain by default). *ssl_context* verifies the server
    (the system's trust store by default).
    """

    host: str
    from_address: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    from_name: str | None = None
    domain: str | None = None
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ConfigurationError(
                f"smtp security {self.security!r} must be 'starttls', 'tls' or 'none'"
            )
        if not _ADDRESS.match(self.from_address) or "\n" in self.from_address:
            raise ConfigurationError(
                f"smtp from_address {self.from_address!r} is not an address like support@acme.test"
            )
        if not self.host or not 0 < self.port < 65536 or self.timeout <= 0:
            raise ConfigurationError(
                f"smtp host {self.host!r}, port {self.port} and timeout {self.timeout} must be "
                "a host name, 1-65535 and > 0"
            )

    @property
    def message_domain(self) -> str:
        """The domain of the Message-IDs the desk's mail carries."""
        return self.domain or self.from_address.rpartition("@")[2]


def _one_line(text: str) -> str:
    """Header text on one line: CR, LF and other controls become spaces (no header injection)."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def _address(value: str | None) -> str:
    if value is None or not _ADDRESS.match(value):
        raise IntegrationError(
            f"cannot send email to {value!r}: not a single address like jane@example.com",
            permanent=True,
        )
    return value


def _references(reply: OutboundReply) -> list[str]:
    refs = [r for r in reply.references if r != reply.in_reply_to]
    if reply.in_reply_to:
        refs.append(reply.in_reply_to)  # the message answered is the newest
    refs = [r for r in (_one_line(x).replace(" ", "") for x in refs) if r and "<" not in r]
    refs = [r for r in refs if ">" not in r]
    if len(refs) > _MAX_REFERENCES:
        refs = refs[:1] + refs[-(_MAX_REFERENCES - 1) :]
    return refs


def compose_reply(
    reply: OutboundReply,
    settings: SmtpSettings,
    *,
    subject: str,
    at: datetime,
    html: str | None = None,
) -> EmailMessage:
    """The MIME message for *reply*: UTF-8 text (and *html* as an alternative, if given).

    The Message-ID is stable for the reply (built from the ticket id and ``reply.key``), so a
    retried send carries the same id. ``In-Reply-To`` names the customer's last message and
    ``References`` the ticket's known ids; ``Auto-Submitted: auto-replied`` marks automatic
    notices. An invalid recipient raises a permanent :class:`~supportkit.IntegrationError`.
    """
    recipient = _address(reply.recipient)
    local = _UNSAFE_ID.sub("-", f"{reply.ticket.id}.{reply.key}")[:200]
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = email.utils.formataddr(
        (_one_line(settings.from_name or ""), settings.from_address)
    )
    msg["To"] = recipient
    msg["Subject"] = _one_line(subject)
    msg["Date"] = email.utils.format_datetime(at)
    msg["Message-ID"] = f"<{local}@{settings.message_domain}>"
    refs = _references(reply)
    if reply.in_reply_to and reply.in_reply_to in refs:
        msg["In-Reply-To"] = f"<{refs[-1]}>"
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    if reply.automatic:
        msg["Auto-Submitted"] = "auto-replied"
    # ask Exchange not to answer with out-of-office notices (delivery reports still come)
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg.set_content(reply.body, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _refused(exc: smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused) -> SmtpError:
    text: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = list(exc.recipients.values())
        code, text = codes[0] if codes else (550, b"recipient refused")
    else:
        code, text = exc.smtp_code, exc.smtp_error
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    kind = "permanently" if 500 <= code < 600 else "for now"
    return SmtpError(
        f"SMTP server refused the message {kind}: {code} {reply}", code=code, reply=reply
    )


def send_message(
    msg: EmailMessage,
    settings: SmtpSettings,
    recipients: Sequence[str],
) -> None:
    """Send *msg* to *recipients* through the server in *settings*.

    Raises :class:`SmtpError` when the server refuses (4xx transient, 5xx permanent),
    :class:`~supportkit.IntegrationTimeout` when it does not answer in time or cannot be
    reached, and :class:`~supportkit.IntegrationError` for other failures (TLS, hang-up).
    """
    context = settings.ssl_context or ssl.create_default_context()
    where = f"{settings.host}:{settings.port}"
    try:
        conn = (
            smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
            if settings.security == "tls"
            else smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        )
        with conn:
            if settings.security == "starttls":
                conn.starttls(context=context)
            if settings.username:
                conn.login(settings.username, settings.password or "")
            conn.send_message(msg, from_addr=settings.from_address, to_addrs=list(recipients))
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        raise _refused(exc) from exc
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, OSError) and not isinstance(exc.__context__, ssl.SSLError):
            # smtplib reports a read that timed out as a disconnection
            raise IntegrationTimeout(f"SMTP server {where} did not answer: {exc}") from exc
        raise IntegrationError(f"SMTP server {where} failed: {exc!r}") from exc
    except (ssl.SSLError, smtplib.SMTPException) as exc:
        raise IntegrationError(f"SMTP server {where} failed: {exc!r}") from exc
    except OSError as exc:  # timed out, refused or unreachable
        raise IntegrationTimeout(f"SMTP server {where} could not be reached: {exc!r}") from exc
