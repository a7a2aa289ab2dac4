"""The ``email`` channel: raw mail in, agent replies out by SMTP."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, Literal

from supportkit import (
    Clock,
    ConfigurationError,
    EventError,
    InboundMessage,
    OutboundReply,
    SystemClock,
)
from supportkit.exceptions import Ignored

from ._parse import MAX_BODY_CHARS, MAX_BYTES, Attachment, parse_email
from ._smtp import SmtpSettings, compose_reply, send_message

__all__ = ["DEFAULT_TOKEN", "EmailChannel"]

#: The ticket token put in (and read from) subjects: ``[#T-3f2a9c1b7d4e]``.
DEFAULT_TOKEN = "[#{ticket_id}]"
_TICKET_ID = r"([A-Za-z0-9][A-Za-z0-9_.:-]{0,99})"

AttachmentStore = Callable[[str, Attachment, bytes], str | None]
"""``(message_id, attachment, data) -> key``: keeps an attachment's bytes, returns its key."""
RawStore = Callable[[str, bytes], None]
"""``(message_id, raw)``: keeps the raw message, so the original stays retrievable."""
HtmlRenderer = Callable[[OutboundReply], str | None]
"""``reply -> html``: the HTML alternative of an outgoing reply (``None``: text only)."""


def _token_pattern(token: str) -> re.Pattern[str]:
    if token.count("{ticket_id}") != 1:
        raise ConfigurationError(
            f"email subject token {token!r} must contain '{{ticket_id}}' exactly once, "
            f"e.g. {DEFAULT_TOKEN!r}"
        )
    before, _, after = token.partition("{ticket_id}")
    if not before.strip() and not after.strip():
        raise ConfigurationError(
            f"email subject token {token!r} needs text around '{{ticket_id}}' (e.g. '[#' and "
            "']'), or any word in a subject would read as a ticket id"
        )
    return re.compile(re.escape(before) + _TICKET_ID + re.escape(after))


def _received_at(headers: Mapping[str, str]) -> datetime | None:
    value = next((v for k, v in headers.items() if k.lower() == "x-supportkit-received-at"), None)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise EventError(
            f"header X-Supportkit-Received-At {value!r} is not an ISO 8601 instant like "
            "2025-03-03T09:00:00+00:00",
            field="x-supportkit-received-at",
        ) from None
    if at.tzinfo is None:
        raise EventError(
            f"header X-Supportkit-Received-At {value!r} has no UTC offset: add one (e.g. +00:00)",
            field="x-supportkit-received-at",
        )
    return at


class EmailChannel:
    """A :class:`supportkit.typing.Channel` for email.

    ``parse`` reads a raw RFC 5322 message (bytes, or text) into an
    :class:`~supportkit.InboundMessage`: the Message-ID is its id (a stable hash when it has
    none), In-Reply-To and References its ``references``, and a subject token (*token*,
    ``[#<ticket id>]`` by default) its ``ticket_hint``. Quoted history and signatures are cut
    from the body (*strip*). Auto-replies, bounces and bulk mail raise
    :class:`~supportkit.exceptions.Ignored`, recorded on the ticket they refer to as a note
    when *noise* is ``"note"`` and dropped when ``"drop"``; mailing-list mail counts as bulk
    unless *allow_lists*. Mail from one of the desk's own *addresses* is always dropped.
    A transport may pass the instant the mail arrived as the header
    ``X-Supportkit-Received-At`` (ISO 8601, as the IMAP poller does); otherwise the message
    arrives at *clock*'s now.

    Attachments' bytes go to *attachments* (their metadata, with the key it returns, to the
    message's ``metadata["attachments"]``); *raw_store* receives every raw message.

    ``send`` mails an agent reply through *smtp* (``None``: the channel only receives,
    ``can_send`` is ``False`` so the desk queues no replies, and ``send`` returns ``None``);
    *html* renders an optional HTML alternative.
    """

    def __init__(
        self,
        *,
        smtp: SmtpSettings | None = None,
        addresses: Collection[str] = (),
        token: str = DEFAULT_TOKEN,
        noise: Literal["note", "drop"] = "note",
        allow_lists: bool = False,
        strip: bool = True,
        attachments: AttachmentStore | None = None,
        raw_store: RawStore | None = None,
        html: HtmlRenderer | None = None,
        clock: Clock | None = None,
        max_bytes: int = MAX_BYTES,
        max_body_chars: int = MAX_BODY_CHARS,
    ) -> None:
        if noise not in ("note", "drop"):
            raise ConfigurationError(f"email noise {noise!r} must be 'note' or 'drop'")
        if max_bytes <= 0 or max_body_chars <= 0:
            raise ConfigurationError(
                f"email max_bytes ({max_bytes}) and max_body_chars ({max_body_chars}) must be > 0"
            )
        self.smtp = smtp
        own = {a.strip().lower() for a in addresses}
        if smtp is not None:
            own.add(smtp.from_address.lower())
        self.addresses = frozenset(own)
        self.token = token
        self._token = _token_pattern(token)
        self.noise = noise
        self.allow_lists = allow_lists
        self.strip = strip
        self.max_bytes = max_bytes
        self.max_body_chars = max_body_chars
        self._attachments = attachments
        self._raw_store = raw_store
        self._html = html
        self._clock = clock or SystemClock()

    def ticket_hint(self, subject: str) -> str | None:
        """The ticket id a subject's token names (the last token, the newest), or ``None``."""
        found = self._token.findall(subject)
        return found[-1] if found else None

    def subject_for(self, reply: OutboundReply) -> str:
        """The subject of an outgoing reply: ``Re: <ticket subject> <token>``."""
        subject = " ".join(reply.ticket.subject.split()) or "Your request"
        token = self.token.replace("{ticket_id}", reply.ticket.id)
        if token not in subject:
            subject = f"{subject} {token}"
        return subject if re.match(r"(?i)re\s*:", subject) else f"Re: {subject}"

    def parse(self, payload: Any, headers: Mapping[str, str] | None = None) -> InboundMessage:
        """Read one raw email; raise :class:`~supportkit.exceptions.Ignored` for noise."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogateescape")
        stored: list[tuple[Attachment, bytes]] = []
        parsed = parse_email(
            payload,
            strip=self.strip,
            allow_lists=self.allow_lists,
            max_bytes=self.max_bytes,
            max_body_chars=self.max_body_chars,
            on_attachment=None if self._attachments is None else lambda a, d: stored.append((a, d)),
        )
        if self._raw_store is not None:
            self._raw_store(parsed.message_id, bytes(payload))
        at = _received_at(headers or {}) or self._clock.now()
        own = parsed.sender in self.addresses
        if not parsed.sender and parsed.noise is None:
            raise EventError(
                "email has no readable From address: a reply could not reach its sender",
                field="sender",
            )
        attachments = [a.to_dict() for a in parsed.attachments]
        if self._attachments is not None:
            for meta, (attachment, data) in zip(attachments, stored, strict=True):
                meta["key"] = self._attachments(parsed.message_id, attachment, data)
        message = InboundMessage(
            message_id=parsed.message_id,
            channel="email",
            sender=parsed.sender or "(unknown sender)",
            at=at,
            body=parsed.body,
            subject=parsed.subject,
            references=parsed.references,
            ticket_hint=self.ticket_hint(parsed.subject),
            metadata={
                "from_name": parsed.sender_name,
                "to": list(parsed.to),
                "cc": list(parsed.cc),
                "reply_to": list(parsed.reply_to),
                "date": parsed.date.isoformat() if parsed.date else None,
                "attachments": attachments,
                "html": parsed.html,
                "truncated": parsed.truncated,
                "synthesised_message_id": parsed.synthesised_id,
            },
        )
        if own:
            raise Ignored(f"own address: {parsed.sender}", message=message, record=False)
        if parsed.noise is not None:
            raise Ignored(parsed.noise, message=message, record=self.noise == "note")
        return message

    def compose(self, reply: OutboundReply) -> Any:
        """The :class:`email.message.EmailMessage` ``send`` would send for *reply*."""
        if self.smtp is None:
            raise ConfigurationError("the email channel has no SMTP settings: it only receives")
        html = self._html(reply) if self._html is not None else None
        return compose_reply(
            reply, self.smtp, subject=self.subject_for(reply), at=self._clock.now(), html=html
        )

    @property
    def can_send(self) -> bool:
        """Whether this channel mails replies (it has SMTP settings); see
        :class:`supportkit.typing.Channel`."""
        return self.smtp is not None

    def send(self, reply: OutboundReply) -> str | None:
        """Mail *reply*; return its Message-ID (without angle brackets), or ``None`` if this
        channel has no SMTP settings. Raises :class:`~supportkit_email.SmtpError` and the
        other :class:`~supportkit.IntegrationError` kinds on failure."""
        if self.smtp is None:
            return None
        msg = self.compose(reply)
        send_message(msg, self.smtp, [str(msg["To"])])
        return str(msg["Message-ID"]).strip("<>")
