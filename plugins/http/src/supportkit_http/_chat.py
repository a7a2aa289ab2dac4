"""The chat channel: a chat widget's or web form's JSON, threaded by conversation, two-way.

Inbound, ``POST /inbound/chat`` takes a JSON object::

    {"conversation_id": "c-7f3a9e21", "visitor": {"id": "v-42", "name": "Ada"},
     "text": "Where is my order?", "message_id": "m-1", "sent_at": "2025-03-03T09:00:00Z"}

``visitor`` may also be a plain string (the visitor's id or e-mail address); ``message_id``
(default: a digest of the body, so a re-delivery is the same message), ``sent_at`` (default:
the desk's clock), ``subject`` and ``email`` (the visitor's address) are optional. A
conversation's messages go into the ticket ``chat-<conversation_id>``; once that ticket is
closed, the next message opens a follow-up ticket and the ones after it join the follow-up
(each message references the conversation's previous one, which the desk's message index
maps to its ticket).

Outbound, an agent's public reply on such a ticket is delivered by the desk's outbox to
:meth:`ChatChannel.send`, which appends it to the conversation's log in the desk's plugin
state (so every process serving the app sees it): ``GET /conversations/{id}/messages`` and its
server-sent-events stream read that log.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from supportkit import (
    Clock,
    ConfigurationError,
    EventError,
    InboundMessage,
    IntegrationError,
    OutboundReply,
    SupportDesk,
    SystemClock,
)
from supportkit.typing import PluginState

__all__ = ["CONVERSATION", "ChatChannel", "ConversationLog"]

#: What a conversation id may look like (it is also the capability a widget reads replies with,
#: so make it long and random).
CONVERSATION = re.compile(r"[A-Za-z0-9_-]{8,128}")
_PREFIX = "chat-"
_NAMESPACE = "supportkit_http.chat"


class ConversationLog:
    """A conversation's delivered agent replies, numbered from 1, in a desk's plugin state.

    Appending claims the next free number with ``put_new``, so writers in several processes
    never overwrite each other.
    """

    def __init__(self, state: PluginState) -> None:
        self._state = state

    @classmethod
    def of(cls, desk: SupportDesk) -> ConversationLog:
        """The log kept in *desk*'s store."""
        return cls(desk.plugin_state(_NAMESPACE))

    def append(self, conversation: str, item: Mapping[str, Any]) -> int:
        """Add *item* (JSON-compatible) to *conversation*; return its number."""
        number = len(self.read(conversation)) + 1
        while not self._state.put_new(f"{conversation}:{number}", {**item, "n": number}):
            number += 1
        return number

    def read(self, conversation: str, after: int = 0) -> list[dict[str, Any]]:
        """The items numbered after *after*, oldest first."""
        items = []
        number = after + 1
        while (item := self._state.get(f"{conversation}:{number}")) is not None:
            items.append(item)
            number += 1
        return items

    def latest(self, conversation: str, message_id: str) -> str | None:
        """The id of the conversation's previous inbound message; *message_id* becomes it."""
        previous = self._state.get(f"latest:{conversation}")
        if previous != message_id:
            self._state.put(f"latest:{conversation}", message_id)
        return previous if isinstance(previous, str) and previous != message_id else None

    def sent(self, key: str, remember_until: datetime) -> bool:
        """Whether the reply with idempotency *key* was delivered already; mark it if not
        (until *remember_until*: the outbox retries a delivery for hours, not weeks)."""
        return not self._state.put_new(f"sent:{key}", True, expires_at=remember_until)


class ChatChannel:
    """A :class:`supportkit.typing.Channel` for chat widgets and web forms (see the module).

    Registered as ``"chat"`` by this package's entry point; every desk that loads it calls
    :meth:`attach`, which gives the channel the desk's clock and plugin state.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._log: ConversationLog | None = None

    def attach(self, desk: SupportDesk) -> None:
        """Keep the conversation log in *desk*'s store and read time from its clock."""
        self._clock = desk.clock
        self._log = ConversationLog.of(desk)

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        """Validate one chat payload (bytes, text or decoded JSON) into an inbound message."""
        raw = payload.encode() if isinstance(payload, str) else payload
        if isinstance(raw, bytes | bytearray):
            try:
                data = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EventError(f"chat payload is not JSON: {exc}", field="payload") from None
            digest = hashlib.sha256(raw).hexdigest()[:24]
        else:
            data = payload
            try:
                canonical = json.dumps(payload, sort_keys=True, default=str).encode()
            except (TypeError, ValueError) as exc:  # keys of mixed types, a circular value
                raise EventError(f"chat payload is not JSON: {exc}", field="payload") from None
            digest = hashlib.sha256(canonical).hexdigest()[:24]
        if not isinstance(data, Mapping):
            raise EventError("chat payload must be a JSON object", field="payload")
        conversation = _text(data, "conversation_id")
        if not CONVERSATION.fullmatch(conversation):
            raise EventError(
                f"chat conversation_id {conversation!r} must be 8 to 128 letters, digits, '-' "
                "or '_' (a long random id: it also lets the widget read the replies)",
                field="conversation_id",
            )
        visitor = data.get("visitor")
        if isinstance(visitor, Mapping):
            sender = _text(visitor, "id", "visitor.id")
            email = visitor.get("email")
        else:
            sender = _text(data, "visitor")
            email = data.get("email")
        text = _text(data, "text")
        message_id = data.get("message_id", digest)
        if not isinstance(message_id, str | int) or isinstance(message_id, bool):
            raise EventError("chat message_id must be a string or a number", field="message_id")
        full_id = f"{conversation}/{message_id}"
        # The previous message of the conversation, so the desk threads this one into the
        # ticket that one went to (a follow-up ticket once the conversation's ticket closed).
        previous = None if self._log is None else self._log.latest(conversation, full_id)
        return InboundMessage(
            message_id=full_id,
            references=() if previous is None else (previous,),
            channel="chat",
            sender=email if isinstance(email, str) and email else sender,
            at=self._sent_at(data.get("sent_at")),
            body=text,
            subject=_optional(data, "subject") or text[:80],
            ticket_id=_PREFIX + conversation,
            metadata={"conversation_id": conversation, "visitor": sender},
        )

    def send(self, reply: OutboundReply) -> str | None:
        """Append *reply* to its conversation's log; return its message id there."""
        if self._log is None:
            raise ConfigurationError("ChatChannel.send: the channel was never attached to a desk")
        conversation = conversation_of(reply.ticket.id, reply.in_reply_to)
        if conversation is None:
            raise IntegrationError(
                f"chat: ticket {reply.ticket.id} names no chat conversation to deliver to",
                permanent=True,  # retrying cannot find one: dead-letter it at once
            )
        message_id = f"{conversation}/agent-{reply.key}"
        if not self._log.sent(reply.key, self._clock.now() + timedelta(days=7)):
            self._log.append(
                conversation,
                {
                    "id": message_id,
                    "ticket_id": reply.ticket.id,
                    "author": reply.event.actor or "agent",
                    "text": reply.body,
                    "at": reply.event.at.isoformat(),
                },
            )
        return message_id

    def _sent_at(self, value: object) -> datetime:
        if value is None:
            return self._clock.now()
        try:
            at = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise EventError(
                f"chat sent_at {value!r} must be an ISO 8601 instant with a UTC offset",
                field="sent_at",
            )
        return at

    def __repr__(self) -> str:
        return "<ChatChannel>"


def conversation_of(ticket_id: str, in_reply_to: str | None) -> str | None:
    """The conversation a ticket belongs to: its id's, or (for a follow-up ticket) the one
    the customer's last message id names."""
    if ticket_id.startswith(_PREFIX):
        return ticket_id.removeprefix(_PREFIX)
    if in_reply_to and "/" in in_reply_to:
        return in_reply_to.partition("/")[0]
    return None


def _text(data: Mapping[str, Any], key: str, name: str | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EventError(
            f"chat payload needs a non-empty string {name or key!r}", field=name or key
        )
    return value


def _optional(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise EventError(f"chat {key} must be a string", field=key)
    return value
