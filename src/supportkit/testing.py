"""Testing support that ships with supportkit, also loaded as a pytest plugin (``pytest11``).

Fixtures: ``frozen_clock`` (a :class:`~supportkit.FrozenClock` at 2025-03-03 09:00 UTC, a Monday).

SLA: :func:`ticket` (a fluent event-log builder: ``ticket().created(t0).reply(t1).pending(t1)``),
:func:`assert_sla` (compares an evaluation or a scenario with the expected one and shows a
readable diff) and :func:`load_scenario` (reads a scenario JSON file).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ._clock import FrozenClock
from ._sla._scenario import SlaScenario, load_scenario
from ._sla._testing import TicketLog, assert_sla, ticket

__all__ = [
    "FrozenClock",
    "SlaScenario",
    "TicketLog",
    "assert_sla",
    "frozen_clock",
    "load_scenario",
    "ticket",
]

#: Where ``frozen_clock`` starts: Monday 2025-03-03 09:00 UTC.
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A :class:`~supportkit.FrozenClock` standing at Monday 2025-03-03 09:00 UTC."""
    return FrozenClock(DEFAULT_START)
