"""The pytest plugin of supportkit (the ``pytest11`` entry point): its fixtures.

This is the only module of the testing support that imports pytest; :mod:`supportkit.testing`
re-exports the fixtures lazily, so the builders and fakes import without a test runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from ._clock import FrozenClock
from ._fakes import registered_plugin
from ._plugins import PluginHost
from .testing import DEFAULT_START

__all__ = ["frozen_clock", "plugin_host", "register_plugin"]


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
    a plugin host or a desk, as for :func:`~supportkit.testing.registered_plugin`).

    Returns the plugin's name; every plugin registered this way is unregistered when the test
    ends, pass or fail.
    """
    with ExitStack() as stack:

        def register(host: object, plugin: object, *, name: str | None = None) -> str:
            return stack.enter_context(registered_plugin(host, plugin, name=name))

        yield register
