"""``SupportDesk.plugin_state``: namespaced, durable plugin state, expiring on the desk clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import ConfigurationError, FrozenClock, InMemoryStore, SqliteStore, SupportDesk
from supportkit.typing import PluginState

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def test_state_survives_a_restart_on_sqlite(tmp_path: Path) -> None:
    """A value put by one desk is read by a new desk on the same SQLite file."""
    path = tmp_path / "desk.sqlite3"
    with SupportDesk(store=SqliteStore(path), clock=FrozenClock(T0)) as desk:
        state = desk.plugin_state("slack")
        state.put("T-1", {"channel": "C1", "ts": "1712.0042"})
    with SupportDesk(store=SqliteStore(path), clock=FrozenClock(T0)) as desk:
        again = desk.plugin_state("slack")
        assert (True, {"channel": "C1", "ts": "1712.0042"}, None) == (
            isinstance(again, PluginState),
            again.get("T-1"),
            desk.plugin_state("imap").get("T-1"),
        )


def test_expiry_follows_the_desk_clock() -> None:
    """A value expires when the desk's clock reaches expires_at; put_new then stores anew."""
    clock = FrozenClock(T0)
    state = SupportDesk(store=InMemoryStore(), clock=clock).plugin_state("http")
    first = state.put_new("sig-1", 1, expires_at=T0 + timedelta(minutes=5))
    replay = state.put_new("sig-1", 1, expires_at=T0 + timedelta(minutes=5))
    clock.advance(minutes=5)
    assert (True, False, None, True) == (
        first,
        replay,
        state.get("sig-1"),
        state.put_new("sig-1", 2),
    )
    state.delete("sig-1")
    assert None is state.get("sig-1")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.put("", 1), "key must be a non-empty string"),
        (lambda s: s.get(7), "key must be a non-empty string"),
        (lambda s: s.delete(None), "key must be a non-empty string"),
        (lambda s: s.put("k", {1: object()}), "JSON-compatible"),
        (lambda s: s.put("k", float("nan")), "JSON-compatible"),
        (lambda s: s.put_new("k", {1, 2}), "JSON-compatible"),
        (lambda s: s.put("k", 1, expires_at=datetime(2025, 3, 3)), "naive datetime"),
        (lambda s: s.put_new("k", 1, expires_at="tomorrow"), "must be an aware datetime"),
    ],
)
def test_bad_calls_are_refused_and_change_nothing(call: Any, match: str) -> None:
    """Bad keys, values and expiry instants raise ConfigurationError; nothing is stored."""
    state = SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0)).plugin_state("ns")
    state.put("k", "before")
    with pytest.raises(ConfigurationError, match=match):
        call(state)
    assert "before" == state.get("k")


@pytest.mark.parametrize("namespace", ["", None, 3])
def test_namespace_must_be_a_non_empty_string(namespace: Any) -> None:
    """plugin_state refuses a namespace that is not a non-empty string."""
    desk = SupportDesk(store=InMemoryStore())
    with pytest.raises(ConfigurationError, match="namespace must be a non-empty string"):
        desk.plugin_state(namespace)
