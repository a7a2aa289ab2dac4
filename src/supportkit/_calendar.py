"""Business calendars: weekly local hours, holidays and dated overrides, exact across DST.

Semantics (the "Business time" section of the design): weekly intervals are local wall-clock
times in an IANA zone, resolved to instants with ``zoneinfo``'s ``fold=0``; intervals are
half-open; a holiday removes the intervals that *start* on it; an override replaces its date's
intervals and wins over a holiday; neighbouring days' intervals that overlap are merged.

How it is fast: the time line is cut into fixed blocks of 52 weeks of epoch seconds. The first
query that touches a block materialises it once: the sorted, merged open intervals inside it as
epoch seconds (clipped to the block) and the prefix sums of their lengths. ``add`` and
``elapsed`` are then a dictionary lookup and a bisection or two, in integers. The datetime API
is a thin layer over the integer one (``add_seconds`` and friends), which other modules (the
SLA engine) call directly.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._coverage import CombinedCalendar
from ._time import from_epoch, seconds, to_epoch
from .exceptions import CalendarError, ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["BusinessCalendar"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# [0-9], not \d: \d also matches non-ASCII digits such as Arabic-Indic ones.
_INTERVAL = re.compile(r"^\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*$")
# 52 weeks: a block holds about a year of intervals (a few hundred for office hours).
_BLOCK = 52 * 7 * 86400
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
# Local dates datetime can represent, with margin for every UTC offset.
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIN_ORDINAL = date(2, 1, 1).toordinal()
_MAX_ORDINAL = date(9998, 12, 31).toordinal()

# One block: (starts, ends, cum, days) with cum[i] = open seconds before interval i, cum[-1] =
# total, and days[d] = how many intervals start by the block's d-th midnight (UTC): an instant t
# on day d of the block has bisect_right(starts, t) in days[d]..days[d + 1], a cheap bisection.
_Block = tuple[list[int], list[int], list[int], list[int]]
# A day's intervals: (start minute of the day, length in minutes), sorted by start.
_Day = tuple[tuple[int, int], ...]


def _parse_interval(text: object, where: str) -> tuple[int, int]:
    """Parse ``"HH:MM-HH:MM"`` into (start minute, length in minutes); end <= start wraps."""
    match = _INTERVAL.match(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarError(
            f"{where}: malformed interval {text!r}: write 'HH:MM-HH:MM' "
            "(e.g. '09:00-17:00'; '22:00-06:00' ends the next day; '00:00-00:00' is 24 h)"
        )
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise CalendarError(
            f"{where}: interval {text!r} has an impossible time: hours are 00-23 (24:00 only "
            "as an end), minutes 00-59"
        )
    start, end = sh * 60 + sm, eh * 60 + em
    return start, (end - start if end > start else end + 1440 - start)


def _parse_day(value: object, where: str) -> _Day:
    """Parse one day's list of intervals; refuse overlaps."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise CalendarError(
            f"{where}: expected a list of 'HH:MM-HH:MM' strings, got {type(value).__name__}"
        )
    day = sorted(_parse_interval(item, where) for item in value)
    for (s1, n1), (s2, _) in itertools.pairwise(day):
        if s1 + n1 > s2:
            raise CalendarError(
                f"{where}: intervals {_render((s1, n1))!r} and {_render((s2, _))!r} overlap: "
                "intervals of one day may not overlap (merge them into one)"
            )
    return tuple(day)


def _render(interval: tuple[int, int]) -> str:
    start, length = interval
    end = (start + length) % 1440
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


#: Dates a calendar accepts (a week inside ``date.min`` and ``date.max``, so searches around
#: them stay in range).
FIRST_DATE, LAST_DATE = date(1, 1, 8), date(9999, 12, 24)


def _as_date(value: object, where: str) -> date:
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError as exc:
            raise CalendarError(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from exc
    if not isinstance(value, date):
        raise CalendarError(f"{where}: expected a date, got {type(value).__name__} {value!r:.80}")
    if not FIRST_DATE <= value <= LAST_DATE:
        raise CalendarError(f"{where}: {value} is outside {FIRST_DATE} to {LAST_DATE}")
    return value


def _zone(tz: object) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if tz is UTC:
        return ZoneInfo("UTC")
    if not isinstance(tz, str):
        raise CalendarError(
            f"tz must be an IANA zone name or a zoneinfo.ZoneInfo, got {type(tz).__name__} {tz!r}"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from exc


def _is_lazy_holidays(obj: object) -> TypeGuard[Mapping[Any, Any]]:
    """A ``holidays`` package object fills years on membership tests (``expand=True``)."""
    return (
        isinstance(obj, Mapping)
        and bool(getattr(obj, "expand", False))
        and hasattr(obj, "_populate")
    )


class BusinessCalendar:
    """Business hours in one IANA zone: weekly intervals, holidays and dated overrides.

    *weekly* maps ``"mon"`` .. ``"sun"`` to lists of local ``"HH:MM-HH:MM"`` intervals (a missing
    day is closed; ``end <= start`` ends the next day; ``"00:00-00:00"`` is a full day).
    *holidays* is any iterable of dates (or ISO strings), including a ``holidays`` package
    object, whose years are filled in as the calendar reaches them. *overrides* maps dates to
    interval lists that replace the weekly ones on that date (``[]`` closes it; an override wins
    over a holiday). *tz* is an IANA zone name or :class:`zoneinfo.ZoneInfo`.

    Instants in are aware datetimes in any zone; instants out are aware datetimes in the
    calendar's zone, to the second. The integer methods (``add_seconds``, ``elapsed_seconds``,
    ``is_open_at``, ``next_open_at``, ``next_close_at``) do the same on epoch seconds.

    Raises:
        CalendarError: a malformed or overlapping interval, an unknown weekday key or zone, or a
            schedule without any open time.
    """

    # A plain slotted class: the constructor normalises and validates everything, and the
    # caches must stay private and mutable; attrs would add nothing here.
    __slots__ = (
        "_blocks",
        "_cache",
        "_holidays",
        "_kmax",
        "_kmin",
        "_lazy",
        "_overrides",
        "_shifts",
        "_tz",
        "_weekly",
    )

    def __init__(
        self,
        tz: str | ZoneInfo = "UTC",
        weekly: Mapping[str, Iterable[str] | str] | None = None,
        holidays: Iterable[date | str] = (),
        overrides: Mapping[date | str, Iterable[str] | str] | None = None,
    ) -> None:
        self._tz = _zone(tz)
        weekly = weekly or {}
        if not isinstance(weekly, Mapping):
            raise CalendarError(f"weekly must be a mapping of weekday to intervals, got {weekly!r}")
        days: dict[int, _Day] = {}
        for key, value in weekly.items():
            if not isinstance(key, str) or key.lower() not in DAYS:
                raise CalendarError(f"unknown weekday key {key!r} in weekly: use {', '.join(DAYS)}")
            if DAYS.index(key.lower()) in days:
                raise CalendarError(f"weekday {key!r} is given twice in weekly: give it once")
            days[DAYS.index(key.lower())] = _parse_day(value, f"weekly[{key!r}]")
        self._weekly = tuple(days.get(i, ()) for i in range(7))
        self._lazy = (
            holidays if isinstance(holidays, Mapping) and _is_lazy_holidays(holidays) else None
        )
        if isinstance(holidays, str | bytes) or not isinstance(holidays, Iterable):
            raise CalendarError(f"holidays must be an iterable of dates, got {holidays!r}")
        self._holidays = frozenset(_as_date(h, "holidays") for h in holidays)
        overrides = overrides or {}
        if not isinstance(overrides, Mapping):
            raise CalendarError(
                f"overrides must be a mapping of date to intervals, got {overrides!r}"
            )
        self._overrides = {
            _as_date(key, "overrides"): _parse_day(value, f"overrides[{str(key)!r}]")
            for key, value in overrides.items()
        }
        self._blocks: dict[int, _Block] = {}
        self._shifts: dict[int, int] = {}  # local date ordinal -> shift, see _shift
        self._cache: Any = None
        self._kmin: int | None = None
        self._kmax: int | None = None
        if not any(self._weekly):
            open_dates = [d for d, day in self._overrides.items() if day]
            if not open_dates:
                raise CalendarError(
                    "the schedule has no open time at all: give weekly intervals "
                    "(e.g. {'mon': ['09:00-17:00']}) or an override that opens a date"
                )
            # Only overrides open: every search is bounded by the first and last of them.
            self._kmin = self._key(min(open_dates) - 2 * _DAY)
            self._kmax = self._key(max(open_dates) + 3 * _DAY)

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's zone: its intervals are local times there, and results are in it."""
        return self._tz

    @staticmethod
    def _key(day: date) -> int:
        return (day.toordinal() - _EPOCH_ORDINAL) * 86400 // _BLOCK

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def always(cls) -> BusinessCalendar:
        """A 24x7 calendar in UTC, for targets counted in calendar hours."""
        global _always  # one shared 24x7 calendar, built on first use
        if _always is None:
            _always = cls("UTC", {day: ["00:00-00:00"] for day in DAYS})
        return _always

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from a plain dict (TOML/JSON config); a missing ``tz`` means UTC.

        The shape: ``{"tz": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"]},
        "holidays": ["2025-12-25"], "overrides": {"2025-12-24": ["09:00-13:00"]}}``. A ``tz``
        that is present is checked like the constructor's: ``""`` or ``None`` is a
        :class:`CalendarError`, never UTC.
        """
        if not isinstance(data, Mapping):
            raise CalendarError(f"a calendar dict must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"tz", "weekly", "holidays", "overrides"}
        if unknown:
            raise CalendarError(
                f"unknown calendar keys {sorted(unknown, key=repr)}: use tz, weekly, holidays, "
                "overrides"
            )
        return cls(
            tz=data.get("tz", "UTC"),
            weekly=data.get("weekly") or {},
            holidays=data.get("holidays") or (),
            overrides=data.get("overrides") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        """Render the calendar as the plain dict :meth:`from_dict` reads.

        A ``holidays`` package object contributes the dates of the years it holds by then.
        """
        holidays = set(self._holidays)
        if self._lazy is not None:
            holidays.update(_as_date(h, "holidays") for h in self._lazy)
        return {
            "tz": self._tz.key,
            "weekly": {
                DAYS[i]: [_render(iv) for iv in day] for i, day in enumerate(self._weekly) if day
            },
            "holidays": [d.isoformat() for d in sorted(holidays)],
            "overrides": {
                d.isoformat(): [_render(iv) for iv in self._overrides[d]]
                for d in sorted(self._overrides)
            },
        }

    def __repr__(self) -> str:
        return f"BusinessCalendar.from_dict({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self._tz.key, self._weekly))

    # ------------------------------------------------------------------ materialisation

    def _day(self, day: date) -> _Day:
        if day in self._overrides:
            return self._overrides[day]
        if day in self._holidays or (self._lazy is not None and day in self._lazy):
            return ()
        return self._weekly[day.weekday()]

    def _block(self, k: int) -> _Block:
        """Materialise block *k*: merged open intervals in [k*B, (k+1)*B) with prefix sums."""
        block = self._blocks.get(k)
        if block is not None:
            return block
        lo, hi = k * _BLOCK, (k + 1) * _BLOCK
        spans: list[tuple[int, int]] = []
        if (self._kmin is None or self._kmin <= k) and (self._kmax is None or k <= self._kmax):
            first = lo // 86400 + _EPOCH_ORDINAL - 3
            last = hi // 86400 + _EPOCH_ORDINAL + 2
            if first < _MIN_ORDINAL or last > _MAX_ORDINAL:
                raise CalendarError(
                    f"epoch second {lo} is outside the supported years 2-9998: "
                    "pass instants within them"
                )
            spans = self._spans(date.fromordinal(first), date.fromordinal(last))
        starts: list[int] = []
        ends: list[int] = []
        for s, e in sorted(spans):
            s, e = max(s, lo), min(e, hi)
            if e <= s:
                continue
            if ends and s <= ends[-1]:
                ends[-1] = max(ends[-1], e)
            else:
                starts.append(s)
                ends.append(e)
        cum = [0]
        for s, e in zip(starts, ends, strict=True):
            cum.append(cum[-1] + e - s)
        days = [bisect_right(starts, lo + d * 86400) for d in range(_BLOCK // 86400 + 1)]
        block = (starts, ends, cum, days)
        self._blocks[k] = block
        return block

    def _spans(self, first: date, last: date) -> list[tuple[int, int]]:
        """Open (start, end) epoch pairs of the intervals starting on local dates first..last."""
        tz = self._tz
        days = [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 3)]
        midnights = [int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) for d in days]
        spans = []
        for i, day in enumerate(days[:-2]):
            m0, m1, m2 = midnights[i : i + 3]
            if m1 <= m0:
                continue  # a local date the zone skipped (Pacific/Apia 2011-12-30)
            steady = m1 - m0 == 86400 == m2 - m1  # no offset change in the two days
            for start, length in self._day(day):
                if steady:
                    spans.append((m0 + start * 60, m0 + (start + length) * 60))
                    continue
                # Around a transition, resolve both local boundaries with fold=0.
                wall = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=start)
                s = int(wall.timestamp())
                e = int((wall + timedelta(minutes=length)).timestamp())
                if e > s:
                    spans.append((s, e))
        return spans

    def _limit(self, k: int, forward: bool, ts: int) -> None:
        """Refuse to search on past the last (forward) or first (backward) override opening.

        Only the direction of travel is checked: a forward search may start long before the
        first opening (and a backward one long after the last) and walk through empty blocks.
        """
        past = self._kmax if forward else self._kmin
        if past is not None and (k > past if forward else k < past):
            where = "after" if forward else "before"
            raise CalendarError(
                f"not enough business time {where} {from_epoch(ts, self._tz).isoformat()}: "
                "this calendar opens only on its overrides"
            )

    # ------------------------------------------------------------------ integer core

    def add_seconds(self, ts: int, d: int) -> int:
        """Epoch second at which *d* business seconds have elapsed after *ts* (see :meth:`add`)."""
        if d == 0:
            return ts
        k = ts // _BLOCK
        starts, ends, cum, days = self._blocks.get(k) or self._block(k)
        day = (ts - k * _BLOCK) // 86400
        i = bisect_right(starts, ts, days[day], days[day + 1])
        c = cum[i - 1] + ts - starts[i - 1] if i and ts < ends[i - 1] else cum[i]
        c += d
        if d > 0:
            while c > cum[-1]:
                c -= cum[-1]
                k += 1
                self._limit(k, True, ts)
                starts, ends, cum, _ = self._blocks.get(k) or self._block(k)
            j = bisect_left(cum, c, 1) - 1
            return starts[j] + c - cum[j]
        while c < 0:
            k -= 1
            self._limit(k, False, ts)
            starts, ends, cum, _ = self._blocks.get(k) or self._block(k)
            c += cum[-1]
        j = bisect_right(cum, c, 0, len(cum) - 1) - 1
        return starts[j] + c - cum[j]

    def elapsed_seconds(self, a: int, b: int) -> int:
        """Signed business seconds between epoch seconds *a* and *b* (see :meth:`elapsed`)."""
        if a > b:
            return -self.elapsed_seconds(b, a)
        blocks = self._blocks
        ka, kb = a // _BLOCK, b // _BLOCK
        starts, ends, cum, days = blocks.get(ka) or self._block(ka)
        day = (a - ka * _BLOCK) // 86400
        i = bisect_right(starts, a, days[day], days[day + 1])
        total = -(cum[i - 1] + a - starts[i - 1] if i and a < ends[i - 1] else cum[i])
        if kb != ka:
            lo = ka if self._kmin is None else max(ka, self._kmin)
            hi = kb if self._kmax is None else min(kb, self._kmax + 1)
            for k in range(lo, hi):
                total += (blocks.get(k) or self._block(k))[2][-1]
            starts, ends, cum, days = blocks.get(kb) or self._block(kb)
        day = (b - kb * _BLOCK) // 86400
        i = bisect_right(starts, b, days[day], days[day + 1])
        return total + (cum[i - 1] + b - starts[i - 1] if i and b < ends[i - 1] else cum[i])

    def is_open_at(self, ts: int) -> bool:
        """Whether epoch second *ts* lies inside an open interval (intervals are half-open)."""
        starts, ends, _, _ = self._blocks.get(ts // _BLOCK) or self._block(ts // _BLOCK)
        i = bisect_right(starts, ts)
        return bool(i) and ts < ends[i - 1]

    def next_open_at(self, ts: int) -> int:
        """*ts* if open, else the epoch second at which the next open interval starts."""
        k = ts // _BLOCK
        starts, ends, _, _ = self._blocks.get(k) or self._block(k)
        i = bisect_right(starts, ts)
        if i and ts < ends[i - 1]:
            return ts
        while i == len(starts):
            k += 1
            self._limit(k, True, ts)
            starts, ends, _, _ = self._block(k)
            i = 0
        return starts[i]

    def next_close_at(self, ts: int) -> int:
        """End of the open interval that contains :meth:`next_open_at` of *ts* (epoch seconds).

        Raises :class:`CalendarError` when the calendar stays open for more than four years
        (``BusinessCalendar.always()`` never closes).
        """
        t = self.next_open_at(ts)
        k = first = t // _BLOCK
        starts, ends, _, _ = self._block(k)
        end = ends[bisect_right(starts, t) - 1]
        # An interval cut at a block boundary goes on in the next block.
        while end == (k + 1) * _BLOCK:
            k += 1
            if self._kmax is not None and k > self._kmax:
                break
            if k - first > 4:
                raise CalendarError(
                    f"the calendar does not close within four years of "
                    f"{from_epoch(t, self._tz).isoformat()}: it has no next closing there"
                )
            starts, ends, _, _ = self._block(k)
            if not starts or starts[0] != end:
                break
            end = ends[0]
        return end

    def intervals_at(self, a: int, b: int) -> list[tuple[int, int]]:
        """Open (start, end) epoch pairs overlapping [a, b), clipped to it."""
        out: list[tuple[int, int]] = []
        if b <= a:
            return out
        lo = a // _BLOCK if self._kmin is None else max(a // _BLOCK, self._kmin)
        hi = b // _BLOCK if self._kmax is None else min(b // _BLOCK, self._kmax)
        for k in range(lo, hi + 1):
            starts, ends, _, _ = self._block(k)
            for i in range(max(bisect_right(ends, a), 0), bisect_left(starts, b)):
                s, e = max(starts[i], a), min(ends[i], b)
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
        return out

    def union(self, *others: Any) -> CombinedCalendar:
        """A calendar open when this one or any of *others* is (zones may differ).

        The result (a :class:`~supportkit.CombinedCalendar`) has the same ``add``,
        ``elapsed``, ``is_open``, ``next_open``, ``next_close`` and ``intervals`` methods.
        """
        return CombinedCalendar((self, *others), all_open=False)

    def intersection(self, *others: Any) -> CombinedCalendar:
        """A calendar open when this one and all of *others* are (zones may differ)."""
        return CombinedCalendar((self, *others), all_open=True)

    # ------------------------------------------------------------------ datetime API

    def _epoch(self, value: datetime, what: str) -> int:
        """:func:`to_epoch` of *value*, faster for the common case of the calendar's own zone.

        Outside a transition day every wall time of a local date has the same UTC offset, so
        the offset is looked up once per date (in ``_shifts``) instead of asking the zone
        each time. Transition days (and ``fold=1``, other zones, bad input) take
        :func:`to_epoch`, which asks the zone and gives the same answer.
        """
        if type(value) is datetime and value.tzinfo is self._tz and not value.fold:
            day = value.toordinal()
            shift = self._shifts.get(day)
            if shift is None:
                shift = self._shift(day)
            if shift is not None:
                return day * 86400 + value.hour * 3600 + value.minute * 60 + value.second - shift
        return to_epoch(value, what, CalendarError)

    def _shift(self, day: int) -> int | None:
        """For a local date *day* (an ordinal) without a transition, the seconds to subtract
        from ``day * 86400`` + the second of the day to get epoch seconds: its UTC offset plus
        the epoch's ordinal in seconds; ``None`` for a transition day.

        A date whose midnight and next midnight (``fold=0``) have the same offset has no
        transition in between, because no zone changes its offset twice within 48 hours
        (tests/test_calendar.py checks that against the zone data). ``fold=0`` walls in a gap
        or overlap touching such a date resolve to the offset before the transition, which is
        that same offset. Only steady dates are cached.
        """
        if not _MIN_ORDINAL <= day <= _MAX_ORDINAL:
            return None
        midnight = datetime.fromordinal(day).replace(tzinfo=self._tz)
        before, after = midnight.utcoffset(), (midnight + _DAY).utcoffset()
        if before is None or before != after:
            return None
        shift = before.days * 86400 + before.seconds + _EPOCH_ORDINAL * 86400
        self._shifts[day] = shift
        return shift

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which *duration* of business time has elapsed after *start*.

        ``add(t, timedelta(0)) == t``. From a closed instant counting starts at the next
        opening. A result on the end of an interval stays there; a negative *duration* counts
        backwards and a result on the start of an interval stays there. Sub-second parts of
        *start* and *duration* are floored: ``timedelta(seconds=-0.5)`` counts back one second.
        """
        ts = self._epoch(start, "start")
        if type(duration) is timedelta:  # the common case, inlined: this is the hot path
            d = duration.days * 86400 + duration.seconds
        else:
            d = seconds(duration, "duration", CalendarError)
        return from_epoch(self.add_seconds(ts, d), self._tz)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants, signed: ``elapsed(a, b) == -elapsed(b, a)``."""
        a = self._epoch(start, "start")
        return _SECOND * self.elapsed_seconds(a, self._epoch(end, "end"))

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at *at* (an interval's end is closed)."""
        return self.is_open_at(self._epoch(at, "at"))

    def next_open(self, at: datetime) -> datetime:
        """*at* itself if open, else the start of the next open interval."""
        return from_epoch(self.next_open_at(self._epoch(at, "at")), self._tz)

    def next_close(self, at: datetime) -> datetime:
        """The end of the open interval *at* lies in, or of the next one if *at* is closed.

        Raises :class:`CalendarError` if the calendar stays open for more than four years.
        """
        return from_epoch(self.next_close_at(self._epoch(at, "at")), self._tz)

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open (start, end) pairs between two instants, clipped to [start, end)."""
        tz = self._tz
        return [
            (from_epoch(s, tz), from_epoch(e, tz))
            for s, e in self.intervals_at(self._epoch(start, "start"), self._epoch(end, "end"))
        ]

    # ------------------------------------------------------------------ numpy batch API

    def add_many(self, starts: Any, durations: Any) -> npt.NDArray[Any]:
        """Vectorised :meth:`add_seconds` (needs the ``numpy`` extra).

        *starts* are int64 epoch seconds or ``datetime64`` (read as UTC, numpy's convention);
        *durations* are seconds or ``timedelta64``; both broadcast. The result has the kind of
        *starts*: int64 epoch seconds, or ``datetime64[s]``.

        Raises:
            ConfigurationError: numpy is not installed.
            CalendarError: the arrays have the wrong kind or do not broadcast together.
        """
        try:
            import numpy as np
        except ImportError as exc:
            raise _needs_numpy("add_many") from exc
        ts, as_datetime = _epochs(np, starts)
        ts, d = _broadcast(np, ts, _durations(np, durations), "starts", "durations")
        out = ts.copy()
        if ts.size and d.any():
            k0, k1 = int(ts.min()) // _BLOCK, int(ts.max()) // _BLOCK
            while True:
                s_arr, e_arr, cum = self._span(np, k0, k1)
                target = _positions(np, s_arr, e_arr, cum, ts) + d
                if (target < 0).any():
                    k0 -= 1
                    self._limit(k0, False, int(ts.min()))
                elif (target > cum[-1]).any():
                    k1 += 1
                    self._limit(k1, True, int(ts.max()))
                else:
                    break
            forward = np.searchsorted(cum, target, "left") - 1
            backward = np.searchsorted(cum[:-1], target, "right") - 1
            j = np.where(d > 0, forward, backward).clip(0, len(s_arr) - 1)
            out = np.where(d == 0, ts, s_arr[j] + target - cum[j])
        return out.astype("datetime64[s]") if as_datetime else out

    def elapsed_many(self, starts: Any, ends: Any) -> npt.NDArray[np.int64]:
        """Vectorised :meth:`elapsed_seconds`: signed business seconds as int64 (numpy extra).

        *starts* and *ends* are int64 epoch seconds or ``datetime64`` (read as UTC); they
        broadcast.

        Raises:
            ConfigurationError: numpy is not installed.
            CalendarError: the arrays have the wrong kind or do not broadcast together.
        """
        try:
            import numpy as np
        except ImportError as exc:
            raise _needs_numpy("elapsed_many") from exc
        a, b = _broadcast(np, _epochs(np, starts)[0], _epochs(np, ends)[0], "starts", "ends")
        if not a.size:
            return np.zeros(a.shape, np.int64)
        k0 = int(min(a.min(), b.min())) // _BLOCK
        k1 = int(max(a.max(), b.max())) // _BLOCK
        s_arr, e_arr, cum = self._span(np, k0, k1)
        out: npt.NDArray[np.int64] = _positions(np, s_arr, e_arr, cum, b) - _positions(
            np, s_arr, e_arr, cum, a
        )
        return out

    def _span(self, np: Any, k0: int, k1: int) -> tuple[Any, Any, Any]:
        """Concatenated arrays (starts, ends, prefix sums) of blocks k0..k1, cached."""
        cached = self._cache
        if cached is not None and cached[0] <= k0 and k1 <= cached[1]:
            arrays: tuple[Any, Any, Any] = cached[2]
            return arrays
        if cached is not None:
            k0, k1 = min(k0, cached[0]), max(k1, cached[1])
        blocks = [self._block(k) for k in range(k0, k1 + 1)]
        s_arr = np.array([s for b in blocks for s in b[0]], np.int64)
        e_arr = np.array([e for b in blocks for e in b[1]], np.int64)
        cum = np.zeros(len(s_arr) + 1, np.int64)
        np.cumsum(e_arr - s_arr, out=cum[1:])
        arrays = (s_arr, e_arr, cum)
        self._cache = (k0, k1, arrays)
        return arrays


def _needs_numpy(method: str) -> ConfigurationError:
    """The error for a batch method called without numpy installed: name the extra."""
    return ConfigurationError(
        f"BusinessCalendar.{method} needs numpy, the 'numpy' extra: pip install -e '.[numpy]' "
        "in a checkout of supportkit (pip install 'supportkit[numpy]' once it is on an index)"
    )


def _broadcast(
    np: Any, x: Any, y: Any, x_name: str, y_name: str
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Broadcast two arrays together, or a CalendarError naming both shapes."""
    try:
        bx, by = np.broadcast_arrays(x, y)
    except ValueError as exc:
        raise CalendarError(
            f"{x_name} of shape {x.shape} and {y_name} of shape {y.shape} do not broadcast "
            "together: give arrays of one shape, or a single value for one of them"
        ) from exc
    return bx, by


def _epochs(np: Any, values: Any) -> tuple[Any, bool]:
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]").astype(np.int64), True
    if arr.dtype.kind not in "iu":
        raise CalendarError(
            f"instants must be int64 epoch seconds or datetime64, got an array of {arr.dtype}"
        )
    return arr.astype(np.int64), False


def _durations(np: Any, values: Any) -> Any:
    arr = np.asarray(values)
    if arr.dtype.kind == "m":
        return arr.astype("timedelta64[s]").astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise CalendarError(
            f"durations must be integer seconds or timedelta64, got an array of {arr.dtype}"
        )
    return arr.astype(np.int64)


def _positions(np: Any, s_arr: Any, e_arr: Any, cum: Any, ts: Any) -> Any:
    """Open seconds from the start of the arrays to each instant."""
    if not len(s_arr):
        return np.zeros(ts.shape, np.int64)
    i = np.searchsorted(s_arr, ts, "right")
    prev = (i - 1).clip(0)
    inside = (i > 0) & (ts < e_arr[prev])
    return np.where(inside, cum[prev] + ts - s_arr[prev], cum[i])


_always: BusinessCalendar | None = None
