"""Testing support that ships with supportkit; its fixtures are a pytest plugin (``pytest11``).

This module imports without pytest: the builders, fakes and assertions work under any test
runner. The fixtures live in the pytest plugin (loaded by pytest through the ``pytest11`` entry
point) and are re-exported here lazily, so importing one of them imports pytest.

Fixtures: ``frozen_clock`` (a :class:`~supportkit.FrozenClock` at 2025-03-03 09:00 UTC, a Monday).

SLA: :func:`ticket` (a fluent event-log builder: ``ticket().created(t0).reply(t1).pending(t1)``),
:func:`assert_sla` (compares an evaluation or a scenario with the expected one and shows a
readable diff) and :func:`load_scenario` (reads a scenario JSON file).

Plugins: :class:`FakeChannel`, :class:`FakeCrm` and :class:`RecordingNotifier` (each registers
itself when given to a host as a plugin), :func:`registered_plugin` (a context manager) and the
fixtures ``plugin_host`` (a fresh host without entry points) and ``register_plugin`` (registers
plugins for one test and always unregisters them).

Knowledge base: :func:`evaluate_search` measures a search (``desk.search_articles``) on
labelled ``(question, article id)`` pairs: recall@k and MRR (:class:`SearchEvaluation`).

Docs: :func:`run_doc_examples` runs a Markdown page's ```` ```python title="..." ```` examples
(a plugin's docs tests), :func:`doc_examples` and :func:`doc_pages` find them.

Services: :func:`service_missing` skips a test whose service (a database, a mail server, a
browser) is absent, and fails it in CI.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from supportkit._clock import FrozenClock
from supportkit._docexamples import doc_examples, doc_pages, run_doc_examples
from supportkit._fakes import FakeChannel, FakeCrm, RecordingNotifier, registered_plugin
from supportkit._knowledge import SearchEvaluation, evaluate_search
from supportkit._sla._scenario import SlaScenario, load_scenario
from supportkit._sla._testing import TicketLog, assert_sla, ticket

if TYPE_CHECKING:  # at run time, __getattr__ imports them on first use
    from supportkit._pytest_plugin import frozen_clock, plugin_host, register_plugin

__all__ = [
    "FakeChannel",
    "FakeCrm",
    "FrozenClock",
    "RecordingNotifier",
    "SearchEvaluation",
    "SlaScenario",
    "TicketLog",
    "assert_sla",
    "doc_examples",
    "doc_pages",
    "evaluate_search",
    "frozen_clock",
    "load_scenario",
    "plugin_host",
    "register_plugin",
    "registered_plugin",
    "run_doc_examples",
    "service_missing",
    "ticket",
]

#: Where ``frozen_clock`` starts: Monday 2025-03-03 09:00 UTC.
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

_FIXTURES = frozenset({"frozen_clock", "plugin_host", "register_plugin"})


def service_missing(reason: str) -> NoReturn:
    """Skip the running test because a service it needs is absent; in CI, fail it instead.

    *reason* says what is missing and how to run the test (``"PostgreSQL is not running on
    127.0.0.1:5432: start it, or set SUPPORTKIT_POSTGRES_URL"``). When the environment variable
    ``CI`` is ``true`` (any case), a skipped service test would hide a broken CI setup, so the
    test fails with *reason*. Every test that needs a real service calls this when the service
    is absent. Needs pytest (imported when called).
    """
    import pytest  # only this helper needs the test runner

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"service missing in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(reason)


def __getattr__(name: str) -> Any:
    """The fixtures, imported from the pytest plugin on first use (that imports pytest)."""
    if name in _FIXTURES:
        from supportkit import _pytest_plugin  # keeps this module free of pytest

        return getattr(_pytest_plugin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
