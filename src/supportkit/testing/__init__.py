"""Testing support that ships with supportkit, also loaded as a pytest plugin (``pytest11``).

Fixtures: ``frozen_clock`` (a :class:`~supportkit.FrozenClock` at 2025-03-03 09:00 UTC, a Monday).

SLA: :func:`ticket` (a fluent event-log builder: ``ticket().created(t0).reply(t1).pending(t1)``),
:func:`assert_sla` (compares an evaluation or a scenario with the expected one and shows a
readable diff) and :func:`load_scenario` (reads a scenario JSON file).

Plugins: :class:`FakeChannel`, :class:`FakeCrm` and :class:`RecordingNotifier` (each registers
itself when given to a host as a plugin), :func:`registered_plugin` (a context manager) and the
fixtures ``plugin_host`` (a fresh host without entry points) and ``register_plugin`` (registers
plugins for one test and always unregisters them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from supportkit._clock import FrozenClock
from supportkit._fakes import FakeChannel, FakeCrm, RecordingNotifier, registered_plugin
from supportkit._plugins import PluginHost
from supportkit._sla._scenario import SlaScenario, load_scenario
from supportkit._sla._testing import TicketLog, assert_sla, ticket

__all__ = [
    "FakeChannel",
    "FakeCrm",
    "FrozenClock",
    "RecordingNotifier",
    "SlaScenario",
    "TicketLog",
    "assert_sla",
    "frozen_clock",
    "load_scenario",
    "plugin_host",
    "register_plugin",
    "registered_plugin",
    "ticket",
]

#: Where ``frozen_clock`` starts: Monday 2025-03-03 09:00 UTC.
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A :class:`~supportkit.FrozenClock` standing at Monday 2025-03-03 09:00 UTC."""
    return FrozenClock(DEFAULT_START)


@pytest.fixture
def plugin_host() -> PluginHost:
    """A fresh plugin host with the built-ins and no installed (entry-point) plugins."""
    return PluginHost(load_entrypoints=False)


@pytest.fixture
def register_plugin() -> Iterator[Callable[..., str]]:
    """``register_plugin(host, plugin, name=None)``: register for this test only (*host* is
    a plugin host or a desk, as for :func:`registered_plugin`).

    Returns the plugin's name; every plugin registered this way is unregistered when the test
    ends, pass or fail.
    """
    with ExitStack() as stack:

        def register(host: object, plugin: object, *, name: str | None = None) -> str:
            return stack.enter_context(registered_plugin(host, plugin, name=name))

        yield register
