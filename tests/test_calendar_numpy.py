"""The numpy batch API gives exactly the scalar answers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import BusinessCalendar, CalendarError

np = pytest.importorskip("numpy")

CAL = BusinessCalendar(
    "America/New_York",
    {
        "mon": ["09:00-17:00"],
        "tue": ["09:00-12:00", "13:00-17:00"],
        "wed": ["09:00-17:00"],
        "fri": ["22:00-06:00"],
        "sun": ["01:00-03:00"],
    },
    holidays=[date(2025, 12, 25), date(2026, 1, 1)],
    overrides={date(2025, 12, 24): ["09:00-13:00"]},
)
T0 = 1_735_700_000  # 2025-01-01, UTC
INSTANTS = st.lists(st.integers(T0 - 400 * 86400, T0 + 800 * 86400), min_size=1, max_size=40)
DURATIONS = st.integers(-900 * 3600, 900 * 3600)


@given(INSTANTS, st.data())
def test_add_many_equals_scalar(starts: list[int], data: st.DataObject) -> None:
    """add_many over int64 seconds equals add_seconds element by element."""
    durations = data.draw(st.lists(DURATIONS, min_size=len(starts), max_size=len(starts)))
    expected = [CAL.add_seconds(s, d) for s, d in zip(starts, durations, strict=True)]
    actual = CAL.add_many(np.array(starts, np.int64), np.array(durations, np.int64))
    assert expected == actual.tolist()


@given(INSTANTS, INSTANTS)
def test_elapsed_many_equals_scalar(a: list[int], b: list[int]) -> None:
    """elapsed_many equals elapsed_seconds element by element, signed."""
    n = min(len(a), len(b))
    expected = [CAL.elapsed_seconds(x, y) for x, y in zip(a[:n], b[:n], strict=True)]
    assert expected == CAL.elapsed_many(np.array(a[:n]), np.array(b[:n])).tolist()


def test_add_many_keeps_datetime64() -> None:
    """datetime64 starts (UTC) and timedelta64 durations give datetime64[s] results."""
    starts = np.array(["2025-03-03T14:00:00", "2025-03-07T21:30:00"], "datetime64[s]")
    durations = np.array([3600, 7200], "timedelta64[s]")
    expected = np.array(["2025-03-03T15:00:00", "2025-03-08T05:00:00"], "datetime64[s]")
    assert expected.tolist() == CAL.add_many(starts, durations).tolist()


def test_add_many_broadcasts_a_scalar_duration() -> None:
    """One duration applies to every start."""
    starts = np.array([T0, T0 + 86400, T0 + 5 * 86400])
    expected = [CAL.add_seconds(int(s), 3600) for s in starts]
    assert expected == CAL.add_many(starts, 3600).tolist()


def test_add_many_empty() -> None:
    """An empty batch gives an empty result."""
    assert [] == CAL.add_many(np.array([], np.int64), np.array([], np.int64)).tolist()


def test_add_many_refuses_floats() -> None:
    """Float instants are refused with the accepted kinds named."""
    with pytest.raises(CalendarError, match="int64 epoch seconds or datetime64"):
        CAL.add_many(np.array([1.5]), np.array([1]))


def test_add_many_shape_mismatch_names_the_shapes() -> None:
    """Starts and durations that do not broadcast give a CalendarError naming both shapes."""
    with pytest.raises(CalendarError, match=r"\(3,\).*\(2,\)"):
        CAL.add_many(np.array([T0, T0, T0]), np.array([60, 60]))


def test_elapsed_many_shape_mismatch_names_the_shapes() -> None:
    """Starts and ends that do not broadcast give a CalendarError naming both shapes."""
    with pytest.raises(CalendarError, match=r"\(2,\).*\(3,\)"):
        CAL.elapsed_many(np.array([T0, T0]), np.array([T0, T0, T0]))


EVE = 1_766_566_800  # 2025-12-24 09:00 UTC


def overrides_only() -> BusinessCalendar:
    """A fresh calendar (empty caches) open only on 2025-12-24 09:00-13:00 UTC."""
    return BusinessCalendar("UTC", {}, overrides={date(2025, 12, 24): ["09:00-13:00"]})


def test_add_many_on_overrides_only_calendar_reaches_forward_across_blocks() -> None:
    """add_many from years before the only override counts inside it."""
    before = 1_717_200_000  # 2024-06-01 UTC
    assert [EVE + 3600] == overrides_only().add_many(np.array([before]), 3600).tolist()


def test_add_many_on_overrides_only_calendar_reaches_back_across_blocks() -> None:
    """add_many with a negative duration from years after the only override counts inside it."""
    after = 1_906_502_400  # 2030-06-01 UTC
    assert [EVE + 3 * 3600] == overrides_only().add_many(np.array([after]), -3600).tolist()
