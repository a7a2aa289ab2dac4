"""The built-in plugin: the in-memory and SQLite stores, the JSON channel and the log notifier.

Built-ins register through the same hooks as any other plugin (so a host can block them by
name, ``PluginHost(blocked=["supportkit.builtins"])``) and are the first plugin a host
registers, so every other plugin's lookup answers come before theirs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._hookargs import Notice, OutboundReply
from ._model import Channel, InboundMessage
from ._sqlite import SqliteStore
from ._store import InMemoryStore
from ._time import from_epoch, parse_instant
from .exceptions import EventError
from .hookspecs import hookimpl
from .typing import Channel as ChannelProtocol
from .typing import Notifier, StoreFactory

__all__ = ["JsonChannel", "LogNotifier"]

#: Aliases the JSON channel accepts for each :class:`InboundMessage` field (first one wins).
_ALIASES = {
    "message_id": ("message_id", "id"),
    "sender": ("sender", "from"),
    "at": ("at", "timestamp"),
    "body": ("body", "text"),
}
_PLAIN = (
    "channel",
    "subject",
    "ticket_id",
    "public",
    "priority",
    "tags",
    "language",
    "metadata",
    "references",
    "ticket_hint",
)


def _instant(value: Any) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return from_epoch(value)
        except (OverflowError, OSError, ValueError) as exc:
            raise EventError(
                f"JSON message field 'at': epoch seconds {value} are out of range ({exc})",
                field="at",
            ) from exc
    return parse_instant(value, "JSON message field 'at'", EventError)


class JsonChannel:
    """A :class:`supportkit.typing.Channel` for JSON webhooks and chat integrations.

    It parses a JSON object (``bytes``, ``str`` or an already decoded ``dict``) with the fields
    of :class:`~supportkit.InboundMessage`; ``id``, ``from``, ``timestamp`` and ``text`` are
    accepted for ``message_id``, ``sender``, ``at`` and ``body``, and ``at`` may be ISO 8601
    with an offset or epoch seconds. Without an id, the message id is a hash of the payload,
    so a redelivered payload keeps its id. ``channel`` defaults to *channel*
    (``supportkit.Channel.API``). It only receives: ``can_send`` is ``False`` (the desk queues
    no replies for its tickets) and :meth:`send` returns ``None``.

    The built-in one is registered as ``"json"`` (the payload format, which is what
    ``parse_inbound(channel="json", ...)`` names) but stamps its messages ``channel="api"``:
    a ticket's channel is where the customer wrote from (a :class:`supportkit.Channel`, which
    SLA policy conditions and reports group by), and a JSON webhook is the API. A payload's own
    ``channel`` field (``"chat"`` from a chat integration) wins; register
    ``JsonChannel("chat")`` under a name of your own for a whole endpoint.
    """

    can_send = False
    """This channel only receives (see :class:`supportkit.typing.Channel`)."""

    def __init__(self, channel: str = Channel.API) -> None:
        self.channel = str(channel)

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        """Parse *payload*; raise :class:`~supportkit.EventError` naming a bad field."""
        if isinstance(payload, bytes | str):
            try:
                payload = json.loads(payload)
            except ValueError as exc:
                raise EventError(f"JSON message: payload is not valid JSON ({exc})") from exc
        if not isinstance(payload, Mapping):
            raise EventError(f"JSON message: expected a JSON object, got {payload!r}")
        fields: dict[str, Any] = {"channel": self.channel}
        for name, aliases in _ALIASES.items():
            for alias in aliases:
                if alias in payload:
                    fields[name] = payload[alias]
                    break
        fields.update((name, payload[name]) for name in _PLAIN if name in payload)
        if "message_id" not in fields:
            try:
                canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            except (TypeError, ValueError) as exc:  # keys of mixed types cannot be sorted
                raise EventError(f"JSON message: payload is not a JSON object ({exc})") from exc
            fields["message_id"] = "json-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
        for name in ("sender", "at"):
            if name not in fields:
                raise EventError(f"JSON message: missing field {name!r}", field=name)
        fields["at"] = _instant(fields["at"])
        try:
            return InboundMessage(**fields)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, EventError):
                raise
            raise EventError(f"JSON message: {exc}") from exc

    def send(self, reply: OutboundReply) -> str | None:
        """The JSON channel only receives; returns ``None``."""
        return None

    def __repr__(self) -> str:
        return f"<JsonChannel channel={self.channel!r}>"


class LogNotifier:
    """A :class:`supportkit.typing.Notifier` that logs one line per notice.

    Lines go to the ``supportkit.notify`` logger at ``INFO``:
    ``sla_breached T-1 at 2025-03-03T13:00:00+00:00`` (an article notice names the article).
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("supportkit.notify")

    def notify(self, notice: Notice) -> None:
        """Log *notice*."""
        subject = notice.ticket_id if notice.ticket_id is not None else notice.article_id
        self.logger.info("%s %s at %s", notice.kind, subject, notice.at.isoformat())

    def __repr__(self) -> str:
        return f"<LogNotifier logger={self.logger.name!r}>"


@hookimpl
def supportkit_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """The in-memory store, as ``"memory"``, and the SQLite store, as ``"sqlite"``."""
    register("memory", InMemoryStore)
    register("sqlite", SqliteStore)


@hookimpl
def supportkit_register_channels(register: Callable[[str, ChannelProtocol], None]) -> None:
    """The generic JSON channel, as ``"json"``; its messages say ``channel="api"`` (see
    :class:`JsonChannel`)."""
    register("json", JsonChannel())


@hookimpl
def supportkit_register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """The log notifier, as ``"log"``."""
    register("log", LogNotifier())
