"""Golden cases transcribed from peers' test suites, checked under supportkit's conventions.

The cases live in ``tests/data/peer_cases/business_time_cases.json`` (a copy of the team's shared
file, so a fresh clone has it). Their schedules are naive (``tz`` null): we read them in UTC,
which has no DST, so wall-clock and real time agree. Where a peer's convention differs from ours
the test checks our documented answer:

* ``pandas_offset``: pandas reports a positive result that lands exactly on a period end as the
  next period start; we stay on the end (``expected_end_of_period_equivalent``).
* ``calendar_day`` holidays (businesstime) remove the whole local date; ours remove the intervals
  that start on it. The two agree for schedules without overnight intervals, which is every
  such case here (asserted below).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import BusinessCalendar

CASES_FILE = Path(__file__).parent / "data" / "peer_cases" / "business_time_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


def calendar_for(schedule: dict[str, Any]) -> BusinessCalendar:
    """Translate a case's schedule into a calendar in UTC."""
    weekly: dict[str, list[str]] = {}
    for rule in schedule["weekly"]:
        for day in rule["days"]:
            weekly.setdefault(day.lower(), []).append(f"{rule['start']}-{rule['end']}")
    return BusinessCalendar(
        tz=schedule["tz"] or "UTC", weekly=weekly, holidays=schedule["holidays"]
    )


def instant(text: str) -> datetime:
    """A case's naive wall-clock time, read in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_cases_file_is_complete() -> None:
    """The copy holds every case of the shared file (157 when it was copied), none skipped."""
    assert 157 == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c["op"] == "add"], ids=lambda c: c["id"])
def test_peer_add_case(case: dict[str, Any]) -> None:
    """``add`` gives the peer's answer, or its end-of-period equivalent under our convention."""
    cal = calendar_for(case["schedule"])
    expected = instant(case.get("expected_end_of_period_equivalent", case["expected"]))
    actual = cal.add(instant(case["start"]), timedelta(**case["duration"]))
    assert expected == actual


@pytest.mark.parametrize("case", [c for c in CASES if c["op"] == "elapsed"], ids=lambda c: c["id"])
def test_peer_elapsed_case(case: dict[str, Any]) -> None:
    """``elapsed`` gives the peer's signed business seconds."""
    schedule = case["schedule"]
    if schedule["holiday_semantics"] == "calendar_day":
        # Whole-date holidays equal ours only when no interval crosses midnight.
        assert all(rule["start"] < rule["end"] for rule in schedule["weekly"])
    cal = calendar_for(schedule)
    expected = timedelta(seconds=case["expected"]["seconds"])
    assert expected == cal.elapsed(instant(case["start"]), instant(case["end"]))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "expected_end_of_period_equivalent" in c],
    ids=lambda c: c["id"],
)
def test_pandas_next_period_start_is_the_same_business_position(case: dict[str, Any]) -> None:
    """Where pandas answers with the next period start, no business time lies between the two."""
    cal = calendar_for(case["schedule"])
    ours = instant(case["expected_end_of_period_equivalent"])
    pandas = instant(case["expected"])
    assert timedelta(0) == cal.elapsed(ours, pandas)
    assert ours < pandas
