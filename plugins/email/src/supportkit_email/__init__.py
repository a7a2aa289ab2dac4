"""supportkit-email: the ``email`` channel (raw mail in, agent replies out by SMTP) and an IMAP
poller.

The plugin (this module, found through the ``supportkit`` entry-point group as ``email``)
always registers an :class:`EmailChannel` named ``"email"``, so ``desk.receive("email", raw)``
works with no configuration. Sending needs SMTP settings, read from the environment:
``SUPPORTKIT_EMAIL_FROM`` and ``SUPPORTKIT_EMAIL_SMTP_HOST`` (both needed to send), and
optionally ``SUPPORTKIT_EMAIL_SMTP_PORT``, ``SUPPORTKIT_EMAIL_SMTP_SECURITY``
(``starttls``/``tls``/``none``), ``SUPPORTKIT_EMAIL_SMTP_USERNAME``,
``SUPPORTKIT_EMAIL_SMTP_PASSWORD`` and ``SUPPORTKIT_EMAIL_ADDRESSES`` (the desk's other
addresses, comma-separated). Without them the channel only receives. It also registers the
poller ``"imap"`` (:class:`ImapPoller`) and its configuration table ``[plugins.imap]``, from
which ``supportkit run`` makes it. An :class:`EmailChannel` object is a plugin too:
``SupportDesk(plugins=[EmailPlugin(EmailChannel(...))])``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from supportkit import OutboundReply, hookimpl, text_html
from supportkit.typing import Channel

from ._channel import DEFAULT_TOKEN, EmailChannel
from ._imap import CONFIG_SCHEMA as IMAP_CONFIG_SCHEMA
from ._imap import FAILED_FLAG, ImapPoller
from ._noise import noise_reason
from ._parse import MAX_BODY_CHARS, MAX_BYTES, Attachment, ParsedEmail, parse_email
from ._smtp import SmtpError, SmtpSettings, compose_reply, send_message
from ._text import html_to_text, strip_reply

__all__ = [
    "DEFAULT_TOKEN",
    "FAILED_FLAG",
    "IMAP_CONFIG_SCHEMA",
    "MAX_BODY_CHARS",
    "MAX_BYTES",
    "Attachment",
    "EmailChannel",
    "EmailPlugin",
    "ImapPoller",
    "ParsedEmail",
    "SmtpError",
    "SmtpSettings",
    "compose_reply",
    "html_to_text",
    "noise_reason",
    "parse_email",
    "reply_html",
    "send_message",
    "smtp_from_environ",
    "strip_reply",
]


def reply_html(reply: OutboundReply) -> str:
    """The HTML alternative of *reply* made safely: its text escaped (a customer's words or an
    article title can hold ``<script>``), paragraphs and line breaks kept, bare ``http(s)``
    URLs (such as tracked article links) as links; see ``supportkit.text_html``. Pass it as
    ``EmailChannel(..., html=reply_html)``."""
    return text_html(reply.body)


def smtp_from_environ(environ: Mapping[str, str] = os.environ) -> SmtpSettings | None:
    """SMTP settings from the ``SUPPORTKIT_EMAIL_*`` variables, or ``None`` if unset."""
    host = environ.get("SUPPORTKIT_EMAIL_SMTP_HOST")
    sender = environ.get("SUPPORTKIT_EMAIL_FROM")
    if not host or not sender:
        return None
    security: Any = environ.get("SUPPORTKIT_EMAIL_SMTP_SECURITY", "starttls")
    default_port = {"tls": 465, "none": 25}.get(security, 587)
    return SmtpSettings(
        host=host,
        from_address=sender,
        port=int(environ.get("SUPPORTKIT_EMAIL_SMTP_PORT", default_port)),
        security=security,
        username=environ.get("SUPPORTKIT_EMAIL_SMTP_USERNAME") or None,
        password=environ.get("SUPPORTKIT_EMAIL_SMTP_PASSWORD") or None,
    )


class EmailPlugin:
    """A plugin object that registers *channel* under *name* (``"email"``)."""

    def __init__(self, channel: EmailChannel, name: str = "email") -> None:
        self.channel = channel
        self.name = name

    @hookimpl
    def supportkit_register_channels(self, register: Callable[[str, Channel], None]) -> None:
        """Register the channel."""
        register(self.name, self.channel)


@hookimpl
def supportkit_register_channels(register: Callable[[str, Channel], None]) -> None:
    """Register the ``email`` channel (sending only if SMTP settings are in the environment)."""
    addresses = os.environ.get("SUPPORTKIT_EMAIL_ADDRESSES", "")
    register(
        "email",
        EmailChannel(
            smtp=smtp_from_environ(), addresses=[a for a in addresses.split(",") if a.strip()]
        ),
    )


@hookimpl
def supportkit_register_pollers(register: Callable[[str, Any], None]) -> None:
    """Register the ``imap`` poller (options: see :class:`ImapPoller`)."""
    register("imap", ImapPoller.from_options)


@hookimpl
def supportkit_config_section(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Declare ``[plugins.imap]``: ``supportkit run`` polls the mailbox it describes."""
    register("imap", IMAP_CONFIG_SCHEMA)
