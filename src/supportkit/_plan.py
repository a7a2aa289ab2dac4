"""A staffing plan from a desk's own history: agents needed per hour of the week, and the gap
to the agents scheduled on shift.

Arrival rates come from the tickets created in a window, per local hour of the week in a zone
(each hour's count divided by how many times that hour occurred in the window, so a window that
is not a whole number of weeks, or crosses a DST change, is still exact). The agents needed per
hour are :func:`supportkit.staffing.agents_needed` for the goal, plus shrinkage; the agents
scheduled are the seconds-weighted mean of :func:`supportkit.coverage`'s agents on shift in the
same hours.

The goal is given (*target*, *within*), taken from a configured :class:`~supportkit.Goal`, or,
with an SLA configuration, every ticket's own first-reply target (a mix in one queue). The
handling time is given, or measured from the log (:func:`handling_time`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from . import staffing
from ._calendar import BusinessCalendar, _zone
from ._coverage import MAX_SPAN, coverage
from ._metrics import _STATISTICS, Goal
from ._model import Role, TicketEvent
from ._time import from_epoch, to_epoch
from ._whatif import SlaConfig
from .exceptions import ConfigurationError
from .typing import EventStore

__all__ = ["StaffingPlan", "StaffingRow", "backlog_agents", "handling_time", "staffing_plan"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@attrs.frozen
class StaffingRow:
    """One hour of the week: ``weekday`` (``"mon"``..``"sun"``), ``hour`` (0-23, local),
    ``arrivals`` per hour on average, agents ``required`` (after shrinkage) and ``scheduled``
    (mean agents on shift, ``None`` without shifts)."""

    weekday: str
    hour: int
    arrivals: float
    required: int
    scheduled: float | None

    @property
    def shortfall(self) -> float | None:
        """Agents missing (positive) or spare (negative) in this hour; ``None`` without shifts."""
        return None if self.scheduled is None else self.required - self.scheduled


@attrs.frozen
class StaffingPlan:
    """The 168 hours of the week (Monday 00:00 first) for the goal it was computed for.

    ``within`` is the answer-time target in seconds, or ``None`` when each ticket's own
    first-reply target under an SLA configuration applied; ``aht`` the handling time used;
    ``scope`` the tickets planned for when a goal names one group of them (``"tier=gold"``).
    """

    rows: tuple[StaffingRow, ...]
    target: float
    within: float | None
    aht: float
    scope: str | None = None

    @property
    def agent_hours(self) -> int:
        """Agent-hours a week the plan requires (the sum of the 168 hours)."""
        return sum(r.required for r in self.rows)

    @property
    def summary(self) -> str:
        """The goal in words: "80% of contacts answered within 20 s (handling time ...)"."""
        within = "their SLA's first-reply target" if self.within is None else f"{self.within:g} s"
        contacts = "contacts" if self.scope is None else f"{self.scope} contacts"
        return (
            f"{self.target:.0%} of {contacts} answered within {within} (handling time "
            f"{self.aht:g} s; {self.agent_hours} agent-hours a week)"
        )

    @property
    def understaffed(self) -> list[StaffingRow]:
        """Hours whose scheduled agents are fewer than required."""
        return [r for r in self.rows if r.shortfall is not None and r.shortfall > 0]

    @property
    def overstaffed(self) -> list[StaffingRow]:
        """Hours with more agents scheduled than required."""
        return [r for r in self.rows if r.shortfall is not None and r.shortfall < 0]

    def to_text(self) -> str:
        """A plain table: one line per hour with any arrivals or anyone scheduled."""
        lines = [
            f"Agents needed for {self.summary}",
            f"{'hour':<10} {'arrivals/h':>10} {'required':>8} {'scheduled':>9} {'gap':>6}",
        ]
        for r in self.rows:
            if r.arrivals or r.scheduled:
                scheduled = "–" if r.scheduled is None else f"{r.scheduled:.1f}"
                gap = "–" if r.shortfall is None else f"{r.shortfall:+.1f}"
                lines.append(
                    f"{r.weekday} {r.hour:02d}:00  {r.arrivals:10.2f} {r.required:8d} "
                    f"{scheduled:>9} {gap:>6}"
                )
        return "\n".join(lines)


def _slot(ts: int, zone: ZoneInfo) -> int:
    local = from_epoch(ts, zone)
    return local.weekday() * 24 + local.hour


def _window(start: datetime, end: datetime, what: str) -> tuple[int, int]:
    a, b = to_epoch(start, "start", ConfigurationError), to_epoch(end, "end", ConfigurationError)
    if b <= a:
        raise ConfigurationError(f"{what}: end must be after start")
    if b - a > MAX_SPAN:
        raise ConfigurationError(f"{what}: the window may span at most ten years")
    return a, b


def _logs(store: EventStore, a: int, b: int) -> Iterable[Sequence[TicketEvent]]:
    """The logs of the tickets created in [a, b)."""
    for ticket_id in store.ticket_ids():
        events = store.read(ticket_id)
        if events and a <= events[0].ts < b:
            yield events


def _handled(events: Sequence[TicketEvent]) -> int | None:
    """Seconds agents held a ticket before answering (see :func:`handling_time`); ``None``
    without a public agent reply."""
    assigned = waiting = None  # since when it is someone's, and since when it is their move
    total, replies = 0, 0
    for event in events:
        if event.kind == "created" or (event.kind == "message" and event.by is Role.CUSTOMER):
            waiting = event.ts if waiting is None else waiting
        elif event.kind == "assigned":
            assigned = event.ts if event.data.get("agent") is not None else None
        elif event.kind == "message" and event.by is Role.AGENT and event.data.get("public"):
            if waiting is not None:
                total += event.ts - max(waiting, assigned if assigned is not None else event.ts)
                replies += 1
            waiting = None
    return total if replies else None


def handling_time(store: EventStore, *, start: datetime, end: datetime) -> float:
    """The average handling time, in seconds, of the tickets created in [*start*, *end*), as
    the log shows it.

    The log records when agents answer, not how long they worked, so this is an upper bound:
    for each public agent reply, the time from the later of the ticket's assignment and the
    customer message it answers (or the ticket's creation) to the reply, summed per ticket and
    averaged over the tickets with at least one such reply. Time an assigned ticket waits
    behind the agent's other work counts as handling; a host that tracks work time passes its
    own figure as ``aht`` instead. A :class:`~supportkit.ConfigurationError` when no ticket in
    the window had a reply.
    """
    a, b = _window(start, end, "handling_time")
    handled = [t for t in map(_handled, _logs(store, a, b)) if t is not None]
    if not handled:
        raise ConfigurationError(
            "handling_time: no ticket created in the window has an agent's public reply; "
            "pass aht= (seconds)"
        )
    return max(sum(handled) / len(handled), 1.0)


def _goal(goal: object, sla: SlaConfig | None) -> tuple[float, float | None]:
    """(target, within) from a configured goal: a first-reply percentile ("median first reply
    at most 3600 s" is 0.5 within 3600 s) or, with an SLA configuration, first-reply SLA
    attainment ("at least 0.9" is 0.9 within each ticket's target)."""
    if not isinstance(goal, Goal):
        raise ConfigurationError(f"goal must be a supportkit.Goal, got {goal!r}")
    quantiles = {name: q for name, q in _STATISTICS if q is not None}
    metric, _, stat = goal.metric.rpartition(".")
    if metric in ("first_reply", "first_reply_business") and stat in quantiles:
        if goal.direction == "at_most":
            return quantiles[stat], goal.target
    elif goal.metric == "sla.first_reply.attainment" and goal.direction == "at_least":
        if sla is None:
            raise ConfigurationError(
                f"goal {goal.metric!r}: an SLA attainment goal needs sla= (the policies that "
                "give each ticket its first-reply target)"
            )
        if 0 < goal.target <= 1:
            return goal.target, None
    raise ConfigurationError(
        f"goal {goal.name or goal.metric!r}: a staffing plan meets a first-reply goal: "
        "'first_reply[_business].median|p90|p95' at most N seconds, or "
        "'sla.first_reply.attainment' at least a fraction (with sla=)"
    )


def _in_group(goal: Goal | None, created: Mapping[str, Any]) -> bool:
    if goal is None or goal.grouping == "all":
        return True
    if not isinstance(goal.grouping, str) or goal.grouping not in (
        "tier",
        "priority",
        "channel",
        "group",
    ):
        raise ConfigurationError(
            f"goal {goal.name or goal.metric!r}: a staffing plan follows a goal on all tickets "
            "or one tier, priority, channel or group"
        )
    value = created.get(goal.grouping)
    return str(getattr(value, "value", value)) == str(goal.group)


def _first_reply_target(events: Sequence[TicketEvent], sla: SlaConfig) -> float:
    """A ticket's first-reply target in seconds under *sla* (``inf``: none)."""
    for i, event in enumerate(events):
        if event.kind == "sla_policy_applied":
            policy = sla.chosen(events, i)
            target = (
                None if policy is None else policy.target(events[0].data["priority"], "first_reply")
            )
            return math.inf if target is None else float(target.seconds)
    return math.inf


def _backlog(
    per_hour: Sequence[Counter[float]],
    start: int,
    zone: ZoneInfo,
    hours: BusinessCalendar | None,
    aht: float,
    target: float,
    max_occupancy: float,
    concurrency: int,
) -> list[int]:
    """Agents per hour of the week (Monday 00:00 local first) under the backlog model."""
    monday = from_epoch(start, zone)
    monday = (monday - timedelta(days=monday.weekday())).replace(hour=0, minute=0, second=0)
    base = to_epoch(monday)
    slots = [base + k * 3600 for k in range(2 * 168 + 1)]  # two laps: the second is steady
    week = [_slot(ts, zone) for ts in slots[:-1]]
    arrivals = [
        (ts + 1800, w, n) for ts, label in zip(slots, week, strict=False)
        for w, n in per_hour[label].items()
    ]  # fmt: skip
    needs = backlog_agents(
        arrivals, slots, aht, target=target, hours=hours, max_occupancy=max_occupancy,
        concurrency=concurrency,
    )  # fmt: skip
    out = [0] * 168
    for k in range(168, 2 * 168):
        out[week[k]] = max(out[week[k]], needs[k])
    return out


def _instant(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise ConfigurationError(f"backlog: {name} must be epoch seconds (an int), got {value!r}")
    return value


def backlog_agents(
    arrivals: Iterable[tuple[int, float, float]],
    slots: Sequence[int],
    aht: float | timedelta,
    *,
    target: float = 1.0,
    hours: BusinessCalendar | None = None,
    max_occupancy: float = 1.0,
    concurrency: int = 1,
) -> list[int]:
    """Agents per interval so that deferred work (email) is answered in time.

    *arrivals* are ``(at, within, amount)``: *amount* contacts arriving at epoch second *at*,
    each to be answered within *within* seconds (> 0) of *hours*, the business calendar agents
    work in (24x7 without it; ``math.inf``: no limit). *slots* are the interval boundaries
    (epoch seconds, increasing); the result has one figure per interval.

    The model is fluid and deterministic: contacts wait in a backlog worked only while
    *hours* is open (a backlog carries over nights and weekends), and each contact's work,
    *target* of it, is spread evenly over the open time between its arrival and its deadline;
    an agent answers ``max_occupancy * concurrency / aht`` contacts per open second. An
    interval needs enough agents for the highest pace of work at any open moment in it,
    rounded up. Working every contact at that even pace meets every deadline, so the plan is
    feasible; it is level rather than the least possible in each interval (leaving work to
    the last moment would need fewer agents early and more later). Contacts without a limit
    need nobody.
    """
    handling = staffing._number("aht", aht, positive=True)
    goal = staffing._fraction("target", target, zero=False)
    ceiling = staffing._fraction("max_occupancy", max_occupancy, zero=False)
    per_agent = ceiling * staffing._agents(concurrency) / handling  # contacts per open second
    calendar = hours or BusinessCalendar.always()
    if hours is not None and not isinstance(hours, BusinessCalendar):
        raise ConfigurationError(f"hours must be a supportkit.BusinessCalendar, got {hours!r}")
    if isinstance(slots, str | bytes) or not isinstance(slots, Sequence):
        raise ConfigurationError(f"backlog: slots must be a list of epoch seconds, got {slots!r}")
    bounds = [_instant(f"slots[{k}]", ts) for k, ts in enumerate(slots)]
    if any(b <= a for a, b in itertools.pairwise(bounds)):
        raise ConfigurationError("backlog: slots must be increasing interval boundaries")
    if isinstance(arrivals, str | bytes) or not isinstance(arrivals, Iterable):
        raise ConfigurationError(
            f"backlog: arrivals must be (at, within, amount) tuples, got {arrivals!r}"
        )
    changes: list[tuple[int, float]] = []  # (instant, change of the pace of work)
    for n, arrival in enumerate(arrivals):
        if not isinstance(arrival, tuple | list) or len(arrival) != 3:
            raise ConfigurationError(
                f"backlog: arrivals[{n}] must be (at, within, amount), got {arrival!r}"
            )
        at, within, amount = _instant(f"arrivals[{n}] at", arrival[0]), *arrival[1:]
        if within == math.inf:
            continue
        span = int(staffing._number("within", within, positive=True))
        pace = staffing._number("amount", amount) * goal / max(span, 1)
        changes += [(at, pace), (calendar.add_seconds(at, max(span, 1)), -pace)]
    changes.sort()
    needs, pace, i = [], 0.0, 0
    for lo, hi in itertools.pairwise(bounds):
        while i < len(changes) and changes[i][0] <= lo:
            pace += changes[i][1]
            i += 1
        peak = pace
        while i < len(changes) and changes[i][0] < hi:
            pace += changes[i][1]
            peak = max(peak, pace)
            i += 1
        open_ = calendar.elapsed_seconds(lo, hi) > 0
        needs.append(math.ceil(peak / per_agent - 1e-9) if open_ and peak > 1e-12 else 0)
    return needs


def staffing_plan(
    store: EventStore,
    *,
    start: datetime,
    end: datetime,
    aht: float | timedelta | None = None,
    target: float | None = None,
    within: float | timedelta | None = None,
    goal: Goal | None = None,
    sla: SlaConfig | None = None,
    tz: str | ZoneInfo = "UTC",
    shifts: Mapping[str, tuple[str, Any]] | None = None,
    shrinkage: float = 0.0,
    max_occupancy: float = 1.0,
    concurrency: int = 1,
    model: str = "erlang",
    hours: BusinessCalendar | None = None,
) -> StaffingPlan:
    """Agents needed per hour of the week to meet a goal, from the tickets created in
    [*start*, *end*), beside the agents *shifts* schedule.

    *model* is ``"erlang"`` (Erlang C per hour: phone, chat, and email answered as it comes)
    or ``"backlog"`` (email and other deferred work: contacts wait in a backlog that agents
    work only in *hours*, a :class:`~supportkit.BusinessCalendar`, 24x7 without one, and the
    answer-time targets are counted in those hours; see :func:`backlog_agents`).

    The goal, one of:

    - *target* and *within*: "0.8 within 20 s"; for email, "0.9 within 3600 s" treats the
      backlog as a queue worked as it arrives;
    - *goal*, a configured :class:`~supportkit.Goal` on first replies: a percentile
      (``first_reply_business.median`` at most 3600 is 0.5 within 3600 s; ``p90``, ``p95``)
      or ``sla.first_reply.attainment`` at least a fraction (with *sla*); a goal on one tier,
      priority, channel or group plans for that one's tickets;
    - *target* with *sla* (an :class:`~supportkit.SlaConfig`): each ticket must be answered
      within its own first-reply target under those policies (the policy of the name it
      recorded, else the first it matches; business targets count as seconds of the hours
      agents are on), and *target* is the share of all of them answered in time. Tickets
      without a first-reply target load the queue but are not counted. This is how the plan
      answers "how many more agents would a tighter target need": plan under the actual and
      the proposed configuration (see :func:`supportkit.whatif`).

    *aht* is the average handling time of a contact; ``None`` measures it from the window's
    log (:func:`handling_time`, an upper bound). *tz* is the zone whose local hours the plan
    uses. *shifts* is as for :func:`supportkit.coverage`. *concurrency* is how many contacts
    an agent works at once (see :func:`supportkit.staffing.agents_needed`).
    """
    zone = _zone(tz)
    a, b = _window(start, end, "staffing_plan")
    if model not in ("erlang", "backlog"):
        raise ConfigurationError(f"model must be 'erlang' or 'backlog', got {model!r}")
    if hours is not None and not isinstance(hours, BusinessCalendar):
        raise ConfigurationError(f"hours must be a supportkit.BusinessCalendar, got {hours!r}")
    if sla is not None and not isinstance(sla, SlaConfig):
        raise ConfigurationError(f"sla must be a supportkit.SlaConfig, got {sla!r}")
    if goal is not None:
        if target is not None or within is not None:
            raise ConfigurationError("staffing_plan: give goal= or target=/within=, not both")
        target, wait = _goal(goal, sla)
    elif target is None or (within is None) == (sla is None):
        raise ConfigurationError(
            "staffing_plan: give target= and within=, target= and sla=, or goal="
        )
    else:
        wait = None if within is None else staffing._number("within", within)
    handling = (
        handling_time(store, start=start, end=end)
        if aht is None
        else staffing._number("aht", aht, positive=True)
    )
    # How many seconds of each hour of the week the window holds (exact across DST).
    seen: Counter[int] = Counter()
    t = a
    while t < b:
        step = min(b, t - t % 3600 + 3600) - t
        seen[_slot(t, zone)] += step
        t += step
    arrivals: Counter[int] = Counter()
    mixes: defaultdict[int, Counter[float]] = defaultdict(Counter)
    for events in _logs(store, a, b):
        if not _in_group(goal, events[0].data):
            continue
        slot = _slot(events[0].ts, zone)
        arrivals[slot] += 1
        if wait is None and sla is not None:
            limit = _first_reply_target(events, sla)
            if limit != math.inf:
                mixes[slot][limit] += 1
    scheduled: dict[int, float] | None = None
    if shifts:
        on: Counter[int] = Counter()
        for span in coverage({}, start, end, shifts=shifts).spans:
            s, e = to_epoch(span.start), to_epoch(span.end)
            while s < e and span.agents_on:
                step = min(e, s - s % 3600 + 3600) - s
                on[_slot(s, zone)] += span.agents_on * step
                s += step
        scheduled = {slot: on[slot] / seen[slot] for slot in seen}
    rates = [arrivals[slot] / seen[slot] if seen[slot] else 0.0 for slot in range(168)]
    if model == "backlog":
        per_hour = [
            Counter({wait: rate * 3600}) if wait is not None else
            Counter({w: n / seen[slot] * 3600 for w, n in mixes[slot].items()})
            for slot, rate in enumerate(rates)
        ]  # fmt: skip
        needs = _backlog(per_hour, a, zone, hours, handling, target, max_occupancy, concurrency)
    else:
        needs = [
            staffing.agents_needed(
                rate,
                handling,
                target,
                # With each ticket's own target: the hour's mix of targets (none: keep up).
                wait
                if wait is not None
                else {w: float(n) for w, n in mixes[slot].items()} or {math.inf: 1.0},
                max_occupancy=max_occupancy,
                concurrency=concurrency,
            )
            for slot, rate in enumerate(rates)
        ]
    rows = []
    for slot, (rate, need) in enumerate(zip(rates, needs, strict=True)):
        rows.append(
            StaffingRow(
                _DAYS[slot // 24],
                slot % 24,
                rate * 3600,
                staffing.with_shrinkage(need, shrinkage),
                None if scheduled is None else scheduled.get(slot, 0.0),
            )
        )
    scope = None if goal is None or goal.grouping == "all" else f"{goal.grouping}={goal.group}"
    return StaffingPlan(tuple(rows), staffing._number("target", target), wait, handling, scope)
