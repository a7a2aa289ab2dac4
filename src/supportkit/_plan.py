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

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from . import staffing
from ._calendar import _zone
from ._coverage import MAX_SPAN, coverage
from ._metrics import _STATISTICS, Goal
from ._model import Role, TicketEvent
from ._time import from_epoch, to_epoch
from ._whatif import SlaConfig
from .exceptions import ConfigurationError
from .typing import EventStore

__all__ = ["StaffingPlan", "StaffingRow", "handling_time", "staffing_plan"]

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
    first-reply target under an SLA configuration applied; ``aht`` the handling time used.
    """

    rows: tuple[StaffingRow, ...]
    target: float
    within: float | None
    aht: float

    @property
    def agent_hours(self) -> int:
        """Agent-hours a week the plan requires (the sum of the 168 hours)."""
        return sum(r.required for r in self.rows)

    @property
    def summary(self) -> str:
        """The goal in words: "80% of contacts answered within 20 s (handling time ...)"."""
        within = "their SLA's first-reply target" if self.within is None else f"{self.within:g} s"
        return (
            f"{self.target:.0%} of contacts answered within {within} (handling time "
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
) -> StaffingPlan:
    """Agents needed per hour of the week to meet a goal, from the tickets created in
    [*start*, *end*), beside the agents *shifts* schedule.

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
    rows = []
    for slot in range(168):
        rate = arrivals[slot] / seen[slot] if seen[slot] else 0.0
        # With each ticket's own target: the hour's mix of targets (none: just keep up).
        mix: float | dict[float, float] = (
            wait
            if wait is not None
            else {w: float(n) for w, n in mixes[slot].items()} or {math.inf: 1.0}
        )
        need = staffing.agents_needed(
            rate, handling, target, mix, max_occupancy=max_occupancy, concurrency=concurrency
        )
        rows.append(
            StaffingRow(
                _DAYS[slot // 24],
                slot % 24,
                rate * 3600,
                staffing.with_shrinkage(need, shrinkage),
                None if scheduled is None else scheduled.get(slot, 0.0),
            )
        )
    return StaffingPlan(tuple(rows), staffing._number("target", target), wait, handling)
