"""``SupportDesk``: the engine a host application embeds.

ingest → customer lookup → SLA policy → append (with the idempotency key, snapshot, due index
and outbox rows in one commit) → route (a compare-and-set claim) → broadcast hooks. ``tick``
emits SLA warnings, breaches and escalations exactly once from the due index; ``deliver`` drains
the outbox with retries, backoff and a dead letter. The layers below stay I/O-free: the desk is
the only place that touches stores and plugins.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import attrs

from . import _engineering, _problems, _settings
from ._calendar import BusinessCalendar
from ._clock import Clock, SystemClock
from ._config import DeskConfig
from ._coverage import FollowTheSun
from ._deskloop import KnowledgeSettings, SelfServiceLoop
from ._desknotify import DeskPlugins, History, as_host, failure_text
from ._deskstore import Commit, DeskStore, MemorySidecar, OutboxMessage
from ._engineering import AffectedCustomers, EngineeringIssue, IssueUpdate
from ._escalation import EscalationLadder, EscalationLevel, OnSlaAlert
from ._feedback import Feedback, feedback
from ._hookargs import ArticleChanged
from ._metrics import Goal, MetricsReport, TicketFacts, metrics_report
from ._model import (
    Customer,
    InboundMessage,
    Priority,
    Role,
    Status,
    TicketEvent,
    Tier,
    listed,
)
from ._model import _text as check_text
from ._nextstep import (
    WONT_FIX,
    NextStep,
    issue_state,
    next_step,
    problem_issue,
    problem_owner,
    problem_solved,
    sla_deadline,
)
from ._plugins import PluginHost
from ._pluginstate import StoreState
from ._problems import ProblemSettings, ProblemSuggestion
from ._routing import Claim, Router, claim_with
from ._sla import (
    SlaAlert,
    SlaEvaluation,
    SlaPolicy,
    SlaStatus,
    SlaTracker,
    check_policies,
    select_policy,
)
from ._sqlite import DEFAULT_DATABASE, SqliteStore
from ._ticket import Ticket, _Fold
from ._time import from_epoch, seconds, to_epoch
from ._transfer import ErasureResult, erase, purge_bodies
from .exceptions import (
    ConcurrencyError,
    ConfigurationError,
    EventError,
    Ignored,
    IntegrationError,
    PluginError,
    PolicyError,
    StoreError,
    SupportkitError,
    TicketStateError,
)
from .typing import EventStore, PluginState

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_LADDER",
    "DeliveryResult",
    "IngestResult",
    "SupportDesk",
    "TickResult",
]

log = logging.getLogger("supportkit.desk")
log.addHandler(logging.NullHandler())  # a library logs; the application decides what to show


#: What an action hands ``_apply``: the ticket's fold and the instant -> the events to append.
_Build = Callable[[_Fold, datetime], list[TicketEvent]]
#: Extra outbox rows an action makes of its events (and the epoch second now).
_Rows = Callable[[list[TicketEvent], int], list[OutboxMessage]]

_REOPENS = frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED})
_DONE = frozenset({Status.SOLVED, Status.CLOSED})
#: A ticket's snapshot is stored at least every this many events.
SNAPSHOT_EVERY = 8
#: Events no SLA clock depends on: they leave the ticket's due instant as it was.
_SLA_NEUTRAL = frozenset(
    {
        "assigned",
        "tagged",
        "escalated",
        "satisfaction_rated",
        "kb_article_viewed",
        "deflected",
        "articles_suggested",
        "article_helped",
        "article_not_helped",
        "engineering_issue_changed",
    }
)
#: The emitted alert keys of a new ticket (one shared object: ``frozenset()`` makes a new one).
_NO_ALERTS: frozenset[str] = frozenset()
_SOLVED = Status.SOLVED
#: Events that re-target SLA clocks, so an alert may be due at once.
_RETARGETS = frozenset({"sla_policy_applied", "priority_changed"})

#: The default escalation ladder: L1 → L2 → L3 → engineering, one level up on an SLA breach.
DEFAULT_LADDER = EscalationLadder(
    [
        EscalationLevel("L1"),
        EscalationLevel("L2"),
        EscalationLevel("L3"),
        EscalationLevel("engineering", engineering=True),
    ],
    triggers=[OnSlaAlert("breach")],
)
_RETRIES = 8
_T = TypeVar("_T")
#: The store's state namespace holding the id each channel gave a sent reply, by the reply
#: event's id (a name no plugin namespace takes: plugins use their package names).
SENT_IDS = "supportkit.sent-message-ids"
#: The largest ``limit`` of :meth:`SupportDesk.tick` and :meth:`SupportDesk.deliver`.
MAX_LIMIT = 1_000_000


@attrs.frozen
class IngestResult:
    """What :meth:`SupportDesk.ingest` (or :meth:`SupportDesk.receive`) did with one message.

    ``duplicate`` is true when the message id was ingested before (nothing was written and
    ``events`` is empty); ``created`` when the message opened a new ticket; ``assignee`` is the
    agent routing gave the ticket (``None`` if it waits in the queue or was not routed now).
    ``ignored`` is the reason when the channel refused the payload as noise (an
    :class:`~supportkit.exceptions.Ignored`): nothing was ingested, and ``ticket_id`` is the
    ticket the noise belongs to if one is known, else ``None`` (the only case it is ``None``).
    """

    ticket_id: str | None
    duplicate: bool
    created: bool = False
    events: tuple[TicketEvent, ...] = ()
    version: int = 0
    assignee: str | None = None
    ignored: str | None = None


@attrs.frozen
class TickResult:
    """What :meth:`SupportDesk.tick` did: ``checked`` tickets from the due index, the SLA
    ``warnings`` and ``breaches`` it emitted (``SlaAlert`` objects) and the ``escalated``
    events it appended. ``failed`` pairs each ticket that could not be ticked with the error
    (for example a ticket at a level the ladder no longer has): nothing was written for it,
    the other tickets were ticked as usual, and it stays due, so the next tick tries again."""

    at: datetime
    checked: int = 0
    warnings: tuple[Any, ...] = ()
    breaches: tuple[Any, ...] = ()
    escalations: tuple[TicketEvent, ...] = ()
    failed: tuple[tuple[str, Exception], ...] = ()


@attrs.frozen
class DeliveryResult:
    """What :meth:`SupportDesk.deliver` did: outbox keys ``delivered``, ``retried`` (failed,
    scheduled again with backoff), ``dead`` (failed for the last time, or for good: an
    :class:`~supportkit.IntegrationError` with ``permanent=True``) and ``deferred`` (the
    receiver asked to be tried again later: an :class:`~supportkit.IntegrationError` with
    ``retry_at``; no attempt was spent)."""

    delivered: tuple[str, ...] = ()
    retried: tuple[str, ...] = ()
    dead: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()


@attrs.define
class _Live:
    """The desk's in-process view of a ticket: the mutable fold (frozen into a
    :class:`Ticket` only when someone asks; the SLA tracker's own, if it has one), SLA tracker,
    due instant and emitted alert keys."""

    fold: _Fold
    tracker: SlaTracker | None
    due: int | None
    emitted: frozenset[str]
    snapshot_version: int = 0
    frozen: Ticket | None = None
    due_stored: bool = False
    """Whether the store's due index holds ``due`` (true after this process's commit)."""

    @property
    def ticket(self) -> Ticket:
        """The ticket as of the fold's last event."""
        if self.frozen is None:
            self.frozen = self.fold.freeze()
        return self.frozen

    def apply(self, event: TicketEvent) -> None:
        """Fold *event* into the ticket, once: a ticket with an SLA tracker has the tracker's
        own fold as its ``fold`` (see ``SupportDesk._replay``), so the tracker folds it."""
        self.frozen = None
        if self.tracker is None:
            self.fold.apply(event)
        else:
            self.tracker.apply(event)


def _new_ticket_id() -> str:
    return f"T-{uuid.uuid4().hex[:12]}"


class SupportDesk(SelfServiceLoop):
    """The support engine: ingest messages, act on tickets, keep SLA promises, notify.

    ``store`` is a :class:`SqliteStore` (the default: ``./supportkit.sqlite3``, see
    :data:`DEFAULT_DATABASE`), an :class:`~supportkit.InMemoryStore` for tests, or any
    :class:`~supportkit.typing.EventStore`, or the name of a store registered through
    ``supportkit_register_stores`` (``"sqlite"``, ``"memory"``, a plugin's), opened with
    ``store_options`` as keyword arguments (``{"path": ...}`` for ``"sqlite"``, whose path
    defaults to :data:`DEFAULT_DATABASE`). ``plugins`` are plugin objects (or a ready
    ``PluginHost``) for CRM lookups, notifiers, channels and lifecycle hooks, registered beside
    the built-ins and the installed entry-point plugins (``None``: no plugins at all);
    ``blocked_plugins`` names plugins never to register (an entry point's name, or
    ``"supportkit.builtins"``); ``clock`` the time source; ``policies`` the SLA policies in
    match order, a list of :class:`SlaPolicy` or one (``SlaPolicy.from_dict`` reads a dict; a
    tier's ``sla_policy`` names the one its tickets get), followed by the plugins' policy
    sources' policies (a given policy replaces a source's of the same name); ``calendars`` the
    business calendar for business-hour targets, one for all or a mapping from policy name
    (``"default"`` for the rest); ``tiers`` the customer tiers (a list of :class:`Tier`, or
    one) and ``router`` a :class:`Router` that assigns new tickets (with the strategy the
    ``supportkit_routing_strategy`` hook chooses for each queue, else its own).

    ``ladder`` is the :class:`EscalationLadder` whose triggers ``tick`` (SLA alerts) and
    ``ingest`` (reopens) apply; the default, :data:`DEFAULT_LADDER`, climbs one level on an SLA
    breach; ``None`` never escalates automatically. Outbox delivery makes ``max_attempts``
    tries with exponential backoff from ``backoff`` up to ``max_backoff``.
    ``follow_the_sun`` (a :class:`FollowTheSun`) hands tickets from team to team as shifts end.
    ``knowledge`` (a :class:`KnowledgeSettings`) sends suggested articles in the first
    automatic response on the channels that opt in, and sets the deflection window.

    A store with a ``meta`` table (SQLite) also keeps the desk's :meth:`settings` under
    :attr:`SETTINGS_KEY`, for ``supportkit report``.
    """

    SETTINGS_KEY: ClassVar[str] = _settings.SETTINGS_KEY
    """The store ``meta`` key holding :meth:`settings` (policies, calendars, ladder levels)."""

    MOVED_KEY: ClassVar[str] = "desk.policies_moved"
    """The store ``meta`` key holding the settings version whose policies the open tickets
    were last moved onto (:meth:`reapply_policies` on an apply)."""

    problem_settings: ProblemSettings = ProblemSettings()
    """What solving a problem does to its incidents and when a problem is suggested for a new
    ticket; assign a :class:`ProblemSettings` to change it for this desk."""

    EXACT_UP_TO: ClassVar[int] = 10_000
    """:meth:`metrics` computes exact percentiles for up to this many tickets by default."""

    def __init__(
        self,
        *,
        store: EventStore | str | None = None,
        store_options: Mapping[str, Any] | None = None,
        plugins: PluginHost | Iterable[object] | None = (),
        blocked_plugins: Iterable[str] = (),
        clock: Clock | None = None,
        policies: SlaPolicy | Iterable[SlaPolicy] = (),
        calendars: BusinessCalendar | Mapping[str, BusinessCalendar] | None = None,
        tiers: Tier | Iterable[Tier] = (),
        router: Router | None = None,
        ladder: EscalationLadder | None = DEFAULT_LADDER,
        max_attempts: int = 6,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        cache_size: int = 100_000,
        follow_the_sun: FollowTheSun | None = None,
        knowledge: KnowledgeSettings | None = None,
        config: DeskConfig | None = None,
        _apply: bool | None = None,
        _note: str | None = None,
    ) -> None:
        self.config = config if config is not None else DeskConfig.empty()
        """The configuration the desk was built from (:meth:`from_config`); empty otherwise.
        Plugins read their ``[plugins.<section>]`` settings with ``desk.config.plugin(name)``."""
        self.plugins = DeskPlugins(as_host(plugins, blocked_plugins))
        if store is None:
            store = SqliteStore(DEFAULT_DATABASE)
        elif isinstance(store, str):
            store = self.plugins.open_store(store, store_options or {})
        if not isinstance(store, EventStore):
            raise ConfigurationError(
                f"store must implement supportkit.typing.EventStore, got {store!r}"
            )
        if not isinstance(store, DeskStore) and callable(getattr(store, "commit", None)):
            # Meant as a DeskStore (it commits) but missing some of the protocol, maybe one
            # written before it grew: wrapping it would keep its extras in memory, silently.
            missing = [
                name for name in dir(DeskStore) if name[0] != "_" and not hasattr(store, name)
            ]
            raise ConfigurationError(
                f"store {store!r} has commit() but not all of supportkit.typing.DeskStore "
                f"(missing: {', '.join(missing)}): implement them "
                "(supportkit.testing.stores.DeskStoreContract tests a store), or keep to "
                "supportkit.typing.EventStore and the desk keeps its extras in process memory"
            )
        self.store: DeskStore = store if isinstance(store, DeskStore) else MemorySidecar(store)
        # A datetime has a now() too (the class method): refuse it, it is not a clock.
        if clock is not None and (not isinstance(clock, Clock) or isinstance(clock, datetime)):
            raise ConfigurationError(
                f"clock must be a supportkit Clock (SystemClock(), FrozenClock(...)), got "
                f"{clock!r}"
                + (": pass FrozenClock(that datetime)" if isinstance(clock, datetime) else "")
            )
        self.clock: Clock = clock or SystemClock()
        explicit = _objects(policies, SlaPolicy, "policies", "SlaPolicy.from_dict(d) reads a dict")
        given = {p.name for p in explicit}
        sourced = [p for p in self.plugins.host.sla_policies() if p.name not in given]
        self.policies = (*explicit, *sourced)
        names = [p.name for p in self.policies]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"SLA policy names must be unique, got {names}")
        self._policies = dict(zip(names, self.policies, strict=True))
        self._books = self._read_books()
        self._calendars = self._check_calendars(calendars)
        self.tiers = {tier.name: tier for tier in _objects(tiers, Tier, "tiers")}
        for tier in self.tiers.values():
            if tier.sla_policy is not None and tier.sla_policy not in self._policies:
                raise ConfigurationError(
                    f"tier {tier.name!r} names SLA policy {tier.sla_policy!r}, which is not in "
                    f"policies ({', '.join(names) or 'none given'})"
                )
        named = {tier.sla_policy for tier in self.tiers.values() if tier.sla_policy}
        check_policies(self.policies, named=named)  # warns about shadowed or overlapping ones
        if router is not None and not isinstance(router, Router):
            raise ConfigurationError(f"router must be a supportkit.Router or None, got {router!r}")
        if ladder is not None and not isinstance(ladder, EscalationLadder):
            raise ConfigurationError(
                f"ladder must be a supportkit.EscalationLadder or None, got {ladder!r}"
            )
        self.router = router
        self._router_synced = False
        if router is not None and router.strategy_for is None:
            router.strategy_for = self.plugins.routing_strategy
        self.ladder = ladder
        if follow_the_sun is not None and not isinstance(follow_the_sun, FollowTheSun):
            raise ConfigurationError(
                f"follow_the_sun must be a supportkit.FollowTheSun or None, got {follow_the_sun!r}"
            )
        self.follow_the_sun = follow_the_sun
        if knowledge is not None and not isinstance(knowledge, KnowledgeSettings):
            raise ConfigurationError(
                f"knowledge must be a supportkit.KnowledgeSettings or None, got {knowledge!r:.80}"
            )
        self.knowledge = knowledge if knowledge is not None else KnowledgeSettings()
        """How suggestions reach the customer and how deflection is measured."""
        self._check_policy_calendars()
        for name, number in (("max_attempts", max_attempts), ("cache_size", cache_size)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ConfigurationError(
                    f"{name} must be a whole number of at least 1, got {number!r}"
                )
        self.max_attempts = max_attempts
        self._backoff = seconds(backoff, "backoff", ConfigurationError)
        self._max_backoff = seconds(max_backoff, "max_backoff", ConfigurationError)
        self._lease = seconds(lease, "lease", ConfigurationError)
        self._cache: OrderedDict[str, _Live] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()
        # Inside ingest_many: the in-process notices held until the batch is durable.
        self._held: list[tuple[int, Sequence[Any]]] | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._problems = _problems.ProblemIndex(self.plugin_state(_problems.NAMESPACE))
        try:
            self._record_settings(_apply, _note)
            self.plugins.bind(self)
            if _apply:
                self._reapply_once()
        except BaseException:
            if isinstance(store, str) or store is None:  # the desk opened it: close it again
                self.close()
            raise

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        apply: bool = False,
        note: str | None = None,
        clock: Clock | None = None,
        plugins: Iterable[object] = (),
    ) -> SupportDesk:
        """Build a desk from a ``supportkit.toml`` (or a ``pyproject.toml`` with
        ``[tool.supportkit]``, or a mapping of the same shape).

        Every error in the file is reported at once (:class:`~supportkit.ConfigFileError`).
        If the store records another configuration, the desk refuses to start with a
        :class:`~supportkit.SettingsChangedError` showing the difference, unless *apply*, which
        records the file's configuration as a new settings version (with *note*, and when) and
        then moves the open tickets whose SLA policy changed onto the new one
        (:meth:`reapply_policies`). Of two desks applying different settings at once exactly
        one records its version; the other raises :class:`~supportkit.SettingsChangedError`
        having written nothing. *clock* and *plugins* (plugin objects registered beside the
        file's ``[plugins] enable`` list) are for tests and hosts.
        """
        if note is not None and not isinstance(note, str):
            raise ConfigurationError(f"note must be a string, got {note!r}")
        config = DeskConfig.load(source, plugins=list(plugins))
        return cls(
            **config.desk_arguments(clock or SystemClock()), config=config, _apply=apply, _note=note
        )

    def settings(self) -> dict[str, Any]:
        """What a report needs to know beyond the log, as a JSON-compatible dict: the SLA
        ``policies``, the ``calendars`` by name and the escalation ``ladder``'s levels (its
        triggers are code and are not kept; ``None`` without a ladder).

        On construction the desk records this as a settings version in its store
        (:meth:`settings_versions`), so ``supportkit report --db PATH`` reads any desk's
        database with its policies. A desk built in Python with other settings than the
        recorded ones records a new version and logs a warning; :meth:`from_config` refuses
        unless told to apply them.
        """
        return {
            "policies": [policy.to_dict() for policy in self.policies],
            "calendars": {name: cal.to_dict() for name, cal in self._calendars.items()},
            "ladder": None
            if self.ladder is None
            else [attrs.asdict(level) for level in self.ladder.levels],
        }

    def plugin_state(self, namespace: str) -> PluginState:
        """The durable key-value state of one plugin (*namespace*, e.g. ``"slack"``).

        Kept in the desk's store, so it survives restarts and is shared by every desk on the
        store (in process memory for a store that keeps only the event log). Expiry is read
        against the desk's clock. See :class:`~supportkit.typing.PluginState`.
        """
        return StoreState(self.store, namespace, self.clock)

    def settings_versions(self) -> list[dict[str, Any]]:
        """The settings versions recorded in the store, oldest first: ``version``,
        ``recorded_at`` (ISO instant), ``note``, ``settings`` (:meth:`settings`) and ``config``
        (the configuration file's table without ``[store]``, or ``None`` for a desk built in
        Python)."""
        return _settings.versions(self.store, self.SETTINGS_KEY)

    def _record_settings(self, apply: bool | None, note: str | None) -> None:
        """Record this desk's settings as a new version if they differ from the store's.

        *apply* ``None`` (the Python constructor): record and log a warning; ``True``: record;
        ``False``: refuse with the difference. The version carries *note* (default: where the
        configuration came from). Of desks recording at once exactly one wins; the others
        write nothing, and raise :class:`~supportkit.SettingsChangedError` unless the winner
        recorded the same settings.
        """
        settings = self.settings()
        config = None
        if self.config.source is not None or self.config.document:
            config = {k: v for k, v in self.config.document.items() if k != "store"}
        raw = self.store.meta(_settings.VERSIONS_KEY)
        found = _settings.versions(self.store, self.SETTINGS_KEY, raw)
        recorded = found[-1] if found else None
        at = self.clock.now()
        where = note or self.config.source or "configuration"

        def record() -> int:
            return _settings.record(
                self.store, self.SETTINGS_KEY, settings, config, at=at, note=where, expected=raw
            )

        if recorded is None:
            record()
        elif not _settings.same(recorded, settings, config):
            edited = _settings.edited_in_place(recorded, settings)
            if apply is False:
                db = None  # --db opens SQLite files only
                if isinstance(self.store, SqliteStore):
                    db = str(self.store.path.absolute())
                store = f"the store {self.store!r}"
                _settings.refuse(recorded, settings, config, store, edited, db=db)
            if edited and apply:
                raise PolicyError(
                    f"SLA policy {edited[0]!r} changed but kept its version: give it a new "
                    "version, so tickets opened under the recorded one keep replaying under it"
                )
            if edited:
                log.warning(
                    "SLA policy %r changed but kept its version: tickets opened under the "
                    "recorded one now replay under the new targets",
                    edited[0],
                )
            number = record()
            if apply is None:
                log.warning(
                    "the store %r recorded other desk settings (version %s); recorded this "
                    "desk's as version %d:\n%s",
                    self.store,
                    recorded.get("version"),
                    number,
                    _settings.settings_diff(recorded, settings, config),
                )

    def _check_calendars(
        self, calendars: BusinessCalendar | Mapping[str, BusinessCalendar] | None
    ) -> Mapping[str, BusinessCalendar]:
        if calendars is None:
            return {}
        if isinstance(calendars, BusinessCalendar):
            return {"default": calendars}
        expected = (
            "calendars must be a BusinessCalendar (one for every policy) or a mapping from SLA "
            "policy name ('default' for the rest) to BusinessCalendar"
        )
        if not isinstance(calendars, Mapping):
            hint = (
                f"; for a zone's business hours pass BusinessCalendar(tz={calendars!r}, weekly=...)"
                if isinstance(calendars, str)
                else ""
            )
            raise ConfigurationError(f"{expected}, got {calendars!r}{hint}")
        for name, calendar in calendars.items():
            if not isinstance(calendar, BusinessCalendar):
                raise ConfigurationError(f"{expected}, got {calendar!r} for {name!r}")
        named = {p.calendar for p in self.policies if p.calendar is not None}
        unknown = set(calendars) - set(self._policies) - named - {"default"}
        if unknown:
            raise ConfigurationError(
                f"calendars: {sorted(unknown, key=repr)[0]!r} is neither an SLA policy name, "
                "a name a policy's calendar= gives, nor 'default'"
            )
        return dict(calendars)

    def _check_policy_calendars(self) -> None:
        teams = {} if self.follow_the_sun is None else self.follow_the_sun.calendars
        for policy in self.policies:
            named = policy.calendar
            if named is not None and named not in self._calendars and named not in teams:
                raise ConfigurationError(
                    f"SLA policy {policy.name!r} counts on calendar {named!r}, which is not one "
                    f"of calendars= ({', '.join(self._calendars) or 'none given'})"
                    + (" or a follow-the-sun team's" if teams else "")
                )

    def _calendar_named(self, name: str) -> BusinessCalendar | None:
        """The business calendar *name* stands for: one of ``calendars=``, else a follow-the-sun
        team's (a group id) when that is a :class:`BusinessCalendar`, else the newest one of that
        name an earlier settings version recorded (so tickets opened under it replay)."""
        calendar = self._calendars.get(name)
        if calendar is None and self.follow_the_sun is not None:
            team = self.follow_the_sun.calendars.get(name)
            calendar = team if isinstance(team, BusinessCalendar) else None
        if calendar is None:  # one an earlier settings version had (read from the store)
            calendar = _settings.recorded_calendars(self.store, self.SETTINGS_KEY).get(name)
        return calendar

    def _calendar_name(self, policy: SlaPolicy) -> str | None:
        """The name of the calendar a ticket's clocks count on when *policy* is first applied
        to it (recorded in ``sla_policy_applied``): the policy's own ``calendar``, else the
        one named after the policy, else ``default``; ``None`` without one (24x7)."""
        if policy.calendar is not None:
            return policy.calendar
        for name in (policy.name, "default"):
            if name in self._calendars:
                return name
        return None

    # --- reads ---------------------------------------------------------------------------------

    def ticket(self, ticket_id: str) -> Ticket:
        """The ticket as of its last event (a stored snapshot plus any newer events)."""
        snapshot = self.store.snapshot(_check_id(ticket_id))
        events = self.store.read(ticket_id, after=0 if snapshot is None else snapshot.version)
        if snapshot is None:
            if not events:
                raise _unknown(ticket_id)
            return Ticket.from_events(events)
        return _fold(snapshot, events) if events else snapshot

    def events(self, ticket_id: str) -> list[TicketEvent]:
        """The ticket's full event log."""
        return self.store.read(_check_id(ticket_id))

    def tickets(self) -> list[Ticket]:
        """Every ticket, in order of creation."""
        return [self.ticket(ticket_id) for ticket_id in self.store.ticket_ids()]

    def sla(self, ticket_id: str, at: datetime | None = None) -> SlaEvaluation | None:
        """The ticket's SLA evaluation at *at* (now by default), or ``None`` without a policy."""
        if at is not None:
            to_epoch(at, "sla(at=...)", ConfigurationError)
        with self._lock:  # an ingest in another thread must not change the tracker meanwhile
            live = self._load(ticket_id)
            if live.tracker is None:
                return None
            when = at if at is not None else self.clock.now()
            return live.tracker.evaluate(max(when, live.ticket.updated_at))

    def _read_books(self) -> dict[str, tuple[SlaPolicy, ...]]:
        """Per policy, the book a ticket's SLA tracker starts with: that policy first, then the
        others, so a later sla_policy_applied event can switch to any of them, then the
        policy versions the store's settings versions recorded, so a ticket opened under one
        (or moved onto one by another desk) replays exactly under it (its
        sla_policy_applied event names the version)."""
        current = {(p.name, str(p.version)) for p in self.policies}
        older = tuple(
            p
            for p in _settings.recorded_policies(self.store, self.SETTINGS_KEY)
            if (p.name, str(p.version)) not in current
        )
        books = {
            p.name: (p, *(other for other in self.policies if other is not p), *older)
            for p in self.policies
        }
        for p in reversed(older):  # a policy no longer configured: its newest version first
            books.setdefault(p.name, (p, *self.policies, *(o for o in older if o is not p)))
        self._versions = {(p.name, str(p.version)) for book in books.values() for p in book}
        return books

    # --- the cache -----------------------------------------------------------------------------

    def _load(self, ticket_id: str) -> _Live:
        live = self._cache.get(_check_id(ticket_id))
        if live is not None:
            self._cache.move_to_end(ticket_id)
            return live
        events = self.store.read(ticket_id)
        if not events:
            raise _unknown(ticket_id)
        named = {
            (e.data["policy"], str(e.data["version"]))
            for e in events
            if e.kind == "sla_policy_applied"
        }
        if not named <= self._versions:
            # Another desk recorded (and moved the ticket onto) a policy version after this
            # desk read the store's settings: read them again.
            self._books = self._read_books()
        live = self._replay(events, self.store.alerts(ticket_id))
        live.due = self._due(live, to_epoch(self.clock.now()), full=True)
        self._remember(live)
        return live

    def _replay(self, events: Sequence[TicketEvent], emitted: frozenset[str]) -> _Live:
        """The live state of the ticket whose log is *events*. With an SLA policy, the ticket's
        tracker applies them too, folding them into a fold of its own: that one is the
        ticket's from now on, so each later event is folded once (:meth:`_Live.apply`)."""
        fold = _Fold.start(events[0])
        for event in events[1:]:
            fold.apply(event)
        tracker = self._tracker(fold.sla_policy, fold.sla_calendar, fold.freeze)
        if tracker is None:
            return _Live(fold, None, None, emitted)
        for event in events:
            tracker.apply(event)
        assert tracker._fold is not None  # it has applied the created event
        return _Live(tracker._fold, tracker, None, emitted)

    def _find(self, ticket_id: str) -> _Live | None:
        """The ticket's live state, or ``None`` if the store has no such ticket."""
        live = self._cache.get(ticket_id)
        if live is None and self.store.version(ticket_id):
            live = self._load(ticket_id)
        return live

    def _stale(self, ticket_id: str | None, version: int | None) -> bool:
        """Whether the store's log of *ticket_id* moved past *version*, the copy an attempt
        built its events from (another desk wrote meanwhile). The stale copy is dropped, so the
        caller retries on the fresh log: only an action the fresh log refuses is refused."""
        if ticket_id is None or version is None or self.store.version(ticket_id) == version:
            return False
        self._cache.pop(ticket_id, None)
        return True

    def _log(self, fold: _Fold) -> list[TicketEvent]:
        """The stored log the cached *fold* was built from; a ConcurrencyError (so the caller
        reloads and retries) if another writer appended since."""
        log = self.store.read(fold.id)
        if len(log) != fold.version:
            self._cache.pop(fold.id, None)
            raise ConcurrencyError(
                f"ticket {fold.id}: the cached copy is at version {fold.version} but the store "
                f"is at {len(log)}; reloading",
                ticket_id=fold.id,
                expected=fold.version,
                actual=len(log),
            )
        return log

    def _remember(self, live: _Live) -> None:
        self._cache[live.fold.id] = live
        self._cache.move_to_end(live.fold.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _tracker(
        self,
        policy_name: str | None,
        calendar_name: str | None,
        ticket: Ticket | Callable[[], Ticket] | None = None,
    ) -> SlaTracker | None:
        if policy_name is None:
            return None
        book = self._books.get(policy_name)
        if book is None:
            book = self._books[self._recover(policy_name, ticket).name]
        return SlaTracker(book, self._ticket_calendar(book[0], calendar_name))

    def _ticket_calendar(
        self, policy: SlaPolicy | None, calendar_name: str | None
    ) -> BusinessCalendar | None:
        """The calendar a ticket's SLA counts on: the one its ``sla_policy_applied`` event
        recorded, else (a log from before calendars were recorded) its policy's."""
        if calendar_name is None:
            return None if policy is None else self._calendar(policy)
        calendar = self._calendar_named(calendar_name)
        if calendar is None:
            raise ConfigurationError(
                f"a ticket's SLA counts on business calendar {calendar_name!r} (recorded when "
                "its policy was applied), which this desk does not have: pass it in calendars="
            )
        return calendar

    def _recover(self, name: str, ticket: Ticket | Callable[[], Ticket] | None) -> SlaPolicy:
        """The policy *name* recorded on a ticket this desk was not configured with (a plugin
        chose one of its own, say before a restart): asked of ``supportkit_select_sla_policy``
        again; a :class:`PolicyError` if no plugin answers with a policy of that name."""
        if callable(ticket):  # the fold's freeze: only now that it is needed
            ticket = ticket()
        chosen = None if ticket is None else self.plugins.select_policy(ticket, self.policies)
        if chosen is None or chosen.name != name:
            raise PolicyError(
                f"a ticket has SLA policy {name!r}, which this desk does not know (its policies: "
                f"{', '.join(self._policies) or 'none'}); pass it in policies=, register it "
                "through a supportkit_register_sla_policy_sources plugin, or have the "
                "supportkit_select_sla_policy plugin that chose it choose it again"
            )
        return self._adopt(chosen)

    def _adopt(self, policy: SlaPolicy) -> SlaPolicy:
        """Track *policy* (a plugin's own) here too, like the configured ones."""
        if policy.name not in self._books:
            self._policies[policy.name] = policy
            self._books[policy.name] = (policy, *self.policies)
        return policy

    def _calendar(self, policy: SlaPolicy) -> BusinessCalendar | None:
        name = self._calendar_name(policy)
        return None if name is None else self._calendar_named(name)

    def _due(self, live: _Live, now: int, *, full: bool) -> int | None:
        """The next instant ``tick`` has work for this ticket: the earliest alert not emitted
        yet (possibly already past), else the next warning or breach; with follow-the-sun, now
        when a running clock's deadline comes before any team is on (an ``uncovered`` alert).

        Alerts already due are looked for only when one may be (*full*: the ticket was due, an
        event re-targeted its clocks, or it was just loaded); otherwise the next one is enough.
        """
        tracker = live.tracker
        base = max(now, live.fold.updated_at)
        sun = self._shift_change(live, base)
        if tracker is None:
            return sun
        if sun is not None and self._uncovered(live, tracker.evaluate(from_epoch(base)), base):
            return base  # the coverage audit warns now, not at the first warning level
        if full or (live.due is not None and live.due <= base):
            due = tracker.next_alert(base, live.emitted)
        else:
            due = tracker.next_alert(base)
        return sun if due is None else due if sun is None else min(due, sun)

    def _shift_change(self, live: _Live, base: int) -> int | None:
        """When follow-the-sun must look at the ticket again (``None``: never)."""
        sun, fold = self.follow_the_sun, live.fold
        if sun is None or fold.status in _DONE or not sun.covers(fold.group):
            return None
        assert fold.group is not None
        return sun.next_change(fold.group, base)

    # --- the write path ------------------------------------------------------------------------

    def _commit(
        self,
        live: _Live | None,
        events: list[TicketEvent],
        *,
        ticket_id: str,
        message: InboundMessage | None = None,
        alerts: Sequence[tuple[Any, datetime | None]] = (),
        route: bool = False,
        ticked: int | None = None,
        outbox: _Rows | None = None,
    ) -> tuple[_Live, int]:
        """Fold, track, commit and cache *events*; fire hooks. ``live`` None = a new ticket.

        Nothing reaches the store unless the fold and the SLA tracker accept every event; on
        any failure the cached state of the ticket is dropped (the next use re-reads it).
        With *route* (a new ticket), the ``assigned`` event of the agent the router picks is
        appended to *events* and committed with them.
        """
        now = to_epoch(self.clock.now())
        # The ticket before the events is frozen only if an in-process hook needs notices.
        before = live.ticket if live is not None and self.plugins.inline() else None
        version = 0 if live is None else live.fold.version
        status = None if live is None else live.fold.status
        keys = tuple(alert.key for alert, _ in alerts)
        try:
            if self.router is not None:  # a tier or skill the router refuses: write nothing
                for event in events:
                    self.router.check(event)
            if live is None:
                live = self._replay(events, _NO_ALERTS)
            else:
                for event in events:
                    live.apply(event)
            if keys:
                live.emitted = live.emitted.union(keys)
            due_before = live.due
            if alerts or not events or any(e.kind not in _SLA_NEUTRAL for e in events):
                if ticked is not None:  # every alert up to the tick's instant is emitted now
                    live.due = self._due(live, max(now, ticked), full=True)
                else:
                    live.due = self._due(live, now, full=any(e.kind in _RETARGETS for e in events))
            if route:
                events += self._assignment(events[0], live)  # SLA-neutral: due stays
            rows, pending = self.plugins.rows(
                before,
                events,
                live,
                now=now,
                lease=self._lease,
                message=message,
                alerts=alerts,
            )
            if outbox is not None:
                rows += outbox(events, now)
            new_version = self.store.commit(
                Commit(
                    ticket_id,
                    tuple(events),
                    version,
                    message=None if message is None else (message.channel, message.message_id),
                    snapshot=live.ticket if self._snapshot_due(live, status) else None,
                    due=live.due,
                    keep_due=live.due_stored and live.due == due_before,
                    outbox=tuple(rows),
                    alerts=keys,
                )
            )
        except BaseException:
            self._cache.pop(ticket_id, None)
            raise
        live.due_stored = True
        self._remember(live)
        if self.router is not None:
            self._feed_router(ticket_id, events, version, live.due, live.due != due_before)
        if pending:
            if self._held is not None:  # inside ingest_many: once the batch is durable
                self._held.append((now, pending))
            else:
                self._fire(now, pending)
        return live, new_version

    def _fire(self, now: int, pending: Sequence[Any]) -> None:
        """Call the in-process receivers of committed notices; record the outcomes."""
        delivered, errors = self.plugins.fire(pending)
        self._settle(now, delivered, [(key, 0, error) for key, error in errors])

    def _assignment(self, created: TicketEvent, live: _Live) -> list[TicketEvent]:
        """The ``assigned`` event giving the new ticket *created* opened to the agent the
        router picks now (none if it waits in the queue), folded into *live*: the claim is
        made in the ticket's first commit, so no other writer can take it in between."""
        router = self.router
        if router is None:
            return []
        self._sync_router()
        now = self.clock.now()
        agent = router.choose_new(created, deadline=live.due, at=now)
        if agent is None:
            return []
        build = self._assigned(agent.id, None, None)
        events = build(live.fold, max(now, from_epoch(live.fold.updated_at)))
        for event in events:
            live.apply(event)
        return events

    @staticmethod
    def _snapshot_due(live: _Live, status: Status | None) -> bool:
        """Store a snapshot for a new ticket, on a status change (*status* is the one before)
        and every :data:`SNAPSHOT_EVERY` events (reads fold the few events after it)."""
        fold = live.fold
        if (
            status is None
            or fold.status is not status
            or fold.version - live.snapshot_version >= SNAPSHOT_EVERY
        ):
            live.snapshot_version = fold.version
            return True
        return False

    def _retry_at(self, now: int, attempts: int) -> int | None:
        """When to retry a delivery that failed for the ``attempts + 1``-th time (``None``:
        dead-letter it)."""
        if attempts + 1 >= self.max_attempts:
            return None
        return now + int(min(self._max_backoff, self._backoff * 2**attempts))

    def _settle(
        self,
        now: int,
        delivered: Sequence[str],
        errors: Sequence[tuple[str, int, BaseException]],
    ) -> tuple[list[str], list[str], list[str]]:
        """Record delivery outcomes: *delivered* keys and ``(key, attempts so far, error)``
        failures. An :class:`~supportkit.IntegrationError` (the error or its cause) with a
        ``retry_at`` later than *now* defers the message to then without spending an attempt;
        one with ``permanent`` dead-letters it at once; anything else is retried with backoff.
        Returns the keys retried, dead and deferred."""
        failed: list[tuple[str, str, int | None]] = []
        deferred: list[tuple[str, str, int]] = []
        for key, attempts, error in errors:
            text = failure_text(error)
            hint = _integration_error(error)
            if hint is not None and hint.permanent:
                failed.append((key, f"permanent failure: {text}", None))
            elif hint is not None and hint.retry_at is not None and to_epoch(hint.retry_at) > now:
                deferred.append(
                    (key, f"retry at {hint.retry_at.isoformat()}: {text}", to_epoch(hint.retry_at))
                )
            else:
                failed.append((key, text, self._retry_at(now, attempts)))
        if delivered or failed or deferred:
            self.store.settle_outbox(now, delivered, failed, deferred=deferred)
        return (
            [key for key, _, retry in failed if retry is not None],
            [key for key, _, retry in failed if retry is None],
            [key for key, _, _ in deferred],
        )

    def _act(self, ticket_id: str, build: _Build, *, outbox: _Rows | None = None) -> Ticket:
        """Append the events *build* makes from the current ticket; return the new ticket."""
        return self._apply(ticket_id, build, outbox=outbox)[0].ticket

    def _apply(
        self,
        ticket_id: str,
        build: _Build,
        *,
        expected_version: int | None = None,
        outbox: _Rows | None = None,
    ) -> tuple[_Live, list[TicketEvent]]:
        """Append the events *build* makes from the ticket's current fold, retrying on
        conflicts (unless an *expected_version* is given: then a conflict is raised); the
        *outbox* rows it makes of the events are committed with them."""
        with self._lock:
            for _ in range(_RETRIES):
                live = self._load(ticket_id)
                if expected_version is not None and live.fold.version != expected_version:
                    self._cache.pop(ticket_id, None)
                    live = self._load(ticket_id)
                    if live.fold.version != expected_version:
                        raise ConcurrencyError(
                            f"ticket {ticket_id}: expected version {expected_version} but it "
                            f"is at {live.fold.version}; re-read the ticket and retry",
                            ticket_id=ticket_id,
                            expected=expected_version,
                            actual=live.fold.version,
                        )
                version = live.fold.version
                try:
                    at = max(self.clock.now(), from_epoch(live.fold.updated_at))
                    events = build(live.fold, at)
                    if not events:
                        return live, events
                    live, _ = self._commit(live, events, ticket_id=ticket_id, outbox=outbox)
                except ConcurrencyError:
                    if expected_version is not None:
                        raise
                    continue
                except SupportkitError:
                    # Refused by a copy another desk made stale: judge it on the fresh log.
                    if expected_version is None and self._stale(ticket_id, version):
                        continue
                    raise
                if any(
                    e.kind == "status_changed" and e.data["to"] is Status.SOLVED for e in events
                ):
                    self._problem_solved(live.ticket)
                return live, events
        raise _gave_up(ticket_id)

    def _now(self, ticket: Ticket | None, at: datetime | None = None) -> datetime:
        """*at* (or the clock's now), never earlier than the ticket's last event."""
        when = at if at is not None else self.clock.now()
        if ticket is not None and when < ticket.updated_at:
            return ticket.updated_at
        return when

    # --- ingest --------------------------------------------------------------------------------

    def channel_names(self) -> list[str]:
        """The names of the registered channels (:class:`supportkit.typing.Channel`), which
        :meth:`receive` accepts, in registration order."""
        return list(self.plugins.host.channels())

    def receive(
        self, channel: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> IngestResult:
        """Parse a raw *payload* that arrived on *channel*, then :meth:`ingest` the message.

        *channel* names a registered channel (see :meth:`channel_names`; a
        ``supportkit_parse_inbound`` hookimpl may answer first), whose ``parse`` gets *payload*
        and *headers*. A channel that raises :class:`~supportkit.exceptions.Ignored` (an
        auto-reply, a bounce, the desk's own mail) gets ``IngestResult(ignored=reason)``: its
        ``ticket_id`` is the ticket the noise's ``references`` or ``ticket_hint`` name (or its
        host-trusted ``ticket_id``), if that ticket exists, else ``None``; nothing is ingested,
        and with ``record=True`` the message is appended to that ticket as an internal system
        note (no SLA clock moves, it is not a customer message, and a redelivery is a
        duplicate). A closed ticket gets no note.

        An unknown *channel* is a :class:`~supportkit.ConfigurationError`; a payload the
        channel cannot parse an :class:`~supportkit.EventError` whose ``field`` names what was
        wrong (``"payload"`` if the channel did not say), and *headers* that are not a mapping
        of strings one with ``field="headers"``; a channel that fails otherwise raises a
        :class:`~supportkit.PluginError`. Nothing is written for any of them.
        """
        if not isinstance(channel, str) or not channel:
            raise ConfigurationError(
                f"receive(channel=...) must name a registered channel, got {channel!r} "
                f"(registered: {', '.join(self.channel_names()) or 'none'})"
            )
        if headers is not None and not (
            isinstance(headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise EventError(
                f"receive({channel!r}): headers must be a mapping of strings to strings, "
                f"got {headers!r}",
                field="headers",
            )
        with self._lock:  # attach channels registered since the last call, once
            self.plugins.refresh()
        try:
            message = self.plugins.host.parse_inbound(
                channel=channel, payload=payload, headers=headers
            )
        except Ignored as noise:
            return self._ignore(noise)
        except EventError as exc:
            if exc.field is None:
                exc.field = "payload"
            raise
        return self.ingest(message)

    def _ignore(self, noise: Ignored) -> IngestResult:
        """The result for a payload a channel refused as noise; records it if asked to."""
        message = noise.message
        if message is None:
            return IngestResult(None, duplicate=False, ignored=noise.reason)
        with self._lock:
            for _ in range(_RETRIES):
                seen = self.store.message_ticket(message.channel, message.message_id)
                if seen is not None:
                    version = self.store.version(seen)
                    return IngestResult(seen, True, version=version, ignored=noise.reason)
                live = self._thread(message)
                if live is None:
                    return IngestResult(None, duplicate=False, ignored=noise.reason)
                ticket_id = live.fold.id
                if not noise.record or live.fold.status is Status.CLOSED:
                    version = live.fold.version
                    return IngestResult(ticket_id, False, version=version, ignored=noise.reason)
                note = TicketEvent(
                    "message",
                    ticket_id=ticket_id,
                    at=max(message.at, from_epoch(live.fold.updated_at)),
                    by=Role.SYSTEM,
                    data={
                        "public": False,
                        "message_id": message.message_id,
                        "body": f"Ignored {message.channel} message from {message.sender} "
                        f"({noise.reason})" + (f":\n\n{message.body}" if message.body else ""),
                        "channel": message.channel,
                    },
                )
                try:
                    live, version = self._commit(live, [note], ticket_id=ticket_id, message=message)
                except ConcurrencyError:
                    continue
                return IngestResult(
                    ticket_id, False, events=(note,), version=version, ignored=noise.reason
                )
        raise _gave_up(message.ticket_id or "(new)")

    def ingest(self, message: InboundMessage) -> IngestResult:
        """Take one inbound message: thread or open a ticket, apply SLA, route, notify.

        Idempotent on ``(message.channel, message.message_id)``: a message seen before writes
        nothing and returns ``duplicate=True`` with the ticket it went into. Otherwise it
        threads into the ticket of the first of ``message.references`` (newest first) found in
        the desk's index of messages received and sent on that channel, else the existing
        ticket ``message.ticket_hint`` names, else ``message.ticket_id`` (which opens a ticket
        under that id if there is none), else a new ticket. A customer message on a pending,
        on-hold or solved ticket first reopens it (an explicit ``status_changed → open``); one
        on a closed ticket opens a follow-up ticket. The result is returned only after
        everything is durable in the store.
        """
        if not isinstance(message, InboundMessage):
            raise ConfigurationError(f"ingest() takes an InboundMessage, got {message!r}")
        key = (message.channel, message.message_id)
        with self._lock:
            for _ in range(_RETRIES):
                seen = self.store.message_ticket(*key)
                if seen is not None:
                    return IngestResult(seen, duplicate=True, version=self.store.version(seen))
                cached = None if message.ticket_id is None else self._cache.get(message.ticket_id)
                try:
                    return self._ingest(message)
                except ConcurrencyError:
                    continue
                except SupportkitError:
                    # Refused by a copy another desk made stale: judge it on the fresh log.
                    if cached is not None and self._stale(cached.fold.id, cached.fold.version):
                        continue
                    raise
        raise _gave_up(message.ticket_id or "(new)")

    def ingest_many(
        self, messages: Iterable[InboundMessage]
    ) -> list[IngestResult | SupportkitError]:
        """:meth:`ingest` each of *messages* in order, all in one store transaction.

        One durable write for the whole batch (``DeskStore.batch``), so a batch costs about
        one commit's fsync instead of one per message. Each message is handled exactly as
        :meth:`ingest` handles it: the same idempotency (a message repeated in the batch is a
        duplicate of its first copy), threading, SLA, routing and outbox rules.

        Returns one entry per message, in order: the :class:`IngestResult` :meth:`ingest`
        returns for it, or the :class:`~supportkit.SupportkitError` it raises (an
        :class:`~supportkit.EventError`, a :class:`~supportkit.ConfigurationError` for
        something that is not an :class:`InboundMessage`, a
        :class:`~supportkit.PolicyError`, ...). As with :meth:`ingest`, a refused message
        wrote nothing, and the other messages go on as if it had not been there.

        The list comes back only after the whole batch is durable; in-process receivers of
        its notices (hookimpls) are called after that, as :meth:`ingest` calls them after
        its commit. A :class:`~supportkit.StoreError` (the store failed, or a message met
        conflicting writers too often) ends the batch: nothing of it is written, the desk
        forgets its cached tickets, and ``ingest_many`` raises the error; ingesting the same
        messages again is safe (they are idempotent). A process killed during the batch
        likewise leaves none of it written. Any other exception (a bug) is raised the same
        way. Routing state held in this process is a hint: after a failed batch, it may
        count the batch's new tickets until the desk is reopened.
        """
        if not isinstance(messages, Iterable):
            raise ConfigurationError(
                f"ingest_many() takes an iterable of InboundMessage, got {messages!r:.80}"
            )
        batch = list(messages)
        results: list[IngestResult | SupportkitError] = []
        with self._lock:
            outer = self._held  # an ingest_many inside one (from a hook) joins it
            held: list[tuple[int, Sequence[Any]]] = [] if outer is None else outer
            self._held = held
            try:
                ahead = [m for m in batch if isinstance(m, InboundMessage)]
                with self.store.batch(ahead):  # the store may read ahead for them
                    for message in batch:
                        try:
                            results.append(self.ingest(message))
                        except StoreError:
                            raise
                        except SupportkitError as refused:
                            results.append(refused)
            except BaseException:
                self._cache.clear()  # it may hold what the rolled-back batch wrote
                raise
            finally:
                self._held = outer
            if outer is None:
                for now, pending in held:
                    self._fire(now, pending)
        return results

    def _thread(self, message: InboundMessage) -> _Live | None:
        """The existing ticket *message* belongs to: by its references (newest first), its
        sender's ticket hint, then its host-trusted ticket id; ``None`` if none exists."""
        for reference in reversed(message.references):
            ticket_id = self.store.message_ticket(message.channel, reference)
            live = None if ticket_id is None else self._find(ticket_id)
            if live is not None:
                return live
        for ticket_id in (message.ticket_hint, message.ticket_id):
            live = None if ticket_id is None else self._find(ticket_id)
            if live is not None:
                return live
        return None

    def _ingest(self, message: InboundMessage) -> IngestResult:
        live = self._thread(message)  # None: a new ticket (a host-chosen id, or generated)
        follow_up_of = None
        if live is not None and live.fold.status is Status.CLOSED:
            follow_up_of, live = live.fold.id, None
        events: list[TicketEvent] = []
        solved: list[str] | None = None
        if live is None:
            ticket_id = (
                message.ticket_id
                if message.ticket_id is not None and follow_up_of is None
                else _new_ticket_id()
            )
            events.extend(self._opening(ticket_id, message, follow_up_of))
            at = message.at
        else:
            ticket_id = live.fold.id
            at = max(message.at, from_epoch(live.fold.updated_at))  # logs are in time order
            solved = self._solved(ticket_id, message)  # a reply "solved" to the suggestions
            if message.public and live.fold.status in _REOPENS and solved is None:
                events.append(
                    TicketEvent(
                        "status_changed", ticket_id=ticket_id, at=at, data={"to": Status.OPEN}
                    )
                )
        if live is not None and live.fold.status is Status.SOLVED and events:
            events += self._escalations(live, [None], at, events)  # reopen triggers may climb
        customer = events[0].actor if live is None else live.fold.customer
        events.append(
            TicketEvent(
                "message",
                ticket_id=ticket_id,
                at=at,
                by=Role.CUSTOMER,
                actor=customer,
                data={
                    "public": message.public,
                    "message_id": message.message_id,
                    "body": message.body,
                    "channel": message.channel,
                },
            )
        )
        if live is not None and solved is not None:
            events += self._close_loop(live.fold, solved, at, customer)
        elif message.public:
            suggested, hits = self._suggest(ticket_id, message, at)
            events += suggested
            if live is None:
                events += self._answer(ticket_id, message, at, hits)
        live, version = self._commit(
            live, events, ticket_id=ticket_id, message=message, route=live is None
        )
        if events[0].kind == "created":
            self._suggest_problems(live.ticket, message.body)
        return IngestResult(
            ticket_id,
            duplicate=False,
            created=events[0].kind == "created",
            events=tuple(events),
            version=version,
            assignee=live.fold.assignee,
        )

    def _opening(
        self, ticket_id: str, message: InboundMessage, follow_up_of: str | None
    ) -> list[TicketEvent]:
        """The ``created`` (and ``sla_policy_applied``) events of a ticket *message* opens."""
        customer = self.plugins.lookup_customer(message) or Customer(message.sender)
        tier = self._tier(customer, message)
        tags = list(message.tags)
        if follow_up_of is not None:
            tags.append(f"follow-up:{follow_up_of}")
        created = TicketEvent(
            "created",
            ticket_id=ticket_id,
            at=message.at,
            by=Role.CUSTOMER,
            actor=customer.id,
            data={
                "channel": message.channel,
                "priority": message.priority or Priority.NORMAL,
                "subject": message.subject,
                "customer": customer.id,
                "organisation": customer.organisation,
                "tier": None if tier is None else tier.name,
                "group": self._first_group(tier, message),
                "language": message.language or customer.language,
                "tags": tags,
            },
        )
        policy = self._policy(Ticket.from_events([created]), tier)
        if policy is None:
            return [created]
        applied = TicketEvent(
            "sla_policy_applied",
            ticket_id=ticket_id,
            at=message.at,
            data={
                "policy": policy.name,
                "version": policy.version,
                "calendar": self._calendar_name(policy),
            },
        )
        return [created, applied]

    def _first_group(self, tier: Tier | None, message: InboundMessage) -> str | None:
        """A new ticket's team: its tier's dedicated group, else the team on shift."""
        if tier is not None and tier.dedicated_group is not None:
            return tier.dedicated_group
        if self.follow_the_sun is None:
            return None
        return self.follow_the_sun.team_at(to_epoch(message.at))

    def _tier(self, customer: Customer, message: InboundMessage) -> Tier | None:
        """The customer's tier: the CRM's answer, a watchlist entry, or the customer's tier."""
        found = self.plugins.lookup_tier(customer, message)
        if found is not None:
            return found
        return self.tier_for(customer)

    def tier_for(self, customer: Customer) -> Tier | None:
        """The tier the desk gives *customer* by itself (no plugin asked): the heaviest tier
        whose watchlist names the customer's id or organisation, else the customer's own tier
        (a configured :class:`Tier` of that name, or a weight-0 one); ``None`` without either.

        A CRM plugin that re-checks a customer later passes the tier this gives to
        :meth:`set_tier`, so watchlists keep winning as they do when a ticket opens.
        """
        watched = [
            tier
            for tier in self.tiers.values()
            if customer.id in tier.watchlist or (customer.organisation or "") in tier.watchlist
        ]
        if watched:
            return max(watched, key=lambda tier: tier.weight)
        if customer.tier is None:
            return None
        return self.tiers.get(customer.tier) or Tier(customer.tier, weight=0)

    def _policy(self, ticket: Ticket, tier: Tier | None) -> SlaPolicy | None:
        chosen = self.plugins.select_policy(ticket, self.policies)
        if chosen is not None:
            if not isinstance(chosen, SlaPolicy):
                raise PluginError(
                    f"supportkit_select_sla_policy returned {chosen!r} for ticket {ticket.id}; "
                    "return a supportkit.SlaPolicy or None"
                )
            return self._adopt(chosen)
        if tier is not None and tier.sla_policy is not None:
            return self._policies[tier.sla_policy]
        return select_policy(self.policies, ticket)

    # --- routing -------------------------------------------------------------------------------

    def _feed_router(
        self,
        ticket_id: str,
        events: Sequence[TicketEvent],
        version: int,
        due: int | None,
        due_changed: bool,
    ) -> None:
        """Tell the router about the committed *events* (catching up if it missed some, say
        written by another process) and about the ticket's SLA due instant if it moved."""
        router = self.router
        assert router is not None
        self._sync_router()
        seen = router.ticket(ticket_id).version if ticket_id in router else 0
        if seen == version:
            for event in events:
                router.apply(event)
        else:
            router.catch_up(self.store, ticket_id)
        if due_changed or seen != version:
            router.set_deadline(ticket_id, due)

    def _sync_router(self) -> None:
        """Feed the router every stored event once, before its first decision."""
        if not self._router_synced and self.router is not None:
            self._router_synced = True
            self.router.apply_all(self.store.read_all())

    def claim(
        self,
        ticket_id: str,
        agent: str | None = None,
        *,
        expected_version: int,
        group: str | None = None,
        actor: str | None = None,
    ) -> Claim:
        """Assign the ticket if it is still at *expected_version* (compare-and-set).

        Returns a :class:`Claim` that is truthy when won; when another writer appended first
        it is a lost claim naming the version found, never an exception. As with the
        module-level :func:`~supportkit.claim`, a claim the ticket's log cannot take (an unknown
        or closed ticket) is a lost claim whose ``reason`` starts with ``"refused:"``, and
        nothing is written; malformed arguments still raise.
        """

        def append() -> tuple[int, TicketEvent]:
            live, events = self._apply(
                ticket_id, self._assigned(agent, group, actor), expected_version=expected_version
            )
            return live.fold.version, events[0]

        try:
            return claim_with(append, ticket_id, agent, group, expected_version=expected_version)
        except TicketStateError as exc:
            return Claim(
                ticket_id,
                agent,
                group,
                won=False,
                expected_version=expected_version,
                version=self.store.version(ticket_id),
                reason=f"refused: {exc}",
            )

    def dispatch(self) -> list[Claim]:
        """Make every assignment the router can make now (agents came online, slots freed)."""
        if self.router is None:
            return []
        claims: list[Claim] = []
        lost: set[str] = set()
        with self._lock:
            self._sync_router()
            while (decision := self.router.decide(at=self.clock.now())) is not None:
                if decision.ticket_id in lost:
                    break
                result = self.claim(
                    decision.ticket_id, decision.agent, expected_version=decision.version
                )
                if not result:
                    lost.add(decision.ticket_id)
                    self.router.catch_up(self.store, decision.ticket_id)
                claims.append(result)
        return claims

    # --- actions -------------------------------------------------------------------------------

    def _event(
        self, kind: str, *, by: Role | str = Role.AGENT, actor: str | None = None, **data: Any
    ) -> _Build:
        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            return [
                # TicketEvent checks *by* (an EventError naming the field, not a bare ValueError).
                TicketEvent(kind, ticket_id=ticket.id, at=at, by=by, actor=actor, data=data)  # type: ignore[arg-type]
            ]

        return build

    def reply(
        self,
        ticket_id: str,
        body: str,
        *,
        agent: str | None = None,
        public: bool = True,
        status: Status | str | None = None,
        take: bool = False,
        automatic: bool = False,
    ) -> Ticket:
        """Append an agent message (a public reply goes out through the outbox); optionally
        move the ticket to *status* in the same commit (``"pending"`` asks the customer).

        A reply by itself changes neither the assignee nor the status: a ``new`` ticket stays
        ``new`` and unassigned. With ``take=True`` the reply does what helpdesks do when an
        agent answers: an unassigned ticket is assigned to *agent* (required then) and a
        ``new`` ticket becomes ``open`` (unless *status* says otherwise), in the same commit.

        With ``automatic=True`` the message is an automatic notice (an acknowledgement, an
        out-of-hours answer) rather than a person's reply: it is written by the system
        (``by="system"``, *agent* as its actor if given), goes out with
        ``OutboundReply.automatic`` set, and, not being an agent's reply, stops no SLA clock
        (it cannot ``take`` the ticket).
        """
        if take and not (isinstance(agent, str) and agent.strip()):
            raise EventError(
                f"ticket {ticket_id}: reply(take=True) assigns the replying agent: pass agent=",
                kind="assigned",
                field="agent",
            )
        if not isinstance(automatic, bool) or (automatic and take):
            raise EventError(
                f"ticket {ticket_id}: reply(automatic=...) must be true or false, and an "
                f"automatic notice cannot take the ticket; got automatic={automatic!r}, "
                f"take={take!r}",
                kind="message",
                field="automatic",
            )
        by = Role.SYSTEM if automatic else Role.AGENT
        message = self._event("message", by=by, actor=agent, public=public, body=body)
        if status is not None:
            try:
                status = Status(status)
            except ValueError:
                raise EventError(
                    f"ticket {ticket_id}: reply status must be one of {', '.join(Status)}, "
                    f"got {status!r}",
                    kind="status_changed",
                    field="status",
                ) from None

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            events = []
            if take and ticket.assignee is None:
                events += self._assigned(agent, None, agent)(ticket, at)
            events += message(ticket, at)
            to = Status.OPEN if take and status is None and ticket.status is Status.NEW else status
            if to is not None and to is not ticket.status:
                events += self._event("status_changed", actor=agent, to=to)(ticket, at)
            return events

        return self._act(ticket_id, build)

    def set_status(
        self,
        ticket_id: str,
        status: Status | str,
        *,
        by: Role | str = Role.AGENT,
        actor: str | None = None,
    ) -> Ticket:
        """Move the ticket to *status*; a transition the lifecycle forbids raises
        :class:`~supportkit.TicketStateError` and changes nothing."""
        return self._act(ticket_id, self._event("status_changed", by=by, actor=actor, to=status))

    def assign(
        self,
        ticket_id: str,
        agent: str | None = None,
        *,
        group: str | None = None,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> Ticket:
        """Assign the ticket to *agent* and/or *group* (at *expected_version* if given)."""
        build = self._assigned(agent, group, actor)
        return self._apply(ticket_id, build, expected_version=expected_version)[0].ticket

    def _assigned(self, agent: str | None, group: str | None, actor: str | None) -> _Build:
        by = Role.SYSTEM if actor is None else Role.AGENT
        return self._event("assigned", by=by, actor=actor, agent=agent, group=group)

    def escalate(
        self,
        ticket_id: str,
        level: str,
        *,
        target: str | None = None,
        reason: str = "",
        actor: str | None = None,
        allow_down: bool = False,
    ) -> Ticket:
        """Escalate the ticket to *level* (``"L2"``, ``"engineering"``), optionally to a
        *target* group (default: the level's group), with a *reason*; engineering escalations
        usually also put the ticket ``on_hold`` (call :meth:`set_status`).

        With a ladder this goes through :meth:`EscalationLadder.escalate`: *level* must be on
        the ladder (else :class:`~supportkit.ConfigurationError`) and above the ticket's level
        (else :class:`~supportkit.TicketStateError`; ``allow_down=True`` de-escalates on
        purpose). Without a ladder *level* is free-form. A missing *level* or *reason* raises
        :class:`~supportkit.EventError`; nothing is written when anything is refused.
        """
        for name, value in (("level", level), ("reason", reason)):
            if not isinstance(value, str) or not value.strip():
                raise EventError(
                    f"ticket {ticket_id}: an escalation needs a non-empty {name}, got {value!r}",
                    kind="escalated",
                    field=name,
                )
        ladder = self.ladder
        if ladder is None:
            build = self._event("escalated", actor=actor, level=level, target=target, reason=reason)
            return self._act(ticket_id, build)

        def climb(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            event = ladder.escalate(
                self._log(ticket),
                at=at,
                reason=reason,
                to=level,
                actor=actor,
                allow_down=allow_down,
            ).event
            if target is not None:
                event = attrs.evolve(event, data={**event.data, "target": target})
            return [event]

        return self._act(ticket_id, climb)

    def set_priority(
        self, ticket_id: str, priority: Priority | str, *, actor: str | None = None
    ) -> Ticket:
        """Change the ticket's priority (its SLA clocks keep their elapsed time)."""
        return self._act(ticket_id, self._event("priority_changed", actor=actor, to=priority))

    def set_tier(self, ticket_id: str, tier: str | None, *, actor: str | None = None) -> Ticket:
        """Change the customer tier of the ticket (a ``tier_changed`` event), say when a CRM
        re-sync finds that the customer moved up or down; ``None`` clears it.

        So that SLA targets follow, the SLA policy the new tier selects (as for a new ticket:
        a ``supportkit_select_sla_policy`` hook, the tier's ``sla_policy``, else the first
        matching policy) is applied in the same commit when it differs from the ticket's
        (``sla_policy_applied``: running clocks keep their elapsed time). The router sees the
        new tier. Setting the tier the ticket has writes nothing.
        """
        if tier is not None and (not isinstance(tier, str) or not tier.strip()):
            raise EventError(
                f"ticket {ticket_id}: a tier is a non-empty name or None, got {tier!r}",
                kind="tier_changed",
                field="to",
            )
        by = Role.SYSTEM if actor is None else Role.AGENT
        change = self._event("tier_changed", by=by, actor=actor, to=tier)

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            if ticket.tier == tier:
                return []
            events = change(ticket, at)
            policy = self._policy(_fold(ticket.freeze(), events), self._tier_named(tier))
            if policy is not None and policy.name != ticket.sla_policy:
                events += self._policy_applied(ticket, policy)(ticket, at)
            return events

        return self._act(ticket_id, build)

    def _tier_named(self, tier: str | None) -> Tier | None:
        """The desk's tier of that name (an unknown name: a tier of weight 0)."""
        return None if tier is None else self.tiers.get(tier) or Tier(tier, weight=0)

    def _policy_applied(self, ticket: _Fold, policy: SlaPolicy) -> _Build:
        """The ``sla_policy_applied`` event moving *ticket* onto *policy*; the ticket keeps
        the calendar its clocks have counted on so far."""
        now_on = self._policies.get(ticket.sla_policy or "", policy)
        return self._event(
            "sla_policy_applied",
            by=Role.SYSTEM,
            policy=policy.name,
            version=policy.version,
            calendar=ticket.sla_calendar or self._calendar_name(now_on),
        )

    def reapply_policies(self) -> list[str]:
        """Move every unsolved ticket (new, open, pending, on hold) whose SLA policy, by name
        or version, is not the one the desk's policies choose for it now onto that one: one
        ``sla_policy_applied`` event per ticket moved (running clocks keep their elapsed time
        and take the new targets, stopped ones keep theirs, the ticket keeps its calendar), so
        a replay of the log gives exactly what the live desk computes. Returns the ids of the
        tickets moved; a ticket no policy matches any more keeps its own.

        :meth:`from_config` with ``apply=True`` (``supportkit run --apply``) calls it once the
        settings are recorded, unless it already ran to its end for the newest settings
        version (:attr:`MOVED_KEY`). It is idempotent: run again, it moves nothing, and a desk
        that stopped half-way finishes the move on the next apply.
        """

        def target(ticket: Ticket) -> SlaPolicy | None:
            """The policy to move *ticket* onto, or ``None`` if it stays."""
            if ticket.status in (Status.SOLVED, Status.CLOSED):
                return None
            policy = self._policy(ticket, self._tier_named(ticket.tier))
            current = (ticket.sla_policy, str(ticket.sla_policy_version))
            if policy is None or (policy.name, str(policy.version)) == current:
                return None
            return policy

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            policy = target(ticket.freeze())  # again on the live fold: it may have moved
            return [] if policy is None else self._policy_applied(ticket, policy)(ticket, at)

        # A snapshot read picks the tickets to move; only those are loaded and replayed.
        chosen = [t for t in self.store.ticket_ids() if target(self.ticket(t)) is not None]
        return [t for t in chosen if self._apply(t, build)[1]]

    def _reapply_once(self) -> None:
        """:meth:`reapply_policies` unless it already ran to its end for the newest settings
        version (kept under the store's :data:`MOVED_KEY`), so an unchanged ``--apply`` start
        reads no ticket and an interrupted move is finished by the next."""
        newest = _settings.latest(self.store, self.SETTINGS_KEY)
        number = None if newest is None else newest.get("version")
        if number is None or self.store.meta(self.MOVED_KEY) == number:
            return
        moved = self.reapply_policies()
        if moved:
            log.info("moved %d open tickets onto the applied SLA policies", len(moved))
        self.store.set_meta(self.MOVED_KEY, number)

    def tag(
        self,
        ticket_id: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str | None = None,
    ) -> Ticket:
        """Add and remove tags: *add* and *remove* are lists of tags (a bare string is
        refused with :class:`~supportkit.EventError`, as the ``tagged`` event refuses it,
        rather than read as its letters)."""
        for name, tags in (("add", add), ("remove", remove)):
            if isinstance(tags, str):
                raise EventError(
                    f"ticket {ticket_id}: tag({name}=...) takes a list of tags, got the string "
                    f"{tags!r}: pass [{tags!r}]",
                    kind="tagged",
                    field=name,
                )
        added, removed = (
            listed(tags, f"ticket {ticket_id}: tag({name}=...)", EventError)
            for name, tags in (("add", add), ("remove", remove))
        )
        return self._act(ticket_id, self._event("tagged", actor=actor, add=added, remove=removed))

    # --- problems and incidents ------------------------------------------------------------------

    def link_problem(self, ticket_id: str, problem_id: str, *, actor: str | None = None) -> Ticket:
        """Link the incident *ticket_id* to the problem ticket *problem_id* (a
        ``linked_to_problem`` event on the incident): its next step becomes the problem's
        engineering fix, and solving the problem solves or notifies it
        (:attr:`problem_settings`).

        Refused with :class:`~supportkit.TicketStateError` naming the ticket, changing
        nothing: a closed incident, a solved or closed problem, a ticket as its own problem, an
        incident already linked, a problem that is itself an incident or an incident that is
        itself a problem (links never chain, so they never make a cycle). If another desk on
        the store changed one of the two tickets so that the link breaks those rules while it
        was being made (say, linked them the other way round at the same time), the link is
        undone (an ``unlinked`` event) and :class:`~supportkit.ConcurrencyError` raised: check
        the tickets again and retry.
        """
        _check_id(problem_id)
        by = Role.SYSTEM if actor is None else Role.AGENT
        link = self._event("linked_to_problem", by=by, actor=actor, problem=problem_id)

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            self._check_link(ticket.freeze(), problem_id)
            events = link(ticket, at)
            self._problems.link(problem_id, ticket.id)  # before: the lists stay a superset
            return events

        linked = self._act(ticket_id, build, outbox=_engineering.update_rows)
        try:  # Read both tickets again now that the link is in the store: the store decides.
            self._check_link(attrs.evolve(linked, problem=None), problem_id)
        except TicketStateError as exc:
            undo = self._event("unlinked", by=by, actor=actor, problem=problem_id)
            self._act(ticket_id, undo, outbox=_engineering.update_rows)
            raise ConcurrencyError(
                f"ticket {ticket_id}: the link to problem {problem_id} was undone: another desk "
                f"changed the tickets meanwhile ({exc}); check them and retry",
                ticket_id=ticket_id,
                expected=linked.version,
                actual=linked.version + 1,
            ) from exc
        return linked

    def _check_link(self, incident: Ticket, problem_id: str) -> None:
        """Refuse linking *incident* to *problem_id* as the store has both now."""
        problem = self.ticket(problem_id)
        _problems.check_link(incident, problem, [t.id for t in self.incidents(incident.id)])

    def unlink_problem(self, ticket_id: str, *, actor: str | None = None) -> Ticket:
        """Unlink the incident *ticket_id* from its problem (an ``unlinked`` event); a ticket
        linked to no problem is refused with :class:`~supportkit.TicketStateError`."""
        by = Role.SYSTEM if actor is None else Role.AGENT

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            if ticket.problem is None:
                raise TicketStateError(
                    f"ticket {ticket.id}: cannot unlink: it is linked to no problem",
                    ticket_id=ticket.id,
                    status=ticket.status.value,
                )
            return self._event("unlinked", by=by, actor=actor, problem=ticket.problem)(ticket, at)

        return self._act(ticket_id, build, outbox=_engineering.update_rows)

    def incidents(self, problem_id: str) -> list[Ticket]:
        """The incident tickets linked to *problem_id* now, in the order they were linked."""
        found = []
        for incident in self._problems.incidents(_check_id(problem_id)):
            if self.store.version(incident):
                ticket = self.ticket(incident)
                if ticket.problem == problem_id:
                    found.append(ticket)
        return found

    def problem_suggestions(self, ticket_id: str) -> list[ProblemSuggestion]:
        """The problems a new ticket looked like when it arrived (recorded at :meth:`ingest`,
        best first), for an agent to link with :meth:`link_problem`; never linked
        automatically. Only problems that were open then and scored at least
        ``problem_settings.similarity`` are listed (see :func:`supportkit.ProblemSuggestion`),
        unless a ``supportkit_suggest_problems`` hookimpl answered (its open problems, as it
        ranked them).
        """
        value = self.plugin_state(_problems.NAMESPACE).get(f"suggested:{_check_id(ticket_id)}")
        return [ProblemSuggestion(p, s, tuple(r)) for p, s, r in value or ()]

    def _suggest_problems(self, ticket: Ticket, body: str) -> None:
        def first(problem_id: str) -> str:
            messages = self.store.read(problem_id)
            return _problems.first_text(e.data["body"] for e in messages if e.kind == "message")

        threshold = self.problem_settings.similarity
        try:
            found = self.plugins.host.suggest_problems(
                ticket=ticket, text=f"{ticket.subject}\n{body}", threshold=threshold
            )
        except PluginError as exc:  # suggestions are a courtesy: the word overlap answers
            log.warning("problem suggestions for ticket %s: %s", ticket.id, exc)
            found = None
        if found is not None:
            found = [s for s in found if s.problem != ticket.id and self._open_problem(s.problem)]
        else:
            found = self._problems.suggest(ticket, body, threshold, self.ticket, first)
        if found:
            rows = [[s.problem, s.score, list(s.reasons)] for s in found]
            self.plugin_state(_problems.NAMESPACE).put(f"suggested:{ticket.id}", rows)

    def _open_problem(self, ticket_id: str) -> bool:
        """Whether *ticket_id* names a ticket in the store that is not solved or closed."""
        try:
            return self.ticket(ticket_id).status not in _DONE
        except (TicketStateError, EventError):  # unknown, or not a ticket id at all
            return False

    # --- engineering links ------------------------------------------------------------------

    def escalate_to_engineering(
        self, problem_id: str, tracker: str, *, actor: str | None = None
    ) -> Ticket:
        """Ask the issue tracker registered as *tracker* (``supportkit_register_issue_trackers``)
        for an issue for the problem ticket *problem_id*, carrying the affected customers'
        tiers and weight (:meth:`affected_customers`).

        The problem is escalated to the ladder's engineering level and noted now; the tracker
        is called from the outbox (:meth:`deliver` or the worker), retried while it cannot be
        reached, so a tracker outage never fails this call. Once delivered,
        :meth:`engineering_issue` returns the issue and a note on the problem names it.
        Refused with :class:`~supportkit.TicketStateError`: a solved or closed problem, an
        incident, a problem with an issue already; an unknown *tracker* is a
        :class:`~supportkit.ConfigurationError`. Returns the problem."""
        return self._request_issue(problem_id, tracker, None, actor)

    def link_engineering_issue(
        self, problem_id: str, tracker: str, reference: str, *, actor: str | None = None
    ) -> Ticket:
        """Link the problem ticket *problem_id* to the existing issue *reference* of
        *tracker*, as :meth:`escalate_to_engineering` does for a new issue: the tracker reads
        the issue and gets the affected-customers figures when the outbox delivers (a
        reference it does not know dead-letters the request)."""
        if not isinstance(reference, str) or not reference.strip():
            raise EventError(
                f"ticket {problem_id}: an issue reference is non-empty text, got {reference!r}",
                field="reference",
            )
        return self._request_issue(problem_id, tracker, reference, actor)

    def engineering_issue(self, problem_id: str) -> EngineeringIssue | None:
        """The engineering issue linked to the problem ticket *problem_id*, if any (``None``
        while a request for one waits in the outbox)."""
        state = self.plugin_state(_engineering.NAMESPACE)
        return _engineering.stored_issue(state.get(f"problem:{_check_id(problem_id)}"))

    def affected_customers(self, problem_id: str) -> AffectedCustomers:
        """Who the problem *problem_id* affects: it and its incidents, once per customer,
        with their tiers' weights from this desk's :class:`Tier` list and their values from
        the CRM (``supportkit_lookup_value``, which may ask it over the network)."""
        tickets = [self.ticket(problem_id), *self.incidents(problem_id)]
        weights = {name: tier.weight for name, tier in self.tiers.items()}

        def value(ticket: Ticket) -> float | None:
            assert ticket.customer is not None
            email = ticket.customer if "@" in ticket.customer else None
            customer = Customer(ticket.customer, tier=ticket.tier, email=email,
                                organisation=ticket.organisation)  # fmt: skip
            return self.plugins.host.lookup_value(customer=customer)

        return _engineering.affected(tickets, weights, value)

    def receive_issue_webhook(
        self, tracker: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> list[IssueUpdate]:
        """Apply a webhook delivery of *tracker*: the tracker checks its signature and reads
        the state changes; each change of an issue linked to a problem is recorded on the
        problem (an ``engineering_issue_changed`` event and an internal note, in one commit):
        ``fixed`` or ``released`` solves it (which solves or notifies its incidents), and
        ``wont_fix`` hands its incidents back to their agents (their next step is no longer
        the engineering fix) and, with a ``ProblemSettings.wont_fix`` template, replies to each
        open one. A state the problem's log has already (a repeated delivery) writes nothing.
        Returns the updates that changed a linked issue's state."""
        found = _engineering.tracker_named(self.plugins.host.issue_trackers(), tracker)
        if not isinstance(body, bytes):
            raise EventError(f"a webhook body is bytes, got {type(body).__name__}", field="body")
        if headers is not None and not (
            isinstance(headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise EventError(
                f"webhook headers must be a mapping of strings to strings, got {headers!r:.200}",
                field="headers",
            )
        updates = found.parse_webhook(body, MappingProxyType(dict(headers or {})))
        if not isinstance(updates, list) or not all(isinstance(u, IssueUpdate) for u in updates):
            raise PluginError(
                f"issue tracker {tracker!r} read a webhook as {updates!r:.200}, not a list of "
                "IssueUpdate",
                plugin=tracker,
            )
        state = self.plugin_state(_engineering.NAMESPACE)
        applied = []
        for update in updates:
            problem_id = state.get(f"issue:{tracker}:{update.key}")
            if not isinstance(problem_id, str):
                continue
            issue = self.engineering_issue(problem_id)
            if issue is None or issue.key != update.key:
                continue
            _, events = self._apply(problem_id, self._issue_changed(tracker, update))
            if not events:  # the state the log has already: a repeated delivery
                continue
            state.put(f"problem:{problem_id}", attrs.evolve(issue, state=update.state).to_dict())
            problem = self.ticket(problem_id)
            if update.state in ("fixed", "released") and problem.status not in _DONE:
                self.set_status(problem_id, Status.SOLVED, by=Role.SYSTEM)
            elif update.state == WONT_FIX and problem.status not in _DONE:
                self._problem_wont_fix(problem)
            applied.append(update)
        return applied

    def _issue_changed(self, tracker: str, update: IssueUpdate) -> _Build:
        """The ``engineering_issue_changed`` event (and an internal note, unless the problem is
        closed) for *update*, or nothing when the problem's log has that state already (an
        issue without a recorded state is ``open``)."""

        def build(problem: _Fold, at: datetime) -> list[TicketEvent]:
            if (issue_state(self._log(problem)) or "open") == update.state:
                return []
            data = {"tracker": tracker, "key": update.key, "state": update.state}
            events = self._event("engineering_issue_changed", by=Role.SYSTEM, **data)(problem, at)
            if problem.status is not Status.CLOSED:
                note = f"Engineering issue {update.key} is now {update.state}."
                events += self._event("message", by=Role.SYSTEM, public=False, body=note)(
                    problem, at
                )
            return events

        return build

    def _request_issue(
        self, problem_id: str, tracker: str, reference: str | None, actor: str | None
    ) -> Ticket:
        _engineering.tracker_named(self.plugins.host.issue_trackers(), tracker)

        def build(problem: _Fold, at: datetime) -> list[TicketEvent]:
            why = None
            if problem.status in _DONE:
                why = f"it is {problem.status.value}"
            elif problem.problem is not None:
                why = f"it is an incident of problem {problem.problem}: escalate that one"
            elif (issue := self.engineering_issue(problem.id)) is not None:
                why = f"it is linked to {issue.key} already"
            if why is not None:
                raise TicketStateError(
                    f"ticket {problem.id}: cannot link an engineering issue: {why}",
                    ticket_id=problem.id,
                    status=problem.status.value,
                )
            what = "a new issue" if reference is None else f"issue {reference}"
            note = f"Engineering issue requested: {what} in {tracker}."
            return self._event("message", actor=actor, public=False, body=note)(problem, at)

        def row(events: list[TicketEvent], now: int) -> list[OutboxMessage]:
            return [_engineering.request_row(problem_id, events[-1].id, tracker, reference, now)]

        requested = self._act(_check_id(problem_id), build, outbox=row)
        self._escalate_to_engineering_level(problem_id, tracker, actor)
        return self.ticket(requested.id)

    def _deliver_issue(self, message: OutboxMessage) -> None:
        """Deliver an outbox row of topic ``issue_tracker``: create or link the problem's issue
        (once: a redelivery finds it linked), or bring its figures up to date."""
        payload = message.payload
        trackers = self.plugins.host.issue_trackers()
        if payload["action"] == "update":
            problem_id = payload["problem"]
            issue = self.engineering_issue(problem_id)
            if issue is not None:  # else the issue, once created, carries the figures
                tracker = _engineering.tracker_named(trackers, issue.tracker)
                tracker.update_issue(issue, self.affected_customers(problem_id))
            return
        problem_id, name = message.ticket_id, payload["tracker"]
        if self.engineering_issue(problem_id) is not None:
            return
        tracker = _engineering.tracker_named(trackers, name)
        state = self.plugin_state(_engineering.NAMESPACE)
        until = self.clock.now() + timedelta(seconds=self._lease)
        if not state.put_new(f"asking:{problem_id}", message.key, expires_at=until):
            raise IntegrationError(
                f"ticket {problem_id}: another worker is asking {name} for its issue now",
                retry_at=until,
            )
        try:
            if self.engineering_issue(problem_id) is not None:  # it finished meanwhile
                return
            affected = self.affected_customers(problem_id)
            if payload["reference"] is None:
                issue = tracker.create_issue(self.ticket(problem_id), affected)
            else:
                try:
                    issue = tracker.link_issue(payload["reference"])
                except EventError as exc:  # a reference it can never read: stop retrying
                    raise IntegrationError(str(exc), permanent=True) from exc
                if isinstance(issue, EngineeringIssue):
                    tracker.update_issue(issue, affected)
            if not isinstance(issue, EngineeringIssue):
                raise PluginError(
                    f"issue tracker {name!r} returned {issue!r:.200}, not an EngineeringIssue",
                    plugin=name,
                )
            issue = attrs.evolve(issue, tracker=name)
            state.put(f"problem:{problem_id}", issue.to_dict())
            state.put(f"issue:{name}:{issue.key}", problem_id)
        finally:
            state.delete(f"asking:{problem_id}")
        if self.ticket(problem_id).status is not Status.CLOSED:
            self.reply(problem_id, f"Engineering issue {issue.key} {issue.url}".strip() + ".",
                       public=False, automatic=True)  # fmt: skip

    def _escalate_to_engineering_level(
        self, problem_id: str, tracker: str, actor: str | None
    ) -> None:
        """Escalate the problem to the ladder's first engineering level (``"engineering"``
        without a ladder) unless it is there already, so metrics and the feedback report count
        it; a ladder without an engineering level, or a ticket above it, is left as it is."""
        ladder = self.ladder
        level = self.ticket(problem_id).escalation_level
        if ladder is None:
            target: str | None = None if level == "engineering" else "engineering"
        else:
            names = [lvl.name for lvl in ladder.levels if lvl.is_engineering]
            target = names[0] if names and not ladder.is_engineering(level) else None
        if target is None:
            return
        reason = f"engineering issue requested in {tracker}"
        with contextlib.suppress(TicketStateError):  # above the engineering level already
            self.escalate(problem_id, target, reason=reason, actor=actor)

    def feedback(
        self, *, window: timedelta = timedelta(days=28), at: datetime | None = None, top: int = 10
    ) -> Feedback:
        """The product feedback report (:func:`supportkit.feedback`) of this desk's log for the
        *window* before *at* (the clock's now), weighting tickets by this desk's tiers. When
        the knowledge layer is present (the store has help-centre session events or
        articles), the report has its content gaps, from the session events up to *at*."""
        when = at if at is not None else self.clock.now()
        weights = {name: tier.weight for name, tier in self.tiers.items()}
        cutoff = to_epoch(when, "feedback(at=...)", ConfigurationError)
        sessions = [e for e in self.store.session_events() if e.ts <= cutoff]
        knowledge = bool(sessions) or bool(self.store.article_events())
        return feedback(self.store.read_all(), now=when, window=window, weights=weights, top=top,
                        sessions=sessions if knowledge else None)  # fmt: skip

    def _problem_wont_fix(self, problem: Ticket) -> None:
        """Reply to the open incidents of *problem*, whose issue engineering won't fix, from
        the ``wont_fix`` template, if there is one (they stay open, for their agents)."""
        settings = self.problem_settings
        if settings.wont_fix is None:
            return
        for incident in self.incidents(problem.id):
            if incident.status not in _DONE:
                body = settings.reply(incident.id, problem, settings.wont_fix)
                self.reply(incident.id, body, automatic=True)

    def _problem_solved(self, problem: Ticket) -> None:
        """Solve or notify the open incidents of the just-solved *problem*."""
        settings = self.problem_settings
        for incident in self.incidents(problem.id):
            if incident.status in (Status.SOLVED, Status.CLOSED):
                continue
            self.reply(
                incident.id,
                settings.reply(incident.id, problem),
                status=Status.SOLVED if settings.on_solve == "solve" else None,
                automatic=True,
            )

    def rate(
        self,
        ticket_id: str,
        *,
        csat: str | None = None,
        score: int | None = None,
        nps: int | None = None,
        ces: int | None = None,
        comment: str = "",
    ) -> Ticket:
        """Record the customer's satisfaction rating (CSAT good/bad, score, NPS, CES).

        At least one of *csat*, *score*, *nps* and *ces* is required (else
        :class:`~supportkit.EventError`). Rating a solved or closed ticket is allowed, as the
        lifecycle allows it: surveys usually go out after the ticket is solved, and an answer
        that arrives after it closed still counts (it does not reopen the ticket).
        """
        if csat is None and score is None and nps is None and ces is None:
            raise EventError(
                f"ticket {ticket_id}: rate() needs at least one of csat, score, nps or ces",
                kind="satisfaction_rated",
                field="csat",
            )
        return self._act(
            ticket_id,
            self._event(
                "satisfaction_rated",
                by=Role.CUSTOMER,
                csat=csat,
                score=score,
                nps=nps,
                ces=ces,
                comment=comment,
            ),
        )

    def article_feedback(self, ticket_id: str, article_id: str, *, helped: bool) -> Ticket:
        """Record the customer's verdict on a suggested article: ``article_helped`` (a reply
        "solved", a click on "this answered my question") or ``article_not_helped``.

        Allowed on solved and closed tickets too (the verdict often comes later); it changes
        neither the status nor any SLA clock.
        """
        if not isinstance(helped, bool):
            raise EventError(f"helped must be True or False, got {helped!r:.80}", field="helped")
        kind = "article_helped" if helped else "article_not_helped"
        return self._act(ticket_id, self._event(kind, by=Role.CUSTOMER, article=article_id))

    # --- tick ----------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, limit: int = 500) -> TickResult:
        """Emit every SLA warning and breach due by *now* (the clock's now by default).

        Reads only the tickets whose next due instant has passed (the due index), emits each
        alert exactly once (the emitted keys are committed with the notifications), applies the
        escalation ladder's triggers to each alert and returns what it did. Tickers sharing a
        store (threads, processes, machines) split the work: each claims the due tickets it
        evaluates, so no two evaluate one ticket at once (a claim of a ticker that died ends
        after the desk's ``lease``).

        A ticket that fails (any exception while evaluating or committing it) never blocks the
        others: it is reported in :attr:`TickResult.failed` instead of raising.
        """
        _check_limit("tick", limit)
        at = now if now is not None else self.clock.now()
        until = to_epoch(at, "tick(now)", ConfigurationError)
        warnings: list[Any] = []
        breaches: list[Any] = []
        escalations: list[TicketEvent] = []
        failed: list[tuple[str, Exception]] = []
        done: set[str] = set()
        clock_now = to_epoch(self.clock.now())
        with self._lock:
            try:
                while True:
                    # Claimed entries are hidden from other tickers (other processes) until
                    # released below or, if this process dies, until the lease runs out.
                    claimed = self.store.claim_due(
                        until, now=clock_now, limit=limit, lease=self._lease
                    )
                    page = [t for t, _ in claimed if t not in done]
                    if not page:
                        break
                    for ticket_id in page:
                        done.add(ticket_id)
                        try:
                            alerts, escalated = self._tick_one(ticket_id, at, until)
                        except Exception as exc:  # one bad ticket must not hold back the others
                            failed.append((ticket_id, exc))
                            continue
                        for alert in alerts:
                            (breaches if alert.kind == "breach" else warnings).append(alert)
                        escalations.extend(escalated)
            finally:
                self.store.release_due(sorted(done))
        return TickResult(
            at, len(done), tuple(warnings), tuple(breaches), tuple(escalations), tuple(failed)
        )

    def _tick_one(
        self, ticket_id: str, at: datetime, until: int
    ) -> tuple[list[Any], list[TicketEvent]]:
        for _ in range(_RETRIES):
            live = self._load(ticket_id)
            alerts: list[tuple[Any, datetime | None]] = []
            if live.tracker is not None:
                evaluation = live.tracker.evaluate(max(at, live.ticket.updated_at))
                alerts = [
                    (alert, _deadline(evaluation, alert))
                    for alert in evaluation.alerts(until=at)
                    if alert.key not in live.emitted
                ]
            handed = self._hand_off(live, at, until)
            if live.tracker is not None and self.follow_the_sun is not None:
                alerts += self._uncovered(live, evaluation, until)
            events = handed + self._escalations(
                live, [alert for alert, _ in alerts], at, pending=handed
            )
            try:
                self._commit(live, events, ticket_id=ticket_id, alerts=alerts, ticked=until)
            except ConcurrencyError:
                continue
            return [a for a, _ in alerts], events
        raise _gave_up(ticket_id)

    def _hand_off(self, live: _Live, at: datetime, until: int) -> list[TicketEvent]:
        """A ``handed_off`` event to the team on shift if the ticket's team is off shift."""
        sun, fold = self.follow_the_sun, live.fold
        if sun is None or fold.status in _DONE or not sun.covers(fold.group):
            return []
        assert fold.group is not None
        if sun.calendars[fold.group].intervals_at(until, until + 1):
            return []
        team = sun.team_at(until)
        if team == fold.group:
            return []  # nobody else is on: it waits for its own team
        when = self._now(live.ticket, at)
        step = next_step(self._log(live.fold), deadline=self._next_deadline(fold.id, when))
        pending = "nothing" if step is None else (
            f"{step.action.value} ({step.waiting_on.value})"
            + ("" if step.due is None else f", due {step.due.astimezone(UTC).isoformat()}")
        )  # fmt: skip
        note = f"{fold.group}'s shift ended; handed to {team}; pending: {pending}"
        data = {"from": fold.group, "to": team, "note": note}
        return [TicketEvent("handed_off", ticket_id=fold.id, at=when, data=data)]

    def _uncovered(self, live: _Live, evaluation: Any, until: int) -> list[tuple[Any, datetime]]:
        """An ``uncovered`` alert for each running SLA cycle whose deadline comes before any
        team is on shift (once per cycle: its key is emitted like a warning's)."""
        sun = self.follow_the_sun
        assert sun is not None
        out = []
        for metric, cycles in evaluation.items():
            for index, cycle in enumerate(cycles):
                deadline = cycle.deadline
                if cycle.status is not SlaStatus.ACTIVE or deadline is None:
                    continue
                key = f"{live.fold.id}:{metric}:{index}:uncovered"
                end = to_epoch(deadline)
                if key in live.emitted or end <= until or sun.open_seconds(until, end):
                    continue
                alert = SlaAlert(
                    "uncovered", metric, index, 1.0, from_epoch(until), live.fold.id, key
                )
                out.append((alert, deadline))
        return out

    def _escalations(
        self,
        live: _Live,
        alerts: Sequence[SlaAlert | None],
        at: datetime,
        pending: Sequence[TicketEvent] = (),
    ) -> list[TicketEvent]:
        """The escalated events the ladder's triggers ask for (at most one per alert), after
        the *pending* events that are about to be appended."""
        if self.ladder is None or not alerts:
            return []
        log = [*self._log(live.fold), *pending]
        events: list[TicketEvent] = []
        when = self._now(live.ticket, at)
        for alert in alerts:
            escalation = self.ladder.check([*log, *events], at=when, alert=alert)
            if escalation is not None:
                events.append(escalation.event)
        return events

    def next_steps(self, at: datetime | None = None) -> list[NextStep]:
        """Who owes what by when, for every ticket that is not solved or closed, most urgent
        first: by ``due`` (the ticket's next SLA deadline, the earliest running target), then
        higher priority first, then in order of creation; steps without a due time come last.
        """
        if at is not None:
            to_epoch(at, "next_steps(at=...)", ConfigurationError)
        when = at if at is not None else self.clock.now()
        logs: dict[str, list[TicketEvent]] = {}
        for event in self.store.read_all():
            logs.setdefault(event.ticket_id, []).append(event)
        steps = []
        for ticket_id, events in logs.items():
            deadline = self._next_deadline(ticket_id, when)
            step = next_step(
                events,
                deadline=deadline,
                router=self.router,
                ladder=self.ladder,
                problem_owner=problem_owner(events, logs),
                problem_solved=problem_solved(events, logs),
                problem_issue=problem_issue(events, logs),
            )
            if step is not None:
                steps.append(step)
        return sorted(steps, key=_urgency)  # stable: creation order among equals

    def metrics(
        self,
        groupings: Iterable[str | Sequence[str]] = ("all", "tier"),
        *,
        goals: Iterable[Goal] = (),
        at: datetime | None = None,
        tz: str | tzinfo = UTC,
        exact: bool | None = None,
    ) -> MetricsReport:
        """A metrics report over every ticket as of *at*.

        Each ticket's facts are folded from its log with its SLA evaluation (so SLA attainment
        is counted) and, for business-time figures, the calendar of its SLA policy. With *at*
        (an aware datetime) the report is the desk as it was then: tickets created later are
        left out and only events up to *at* count. Without it, every event counts and each
        ticket is measured at now or its last event, whichever is later.

        *exact* chooses exact medians and percentiles (``True``) or the mergeable sketch, whose
        values are within 1 % (``False``). The default, ``None``, is exact for up to
        :attr:`EXACT_UP_TO` tickets and the sketch above (``report.exact`` says which).
        """
        if exact is not None and not isinstance(exact, bool):
            raise ConfigurationError(
                f"metrics(exact=...) must be True, False or None, got {exact!r}"
            )
        cutoff = None if at is None else to_epoch(at, "metrics instant 'at'", ConfigurationError)
        now = self.clock.now()
        facts = []
        for ticket_id in self.store.ticket_ids():
            events = self.store.read(ticket_id)
            sla: SlaEvaluation | None
            if at is not None and cutoff is not None and events[-1].ts > cutoff:
                events = [event for event in events if event.ts <= cutoff]
                if not events:
                    continue  # created after *at*
                ticket = Ticket.from_events(events)
                tracker = self._tracker(ticket.sla_policy, ticket.sla_calendar, ticket)
                if tracker is not None:
                    for event in events:
                        tracker.apply(event)
                when = at
                sla = None if tracker is None else tracker.evaluate(when)
            else:
                ticket = self._load(ticket_id).ticket
                when = at if at is not None else max(now, ticket.updated_at)
                sla = self.sla(ticket_id, when)
            policy = self._policies.get(ticket.sla_policy or "")
            calendar = self._ticket_calendar(policy, ticket.sla_calendar)
            facts.append(
                TicketFacts.from_events(
                    events,
                    at=when,
                    calendar=calendar or self._calendars.get("default"),
                    sla=sla,
                )
            )
        if exact is None:
            exact = len(facts) <= self.EXACT_UP_TO
        sessions = self._session_facts(at if at is not None else now, cutoff)
        return metrics_report(facts, groupings, goals=goals, sessions=sessions, tz=tz, exact=exact)

    def _next_deadline(self, ticket_id: str, at: datetime) -> datetime | None:
        return sla_deadline(self.sla(ticket_id, at))

    # --- outbox --------------------------------------------------------------------------------

    def deliver(self, *, limit: int = 100) -> DeliveryResult:
        """Deliver due outbox messages once each; failures retry with exponential backoff and
        go to the dead letter after ``max_attempts`` tries. At-least-once: a receiver sees the
        same ``key`` again if a delivery's outcome was not recorded.

        A receiver steers its retries by raising :class:`~supportkit.IntegrationError` (any
        subclass; a plugin's error reaches the desk as a :class:`~supportkit.PluginError`
        whose ``__cause__`` it is): ``retry_at`` defers the message until then without
        spending an attempt (a ``retry_at`` not after now counts as an ordinary failure), and
        ``permanent=True`` dead-letters it at once with the error as ``last_error``."""
        _check_limit("deliver", limit)
        now = to_epoch(self.clock.now())
        delivered: list[str] = []
        failed: list[tuple[str, int, BaseException]] = []
        sent: list[tuple[str, str, str, str]] = []
        histories: dict[str, History] = {}

        def sent_id(event_id: str) -> str | None:
            found = self.store.state_get(SENT_IDS, event_id, now=now)
            return found if isinstance(found, str) else None

        for message in self.store.claim_outbox(now, limit=limit, lease=self._lease):
            try:
                if message.topic == _engineering.TOPIC:
                    self._deliver_issue(message)
                    reply = None
                elif message.topic == ArticleChanged.kind:
                    article_log = self.store.article_events(message.payload["article"])
                    self.plugins.deliver_article(message, article_log)
                    reply = None
                else:
                    history = histories.get(message.ticket_id)
                    if history is None:
                        history = histories[message.ticket_id] = History(
                            self.store.read(message.ticket_id)
                        )
                    reply = self.plugins.deliver(message, history, sent_id)
                if reply is not None:
                    sent.append((*reply, message.ticket_id, str(message.payload["event"])))
            except Exception as exc:  # a failing plugin must never stop the others
                failed.append((message.key, message.attempts, exc))
                log.warning(
                    "outbox %s attempt %d failed: %s", message.key, message.attempts + 1, exc
                )
            else:
                delivered.append(message.key)
        for channel, message_id, ticket_id, event_id in sent:
            # The answer to it threads; later replies name it in their references.
            self.store.record_message(channel, message_id, ticket_id)
            self.store.state_put(SENT_IDS, event_id, message_id, expires_at=None, now=now)
        retried, dead, deferred = self._settle(now, delivered, failed)
        return DeliveryResult(tuple(delivered), tuple(retried), tuple(dead), tuple(deferred))

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """The outbox messages (``"pending"``, ``"delivered"`` or ``"dead"`` ones if given)."""
        if not isinstance(status, str | None) or status not in _OUTBOX_STATUSES:
            raise ConfigurationError(
                f"outbox status must be 'pending', 'delivered', 'dead' or None, got {status!r}"
            )
        return self.store.outbox(status)

    def prune_outbox(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Forget outbox messages delivered more than *older_than* ago; return how many.

        Dead letters are kept: they wait for a person to look at them.
        """
        if not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise ConfigurationError(
                f"prune_outbox(older_than=...) must be a timedelta of zero or more, "
                f"got {older_than!r}"
            )
        # In epoch seconds: a huge older_than reaches before year 1, which a datetime cannot.
        cutoff = to_epoch(self.clock.now()) - seconds(older_than, "older_than", ConfigurationError)
        return self.store.prune_outbox(cutoff)

    def start(self, interval: float = 1.0, *, tick: bool = True) -> threading.Thread:
        """Start a background thread that delivers the outbox (and ticks) every *interval* s,
        or sooner when the store has a ``wait_for_work(timeout)`` method that returns early
        (the PostgreSQL store's, woken by other processes' commits)."""
        if self._worker is not None and self._worker.is_alive():
            raise ConfigurationError("the desk's background worker is already running")
        self._stop.clear()

        # A store that can say when work arrives (PostgreSQL's LISTEN/NOTIFY) wakes the
        # worker early; every store is still polled every *interval* seconds.
        wait_for_work = getattr(self.store, "wait_for_work", None)

        def idle() -> bool:
            """Wait for the next round; True when the worker should stop."""
            if wait_for_work is None:
                return self._stop.wait(interval)
            deadline = time.monotonic() + interval
            while not self._stop.is_set():  # in slices, so stop() is heard within 0.5 s
                left = deadline - time.monotonic()
                if left <= 0 or wait_for_work(min(left, 0.5)):
                    break
            return self._stop.is_set()

        def run() -> None:
            while not idle():
                try:
                    if tick:
                        self.tick()
                    self.deliver()
                except Exception:  # keep the worker alive; the next round retries
                    log.exception("supportkit desk worker round failed")

        self._worker = threading.Thread(target=run, name="supportkit-desk", daemon=True)
        self._worker.start()
        return self._worker

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background worker (if running) and wait for it."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    # --- personal data -------------------------------------------------------------------------

    def erase_customer(self, customer: str) -> ErasureResult:
        """Erase a customer's personal data from the store (a data subject's erasure request).

        In every event of the customer's tickets the customer id and the authors of customer
        messages become a stable pseudonym, subjects, message bodies and satisfaction comments
        become empty and message ids hashes; the message index follows, their snapshots are
        dropped and their outbox rows redacted (pending ones are dead-lettered). Kinds, roles,
        instants and statuses stay, so metrics and SLA figures stay computable. The erasure is
        recorded (pseudonym, when, how many tickets) under the store's ``desk.erasures`` meta
        key, and the store leaves nothing of the old values where its engine can reach them
        (:meth:`~supportkit.typing.DeskStore.redact`: SQLite ``VACUUM``, PostgreSQL
        ``VACUUM``). Works on every :class:`~supportkit.typing.DeskStore`.
        """
        with self._lock:
            result = erase(self.store, customer, to_epoch(self.clock.now()))
            self._cache.clear()
        return result

    def apply_retention(self, older_than: timedelta | None = None) -> int:
        """Purge the message bodies of tickets closed more than *older_than* ago (default: the
        configuration's ``[retention] message_bodies``; nothing without either); return how
        many events were rewritten. Works on every :class:`~supportkit.typing.DeskStore`."""
        keep = older_than if older_than is not None else self.config.retention
        if keep is None:
            return 0
        with self._lock:
            count = purge_bodies(self.store, to_epoch(self.clock.now() - keep))
            if count:
                self._cache.clear()
        return count

    def close(self) -> None:
        """Stop the worker and close the store if it can be closed."""
        self.stop()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> SupportDesk:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SupportDesk store={self.store!r}>"


def _integration_error(error: BaseException) -> IntegrationError | None:
    """The :class:`IntegrationError` among *error* and its causes (plugins' errors arrive
    wrapped in a :class:`PluginError`), or ``None``."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, IntegrationError):
        seen = seen.__cause__
    return seen


def _deadline(evaluation: SlaEvaluation, alert: SlaAlert) -> datetime | None:
    """The deadline of the cycle an alert is about."""
    cycles = evaluation[alert.metric]
    return cycles[alert.cycle].deadline if alert.cycle < len(cycles) else None


def _urgency(step: NextStep) -> tuple[bool, float, int]:
    """Sort key of :meth:`SupportDesk.next_steps`: due first (none last), then priority."""
    due = 0.0 if step.due is None else step.due.timestamp()
    return (step.due is None, due, -step.priority.rank)


def _fold(ticket: Ticket, events: Iterable[TicketEvent]) -> Ticket:
    fold = _Fold.thaw(ticket)
    for event in events:
        fold.apply(event)
    return fold.freeze()


_OUTBOX_STATUSES = frozenset({None, "pending", "delivered", "dead"})


def _objects(value: Any, kind: type[_T], name: str, hint: str = "") -> tuple[_T, ...]:
    """*value* (one *kind* object or an iterable of them) as a tuple, else a
    :class:`ConfigurationError` naming the expected type (and *hint*, a way to get one)."""
    if isinstance(value, kind):
        return (value,)
    expected = f"{name} must be a list of {kind.__name__} objects"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{expected}, got {value!r}" + (f" ({hint})" if hint else ""))
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind):
            raise ConfigurationError(
                f"{expected}, got {item!r} among them" + (f" ({hint})" if hint else "")
            )
    return items


def _check_limit(method: str, limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ConfigurationError(
            f"{method}(limit=...) must be a whole number from 1 to {MAX_LIMIT:,}, got {limit!r}"
        )


def _check_id(ticket_id: object) -> str:
    """*ticket_id* if it can name a ticket, else an ``EventError`` naming it."""
    try:
        return check_text(ticket_id)
    except ValueError as exc:
        raise EventError(f"ticket id {exc}, got {ticket_id!r:.80}", field="ticket_id") from None


def _unknown(ticket_id: str) -> TicketStateError:
    return TicketStateError(
        f"ticket {ticket_id} does not exist in this desk's store", ticket_id=ticket_id
    )


def _gave_up(ticket_id: str) -> StoreError:
    return StoreError(
        f"ticket {ticket_id}: gave up after {_RETRIES} conflicting writes from other writers; "
        "try again"
    )
