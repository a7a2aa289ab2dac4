"""Tier-aware routing: filter → order → select → claim.

A :class:`Router` is a fold over ticket events plus agent presence. Waiting tickets live in a
:class:`RoutingQueue`: one heap per *lane* (tickets with identical requirements: channel, skills,
language, group, dedicated agent), ordered by a configurable key (tier weight, priority, SLA
deadline, arrival). Each agent knows the lanes it is eligible for, and each lane counts its agents
with a free slot, so a decision looks at lane heads only:

* ``next_ticket(agent)`` (an agent has a free slot): the best head over the agent's lanes,
  O(lanes of the agent + log n);
* ``decide()`` (the best ticket any free agent may take, and who takes it): the top of a heap
  of the lanes that have a free agent, by head, then a :class:`SelectionStrategy` picks among
  the lane's free agents: for the built-in strategies, which rank agents, the top of the lane's
  heap of free agents by rank, O(log n) a decision whatever the number of candidates;
* ``choose_agent(ticket)`` ("which agent for this ticket now"): the strategy over the eligible
  agents with a free slot.

Removals are lazy (a queued entry is live while its sequence number is the ticket's current one).
Skill requirements relax step by step (:class:`Relax`) as a ticket waits; relaxations are kept in
their own heap of due times and applied before each decision and as applied events reach them
(so a replayed backlog relaxes as it goes, not all at the first decision). Assignments are
committed with :func:`claim`, a compare-and-set append on any
:class:`~supportkit.typing.EventStore`.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import attrs

from ._clock import Clock, SystemClock
from ._model import Agent, Priority, Role, Status, TicketEvent, Tier, listed
from ._ticket import _NO_TAGS, Ticket
from ._time import seconds, to_epoch
from .exceptions import ConcurrencyError, ConfigurationError, TicketStateError

if TYPE_CHECKING:
    from .typing import EventStore

__all__ = [
    "AgentState",
    "AgentStatus",
    "Assignment",
    "Claim",
    "LeastLoaded",
    "MostIdle",
    "Relax",
    "Requirements",
    "RoundRobin",
    "RoutedTicket",
    "Router",
    "RoutingQueue",
    "SelectionStrategy",
    "Sticky",
    "claim",
]

_NO_DEADLINE = 1 << 62
"""Sorts after every real deadline (integer, so keys stay cheap to compare)."""

ORDER_COMPONENTS = ("tier", "priority", "deadline", "arrival")
"""The names a queue's ``key`` may combine, in the default order."""

_ROUTABLE = frozenset({Status.NEW, Status.OPEN})
"""Statuses in which an unassigned ticket waits for an agent (Zendesk: new and open)."""


class AgentStatus(enum.StrEnum):
    """An agent's presence: only ``online`` agents receive new work."""

    ONLINE = "online"
    """Receives new work."""
    AWAY = "away"
    """Keeps current work, receives nothing new."""
    OFFLINE = "offline"
    """Receives nothing new; assigned tickets stay assigned."""


class Requirements(NamedTuple):
    """What an agent needs to take a ticket; tickets with equal requirements share a lane.

    ``skills`` is a sorted tuple of ``(skill, minimum level)``; ``language``, ``group`` and
    ``agent`` (a tier's dedicated agent) are ``None`` when anyone will do.
    """

    channel: str
    skills: tuple[tuple[str, int], ...] = ()
    language: str | None = None
    group: str | None = None
    agent: str | None = None

    def admits(self, agent: Agent) -> bool:
        """Whether *agent* (ignoring presence and load) may take a ticket with these needs.

        An agent who declares no languages is taken to speak any language.
        """
        if self.agent is not None and agent.id != self.agent:
            return False
        if self.group is not None and self.group not in agent.groups:
            return False
        if self.language is not None and agent.languages and self.language not in agent.languages:
            return False
        skills = agent.skills
        return all(skills.get(skill, 0) >= level for skill, level in self.skills)


@attrs.frozen
class Relax:
    """One step of skill relaxation: after a ticket has waited ``after``, ask for less.

    ``lower_by`` lowers every required skill level by that much (a requirement that reaches 0 is
    dropped); ``None`` drops every skill requirement. A tier's dedicated agent is dropped at the
    first step, so the dedicated group (or anyone eligible) may take the ticket.
    """

    after: timedelta
    lower_by: int | None = attrs.field(default=1)

    @lower_by.validator
    def _check(self, _attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigurationError(
                f"Relax(lower_by={value!r}): lower by a whole number >= 1, or None to drop all"
            )


class RoutedTicket:
    """The router's view of one ticket (read it, don't change it).

    Instants are integer epoch seconds. ``skills`` is the base skill requirement (from
    ``skill:`` tags and ``required``, what :meth:`Router.require` added), before relaxation;
    ``requirements`` is the current lane. ``weight`` is the tier weight (the watchlist
    included); ``group`` the ticket's group and ``routed_group`` the one an escalation or a
    group assignment chose. ``previous_agent`` is the agent who last handled this customer
    (what :class:`Sticky` prefers). ``version`` counts the events the router applied, which is
    the store version a claim must name.
    """

    __slots__ = (
        "assignee",
        "channel",
        "customer",
        "deadline",
        "dedicated_agent",
        "dedicated_group",
        "group",
        "id",
        "language",
        "organisation",
        "previous_agent",
        "priority",
        "queued_at",
        "relax_step",
        "required",
        "requirements",
        "routed_group",
        "seq",
        "skills",
        "status",
        "tags",
        "tier",
        "version",
        "weight",
    )

    id: str
    status: Status
    channel: str
    priority: Priority
    tier: str | None
    weight: int
    customer: str | None
    organisation: str | None
    language: str | None
    group: str | None
    routed_group: str | None
    dedicated_group: str | None
    tags: frozenset[str]
    skills: Mapping[str, int]
    required: Mapping[str, int]
    dedicated_agent: str | None
    deadline: int | None
    queued_at: int
    relax_step: int
    requirements: Requirements
    assignee: str | None
    previous_agent: str | None
    version: int
    seq: int

    @property
    def queued(self) -> bool:
        """Whether the ticket is waiting in the queue."""
        return self.seq > 0

    def __repr__(self) -> str:
        return f"<RoutedTicket {self.id} {self.status.value} assignee={self.assignee}>"


class AgentState:
    """The router's view of one agent: configuration, presence and load (read-only for you).

    ``load`` maps a channel to the agent's active tickets on it; ``assigned_seq`` is the router's
    assignment counter when the agent last got a ticket (0: never); ``idle_since`` is the epoch
    second of that assignment or of coming online, whichever is later; ``index`` is the order of
    registration.
    """

    __slots__ = (
        "agent",
        "assigned_seq",
        "default_capacity",
        "idle_since",
        "index",
        "lanes",
        "load",
        "status",
    )

    def __init__(
        self, agent: Agent, index: int, status: AgentStatus, since: int, default_capacity: int = 0
    ) -> None:
        self.agent = agent
        self.default_capacity = default_capacity
        self.index = index
        self.status = status
        self.load: dict[str, int] = {}
        self.assigned_seq = 0
        self.idle_since = since
        self.lanes: dict[str, list[_Lane]] = {}

    @property
    def id(self) -> str:
        """The agent's id."""
        return self.agent.id

    def slots(self, channel: str) -> int:
        """How many active tickets the agent takes on *channel*."""
        return self.agent.capacity.get(channel, self.default_capacity)

    @property
    def active(self) -> int:
        """Active tickets over all channels."""
        return sum(self.load.values())

    def __repr__(self) -> str:
        return f"<AgentState {self.agent.id} {self.status.value} load={self.load}>"


class SelectionStrategy(Protocol):
    """Picks one agent among candidates that are all eligible, online and have a free slot."""

    def choose(self, ticket: RoutedTicket, candidates: Sequence[AgentState]) -> AgentState:
        """Return one of *candidates* (never empty) for *ticket*."""
        ...


Rank = Callable[[AgentState], tuple[Any, ...]]
"""An agent's place in a strategy's order on one channel: smallest first, unique (it ends with
:attr:`AgentState.index`), and made only of what the router updates (load, ``assigned_seq``,
``idle_since``, capacity, ``index``)."""


class _Ranked:
    """A strategy that picks the candidate of smallest rank.

    The router keeps each lane's free agents in a heap by that rank, so a decision reads the
    heap's top instead of ranking every candidate (see ``Router._pick``).
    """

    __slots__ = ()

    def _rank(self, channel: str) -> Rank:
        """The rank of an agent for a ticket on *channel*."""
        raise NotImplementedError

    def choose(self, ticket: RoutedTicket, candidates: Sequence[AgentState]) -> AgentState:
        """Return the candidate of smallest rank."""
        return min(candidates, key=self._rank(ticket.channel))


def _rotation(agent: AgentState) -> tuple[int, int]:
    return (agent.assigned_seq, agent.index)


@attrs.frozen
class RoundRobin(_Ranked):
    """Rotation: the candidate whose last assignment is the oldest, ties in registration order."""

    def _rank(self, channel: str) -> Rank:
        """Oldest last assignment first (never assigned: first of all), then registration."""
        return _rotation


@attrs.frozen
class LeastLoaded(_Ranked):
    """The candidate with the most spare capacity on the ticket's channel (Zendesk's default).

    ``percentage=True`` compares spare capacity as a share of the agent's capacity instead.
    Ties go to the rotation (:class:`RoundRobin`).
    """

    percentage: bool = False

    def _rank(self, channel: str) -> Rank:
        """Most room on *channel* first, then the rotation."""
        percentage = self.percentage

        def spare(agent: AgentState) -> tuple[float, int, int]:
            cap = agent.slots(channel)
            room = cap - agent.load.get(channel, 0)
            share = room / cap if percentage and cap else float(room)
            return (-share, agent.assigned_seq, agent.index)

        return spare


def _idleness(agent: AgentState) -> tuple[int, int]:
    return (agent.idle_since, agent.index)


@attrs.frozen
class MostIdle(_Ranked):
    """The candidate idle longest: oldest last assignment or coming online, whichever is later."""

    def _rank(self, channel: str) -> Rank:
        """Idle since the earliest first, then registration."""
        return _idleness


@attrs.frozen
class Sticky:
    """The agent who last handled this customer, if a candidate; otherwise ``fallback`` decides."""

    fallback: SelectionStrategy = attrs.field(factory=LeastLoaded)

    def choose(self, ticket: RoutedTicket, candidates: Sequence[AgentState]) -> AgentState:
        """Return the customer's previous agent or the fallback's choice."""
        previous = ticket.previous_agent
        for agent in candidates:
            if agent.agent.id == previous:
                return agent
        return self.fallback.choose(ticket, candidates)


#: The queue name of a ticket with neither a routed group nor a group (for per-queue strategies).
DEFAULT_QUEUE = "default"

#: The strategies a :class:`Router` also accepts by name.
STRATEGY_NAMES: dict[str, Callable[[], SelectionStrategy]] = {
    "round_robin": RoundRobin,
    "least_loaded": LeastLoaded,
    "most_idle": MostIdle,
    "sticky": Sticky,
}


def _strategy(spec: SelectionStrategy | str | None) -> SelectionStrategy:
    if spec is None:
        return LeastLoaded()
    if isinstance(spec, str):
        if spec not in STRATEGY_NAMES:
            raise ConfigurationError(
                f"unknown routing strategy {spec!r}: use one of {', '.join(STRATEGY_NAMES)} "
                "or an object with a choose(ticket, candidates) method"
            )
        return STRATEGY_NAMES[spec]()
    if not callable(getattr(spec, "choose", None)):
        raise ConfigurationError(
            f"a routing strategy needs a choose(ticket, candidates) method, got {spec!r}"
        )
    return spec


# --- the queue ----------------------------------------------------------------------------------


Entry = tuple[Any, int, str]
"""A queued ticket in its lane's heap: ``(sort key, sequence number, ticket id)``."""


class _Lane:
    """One heap of queued tickets with equal requirements, plus its eligible agents."""

    __slots__ = (
        "agents",
        "by_rank",
        "free",
        "heap",
        "live",
        "pushed",
        "ranking",
        "ready",
        "requirements",
    )

    def __init__(self, requirements: Requirements) -> None:
        self.requirements = requirements
        self.heap: list[Entry] = []
        self.live = 0
        self.agents: list[AgentState] = []
        self.free: dict[AgentState, None] = {}
        """The eligible agents that are online with a free slot (an insertion-ordered set)."""
        self.ready = False
        """Whether a free agent may take one of the lane's tickets (free agents, live tickets)."""
        self.pushed: Entry | None = None
        """The head last put in the router's heap of ready lanes (see ``Router._touch``)."""
        self.ranking: _Ranking | None = None
        self.by_rank: list[tuple[tuple[Any, ...], AgentState]] = []
        """The free agents by ``ranking`` (a heap whose top is kept current: ``_Ranking``)."""


class _Ranking:
    """Every agent's current rank under one ranked strategy on one channel.

    Each lane using the ranking keeps its free agents in a heap by rank (``_Lane.by_rank``)
    whose top is always a free agent at its current rank (``Router._settle``); entries below
    the top may be out of date or of agents no longer free, and are dropped or re-pushed
    when they reach it. That is exact as long as no agent ranks better than its best entry,
    so an agent that becomes free in a lane, or whose rank improves (a released slot under
    least-loaded), is pushed at once (``Router._offer``).
    """

    __slots__ = ("rank", "ranks", "strategy")

    def __init__(self, strategy: _Ranked, rank: Rank) -> None:
        self.strategy = strategy
        self.rank = rank
        self.ranks: dict[AgentState, tuple[Any, ...]] = {}


SortKey = Callable[[RoutedTicket], Any]


def _key_from_names(names: Sequence[str]) -> SortKey:
    names = listed(names, "queue key")
    unknown = [name for name in names if name not in ORDER_COMPONENTS]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigurationError(
            f"queue key {list(names)!r}: name each of {', '.join(ORDER_COMPONENTS)} at most "
            "once (or pass a callable taking a RoutedTicket)"
        )
    parts: dict[str, SortKey] = {
        "tier": lambda t: -t.weight,
        "priority": lambda t: -t.priority.rank,
        "deadline": lambda t: _NO_DEADLINE if t.deadline is None else t.deadline,
        "arrival": lambda t: t.queued_at,
    }
    if tuple(names) == ORDER_COMPONENTS:
        return _default_key
    chosen = [parts[name] for name in names]
    return lambda t: tuple(part(t) for part in chosen)


def _default_key(t: RoutedTicket) -> tuple[int, int, int, int]:
    return (
        -t.weight,
        -t.priority.rank,
        _NO_DEADLINE if t.deadline is None else t.deadline,
        t.queued_at,
    )


class RoutingQueue:
    """Tickets waiting for an agent, one heap per lane (equal :class:`Requirements`).

    ``key`` orders tickets, smallest first: a sequence of names from
    ``("tier", "priority", "deadline", "arrival")`` (the default, meaning higher tier weight,
    then higher priority, then the earlier SLA deadline (none last), then earlier arrival) or a
    callable taking a :class:`RoutedTicket`. Equal keys keep insertion order. ``add``,
    ``discard`` and ``peek`` of one lane are O(log n); removal is lazy.
    """

    def __init__(self, key: Sequence[str] | SortKey = ORDER_COMPONENTS) -> None:
        self._key: SortKey = key if callable(key) else _key_from_names(key)
        self._lanes: dict[Requirements, _Lane] = {}
        self._tickets: dict[str, RoutedTicket] = {}
        self._seq = itertools.count(1)
        self._new_lane: Callable[[_Lane], None] = lambda lane: None

    def add(self, ticket: RoutedTicket) -> None:
        """Queue *ticket* under ``ticket.requirements`` (re-queue it if already there)."""
        if ticket.seq:
            self.discard(ticket)
        lane = self.lane(ticket.requirements)
        ticket.requirements = lane.requirements  # equal requirements share one object
        seq = ticket.seq = next(self._seq)
        heapq.heappush(lane.heap, (self._key(ticket), seq, ticket.id))
        lane.live += 1
        self._tickets[ticket.id] = ticket

    def lane(self, requirements: Requirements) -> _Lane:
        """The lane of *requirements* (made, with its eligible agents, on first use)."""
        lane = self._lanes.get(requirements)
        if lane is None:
            lane = self._lanes[requirements] = _Lane(requirements)
            self._new_lane(lane)
        return lane

    def discard(self, ticket: RoutedTicket) -> _Lane | None:
        """Remove *ticket* if queued; return the lane it left.

        Dead entries are popped as soon as they reach the top of a heap, so a lane's
        ``heap[0]`` is always live: decisions read lane heads without checking them.
        """
        seq = ticket.seq
        if not seq:
            return None
        del self._tickets[ticket.id]
        ticket.seq = 0
        lane = self._lanes[ticket.requirements]
        lane.live -= 1
        heap = lane.heap
        if not lane.live:
            heap.clear()
        elif heap[0][1] == seq:
            heapq.heappop(heap)
            while not self._is_live(heap[0]):
                heapq.heappop(heap)
        elif len(heap) > 64 and len(heap) > 4 * lane.live:
            lane.heap = [entry for entry in heap if self._is_live(entry)]
            heapq.heapify(lane.heap)
        return lane

    def _is_live(self, entry: Entry) -> bool:
        ticket = self._tickets.get(entry[2])
        return ticket is not None and ticket.seq == entry[1]

    @staticmethod
    def head(lane: _Lane) -> Entry | None:
        """The best entry ``(key, seq, ticket_id)`` of *lane*, or ``None``."""
        return lane.heap[0] if lane.heap else None

    def peek(self, requirements: Requirements | None = None) -> RoutedTicket | None:
        """The first ticket of one lane, or of the whole queue when *requirements* is None."""
        if requirements is not None:
            lane = self._lanes.get(requirements)
            entry = None if lane is None else self.head(lane)
        else:
            heads = (self.head(lane) for lane in self._lanes.values() if lane.live)
            entry = min((e for e in heads if e is not None), default=None)
        return None if entry is None else self._tickets[entry[2]]

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def __iter__(self) -> Iterator[RoutedTicket]:
        """Every queued ticket in queue order (sorts: O(n log n))."""
        entries = sorted((self._key(t), t.seq, t.id) for t in self._tickets.values())
        return (self._tickets[entry[2]] for entry in entries)

    def key(self, ticket: RoutedTicket) -> Any:
        """The sort key of *ticket* under this queue's ordering."""
        return self._key(ticket)

    def lanes(self) -> list[Requirements]:
        """The requirements of every lane seen so far."""
        return list(self._lanes)


# --- the router ---------------------------------------------------------------------------------


@attrs.frozen
class Assignment:
    """A routing decision: give ``ticket_id`` (at store ``version``) to ``agent``."""

    ticket_id: str
    agent: str
    version: int


@attrs.frozen
class Claim:
    """The outcome of a compare-and-set assignment; truthy when won.

    ``won`` is false when someone appended to the ticket first: ``version`` is then the version
    found in the store and ``reason`` says what happened (re-read the ticket and decide again).
    ``won`` is also false, with a ``reason`` starting ``"refused:"``, when the ticket's log
    cannot take the assignment (unknown or closed ticket); nothing was written then.
    ``event`` is the appended ``assigned`` event when won.
    """

    ticket_id: str
    agent: str | None
    group: str | None
    won: bool
    expected_version: int
    version: int
    event: TicketEvent | None = None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.won


def claim(
    store: EventStore,
    ticket_id: str,
    agent: str | None = None,
    *,
    expected_version: int,
    at: datetime,
    group: str | None = None,
    by: Role = Role.SYSTEM,
    actor: str | None = None,
) -> Claim:
    """Assign *ticket_id* to *agent* (and/or *group*) if the ticket is still at *expected_version*.

    Appends one ``assigned`` event with ``expected_version``; a concurrent append makes the store
    raise :class:`~supportkit.ConcurrencyError`, which comes back as a lost :class:`Claim`, so two
    workers never both take a ticket. Works with any :class:`~supportkit.typing.EventStore`.

    A claim the ticket's log cannot take is refused (a falsy :class:`Claim` whose ``reason``
    starts with ``"refused:"``) and writes nothing: an unknown ticket or ``expected_version``
    ``0`` (a log must start with ``created``), a closed ticket, or an *at* earlier than the
    ticket's last event.
    """
    event = TicketEvent(
        "assigned",
        ticket_id=ticket_id,
        at=at,
        by=by,
        actor=actor,
        data={"agent": agent, "group": group},
    )
    refusal = _claim_refusal(store, event, expected_version)
    if refusal is not None:
        return Claim(
            ticket_id,
            agent,
            group,
            won=False,
            expected_version=expected_version,
            version=store.version(ticket_id),
            reason=f"refused: {refusal}",
        )

    def append() -> tuple[int, TicketEvent]:
        return store.append(ticket_id, [event], expected_version=expected_version), event

    return claim_with(append, ticket_id, agent, group, expected_version=expected_version)


def _claim_refusal(store: EventStore, event: TicketEvent, expected_version: int) -> str | None:
    """Why the log cannot take the ``assigned`` *event* (``None``: it can, or the log moved
    past *expected_version* and the append will lose the race)."""
    if expected_version <= 0:
        return (
            f"ticket {event.ticket_id}: expected version {expected_version} is before its "
            "'created' event; claim a created ticket at its current version"
        )
    log = store.read(event.ticket_id)
    if not log:
        return f"ticket {event.ticket_id} does not exist in the store"
    if len(log) != expected_version:
        return None
    try:
        Ticket.from_events([*log, event])
    except TicketStateError as exc:
        return str(exc)
    return None


def claim_with(
    append: Callable[[], tuple[int, TicketEvent]],
    ticket_id: str,
    agent: str | None,
    group: str | None,
    *,
    expected_version: int,
) -> Claim:
    """The :class:`Claim` of an assignment that *append* writes at *expected_version*.

    *append* appends the ``assigned`` event and returns ``(new version, event)``, or raises
    :class:`~supportkit.ConcurrencyError` when another writer got there first (a lost claim).
    :func:`claim` appends to a bare store; ``SupportDesk.claim`` commits through the desk.
    """
    try:
        version, event = append()
    except ConcurrencyError as exc:
        return Claim(
            ticket_id,
            agent,
            group,
            won=False,
            expected_version=expected_version,
            version=exc.actual,
            reason=f"lost: {exc}",
        )
    return Claim(
        ticket_id,
        agent,
        group,
        won=True,
        expected_version=expected_version,
        version=version,
        event=event,
    )


def _tier_from(spec: Tier | Mapping[str, Any]) -> Tier:
    if isinstance(spec, Tier):
        return spec
    if not isinstance(spec, Mapping):
        raise ConfigurationError(f"a tier is a Tier or a dict, got {spec!r}")
    name = spec.get("name")
    if "weight" not in spec or spec["weight"] is None:
        raise ConfigurationError(
            f"tier {name!r} has no weight: give every tier an int weight (higher routes first)"
        )
    try:
        return Tier(**spec)
    except TypeError as exc:
        raise ConfigurationError(f"tier {name!r}: {exc}") from exc


def _merge(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Skill requirements of both, the higher level where both name a skill."""
    merged = dict(a)
    for skill, level in b.items():
        merged[skill] = max(merged.get(skill, 0), level)
    return merged


def _names(value: Any, what: str) -> tuple[str, ...]:
    names = listed(value, what)
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(f"{what} must be non-empty strings, got {list(names)!r:.80}")
    return names


def _enum(kind: type[enum.StrEnum], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(
            f"{what}: {value!r} is not one of {', '.join(member.value for member in kind)}"
        ) from None


def skills_from_tags(tags: Iterable[str]) -> dict[str, int]:
    """Skill requirements spelled as tags: ``skill:billing`` (level 1), ``skill:billing:3``."""
    needs: dict[str, int] = {}
    for tag in tags:
        if not tag.startswith("skill:"):
            continue
        name, _, level = tag[6:].partition(":")
        value = int(level) if level.isdigit() else 1
        if name:
            needs[name] = max(needs.get(name, 0), value)
    return needs


class Router:
    """Routes waiting tickets to agents; a fold over ticket events plus agent presence.

    Feed it every event of every ticket with :meth:`apply` (``created`` queues a ticket,
    ``assigned`` takes it off the queue and fills the agent's slot, status changes free or fill
    slots, ``escalated`` with a target re-queues the ticket for the target group). Tell it about
    presence with :meth:`set_status` and about SLA deadlines with :meth:`set_deadline`. Ask with
    :meth:`next_ticket`, :meth:`choose_agent` or :meth:`decide`; commit with :meth:`claim` or
    :meth:`dispatch`.

    Parameters: ``agents`` (online unless told otherwise), ``tiers`` (:class:`~supportkit.Tier`
    or dicts; the watchlist puts a customer or organisation in a tier), ``strategy`` (a
    :class:`SelectionStrategy` or its name: ``"round_robin"``, ``"least_loaded"`` (the
    default), ``"most_idle"``, ``"sticky"``), ``key`` (the queue order),
    ``relax`` (:class:`Relax` steps with increasing waits), ``skills`` (the skill catalogue; when
    given, agents and tickets naming another skill are refused), ``counts`` (statuses that fill a
    slot, ``new`` and ``open`` by default), ``default_capacity`` (slots on a channel the agent's
    ``capacity`` does not name) and ``clock``.
    """

    def __init__(
        self,
        agents: Iterable[Agent] = (),
        *,
        tiers: Iterable[Tier | Mapping[str, Any]] = (),
        strategy: SelectionStrategy | str | None = None,
        key: Sequence[str] | SortKey = ORDER_COMPONENTS,
        relax: Sequence[Relax] = (),
        skills: Collection[str] | None = None,
        counts: Collection[Status | str] = (Status.NEW, Status.OPEN),
        default_capacity: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.strategy: SelectionStrategy = _strategy(strategy)
        #: Asked once per queue (a ticket's routed group, else its tier's dedicated group, else
        #: its group, else ``"default"``) for that queue's strategy; ``None`` (or a ``None``
        #: answer) means :attr:`strategy`. A :class:`~supportkit.SupportDesk` sets it to ask
        #: the ``supportkit_routing_strategy`` hook.
        self.strategy_for: Callable[[str], SelectionStrategy | None] | None = None
        self._queue_strategies: dict[str, SelectionStrategy] = {}
        self.skills = None if skills is None else frozenset(_names(skills, "skills"))
        self.counts = frozenset(
            _enum(Status, status, "counts") for status in listed(counts, "counts")
        )
        if not isinstance(default_capacity, int) or default_capacity < 0:
            raise ConfigurationError(
                f"default_capacity must be a whole number >= 0, got {default_capacity!r}"
            )
        self.default_capacity = default_capacity
        self.tiers: dict[str, Tier] = {}
        self._watch: dict[str, Tier] = {}
        for spec in listed(tiers, "tiers"):
            self._add_tier(_tier_from(spec))
        self.relax = listed(relax, "relax")
        for step in self.relax:
            if not isinstance(step, Relax):
                raise ConfigurationError(f"relax steps must be Relax objects, got {step!r:.80}")
        waits = [seconds(step.after, "Relax.after", ConfigurationError) for step in self.relax]
        if any(b <= a for a, b in itertools.pairwise(waits)) or any(w < 0 for w in waits):
            raise ConfigurationError(
                f"relax steps must have increasing, non-negative waits, got {waits} seconds"
            )
        self._relax_waits = waits
        self.queue = RoutingQueue(key)
        self.queue._new_lane = self._index_lane
        self._relax_heap: list[tuple[int, int, str]] = []
        self._tickets: dict[str, RoutedTicket] = {}
        self._agents: dict[str, AgentState] = {}
        self._agent_numbers = itertools.count()  # AgentState.index: never reused
        self._ready: list[tuple[Entry, _Lane]] = []
        """Ready lanes by head (a heap; entries whose lane moved on are dropped lazily)."""
        self._rankings: dict[tuple[_Ranked, str], _Ranking] = {}
        self._last_agent: dict[str, str] = {}
        self._assignments = itertools.count(1)
        for agent in listed(agents, "agents"):
            self.add_agent(agent)

    # --- configuration --------------------------------------------------------------------

    def _add_tier(self, tier: Tier) -> None:
        if tier.name in self.tiers:
            raise ConfigurationError(f"tier {tier.name!r} is configured twice")
        self.tiers[tier.name] = tier
        for member in tier.watchlist:
            known = self._watch.get(member)
            if known is None or tier.weight > known.weight:
                self._watch[member] = tier

    def _check_tier(self, tier: str | None, ticket_id: str) -> str | None:
        if tier is not None and self.tiers and tier not in self.tiers:
            raise ConfigurationError(
                f"ticket {ticket_id}: unknown tier {tier!r}; configured tiers: "
                f"{', '.join(self.tiers)} (add it to Router(tiers=...))"
            )
        return tier

    def _skills(
        self, ticket_id: str, tags: Iterable[str], required: Mapping[str, int]
    ) -> dict[str, int]:
        """A ticket's skill requirements: from its ``skill:`` tags and :meth:`require`."""
        needs = _merge(skills_from_tags(tags), required)
        self._check_skills(needs, f"ticket {ticket_id}")
        return needs

    def _check_skills(self, needs: Iterable[str], what: str) -> None:
        if self.skills is None:
            return
        unknown = sorted(set(needs) - self.skills)
        if unknown:
            raise ConfigurationError(
                f"{what}: unknown skill {unknown[0]!r}; known skills: "
                f"{', '.join(sorted(self.skills)) or 'none'} (add it to Router(skills=...))"
            )

    def add_agent(
        self,
        agent: Agent,
        *,
        status: AgentStatus | str = AgentStatus.ONLINE,
        at: datetime | None = None,
    ) -> AgentState:
        """Register *agent* (or replace its configuration, keeping its load and presence)."""
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"add_agent() takes an Agent, got {agent!r}")
        self._check_skills(agent.skills, f"agent {agent.id}")
        old = self._agents.get(agent.id)
        if old is not None:
            self._set_free(old, False)
            for lanes in old.lanes.values():
                for lane in lanes:
                    lane.agents.remove(old)
            old.lanes = {}
            old.agent = agent
            state = old
        else:
            presence = _enum(AgentStatus, status, f"agent {agent.id} status")
            state = AgentState(
                agent, next(self._agent_numbers), presence, self._ts(at), self.default_capacity
            )
            for ticket in self._tickets.values():  # tickets it was given before it registered
                if ticket.assignee == agent.id and ticket.status in self.counts:
                    state.load[ticket.channel] = state.load.get(ticket.channel, 0) + 1
            self._agents[agent.id] = state
        for lane in self.queue._lanes.values():
            if lane.requirements.admits(agent):
                self._link(state, lane)
        self._rerank(state)  # new capacity; a new agent gets its first ranks
        self._set_free(state, True)
        return state

    def remove_agent(self, agent_id: str) -> None:
        """Forget an agent; its tickets stay assigned (reassign them with events)."""
        state = self._agent(agent_id)
        self._set_free(state, False)
        for lanes in state.lanes.values():
            for lane in lanes:
                lane.agents.remove(state)
        for ranking in self._rankings.values():
            del ranking.ranks[state]
        del self._agents[agent_id]

    def set_status(
        self, agent_id: str, status: AgentStatus | str, *, at: datetime | None = None
    ) -> None:
        """Set an agent's presence; coming online restarts its idle time at *at* (or now)."""
        state = self._agent(agent_id)
        new = _enum(AgentStatus, status, f"agent {agent_id} status")
        if new is AgentStatus.ONLINE and state.status is not AgentStatus.ONLINE:
            state.idle_since = max(state.idle_since, self._ts(at))
            self._rerank(state)
        self._set_free(state, False)
        state.status = new
        self._set_free(state, True)

    def set_deadline(self, ticket_id: str, deadline: datetime | int | None) -> None:
        """Set (or clear) the SLA deadline that orders a ticket; re-orders it if queued.

        Pass ``SlaEvaluation.next_due`` or a cycle's deadline, as an aware datetime or epoch
        seconds.
        """
        ticket = self._ticket(ticket_id)
        ticket.deadline = self._deadline(deadline)
        self._refresh(ticket)

    def require(
        self,
        ticket_id: str,
        *,
        skills: Mapping[str, int] | None = None,
        language: str | None = None,
    ) -> None:
        """Add skill requirements (``{skill: minimum level}``) or a language to a ticket."""
        ticket = self._ticket(ticket_id)
        for skill, level in (skills or {}).items():
            if not isinstance(level, int) or level < 0:
                raise ConfigurationError(
                    f"ticket {ticket_id}: skill {skill!r} level must be a whole number >= 0"
                )
        required = _merge(ticket.required, skills or {})
        ticket.skills = self._skills(ticket.id, ticket.tags, required)
        ticket.required = required
        if language is not None:
            ticket.language = language
        self._refresh(ticket)

    # --- queries --------------------------------------------------------------------------

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def ticket(self, ticket_id: str) -> RoutedTicket:
        """The router's view of a ticket."""
        return self._ticket(ticket_id)

    def agent(self, agent_id: str) -> AgentState:
        """The router's view of an agent."""
        return self._agent(agent_id)

    @property
    def agents(self) -> list[AgentState]:
        """Every registered agent, in registration order."""
        return list(self._agents.values())

    def is_free(self, agent: AgentState, channel: str) -> bool:
        """Whether *agent* is online with a free slot on *channel*."""
        return agent.status is AgentStatus.ONLINE and agent.load.get(channel, 0) < agent.slots(
            channel
        )

    def next_ticket(self, agent_id: str, *, at: datetime | None = None) -> RoutedTicket | None:
        """The first queued ticket *agent_id* may take now (online, with a free slot), or None."""
        self.advance(at)
        state = self._agent(agent_id)
        if state.status is not AgentStatus.ONLINE:
            return None
        best = self._best_for(state)
        return None if best is None else self._tickets[best[2]]

    def _best_for(self, state: AgentState) -> Entry | None:
        best: Entry | None = None
        for channel, lanes in state.lanes.items():
            if state.load.get(channel, 0) >= state.slots(channel):
                continue
            for lane in lanes:
                heap = lane.heap  # its head is always live (see RoutingQueue.discard)
                if heap and (best is None or heap[0] < best):
                    best = heap[0]
        return best

    def choose_agent(self, ticket_id: str, *, at: datetime | None = None) -> AgentState | None:
        """Which agent should take *ticket_id* now, or ``None``.

        The strategy picks among the eligible agents that are online with a free slot and have
        no higher-ordered ticket waiting for them (that one should go first: see
        :meth:`decide`).
        """
        self.advance(at)
        ticket = self._ticket(ticket_id)
        lane = self.queue._lanes.get(ticket.requirements) if ticket.seq else None
        if lane is None:
            return None

        def first_for(agent: AgentState) -> bool:
            best = self._best_for(agent)
            return best is not None and best[2] == ticket.id

        return self._first_fit(ticket, lane, first_for)

    def choose_new(
        self, created: TicketEvent, *, deadline: int | None = None, at: datetime | None = None
    ) -> AgentState | None:
        """What :meth:`choose_agent` would answer right after the ticket that the *created*
        event opens were applied (with SLA *deadline*, epoch seconds), without applying it.

        A writer asks before its commit, so the ticket and its assignment are appended together
        (no second write, and nothing here changes if that commit fails).
        """
        self.advance(at)
        ticket = self._routed(created)
        ticket.deadline = deadline
        ticket.relax_step = self._first_step(0)
        ticket.requirements = self._requirements(ticket)
        lane = self.queue.lane(ticket.requirements)
        key = self.queue.key(ticket)

        def first_for(agent: AgentState) -> bool:
            best = self._best_for(agent)
            # Queued now, the ticket would be newest: it goes first only with a smaller key.
            return best is None or key < best[0]

        return self._first_fit(ticket, lane, first_for)

    def _first_fit(
        self, ticket: RoutedTicket, lane: _Lane, fits: Callable[[AgentState], bool]
    ) -> AgentState | None:
        """The strategy's choice among *lane*'s free agents that *fits* accepts: its choice
        among all of them (:meth:`_pick`, the rank heap's top for a ranked strategy), else
        among the rest, and so on."""
        if not lane.free:
            return None
        chosen = self._pick(ticket, lane)
        if fits(chosen):
            return chosen
        candidates = [agent for agent in lane.free if agent is not chosen]
        while candidates:
            chosen = self._choose(ticket, candidates)
            if fits(chosen):
                return chosen
            candidates.remove(chosen)
        return None

    def decide(self, *, at: datetime | None = None) -> Assignment | None:
        """The next assignment to make: the best queued ticket that some free agent may take,
        and the strategy's pick among those agents; ``None`` when nothing can move."""
        self.advance(at)
        ready = self._ready
        while ready:
            entry, lane = ready[0]
            if lane.ready and lane.heap[0] is entry:  # a head is always live
                ticket = self._tickets[entry[2]]
                chosen = self._pick(ticket, lane)
                return Assignment(ticket.id, chosen.agent.id, ticket.version)
            heapq.heappop(ready)  # the lane's head moved on, or it is no longer ready
            if lane.pushed is entry:
                lane.pushed = None
        return None

    def _pick(self, ticket: RoutedTicket, lane: _Lane) -> AgentState:
        """The strategy's choice among the lane's free agents.

        A built-in ranked strategy's choice is the top of the lane's heap of free agents by
        rank (``_Lane.by_rank``), kept settled as agents change: O(1) here instead of ranking
        every candidate.
        """
        ticket.previous_agent = self._last_agent.get(ticket.customer or "")
        strategy = self._strategy_of(ticket)
        if lane.ranking is not None and lane.ranking.strategy is strategy:
            return lane.by_rank[0][1]  # settled: see _settle
        ranking = self._ranking(strategy, lane.requirements.channel)
        if ranking is None:
            return strategy.choose(ticket, list(lane.free))
        if lane.ranking is not ranking:  # a lane without tickets so far, or a new strategy
            self._rank_lane(lane, ranking)
        return lane.by_rank[0][1]  # settled: see _settle

    def _ranking(self, strategy: SelectionStrategy, channel: str) -> _Ranking | None:
        """The ranks of a built-in ranked strategy on *channel* (None for other strategies)."""
        if not isinstance(strategy, _Ranked) or type(strategy).choose is not _Ranked.choose:
            return None  # not ranked, or a subclass that chooses otherwise
        ranking = self._rankings.get((strategy, channel))
        if ranking is None:
            rank = strategy._rank(channel)
            ranking = self._rankings[strategy, channel] = _Ranking(strategy, rank)
            ranking.ranks.update((state, rank(state)) for state in self._agents.values())
        return ranking

    @staticmethod
    def _rank_lane(lane: _Lane, ranking: _Ranking) -> None:
        """(Re)build *lane*'s heap of free agents by *ranking*."""
        lane.ranking = ranking
        lane.by_rank = [(ranking.ranks[agent], agent) for agent in lane.free]
        heapq.heapify(lane.by_rank)

    @staticmethod
    def _settle(lane: _Lane) -> None:
        """Make the top of *lane*'s rank heap current: drop entries of agents that are no
        longer free in the lane, re-push out-of-date ranks, until the top is a free agent at
        its current rank. No free agent ranks better than its best entry (see ``_offer``), so
        that top is the smallest rank; the router settles a heap whenever its top changes."""
        assert lane.ranking is not None
        heap, free, ranks = lane.by_rank, lane.free, lane.ranking.ranks
        while heap:
            rank, agent = heap[0]
            if agent not in free:
                heapq.heappop(heap)
                continue
            current = ranks[agent]
            if current == rank:
                return
            heapq.heapreplace(heap, (current, agent))

    @staticmethod
    def _offer(lane: _Lane, state: AgentState) -> None:
        """Push *state* (free in *lane*: it just became free there, or its rank improved) into
        the lane's rank heap; rebuild the heap instead when out-of-date entries pile up."""
        ranking = lane.ranking
        if ranking is None:
            return
        if len(lane.by_rank) > 2 * len(lane.free) + 16:
            Router._rank_lane(lane, ranking)
        else:
            heapq.heappush(lane.by_rank, (ranking.ranks[state], state))

    def _choose(self, ticket: RoutedTicket, candidates: list[AgentState]) -> AgentState:
        ticket.previous_agent = self._last_agent.get(ticket.customer or "")
        return self._strategy_of(ticket).choose(ticket, candidates)

    def _strategy_of(self, ticket: RoutedTicket) -> SelectionStrategy:
        """The strategy of *ticket*'s queue: :attr:`strategy_for`'s answer (asked once per
        queue), else the router's default :attr:`strategy`."""
        return self._strategy_of_queue(
            ticket.routed_group or ticket.dedicated_group or ticket.group
        )

    def _strategy_of_queue(self, group: str | None) -> SelectionStrategy:
        """The strategy of the queue of *group* (a lane's ``requirements.group``)."""
        if self.strategy_for is None:
            return self.strategy
        queue = group or DEFAULT_QUEUE
        strategy = self._queue_strategies.get(queue)
        if strategy is None:
            strategy = self._queue_strategies[queue] = self.strategy_for(queue) or self.strategy
        return strategy

    # --- commits --------------------------------------------------------------------------

    def claim(
        self, store: EventStore, assignment: Assignment, *, at: datetime | None = None
    ) -> Claim:
        """Claim *assignment* in *store*; apply the event when won, catch up when lost."""
        when = at if at is not None else self.clock.now()
        result = claim(
            store,
            assignment.ticket_id,
            assignment.agent,
            expected_version=assignment.version,
            at=when,
        )
        if result.event is not None:
            self.apply(result.event)
        else:
            self.catch_up(store, assignment.ticket_id)
        return result

    def dispatch(self, store: EventStore, *, at: datetime | None = None) -> list[Claim]:
        """Make every assignment possible now; return the claims (won and lost)."""
        claims: list[Claim] = []
        lost: set[str] = set()
        while (assignment := self.decide(at=at)) is not None:
            if assignment.ticket_id in lost:
                break  # the store disagrees with what we applied; stop rather than spin
            result = self.claim(store, assignment, at=at)
            if not result.won:
                lost.add(assignment.ticket_id)
            claims.append(result)
        return claims

    def catch_up(self, store: EventStore, ticket_id: str) -> int:
        """Apply the ticket's events the router has not seen; return how many."""
        ticket = self._tickets.get(ticket_id)
        events = store.read(ticket_id, after=0 if ticket is None else ticket.version)
        for event in events:
            self.apply(event)
        return len(events)

    # --- the fold -------------------------------------------------------------------------

    def apply(self, event: TicketEvent) -> None:
        """Fold one ticket event into the routing state (events of a ticket in log order).

        Skill relaxations due by the event's instant are applied first, as :meth:`advance`
        would: the router's time is the latest of the events and decisions it has seen.
        """
        if self._relax_heap and self._relax_heap[0][0] <= event.ts:
            self._relax_until(event.ts)  # the log's time has come: relax as a replay goes
        kind = event.kind
        if kind == "created":
            self._created(event)
            return
        ticket = self._tickets.get(event.ticket_id)
        if ticket is None:
            raise TicketStateError(
                f"ticket {event.ticket_id}: the router got {kind!r} event {event.id} before the "
                "ticket's 'created' event; feed each ticket's log from its start",
                ticket_id=event.ticket_id,
                event=event,
            )
        data = event.data
        if kind == "assigned":
            self._assigned(ticket, data["agent"], data["group"], event.ts)
        elif kind == "status_changed":
            self._status(ticket, Status(data["to"]), event.ts)
        elif kind == "merged":
            self._status(ticket, Status.CLOSED, event.ts)
        elif kind == "priority_changed":
            if data["to"] != ticket.priority:  # the same priority keeps its place among equals
                ticket.priority = data["to"]
                self._refresh(ticket)
        elif kind == "tier_changed":
            tier = self._check_tier(data["to"], ticket.id)
            if tier != ticket.tier:
                ticket.tier = tier
                self._refresh(ticket)
        elif kind == "tagged":
            tags = (ticket.tags | frozenset(data["add"])) - frozenset(data["remove"])
            skills = self._skills(ticket.id, tags, ticket.required)
            ticket.tags = tags
            if skills != ticket.skills:
                ticket.skills = skills
                self._refresh(ticket)
        elif kind == "escalated" and data["target"] is not None:
            self._escalated(ticket, data["target"], event.ts)
        elif kind == "handed_off":  # like an escalation's target: the next team's queue
            self._escalated(ticket, data["to"], event.ts)
        ticket.version += 1

    def check(self, event: TicketEvent) -> None:
        """Raise the :class:`~supportkit.ConfigurationError` :meth:`apply` would raise for
        *event* (a tier or skill this router does not know), changing nothing.

        A writer calls it before appending, so a refused event never reaches the store.
        """
        data = event.data
        kind = event.kind
        if kind == "created":
            self._check_tier(data["tier"], event.ticket_id)
            self._check_skills(skills_from_tags(data["tags"]), f"ticket {event.ticket_id}")
        elif kind == "tier_changed":
            self._check_tier(data["to"], event.ticket_id)
        elif kind == "tagged":
            self._check_skills(skills_from_tags(data["add"]), f"ticket {event.ticket_id}")

    def apply_all(self, events: Iterable[TicketEvent]) -> None:
        """Apply many events in order (``store.read_all()`` fits)."""
        for event in events:
            self.apply(event)

    def _created(self, event: TicketEvent) -> None:
        if event.ticket_id in self._tickets:
            raise TicketStateError(
                f"ticket {event.ticket_id}: a second 'created' event ({event.id})",
                ticket_id=event.ticket_id,
                event=event,
            )
        ticket = self._routed(event)
        self._tickets[ticket.id] = ticket
        self._enqueue(ticket, now=event.ts)

    def _routed(self, event: TicketEvent) -> RoutedTicket:
        """The router's view of the ticket a ``created`` event opens (not registered yet)."""
        data = event.data
        tags = frozenset(data["tags"]) if data["tags"] else _NO_TAGS
        skills = self._skills(event.ticket_id, tags, {})
        tier = self._check_tier(data["tier"], event.ticket_id)
        ticket = RoutedTicket()
        ticket.id = event.ticket_id
        ticket.status = Status.NEW
        ticket.channel = data["channel"]
        ticket.priority = data["priority"]
        ticket.tier = tier
        ticket.customer = data["customer"]
        ticket.organisation = data["organisation"]
        ticket.language = data["language"]
        ticket.group = data["group"]
        ticket.routed_group = None
        ticket.tags = tags
        ticket.skills = skills
        ticket.required = {}
        ticket.deadline = None
        ticket.queued_at = event.ts
        ticket.assignee = None
        ticket.previous_agent = self._last_agent.get(ticket.customer or "")
        ticket.version = 1
        ticket.seq = 0
        self._set_tier(ticket)
        return ticket

    def _assigned(
        self, ticket: RoutedTicket, agent: str | None, group: str | None, ts: int
    ) -> None:
        if group is not None:
            ticket.group = group
            ticket.routed_group = None
        if agent is None:
            self._refresh(ticket)
            return
        self._unqueue(ticket)
        self._release(ticket)
        ticket.assignee = agent
        if ticket.customer is not None:
            self._last_agent[ticket.customer] = agent
        state = self._agents.get(agent)
        if state is not None:
            state.assigned_seq = next(self._assignments)
            state.idle_since = max(state.idle_since, ts)
        if not self._hold(ticket) and state is not None:
            self._rerank(state)  # holding the ticket reranks the agent, here nothing did

    def _status(self, ticket: RoutedTicket, status: Status, ts: int) -> None:
        self._release(ticket)
        ticket.status = status
        self._hold(ticket)
        if ticket.assignee is None and status in _ROUTABLE:
            if not ticket.seq:
                self._enqueue(ticket, now=ts)
        else:
            self._unqueue(ticket)

    def _escalated(self, ticket: RoutedTicket, target: str, ts: int) -> None:
        self._release(ticket)
        ticket.assignee = None
        ticket.routed_group = ticket.group = target
        self._unqueue(ticket)
        if ticket.status in _ROUTABLE:
            self._enqueue(ticket, now=ts)

    # --- internals ------------------------------------------------------------------------

    def _ts(self, at: datetime | None) -> int:
        return to_epoch(at if at is not None else self.clock.now(), "at", ConfigurationError)

    def _deadline(self, value: datetime | int | None) -> int | None:
        if value is None or isinstance(value, datetime):
            return None if value is None else to_epoch(value, "deadline", ConfigurationError)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigurationError(
            f"deadline must be an aware datetime, epoch seconds or None, got {value!r}"
        )

    def _agent(self, agent_id: str) -> AgentState:
        state = self._agents.get(agent_id)
        if state is None:
            raise ConfigurationError(
                f"unknown agent {agent_id!r}: register it with Router.add_agent() first"
            )
        return state

    def _ticket(self, ticket_id: str) -> RoutedTicket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise TicketStateError(
                f"ticket {ticket_id}: the router has not seen it (apply its 'created' event)",
                ticket_id=ticket_id,
            )
        return ticket

    def _set_tier(self, ticket: RoutedTicket) -> None:
        # The heaviest watchlist naming the customer or its organisation, as the desk's
        # tier_for decides (not the customer's entry first: that one may be the lighter tier).
        watched = [
            tier
            for tier in (
                self._watch.get(ticket.customer or ""),
                self._watch.get(ticket.organisation or ""),
            )
            if tier is not None
        ]
        tier = max(watched, key=lambda t: t.weight) if watched else None
        if tier is None and ticket.tier is not None:
            tier = self.tiers.get(ticket.tier)
        ticket.weight = 0 if tier is None else tier.weight
        ticket.dedicated_agent = None if tier is None else tier.dedicated_agent
        ticket.dedicated_group = None if tier is None else tier.dedicated_group

    def _requirements(self, ticket: RoutedTicket) -> Requirements:
        needs = {skill: level for skill, level in ticket.skills.items() if level > 0}
        for step in self.relax[: ticket.relax_step]:
            if step.lower_by is None:
                needs = {}
                break
            needs = {s: lv - step.lower_by for s, lv in needs.items() if lv > step.lower_by}
        return Requirements(
            ticket.channel,
            tuple(sorted(needs.items())),
            ticket.language,
            ticket.routed_group or ticket.dedicated_group or ticket.group,
            ticket.dedicated_agent if ticket.relax_step == 0 else None,
        )

    def _refresh(self, ticket: RoutedTicket) -> None:
        """Recompute tier and requirements; re-queue (same arrival) if queued."""
        self._set_tier(ticket)
        if ticket.seq:
            self._enqueue(ticket, step=ticket.relax_step)

    def _enqueue(self, ticket: RoutedTicket, *, now: int | None = None, step: int = 0) -> None:
        """Queue (or re-queue) *ticket*; *now* starts a new wait (arrival), else it keeps it."""
        if now is not None:
            ticket.queued_at = now
        ticket.relax_step = step = self._first_step(step)
        waits = self._relax_waits
        self._unqueue(ticket)
        ticket.requirements = self._requirements(ticket)
        self.queue.add(ticket)
        self._touch(self.queue._lanes[ticket.requirements])
        if step < len(waits):
            heapq.heappush(
                self._relax_heap, (ticket.queued_at + waits[step], ticket.seq, ticket.id)
            )

    def _first_step(self, step: int) -> int:
        """The relaxation step from *step* on that a ticket starts at (zero waits apply at once)."""
        waits = self._relax_waits
        while step < len(waits) and waits[step] <= 0:
            step += 1
        return step

    def _unqueue(self, ticket: RoutedTicket) -> None:
        lane = self.queue.discard(ticket)
        if lane is not None:
            self._touch(lane)

    def _counts(self, ticket: RoutedTicket) -> AgentState | None:
        if ticket.assignee is None or ticket.status not in self.counts:
            return None
        return self._agents.get(ticket.assignee)

    def _hold(self, ticket: RoutedTicket) -> bool:
        """Count *ticket* in its assignee's load, if it counts; whether it did."""
        state = self._counts(ticket)
        if state is not None:
            self._load(state, ticket.channel, 1)
        return state is not None

    def _release(self, ticket: RoutedTicket) -> None:
        state = self._counts(ticket)
        if state is not None:
            self._load(state, ticket.channel, -1)

    def _load(self, state: AgentState, channel: str, delta: int) -> None:
        was = self.is_free(state, channel)
        state.load[channel] = state.load.get(channel, 0) + delta
        now = self.is_free(state, channel)
        # An agent leaving its lanes' free agents leaves before its new rank is settled in
        # their heaps; one joining them joins with its new rank.
        if was and not now:
            self._shift(state, channel, -1)
        self._rerank(state)
        if now and not was:
            self._shift(state, channel, 1)

    def _set_free(self, state: AgentState, on: bool) -> None:
        """Count (``on``) or uncount the agent's free channels in its lanes."""
        for channel in state.lanes:
            if self.is_free(state, channel):
                self._shift(state, channel, 1 if on else -1)

    def _shift(self, state: AgentState, channel: str, delta: int) -> None:
        for lane in state.lanes.get(channel, ()):
            if delta > 0:
                lane.free[state] = None
                self._offer(lane, state)
            else:
                del lane.free[state]
                if lane.by_rank and lane.by_rank[0][1] is state:
                    self._settle(lane)
            self._touch(lane)

    def _touch(self, lane: _Lane) -> None:
        """Note whether *lane* is ready; a ready lane with a new head goes in the ready heap."""
        lane.ready = bool(lane.free) and lane.live > 0
        if lane.ranking is None and lane.live:  # rank its free agents before any decision
            self._rank_lane_early(lane)
        if lane.ready and lane.pushed is not lane.heap[0]:
            lane.pushed = lane.heap[0]
            heapq.heappush(self._ready, (lane.pushed, lane))
            if len(self._ready) > 2 * len(self.queue._lanes) + 64:
                self._rebuild_ready()

    def _rank_lane_early(self, lane: _Lane) -> None:
        """Rank *lane*'s free agents when it gets tickets, if its strategy is ranked and known
        without asking :attr:`strategy_for` (that is asked when deciding, as it always was);
        otherwise the first decision in the lane does it."""
        if self.strategy_for is None:
            strategy: SelectionStrategy | None = self.strategy
        else:
            strategy = self._queue_strategies.get(lane.requirements.group or DEFAULT_QUEUE)
        ranking = None if strategy is None else self._ranking(strategy, lane.requirements.channel)
        if ranking is not None:
            self._rank_lane(lane, ranking)

    def _rebuild_ready(self) -> None:
        """The ready heap without the entries of lanes that moved on (amortised O(1) a push)."""
        lanes = self.queue._lanes.values()
        for lane in lanes:
            lane.pushed = lane.heap[0] if lane.ready else None
        self._ready = [(lane.heap[0], lane) for lane in lanes if lane.ready]
        heapq.heapify(self._ready)

    def _rerank(self, state: AgentState) -> None:
        """Update *state*'s rank in every ranking (after its load, last assignment, idle time
        or configuration changed): push a rank that got better into its lanes' heaps, and
        settle the heaps it tops with a worse one."""
        for (_, channel), ranking in self._rankings.items():
            old = ranking.ranks.get(state)
            new = ranking.ranks[state] = ranking.rank(state)
            if old is None or new == old:
                continue
            lanes = state.lanes.get(channel, ())
            if new < old:
                for lane in lanes:
                    if lane.ranking is ranking and state in lane.free:
                        self._offer(lane, state)
            else:  # only a heap it tops needs settling (a top is always a free agent)
                for lane in lanes:
                    heap = lane.by_rank
                    if heap and heap[0][1] is state and lane.ranking is ranking:
                        self._settle(lane)

    def _link(self, state: AgentState, lane: _Lane) -> None:
        lane.agents.append(state)
        state.lanes.setdefault(lane.requirements.channel, []).append(lane)

    def _index_lane(self, lane: _Lane) -> None:
        channel = lane.requirements.channel
        for state in self._agents.values():
            if lane.requirements.admits(state.agent):
                self._link(state, lane)
                if self.is_free(state, channel):
                    lane.free[state] = None

    def advance(self, at: datetime | None = None) -> None:
        """Apply the skill relaxations due by *at* (or now); decisions call this themselves,
        and :meth:`apply` does up to each event's instant."""
        if self._relax_heap:
            self._relax_until(self._ts(at))

    def _relax_until(self, ts: int) -> None:
        heap = self._relax_heap
        while heap and heap[0][0] <= ts:
            _, seq, ticket_id = heapq.heappop(heap)
            ticket = self._tickets.get(ticket_id)
            if ticket is not None and ticket.seq == seq:
                waited = ts - ticket.queued_at
                self._enqueue(ticket, step=sum(1 for wait in self._relax_waits if wait <= waited))


def _scan_next_ticket(
    router: Router, agent_id: str, at: datetime | None = None
) -> RoutedTicket | None:
    """The reference answer to :meth:`Router.next_ticket`: look at every queued ticket, O(n).

    Eligibility and relaxation are worked out from scratch here (not from the lanes), so tests
    and the benchmark can check the indexed answer against it.
    """
    ts = router._ts(at)
    router.advance(at)  # only so that tie-breaking sequence numbers match after relaxations
    state = router.agent(agent_id)
    if state.status is not AgentStatus.ONLINE:
        return None
    agent = state.agent
    best: tuple[Any, int] | None = None
    found: RoutedTicket | None = None
    for ticket in router.queue._tickets.values():
        if state.load.get(ticket.channel, 0) >= state.slots(ticket.channel):
            continue
        steps = [
            s
            for s, wait in zip(router.relax, router._relax_waits, strict=True)
            if wait <= ts - ticket.queued_at
        ]
        if any(step.lower_by is None for step in steps):
            needs: dict[str, int] = {}
        else:
            lowered = sum(step.lower_by or 0 for step in steps)
            needs = {k: v - lowered for k, v in ticket.skills.items() if v - lowered > 0}
        if any(agent.skills.get(k, 0) < v for k, v in needs.items()):
            continue
        group = ticket.routed_group or ticket.dedicated_group or ticket.group
        if group is not None and group not in agent.groups:
            continue
        if not steps and ticket.dedicated_agent not in (None, agent.id):
            continue
        if ticket.language and agent.languages and ticket.language not in agent.languages:
            continue
        rank = (router.queue.key(ticket), ticket.seq)
        if best is None or rank < best:
            best, found = rank, ticket
    return found
