"""BusinessCalendar: the documented semantics, worked DST examples and errors."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from supportkit import BusinessCalendar, CalendarError, ConfigurationError

NY = ZoneInfo("America/New_York")
OFFICE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def ny(*args: int) -> datetime:
    """An aware New York wall-clock time (fold=0)."""
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


@pytest.fixture
def office() -> BusinessCalendar:
    """Mon-Fri 09:00-17:00 New York, Christmas off, Christmas Eve until 13:00."""
    return BusinessCalendar(
        tz="America/New_York",
        weekly=OFFICE,
        holidays=[date(2025, 12, 25)],
        overrides={date(2025, 12, 24): ["09:00-13:00"]},
    )


def hours(n: float) -> timedelta:
    """A duration of *n* hours."""
    return timedelta(hours=n)


# --------------------------------------------------------------------------- add


def test_add_within_one_interval(office: BusinessCalendar) -> None:
    """Two business hours from Monday 10:00 is Monday 12:00."""
    assert ny(2025, 3, 3, 12) == office.add(ny(2025, 3, 3, 10), hours(2))


def test_add_zero_returns_the_start_even_when_closed(office: BusinessCalendar) -> None:
    """``add(t, 0) == t``, also at a closed instant."""
    saturday = ny(2025, 3, 8, 23, 15, 7)
    assert saturday == office.add(saturday, timedelta(0))


def test_add_from_closed_instant_counts_from_next_opening(office: BusinessCalendar) -> None:
    """From Saturday, one hour lands Monday 10:00."""
    assert ny(2025, 3, 10, 10) == office.add(ny(2025, 3, 8, 12), hours(1))


def test_add_landing_on_end_stays_at_end(office: BusinessCalendar) -> None:
    """One hour from 16:00 is 17:00 the same day, not 09:00 the next."""
    assert ny(2025, 3, 3, 17) == office.add(ny(2025, 3, 3, 16), hours(1))


def test_negative_add_landing_on_start_stays_at_start(office: BusinessCalendar) -> None:
    """One hour back from 10:00 is 09:00 the same day, not 17:00 the day before."""
    assert ny(2025, 3, 3, 9) == office.add(ny(2025, 3, 3, 10), hours(-1))


def test_negative_add_crosses_the_weekend(office: BusinessCalendar) -> None:
    """Two hours back from Monday 10:00 is Friday 16:00."""
    assert ny(2025, 2, 28, 16) == office.add(ny(2025, 3, 3, 10), hours(-2))


def test_add_result_is_in_the_calendar_zone(office: BusinessCalendar) -> None:
    """A UTC start gives a New York answer for the same instant."""
    result = office.add(datetime(2025, 3, 3, 15, tzinfo=UTC), hours(1))
    assert (NY, ny(2025, 3, 3, 11)) == (result.tzinfo, result)


def test_add_skips_holiday_and_uses_override(office: BusinessCalendar) -> None:
    """Christmas Eve closes at 13:00 and Christmas is off: 5 h from 24th 10:00 is 26th 11:00."""
    assert ny(2025, 12, 26, 11) == office.add(ny(2025, 12, 24, 10), hours(5))


def test_add_spans_many_weeks(office: BusinessCalendar) -> None:
    """400 business hours (50 days of 8 h) from a Monday 09:00 is ten weeks later, Friday 17:00."""
    assert ny(2025, 5, 9, 17) == office.add(ny(2025, 3, 3, 9), hours(400))


def test_add_keeps_seconds() -> None:
    """Durations and instants are exact to the second."""
    cal = BusinessCalendar.always()
    start = datetime(2025, 1, 1, 0, 0, 59, tzinfo=UTC)
    assert datetime(2025, 1, 1, 0, 1, 0, tzinfo=UTC) == cal.add(start, timedelta(seconds=1))


# --------------------------------------------------------------------------- elapsed etc.


def test_elapsed_is_signed(office: BusinessCalendar) -> None:
    """``elapsed(a, b) == -elapsed(b, a)``: Friday 16:00 to Monday 10:00 is 2 h."""
    a, b = ny(2025, 2, 28, 16), ny(2025, 3, 3, 10)
    assert (hours(2), hours(-2)) == (office.elapsed(a, b), office.elapsed(b, a))


def test_elapsed_over_a_closed_stretch_is_zero(office: BusinessCalendar) -> None:
    """Nothing elapses over a weekend."""
    assert timedelta(0) == office.elapsed(ny(2025, 3, 1, 8), ny(2025, 3, 2, 20))


def test_elapsed_across_many_blocks(office: BusinessCalendar) -> None:
    """Five years of office hours without holidays count 8 h per weekday."""
    cal = BusinessCalendar("America/New_York", OFFICE)
    start, end = ny(2020, 1, 1), ny(2025, 1, 1)
    weekdays = sum(
        1 for n in range((end.date() - start.date()).days) if (start + timedelta(n)).weekday() < 5
    )
    assert hours(8 * weekdays) == cal.elapsed(start, end)


def test_is_open_is_half_open(office: BusinessCalendar) -> None:
    """Open at 09:00, closed at 17:00, open at 16:59:59."""
    assert (True, False, True) == (
        office.is_open(ny(2025, 3, 3, 9)),
        office.is_open(ny(2025, 3, 3, 17)),
        office.is_open(ny(2025, 3, 3, 16, 59, 59)),
    )


def test_next_open_and_close(office: BusinessCalendar) -> None:
    """From Friday 18:00 the next opening is Monday 09:00 and it closes at 17:00."""
    friday = ny(2025, 2, 28, 18)
    assert (ny(2025, 3, 3, 9), ny(2025, 3, 3, 17)) == (
        office.next_open(friday),
        office.next_close(friday),
    )


def test_next_open_of_open_instant_is_itself(office: BusinessCalendar) -> None:
    """An open instant is its own next opening; next_close is the end of its interval."""
    t = ny(2025, 3, 3, 11, 30)
    assert (t, ny(2025, 3, 3, 17)) == (office.next_open(t), office.next_close(t))


def test_intervals_clipped_to_the_range(office: BusinessCalendar) -> None:
    """intervals() lists the open pairs inside [a, b), clipped at both ends."""
    expected = [
        (ny(2025, 12, 23, 12), ny(2025, 12, 23, 17)),
        (ny(2025, 12, 24, 9), ny(2025, 12, 24, 13)),
        (ny(2025, 12, 26, 9), ny(2025, 12, 26, 10)),
    ]
    assert expected == office.intervals(ny(2025, 12, 23, 12), ny(2025, 12, 26, 10))


def test_always_is_open_around_the_clock() -> None:
    """The 24x7 calendar counts real time."""
    cal = BusinessCalendar.always()
    a = datetime(2025, 3, 9, 1, tzinfo=NY)
    assert datetime(2025, 3, 12, 1, tzinfo=UTC) - a.astimezone(UTC) == cal.elapsed(
        a, datetime(2025, 3, 12, 1, tzinfo=UTC)
    )


def test_always_has_no_closing_for_years() -> None:
    """next_close on the 24x7 calendar crosses internal block boundaries (none visible)."""
    cal = BusinessCalendar.always()
    t = datetime(2025, 1, 1, tzinfo=UTC)
    # Searching for a closing would never end; the integer API shows the merged intervals.
    assert [(t, t + timedelta(days=800))] == cal.intervals(t, t + timedelta(days=800))


# --------------------------------------------------------------------------- schedule rules


def test_overnight_interval_belongs_to_its_start_day() -> None:
    """Saturday 22:00-06:00 runs into Sunday; a Sunday holiday does not remove it."""
    cal = BusinessCalendar("UTC", {"sat": ["22:00-06:00"]}, holidays=["2025-03-02"])
    start = datetime(2025, 3, 1, 22, tzinfo=UTC)
    assert datetime(2025, 3, 2, 6, tzinfo=UTC) == cal.add(start, hours(8))


def test_holiday_removes_overnight_shift_starting_that_day() -> None:
    """A Saturday holiday removes Saturday's 22:00-06:00 shift, Sunday morning included."""
    cal = BusinessCalendar("UTC", {"sat": ["22:00-06:00"]}, holidays=[date(2025, 3, 1)])
    assert timedelta(0) == cal.elapsed(
        datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 3, tzinfo=UTC)
    )


def test_full_day_interval() -> None:
    """``"00:00-00:00"`` is a whole day."""
    cal = BusinessCalendar("UTC", {"wed": ["00:00-00:00"]})
    wed = datetime(2025, 3, 5, tzinfo=UTC)
    assert hours(24) == cal.elapsed(wed - hours(30), wed + hours(30))


def test_neighbouring_days_overlap_is_merged() -> None:
    """Monday 20:00-08:00 and Tuesday 06:00-10:00 overlap: 14 h, counted once."""
    cal = BusinessCalendar("UTC", {"mon": ["20:00-08:00"], "tue": ["06:00-10:00"]})
    mon = datetime(2025, 3, 3, tzinfo=UTC)
    assert (hours(14), [(mon + hours(20), mon + hours(34))]) == (
        cal.elapsed(mon, mon + hours(48)),
        cal.intervals(mon, mon + hours(48)),
    )


def test_override_wins_over_holiday() -> None:
    """An override on a holiday opens the date with the override's hours."""
    cal = BusinessCalendar(
        "UTC", OFFICE, holidays=[date(2025, 3, 3)], overrides={"2025-03-03": ["10:00-11:00"]}
    )
    mon = datetime(2025, 3, 3, tzinfo=UTC)
    assert hours(1) == cal.elapsed(mon, mon + hours(24))


def test_empty_override_closes_the_date() -> None:
    """``[]`` as an override closes a weekday."""
    cal = BusinessCalendar("UTC", OFFICE, overrides={date(2025, 3, 3): []})
    mon = datetime(2025, 3, 3, tzinfo=UTC)
    assert timedelta(0) == cal.elapsed(mon, mon + hours(24))


def test_overrides_only_calendar_is_bounded() -> None:
    """A calendar open only on an override date adds within it and refuses beyond it."""
    cal = BusinessCalendar("UTC", overrides={date(2025, 3, 3): ["09:00-10:00"]})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert datetime(2025, 3, 3, 9, 30, tzinfo=UTC) == cal.add(start, timedelta(minutes=30))
    with pytest.raises(CalendarError, match="not enough business time after"):
        cal.add(start, hours(2))


CHRISTMAS_EVE_ONLY = {date(2025, 12, 24): ["09:00-13:00"]}


def test_overrides_only_calendar_finds_opening_from_years_before() -> None:
    """next_open from more than a block before the only override finds that override."""
    cal = BusinessCalendar("UTC", {}, overrides=CHRISTMAS_EVE_ONLY)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    assert datetime(2025, 12, 24, 9, tzinfo=UTC) == cal.next_open(start)


def test_overrides_only_calendar_adds_from_years_before() -> None:
    """add from more than a block before the only override counts inside that override."""
    cal = BusinessCalendar("UTC", {}, overrides=CHRISTMAS_EVE_ONLY)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    assert datetime(2025, 12, 24, 10, tzinfo=UTC) == cal.add(start, hours(1))


def test_overrides_only_calendar_counts_back_from_years_after() -> None:
    """A negative add from years after the only override counts back inside that override."""
    cal = BusinessCalendar("UTC", {}, overrides=CHRISTMAS_EVE_ONLY)
    start = datetime(2030, 6, 1, tzinfo=UTC)
    assert datetime(2025, 12, 24, 12, tzinfo=UTC) == cal.add(start, hours(-1))


def test_overrides_only_calendar_refuses_counting_back_past_the_first() -> None:
    """Counting back past the first override is refused, naming the direction."""
    cal = BusinessCalendar("UTC", {}, overrides=CHRISTMAS_EVE_ONLY)
    with pytest.raises(CalendarError, match="not enough business time before"):
        cal.add(datetime(2030, 6, 1, tzinfo=UTC), hours(-5))


def test_holidays_package_object_fills_years_lazily() -> None:
    """A ``holidays`` object created without years still closes its holidays."""
    holidays = pytest.importorskip("holidays")
    cal = BusinessCalendar("America/New_York", OFFICE, holidays=holidays.US())
    july_4 = ny(2031, 7, 4)  # a Friday
    assert timedelta(0) == cal.elapsed(july_4, july_4 + hours(24))


def test_dict_round_trip() -> None:
    """from_dict(to_dict()) gives an equal calendar and the documented shape."""
    data = {
        "tz": "Europe/Berlin",
        "weekly": {"mon": ["09:00-17:00"], "sat": ["22:00-06:00"]},
        "holidays": ["2025-12-25"],
        "overrides": {"2025-12-24": ["09:00-13:00"]},
    }
    cal = BusinessCalendar.from_dict(data)
    assert (data, cal) == (cal.to_dict(), BusinessCalendar.from_dict(cal.to_dict()))


def test_dict_without_tz_is_utc() -> None:
    """``tz`` is optional in the dict form and defaults to UTC."""
    assert "UTC" == BusinessCalendar.from_dict({"weekly": {"mon": ["09:00-17:00"]}}).tz.key


@pytest.mark.parametrize("tz", ["", None])
def test_dict_with_empty_tz_is_refused(tz: str | None) -> None:
    """An explicit empty or null ``tz`` is refused like in the constructor, not read as UTC."""
    with pytest.raises(CalendarError, match="zone"):
        BusinessCalendar.from_dict({"tz": tz, "weekly": {"mon": ["09:00-17:00"]}})


# --------------------------------------------------------------------------- DST worked examples


def test_dst_spring_forward_inside_interval_is_shorter() -> None:
    """New York 2025-03-09: 00:00-06:00 contains the skipped hour, so it lasts 5 h."""
    cal = BusinessCalendar("America/New_York", {"sun": ["00:00-06:00"]})
    assert hours(5) == cal.elapsed(ny(2025, 3, 8), ny(2025, 3, 10))


def test_dst_fall_back_inside_interval_is_longer() -> None:
    """New York 2025-11-02: 00:00-06:00 contains the repeated hour, so it lasts 7 h."""
    cal = BusinessCalendar("America/New_York", {"sun": ["00:00-06:00"]})
    assert hours(7) == cal.elapsed(ny(2025, 11, 1), ny(2025, 11, 3))


def test_dst_day_outside_interval_is_unchanged() -> None:
    """A 09:00-17:00 day on a DST Sunday is still 8 real hours."""
    cal = BusinessCalendar("America/New_York", {"sun": ["09:00-17:00"]})
    assert hours(8) == cal.elapsed(ny(2025, 3, 8), ny(2025, 3, 10))


def test_dst_boundary_in_gap_moves_forward() -> None:
    """02:30 does not exist on 2025-03-09: the interval 02:30-05:00 starts at 03:30 EDT."""
    cal = BusinessCalendar("America/New_York", {"sun": ["02:30-05:00"]})
    assert ny(2025, 3, 9, 3, 30) == cal.next_open(ny(2025, 3, 9))


def test_dst_interval_empty_after_resolution() -> None:
    """02:30-03:00 on 2025-03-09 resolves to 03:30-03:00 EDT, which is empty."""
    cal = BusinessCalendar("America/New_York", {"sun": ["02:30-03:00"], "mon": ["09:00-10:00"]})
    assert ny(2025, 3, 10, 9) == cal.next_open(ny(2025, 3, 9))


def test_dst_boundary_in_overlap_is_first_occurrence() -> None:
    """01:00-01:30 on 2025-11-02 is the first (EDT) half hour only."""
    cal = BusinessCalendar("America/New_York", {"sun": ["01:00-01:30"]})
    first = datetime(2025, 11, 2, 5, tzinfo=UTC)  # 01:00 EDT
    # Datetimes in a repeated hour never compare equal across zones (PEP 495): compare in UTC.
    actual = [
        (s.astimezone(UTC), e.astimezone(UTC))
        for s, e in cal.intervals(ny(2025, 11, 1), ny(2025, 11, 3))
    ]
    assert [(first, first + timedelta(minutes=30))] == actual


def test_skipped_local_date_has_no_intervals() -> None:
    """Pacific/Apia skipped 2011-12-30: a daily 09:00-17:00 gives 16 h over the 29th-31st."""
    apia = ZoneInfo("Pacific/Apia")
    cal = BusinessCalendar(
        apia, {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    a, b = datetime(2011, 12, 29, tzinfo=apia), datetime(2012, 1, 1, tzinfo=apia)
    assert hours(16) == cal.elapsed(a, b)


def test_skipped_local_date_does_not_shift_to_the_next_day() -> None:
    """Friday 2011-12-30 never happened in Apia: its hours do not reappear on Saturday."""
    apia = ZoneInfo("Pacific/Apia")
    cal = BusinessCalendar(apia, {"fri": ["09:00-17:00"]})
    a, b = datetime(2011, 12, 29, tzinfo=apia), datetime(2012, 1, 1, tzinfo=apia)
    assert timedelta(0) == cal.elapsed(a, b)


def test_lord_howe_half_hour_shift() -> None:
    """Australia/Lord_Howe moves clocks by 30 min: 00:00-06:00 on 2025-10-05 lasts 5.5 h."""
    lh = ZoneInfo("Australia/Lord_Howe")
    cal = BusinessCalendar(lh, {"sun": ["00:00-06:00"]})
    a = datetime(2025, 10, 4, tzinfo=lh)
    assert hours(5.5) == cal.elapsed(a, a + hours(72))


def test_same_instant_in_other_zone_same_result(office: BusinessCalendar) -> None:
    """The zone of the input does not matter, only the instant."""
    t = ny(2025, 3, 7, 15, 20)
    kolkata = t.astimezone(ZoneInfo("Asia/Kolkata"))
    assert office.add(t, hours(3)) == office.add(kolkata, hours(3))


# --------------------------------------------------------------------------- errors


def test_naive_datetime_is_refused(office: BusinessCalendar) -> None:
    """A naive datetime raises CalendarError, never read as UTC."""
    with pytest.raises(CalendarError, match="naive datetime"):
        office.add(datetime(2025, 3, 3, 9), hours(1))


def test_calendar_error_is_value_error(office: BusinessCalendar) -> None:
    """CalendarError is also a ValueError."""
    with pytest.raises(ValueError, match="naive"):
        office.elapsed(datetime(2025, 3, 3, 9), ny(2025, 3, 3, 10))


def test_duration_must_be_timedelta(office: BusinessCalendar) -> None:
    """An int duration is refused with a hint."""
    with pytest.raises(CalendarError, match="timedelta"):
        office.add(ny(2025, 3, 3, 9), 3600)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["9-5", "09:00", "09:60-10:00", "25:00-26:00", "09:00-24:30", ""])
def test_malformed_interval_is_refused(text: str) -> None:
    """A malformed interval names itself and the expected form."""
    with pytest.raises(CalendarError, match=r"HH:MM|impossible time"):
        BusinessCalendar("UTC", {"mon": [text]})


def test_non_ascii_digits_in_interval_are_refused() -> None:
    """Only ASCII digits make an interval: Arabic-Indic ones are refused as malformed."""
    with pytest.raises(CalendarError, match="HH:MM"):
        BusinessCalendar("UTC", {"mon": ["\u0660\u0669:\u0660\u0660-\u0661\u0667:\u0660\u0660"]})


def test_overlapping_intervals_are_refused() -> None:
    """Two intervals of one day may not overlap."""
    with pytest.raises(CalendarError, match="overlap"):
        BusinessCalendar("UTC", {"mon": ["09:00-12:00", "11:00-13:00"]})


def test_overnight_overlap_on_one_day_is_refused() -> None:
    """A full day and an overnight shift of the same day overlap."""
    with pytest.raises(CalendarError, match="overlap"):
        BusinessCalendar("UTC", {"mon": ["00:00-00:00", "22:00-06:00"]})


def test_unknown_weekday_is_refused() -> None:
    """Weekday keys are mon..sun."""
    with pytest.raises(CalendarError, match="unknown weekday key 'monday'"):
        BusinessCalendar("UTC", {"monday": ["09:00-17:00"]})


def test_unknown_zone_is_refused() -> None:
    """An unknown IANA zone raises CalendarError, not ZoneInfoNotFoundError."""
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        BusinessCalendar("Mars/Olympus", OFFICE)


def test_schedule_without_open_time_is_refused() -> None:
    """No weekly hours and no opening override: rejected at construction."""
    with pytest.raises(CalendarError, match="no open time"):
        BusinessCalendar("UTC", {"mon": []}, overrides={date(2025, 1, 1): []})


def test_unknown_dict_key_is_refused() -> None:
    """A misspelt key in the dict form is named."""
    with pytest.raises(CalendarError, match="holiday"):
        BusinessCalendar.from_dict({"weekly": OFFICE, "holiday": []})


def test_bad_holiday_is_refused() -> None:
    """A holiday that is not a date names itself."""
    with pytest.raises(CalendarError, match="not an ISO date"):
        BusinessCalendar("UTC", OFFICE, holidays=["Christmas"])


def test_weekday_given_twice_is_refused() -> None:
    """``mon`` and ``Mon`` name the same day: refused rather than one silently dropped."""
    with pytest.raises(CalendarError, match="given twice"):
        BusinessCalendar("UTC", {"mon": ["09:00-12:00"], "Mon": ["13:00-17:00"]})


@pytest.mark.parametrize("method", ["add_many", "elapsed_many"])
def test_batch_api_without_numpy_names_the_extra(
    office: BusinessCalendar, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without numpy the batch methods raise ConfigurationError naming supportkit[numpy]."""
    monkeypatch.setitem(sys.modules, "numpy", None)  # makes `import numpy` fail
    with pytest.raises(ConfigurationError, match=re.escape("supportkit[numpy]")):
        getattr(office, method)([0], [3600])


def test_tz_is_a_read_only_zoneinfo() -> None:
    """``tz`` is the calendar's ZoneInfo and cannot be swapped under its caches."""
    cal = BusinessCalendar("Europe/Berlin", OFFICE)
    assert ZoneInfo("Europe/Berlin") == cal.tz
    with pytest.raises(AttributeError):
        cal.tz = ZoneInfo("UTC")  # type: ignore[misc]


def test_next_close_of_always_is_an_error() -> None:
    """The 24x7 calendar never closes: next_close says so instead of searching forever."""
    with pytest.raises(CalendarError, match="does not close within four years"):
        BusinessCalendar.always().next_close(datetime(2025, 1, 1, tzinfo=UTC))


def test_next_close_across_an_internal_block_boundary() -> None:
    """A closing years away (after a long opening) is found across the internal 52-week blocks."""
    cal = BusinessCalendar(
        "UTC",
        {day: ["00:00-00:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        holidays=[date(2027, 6, 1)],
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert datetime(2027, 6, 1, tzinfo=UTC) == cal.next_close(start)


def test_no_zone_changes_its_offset_twice_within_48_hours() -> None:
    """The calendar reads a local date's offset once when its two midnights agree (see
    ``BusinessCalendar._shift``); that is exact only if no zone changes its UTC offset
    twice within 48 hours. Checked against the zone data in use, through the pure-Python
    ``zoneinfo`` loader's transition list (explicit transitions; later years follow a POSIX
    rule whose changes are months apart)."""
    from itertools import pairwise
    from zoneinfo import _zoneinfo, available_timezones

    if not hasattr(_zoneinfo.ZoneInfo, "_trans_utc") and not hasattr(
        _zoneinfo.ZoneInfo.no_cache("UTC"), "_trans_utc"
    ):  # pragma: no cover - a Python whose pure-Python loader changed shape
        pytest.skip("zoneinfo's pure-Python loader has no _trans_utc here")
    close = []
    for key in sorted(available_timezones()):
        zone = _zoneinfo.ZoneInfo.no_cache(key)
        times, infos = zone._trans_utc, zone._ttinfos
        offsets = [zone._tti_before.utcoff, *(info.utcoff for info in infos)]
        changes = [t for i, t in enumerate(times) if offsets[i] != offsets[i + 1]]
        close += [(key, a) for a, b in pairwise(changes) if b - a < 2 * 86400]
    assert close == []
