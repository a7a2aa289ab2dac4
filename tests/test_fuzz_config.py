"""Fuzz the configuration entry points (``DeskConfig.load``, ``SupportDesk.from_config``) and
the JSON Lines import: only a ``SupportkitError`` escapes, and a refused import changes nothing.

Add an entry point by adding a :class:`fuzzkit.Target` to ``TARGETS`` (see tests/fuzzkit.py).
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import Target, junk, raw_dicts, run, text
from supportkit import DeskConfig, FrozenClock, InboundMessage, SqliteStore, SupportDesk
from supportkit._transfer import export_lines, import_lines

_NAMES = st.sampled_from(["default", "standard", "L1", "ana", "tier1", "x", ""])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10),
    st.floats(),
    _NAMES,
    st.sampled_from(["09:00-17:00", "UTC", "Europe/Berlin", "memory", "2026-01-01", "DE", "all"]),
    text(),
)
_KEYS = st.sampled_from(
    [
        "name", "id", "tz", "weekly", "mon", "holidays", "country", "subdivision", "overrides",
        "targets", "urgent", "normal", "first_reply", "hours", "minutes", "business", "version",
        "conditions", "tier", "weight", "sla_policy", "watchlist", "groups", "skills",
        "capacity", "shift", "strategy", "relax", "after", "lower_by", "levels", "triggers",
        "on", "to", "kind", "count", "tiers", "metric", "target", "enabled", "enable", "block",
    ]
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=10,
)
#: A document: plausible sections with plausible or junk values (the memory store, so the
#: desk-building target writes no files).
DOCUMENTS = st.builds(
    lambda doc: {**doc, "store": {"kind": "memory"}} if isinstance(doc, dict) else doc,
    raw_dicts(
        {
            "title": _VALUES,
            "desk": st.dictionaries(
                st.sampled_from(["max_attempts", "backoff", "lease", "cache_size"]), _VALUES
            ),
            "calendars": st.dictionaries(_NAMES, _VALUES, max_size=2),
            "policies": st.lists(_VALUES, max_size=2),
            "tiers": st.lists(_VALUES, max_size=2),
            "groups": st.lists(_VALUES, max_size=2),
            "agents": st.lists(_VALUES, max_size=2),
            "router": _VALUES,
            "escalation": _VALUES,
            "goals": st.lists(_VALUES, max_size=2),
            "retention": _VALUES,
            "plugins": st.dictionaries(st.sampled_from(["enable", "block", "x"]), _VALUES),
        }
    ),
)

_STREAMS = st.sampled_from(["event", "message", "alert", "due", "outbox", "meta", "x"])
LINES = st.lists(
    st.one_of(
        text(max_size=20),
        st.builds(
            json.dumps, st.dictionaries(st.sampled_from(["stream", "key", "value"]), _VALUES)
        ),
        st.builds(
            lambda stream, rest: json.dumps({"stream": stream, **rest}),
            _STREAMS,
            st.dictionaries(
                st.sampled_from(
                    ["key", "value", "ticket_id", "due_at", "channel", "message_id", "version"]
                ),
                st.one_of(_VALUES, junk().filter(lambda v: _jsonable(v))),
            ),
        ),
    ),
    max_size=4,
)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _from_config(document: Any) -> None:
    SupportDesk.from_config(document).close()


class _Import:
    """Imports into one SQLite file per fuzz run; its export is the state a refusal must keep."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.store = SqliteStore(Path(self.tmp.name) / "fuzz.sqlite3")
        self.store.set_meta("kept", {"a": 1})

    def call(self, lines: list[str]) -> None:
        import_lines(self.store, lines, "fuzz")

    def state(self, _lines: object) -> object:
        return list(export_lines(self.store))


_IMPORT = _Import()


class _Erase:
    """erase_customer on a SQLite desk with one ticket; refusals must leave the file as it was."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.store = SqliteStore(Path(self.tmp.name) / "erase.sqlite3")
        self.desk = SupportDesk(store=self.store, plugins=None, clock=FrozenClock(_AT))
        self.desk.ingest(InboundMessage("m-1", "email", "ann@example.com", _AT, body="hello"))

    def call(self, customer: Any) -> None:
        self.desk.erase_customer(customer)

    def state(self, _customer: object) -> object:
        return list(export_lines(self.store))


_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_ERASE = _Erase()


class _Apply:
    """from_config(apply=True, note=...) over a SQLite desk with one open ticket, each call
    with another policy version; a refusal must leave the versions and the ticket as they were."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.db = Path(self.tmp.name) / "apply.sqlite3"
        self.round = 0
        with SupportDesk.from_config(self.document(), clock=FrozenClock(_AT)) as desk:
            desk.ingest(InboundMessage("m-1", "email", "ann@example.com", _AT, body="hi"))

    def document(self) -> dict[str, Any]:
        self.round += 1
        target = {"first_reply": {"minutes": 60 + self.round, "business": False}}
        return {
            "store": {"path": str(self.db)},
            "policies": [{"name": "p", "version": self.round, "targets": {"normal": target}}],
        }

    def call(self, note: Any) -> None:
        SupportDesk.from_config(
            self.document(), apply=True, note=note, clock=FrozenClock(_AT)
        ).close()

    def state(self, _note: object) -> object:
        with SqliteStore(self.db) as store:
            return list(export_lines(store, now=0))


_APPLY = _Apply()

TARGETS: dict[str, Target] = {
    "DeskConfig.load": Target(DOCUMENTS, DeskConfig.load, examples=200),
    "SupportDesk.from_config": Target(DOCUMENTS, _from_config, examples=150),
    "SupportDesk.erase_customer": Target(
        st.one_of(st.sampled_from(["ann@example.com", "nobody"]), junk()),
        _ERASE.call,
        state=_ERASE.state,
        examples=100,
    ),
    "SupportDesk.from_config(apply=True, note=...)": Target(
        st.one_of(text(), junk()), _APPLY.call, state=_APPLY.state, examples=20
    ),
    "supportkit import (import_lines)": Target(
        LINES, _IMPORT.call, state=_IMPORT.state, examples=300
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with anything raises nothing or a SupportkitError."""
    run(name, TARGETS[name])
