"""Testing support that ships with supportkit, also loaded as a pytest plugin (``pytest11``).

Fixtures: ``frozen_clock`` (a :class:`~supportkit.FrozenClock` at 2025-03-03 09:00 UTC, a Monday).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ._clock import FrozenClock

__all__ = ["FrozenClock", "frozen_clock"]

#: Where ``frozen_clock`` starts: Monday 2025-03-03 09:00 UTC.
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A :class:`~supportkit.FrozenClock` standing at Monday 2025-03-03 09:00 UTC."""
    return FrozenClock(DEFAULT_START)
