"""A staffing plan from a desk's own history: agents needed per hour of the week, and the gap
to the agents scheduled on shift.

Arrival rates come from the tickets created in a window, per local hour of the week in a zone
(each hour's count divided by how many times that hour occurred in the window, so a window that
is not a whole number of weeks, or crosses a DST change, is still exact). The agents needed per
hour are :func:`supportkit.staffing.agents_needed` for the goal, plus shrinkage; the agents
scheduled are the seconds-weighted mean of :func:`supportkit.coverage`'s agents on shift in the
same hours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from . import staffing
from ._calendar import _zone
from ._coverage import MAX_SPAN, coverage
from ._time import from_epoch, to_epoch
from .exceptions import ConfigurationError
from .typing import EventStore

__all__ = ["StaffingPlan", "StaffingRow", "staffing_plan"]

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
    """The 168 hours of the week (Monday 00:00 first) for the goal it was computed for."""

    rows: tuple[StaffingRow, ...]
    target: float
    within: float
    aht: float

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
            f"Agents needed for {self.target:.0%} of contacts answered within "
            f"{self.within:g} s (handling time {self.aht:g} s)",
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


def staffing_plan(
    store: EventStore,
    *,
    start: datetime,
    end: datetime,
    aht: float | timedelta,
    target: float,
    within: float | timedelta,
    tz: str | ZoneInfo = "UTC",
    shifts: Mapping[str, tuple[str, Any]] | None = None,
    shrinkage: float = 0.0,
    max_occupancy: float = 1.0,
    concurrency: int = 1,
) -> StaffingPlan:
    """Agents needed per hour of the week to meet a goal, from the tickets created in
    [*start*, *end*), beside the agents *shifts* schedule.

    *aht* is the average handling time of a contact (the log records when agents answer, not
    how long they worked, so it is given); *target* and *within* are the goal ("0.8 within 20
    s"; for email, "0.9 within 3600 s" treats the backlog as a queue worked as it arrives).
    *tz* is the zone whose local hours the plan uses. *shifts* is as for
    :func:`supportkit.coverage`. *concurrency* is how many contacts an agent works at once
    (see :func:`supportkit.staffing.agents_needed`).
    """
    zone = _zone(tz)
    a, b = to_epoch(start, "start", ConfigurationError), to_epoch(end, "end", ConfigurationError)
    if b <= a:
        raise ConfigurationError("staffing_plan: end must be after start")
    if b - a > MAX_SPAN:
        raise ConfigurationError("staffing_plan: the window may span at most ten years")
    handling = staffing._number("aht", aht, positive=True)
    wait = staffing._number("within", within)
    # How many seconds of each hour of the week the window holds (exact across DST).
    seen: Counter[int] = Counter()
    t = a
    while t < b:
        step = min(b, t - t % 3600 + 3600) - t
        seen[_slot(t, zone)] += step
        t += step
    arrivals: Counter[int] = Counter()
    for ticket_id in store.ticket_ids():
        first = store.read(ticket_id)[:1]
        if first and a <= first[0].ts < b:
            arrivals[_slot(first[0].ts, zone)] += 1
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
        need = staffing.agents_needed(
            rate, handling, target, wait, max_occupancy=max_occupancy, concurrency=concurrency
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
    return StaffingPlan(tuple(rows), target, wait, handling)
