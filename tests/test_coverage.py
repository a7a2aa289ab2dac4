"""Coverage maps and combined calendars against a minute-stepping oracle, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import BusinessCalendar, CalendarError, CombinedCalendar, coverage

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
SYDNEY = BusinessCalendar("Australia/Sydney", WEEKDAYS)
BERLIN = BusinessCalendar("Europe/Berlin", WEEKDAYS)
NEW_YORK = BusinessCalendar("America/New_York", WEEKDAYS)


def minutes(start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    """Every UTC minute in [start, end) (stepping local minutes double-counts fall-back)."""
    t = start
    while t < end:
        yield t
        t += timedelta(minutes=1)


def test_follow_the_sun_gaps_are_exact() -> None:
    """Sydney, Berlin and New York 9-17 on weekdays: every minute of a week is in a span that
    names exactly the open groups, the spans tile the week, and the only gap longer than a day
    is the weekend, from New York's Friday close to Sydney's Monday open."""
    start = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, before any of the March DST changes
    end = start + timedelta(days=7)
    cover = coverage({"syd": SYDNEY, "ber": BERLIN, "nyc": NEW_YORK}, start, end)
    for t in minutes(start, end):
        span = cover.at(t)
        expected = {
            name
            for name, cal in (("syd", SYDNEY), ("ber", BERLIN), ("nyc", NEW_YORK))
            if cal.is_open(t)
        }
        assert expected == span.groups, t
    # Spans tile the window without holes or overlaps.
    assert cover.spans[0].start == start
    assert cover.spans[-1].end == end
    assert all(a.end == b.start for a, b in zip(cover.spans, cover.spans[1:], strict=False))
    # Monday 2025-03-03: New York closes at 22:00 UTC, Sydney opens Tuesday 09:00 AEDT = 22:00
    # UTC Monday, so Monday night has no gap; the weekend is one long gap.
    weekend = [g for g in cover.gaps if g.end - g.start > timedelta(days=1)]
    assert len(weekend) == 1
    assert weekend[0].start == datetime(2025, 3, 7, 22, 0, tzinfo=UTC)  # Fri 17:00 in New York


def test_agents_on_shift_with_leave() -> None:
    """Agents count per group while their shift calendar is open; leave (a holiday of the
    shift calendar) removes them; a group with nobody on shift is left out of ``agents``."""
    ann = BusinessCalendar("Europe/Berlin", WEEKDAYS, holidays=[date(2025, 3, 4)])
    bob = BusinessCalendar("Europe/Berlin", {"mon": ["12:00-20:00"], "tue": ["12:00-20:00"]})
    start = datetime(2025, 3, 3, tzinfo=UTC)
    cover = coverage(
        {"ber": BERLIN},
        start,
        start + timedelta(days=2),
        shifts={"ann": ("ber", ann), "bob": ("ber", bob)},
    )
    berlin = ZoneInfo("Europe/Berlin")
    assert {"ber": 2} == cover.at(datetime(2025, 3, 3, 13, 0, tzinfo=berlin)).agents
    assert {"ber": 1} == cover.at(datetime(2025, 3, 3, 10, 0, tzinfo=berlin)).agents
    assert {"ber": 1} == cover.at(datetime(2025, 3, 4, 13, 0, tzinfo=berlin)).agents  # ann away
    late = cover.at(datetime(2025, 3, 3, 19, 0, tzinfo=berlin))
    assert (frozenset(), {"ber": 1}, False) == (late.groups, late.agents, late.gap)
    night = cover.at(datetime(2025, 3, 3, 23, 0, tzinfo=berlin))
    assert night.gap
    assert 0 == night.agents_on


def test_fall_back_day_of_a_24_hour_group_is_25_hours() -> None:
    """A 24x7 Berlin group's coverage of the fall-back Sunday is 25 real hours."""
    always = BusinessCalendar(
        "Europe/Berlin", {d: ["00:00-00:00"] for d in WEEKDAYS | {"sat": 0, "sun": 0}}
    )
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime(2025, 10, 26, tzinfo=berlin)
    cover = coverage({"ber": always}, day, datetime(2025, 10, 27, tzinfo=berlin))
    assert [] == cover.gaps
    assert timedelta(hours=25) == cover.spans[-1].end - cover.spans[0].start


def test_union_and_intersection_are_calendars() -> None:
    """The union counts open time when any calendar is open; the intersection when all are."""
    either = BERLIN.union(NEW_YORK)
    both = BERLIN.intersection(NEW_YORK)
    assert isinstance(either, CombinedCalendar)
    monday = datetime(2025, 3, 3, tzinfo=UTC)
    # Berlin 08:00-16:00 UTC, New York 14:00-22:00 UTC: union 14 h, overlap 2 h.
    assert timedelta(hours=14) == either.elapsed(monday, monday + timedelta(days=1))
    assert timedelta(hours=2) == both.elapsed(monday, monday + timedelta(days=1))
    assert datetime(2025, 3, 3, 16, 0, tzinfo=UTC) == both.add(monday, timedelta(hours=2))
    # Landing exactly on the end of an interval stays there; the next second moves on.
    assert datetime(2025, 3, 4, 14, 0, 1, tzinfo=UTC) == both.add(
        monday, timedelta(hours=2, seconds=1)
    )
    assert datetime(2025, 3, 3, 14, 0, tzinfo=UTC) == both.add(
        datetime(2025, 3, 3, 16, 0, tzinfo=UTC), -timedelta(hours=2)
    )
    assert both.is_open(datetime(2025, 3, 3, 15, 0, tzinfo=UTC))
    assert not both.is_open(datetime(2025, 3, 3, 16, 0, tzinfo=UTC))
    assert datetime(2025, 3, 3, 22, 0, tzinfo=UTC) == either.next_close(monday)
    assert either.union(SYDNEY).is_open(datetime(2025, 3, 3, 23, 0, tzinfo=UTC))


def test_an_empty_intersection_gives_up_with_a_calendar_error() -> None:
    """Two calendars that never overlap: searches stop after four years with CalendarError."""
    mornings = BusinessCalendar("UTC", {"mon": ["08:00-09:00"]})
    evenings = BusinessCalendar("UTC", {"mon": ["18:00-19:00"]})
    never = mornings.intersection(evenings)
    with pytest.raises(CalendarError, match="no open time within four years"):
        never.next_open(datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (({"a": 5}, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)), {}),
        (({}, datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)), {}),
        (({}, datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC)), {}),
        (
            ({}, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)),
            {"shifts": {"ann": BERLIN}},
        ),
    ],
)
def test_bad_coverage_input_is_refused(args, kwargs) -> None:  # type: ignore[no-untyped-def]
    """Non-calendars, reversed windows, naive instants and malformed shifts are typed errors."""
    with pytest.raises((CalendarError, ValueError)) as info:
        coverage(*args, **kwargs)
    assert info.type.__module__ == "supportkit"


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
HOURS = st.integers(min_value=0, max_value=23)


@st.composite
def calendars(draw):  # type: ignore[no-untyped-def]
    start = draw(HOURS)
    length = draw(st.integers(min_value=1, max_value=12))
    end = (start + length) % 24
    days = draw(st.sets(st.sampled_from([*WEEKDAYS, "sat", "sun"]), min_size=1))
    return BusinessCalendar(
        draw(st.sampled_from(ZONES)), {d: [f"{start:02d}:00-{end:02d}:00"] for d in days}
    )


@given(
    st.lists(calendars(), min_size=1, max_size=3),
    st.datetimes(min_value=datetime(2025, 3, 20), max_value=datetime(2025, 4, 10)),
)
def test_coverage_and_combinations_agree_with_minute_oracle(cals, naive) -> None:  # type: ignore[no-untyped-def]
    """Across the March/April DST changes of three hemispheres, every UTC minute of a 3-day
    window is in a span naming exactly the open calendars, and the union and intersection
    count exactly the minutes when any / all are open."""
    start = naive.replace(second=0, microsecond=0, tzinfo=UTC)
    end = start + timedelta(days=3)
    cover = coverage({str(i): c for i, c in enumerate(cals)}, start, end)
    union, inter = cals[0].union(*cals[1:]), cals[0].intersection(*cals[1:])
    any_open = all_open = 0
    for t in minutes(start, end):
        open_now = {str(i) for i, c in enumerate(cals) if c.is_open(t)}
        assert open_now == cover.at(t).groups
        any_open += bool(open_now)
        all_open += len(open_now) == len(cals)
        assert union.is_open(t) == bool(open_now)
    assert timedelta(minutes=any_open) == union.elapsed(start, end)
    assert timedelta(minutes=all_open) == inter.elapsed(start, end)
    if any_open:
        assert union.add(start, union.elapsed(start, end)) <= end
        assert union.elapsed(start, union.add(start, timedelta(minutes=any_open))) == timedelta(
            minutes=any_open
        )
