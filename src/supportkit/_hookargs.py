"""The frozen objects handed to plugin hooks: lifecycle notices and outbound replies.

A *notice* tells plugins that something happened to a ticket. Every notice carries the ticket
snapshot right after the change (``ticket``), the instant it happened (``at``) and its ``kind``
(the broadcast hook's name without the ``supportkit_`` prefix), and turns into a
JSON-compatible dict with :meth:`to_dict` (what the webhook plugin posts). Notices about an event
in the log also carry that ``event``; everything else they offer is derived from it.

:class:`ArticleChanged`, the one notice about a knowledge-base article rather than a ticket,
carries the ``article`` instead (its ``ticket_id`` is ``None``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ._knowledge import Article, ArticleEvent
from ._model import InboundMessage, Status, TicketEvent
from ._ticket import Satisfaction, Ticket
from ._time import to_epoch
from .exceptions import EventError

__all__ = [
    "NOTICE_TYPES",
    "ArticleChanged",
    "EventAppended",
    "Notice",
    "OutboundReply",
    "SatisfactionReceived",
    "SlaBreached",
    "SlaWarning",
    "StatusChanged",
    "TicketAssigned",
    "TicketCreated",
    "TicketEscalated",
]


def _jsonable(value: Any) -> Any:
    """*value* as JSON-compatible data (instants as ISO 8601, sets sorted, enums by value)."""
    if isinstance(value, TicketEvent):
        return value.to_dict()
    if attrs.has(type(value)):
        return {f.name: _jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _event_of(*kinds: str) -> Any:
    """A validator: the event has one of *kinds* and belongs to the notice's ticket."""

    def check(instance: Any, _attribute: attrs.Attribute[Any], event: TicketEvent) -> None:
        name = type(instance).__name__
        if not isinstance(event, TicketEvent) or (kinds and event.kind not in kinds):
            of_kind = f" of kind {' or '.join(kinds)}" if kinds else ""
            raise EventError(f"{name} needs a TicketEvent{of_kind}, got {event!r}")
        if event.ticket_id != instance.ticket.id:
            raise EventError(
                f"{name}: event {event.id} belongs to ticket {event.ticket_id}, not to "
                f"ticket {instance.ticket.id}"
            )

    return check


def _is_ticket(_instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Ticket):
        raise EventError(f"{attribute.name} must be a supportkit.Ticket, got {value!r}")


class _Notice:
    """What every notice offers (a mixin; the attrs classes below add the fields)."""

    kind: ClassVar[str]
    ticket: Ticket

    @property
    def ticket_id(self) -> str:
        """The ticket's id."""
        return self.ticket.id

    def to_dict(self) -> dict[str, Any]:
        """Return the notice as a JSON-compatible dict with ``kind`` and ``ticket_id`` first."""
        return {
            "kind": self.kind,
            "ticket_id": self.ticket_id,
            "at": self.at.isoformat(),
            **_jsonable(self),
        }

    @property
    def at(self) -> datetime:
        """When it happened (the event's instant)."""
        event: TicketEvent = self.event  # type: ignore[attr-defined]
        return event.at


@attrs.frozen
class TicketCreated(_Notice):
    """A ticket was opened: ``event`` is its ``created`` event.

    ``message`` is the inbound message that opened it, or ``None`` when the host application
    created the ticket directly.
    """

    kind: ClassVar[str] = "ticket_created"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("created"))
    message: InboundMessage | None = None


@attrs.frozen
class EventAppended(_Notice):
    """Any event was appended to a ticket's log (sent for every event, after the specific notice).

    ``ticket.version`` is the log's version that includes ``event``.
    """

    kind: ClassVar[str] = "event_appended"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of())


@attrs.frozen
class StatusChanged(_Notice):
    """A ticket's status changed from ``previous`` to ``status`` (``event``: ``status_changed``)."""

    kind: ClassVar[str] = "status_changed"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("status_changed"))
    previous: Status = attrs.field(converter=Status)

    @property
    def status(self) -> Status:
        """The new status."""
        return Status(self.event.data["to"])


@attrs.frozen
class TicketAssigned(_Notice):
    """A ticket was assigned to an agent and/or a group (``event`` is ``assigned``).

    ``previous_agent`` and ``previous_group`` are who held it before (``None`` if nobody).
    """

    kind: ClassVar[str] = "ticket_assigned"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("assigned"))
    previous_agent: str | None = None
    previous_group: str | None = None

    @property
    def agent(self) -> str | None:
        """The agent it was assigned to, if the event names one."""
        agent: str | None = self.event.data["agent"]
        return agent

    @property
    def group(self) -> str | None:
        """The group it was assigned to, if the event names one."""
        group: str | None = self.event.data["group"]
        return group


@attrs.frozen
class TicketEscalated(_Notice):
    """A ticket went up the escalation ladder (``event`` is ``escalated``).

    ``level``, ``target`` and ``reason`` come from the event; ``previous_level`` is the level
    it was at before (``None`` on the first escalation) and ``previous_assignee`` the agent who
    had it before (``None`` if nobody), the one to tell: an escalation with a target clears the
    ticket's assignee.
    """

    kind: ClassVar[str] = "ticket_escalated"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("escalated"))
    previous_level: str | None = None
    previous_assignee: str | None = None

    @property
    def level(self) -> str:
        """The level it was escalated to (``"L2"``, ``"engineering"``, ...)."""
        level: str = self.event.data["level"]
        return level

    @property
    def target(self) -> str | None:
        """Who it was escalated to (a group or agent id), if named."""
        target: str | None = self.event.data["target"]
        return target

    @property
    def reason(self) -> str:
        """Why (free text, may be empty)."""
        reason: str = self.event.data["reason"]
        return reason


@attrs.frozen
class SatisfactionReceived(_Notice):
    """The customer rated the ticket (``event`` is ``satisfaction_rated``)."""

    kind: ClassVar[str] = "satisfaction_received"
    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("satisfaction_rated"))

    @property
    def satisfaction(self) -> Satisfaction:
        """This rating (CSAT, score, NPS, CES and comment as given in the event)."""
        return Satisfaction(**self.event.data)


def _aware(_instance: Any, attribute: attrs.Attribute[Any], value: datetime) -> None:
    to_epoch(value, attribute.name, EventError)


def _level(_instance: Any, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
        raise EventError(f"level must be a fraction in (0, 1], got {value!r}")


@attrs.frozen
class _SlaNotice(_Notice):
    """Fields shared by the two SLA notices (``at`` is a field here, not an event's instant)."""

    ticket: Ticket = attrs.field(validator=_is_ticket)
    metric: str = attrs.field(validator=attrs.validators.min_len(1))
    cycle: int = attrs.field(validator=attrs.validators.ge(0))
    at: datetime = attrs.field(validator=_aware)
    key: str = attrs.field(validator=attrs.validators.min_len(1))
    deadline: datetime | None = attrs.field(default=None, kw_only=True)

    @property
    def policy(self) -> str | None:
        """The name of the SLA policy applied to the ticket."""
        return self.ticket.sla_policy


@attrs.frozen
class SlaWarning(_SlaNotice):
    """An SLA clock reached a warning level (e.g. 75 % of its target) without breaching yet.

    ``metric`` is the SLA metric (``"first_reply"``, ...), ``cycle`` the cycle's index,
    ``level`` the fraction reached, ``at`` when it was reached, ``deadline`` when it breaches
    if nothing happens, and ``key`` the alert's stable key (the same alert always has the same
    key, so a receiver can drop repeats).
    """

    kind: ClassVar[str] = "sla_warning"
    level: float = attrs.field(kw_only=True, validator=_level)
    reason: str = attrs.field(default="", kw_only=True)
    """``""`` for a warning level reached; ``"uncovered"`` when follow-the-sun sees that no
    team is on shift before the deadline (``level`` is then 1.0: it will breach unanswered)."""


@attrs.frozen
class SlaBreached(_SlaNotice):
    """An SLA clock passed its target: ``at`` is the breach instant (the cycle's deadline).

    ``metric``, ``cycle`` and ``key`` are as in :class:`SlaWarning`; a breach is permanent for
    its cycle, so each ``key`` is breached once.
    """

    kind: ClassVar[str] = "sla_breached"


def _is_article(_instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Article):
        raise EventError(f"{attribute.name} must be a supportkit.Article, got {value!r:.120}")


def _article_event(instance: Any, _attribute: attrs.Attribute[Any], event: object) -> None:
    if not isinstance(event, ArticleEvent) or event.article_id != instance.article.id:
        raise EventError(
            f"ArticleChanged needs an ArticleEvent of article {instance.article.id!r}, got "
            f"{event!r:.120}"
        )


@attrs.frozen
class ArticleChanged:
    """A knowledge-base article was created, updated or retired.

    ``event`` is the :class:`~supportkit.ArticleEvent` (its ``kind`` says which of the three),
    ``article`` the article right after it and ``previous`` the article before it (``None``
    for ``created``). Publishing is an ``updated`` event whose ``article.status`` is
    ``"published"``. The notice belongs to no ticket: ``ticket_id`` is ``None``.
    """

    kind: ClassVar[str] = "article_changed"
    article: Article = attrs.field(validator=_is_article)
    event: ArticleEvent = attrs.field(validator=_article_event)
    previous: Article | None = attrs.field(
        default=None, validator=attrs.validators.optional(_is_article)
    )

    @property
    def article_id(self) -> str:
        """The article's id."""
        return self.article.id

    @property
    def ticket_id(self) -> None:
        """``None``: an article notice belongs to no ticket."""
        return None

    @property
    def at(self) -> datetime:
        """When the article changed (the event's instant)."""
        return self.event.at

    def to_dict(self) -> dict[str, Any]:
        """The notice as a JSON-compatible dict (``kind``, ``article_id`` and ``at`` first;
        the event as its own ``to_dict``)."""
        return {
            "kind": self.kind,
            "article_id": self.article_id,
            "at": self.at.isoformat(),
            "article": _jsonable(self.article),
            "event": self.event.to_dict(),
            "previous": _jsonable(self.previous),
        }


#: Every notice class, by kind (the broadcast hook is ``supportkit_<kind>``).
NOTICE_TYPES: Mapping[str, type[_Notice] | type[ArticleChanged]] = {
    cls.kind: cls
    for cls in (
        TicketCreated,
        EventAppended,
        StatusChanged,
        TicketAssigned,
        TicketEscalated,
        SlaWarning,
        SlaBreached,
        SatisfactionReceived,
        ArticleChanged,
    )
}

Notice = (
    TicketCreated
    | EventAppended
    | StatusChanged
    | TicketAssigned
    | TicketEscalated
    | SlaWarning
    | SlaBreached
    | SatisfactionReceived
    | ArticleChanged
)
"""Any lifecycle notice (what a :class:`~supportkit.typing.Notifier` receives)."""


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):  # one id is not a list of its letters
        raise EventError(f"references must be a list of message ids, got the string {value!r}")
    return tuple(value)


@attrs.frozen
class OutboundReply:
    """A public reply to send to the customer through the ticket's channel.

    ``event`` is the public ``message`` event (an agent's, or an automatic one); ``recipient``
    is the customer's address or handle on that channel, and ``in_reply_to`` the channel
    message id it answers (the customer's last message), both ``None`` if unknown.
    ``references`` are the ticket's message ids known on that channel before this reply
    (received and sent), oldest first (an email's ``References``). ``automatic`` is true for
    an automatic notice rather than a person's reply (a message by the system or a bot; an
    email channel marks it ``Auto-Submitted: auto-replied``). ``key`` (the event's id) is
    stable across retries, so a channel can use it to deliver at most once.
    """

    ticket: Ticket = attrs.field(validator=_is_ticket)
    event: TicketEvent = attrs.field(validator=_event_of("message"))
    recipient: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    automatic: bool = False

    @property
    def channel(self) -> str:
        """The channel to send on: the event's channel if it names one, else the ticket's."""
        channel: str | None = self.event.data["channel"]
        return channel or self.ticket.channel

    @property
    def body(self) -> str:
        """The reply's text."""
        body: str = self.event.data["body"]
        return body

    @property
    def key(self) -> str:
        """The idempotency key (the event's id)."""
        return self.event.id

    def to_dict(self) -> dict[str, Any]:
        """Return the reply as a JSON-compatible dict."""
        return {
            "channel": self.channel,
            "key": self.key,
            "body": self.body,
            **_jsonable(self),
        }
