"""Support metrics: per-ticket facts, streaming mergeable aggregators, goals and reports.

Three layers, each a fold:

1. :class:`TicketFacts` (one row per ticket) is a fold of that ticket's event log, with optional
   business-time figures from a calendar (anything with ``elapsed_seconds(a, b) -> int``, e.g.
   :class:`~supportkit.BusinessCalendar`) and an optional SLA evaluation (a mapping
   ``metric -> cycles`` whose cycles have a ``status`` of ``met``/``breached``/..., e.g.
   ``evaluate_sla(...)``). :class:`SessionFacts` folds a self-service session's
   :class:`SessionEvent` stream and :func:`presence_spans` an agent's :class:`PresenceEvent`
   stream.
2. :class:`MetricsAggregator` consumes facts one at a time (or as numpy columns) into per-group
   accumulators of plain ints and ``{bucket: count}`` dicts. Two aggregators over disjoint shards
   merge into exactly what one pass over all facts gives, in any order.
3. :meth:`MetricsAggregator.report` turns the accumulators into a :class:`MetricsReport` of
   :class:`GroupMetrics` rows and :class:`GoalResult` lines: plain attrs data that renders to dicts,
   JSON and DataFrames.

The exact definitions are in ``docs/concepts/metrics.md``; the names in :data:`METRIC_NAMES`.
Hot path: a fact precomputes what it adds to a group (its counter and duration-sum increments
packed into one integer with a 64-bit lane each, its sketch bucket keys, its named counts), so
aggregating is one integer addition and a few counter increments per fact and grouping. A
group's sketches move from its dict to a dense array of fixed size once the group has seen a
few hundred buckets (see :class:`_Acc`), so the state grows with the groups, not the tickets.
"""

from __future__ import annotations

import enum
import functools
import importlib.util
import itertools
import json
import math
import operator
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._escalation import ENGINEERING
from ._model import Priority, Role, Status, TicketEvent, _encodable, _metadata, listed
from ._sketch import (
    DENSE_KEYS,
    DENSE_TOP,
    INV_LOG_GAMMA,
    ZERO,
    ExactQuantiles,
    QuantileSketch,
    add_counts,
    dense_counts,
    nonzero_counts,
    widen_counts,
    worth_dense,
)
from ._ticket import _Fold
from ._time import from_epoch, parse_instant, to_epoch
from .exceptions import ConfigurationError, EventError, TicketStateError

__all__ = [
    "METRIC_NAMES",
    "Goal",
    "GoalResult",
    "GroupMetrics",
    "MetricsAggregator",
    "MetricsReport",
    "PresenceEvent",
    "PresenceSpan",
    "SessionEvent",
    "SessionFacts",
    "TicketFacts",
    "metrics_report",
    "presence_spans",
]

# --- accumulator layout ---------------------------------------------------------------------

#: Duration distributions, in accumulator order (calendar seconds, then business seconds).
DURATIONS = (
    "first_reply",
    "first_reply_business",
    "next_reply",
    "next_reply_business",
    "full_resolution",
    "full_resolution_business",
    "requester_wait",
    "requester_wait_business",
    "backlog_age",
)
(
    _FRT,
    _FRT_B,
    _NRT,
    _NRT_B,
    _FULL,
    _FULL_B,
    _WAIT,
    _WAIT_B,
    _AGE,
) = range(len(DURATIONS))

_COUNTERS = (
    "incoming",
    "backlog",
    "ever_solved",
    "reopened",
    "escalated",
    "csat_good",
    "csat_bad",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "ces_responses",
    "ces_sum",
    "solved",
    "one_touch",
    "first_contact",
    "sessions",
    "deflected_sessions",
    "online_seconds",
    "busy_seconds",
    "away_seconds",
)
(
    _INCOMING,
    _BACKLOG,
    _EVER_SOLVED,
    _REOPENED,
    _ESCALATED,
    _CSAT_GOOD,
    _CSAT_BAD,
    _NPS_N,
    _NPS_PRO,
    _NPS_DET,
    _CES_N,
    _CES_SUM,
    _SOLVED,
    _ONE_TOUCH,
    _FCR,
    _SESSIONS,
    _DEFLECTED,
    _ONLINE,
    _BUSY,
    _AWAY,
) = range(len(_COUNTERS))

_UNSOLVED = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})
_WAITING = frozenset({Status.NEW, Status.OPEN, Status.ON_HOLD})
"""Statuses in which the requester waits (requester wait time runs)."""
# Module constants: reading an enum member off its class is slow in Python 3.11 (about 70 ns).
_STATUS_SOLVED, _STATUS_CLOSED = Status.SOLVED, Status.CLOSED
_CUSTOMER, _AGENT = Role.CUSTOMER, Role.AGENT
_SOLVED_STATES = frozenset({Status.SOLVED, Status.CLOSED})
_PRIORITY_VALUE = {p: p.value for p in Priority}  # .value is a slow property lookup
_STATISTICS = (("count", None), ("mean", None), ("median", 0.5), ("p90", 0.9), ("p95", 0.95))

#: Every fixed metric name a :class:`GroupMetrics` row has (per-level escalation rates
#: ``escalation_rate.<level>`` and per-metric SLA figures ``sla.<metric>.*`` come on top).
METRIC_NAMES: tuple[str, ...] = (
    "incoming",
    "solved",
    "reopened",
    "backlog",
    *(f"{d}.{s}" for d in DURATIONS for s, _ in _STATISTICS),
    "one_touch_rate",
    "first_contact_resolution_rate",
    "reopen_rate",
    "escalated",
    "escalation_rate",
    "sla_attainment",
    "csat",
    "csat_responses",
    "nps",
    "nps_responses",
    "ces",
    "ces_responses",
    "self_service_sessions",
    "deflected_sessions",
    "deflection_rate",
    "occupancy",
    "agents",
    "tickets_per_agent",
)


_LANE = 64
"""Bits per lane of an accumulator's packed integer (counters, then duration sums)."""
_MASK = (1 << _LANE) - 1
_LANES = len(_COUNTERS) + len(DURATIONS)
_Keys: TypeAlias = tuple[int | str, ...]
_Part: TypeAlias = tuple[int, _Keys, _Keys, tuple[int, ...], _Keys]
"""A fact's precomputed update (see :func:`_part`): packed counter and sum increments, the keys
it counts in a group's dict in sketch mode and in exact mode (index :data:`_SKETCH` or
:data:`_EXACT`), then in sketch mode once the group is dense: the slots it counts in the dense
array and the keys it still counts in the dict."""
_Mode: TypeAlias = Literal[1, 2]
_SKETCH: _Mode = 1
_EXACT: _Mode = 2
_STORE = len(DURATIONS) * DENSE_KEYS
"""Dense slots of a group: :data:`DENSE_KEYS` per distribution (see :func:`_slot`)."""
_SLOTS = 16


def _slot(index: int, bucket: int) -> int:
    """Where distribution *index* counts sketch *bucket* (``ZERO..DENSE_TOP``): ``< _STORE``."""
    return index * DENSE_KEYS + bucket + 1


def _key(index: int, value: int) -> int:
    """Dict key of distribution *index*'s exact *value* or sketch bucket over a century."""
    return _STORE + value * _SLOTS + index


def _part(packed: int, durations: Iterable[tuple[int, int | None]], named: _Keys = ()) -> _Part:
    """The update of one side of a fact: *packed* counter increments (sums of :data:`_ONE`),
    *durations* as ``(distribution, seconds or None)`` and *named* ``"kind:name"`` counts
    (repeated keys). One pass over the durations: this runs twice per fact on every path.

    The packed integer holds every counter increment and duration-sum increment in its lane:
    adding it to an accumulator's packed integer bumps all those lanes at once, one big-int
    addition per fact instead of a dozen list increments (lanes are 64 bits: no overflow).
    :func:`_slot` and :func:`_key` are inlined (``_SLOT0``, ``_KEY0``): two calls per
    duration were a fifth of this function.
    """
    log, inv, top = math.log, INV_LOG_GAMMA, DENSE_TOP
    slots: list[int] = []
    rest: list[int | str] = []  # sketch buckets over a century, then the named counts
    exact: list[int | str] = []
    for index, value in durations:
        if value is None:
            continue
        packed += value << _SUM_SHIFT[index]
        bucket = int(log(value) * inv) if value else ZERO
        if bucket <= top:
            slots.append(_SLOT0[index] + bucket)
        else:
            rest.append(_KEY0[index] + bucket * _SLOTS)
        exact.append(_KEY0[index] + value * _SLOTS)
    rest += named
    exact += named
    dense, other = tuple(slots), tuple(rest)
    return packed, dense + other, tuple(exact), dense, other


def _join(a: _Part, b: _Part) -> _Part:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]


_SLOT0 = tuple(_slot(index, 0) for index in range(len(DURATIONS)))
"""``_slot(index, bucket) == _SLOT0[index] + bucket``."""
_KEY0 = tuple(_key(index, 0) for index in range(len(DURATIONS)))
"""``_key(index, value) == _KEY0[index] + value * _SLOTS``."""
_ONE = tuple(1 << (_LANE * index) for index in range(len(_COUNTERS)))
"""A counter's increment of one, in its lane of the packed integer (see :func:`_part`)."""
_SUM_SHIFT = tuple(_LANE * (len(_COUNTERS) + index) for index in range(len(DURATIONS)))
"""Where each duration sum's lane starts in the packed integer."""


# --- ticket facts ---------------------------------------------------------------------------


_EARLIEST = -62_135_596_800
"""0001-01-01T00:00:00Z in epoch seconds: the earliest instant a ``datetime`` holds."""
_LATEST = 253_402_300_799
"""9999-12-31T23:59:59Z in epoch seconds: the latest instant a ``datetime`` holds."""
_LONGEST = _LATEST - _EARLIEST
"""The longest duration a fact holds (in seconds): from the earliest instant to the latest."""


def _seconds_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _LONGEST:
        raise ConfigurationError(
            f"TicketFacts.{name} must be whole seconds from 0 to {_LONGEST:,} (years 1 to 9999) "
            f"or None, got {value!r}"
        )
    return value


def _seconds_tuple(value: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"TicketFacts.next_reply and next_reply_business must be sequences of whole "
            f"seconds, got {value!r:.80}"
        )
    return tuple(_seconds_or_none(v, "next_reply") or 0 for v in value)


def _opt_score(low: int, high: int) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigurationError(
                f"score must be a whole number from {low} to {high}, got {value!r}"
            )
        return value

    return check


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(f"TicketFacts.{name} must be a list of strings, got {value!r}")
    return tuple(value)


def _tags(value: Any) -> tuple[str, ...]:
    return _strings(value, "tags")


def _escalations(value: Any) -> tuple[str, ...]:
    return _strings(value, "escalations")


def _status(value: Any) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ConfigurationError(
            f"TicketFacts status {value!r} is not one of {', '.join(s.value for s in Status)}"
        ) from None


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _EARLIEST <= value <= _LATEST:
        raise ConfigurationError(
            f"TicketFacts.{name} must be whole epoch seconds of the years 1 to 9999, got {value!r}"
        )
    return value


def _nps(value: Any) -> int | None:
    return _opt_score(0, 10)(value)


def _ces(value: Any) -> int | None:
    return _opt_score(1, 7)(value)


def _sla_counts(value: Any) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple((str(m), int(met), int(breached)) for m, met, breached in value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"TicketFacts.sla must be (metric, met, breached) triples, got {value!r}"
        ) from exc


@attrs.frozen
class TicketFacts:
    """One ticket's metric facts: a fold of its event log as of ``as_of`` (one row per ticket).

    Build it with :meth:`from_events`; instants are int epoch seconds, durations int seconds
    (``None`` while not yet defined, e.g. ``full_resolution`` of an unsolved ticket). The
    ``*_business`` durations need a calendar; without one they are ``None``. ``next_reply`` holds
    one duration per completed next-reply cycle. ``sla`` holds ``(metric, met, breached)`` cycle
    counts. The private ``_created``/``_solved``/``_both`` fields are the precomputed
    updates the aggregators apply (facts from :meth:`from_events` derive them when first
    aggregated one by one: the numpy path and every other reader never need them).
    """

    ticket_id: str
    created_at: int
    as_of: int
    status: Status = attrs.field(converter=_status)
    channel: str = "web"
    priority: str = "normal"
    tier: str | None = None
    group: str | None = None
    agent: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    solved_at: int | None = None
    """The latest solve, if the ticket is solved or closed now (``None`` if merged or unsolved)."""
    first_reply: int | None = None
    first_reply_business: int | None = None
    next_reply: tuple[int, ...] = attrs.field(default=(), converter=_seconds_tuple)
    next_reply_business: tuple[int, ...] = attrs.field(default=(), converter=_seconds_tuple)
    full_resolution: int | None = None
    full_resolution_business: int | None = None
    requester_wait: int | None = None
    requester_wait_business: int | None = None
    agent_replies: int = 0
    reopens: int = 0
    ever_solved: bool = False
    escalations: tuple[str, ...] = attrs.field(default=(), converter=_escalations)
    """Distinct escalation levels the ticket reached, first reached first."""
    csat: str | None = None
    nps: int | None = attrs.field(default=None, converter=_nps)
    ces: int | None = attrs.field(default=None, converter=_ces)
    sla: tuple[tuple[str, int, int], ...] = attrs.field(default=(), converter=_sla_counts)
    merged: bool = False
    problem: str | None = None
    """The problem ticket the ticket is linked to as an incident (``SupportDesk.link_problem``),
    if any: the ``"problem"`` grouping's key, so each problem's row counts its incidents."""
    _created: _Part = attrs.field(init=False, eq=False, repr=False)
    _solved: _Part | None = attrs.field(init=False, eq=False, repr=False)
    _both: _Part = attrs.field(init=False, eq=False, repr=False)
    _span: int = attrs.field(init=False, eq=False, repr=False)
    """At least the most the fact adds to any one counter or duration sum of a group; 0 while
    the updates above are not derived yet (:meth:`_derived`)."""

    def __attrs_post_init__(self) -> None:
        self._check()
        self._derive()

    @classmethod
    def _of_fold(cls, *values: Any) -> TicketFacts:
        """Facts the ticket fold computed: every public field's value, in field order.

        The fold's values are right by construction (epoch seconds of events already checked
        and in time order, a ``Status``, tuples of ints and strings, ratings the event schema
        checked), so the public constructor's converters and :meth:`_check` are skipped: they
        were a third of :meth:`from_events` (benchmarks/bench_metrics.py). The fields are set
        through their slots' setters, positionally (a keyword call and ``object.__setattr__``
        by name cost twice as much), and the aggregators' updates are left to the first
        aggregation that needs them (:meth:`_derived`): deriving them was a third of what was
        left, and the numpy path never reads them.
        """
        facts = _new(cls)
        for set_field, value in zip(_SETTERS, values, strict=True):
            set_field(facts, value)
        # The private updates start out not derived: a span of 0.
        _SET_CREATED(facts, None)
        _SET_SOLVED(facts, None)
        _SET_BOTH(facts, None)
        _SET_SPAN(facts, 0)
        return facts

    def _derived(self) -> int:
        """Derive the aggregators' updates if not yet done; return :attr:`_span`."""
        return self._span or self._derive()

    def _check(self) -> None:
        """Refuse values the public constructor's converters let through."""
        for name in _KEY_FIELDS:  # group keys: text (None where the field is optional)
            value = getattr(self, name)
            if not isinstance(value, str) and (value is not None or name in _TEXT_FIELDS):
                kind = "a string" if name in _TEXT_FIELDS else "a string or None"
                raise ConfigurationError(f"TicketFacts.{name} must be {kind}, got {value!r:.80}")
        _whole(self.created_at, "created_at")
        if _whole(self.as_of, "as_of") < self.created_at:
            raise ConfigurationError(
                f"ticket {self.ticket_id}: as_of {self.as_of} is before created_at "
                f"{self.created_at}; facts are taken at or after creation"
            )
        if self.solved_at is not None:
            _whole(self.solved_at, "solved_at")
        for name in ("agent_replies", "reopens", *DURATIONS[:-1]):
            if not name.startswith("next_reply"):
                _seconds_or_none(getattr(self, name), name)
        if self.csat not in (None, "good", "bad"):
            raise ConfigurationError(
                f"TicketFacts.csat must be 'good', 'bad' or None, got {self.csat!r}"
            )
        if self.solved_at is None and self.status in _SOLVED_STATES and not self.merged:
            raise ConfigurationError(
                f"ticket {self.ticket_id}: status {self.status.value} needs solved_at (the latest "
                "solve), unless the ticket was merged"
            )
        if self.solved_at is not None and self.status not in _SOLVED_STATES:
            raise ConfigurationError(
                f"ticket {self.ticket_id}: solved_at is set but the status is {self.status.value}"
            )

    def _derive(self) -> int:
        """Precompute what the fact adds to a group (``_created``, ``_solved``, ``_both``);
        return the fact's span (:attr:`_span`)."""
        unsolved = self.status in _UNSOLVED and not self.merged
        packed = _ONE[_INCOMING]
        if unsolved:
            packed += _ONE[_BACKLOG]
        if self.ever_solved:
            packed += _ONE[_EVER_SOLVED]
            if self.reopens:
                packed += _ONE[_REOPENED]
        if self.escalations:
            packed += _ONE[_ESCALATED]
        if self.csat is not None:
            packed += _ONE[_CSAT_GOOD if self.csat == "good" else _CSAT_BAD]
        if self.nps is not None:
            packed += _ONE[_NPS_N]
            if self.nps >= 9:
                packed += _ONE[_NPS_PRO]
            elif self.nps <= 6:
                packed += _ONE[_NPS_DET]
        if self.ces is not None:
            packed += _ONE[_CES_N] + self.ces * _ONE[_CES_SUM]
        durations = [(_FRT, self.first_reply), (_FRT_B, self.first_reply_business)]
        durations += [(_NRT, v) for v in self.next_reply]
        durations += [(_NRT_B, v) for v in self.next_reply_business]
        # At least the most the fact adds to one counter or sum: all its durations together.
        span = (self.first_reply or 0) + (self.first_reply_business or 0)
        span += sum(self.next_reply) + sum(self.next_reply_business)
        if unsolved:
            age = max(self.as_of - self.created_at, 0)
            durations.append((_AGE, age))
            span += age
        named: list[str] = [f"escalated:{level}" for level in self.escalations]
        for metric, met, breached in self.sla:
            named += [f"met:{metric}"] * met + [f"breached:{metric}"] * breached
        created = _part(packed, durations, tuple(named))
        object.__setattr__(self, "_created", created)
        solved = None
        if self.solved_at is not None:
            packed = _ONE[_SOLVED]
            if self.agent_replies == 1:
                packed += _ONE[_ONE_TOUCH]
            if self.agent_replies <= 1 and not self.reopens and not self.escalations:
                packed += _ONE[_FCR]
            solved = _part(
                packed,
                (
                    (_FULL, self.full_resolution),
                    (_FULL_B, self.full_resolution_business),
                    (_WAIT, self.requester_wait),
                    (_WAIT_B, self.requester_wait_business),
                ),
            )
            span += (self.full_resolution or 0) + (self.full_resolution_business or 0)
            span += (self.requester_wait or 0) + (self.requester_wait_business or 0)
        if span > _MASK:  # only with very many next_reply cycles
            raise ConfigurationError(
                f"ticket {self.ticket_id}: its durations add up to {span:,} s, more than a "
                "duration sum holds (2**64 - 1)"
            )
        object.__setattr__(self, "_solved", solved)
        object.__setattr__(self, "_both", created if solved is None else _join(created, solved))
        span = max(span, 7)  # counters add 1, ces up to 7
        object.__setattr__(self, "_span", span)
        return span

    @classmethod
    def from_events(
        cls,
        events: Iterable[TicketEvent],
        *,
        at: datetime | None = None,
        calendar: Any = None,
        sla: Mapping[str, Iterable[Any]] | None = None,
    ) -> TicketFacts:
        """Fold one ticket's log (starting with ``created``) into its facts as of *at*.

        *at* (default: the last event) ignores later events and is the instant backlog age is
        measured at. *calendar* (anything with ``elapsed_seconds(a, b)``) adds the business-time
        durations. *sla* is an SLA evaluation of the ticket (``evaluate_sla(...)``, or any mapping
        of metric to cycles with a ``status``); its met and breached cycles are counted.

        Raises :class:`~supportkit.TicketStateError` for an empty log, one not starting with
        ``created``, events of another ticket, events out of time order or a forbidden transition.
        """
        return _TicketFold.run(events, at, calendar, sla)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict of the public fields."""
        data = {a.name: getattr(self, a.name) for a in attrs.fields(TicketFacts) if a.init}
        for name in ("tags", "next_reply", "next_reply_business", "escalations"):
            data[name] = list(data[name])
        data["sla"] = [list(item) for item in self.sla]
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketFacts:
        """Inverse of :meth:`to_dict`; raises :class:`~supportkit.ConfigurationError` if invalid."""
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"not a TicketFacts dict: {exc}") from exc


_FIELDS = tuple(a.name for a in attrs.fields(TicketFacts) if a.init)
_new = object.__new__
# The slots' own setters: a frozen class refuses setattr, and these skip object.__setattr__'s
# lookup by name (TicketFacts._of_fold).
_SETTERS = tuple(getattr(TicketFacts, name).__set__ for name in _FIELDS)
_SET_CREATED, _SET_SOLVED, _SET_BOTH, _SET_SPAN = (
    getattr(TicketFacts, name).__set__ for name in ("_created", "_solved", "_both", "_span")
)


_LAST_UNTIL: tuple[datetime | None, int] = (None, 0)


def _until(at: datetime) -> int:
    """``at`` in epoch seconds; the last one converted is kept (a report folds every ticket's
    log as of one instant, and converting it was ~3 % of :meth:`TicketFacts.from_events`)."""
    global _LAST_UNTIL
    last, ts = _LAST_UNTIL
    if at is not last:
        ts = to_epoch(at, "TicketFacts.from_events at", ConfigurationError)
        _LAST_UNTIL = (at, ts)
    return ts


class _TicketFold:
    """The mutable accumulator behind :meth:`TicketFacts.from_events` (epoch seconds)."""

    __slots__ = (
        "calendar",
        "check",
        "ever_solved",
        "first_reply_at",
        "levels",
        "next",
        "opening",
        "rating",
        "replies",
        "solved_at",
        "tags",
        "wait",
        "wait_from",
        "waiting_since",
    )

    def __init__(self, first: TicketEvent, calendar: Any) -> None:
        # The ticket fold is the one place that decides whether a log is valid (ids, time
        # order, lifecycle, closed tickets) and what the ticket's state is (status, reopens,
        # assignee, group, tier, priority: an escalation to a target clears the assignee there,
        # for one); this fold only accumulates the durations and counts, so the two cannot
        # drift apart.
        self.check = _Fold.start(first)
        self.calendar = calendar
        self.tags: dict[str, None] = dict.fromkeys(first.data["tags"])
        self.opening = first.by is _AGENT  # an agent's first public message opens the ticket
        self.first_reply_at: int | None = None
        self.waiting_since: int | None = None  # unanswered customer message after first reply
        self.next: list[tuple[int, int]] = []
        self.wait_from: int | None = first.ts  # new, open and on_hold count as requester wait
        self.wait: list[tuple[int, int]] = []
        self.solved_at: int | None = None
        self.ever_solved = False
        self.replies = 0
        self.levels: dict[str, None] = {}
        self.rating: dict[str, Any] = {}  # the latest non-null answer of each survey

    @classmethod
    def run(
        cls,
        events: Iterable[TicketEvent],
        at: datetime | None,
        calendar: Any,
        sla: Mapping[str, Iterable[Any]] | None,
    ) -> TicketFacts:
        until = None if at is None else _until(at)
        it = iter(events)
        first = next(it, None)
        if first is None or (until is not None and first.ts > until):
            raise TicketStateError("cannot build ticket facts from an empty event log")
        fold = cls(first, calendar)
        apply = fold.apply
        if until is None:
            for event in it:
                apply(event)
            return fold.facts(fold.check.updated_at, sla)  # the last event's instant
        for event in it:
            if event.ts > until:
                break
            apply(event)
        return fold.facts(until, sla)

    def apply(self, event: TicketEvent) -> None:
        self.check.apply(event)
        kind, data = event.kind, event.data
        if kind == "message":
            if not data["public"]:
                return
            # Inlined (a call per message was ~5 % of from_events).
            by = event.by
            if by is _CUSTOMER:
                self.opening = False
                if self.first_reply_at is not None and self.waiting_since is None:
                    self.waiting_since = event.ts
            elif by is _AGENT:
                if self.opening:  # an agent's first public message opens the ticket
                    self.opening = False
                    return
                self.replies += 1
                if self.first_reply_at is None:
                    self.first_reply_at = event.ts
                elif self.waiting_since is not None:
                    self.next.append((self.waiting_since, event.ts))
                    self.waiting_since = None
        elif kind == "status_changed":
            self._status(self.check.status, event.ts)
        elif kind == "escalated":
            self.levels[data["level"]] = None
            if data.get("engineering"):  # a flagged level (say "rnd") counts as engineering too
                self.levels[ENGINEERING] = None
        elif kind == "tagged":
            self.tags.update(dict.fromkeys(data["add"]))
            for tag in data["remove"]:
                self.tags.pop(tag, None)
        elif kind == "satisfaction_rated":
            self._rate(data)
        elif kind == "merged":
            self._leave_wait(event.ts)
            self.solved_at = None

    def _rate(self, data: Mapping[str, Any]) -> None:
        """Keep each survey's latest answer: CSAT (``csat`` or its 1-5 ``score``), NPS, CES."""
        csat = _csat_of(data)
        if csat is not None:
            self.rating["csat"] = csat
        for survey in ("nps", "ces"):
            if data.get(survey) is not None:
                self.rating[survey] = data[survey]

    def _status(self, status: Status, ts: int) -> None:
        """The ticket fold has just moved the ticket to *status* (a reopen clears the solve)."""
        if status is _STATUS_SOLVED:
            self.solved_at = ts
            self.ever_solved = True
            self.waiting_since = None  # solving ends a pending next-reply cycle
        elif status is not _STATUS_CLOSED:
            self.solved_at = None
        if status in _WAITING:
            if self.wait_from is None:
                self.wait_from = ts
        elif self.wait_from is not None:  # _leave_wait, inlined
            self.wait.append((self.wait_from, ts))
            self.wait_from = None

    def _leave_wait(self, ts: int) -> None:
        if self.wait_from is not None:
            self.wait.append((self.wait_from, ts))
            self.wait_from = None

    def facts(self, as_of: int, sla: Mapping[str, Iterable[Any]] | None) -> TicketFacts:
        ticket = self.check
        created, solved, first = ticket.created_at, self.solved_at, self.first_reply_at
        business = None if self.calendar is None else self.calendar.elapsed_seconds
        frt = frt_b = full = full_b = wait = wait_b = None
        nrt: tuple[int, ...] = ()
        nrt_b: tuple[int, ...] = ()
        if first is not None:
            frt = first - created
            if business:
                frt_b = business(created, first)
            if self.next:
                nrt = tuple([b - a for a, b in self.next])
                if business:
                    nrt_b = tuple([business(a, b) for a, b in self.next])
        if solved is not None:
            full = solved - created
            wait = sum([b - a for a, b in self.wait])
            if business:
                full_b = business(created, solved)
                # Waiting from creation to the solve is the whole resolution: no second call.
                whole = (created, solved)
                wait_b = sum([full_b if w == whole else business(*w) for w in self.wait])
        rating = self.rating
        # Positional, in field order (TicketFacts._of_fold).
        return TicketFacts._of_fold(
            ticket.id,  # ticket_id
            created,  # created_at
            as_of,
            ticket.status,
            ticket.channel,
            _PRIORITY_VALUE[ticket.priority],
            ticket.tier,
            ticket.group,
            ticket.assignee,  # agent
            tuple(self.tags),
            solved,  # solved_at
            frt,  # first_reply
            frt_b,
            nrt,  # next_reply
            nrt_b,
            full,  # full_resolution
            full_b,
            wait,  # requester_wait
            wait_b,
            self.replies,  # agent_replies
            ticket.reopen_count,  # reopens
            self.ever_solved,
            tuple(self.levels),  # escalations
            rating.get("csat"),
            rating.get("nps"),
            rating.get("ces"),
            _count_sla(sla) if sla is not None else (),
            ticket.merged_into is not None,  # merged
            ticket.problem,
        )


def _csat_of(rating: Mapping[str, Any]) -> str | None:
    """``good``/``bad`` as given; else a 1-5 ``score`` of 4-5 is good and 1-3 bad."""
    csat = rating.get("csat")
    if csat is not None:
        return str(csat)
    score = rating.get("score")
    if score is None:
        return None
    return "good" if score >= 4 else "bad"


def _count_sla(evaluation: Mapping[str, Iterable[Any]]) -> tuple[tuple[str, int, int], ...]:
    result = []
    for metric, cycles in evaluation.items():
        met = breached = 0
        for cycle in cycles:
            status = cycle["status"] if isinstance(cycle, Mapping) else cycle.status
            status = getattr(status, "value", status)
            met += status == "met"
            breached += status == "breached"
        result.append((str(metric), met, breached))
    return tuple(result)


# --- self-service sessions and agent presence -------------------------------------------------

_SESSION_KINDS = ("started", "searched", "article_viewed", "ticket_created", "ended")


def _unicode(value: Any) -> bool:
    """*value* is a string without a lone surrogate or a NUL (which no store can write)."""
    if not isinstance(value, str):
        return False
    try:
        _encodable(value)
    except ValueError:
        return False
    return True


#: Optional data of session events the self-service report reads: (name, check, expected).
_SESSION_DATA: Mapping[str, tuple[tuple[str, Callable[[Any], bool], str], ...]] = {
    "searched": (
        ("query", _unicode, "the query text"),
        ("results", lambda v: type(v) is int and v >= 0, "the number of hits shown (>= 0)"),
        (
            "articles",
            lambda v: isinstance(v, list | tuple) and all(map(_unicode, v)),
            "the ids of the hits shown",
        ),
    ),
    "article_viewed": (("article", lambda v: _unicode(v) and v != "", "an article id"),),
}


def _event_dict(kind_field: str, obj: Any, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"v": 1, kind_field: getattr(obj, kind_field)}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _instant_from(raw: Mapping[str, Any], what: str) -> datetime:
    at = raw.get("at")
    if isinstance(at, str):
        return parse_instant(at, f"{what} field 'at'", EventError)
    if isinstance(at, datetime):
        return at
    raise EventError(f"{what}: field 'at' must be an ISO 8601 instant, got {at!r}", field="at")


class _Stored(dict[str, Any]):
    """Session data read back by :meth:`SessionEvent.from_dict`: NaN, infinities and NUL pass.
    The stores wrote them (NaN as ``NaN`` and ``Infinity`` in their JSON text; SQLite a NUL)
    before a new event's data refused them, and a stored stream must read back."""


def _session_data(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A session event's data, read-only, if every store can write it: JSON values under
    string keys (no set or object, no NaN, no lone surrogate), else an EventError."""
    try:
        return _metadata(value, stored=type(value) is _Stored)
    except ValueError as exc:
        raise EventError(f"session event data {exc}", field="data") from None


_E = TypeVar("_E")


def _load_event(what: str, raw: Mapping[str, Any], build: Callable[[], _E]) -> _E:
    """Check a session/presence event dict's schema version, build it, name what was wrong."""
    if not isinstance(raw, Mapping):
        raise EventError(f"a {what} must be a dict, got {type(raw).__name__}")
    if raw.get("v", 1) != 1:
        raise EventError(f"{what} schema version {raw.get('v')!r} is not supported", field="v")
    try:
        return build()
    except KeyError as exc:
        raise EventError(f"{what}: missing field {exc.args[0]!r}", field=exc.args[0]) from None
    except EventError:
        raise
    except (TypeError, ValueError) as exc:
        raise EventError(f"{what}: {exc}") from exc


def _aware(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    to_epoch(value, attribute.name, EventError)


@attrs.frozen
class SessionEvent:
    """One step of a self-service (help-centre) session, its own event stream.

    ``kind`` is ``started``, ``searched`` (``data["query"]``; optionally ``data["results"]``,
    the number of hits shown, and ``data["articles"]``, their ids), ``article_viewed``
    (``data["article"]``), ``ticket_created`` (``data["ticket_id"]``: the session became a ticket)
    or ``ended``. Data of the wrong type is an :class:`~supportkit.EventError`, and so is
    ``data`` (free-form for ``started`` and ``ended``) holding anything but JSON values under
    string keys (a set, an object, NaN, a lone surrogate): what every store can write
    (:meth:`from_dict` still reads back the NaN and infinities stores wrote before).
    Serialises like :class:`~supportkit.TicketEvent` (``to_dict``/``from_dict`` with ``"v"``
    and an ISO ``at``).
    """

    kind: str = attrs.field()
    session_id: str = attrs.field(kw_only=True)
    at: datetime = attrs.field(kw_only=True, validator=_aware)
    customer: str | None = attrs.field(default=None, kw_only=True)
    data: Mapping[str, Any] = attrs.field(
        factory=dict, kw_only=True, converter=_session_data, hash=False
    )

    @kind.validator
    def _check_kind(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or value not in _SESSION_KINDS:
            raise EventError(
                f"unknown session event kind {value!r}: use one of {', '.join(_SESSION_KINDS)}",
                kind=value if isinstance(value, str) else None,
                field="kind",
            )

    def __attrs_post_init__(self) -> None:
        session_id, customer = self.session_id, self.customer
        for name, value, expected, ok in (
            (
                "session_id",
                session_id,
                "a non-empty string",
                bool(session_id) and _unicode(session_id),
            ),
            ("customer", customer, "None or a string", customer is None or _unicode(customer)),
        ):
            if not ok:
                raise EventError(
                    f"session event {self.kind}: {name} must be {expected} of Unicode text "
                    f"(no lone surrogate, no NUL), got {value!r:.80}",
                    kind=self.kind,
                    field=name,
                )
        if self.kind == "ticket_created":
            ticket_id = self.data.get("ticket_id")
            if not _unicode(ticket_id) or not ticket_id:
                # Without it the session would count as deflected though it became a ticket.
                raise EventError(
                    "session event ticket_created needs data['ticket_id'], the ticket the "
                    f"session became (a non-empty string), got {ticket_id!r}",
                    kind=self.kind,
                    field="ticket_id",
                )
        for name, valid, what in _SESSION_DATA.get(self.kind, ()):
            if name in self.data and not valid(self.data[name]):
                raise EventError(
                    f"session event {self.kind}: data[{name!r}] must be {what}, got "
                    f"{self.data[name]!r:.80}",
                    kind=self.kind,
                    field=name,
                )

    @property
    def ts(self) -> int:
        """``at`` as epoch seconds."""
        return to_epoch(self.at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``"v"`` is the schema version)."""
        return {
            **_event_dict("kind", self, ("session_id", "at", "customer")),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SessionEvent:
        """Inverse of :meth:`to_dict`; raises :class:`~supportkit.EventError` naming the field."""
        return _load_event(
            "session event",
            raw,
            lambda: cls(
                raw["kind"],
                session_id=raw["session_id"],
                at=_instant_from(raw, "session event"),
                customer=raw.get("customer"),
                data=_stored(raw.get("data") or {}),
            ),
        )


def _stored(data: Any) -> Any:
    """*data* of a session event dict, as :class:`_Stored` if it is a mapping."""
    return _Stored(data) if isinstance(data, Mapping) else data


@attrs.frozen
class SessionFacts:
    """A self-service session folded: when it started, what it did, whether it became a ticket.

    The session is *deflected* when it viewed at least one article and created no ticket.
    """

    session_id: str
    started_at: int
    searches: int = 0
    articles_viewed: int = 0
    ticket_id: str | None = None

    @property
    def deflected(self) -> bool:
        """Viewed an article and did not become a ticket."""
        return self.articles_viewed > 0 and self.ticket_id is None

    @classmethod
    def from_events(cls, events: Iterable[SessionEvent]) -> SessionFacts:
        """Fold one session's events (any order within the session is fine)."""
        items = list(events)
        if not items:
            raise EventError("cannot build session facts from an empty event stream")
        ids = {e.session_id for e in items}
        if len(ids) != 1:
            raise EventError(f"events of several sessions ({', '.join(sorted(ids))}) given as one")
        ticket = next((e.data.get("ticket_id") for e in items if e.kind == "ticket_created"), None)
        return cls(
            session_id=items[0].session_id,
            started_at=min(e.ts for e in items),
            searches=sum(e.kind == "searched" for e in items),
            articles_viewed=sum(e.kind == "article_viewed" for e in items),
            ticket_id=ticket,
        )


class PresenceState(enum.StrEnum):
    """An agent's presence: ``online`` (available), ``busy`` (online and working a ticket),
    ``away`` and ``offline``."""

    ONLINE = "online"
    """Available for work."""
    BUSY = "busy"
    """Online and working a ticket."""
    AWAY = "away"
    """Signed in but not available."""
    OFFLINE = "offline"
    """Not signed in."""


def _presence_state(value: Any) -> PresenceState:
    if value not in PresenceState._value2member_map_:
        raise EventError(
            f"presence state {value!r}: use one of {', '.join(PresenceState)}", field="state"
        )
    return PresenceState(value)


@attrs.frozen
class PresenceEvent:
    """An agent's presence changed at ``at`` (its own event stream, serialised like events)."""

    agent: str = attrs.field(validator=attrs.validators.min_len(1))
    at: datetime = attrs.field(kw_only=True, validator=_aware)
    state: PresenceState = attrs.field(kw_only=True, converter=_presence_state)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``"v"`` is the schema version)."""
        return {"v": 1, "agent": self.agent, "at": self.at.isoformat(), "state": str(self.state)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PresenceEvent:
        """Inverse of :meth:`to_dict`; raises :class:`~supportkit.EventError` naming the field."""
        return _load_event(
            "presence event",
            raw,
            lambda: cls(raw["agent"], at=_instant_from(raw, "presence event"), state=raw["state"]),
        )


@attrs.frozen
class PresenceSpan:
    """An agent spent ``[start, stop)`` (epoch seconds) in ``state``."""

    agent: str
    state: str
    start: int
    stop: int


def presence_spans(events: Iterable[PresenceEvent], *, until: datetime) -> Iterator[PresenceSpan]:
    """Fold presence events (time order per agent) into spans; the last state runs to *until*.

    Offline time yields no span. Events after *until* are ignored.
    """
    end = to_epoch(until, "presence_spans until", ConfigurationError)
    current: dict[str, tuple[str, int]] = {}
    for event in events:
        ts = to_epoch(event.at)
        if ts > end:
            continue
        previous = current.get(event.agent)
        if previous is not None:
            state, start = previous
            if ts < start:
                raise EventError(
                    f"presence events of agent {event.agent} are not in time order", field="at"
                )
            if state != PresenceState.OFFLINE and ts > start:
                yield PresenceSpan(event.agent, state, start, ts)
        current[event.agent] = (str(event.state), ts)
    for agent, (state, start) in current.items():
        if state != PresenceState.OFFLINE and end > start:
            yield PresenceSpan(agent, state, start, end)


# --- groupings ------------------------------------------------------------------------------

_ATTRIBUTES = ("tier", "channel", "priority", "group", "agent", "problem")
PERIODS = ("hour", "day", "week", "month")
GROUPINGS = ("all", *_ATTRIBUTES, "tag", *PERIODS)
_FORMATS = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
_BLOCK = 3600  # label cache granularity (correct for any zone: blocks are checked)
_CACHE_LIMIT = 200_000

Key: TypeAlias = tuple[str | None, ...]


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"unknown time zone {tz!r}: pass an IANA name such as 'Europe/Berlin'"
        ) from exc


class _Period:
    """Maps epoch seconds to a period label in a zone, cached per hour-long block.

    ``cache`` maps a block to its label when the whole block has one label; a block that a
    period boundary cuts is kept in ``split`` as ``(boundary, label before, label after)``
    (periods only move forward in time, so a block of one hour holds at most one boundary).
    """

    def __init__(self, unit: str, tz: tzinfo) -> None:
        self.unit, self.tz = unit, tz
        self.cache: dict[int, str] = {}
        self.split: dict[int, tuple[int, str, str]] = {}

    def exact(self, ts: int) -> str:
        local = from_epoch(ts, self.tz)
        if self.unit == "hour":
            return local.replace(minute=0, second=0).isoformat(timespec="minutes")
        return local.strftime(_FORMATS[self.unit])

    def __call__(self, ts: int) -> str:
        block = ts // _BLOCK
        label = self.cache.get(block)
        if label is not None:
            return label
        cut = self.split.get(block)
        if cut is None:
            if len(self.cache) + len(self.split) > _CACHE_LIMIT:
                self.cache.clear()
                self.split.clear()
            lo, hi = block * _BLOCK, block * _BLOCK + _BLOCK - 1
            first, last = self.exact(lo), self.exact(hi)
            if first == last:
                self.cache[block] = first
                return first
            while lo < hi:  # the first second that has the later label
                mid = (lo + hi) // 2
                if self.exact(mid) == first:
                    lo = mid + 1
                else:
                    hi = mid
            cut = self.split[block] = (lo, first, last)
        return cut[1] if ts < cut[0] else cut[2]


def _parts(spec: str | Sequence[str]) -> tuple[str, ...]:
    if not isinstance(spec, str | Sequence):
        raise ConfigurationError(
            f"grouping {spec!r}: use a name such as 'tier' or a tuple such as ('tier', 'week')"
        )
    parts = tuple(spec.split("+")) if isinstance(spec, str) else tuple(spec)
    if parts == ("all",):
        return ()
    for part in parts:
        if not isinstance(part, str) or part not in GROUPINGS or part == "all":
            raise ConfigurationError(
                f"unknown grouping {part!r}: use 'all' or any of {', '.join(GROUPINGS[1:])} "
                "(or a tuple of them)"
            )
    if (
        sum(p in PERIODS for p in parts) > 1
        or parts.count("tag") > 1
        or len(set(parts)) != len(parts)
    ):
        raise ConfigurationError(f"grouping {parts!r}: use each part once and at most one period")
    return parts


def grouping_name(spec: str | Sequence[str]) -> str:
    """``'all'``, ``'tier'``, ``'tier+week'``."""
    return "+".join(_parts(spec)) or "all"


class _Grouping:
    """One grouping's key functions and its per-group accumulators."""

    def __init__(self, parts: tuple[str, ...], tz: tzinfo) -> None:
        self.parts = parts
        self.name = "+".join(parts) or "all"
        self.period = next((p for p in parts if p in PERIODS), None)
        self.label = _Period(self.period, tz) if self.period else None
        self.tagged = "tag" in parts
        # A one-attribute grouping keys its dict by the bare value (no tuple per fact).
        self.single = len(parts) == 1 and self.period is None and not self.tagged
        self.groups: dict[Any, _Acc] = {}
        self.folded = 0  # facts folded since the groups were last compacted

    def keys(self, f: TicketFacts, ts: int) -> list[Key]:
        """Keys of fact *f* anchored at instant *ts* (one per tag for tag groupings)."""
        label = self.label
        key: list[str | None] = []
        for part in self.parts:
            if part == "tag":
                key.append(None)
            elif label is not None and part == self.period:
                key.append(label(ts))
            else:
                key.append(getattr(f, part))
        if not self.tagged:
            return [tuple(key)]
        at = self.parts.index("tag")
        return [(*key[:at], tag, *key[at + 1 :]) for tag in (f.tags or (None,))]

    def plan(
        self,
    ) -> tuple[dict[Key, _Acc], Callable[[TicketFacts], Key], Callable[[TicketFacts], Key] | None]:
        """(groups, key at creation, key at solve or ``None`` when it is the same key)."""
        attributes = [p for p in self.parts if p != self.period]
        get: Any = operator.attrgetter(*attributes) if attributes else None
        if self.label is None:
            if get is None:
                return self.groups, lambda _f: (), None
            return self.groups, cast(Callable[[TicketFacts], Key], get), None
        label, at = self.label, self.parts.index(str(self.period))
        cached, block = label.cache.get, _BLOCK

        def anchored(name: str) -> Callable[[TicketFacts], Key]:
            ts_of = operator.attrgetter(name)
            # Labels are non-empty strings: a cache miss (None) falls through to label().
            if len(attributes) == 0:
                return lambda f: (cached(ts_of(f) // block) or label(ts_of(f)),)
            if len(attributes) == 1 and at == 1:
                return lambda f: (get(f), cached(ts_of(f) // block) or label(ts_of(f)))

            def key(f: TicketFacts) -> Key:
                values = list(get(f) if len(attributes) > 1 else (get(f),))
                values.insert(at, label(ts_of(f)))
                return tuple(values)

            return key

        return self.groups, anchored("created_at"), anchored("solved_at")

    def side_key(self, agent: str | None, ts: int) -> Key | None:
        """Key for a session or presence span; ``None`` if the grouping does not apply."""
        key: list[str | None] = []
        for part in self.parts:
            if part == self.period and self.label is not None:
                key.append(self.label(ts))
            elif part == "agent" and agent is not None:
                key.append(agent)
            else:
                return None
        return tuple(key)

    def raw(self, key: Key) -> Any:
        """How *key* is kept in ``groups``."""
        return key[0] if self.single else key

    def key(self, raw: Any) -> Key:
        """The key kept as *raw* in ``groups``."""
        return (raw,) if self.single else cast(Key, raw)

    def acc(self, key: Key) -> _Acc:
        raw = self.raw(key)
        acc = self.groups.get(raw)
        if acc is None:
            acc = self.groups[raw] = _Acc()
        return acc

    def compact(self, facts: int) -> None:
        """Count *facts* folded; once as many as there are groups were folded since the last
        time, make groups dense where that takes less room (sketch mode; see
        :meth:`_Acc.compact`). This costs O(1) per fact, and a group outgrows its dict for at
        most that many facts."""
        self.folded += facts
        if self.folded >= len(self.groups):
            self.folded = 0
            for acc in self.groups.values():
                acc.compact()

    def items(self) -> list[tuple[Key, _Acc]]:
        """``(key, accumulator)`` pairs sorted by key (``None`` first)."""
        pairs = [(self.key(k), acc) for k, acc in self.groups.items()]
        return sorted(pairs, key=lambda pair: _sort_key(pair[0]))


class _Acc:
    """Per-group state: packed counters and duration sums, histogram counts, agents.

    ``packed`` holds one 64-bit lane per counter and per duration sum (see :func:`_pack`).
    ``hist`` counts, one increment per key, the counts named by the data
    (``"escalated:<level>"``, ``"met:<sla metric>"``, ``"breached:<sla metric>"``), exact values
    and sketch buckets over a century (:func:`_key`), and the sketch buckets up to a century
    (:func:`_slot`) until the group is *dense*: then those live in ``dense``, an array of
    :data:`_STORE` counts whose size is fixed (sketch mode only, see :meth:`compact`).
    ``top`` bounds the counts the group got from states and merges: no count is larger than
    ``top`` plus the values folded into the group from facts (see :data:`_FOLDABLE`).
    """

    __slots__ = ("agents", "dense", "hist", "packed", "top")

    def __init__(self) -> None:
        self.packed = 0
        self.hist: dict[int | str, int] = {}
        self.dense: array[int] | None = None
        self.agents: set[str] = set()
        self.top = 0

    def lanes(self) -> list[int]:
        """Every lane of ``packed``: the counters, then the duration sums."""
        packed = self.packed
        return [(packed >> (_LANE * i)) & _MASK for i in range(_LANES)]

    @property
    def counts(self) -> list[int]:
        """The counters, in ``_COUNTERS`` order."""
        return self.lanes()[: len(_COUNTERS)]

    @property
    def sums(self) -> list[int]:
        """The duration sums, in ``DURATIONS`` order."""
        return self.lanes()[len(_COUNTERS) :]

    @property
    def hists(self) -> list[dict[int, int]]:
        """One ``{bucket: count}`` dict per distribution, in ``DURATIONS`` order."""
        out: list[dict[int, int]] = [{} for _ in DURATIONS]
        dense = nonzero_counts(self.dense) if self.dense is not None else ()
        pairs = [(k, n) for k, n in self.hist.items() if isinstance(k, int)]
        for key, n in itertools.chain(dense, pairs):
            if key < _STORE:
                index, at = divmod(key, DENSE_KEYS)
                out[index][at - 1] = n
            else:
                bucket, index = divmod(key - _STORE, _SLOTS)
                out[index][bucket] = n
        return out

    def named(self, kind: str) -> dict[str, int]:
        """Named counts of one kind (``escalated``, ``met``, ``breached``) by name, sorted."""
        prefix = kind + ":"
        pairs = [
            (k, v) for k, v in self.hist.items() if isinstance(k, str) and k.startswith(prefix)
        ]
        return {k[len(prefix) :]: v for k, v in sorted(pairs)}

    def bump(self, index: int, amount: int) -> None:
        """Add *amount* to lane *index* (a counter, or ``len(_COUNTERS) + duration``); a lane
        that would pass 2**64 - 1 raises :class:`ConfigurationError` and changes nothing."""
        if ((self.packed >> (_LANE * index)) & _MASK) + amount > _MASK:
            raise _lane_full(index, amount)
        self.packed += amount << (_LANE * index)

    def count(self, pairs: Iterable[tuple[int | str, int]]) -> None:
        """Add ``(key, amount)`` *pairs*: slots to ``dense`` once dense, the rest to ``hist``
        (zero amounts add no key)."""
        hist, dense = self.hist, self.dense
        if dense is not None:
            pairs = list(pairs)
            slots = [(k, n) for k, n in pairs if isinstance(k, int) and k < _STORE]
            self.dense = add_counts(dense, slots)
            pairs = [(k, n) for k, n in pairs if isinstance(k, str) or k >= _STORE]
        for k, n in pairs:
            if n:
                hist[k] = hist.get(k, 0) + n

    def compact(self, adding: int = 0) -> None:
        """:meth:`densify` once ``hist`` (with *adding* keys more) takes more room than
        ``dense`` would (sketch mode only)."""
        if self.dense is None and worth_dense(len(self.hist) + adding, _STORE):
            self.densify()

    def densify(self) -> None:
        """Move the sketch buckets up to a century to ``dense``: from then on their memory is
        fixed (sketch mode only)."""
        if self.dense is None:
            hist = self.hist
            slots = [(k, n) for k, n in hist.items() if isinstance(k, int) and k < _STORE]
            self.dense = add_counts(dense_counts(_STORE), slots)
            # a new dict: one that keys were popped from keeps its size
            self.hist = {k: n for k, n in hist.items() if isinstance(k, str) or k >= _STORE}

    def items(self) -> Iterator[tuple[int | str, int]]:
        """Every ``(key, count)`` of ``dense`` (non-zero) and ``hist``."""
        dense = nonzero_counts(self.dense) if self.dense is not None else ()
        return itertools.chain(dense, self.hist.items())

    def peak(self) -> int:
        """At least the largest count: exactly it, or ``2**32 - 1`` for 4-byte dense counts
        (those are far from the 8-byte limit, so they are not scanned)."""
        top = max(self.hist.values(), default=0)
        dense = self.dense
        if dense is None:
            return top
        return max(top, max(dense) if dense.itemsize == 8 else 0xFFFFFFFF)

    def merge(self, other: _Acc, exact: bool) -> None:
        """Add *other*'s state (unchecked, ``top`` left as it is: see :func:`_check_merge`)."""
        self.packed += other.packed
        if other.dense is not None:
            self.densify()
            self.count(nonzero_counts(other.dense))
        self.count(list(other.hist.items()))
        if not exact:
            self.compact()
        self.agents |= other.agents

    def state(self) -> dict[str, Any]:
        named = sorted((k, v) for k, v in self.hist.items() if isinstance(k, str))
        return {
            "counts": self.counts,
            "hists": [{str(k): v for k, v in sorted(h.items())} for h in self.hists],
            "sums": self.sums,
            "extra": dict(named),
            "agents": sorted(self.agents),
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any], exact: bool) -> _Acc:
        acc = cls()
        lanes = [int(n) for n in data["counts"]] + [int(n) for n in data["sums"]]
        if len(lanes) != _LANES or any(not 0 <= n <= _MASK for n in lanes):
            raise ConfigurationError("aggregator state has the wrong number or size of counters")
        acc.packed = sum(n << (_LANE * i) for i, n in enumerate(lanes))
        hists, extra = data["hists"], data["extra"]
        if len(hists) != len(DURATIONS):
            raise ConfigurationError(
                f"aggregator state has {len(hists)} histograms: it needs one per duration "
                f"distribution, {len(DURATIONS)} ({', '.join(DURATIONS)})"
            )
        pairs: list[tuple[int | str, int]] = []
        for index, hist in enumerate(hists):
            for k, v in _counts(hist, f"histogram {DURATIONS[index]}"):
                bucket, n = int(k), int(v)
                if bucket < (0 if exact else ZERO) or not 0 <= n <= _MASK:
                    raise ConfigurationError(
                        f"aggregator state has a count of {n} for {'value' if exact else 'bucket'}"
                        f" {bucket}: counts are 0 to 2**64 - 1, keys {0 if exact else ZERO} or more"
                    )
                small = not exact and bucket <= DENSE_TOP
                pairs.append((_slot(index, bucket) if small else _key(index, bucket), n))
        for k, v in _counts(extra, "extra"):
            name, n = str(k), int(v)
            if not 0 <= n <= _MASK:
                raise ConfigurationError(
                    f"aggregator state has a count of {n} for {name!r}: counts are 0 to 2**64 - 1"
                )
            pairs.append((name, n))
        acc.count(pairs)
        if not exact:
            acc.compact()
        acc.agents = set(data["agents"])
        return acc


def _lane_full(index: int, adding: int, where: str = "") -> ConfigurationError:
    """The error for a counter or duration sum (lane *index*) that *adding* would take past
    2**64 - 1, the most a state holds."""
    counters = len(_COUNTERS)
    what = f"count {_COUNTERS[index]}" if index < counters else f"{DURATIONS[index - counters]} sum"
    return ConfigurationError(
        f"the {what}{where} would exceed 2**64 - 1 (adding {adding:,}), the most a state "
        "holds: nothing was changed"
    )


def _counts(data: Any, what: str) -> Iterable[tuple[Any, Any]]:
    """The ``(key, count)`` items of a state's *what* (a dict of counts), checked to be one."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"aggregator state's {what} is a {type(data).__name__}: it should be a dict of counts"
        )
    return data.items()


_FOLDABLE = _MASK - (1 << 62)
"""A count up to this does not pass 2**64 - 1 when facts are folded into its group: that would
take 2**62 values, more than any machine folds. Larger counts come from states loaded or merged
(see :attr:`_Acc.top`); only for groups that have them are counts checked one by one."""


def _check_merge(items: Iterable[tuple[_Grouping, Any, _Acc]], exact: bool) -> list[int]:
    """The ``top`` of each group once the accumulator of each item (``(grouping, raw key,
    accumulator)``) is merged into it; first raises :class:`ConfigurationError` if a merge would
    take a count past 2**64 - 1. Cheap: one :meth:`_Acc.peak` per item, and counts compared one
    by one only for a group whose ``top`` would pass :data:`_FOLDABLE`."""
    tops = []
    for g, raw, theirs in items:
        mine = g.groups.get(raw)
        if mine is not None:  # counters and duration sums: exactly
            for index, (a, b) in enumerate(zip(mine.lanes(), theirs.lanes(), strict=True)):
                if a + b > _MASK:
                    raise _lane_full(index, b, f" of group {list(g.key(raw))} of {g.name}")
        top = theirs.peak() + (0 if mine is None else mine.top)
        tops.append(top)
        if top <= _FOLDABLE or mine is None:
            continue
        counts = dict(mine.items())
        for key, n in theirs.items():
            if n + counts.get(key, 0) > _MASK:
                raise ConfigurationError(
                    f"the count of {_count_name(key, exact)} in group {list(g.key(raw))} of "
                    f"{g.name} would exceed 2**64 - 1, the most a state holds: nothing was changed"
                )
    return tops


def _count_name(key: int | str, exact: bool) -> str:
    """What the count of an :class:`_Acc` key counts (for messages)."""
    if isinstance(key, str):
        return repr(key)
    probe = _Acc()
    probe.hist[key] = 1
    index, bucket = next((i, b) for i, hist in enumerate(probe.hists) for b in hist)
    return f"{DURATIONS[index]} {'value' if exact else 'bucket'} {bucket}"


def _add(acc: _Acc, part: _Part, mode: _Mode) -> None:
    """Apply a fact's precomputed packed increments and counts (*mode*: sketch or exact)."""
    acc.packed += part[0]
    hist, dense = acc.hist, acc.dense
    if dense is None:
        for k in part[mode]:
            hist[k] = hist.get(k, 0) + 1
        return
    for slot in part[3]:
        try:
            dense[slot] += 1
        except OverflowError:  # a 4-byte count is full: 8-byte counts from now on
            dense = acc.dense = widen_counts(dense)
            dense[slot] += 1
    for k in part[4]:
        hist[k] = hist.get(k, 0) + 1


_TEXT_FIELDS = ("ticket_id", "channel", "priority")
_KEY_FIELDS = (*_TEXT_FIELDS, "tier", "group", "agent", "problem")
"""The facts' fields that key groups (the first three always set)."""
_SPAN = operator.methodcaller("_derived")
CHUNK = 4096
"""Facts per chunk of :meth:`MetricsAggregator.update`."""
BATCH = 65536
"""Facts per numpy batch when :meth:`MetricsAggregator.update` vectorises (held as columns)."""
VECTORISE_FROM = 3
"""From this many groupings (and no tag grouping), ``update`` takes the numpy path by default:
per fact, converting to columns costs about as much as folding one grouping in Python, and the
numpy path then folds every grouping for a fraction of that."""


@functools.cache
def _has_numpy() -> bool:
    return importlib.util.find_spec("numpy") is not None


def _fold_same(
    groups: dict[Any, _Acc],
    key_of: Callable[[TicketFacts], Any],
    facts: list[TicketFacts],
    mode: _Mode,
) -> None:
    """Fold facts into a grouping whose creation and solve share a key: the hot path.

    This is :func:`_add` inlined (one call per fact costs ~10 %).
    """
    for f in facts:
        key = key_of(f)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Acc()
        both = f._both
        acc.packed += both[0]
        hist, dense = acc.hist, acc.dense
        if dense is None:
            for k in both[mode]:
                hist[k] = hist.get(k, 0) + 1
        else:
            for slot in both[3]:
                try:
                    dense[slot] += 1
                except OverflowError:
                    dense = acc.dense = widen_counts(dense)
                    dense[slot] += 1
            for k in both[4]:
                hist[k] = hist.get(k, 0) + 1
        if f._solved is not None and f.agent is not None:
            acc.agents.add(f.agent)


def _fold_split(
    groups: dict[Any, _Acc],
    created_key: Callable[[TicketFacts], Any],
    solved_key: Callable[[TicketFacts], Any],
    facts: list[TicketFacts],
    mode: _Mode,
) -> None:
    """Fold facts into a period grouping: creation figures and solve figures apart."""
    for f in facts:
        acc = _get(groups, created_key(f))
        _add(acc, f._created, mode)
        solved = f._solved
        if solved is not None:
            acc = _get(groups, solved_key(f))
            _add(acc, solved, mode)
            if f.agent is not None:
                acc.agents.add(f.agent)


def _fold_tagged(g: _Grouping, facts: list[TicketFacts], mode: _Mode) -> None:
    """Fold facts into a tag grouping: once per tag (untagged under ``None``)."""
    for f in facts:
        for key in g.keys(f, f.created_at):
            acc = g.acc(key)
            _add(acc, f._created, mode)
        if f._solved is not None and f.solved_at is not None:
            for key in g.keys(f, f.solved_at):
                acc = g.acc(key)
                _add(acc, f._solved, mode)
                if f.agent is not None:
                    acc.agents.add(f.agent)


def _get(groups: dict[Any, _Acc], key: Any) -> _Acc:
    acc = groups.get(key)
    if acc is None:
        acc = groups[key] = _Acc()
    return acc


# --- goals ----------------------------------------------------------------------------------

_DIRECTIONS = {"at_most": "at_most", "<=": "at_most", "at_least": "at_least", ">=": "at_least"}


@attrs.frozen
class Goal:
    """A measurable goal, as data: ``metric`` of ``grouping``'s row ``group`` against ``target``.

    ``direction`` is ``"at_most"`` (``<=``) or ``"at_least"`` (``>=``). With a ``period``
    (``hour``/``day``/``week``/``month``) the goal is judged per period and the report shows the
    trend. Example: median first reply ≤ 1 business hour for the enterprise tier, weekly::

        Goal("first_reply_business.median", 3600, grouping="tier", group="enterprise",
             period="week")
    """

    metric: str
    target: float
    direction: str = attrs.field(default="at_most", kw_only=True)
    grouping: str | tuple[str, ...] = attrs.field(default="all", kw_only=True)
    group: str | tuple[str | None, ...] | None = attrs.field(default=None, kw_only=True)
    period: str | None = attrs.field(default=None, kw_only=True)
    name: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.direction, str) or self.direction not in _DIRECTIONS:
            raise ConfigurationError(
                f"goal {self.metric!r}: direction {self.direction!r} is not one of at_most, "
                "at_least, <=, >="
            )
        object.__setattr__(self, "direction", _DIRECTIONS[self.direction])
        period = self.period
        if period is not None and (not isinstance(period, str) or period not in PERIODS):
            raise ConfigurationError(
                f"goal {self.metric!r}: period {self.period!r} is not one of {', '.join(PERIODS)}"
            )
        parts = _parts(self.grouping)
        if any(p in PERIODS for p in parts):
            raise ConfigurationError(
                f"goal {self.metric!r}: put the period in period=, not in the grouping"
            )
        if parts and self.group is None:
            raise ConfigurationError(
                f"goal {self.metric!r} on grouping {grouping_name(parts)!r} needs group= (the "
                "row it is about, e.g. group='enterprise'); use the default grouping 'all' for "
                "a goal on every ticket"
            )
        if not parts and self.group is not None:
            raise ConfigurationError(
                f"goal {self.metric!r}: group={self.group!r} needs a grouping such as "
                "grouping='tier'"
            )
        if parts and len(self.group_key) != len(parts):
            raise ConfigurationError(
                f"goal {self.metric!r}: group {self.group!r} needs one value per part of "
                f"grouping {grouping_name(parts)!r}"
            )
        if (
            isinstance(self.target, bool)
            or not isinstance(self.target, int | float)
            or not math.isfinite(self.target)
        ):
            raise ConfigurationError(
                f"goal {self.metric!r}: target must be a finite number, got {self.target!r}"
            )
        if not _known_metric(self.metric):
            raise ConfigurationError(
                f"goal: unknown metric {self.metric!r} (see supportkit metrics docs for the names)"
            )

    @property
    def parts(self) -> tuple[str, ...]:
        """The grouping the goal needs (its grouping plus its period)."""
        return _parts(self.grouping) + ((self.period,) if self.period else ())

    @property
    def group_key(self) -> Key:
        """The row key (without the period) the goal is about."""
        if not _parts(self.grouping):
            return ()
        return tuple(self.group) if isinstance(self.group, tuple) else (self.group,)

    @property
    def label(self) -> str:
        """``name`` or a readable description."""
        if self.name:
            return self.name
        op = "<=" if self.direction == "at_most" else ">="
        where = (
            f" for {grouping_name(self.grouping)}={'/'.join(map(str, self.group_key))}"
            if self.group_key
            else ""
        )
        return f"{self.metric} {op} {self.target:g}{where}" + (
            f" per {self.period}" if self.period else ""
        )

    def met_by(self, value: float | None) -> bool | None:
        """Whether *value* meets the goal (``None`` if there is no value)."""
        if value is None:
            return None
        return value <= self.target if self.direction == "at_most" else value >= self.target


def _known_metric(name: object) -> bool:
    if not isinstance(name, str):
        return False
    return name in METRIC_NAMES or name.startswith(("escalation_rate.", "sla."))


@attrs.frozen
class GoalResult:
    """A goal's standing: the latest ``value``, whether it ``met`` the target, ``attainment``
    (the share of periods with a value that met it; 1.0 or 0.0 without a period) and ``trend``
    (``(period, value)`` pairs, oldest first), plus ``change`` from the previous period.

    ``found`` is ``False`` when the report has no row for the goal's group (no ticket of it
    was aggregated): then ``value``, ``met`` and ``attainment`` are ``None``."""

    goal: Goal
    value: float | None
    target: float
    met: bool | None
    attainment: float | None
    trend: tuple[tuple[str, float | None], ...] = ()
    change: float | None = None
    found: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return {
            "goal": self.goal.label,
            "found": self.found,
            "metric": self.goal.metric,
            "direction": self.goal.direction,
            "value": self.value,
            "target": self.target,
            "met": self.met,
            "attainment": self.attainment,
            "change": self.change,
            "trend": [list(p) for p in self.trend],
        }


# --- report ---------------------------------------------------------------------------------


@attrs.frozen
class GroupMetrics:
    """One row of a report: the group's ``key`` (one value per grouping part) and its metrics."""

    grouping: str
    key: Key
    metrics: Mapping[str, float | int | None]

    def __getitem__(self, name: str) -> float | int | None:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a metric of this row (see METRIC_NAMES)") from None

    def to_dict(self) -> dict[str, Any]:
        """The row as a flat dict: grouping parts, then metrics."""
        parts = self.grouping.split("+") if self.grouping != "all" else []
        return {**dict(zip(parts, self.key, strict=True)), **self.metrics}


def _sort_key(key: Key) -> tuple[tuple[bool, str], ...]:
    return tuple((k is not None, k or "") for k in key)


class MissingRowError(ConfigurationError, KeyError):
    """:meth:`MetricsReport.row` found no row with that key (also a :class:`KeyError`)."""

    __str__ = ConfigurationError.__str__  # the message as is, not KeyError's repr of it


@attrs.frozen
class MetricsReport:
    """A metrics report: one table of :class:`GroupMetrics` per grouping, and goal results.

    Render it with :meth:`to_dict`, :meth:`to_json`, :meth:`to_pandas` or :meth:`to_polars`.
    """

    tables: Mapping[str, tuple[GroupMetrics, ...]]
    goals: tuple[GoalResult, ...] = ()
    tz: str = "UTC"
    exact: bool = False

    def table(self, grouping: str | Sequence[str] = "all") -> tuple[GroupMetrics, ...]:
        """The rows of *grouping* (``"tier"``, ``("tier", "week")``...), sorted by key."""
        name = grouping_name(grouping)
        try:
            return self.tables[name]
        except KeyError:
            raise ConfigurationError(
                f"the report has no grouping {name!r}; it has {', '.join(self.tables)}"
            ) from None

    def row(self, grouping: str | Sequence[str] = "all", *key: str | None) -> GroupMetrics:
        """The row of *grouping* with *key* (``report.row("tier", "enterprise")``)."""
        for row in self.table(grouping):
            if row.key == key:
                return row
        raise MissingRowError(
            f"no row {key!r} in grouping {grouping_name(grouping)!r}; its keys are "
            f"{', '.join(repr(r.key) for r in self.table(grouping)) or 'none'}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict: ``{"tz", "exact", "tables": {name: [row...]}, "goals": [...]}``."""
        return {
            "tz": self.tz,
            "exact": self.exact,
            "tables": {name: [r.to_dict() for r in rows] for name, rows in self.tables.items()},
            "goals": [g.to_dict() for g in self.goals],
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_pandas(self, grouping: str | Sequence[str] = "all") -> Any:
        """One grouping's table as a :class:`pandas.DataFrame` (needs pandas)."""
        try:
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise ConfigurationError("to_pandas needs pandas: pip install pandas") from exc
        return pd.DataFrame([r.to_dict() for r in self.table(grouping)])

    def to_polars(self, grouping: str | Sequence[str] = "all") -> Any:
        """One grouping's table as a :class:`polars.DataFrame` (needs polars)."""
        try:
            import polars as pl  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ConfigurationError("to_polars needs polars: pip install polars") from exc
        return pl.DataFrame([r.to_dict() for r in self.table(grouping)])


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _row_metrics(acc: _Acc, exact: bool) -> dict[str, float | int | None]:
    lanes = acc.lanes()
    c, sums = lanes[: len(_COUNTERS)], lanes[len(_COUNTERS) :]
    out: dict[str, float | int | None] = {
        "incoming": c[_INCOMING],
        "solved": c[_SOLVED],
        "reopened": c[_REOPENED],
        "backlog": c[_BACKLOG],
    }
    kind = ExactQuantiles if exact else QuantileSketch
    hists = acc.hists
    for i, name in enumerate(DURATIONS):
        hist = kind(hists[i])
        n = hist.count
        out[f"{name}.count"] = n
        out[f"{name}.mean"] = sums[i] / n if n else None
        for stat, q in _STATISTICS[2:]:
            out[f"{name}.{stat}"] = hist.quantile(q or 0.0)
    escalations, met, breached = acc.named("escalated"), acc.named("met"), acc.named("breached")
    judged = sum(met.values()) + sum(breached.values())
    solved = c[_SOLVED]
    out |= {
        "one_touch_rate": _ratio(c[_ONE_TOUCH], solved),
        "first_contact_resolution_rate": _ratio(c[_FCR], solved),
        "reopen_rate": _ratio(c[_REOPENED], c[_EVER_SOLVED]),
        "escalated": c[_ESCALATED],
        "escalation_rate": _ratio(c[_ESCALATED], c[_INCOMING]),
        "sla_attainment": _ratio(sum(met.values()), judged),
        "csat": _ratio(c[_CSAT_GOOD], c[_CSAT_GOOD] + c[_CSAT_BAD]),
        "csat_responses": c[_CSAT_GOOD] + c[_CSAT_BAD],
        "nps": (100 * (c[_NPS_PRO] - c[_NPS_DET]) / c[_NPS_N]) if c[_NPS_N] else None,
        "nps_responses": c[_NPS_N],
        "ces": _ratio(c[_CES_SUM], c[_CES_N]),
        "ces_responses": c[_CES_N],
        "self_service_sessions": c[_SESSIONS],
        "deflected_sessions": c[_DEFLECTED],
        "deflection_rate": _ratio(c[_DEFLECTED], c[_SESSIONS]),
        "occupancy": _ratio(c[_BUSY], c[_BUSY] + c[_ONLINE]),
        "agents": len(acc.agents),
        "tickets_per_agent": _ratio(solved, len(acc.agents)),
    }
    for level, n in escalations.items():
        out[f"escalation_rate.{level}"] = _ratio(n, c[_INCOMING])
    for metric in sorted(met.keys() | breached.keys()):
        m, b = met.get(metric, 0), breached.get(metric, 0)
        out[f"sla.{metric}.met"] = m
        out[f"sla.{metric}.breached"] = b
        out[f"sla.{metric}.attainment"] = _ratio(m, m + b)
    return out


def _period_instant(label: str) -> tuple[float, str]:
    """A period label's place in time: an hour's instant (its label has an offset); days, weeks
    and months sort as their labels do."""
    if "T" in label:
        return datetime.fromisoformat(label).timestamp(), label
    return 0.0, label


def _evaluate(goal: Goal, rows: Sequence[GroupMetrics]) -> GoalResult:
    group = goal.group_key
    n = len(group)
    mine = [r for r in rows if r.key[:n] == group]
    if not mine:
        return GoalResult(goal, None, goal.target, None, None, found=False)
    if goal.period is None:
        value = _number(mine[0].metrics.get(goal.metric)) if mine else None
        met = goal.met_by(value)
        return GoalResult(goal, value, goal.target, met, None if met is None else float(met))
    # In time order: hour labels carry their offset, so across a fall-back night the later
    # "02:00+01:00" sorts before the earlier "02:00+02:00" as text.
    mine.sort(key=lambda r: _period_instant(str(r.key[n])))
    trend = tuple((str(r.key[n]), _number(r.metrics.get(goal.metric))) for r in mine)
    judged = [goal.met_by(v) for _, v in trend if v is not None]
    values = [v for _, v in trend if v is not None]
    value = values[-1] if values else None
    return GoalResult(
        goal,
        value,
        goal.target,
        goal.met_by(value),
        sum(bool(j) for j in judged) / len(judged) if judged else None,
        trend,
        values[-1] - values[-2] if len(values) > 1 else None,
    )


def _untuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)


# --- the aggregator -------------------------------------------------------------------------


class MetricsAggregator:
    """Streaming, mergeable aggregation of ticket facts (plus sessions and presence) into groups.

    *groupings* lists the tables to keep: ``"all"``, ``"tier"``, ``"channel"``, ``"priority"``,
    ``"group"``, ``"agent"``, ``"problem"`` (the problem an incident is linked to: each
    problem's row counts its incidents), ``"tag"``, a period
    ``"hour"``/``"day"``/``"week"``/``"month"`` (in zone *tz*), or a tuple of them such as
    ``("tier", "week")``. *goals* add the groupings
    they need. ``exact=True`` keeps exact histograms instead of the ≤1 % sketch (small data).

    Memory grows with the groups, not the tickets: per group a fixed set of counters and its
    sketches' buckets, in a dict while the group has seen few of them and then in a dense array
    of fixed size (about 40 KB: ~1,100 buckets per duration distribution, zero to a century).
    Aggregators over disjoint shards :meth:`merge` into exactly the one-pass result.
    """

    def __init__(
        self,
        groupings: str | Iterable[str | Sequence[str]] = ("all",),
        *,
        goals: Iterable[Goal] = (),
        tz: str | tzinfo = UTC,
        exact: bool = False,
    ) -> None:
        if isinstance(groupings, str):
            groupings = (groupings,)  # one grouping, not one per letter
        groupings = listed(groupings, "groupings")
        self.goals = listed(goals, "goals")
        for goal in self.goals:
            if not isinstance(goal, Goal):
                raise ConfigurationError(f"goals must be Goal objects, got {goal!r}")
        self.tz = _zone(tz)
        self.exact = bool(exact)
        asked = [_parts(g) for g in groupings]
        if len(set(asked)) != len(asked):
            twice = sorted({grouping_name(p) for p in asked if asked.count(p) > 1})
            raise ConfigurationError(f"grouping(s) {', '.join(twice)} given more than once")
        specs = asked + [g.parts for g in self.goals]
        self._groupings = [_Grouping(p, self.tz) for p in dict.fromkeys(specs)]
        # Whether a group's top passed _FOLDABLE: only then can folding facts take a count
        # past 2**64 - 1, so only then do updates go through a checked merge.
        self._huge = False
        # No counter or duration sum of any group is above this. While a chunk's growth (see
        # TicketFacts._span) keeps it within 2**64 - 1 the chunk is folded directly; else
        # apart and then merged, which checks every lane.
        self._lanes = 0

    @property
    def groupings(self) -> tuple[str, ...]:
        """The names of the kept groupings (``"all"``, ``"tier+week"``...)."""
        return tuple(g.name for g in self._groupings)

    def add(self, facts: TicketFacts) -> None:
        """Aggregate one ticket's facts."""
        self.update((facts,))

    def update(
        self, facts: Iterable[TicketFacts], *, vectorise: bool | None = None
    ) -> MetricsAggregator:
        """Aggregate every fact of *facts* (the streaming hot path); returns ``self``.

        Facts are taken in chunks of :data:`CHUNK` (bounded memory); each chunk is checked
        before any of it is applied, so a bad fact, or a count that would pass 2**64 - 1 (after
        loading or merging counts that large), leaves the state as it was after the last
        applied chunk. Each grouping then folds the chunk in its own tight loop. With
        *vectorise* (by default: when numpy is installed and at least :data:`VECTORISE_FROM`
        groupings without tags are kept) chunks are turned into numpy columns and folded
        :data:`BATCH` facts at a time by the numpy path, which builds the very same state and is
        several times faster for many groupings.
        """
        if self._huge:  # fold each chunk apart and merge it: merge checks before it changes
            it = iter(facts)
            while chunk := list(itertools.islice(it, CHUNK)):
                self.merge(self._empty().update(chunk, vectorise=vectorise))
            return self
        plans = [g.plan() for g in self._groupings if not g.tagged]
        tagged = [g for g in self._groupings if g.tagged]
        if vectorise is None:
            vectorise = len(plans) >= VECTORISE_FROM and not tagged and _has_numpy()
        if vectorise:
            from ._metrics_np import concat_columns

            buffered: list[dict[str, Any]] = []
        it = iter(facts)
        while chunk := list(itertools.islice(it, CHUNK)):
            for f in chunk:
                if type(f) is not TicketFacts:
                    if vectorise and buffered:  # keep the chunks before it, as facts one by one do
                        self.update_columns(concat_columns(buffered))
                    raise ConfigurationError(
                        f"update() takes TicketFacts, got {type(f).__name__}; build them with "
                        "TicketFacts.from_events"
                    )
            if vectorise:
                # Columns are compact: buffer BATCH facts' worth, then fold them in one go
                # (the per-batch cost is bounded by the state's size, not the batch's).
                buffered.append(facts_to_columns(chunk))
                if len(buffered) * CHUNK >= BATCH:
                    self.update_columns(concat_columns(buffered))
                    buffered = []
                continue
            grow = sum(map(_SPAN, chunk))
            if self._lanes + grow > _MASK:  # near 2**64 - 1: fold it apart, merge it checked
                self.merge(self._one_by_one(chunk))
                continue
            self._lanes += grow
            mode = _EXACT if self.exact else _SKETCH
            for groups, ckey, skey in plans:
                if skey is None:
                    _fold_same(groups, ckey, chunk, mode)
                else:
                    _fold_split(groups, ckey, skey, chunk, mode)
            for g in tagged:
                _fold_tagged(g, chunk, mode)
            if not self.exact:
                for g in self._groupings:
                    g.compact(len(chunk))
        if vectorise and buffered:
            self.update_columns(concat_columns(buffered))
        return self

    def add_session(self, session: SessionFacts) -> None:
        """Aggregate a self-service session (into ``all`` and period groupings)."""
        if session.articles_viewed == 0:
            return  # not a knowledge-base session
        bumps = [(_SESSIONS, 1), (_DEFLECTED, int(session.deflected))]
        self._bump(None, session.started_at, bumps)

    def add_presence(self, span: PresenceSpan) -> None:
        """Aggregate a presence span (into ``all``, ``agent`` and period groupings, by start)."""
        if not (
            isinstance(span, PresenceSpan)
            and type(span.agent) is str
            and type(span.state) is str
            and all(
                type(ts) is int and _EARLIEST <= ts <= _LATEST for ts in (span.start, span.stop)
            )
        ):
            raise ConfigurationError(
                "add_presence() takes a PresenceSpan of an agent, a state and epoch seconds, "
                f"got {span!r}"
            )
        index = {"online": _ONLINE, "busy": _BUSY, "away": _AWAY}.get(span.state)
        if index is None or span.stop <= span.start:
            return
        self._bump(span.agent, span.start, [(index, span.stop - span.start)])

    def _bump(self, agent: str | None, ts: int, bumps: list[tuple[int, int]]) -> None:
        """Add each ``(lane, amount)`` of *bumps* to the group of *agent* at *ts* in every
        grouping it applies to, all checked first (see :meth:`_Acc.bump`)."""
        targets = [(g, key) for g in self._groupings if (key := g.side_key(agent, ts)) is not None]
        for g, key in targets:
            acc = g.groups.get(g.raw(key))
            lanes = acc.lanes() if acc is not None else [0] * _LANES
            for index, amount in bumps:
                if lanes[index] + amount > _MASK:
                    raise _lane_full(index, amount, f" of group {list(key)} of {g.name}")
                self._lanes = max(self._lanes, lanes[index] + amount)
        for g, key in targets:
            acc = g.acc(key)
            for index, amount in bumps:
                acc.bump(index, amount)

    def merge(self, other: MetricsAggregator) -> MetricsAggregator:
        """Add *other*'s state into this aggregator (order-independent); returns ``self``.

        Both must keep the same groupings in the same mode and zone, and no count may pass
        2**64 - 1; checked before anything changes.
        """
        if not isinstance(other, MetricsAggregator):
            raise ConfigurationError(
                f"can only merge a MetricsAggregator, got {type(other).__name__}"
            )
        if (self.groupings, self.exact, str(self.tz)) != (
            other.groupings,
            other.exact,
            str(other.tz),
        ):
            raise ConfigurationError(
                "cannot merge aggregators with different groupings, zone or exact mode: "
                f"{self.groupings}/{self.tz}/exact={self.exact} vs "
                f"{other.groupings}/{other.tz}/exact={other.exact}"
            )
        self._merge(
            [
                (mine, raw, acc)
                for mine, theirs in zip(self._groupings, other._groupings, strict=True)
                for raw, acc in theirs.groups.items()
            ]
        )
        return self

    def _merge(self, items: list[tuple[_Grouping, Any, _Acc]]) -> None:
        """Merge each item's accumulator into its group (``(grouping, raw key, accumulator)``),
        all checked first (see :func:`_check_merge`)."""
        tops = _check_merge(items, self.exact)
        for (g, raw, theirs), top in zip(items, tops, strict=True):
            acc = _get(g.groups, raw)
            acc.merge(theirs, self.exact)
            acc.top = top
            self._lanes = max(self._lanes, *acc.lanes())
        self._huge = self._huge or max(tops, default=0) > _FOLDABLE

    def _one_by_one(self, facts: list[TicketFacts]) -> MetricsAggregator:
        """A new aggregator (like :meth:`_empty`) of *facts*, each folded apart and merged in,
        so a sum or count past 2**64 - 1 raises before anything is added."""
        part = self._empty()
        for f in facts:
            part.merge(self._empty().update((f,), vectorise=False))
        return part

    def _empty(self) -> MetricsAggregator:
        """A new aggregator that merges with this one (same groupings, zone and mode)."""
        parts = [g.parts or "all" for g in self._groupings]
        return MetricsAggregator(parts, tz=self.tz, exact=self.exact)

    @classmethod
    def combine(cls, aggregators: Iterable[MetricsAggregator]) -> MetricsAggregator:
        """Merge several aggregators into a new one (the inputs are left unchanged)."""
        items = list(aggregators)
        if not items:
            raise ConfigurationError("combine() needs at least one aggregator")
        result = cls.from_dict(items[0].to_dict())
        for item in items[1:]:
            result.merge(item)
        return result

    def report(self) -> MetricsReport:
        """The :class:`MetricsReport` of everything aggregated so far (goals included)."""
        tables: dict[str, tuple[GroupMetrics, ...]] = {}
        for g in self._groupings:
            tables[g.name] = tuple(
                GroupMetrics(g.name, key, MappingProxyType(_row_metrics(acc, self.exact)))
                for key, acc in g.items()
            )
        goals = tuple(_evaluate(goal, tables["+".join(goal.parts) or "all"]) for goal in self.goals)
        return MetricsReport(MappingProxyType(tables), goals, str(self.tz), self.exact)

    def to_dict(self) -> dict[str, Any]:
        """The full state as JSON-compatible data (ship it between processes, store it)."""
        return {
            "v": 1,
            "tz": str(self.tz),
            "exact": self.exact,
            "groupings": [list(g.parts) for g in self._groupings],
            "goals": [attrs.asdict(g) for g in self.goals],
            "state": [
                [[list(key), acc.state()] for key, acc in g.items()] for g in self._groupings
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsAggregator:
        """Inverse of :meth:`to_dict`."""
        try:
            goals = [
                Goal(**cast(dict[str, Any], {k: _untuple(v) for k, v in g.items()}))
                for g in data["goals"]
            ]
            agg = cls(
                [tuple(p) or "all" for p in data["groupings"]],
                goals=goals,
                tz=data["tz"],
                exact=data["exact"],
            )
            for g, groups in zip(agg._groupings, data["state"], strict=True):
                for key, state in groups:
                    agg._merge([(g, g.raw(tuple(key)), _Acc.from_state(state, agg.exact))])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"not a MetricsAggregator dict: {exc!r}") from exc
        return agg

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricsAggregator) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(MetricsAggregator.from_dict(state).__dict__)

    # --- vectorised path -------------------------------------------------------------------

    def update_columns(self, columns: Mapping[str, Any]) -> MetricsAggregator:
        """Aggregate facts given as numpy columns (the bulk path); same state as :meth:`update`.

        See :func:`facts_to_columns` for the column layout. Needs numpy (the ``numpy`` extra).
        Tag groupings are not supported here (use :meth:`update`). A count that would pass
        2**64 - 1 (after loading or merging counts that large) raises before anything changes.
        """
        from ._metrics_np import growth, update_columns

        if self._huge:  # as in update
            return self.merge(self._empty().update_columns(columns))
        grow = growth(self, columns)
        if self._lanes + grow > _MASK:  # as in update: fold apart (its sums checked), merge
            part = self._empty()
            update_columns(part, columns)
            return self.merge(part)
        self._lanes += grow
        update_columns(self, columns)
        return self


def facts_to_columns(facts: Iterable[TicketFacts]) -> dict[str, Any]:
    """Columns for :meth:`MetricsAggregator.update_columns` from facts (needs numpy)."""
    from ._metrics_np import facts_to_columns as convert

    return convert(facts)


def metrics_report(
    facts: Iterable[TicketFacts],
    groupings: Iterable[str | Sequence[str]] = ("all",),
    *,
    goals: Iterable[Goal] = (),
    sessions: Iterable[SessionFacts] = (),
    presence: Iterable[PresenceSpan] = (),
    tz: str | tzinfo = UTC,
    exact: bool = False,
) -> MetricsReport:
    """One call from facts to a :class:`MetricsReport` (the entry point for dashboards)."""
    agg = MetricsAggregator(groupings, goals=goals, tz=tz, exact=exact)
    agg.update(facts)
    for session in sessions:
        agg.add_session(session)
    for span in presence:
        agg.add_presence(span)
    return agg.report()
