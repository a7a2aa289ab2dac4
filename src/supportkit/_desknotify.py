"""The desk's side of plugins: lookups, lifecycle notices and the outbox rows that carry them.

Every notice (ticket created, status changed, SLA breached, ...) goes to each of its receivers
(hookimpl plugins and registered notifiers, ``PluginHost.receivers``) through one outbox row per
receiver, written in the same commit as the events; so does every public agent reply (sent
through the ticket's channel). In-process hookimpls are called right after the commit; notifiers
and replies, which may do I/O, are delivered by ``SupportDesk.deliver`` (or its worker). A row's
payload names the ticket version and event (or SLA alert), so a retry rebuilds the very same
notice from the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from ._deskstore import OutboxMessage
from ._hookargs import (
    NOTICE_TYPES,
    ArticleChanged,
    EventAppended,
    Notice,
    OutboundReply,
    SatisfactionReceived,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
)
from ._knowledge import Article, ArticleEvent, apply_article, fold_article
from ._model import Customer, InboundMessage, Role, TicketEvent, Tier
from ._plugins import PluginHost
from ._routing import SelectionStrategy
from ._ticket import Ticket, _Fold
from ._time import from_epoch, parse_instant, to_epoch
from .exceptions import ConfigurationError, PluginError, StoreError, SupportkitError
from .typing import EventStore

__all__ = ["DeskPlugins", "History", "as_host"]

_EVENT_NOTICES = {
    "status_changed": "status_changed",
    "assigned": "ticket_assigned",
    "escalated": "ticket_escalated",
    "satisfaction_rated": "satisfaction_received",
}


def as_host(
    plugins: PluginHost | Iterable[object] | None, blocked: Iterable[str] = ()
) -> PluginHost:
    """A :class:`PluginHost` from what ``SupportDesk(plugins=..., blocked_plugins=...)`` was
    given."""
    if isinstance(blocked, str | bytes) or not isinstance(blocked, Iterable):
        raise ConfigurationError(f"blocked_plugins must be a list of plugin names, got {blocked!r}")
    blocked = tuple(blocked)
    if isinstance(plugins, PluginHost):
        if blocked:
            raise ConfigurationError(
                "blocked_plugins cannot be applied to a ready PluginHost (its plugins are "
                "already registered): pass plugin objects instead, or block them on that host"
            )
        return plugins
    if plugins is None:
        return PluginHost(load_entrypoints=False, blocked=["supportkit.builtins", *blocked])
    if isinstance(plugins, str | bytes) or not isinstance(plugins, Iterable):
        raise ConfigurationError(
            f"plugins must be a PluginHost or a list of plugin objects, got {plugins!r}"
        )
    return PluginHost(plugins=tuple(plugins), blocked=blocked)


_MESSAGE_FIELDS = tuple(field.name for field in attrs.fields(InboundMessage))


def _message_dict(message: InboundMessage) -> dict[str, Any]:
    raw = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    raw["at"] = message.at.isoformat()
    # A tuple (JSON writes it as a list): a payload of plain values only is not tracked by the
    # cyclic collector, so its outbox row is not walked by every full collection.
    raw["tags"] = tuple(message.tags)
    raw["metadata"] = dict(message.metadata)
    return raw


def _message_from(raw: Mapping[str, Any] | None) -> InboundMessage | None:
    if raw is None:
        return None
    return InboundMessage(**{**raw, "at": parse_instant(raw["at"], "outbox message", StoreError)})


def _notice(
    kind: str, before: Ticket | None, after: Ticket, event: TicketEvent, message: Any
) -> Notice:
    """The notice of *kind* for *event*, which moved the ticket from *before* to *after*."""
    if kind == "ticket_created":
        return TicketCreated(after, event, message)
    if kind == "event_appended":
        return EventAppended(after, event)
    assert before is not None
    if kind == "status_changed":
        return StatusChanged(after, event, before.status)
    if kind == "ticket_assigned":
        return TicketAssigned(after, event, before.assignee, before.group)
    if kind == "ticket_escalated":
        return TicketEscalated(after, event, before.escalation_level, before.assignee)
    return SatisfactionReceived(after, event)


def _sla_notice(ticket: Ticket, alert: Any, deadline: datetime | None) -> Notice:
    if alert.kind == "breach":
        return SlaBreached(
            ticket, alert.metric, alert.cycle, alert.at, alert.key, deadline=deadline
        )
    return SlaWarning(
        ticket,
        alert.metric,
        alert.cycle,
        alert.at,
        alert.key,
        deadline=deadline,
        level=alert.level,
        reason="uncovered" if alert.kind == "uncovered" else "",
    )


def _notice_kinds(event_kind: str) -> tuple[str, ...]:
    """The notice kinds an event of *event_kind* makes, in order."""
    kinds = ["ticket_created"] if event_kind == "created" else []
    specific = _EVENT_NOTICES.get(event_kind)
    if specific is not None:
        kinds.append(specific)
    kinds.append("event_appended")
    return tuple(kinds)


#: Per event kind, its notice kinds (asked for every appended event).
_KINDS: dict[str, tuple[str, ...]] = {}


def _event_kinds(event: TicketEvent) -> tuple[str, ...]:
    found = _KINDS.get(event.kind)
    if found is None:
        found = _KINDS[event.kind] = _notice_kinds(event.kind)
    return found


def _fan_out(
    rows: list[OutboxMessage],
    targets: Iterable[tuple[str, bool]],
    kind: str,
    ident: str,
    ticket_id: str,
    payload: dict[str, Any],
    now: int,
    due_inline: int,
) -> dict[str, str] | None:
    """Append to *rows* one outbox row of notice *kind* per receiver in *targets* (each paired
    with whether it is in-process: see :meth:`DeskPlugins.targets`), keyed
    ``kind:ident:receiver``, its payload *payload* plus the receiver; an in-process receiver's
    row is hidden until *due_inline* (the desk fires it right after the commit). Return the
    in-process receivers' row keys, or ``None`` if there are none. This runs for every
    appended event, so the rows are built with positional arguments."""
    keys: dict[str, str] | None = None
    for receiver, inline in targets:
        key = f"{kind}:{ident}:{receiver}"
        due = due_inline if inline else now
        rows.append(
            OutboxMessage(
                key, kind, ticket_id, payload | {"receiver": receiver}, now, "pending", 0, due
            )
        )
        if inline:
            if keys is None:
                keys = {}
            keys[receiver] = key
    return keys


def _steps(
    before: Ticket | None, events: Sequence[TicketEvent]
) -> list[tuple[Ticket | None, Ticket]]:
    """``(ticket before, ticket after)`` for each event in turn."""
    fold: _Fold | None = None if before is None else _Fold.thaw(before)
    steps: list[tuple[Ticket | None, Ticket]] = []
    previous = before
    for event in events:
        if fold is None:
            fold = _Fold.start(event)
        else:
            fold.apply(event)
        after = fold.freeze()
        steps.append((previous, after))
        previous = after
    return steps


class _After(Protocol):
    """The ticket after a commit's events: the fold (cheap fields) and, on demand, the frozen
    snapshot (``SupportDesk``'s live ticket state)."""

    fold: _Fold

    @property
    def ticket(self) -> Ticket: ...


@attrs.frozen
class _Pending:
    """A notice and the outbox keys of its in-process (hookimpl) receivers, to fire now."""

    notice: Notice
    keys: Mapping[str, str]  # receiver -> outbox key


class DeskPlugins:
    """Everything the desk asks of its :class:`PluginHost`."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._receivers: dict[str, list[str]] = {}
        self._targets: dict[str, tuple[tuple[str, bool], ...]] = {}
        self._plugins: tuple[str, ...] = ()
        self._inline: bool | None = None
        self._desk: object = None
        # The registered objects already attached to the desk (kept, so their ids stay theirs).
        self._attached: dict[int, object] = {}

    def bind(self, desk: object) -> None:
        """Attach the registered channels, CRM backends and notifiers to *desk* now, and any
        registered later when the desk next looks at its plugins."""
        self._desk, self._plugins = desk, ()
        self.refresh()

    def refresh(self) -> tuple[str, ...]:
        """Notice changes to the host's plugins: forget what was remembered about the old set
        and call ``attach(desk)`` on each registered object that has one and was not attached
        yet. Returns the plugin names."""
        plugins = tuple(self.host.plugin_names())
        if plugins != self._plugins:
            self._receivers, self._targets, self._inline = {}, {}, None
            if self._desk is not None:
                self._attach()
            self._plugins = plugins  # only once every object is attached (a failure retries)
        return plugins

    def _attach(self) -> None:
        registries = (
            ("channel", self.host.channels()),
            ("crm", self.host.crm_backends()),
            ("notifier", self.host.notifiers()),
        )
        for kind, registry in registries:
            for name, obj in registry.items():
                attach = getattr(obj, "attach", None)
                if attach is None or id(obj) in self._attached:
                    continue
                try:
                    attach(self._desk)
                except Exception as exc:
                    raise PluginError(
                        f"{kind} {name!r} failed in attach(desk): {type(exc).__name__}: {exc}",
                        plugin=f"{kind}:{name}",
                    ) from exc
                self._attached[id(obj)] = obj

    def inline(self) -> bool:
        """Whether any notice kind has an in-process (hookimpl) receiver."""
        receivers = self.receivers()
        if self._inline is None:
            self._inline = any(
                not receiver.startswith("notifier:")
                for kind in NOTICE_TYPES
                for receiver in receivers(kind)
            )
        return self._inline

    def receivers(self) -> Callable[[str], list[str]]:
        """``host.receivers``, remembered per notice kind until the host's plugins change (it
        is asked for every appended event)."""
        self.refresh()
        known = self._receivers

        def receivers(kind: str) -> list[str]:
            found = known.get(kind)
            if found is None:
                found = known[kind] = self.host.receivers(kind)
            return found

        return receivers

    def targets(self) -> Callable[[str], tuple[tuple[str, bool], ...]]:
        """Like :meth:`receivers`, each receiver paired with whether it is in-process (a
        hookimpl, fired right after the commit) rather than a notifier."""
        receivers = self.receivers()
        known = self._targets

        def targets(kind: str) -> tuple[tuple[str, bool], ...]:
            found = known.get(kind)
            if found is None:
                found = known[kind] = tuple(
                    (receiver, not receiver.startswith("notifier:")) for receiver in receivers(kind)
                )
            return found

        return targets

    # lookups
    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        return self.host.lookup_customer(message=message)

    def lookup_tier(self, customer: Customer, message: InboundMessage) -> Tier | None:
        return self.host.lookup_tier(customer=customer, message=message)

    def suggest_articles(self, query: str, message: InboundMessage, k: int) -> Any | None:
        return self.host.suggest_articles(query=query, message=message, k=k)

    def select_policy(self, ticket: Ticket, policies: Sequence[Any]) -> Any | None:
        return self.host.select_sla_policy(ticket=ticket, policies=policies)

    def routing_strategy(self, queue: str) -> SelectionStrategy | None:
        return self.host.routing_strategy(queue=queue)

    def open_store(self, name: str, options: Mapping[str, Any]) -> EventStore:
        """Open the store registered as *name* with *options* (its keyword arguments)."""
        factory = self.host.store_factory(name)
        try:
            return factory(**options)
        except SupportkitError:
            raise
        except Exception as exc:
            # The options' names only: their values may hold a password (a URL's).
            raise PluginError(
                f"store {name!r} could not be opened with options "
                f"{', '.join(sorted(map(str, options))) or '(none)'}: "
                f"{type(exc).__name__}: {exc}",
                plugin=f"store:{name}",
            ) from exc

    # notices -> outbox rows
    def rows(
        self,
        before: Ticket | None,
        events: Sequence[TicketEvent],
        after: _After,
        *,
        now: int,
        lease: int,
        message: InboundMessage | None = None,
        alerts: Sequence[tuple[Any, datetime | None]] = (),
    ) -> tuple[list[OutboxMessage], list[_Pending]]:
        """The outbox rows for *events* and *alerts*, and the notices to fire in-process now.

        Rows of in-process receivers are written leased (hidden from ``deliver`` for *lease*
        seconds): the desk fires them right after the commit and settles them.
        """
        rows: list[OutboxMessage] = []
        pending: list[_Pending] = []
        targets = self.targets()
        ticket_id = after.fold.id
        due_inline = now + lease
        steps: list[tuple[Ticket | None, Ticket]] = []

        def make(kind: str, index: int, event: TicketEvent) -> Notice:
            """The notice of event *index*, its tickets folded only now that an in-process
            receiver needs it (rows themselves only name the version and the event)."""
            if not steps:
                steps.extend(_steps(before, events))
            previous, ticket = steps[index]
            return _notice(kind, previous, ticket, event, message)

        version = after.fold.version - len(events)
        for index, event in enumerate(events):
            version += 1
            ident = event.id
            for kind in _event_kinds(event):
                found = targets(kind)
                if not found:
                    continue
                # The payload names the version and the event, so a retry rebuilds the same
                # notice from the log.
                payload: dict[str, Any] = {"version": version, "event": ident}
                if kind == "ticket_created" and message is not None:
                    payload["message"] = _message_dict(message)
                keys = _fan_out(rows, found, kind, ident, ticket_id, payload, now, due_inline)
                if keys:
                    pending.append(_Pending(make(kind, index, event), keys))
            if (
                event.kind == "message"
                and event.by is not Role.CUSTOMER
                and event.data["public"]
                and self.host.can_send(event.data["channel"] or after.fold.channel)
            ):
                rows.append(self._reply_row(after.fold, event, version, now))
        for alert, deadline in alerts:
            kind = "sla_breached" if alert.kind == "breach" else "sla_warning"
            alert_payload: dict[str, Any] = {
                "version": after.fold.version,
                "metric": alert.metric,
                "cycle": alert.cycle,
                "level": alert.level,
                "at": to_epoch(alert.at),
                "key": alert.key,
                "deadline": None if deadline is None else to_epoch(deadline),
            }
            if alert.kind == "uncovered":
                alert_payload["reason"] = "uncovered"
            keys = _fan_out(
                rows, targets(kind), kind, alert.key, ticket_id, alert_payload, now, due_inline
            )
            if keys:
                pending.append(_Pending(_sla_notice(after.ticket, alert, deadline), keys))
        return rows, pending

    def article_rows(
        self,
        previous: Article | None,
        event: ArticleEvent,
        article: Article,
        *,
        now: int,
        lease: int,
    ) -> tuple[list[OutboxMessage], list[_Pending]]:
        """The outbox rows of the ``article_changed`` notice for *event* (which turned
        *previous* into *article*) and the notice to fire in-process now, as :meth:`rows` does
        for a ticket's events. A row names the article and its version (``ticket_id`` is
        empty: the notice belongs to no ticket), so a retry rebuilds it from the article log."""
        rows: list[OutboxMessage] = []
        kind = ArticleChanged.kind
        ident = json.dumps([article.id, article.version])  # an id may hold any character
        payload = {"article": article.id, "version": article.version}
        keys = _fan_out(rows, self.targets()(kind), kind, ident, "", payload, now, now + lease)
        pending = [_Pending(ArticleChanged(article, event, previous), keys)] if keys else []
        return rows, pending

    def deliver_article(self, message: OutboxMessage, log: Sequence[ArticleEvent]) -> None:
        """Deliver one ``article_changed`` outbox *message*, rebuilt from the article's *log*;
        raise on failure."""
        version = int(message.payload["version"])
        if not 1 <= version <= len(log):
            raise StoreError(
                f"outbox {message.key}: article {message.payload['article']} has {len(log)} "
                f"events, the message needs version {version}"
            )
        previous = fold_article(log[: version - 1])
        article = apply_article(previous, log[version - 1])
        notice = ArticleChanged(article, log[version - 1], previous)
        errors = self.host.notify(notice, only={message.payload["receiver"]})
        if errors:
            raise errors[0]

    def _reply_row(
        self, ticket: _Fold, event: TicketEvent, version: int, now: int
    ) -> OutboxMessage:
        return OutboxMessage(
            key=f"reply:{event.id}",
            topic="reply",
            ticket_id=ticket.id,
            payload={"version": version, "event": event.id, "recipient": ticket.customer},
            created_at=now,
        )

    def fire(self, pending: Sequence[_Pending]) -> tuple[list[str], list[tuple[str, PluginError]]]:
        """Call the in-process receivers now; return delivered keys and ``(key, error)``."""
        delivered: list[str] = []
        failed: list[tuple[str, PluginError]] = []
        for item in pending:
            errors = {e.plugin: e for e in self.host.notify(item.notice, only=item.keys.keys())}
            for receiver, key in item.keys.items():
                error = errors.get(receiver)
                if error is None:
                    delivered.append(key)
                else:
                    failed.append((key, error))
        return delivered, failed

    # delivery from the outbox
    def deliver(
        self,
        message: OutboxMessage,
        history: History,
        sent_id: Callable[[str], str | None],
    ) -> tuple[str, str] | None:
        """Deliver one outbox *message*, rebuilt from the ticket's *history*; raise on failure.

        ``sent_id(event_id)`` is the id a channel gave an earlier reply (for a reply's
        ``references``). Returns ``(channel, id)`` of a sent reply the channel gave a
        non-empty id, else ``None``.
        """
        payload = message.payload
        version = int(payload["version"])
        log = history.log
        if version > len(log):
            raise StoreError(
                f"outbox {message.key}: ticket {message.ticket_id} has {len(log)} events, the "
                f"message needs version {version}"
            )
        ticket = history.at(version)
        if message.topic == "reply":
            event = log[version - 1]
            channel = OutboundReply(ticket, event).channel
            ids = _thread_ids(log[: version - 1], channel, ticket.channel, sent_id)
            reply = OutboundReply(
                ticket,
                event,
                payload.get("recipient"),
                next((mid for mid, by in reversed(ids) if by is Role.CUSTOMER), None),
                references=[mid for mid, _ in ids],
                automatic=event.by is not Role.AGENT,
            )
            sent = self.host.send_reply(reply=reply)
            return (reply.channel, sent) if sent else None
        notice: Notice
        if message.topic in ("sla_warning", "sla_breached"):
            alert = _Alert(
                "breach" if message.topic == "sla_breached" else payload.get("reason", "warning"),
                payload["metric"],
                payload["cycle"],
                payload["level"],
                from_epoch(payload["at"]),
                payload["key"],
            )
            deadline = None if payload["deadline"] is None else from_epoch(payload["deadline"])
            notice = _sla_notice(ticket, alert, deadline)
        else:
            event = log[version - 1]
            before = history.at(version - 1) if version > 1 else None
            notice = _notice(
                message.topic, before, ticket, event, _message_from(payload.get("message"))
            )
        errors = self.host.notify(notice, only={payload["receiver"]})
        if errors:
            raise errors[0]
        return None


def _thread_ids(
    log: Sequence[TicketEvent],
    channel: str,
    default: str,
    sent_id: Callable[[str], str | None],
) -> list[tuple[str, Role]]:
    """``(message id, author role)`` of the messages of *log* on *channel* (a message without
    one is on the ticket's channel, *default*), oldest first: a customer's own id, a sent
    public reply's the id its channel gave it (``sent_id``)."""
    ids: list[tuple[str, Role]] = []
    for event in log:
        if event.kind != "message" or (event.data["channel"] or default) != channel:
            continue
        if event.by is Role.CUSTOMER:
            found = event.data["message_id"]
        elif event.data["public"]:
            found = sent_id(event.id)
        else:
            continue
        if found:
            ids.append((found, event.by))
    return ids


class History:
    """A ticket's log and its snapshot at any version, folded forward once for a batch of
    outbox deliveries (asking for versions in ascending order costs one fold in all)."""

    def __init__(self, log: Sequence[TicketEvent]) -> None:
        self.log = log
        self._fold: _Fold | None = None
        self._seen: dict[int, Ticket] = {}

    def at(self, version: int) -> Ticket:
        """The ticket after its first *version* events (``version >= 1``)."""
        found = self._seen.get(version)
        if found is not None:
            return found
        fold = self._fold
        if fold is None or fold.version > version:
            fold = self._fold = _Fold.start(self.log[0])
        for event in self.log[fold.version : version]:
            fold.apply(event)
        found = self._seen[version] = fold.freeze()
        return found


@attrs.frozen
class _Alert:
    """An SLA alert rebuilt from an outbox row (the fields a notice needs)."""

    kind: str
    metric: str
    cycle: int
    level: float
    at: datetime
    key: str


def failure_text(exc: BaseException) -> str:
    """A one-line description of a delivery failure for the outbox's ``last_error``."""
    if isinstance(exc, PluginError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
