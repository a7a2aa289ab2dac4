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


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.plugin_state("ns").put("k", "a\ud800"), "surrogate"),
        (lambda d: d.plugin_state("ns").put("k", {"ok": ["\udfff"]}), "surrogate"),
        (lambda d: d.plugin_state("ns").put_new("k\ud800", 1), "key .*surrogate"),
        (lambda d: d.plugin_state("ns\ud800").put("k", 1), "namespace .*surrogate"),
        (lambda d: d.plugin_state("ns").get("k\ud800"), "key .*surrogate"),
        (lambda d: d.plugin_state("ns").put("k", {1: "a"}), "the key 1: keys must be strings"),
        (lambda d: d.plugin_state("ns").put("k", [{"a": {None: 1}}]), "keys must be strings"),
    ],
    ids=["value", "nested", "key", "namespace", "get", "int-key", "nested-key"],
)
def test_what_a_store_cannot_keep_as_given_is_refused_by_every_store(
    call: Any, match: str, store: str, tmp_path: Path
) -> None:
    """A lone surrogate in a namespace, key or value is a ConfigurationError on every store
    (SqliteStore raised UnicodeEncodeError, the in-memory store kept it), and so is a
    non-string key in a value (both stores turned ``1`` into ``"1"``); nothing is stored."""
    chosen = InMemoryStore() if store == "memory" else SqliteStore(tmp_path / "s.db")
    desk = SupportDesk(store=chosen, clock=FrozenClock(T0))
    desk.plugin_state("ns").put("k", "before")
    with pytest.raises(ConfigurationError, match=match):
        call(desk)
    assert "before" == desk.plugin_state("ns").get("k")
    desk.close()


def test_a_key_holding_a_nul_that_sqlite_kept_still_reads_and_deletes(tmp_path: Path) -> None:
    """Before NUL was refused, SQLite kept such keys: a new put is refused, but the entry
    already there reads back and can be deleted (get and delete refused it too)."""
    path = tmp_path / "desk.sqlite3"
    with SupportDesk(store=SqliteStore(path), clock=FrozenClock(T0)) as desk:
        desk.store.state_put("imap", "a\x00b", {"uid": 7}, expires_at=None, now=0)
        state = desk.plugin_state("imap")
        assert {"uid": 7} == state.get("a\x00b")
        with pytest.raises(ConfigurationError, match="NUL"):
            state.put("a\x00b", {"uid": 8})
        state.delete("a\x00b")
        assert state.get("a\x00b") is None
