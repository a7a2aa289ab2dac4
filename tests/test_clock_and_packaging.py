"""Clocks, the time edge helpers and packaging metadata."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from importlib.metadata import version

import pytest
from hypothesis import given
from hypothesis import strategies as st

import supportkit
from supportkit import Clock, ConfigurationError, FrozenClock, SystemClock
from supportkit._time import parse_instant, to_epoch


def test_version_comes_from_metadata() -> None:
    """``supportkit.__version__`` is the installed distribution's version."""
    assert version("supportkit") == supportkit.__version__


def test_unknown_attribute_is_an_attribute_error() -> None:
    """The module ``__getattr__`` only answers ``__version__``."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = supportkit.nope  # type: ignore[attr-defined]


def test_frozen_clock_moves_only_when_told() -> None:
    """FrozenClock stands still, can be set and advanced by a timedelta or keywords."""
    clock = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    assert datetime(2025, 3, 3, 9, tzinfo=UTC) == clock.now() == clock.now()
    clock.advance(timedelta(hours=1)).advance(minutes=30)
    assert datetime(2025, 3, 3, 10, 30, tzinfo=UTC) == clock.now()
    clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    assert datetime(2024, 1, 1, tzinfo=UTC) == clock.now()


def test_frozen_clock_refuses_naive() -> None:
    """A naive instant is refused with a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="naive"):
        FrozenClock(datetime(2025, 3, 3, 9))


def test_clocks_satisfy_the_protocol() -> None:
    """Both clocks are Clocks; the system clock answers in aware UTC."""
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FrozenClock(datetime.now(UTC)), Clock)
    assert timedelta(0) == SystemClock().now().utcoffset()


def test_to_epoch_and_parse_instant() -> None:
    """ISO instants with offsets parse; epoch seconds ignore the zone they were given in."""
    assert 1740992400 == to_epoch(parse_instant("2025-03-03T10:00:00+01:00"))
    assert 1740992400 == to_epoch(parse_instant("2025-03-03T09:00:00Z"))
    with pytest.raises(supportkit.SupportkitError, match="no UTC offset"):
        parse_instant("2025-03-03T09:00:00")


@given(st.datetimes(timezones=st.just(UTC)), st.integers(-14 * 60, 14 * 60))
def test_to_epoch_is_the_floored_timestamp_in_every_zone(at: datetime, minutes: int) -> None:
    """A UTC instant (the common case, read without asking for its offset) and the same
    instant in another fixed-offset zone both give the floor of its POSIX timestamp."""
    zone = timezone(timedelta(minutes=minutes))
    expected = math.floor((at - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1))
    assert expected == to_epoch(at)
    try:
        elsewhere = at.astimezone(zone)
    except OverflowError:  # past year 9999 or before year 1 in that zone
        return
    assert expected == to_epoch(elsewhere)


def test_bad_advance_is_a_configuration_error() -> None:
    """advance() with a bad keyword value is a ConfigurationError; the clock stays put."""
    clock = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    with pytest.raises(ConfigurationError, match="timedelta"):
        clock.advance(hours="x")  # type: ignore[arg-type]
    assert datetime(2025, 3, 3, 9, tzinfo=UTC) == clock.now()
