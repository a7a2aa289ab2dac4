"""The in-memory event store: versions, optimistic concurrency, atomic batches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportkit import ConcurrencyError, InMemoryStore, StoreError, TicketEvent
from supportkit.typing import EventStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def ev(ticket: str, kind: str = "created") -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0)


def test_is_an_event_store() -> None:
    """InMemoryStore satisfies the EventStore protocol."""
    assert isinstance(InMemoryStore(), EventStore)


def test_append_and_read_with_versions() -> None:
    """Versions count events; reads return them in log order, optionally after a version."""
    store = InMemoryStore()
    first, second = ev("T-1"), ev("T-1", "message")
    assert 1 == store.append("T-1", [first], expected_version=0)
    assert 2 == store.append("T-1", [second], expected_version=1)
    assert [first, second] == store.read("T-1")
    assert [second] == store.read("T-1", after=1)
    assert (2, 0) == (store.version("T-1"), store.version("nope"))
    assert [first, second] == list(store.read_all())
    assert ["T-1"] == store.ticket_ids()


def test_stale_version_fails_and_changes_nothing() -> None:
    """A stale append raises ConcurrencyError naming both versions; nothing is written."""
    store = InMemoryStore()
    store.append("T-1", [ev("T-1")], expected_version=0)
    with pytest.raises(ConcurrencyError) as info:
        store.append("T-1", [ev("T-1", "message")], expected_version=0)
    assert (0, 1) == (info.value.expected, info.value.actual)
    assert 1 == store.version("T-1")


def test_batch_of_another_ticket_is_refused_whole() -> None:
    """A batch holding an event of another ticket is refused and nothing is appended."""
    store = InMemoryStore()
    with pytest.raises(StoreError, match="belongs to ticket T-2"):
        store.append("T-1", [ev("T-1"), ev("T-2")], expected_version=0)
    assert 0 == store.version("T-1")


@pytest.mark.parametrize("version", ["1", -1, 1.0, True, None])
def test_expected_version_must_be_a_whole_number(version: object) -> None:
    """A non-integer or negative expected_version is a StoreError, not a misleading conflict."""
    store = InMemoryStore()
    with pytest.raises(StoreError, match="whole number >= 0"):
        store.append("T-1", [ev("T-1")], expected_version=version)  # type: ignore[arg-type]
    assert 0 == store.version("T-1")
