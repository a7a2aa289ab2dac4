"""Protocols for people who extend supportkit with classes of their own.

Everything here is a :class:`typing.Protocol`: implement the methods, no base class needed.
Plugins register objects of these shapes through the registration hooks in
:mod:`supportkit.hookspecs` (``register(name, obj)``). Note the two channels:
:class:`supportkit.typing.Channel` is the protocol of an object that talks to a channel, while
:class:`supportkit.Channel` is the enum naming the channel a message came through.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from ._clock import Clock
from ._commit import Commit, OutboxMessage
from ._engineering import AffectedCustomers, EngineeringIssue, IssueUpdate
from ._hookargs import Notice, OutboundReply
from ._knowledge import ArticleEvent, ArticleHit
from ._metrics import SessionEvent
from ._model import Customer, InboundMessage, TicketEvent, Tier
from ._routing import SelectionStrategy
from ._sla import SlaPolicy
from ._ticket import Ticket

if TYPE_CHECKING:
    from ._desk import SupportDesk

__all__ = [
    "Channel",
    "Clock",
    "Command",
    "CrmBackend",
    "DeskStore",
    "EventStore",
    "IssueTracker",
    "Notice",
    "Notifier",
    "PluginState",
    "Poller",
    "PollerFactory",
    "RoutingStrategyFactory",
    "SelectionStrategy",
    "SlaPolicySource",
    "Store",
    "StoreFactory",
]


@runtime_checkable
class EventStore(Protocol):
    """An append-only log of :class:`~supportkit.TicketEvent` with per-ticket versions.

    A ticket's version is the number of events in its log (0 for an unknown ticket). Appends are
    optimistic: they name the version the caller last read, and fail with
    :class:`~supportkit.ConcurrencyError` if anyone appended since, so two writers never
    interleave unseen.
    """

    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append *events* (all of *ticket_id*) atomically and return the new version.

        Raises :class:`~supportkit.ConcurrencyError` if the ticket's version is not
        *expected_version*, and :class:`~supportkit.StoreError` (nothing written) for events of
        another ticket. An empty *events* changes nothing and returns the current version.
        """
        ...

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Return the ticket's events after version *after*, in log order."""
        ...

    def version(self, ticket_id: str) -> int:
        """Return the ticket's current version (0 if it has no events)."""
        ...

    def ticket_ids(self) -> list[str]:
        """Return the ids of every ticket in the store, in order of creation."""
        ...

    def read_all(self) -> Iterator[TicketEvent]:
        """Yield every event of every ticket in global append order."""
        ...


@runtime_checkable
class DeskStore(EventStore, Protocol):
    """Everything :class:`~supportkit.SupportDesk` keeps in a store: the event log plus the
    desk's extras, so several desks (threads, processes, machines) on one store share one truth.

    The extras: atomic commits (:class:`~supportkit.Commit`), the message index (which ticket a
    channel's message id belongs to), ticket snapshots, the SLA due index (with claims, so
    concurrent tickers split the work), the SLA alert keys already emitted, the outbox (claimed
    with leases, settled, listed, pruned), named JSON documents (``meta``: the desk's settings)
    and namespaced plugin state with expiry. Export, import and erasure work on every store
    through the listings (:meth:`message_index`, :meth:`alert_index`, :meth:`meta_items`,
    :meth:`state_items`), :meth:`restore` and :meth:`redact`.

    Instants are epoch seconds (``int``). Methods that need "now" take it from the caller (the
    desk's clock), so a store never reads a clock. A store that implements only
    :class:`EventStore` still works: the desk keeps these extras beside it in process memory
    (``MemorySidecar``), which is right for tests and a single process only.
    ``supportkit.testing.stores.DeskStoreContract`` is the test suite every implementation
    must pass, and :mod:`supportkit.storekit` has the checks, errors and JSON forms the
    built-in stores share.
    """

    def commit(self, commit: Commit) -> int:
        """Write *commit* atomically and return the ticket's new version.

        Raises :class:`~supportkit.ConcurrencyError` (nothing written) if the version is stale,
        the message id was already ingested or an alert key was already recorded. Writing a
        due instant (or removing it) also drops any claim on the ticket's due entry;
        ``keep_due`` leaves both alone. Outbox keys already present are kept as they are.
        """
        ...

    def batch(self, messages: Sequence[InboundMessage] = ()) -> AbstractContextManager[None]:
        """Group this thread's writes inside ``with store.batch():`` into one transaction.

        *messages* are the inbound messages the block is about to ingest, if known (what
        ``SupportDesk.ingest_many`` passes): a hint only, so a store that reads over a network
        may look up their message ids, references and named tickets in one go instead of one
        round trip each; the block must behave the same with or without it.

        The block's writes become durable together, when it exits normally (one commit, so one
        fsync for many :meth:`commit` calls: what ``SupportDesk.ingest_many`` is built on).
        Inside the block every write is still all-or-nothing on its own: a :meth:`commit` that
        raises (a :class:`~supportkit.ConcurrencyError`, say) wrote none of its parts and
        leaves the block's other writes in place, so the caller may go on. Reads by this
        thread inside the block see its writes; other connections and processes see none of
        them before the block exits. A block inside a block joins the outer one.

        If the block raises, a transactional store (SQLite, PostgreSQL) keeps none of its
        writes; the in-memory sidecar, which keeps nothing durable anyway, keeps the commits
        that succeeded. A failure that breaks the transaction itself (a lost connection, a
        full disk) is a :class:`~supportkit.StoreError` from the write that met it and again
        from the block's exit, and none of the block's writes are kept; nor are they when the
        process is killed inside the block. A connection lost while the final commit is sent
        leaves its outcome unknown: the :class:`~supportkit.StoreError` says so (re-read
        before retrying).
        """
        ...

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """The ticket a channel message id belongs to, or ``None`` if it is not indexed."""
        ...

    def record_message(self, channel: str, message_id: str, ticket_id: str) -> None:
        """Index a message id outside a commit (an outbound message's id once it was sent).

        An id already indexed keeps its ticket.
        """
        ...

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """The latest stored snapshot (it may lag the log: compare ``.version``)."""
        ...

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """``(ticket_id, due)`` pairs with ``due <= until``, earliest (then by id) first,
        claimed or not."""
        ...

    def claim_due(self, until: int, *, now: int, limit: int, lease: int) -> list[tuple[str, int]]:
        """Like :meth:`due`, but only entries nobody holds, and hold them until ``now + lease``.

        Two tickers never get the same ticket while the claim stands; a claim whose holder died
        expires after *lease* seconds. :meth:`release_due` (or a commit writing the ticket's due
        instant) ends it.
        """
        ...

    def release_due(self, ticket_ids: Sequence[str]) -> None:
        """End the claims on these tickets' due entries (unknown ids are ignored)."""
        ...

    def alerts(self, ticket_id: str) -> frozenset[str]:
        """The SLA alert keys already emitted for the ticket."""
        ...

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[OutboxMessage]:
        """Take up to *limit* pending messages due by *now* and hide them for *lease* seconds.

        Two deliverers never hold the same message at once. A claimed message that is neither
        delivered nor failed within the lease (its deliverer died) becomes due again, so
        delivery is at-least-once.
        """
        ...

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
        deferred: Sequence[tuple[str, str, int]] = (),
    ) -> None:
        """Record delivery attempts at *at* in one write: *delivered* keys, and *failed*
        ``(key, error, retry_at)`` triples (``retry_at`` ``None`` dead-letters the message),
        each counting one attempt; *deferred* ``(key, error, retry_at)`` triples (the receiver
        asked to be tried again at ``retry_at``: ``IntegrationError.retry_at``) stay pending
        until then with ``last_error`` set and their attempts unchanged."""
        ...

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """Every outbox message (of one status if given), oldest first."""
        ...

    def prune_outbox(self, before: int) -> int:
        """Forget the messages delivered before *before*; return how many (dead letters stay)."""
        ...

    def meta(self, key: str) -> Any:
        """The JSON document stored under *key*, or ``None``."""
        ...

    def set_meta(self, key: str, value: Any) -> None:
        """Store the JSON-compatible *value* under *key*, replacing what was there."""
        ...

    def state_get(self, namespace: str, key: str, *, now: int) -> Any:
        """The plugin state value under (*namespace*, *key*), or ``None`` if missing or
        expired (``expires_at <= now``)."""
        ...

    def state_put(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> None:
        """Store the JSON-compatible *value*, replacing what was there; ``expires_at`` ``None``
        keeps it until deleted. A store may drop a few expired entries on the way."""
        ...

    def state_put_new(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> bool:
        """Store *value* unless a live (unexpired) value is there; ``True`` if it was stored.

        Atomic: of concurrent callers with the same key exactly one gets ``True``.
        """
        ...

    def state_delete(self, namespace: str, key: str) -> None:
        """Forget the value under (*namespace*, *key*) (nothing happens if there is none)."""
        ...

    def append_article(
        self,
        article_id: str,
        events: Sequence[ArticleEvent],
        *,
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
    ) -> int:
        """Append *events* to the article's log atomically and return its new version.

        Like :meth:`EventStore.append` for tickets: a stale *expected_version* is a
        :class:`~supportkit.ConcurrencyError`, an event that does not fold onto the article
        (``supportkit.storekit.check_article_append`` checks both) an
        :class:`~supportkit.EventError`, and nothing is written. The store keeps its search
        index of the article's folded state in the same write: published articles are found,
        others not. *outbox* messages (the article's notices) are written in the same write,
        as a :class:`Commit`'s are (a key already in the outbox is left as it is).
        """
        ...

    def article_events(self, article_id: str | None = None) -> list[ArticleEvent]:
        """One article's events in log order, or (``None``) every article event in append
        order; an unknown article has none."""
        ...

    def search_articles(
        self,
        terms: Sequence[str],
        *,
        k: int,
        locale: str | None = None,
        tags: Sequence[str] = (),
        area: str | None = None,
    ) -> list[ArticleHit]:
        """The best *k* published articles for *terms*, best first.

        *terms* are lower-case words (``supportkit.storekit.query_terms``), each matched as a
        prefix of a word of the title or body; ranked by relevance (BM25 or the engine's own)
        with ``score`` higher for better hits and the body's matched words wrapped in ``**`` in
        ``snippet``. Only articles in *locale*, in *area* and carrying every one of *tags* are
        found when those are given.
        """
        ...

    # --- listing, restoring and rewriting (export, import, erasure) ----------------------------

    def message_index(self) -> list[tuple[str, str, str]]:
        """Every ``(channel, message_id, ticket_id)`` of the message index (inbound ids from
        commits and outbound ids from :meth:`record_message`), by channel then message id."""
        ...

    def alert_index(self) -> list[tuple[str, str]]:
        """Every ``(ticket_id, key)`` SLA alert key emitted, by ticket then key."""
        ...

    def meta_items(self) -> list[tuple[str, Any]]:
        """Every ``(key, document)`` stored with :meth:`set_meta`, by key."""
        ...

    def state_items(self, *, now: int) -> list[tuple[str, str, Any, int | None]]:
        """Every live plugin state entry ``(namespace, key, value, expires_at)`` (expired ones,
        ``expires_at <= now``, are left out), by namespace then key."""
        ...

    def set_meta_if(self, key: str, value: Any, *, expected: Any) -> bool:
        """Store *value* under *key* only if the document there equals *expected* (``None``:
        no document); ``True`` if it was stored.

        Atomic (compare-and-set): of concurrent callers expecting the same document exactly
        one succeeds, and the others change nothing. Documents compare as JSON values.
        """
        ...

    def restore(
        self,
        *,
        events: Sequence[tuple[int, TicketEvent]] = (),
        messages: Sequence[tuple[str, str, str]] = (),
        alerts: Sequence[tuple[str, str]] = (),
        due: Sequence[tuple[str, int]] = (),
        outbox: Sequence[OutboxMessage] = (),
        meta: Sequence[tuple[str, Any]] = (),
        state: Sequence[tuple[str, str, Any, int | None]] = (),
    ) -> None:
        """Write records listed from another store (an import, a move) in one transaction.

        *events* are ``(version, event)`` pairs in global append order; each must be its
        ticket's next version, else :class:`~supportkit.ConcurrencyError` and nothing is
        written. Message ids, alert keys, outbox keys, meta keys and plugin state keys already
        present keep what is there; an outbox message is written as given (status, attempts,
        error and instants: delivered and dead messages stay so). A *due* ``(ticket_id,
        due_at)`` replaces the ticket's due entry and ends any claim on it.
        """
        ...

    def redact(
        self,
        events: Sequence[tuple[int, TicketEvent]],
        *,
        tickets: Sequence[str],
        message_ids: Sequence[tuple[str, str, str]] = (),
        payload: Mapping[str, Any],
        reason: str,
        scrub: bool = True,
    ) -> int:
        """Rewrite stored history to remove personal data (an erasure, body retention), in
        one transaction; return how many outbox messages were redacted.

        Each ``(version, event)`` of *events* replaces the event of ``event.ticket_id`` at
        that version (same event id, else :class:`~supportkit.StoreError` and nothing is
        written); *message_ids* ``(channel, old, new)`` rename ids in the message index. The
        snapshots of *tickets* are dropped and their outbox messages get *payload*; pending
        ones are dead-lettered with *reason*.

        With *scrub* (an erasure) the store then rewrites its files so that no free space
        keeps the old values (SQLite: ``secure_delete`` and ``VACUUM``; PostgreSQL:
        ``VACUUM FULL`` of the rewritten tables, which locks them while it runs); without it
        (routine retention) it only reclaims the old row versions (SQLite: ``secure_delete``
        and a WAL checkpoint; PostgreSQL: ``VACUUM``).
        """
        ...

    def append_sessions(self, events: Sequence[SessionEvent]) -> None:
        """Append self-service session events (:class:`~supportkit.SessionEvent`: help-centre
        searches, article views, ...) to the session stream, all in one write.

        Anything that is not a ``SessionEvent`` is a :class:`~supportkit.StoreError` and
        nothing is written (``supportkit._selfservice.check_sessions`` checks it).
        """
        ...

    def session_events(self, *, since: int | None = None) -> list[SessionEvent]:
        """The session stream in append order; with *since* (epoch seconds) only the events
        at or after that instant."""
        ...

    def redact_sessions(self, customer: str, pseudonym: str) -> int:
        """Rewrite *customer*'s session events (an erasure): *pseudonym* for the customer and
        an empty ``query``; the rest (kinds, instants, articles, result counts) stays. Returns
        how many were rewritten. A following :meth:`redact` with ``scrub`` clears the old
        values from the files."""
        ...


@runtime_checkable
class PluginState(Protocol):
    """A plugin's own small, durable key-value state, from ``desk.plugin_state(namespace)``.

    Kept in the desk's store (so it survives restarts and every process on the store sees it),
    separate per namespace. Keys are non-empty strings, values JSON-compatible (dicts with
    string keys, lists, strings, finite numbers, booleans, ``None``; a value comes back as
    ``json.loads`` would give it, a tuple as a list). No namespace, key or value may hold a
    lone surrogate (no store can encode one). A value may expire at an
    aware ``datetime``: from then on it reads as missing. Bad keys, values or instants raise
    :class:`~supportkit.ConfigurationError` and change nothing.
    """

    def get(self, key: str) -> Any | None:
        """The value under *key*, or ``None`` if there is none or it expired."""
        ...

    def put(self, key: str, value: Any, *, expires_at: datetime | None = None) -> None:
        """Store *value* under *key* (replacing what was there), until *expires_at* if given."""
        ...

    def put_new(self, key: str, value: Any, *, expires_at: datetime | None = None) -> bool:
        """Store *value* unless *key* holds a live value; ``True`` if it was stored.

        Atomic across threads and processes sharing the store: of concurrent callers exactly
        one wins, which is what replay protection needs (``put_new(signature, 1,
        expires_at=...)`` is ``False`` for a replay).
        """
        ...

    def delete(self, key: str) -> None:
        """Forget *key* (nothing happens if it is not there)."""
        ...


Store: TypeAlias = EventStore
"""The least a store plugin implements: :class:`EventStore`.

A store that also implements :class:`DeskStore` keeps all the desk's extras itself (SQLite,
PostgreSQL); for a bare ``EventStore`` the desk keeps them beside it in process memory.
"""

StoreFactory: TypeAlias = Callable[..., EventStore]
"""What ``supportkit_register_stores`` registers: a callable (often the class) that takes the
store's options as keyword arguments and returns a :class:`Store`."""

RoutingStrategyFactory: TypeAlias = Callable[[], SelectionStrategy]
"""What ``supportkit_register_routing_strategies`` registers: a callable returning a fresh
routing selection strategy (``choose(ticket, candidates)``, like ``supportkit.LeastLoaded``)."""

SlaPolicySource: TypeAlias = Callable[[], Iterable[SlaPolicy]]
"""What ``supportkit_register_sla_policy_sources`` registers: a callable returning
``supportkit.SlaPolicy`` objects, in the order they should be matched."""


@runtime_checkable
class Channel(Protocol):
    """Talks to one channel: parses what arrives, sends agents' replies.

    Not to be confused with the enum :class:`supportkit.Channel`. Register one with
    ``supportkit_register_channels``; the host dispatches on the registered name.

    Registered channels, CRM backends and notifiers may also define ``attach(desk) -> None``
    (not part of the protocols, so it stays optional): each
    :class:`~supportkit.SupportDesk` that loads the object calls it once, before using it,
    so the object can keep a reference to the desk (and its plugin state). An exception
    from it is a :class:`~supportkit.PluginError` naming the object.

    A channel that cannot send (it only receives, or sending is not configured) says so with
    an optional ``can_send`` attribute or property that is ``False`` (absent means ``True``,
    so channels that send need nothing). The desk asks it when a public reply or notice is
    written: for a ticket on a channel that cannot send, the message is kept on the ticket
    but no outbox row is queued (it could only fail and end in the dead letter), as for a
    channel no plugin registers. A ``supportkit_send_reply`` hookimpl sends on any channel.
    """

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        """Turn a raw *payload* (bytes, text or decoded JSON) into a validated message.

        The message's ``message_id`` must be stable: the same payload delivered twice gives
        the same id, so ingest stays idempotent; ``references`` (the message ids it answers,
        newest last) and ``ticket_hint`` (a ticket id the sender names) thread it. Raise
        :class:`~supportkit.EventError` for a payload that is not a valid message, and
        :class:`~supportkit.exceptions.Ignored` for noise (an auto-reply, a bounce, bulk
        mail, the desk's own mail coming back).
        """
        ...

    def send(self, reply: OutboundReply) -> str | None:
        """Deliver *reply*; return the channel's id for the sent message (or ``""``).

        A non-empty id joins the desk's message index, so the customer's answer that
        references it threads into the ticket. ``reply.in_reply_to`` and
        ``reply.references`` are the ids to thread the sent message on; ``reply.automatic``
        marks an automatic notice (email: ``Auto-Submitted: auto-replied``).

        Return ``None`` if this channel cannot send replies (and set ``can_send`` to
        ``False``, so the desk does not queue them). Raise
        :class:`~supportkit.IntegrationError` if delivery failed, so the outbox retries (its
        ``retry_at`` defers the retry without spending an attempt; ``permanent=True``
        dead-letters the reply at once).
        """
        ...


@runtime_checkable
class CrmBackend(Protocol):
    """Looks up customers and their tiers in a CRM.

    Register one with ``supportkit_register_crm_backends``.
    """

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        """Return the customer who sent *message* (by ``message.sender``), or ``None``."""
        ...

    def lookup_tier(self, customer: Customer) -> Tier | None:
        """Return *customer*'s tier, or ``None`` if this backend does not know it."""
        ...


@runtime_checkable
class IssueTracker(Protocol):
    """An engineering issue tracker (GitHub Issues, Jira): where problems go to be fixed.

    Register one with ``supportkit_register_issue_trackers``. The desk calls
    ``create_issue``, ``link_issue`` and ``update_issue`` only from its outbox, at least once
    (a call may come again after it succeeded: ``update_issue`` sets the figures, and
    ``create_issue`` may look for the issue an earlier call made). Failures to reach the
    tracker raise :class:`~supportkit.IntegrationError` (or a subclass), which the outbox
    retries (its ``retry_at`` and ``permanent`` steer that); a reference ``link_issue`` can
    never read raises :class:`~supportkit.EventError`; a webhook that fails its signature check
    raises :class:`~supportkit.EventError` naming the header.
    """

    def create_issue(self, problem: Ticket, affected: AffectedCustomers) -> EngineeringIssue:
        """Open an issue for the *problem* ticket, carrying who it *affected* (tiers, weight)."""
        ...

    def link_issue(self, reference: str) -> EngineeringIssue:
        """The existing issue *reference* names (the tracker's own spelling, or its URL)."""
        ...

    def update_issue(self, issue: EngineeringIssue, affected: AffectedCustomers) -> None:
        """Bring the issue's affected-customers figures up to date (an incident was linked)."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> list[IssueUpdate]:
        """The state changes a webhook delivery reports (after checking its signature); an
        empty list for deliveries about anything else."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Receives every lifecycle notice (ticket created, SLA breached, ...).

    Register one with ``supportkit_register_notifiers``. A notifier that raises is reported
    as a :class:`~supportkit.PluginError` and never stops the other receivers; the outbox
    retries it (an :class:`~supportkit.IntegrationError`'s ``retry_at`` and ``permanent``
    steer when, or whether).

    A notifier that wants only some notices says so with an optional ``notice_kinds`` attribute,
    a collection of notice kinds (``frozenset({"sla_breached", "ticket_escalated"})``): the
    desk then queues only those for it in the outbox, instead of every notice of every event.
    """

    def notify(self, notice: Notice) -> None:
        """Handle *notice* (dispatch on ``notice.kind`` to pick the ones you care about)."""
        ...


@runtime_checkable
class Command(Protocol):
    """A ``supportkit`` subcommand a plugin adds (``supportkit serve``, ``supportkit imap-test``).

    Register one with ``supportkit_register_commands``; the command line adds it under its
    registered name, beside the built-in commands (which win a clash).
    """

    help: str
    """One line for ``supportkit --help`` (also the subcommand's description)."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's options and arguments to its subcommand *parser*."""
        ...

    def run(self, args: argparse.Namespace) -> int:
        """Run with the parsed *args*; return the exit status (0 for success).

        Raise a :class:`~supportkit.SupportkitError` for a failure the user should read: the
        command line prints it as ``supportkit: error: ...`` and exits with status 1.
        """
        ...


@runtime_checkable
class Poller(Protocol):
    """Fetches inbound messages from somewhere that has to be asked (an IMAP mailbox, a
    chat platform's history API) and hands them to the desk, a batch per call.

    A :class:`PollerFactory` registered through ``supportkit_register_pollers`` makes one for
    a desk; ``supportkit run`` calls :meth:`poll` in its loop and :meth:`close` at shutdown.
    """

    def poll(self) -> int:
        """Fetch what is new, hand it to the desk (``desk.receive(...)``) and return how many
        messages were handled (ingested, duplicates and ignored noise alike); 0 when idle.

        Raise :class:`~supportkit.IntegrationError` when the source cannot be reached: the
        runner logs it and polls again later.
        """
        ...

    def close(self) -> None:
        """Release connections; the poller is not used again."""
        ...


class PollerFactory(Protocol):
    """What ``supportkit_register_pollers`` registers: ``factory(desk, options) -> Poller``.

    *desk* is the :class:`~supportkit.SupportDesk` the poller feeds and *options* its
    settings (a mapping; for ``supportkit run``, the plugin's configuration table).
    """

    def __call__(self, desk: SupportDesk, options: Mapping[str, Any]) -> Poller:
        """Make a :class:`Poller` for *desk* with *options*."""
        ...
