"""supportkit.retry_after: the HTTP Retry-After header as an instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import retry_after

NOW = datetime(2025, 3, 3, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),  # RFC 9110 §10.2.3's delay-seconds example
        (" 0 ", NOW),
        ("Mon, 03 Mar 2025 09:05:00 GMT", NOW + timedelta(minutes=5)),
        ("Fri, 31 Dec 1999 23:59:59 GMT", NOW),  # RFC 9110's HTTP-date example: long past
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_golden_cases(value: str | None, expected: datetime | None) -> None:
    """Seconds and HTTP-dates give the instant (a past date: now); anything else None."""
    assert expected == retry_after(value, NOW)


@given(value=st.text(max_size=40))
def test_retry_after_never_raises_and_never_points_back(value: str) -> None:
    """Whatever a server sends, the answer is None or an aware instant not before now."""
    found = retry_after(value, NOW)
    assert found is None or (found.tzinfo is not None and found >= NOW)
