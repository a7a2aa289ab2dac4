"""``SupportDesk.ingest_many``: one store transaction per batch, the rules of ``ingest`` per
message, per-message results, notices only once the batch is durable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import (
    Agent,
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    IngestResult,
    InMemoryStore,
    Router,
    SlaPolicy,
    SlaTarget,
    SqliteStore,
    StoreError,
    SupportDesk,
    hookimpl,
)
from supportkit._commit import Commit
from supportkit._plugins import PluginHost
from supportkit.typing import EventStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy("std", {"normal": {"first_reply": SlaTarget(600, False)}})


def message(n: int, ticket: str | None = None, **fields: Any) -> InboundMessage:
    return InboundMessage(
        f"m-{n}", "email", f"c-{n % 3}", T0 + timedelta(seconds=n), ticket_id=ticket, **fields
    )


def desk_on(store: EventStore, **options: Any) -> SupportDesk:
    options.setdefault("plugins", PluginHost(load_entrypoints=False))
    clock = FrozenClock(T0 + timedelta(hours=1))
    return SupportDesk(store=store, clock=clock, policies=[POLICY], **options)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Fresh stores of one kind (each SQLite one its own file)."""
    made: list[Any] = []

    def make() -> Any:
        store = (
            InMemoryStore()
            if request.param == "memory"
            else SqliteStore(tmp_path / f"s{len(made)}.db")
        )
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, SqliteStore):
            store.close()


def summary(result: IngestResult | Exception) -> tuple[Any, ...]:
    """What ingest did, without the random event ids."""
    if not isinstance(result, IngestResult):
        return (type(result).__name__,)
    kinds = tuple(event.kind for event in result.events)
    return (result.ticket_id, result.duplicate, result.created, kinds, result.version)


STREAMS = st.lists(
    st.tuples(st.integers(0, 12), st.sampled_from(["T-1", "T-2", "T-3"]), st.booleans()),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(stream=STREAMS, cut=st.integers(1, 8))
def test_ingest_many_does_what_ingest_does_message_by_message(
    tmp_path_factory: pytest.TempPathFactory,
    stream: list[tuple[int, str, bool]],
    cut: int,
) -> None:
    """Property: the same messages (threads, repeated ids inside and across batches) give the
    same results, the same stored logs, due index, outbox and snapshots through ingest_many,
    in batches of any size, as through ingest one by one, on SQLite."""
    messages = [message(n, ticket, public=public) for n, ticket, public in stream]
    folder = tmp_path_factory.mktemp("same")
    one = desk_on(SqliteStore(folder / "one.db"))
    many = desk_on(SqliteStore(folder / "many.db"))
    try:
        expected = [summary(one.ingest(m)) for m in messages]
        actual = [
            summary(result)
            for start in range(0, len(messages), cut)
            for result in many.ingest_many(messages[start : start + cut])
        ]
        assert expected == actual
        logs = [
            [
                [(e.kind, e.at, dict(e.data).get("message_id")) for e in desk.events(t)]
                for t in desk.store.ticket_ids()
            ]
            for desk in (one, many)
        ]
        assert logs[0] == logs[1]
        extras = [
            (
                desk.store.due(2**40),
                [(m.topic, m.ticket_id, m.status) for m in desk.store.outbox()],
                [getattr(desk.store.snapshot(t), "version", None) for t in desk.store.ticket_ids()],
            )
            for desk in (one, many)
        ]
        assert extras[0] == extras[1]
    finally:
        one.close()
        many.close()


def test_a_refused_message_is_reported_and_the_others_are_written(
    make_store: Callable[[], Any],
) -> None:
    """Something that is not a message and a message the router refuses (an unknown skill)
    get their errors in their places; the messages around them are ingested as usual."""
    router = Router([Agent("ann", skills={"billing": 1})], skills={"billing"})
    desk = desk_on(make_store(), router=router)
    batch: list[Any] = [
        message(1, "T-1"),
        "not a message",
        message(2, "T-2", tags=("skill:plumbing",)),
        message(3, "T-3"),
    ]
    results = desk.ingest_many(batch)
    assert [IngestResult, ConfigurationError, ConfigurationError, IngestResult] == [
        type(r) for r in results
    ]
    assert "plumbing" in str(results[2])
    assert (["T-1", "T-3"], None) == (
        desk.store.ticket_ids(),
        desk.store.message_ticket("email", "m-2"),
    )


def test_a_repeated_message_in_a_batch_is_a_duplicate_of_its_first_copy(
    make_store: Callable[[], Any],
) -> None:
    """The second copy of a message id in one batch writes nothing and names the ticket the
    first copy went into; a later batch with it again sees it too."""
    desk = desk_on(make_store())
    first, again = desk.ingest_many([message(1), message(2, "T-9"), message(1)])[::2]
    assert isinstance(first, IngestResult)
    assert isinstance(again, IngestResult)
    assert (False, True, first.ticket_id, ()) == (
        first.duplicate,
        again.duplicate,
        again.ticket_id,
        again.events,
    )
    (later,) = desk.ingest_many([message(1)])
    assert isinstance(later, IngestResult)
    assert (True, first.ticket_id) == (later.duplicate, later.ticket_id)


def test_an_empty_batch_and_a_bad_argument(make_store: Callable[[], Any]) -> None:
    """An empty batch writes nothing and returns []; a non-iterable argument is a
    ConfigurationError naming the method."""
    desk = desk_on(make_store())
    assert [] == desk.ingest_many([])
    with pytest.raises(ConfigurationError, match="ingest_many"):
        desk.ingest_many(42)  # type: ignore[arg-type]
    assert [] == desk.store.ticket_ids()


class Watcher:
    """Hookimpls that look at the database through a second connection while the desk works:
    during the batch (the CRM lookup of each new ticket) and after it (the created notice)."""

    def __init__(self, path: Path) -> None:
        self.other = SqliteStore(path)
        self.during: list[list[str]] = []
        self.after: list[list[str]] = []

    @hookimpl
    def supportkit_lookup_customer(self, message: InboundMessage) -> None:
        self.during.append(self.other.ticket_ids())

    @hookimpl
    def supportkit_ticket_created(self, notice: Any) -> None:
        self.after.append(self.other.ticket_ids())


def test_the_batch_is_invisible_until_durable_and_notices_come_after(tmp_path: Path) -> None:
    """Other connections see none of the batch while it runs; in-process receivers of its
    notices are called only after all of it is committed."""
    path = tmp_path / "desk.db"
    watcher = Watcher(path)
    desk = desk_on(SqliteStore(path), plugins=[watcher])
    try:
        desk.ingest_many([message(1, "T-1"), message(2, "T-2")])
    finally:
        desk.close()
        watcher.other.close()
    assert ([[], []], [["T-1", "T-2"]] * 2) == (watcher.during, watcher.after)


class FailingStore(SqliteStore):
    """A SQLite store whose third commit in a batch fails, once (a full disk, say)."""

    failures = 1

    def commit(self, commit: Commit) -> int:
        if self._depth and commit.ticket_id == "T-3" and self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        return super().commit(commit)


def test_a_store_failure_ends_the_batch_and_writes_none_of_it(tmp_path: Path) -> None:
    """A StoreError inside the batch is raised and none of the batch is written (the desk's
    cache forgets it too); the same batch again then goes in whole."""
    store = FailingStore(tmp_path / "desk.db")
    desk = desk_on(store)
    batch = [message(1, "T-1"), message(2, "T-2"), message(3, "T-3"), message(4, "T-1")]
    try:
        with pytest.raises(StoreError, match="disk full"):
            desk.ingest_many(batch)
        assert ([], None) == (store.ticket_ids(), store.message_ticket("email", "m-1"))
        results = desk.ingest_many(batch)
        assert [(False, True), (False, True), (False, True), (False, False)] == [
            (r.duplicate, r.created) for r in results if isinstance(r, IngestResult)
        ]
        assert (["T-1", "T-2", "T-3"], 4) == (store.ticket_ids(), store.version("T-1"))
    finally:
        desk.close()


class OldDeskStore(InMemoryStore):
    """A store written against an older DeskStore: it commits, but has no batch() (nor the
    rest of today's protocol)."""

    def commit(self, commit: Commit) -> int:
        return self.append(commit.ticket_id, commit.events, expected_version=0)


def test_a_store_with_part_of_the_desk_store_protocol_is_refused() -> None:
    """A store that commits but lacks part of DeskStore is a ConfigurationError naming what
    is missing, instead of being wrapped so that its extras silently live in memory."""
    with pytest.raises(ConfigurationError, match=r"missing: .*batch"):
        desk_on(OldDeskStore())
