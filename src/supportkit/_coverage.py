"""Coverage: which groups and agents are on, across zones and DST, exact to the second.

Everything is interval arithmetic on epoch seconds over the calendars' own open intervals
(:meth:`BusinessCalendar.intervals_at`): a sweep over their boundaries gives, for any window,
the spans in which the set of open groups and the number of agents on shift stay the same.
:class:`CombinedCalendar` is the union or intersection of calendars as a calendar of its own
(open when any, or all, of them is), with the same add/elapsed/next-open API.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol, cast

import attrs

from ._time import from_epoch, seconds, to_epoch
from .exceptions import CalendarError, ConfigurationError

__all__ = ["CombinedCalendar", "Coverage", "CoverageSpan", "FollowTheSun", "coverage"]

_WINDOW = 8 * 86400  # searches look ahead a bit more than a week at a time
#: The longest window a coverage map or staffing plan covers (ten years).
MAX_SPAN = 10 * 366 * 86400
_HORIZON = 4 * 366 * 86400  # and give up after four years, as BusinessCalendar does


class _Intervals(Protocol):
    """What combining needs of a calendar: its open intervals in epoch seconds."""

    @property
    def tz(self) -> tzinfo: ...

    def intervals_at(self, a: int, b: int) -> list[tuple[int, int]]: ...


class _Hours(_Intervals, Protocol):
    """A calendar that can also say when it next opens and closes."""

    def next_open_at(self, ts: int) -> int: ...

    def next_close_at(self, ts: int) -> int: ...


def _sweep(
    named: Iterable[tuple[Hashable, list[tuple[int, int]]]], a: int, b: int
) -> list[tuple[int, int, frozenset[tuple[Hashable, int]]]]:
    """Partition [a, b) into maximal spans, each with the ``(name, count)`` pairs of the names
    open throughout it (a name's count is how many of its intervals hold the span)."""
    changes: dict[int, list[tuple[Hashable, int]]] = {}
    for name, intervals in named:
        for s, e in intervals:
            changes.setdefault(s, []).append((name, 1))
            changes.setdefault(e, []).append((name, -1))
    out: list[tuple[int, int, frozenset[tuple[Hashable, int]]]] = []
    live: dict[Hashable, int] = {}  # names open now; a name leaves when its count drops to 0
    at = a
    for t in sorted(changes):
        if t > at:
            _extend(out, at, t, frozenset(live.items()))
            at = t
        for name, delta in changes[t]:
            count = live.get(name, 0) + delta
            if count:
                live[name] = count
            else:
                del live[name]
    if at < b:
        _extend(out, at, b, frozenset(live.items()))
    return out


def _extend(
    out: list[tuple[int, int, frozenset[tuple[Hashable, int]]]],
    s: int,
    e: int,
    names: frozenset[tuple[Hashable, int]],
) -> None:
    """Append the span, or lengthen the last one if it ends at *s* with the same names."""
    if out and out[-1][1] == s and out[-1][2] == names:
        out[-1] = (out[-1][0], e, names)
    else:
        out.append((s, e, names))


class CombinedCalendar:
    """The union (open when any calendar is) or intersection (when all are) of calendars.

    Built by :meth:`BusinessCalendar.union` and :meth:`BusinessCalendar.intersection` (and the
    same methods of a combined calendar). Calendars in different zones combine exactly: their
    intervals are instants. Results are in the first calendar's zone. Searches (``add``,
    ``next_open``) give up with :class:`CalendarError` after four years without open time
    (two calendars that never overlap have an empty intersection).
    """

    __slots__ = ("_all", "_calendars")

    def __init__(self, calendars: Iterable[_Intervals], *, all_open: bool) -> None:
        self._calendars = tuple(calendars)
        if not self._calendars:
            raise CalendarError("combine at least one calendar")
        for calendar in self._calendars:
            if not callable(getattr(calendar, "intervals_at", None)):
                raise CalendarError(f"can only combine calendars, got {calendar!r}")
        self._all = all_open

    @property
    def tz(self) -> tzinfo:
        """The zone results are given in (the first calendar's)."""
        return self._calendars[0].tz

    def __repr__(self) -> str:
        kind = "intersection" if self._all else "union"
        return f"<CombinedCalendar {kind} of {len(self._calendars)} calendars>"

    def union(self, *others: _Intervals) -> CombinedCalendar:
        """Open when this calendar or any of *others* is."""
        return CombinedCalendar((self, *others), all_open=False)

    def intersection(self, *others: _Intervals) -> CombinedCalendar:
        """Open when this calendar and all of *others* are."""
        return CombinedCalendar((self, *others), all_open=True)

    # ------------------------------------------------------------------ epoch-second API

    def intervals_at(self, a: int, b: int) -> list[tuple[int, int]]:
        """Open (start, end) epoch pairs overlapping [a, b), clipped to it, merged."""
        if b <= a:
            return []
        need = len(self._calendars) if self._all else 1
        spans = _sweep(((i, c.intervals_at(a, b)) for i, c in enumerate(self._calendars)), a, b)
        out: list[tuple[int, int]] = []
        for s, e, names in spans:
            if len(names) >= need:
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
        return out

    def _walk(self, ts: int, forward: bool) -> Iterable[tuple[int, int]]:
        """Open intervals from *ts* on (or back), in order, for at most four years."""
        for step in range(0, _HORIZON, _WINDOW):
            if forward:
                window = self.intervals_at(ts + step, ts + step + _WINDOW)
            else:
                window = self.intervals_at(ts - step - _WINDOW, ts - step)[::-1]
            yield from window
        when = from_epoch(ts, self.tz).isoformat()
        raise CalendarError(f"{self!r} has no open time within four years of {when}")

    def is_open_at(self, ts: int) -> bool:
        """Whether the combination is open at epoch second *ts*."""
        results = (c.intervals_at(ts, ts + 1) != [] for c in self._calendars)
        return all(results) if self._all else any(results)

    def next_open_at(self, ts: int) -> int:
        """*ts* if open, else the start of the next open interval."""
        for s, _ in self._walk(ts, True):
            return s
        raise AssertionError("unreachable: _walk raises when it finds nothing")

    def next_close_at(self, ts: int) -> int:
        """The end of the open stretch *ts* lies in, or of the next one if *ts* is closed."""
        end: int | None = None
        for s, e in self._walk(ts, True):
            if end is not None and s != end:
                return end
            end = e
        raise AssertionError("unreachable: _walk raises when it finds nothing")

    def elapsed_seconds(self, a: int, b: int) -> int:
        """Open seconds between *a* and *b*, signed (negative when *b* is before *a*)."""
        lo, hi = min(a, b), max(a, b)
        total = sum(e - s for s, e in self.intervals_at(lo, hi))
        return total if a <= b else -total

    def add_seconds(self, ts: int, d: int) -> int:
        """The instant at which *d* open seconds have elapsed after *ts* (back for d < 0).

        The rules of :meth:`BusinessCalendar.add_seconds`: 0 gives *ts*, a result on the end
        of an interval (the start, counting back) stays there.
        """
        if d == 0:
            return ts
        left = abs(d)
        for s, e in self._walk(ts, d > 0):
            if left <= e - s:
                return s + left if d > 0 else e - left
            left -= e - s
        raise AssertionError("unreachable: _walk raises when it finds nothing")

    # ------------------------------------------------------------------ datetime API

    def _epoch(self, value: datetime, what: str) -> int:
        return to_epoch(value, what, CalendarError)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which *duration* of open time has elapsed after *start*."""
        d = seconds(duration, "duration", CalendarError)
        return from_epoch(self.add_seconds(self._epoch(start, "start"), d), self.tz)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants, signed."""
        a, b = self._epoch(start, "start"), self._epoch(end, "end")
        return timedelta(seconds=self.elapsed_seconds(a, b))

    def is_open(self, at: datetime) -> bool:
        """Whether the combination is open at *at*."""
        return self.is_open_at(self._epoch(at, "at"))

    def next_open(self, at: datetime) -> datetime:
        """*at* itself if open, else the start of the next open interval."""
        return from_epoch(self.next_open_at(self._epoch(at, "at")), self.tz)

    def next_close(self, at: datetime) -> datetime:
        """The end of the open stretch *at* lies in (or of the next one)."""
        return from_epoch(self.next_close_at(self._epoch(at, "at")), self.tz)

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open (start, end) pairs between two instants, clipped to [start, end)."""
        a, b = self._epoch(start, "start"), self._epoch(end, "end")
        return [
            (from_epoch(s, self.tz), from_epoch(e, self.tz)) for s, e in self.intervals_at(a, b)
        ]


@attrs.frozen
class CoverageSpan:
    """A stretch of time in which the same groups are open and the same agents are on.

    ``groups`` are the groups whose calendar is open, ``agents`` maps a group to how many of
    its agents are on shift (groups with nobody on are left out). ``gap`` is true when no group
    is open and nobody is on shift.
    """

    start: datetime
    end: datetime
    groups: frozenset[str]
    agents: Mapping[str, int]

    @property
    def gap(self) -> bool:
        """Nobody is on: no group open and no agent on shift."""
        return not self.groups and not self.agents

    @property
    def agents_on(self) -> int:
        """How many agents are on shift, over all groups."""
        return sum(self.agents.values())


@attrs.frozen
class Coverage:
    """The coverage map of a window: consecutive spans from its start to its end."""

    spans: tuple[CoverageSpan, ...]

    @property
    def gaps(self) -> list[CoverageSpan]:
        """The spans in which nobody is on."""
        return [span for span in self.spans if span.gap]

    def at(self, instant: datetime) -> CoverageSpan:
        """The span that holds *instant* (:class:`CalendarError` outside the window)."""
        ts = to_epoch(instant, "instant", CalendarError)
        for span in self.spans:
            if to_epoch(span.start) <= ts < to_epoch(span.end):
                return span
        raise CalendarError(f"{instant.isoformat()} is outside the coverage window")


def coverage(
    groups: Mapping[str, _Intervals],
    start: datetime,
    end: datetime,
    *,
    shifts: Mapping[str, tuple[str, _Intervals]] | None = None,
    tz: tzinfo = UTC,
) -> Coverage:
    """Who is on between *start* and *end*: groups open, agents on shift, and the gaps.

    *groups* maps a group name to its business calendar (each in its own zone). *shifts* maps
    an agent's name to ``(group, shift calendar)``: the agent's recurring hours, with leave as
    the calendar's holidays and one-off changes as its overrides. Spans are exact to the
    second across DST (they come from the calendars' own intervals) and reported in *tz*.
    """
    if not isinstance(groups, Mapping):
        raise ConfigurationError(f"groups must map a group name to a calendar, got {groups!r}")
    shifts = shifts or {}
    if not isinstance(shifts, Mapping):
        raise ConfigurationError(f"shifts must map an agent to (group, calendar), got {shifts!r}")
    a, b = to_epoch(start, "start", CalendarError), to_epoch(end, "end", CalendarError)
    if b <= a:
        raise CalendarError(f"the window ends ({end.isoformat()}) before it starts")
    if b - a > MAX_SPAN:
        raise CalendarError("a coverage window may span at most ten years")
    named: list[tuple[Hashable, list[tuple[int, int]]]] = []
    for name, calendar in groups.items():
        if not callable(getattr(calendar, "intervals_at", None)):
            raise ConfigurationError(f"groups[{name!r}] is not a calendar: {calendar!r}")
        named.append((("group", name), calendar.intervals_at(a, b)))
    for agent, shift in shifts.items():
        if not (isinstance(shift, tuple) and len(shift) == 2 and isinstance(shift[0], str)):
            raise ConfigurationError(f"shifts[{agent!r}] must be (group, calendar), got {shift!r}")
        group, calendar = shift
        if not callable(getattr(calendar, "intervals_at", None)):
            raise ConfigurationError(f"shifts[{agent!r}] has no calendar: {calendar!r}")
        named.append((("agent", group), calendar.intervals_at(a, b)))
    states: dict[frozenset[tuple[Hashable, int]], tuple[frozenset[str], dict[str, int]]] = {}
    spans = []
    for s, e, names in _sweep(named, a, b):
        # A week repeats its states: turn each distinct one into groups and counts once.
        state = states.get(names)
        if state is None:
            groups_open: set[str] = set()
            agents_on: dict[str, int] = {}
            for key, count in names:
                kind, group = cast(tuple[str, str], key)  # coverage's keys: (kind, name)
                if kind == "group":
                    groups_open.add(group)
                else:
                    agents_on[group] = count
            state = states[names] = (frozenset(groups_open), agents_on)
        spans.append(CoverageSpan(from_epoch(s, tz), from_epoch(e, tz), *state))
    return Coverage(tuple(spans))


@attrs.frozen
class FollowTheSun:
    """Teams in different zones that take over tickets from each other as their shifts end.

    *calendars* maps each team (a group id) to its hours, in the order teams are preferred
    when several are on. Give it to :class:`~supportkit.SupportDesk` (``follow_the_sun=``): a
    new ticket without a group is queued for the team on shift (or the next one to come on);
    when its team's shift ends, ``tick`` hands it to the next team on shift with a
    ``handed_off`` event noting what is pending; and ``tick`` warns (an alert of kind
    ``"uncovered"``) about a running SLA clock whose deadline comes before anyone is on.
    """

    calendars: Mapping[str, _Hours] = attrs.field()

    @calendars.validator
    def _check(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, Mapping) or not value:
            raise ConfigurationError(
                f"follow the sun needs a mapping of team to calendar, got {value!r}"
            )
        for name, calendar in value.items():
            if not isinstance(name, str) or not callable(getattr(calendar, "intervals_at", None)):
                raise ConfigurationError(f"follow the sun: {name!r} needs a business calendar")

    def covers(self, group: str | None) -> bool:
        """Whether *group* is one of the rotation's teams."""
        return group in self.calendars

    def team_at(self, ts: int) -> str:
        """The first team on shift at epoch second *ts*, else the next one to come on."""
        soonest: tuple[int, str] | None = None
        for name, calendar in self.calendars.items():
            if calendar.intervals_at(ts, ts + 1):
                return name
            opens = calendar.next_open_at(ts)
            if soonest is None or opens < soonest[0]:
                soonest = (opens, name)
        assert soonest is not None
        return soonest[1]

    def next_change(self, group: str, ts: int) -> int:
        """When the rotation must look at a ticket of *group* again: its shift's end, or, while
        it is off, the next time any team comes on."""
        calendar = self.calendars[group]
        if calendar.intervals_at(ts, ts + 1):
            return calendar.next_close_at(ts)
        on = [name for name, c in self.calendars.items() if c.intervals_at(ts, ts + 1)]
        if on:
            return ts
        return min(c.next_open_at(ts) for c in self.calendars.values())

    def open_seconds(self, a: int, b: int) -> int:
        """Seconds in [a, b) in which at least one team is on."""
        return CombinedCalendar(self.calendars.values(), all_open=False).elapsed_seconds(a, b)
