"""The SQLite store and the in-memory sidecar: log, idempotency, snapshots, due index, outbox.

Every test uses a real SQLite file in ``tmp_path``; the multi-process test runs real processes.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import ConcurrencyError, ConfigurationError, InMemoryStore, StoreError, TicketEvent
from supportkit._deskstore import (
    Commit,
    DeskStore,
    MemorySidecar,
    OutboxMessage,
    ticket_from_dict,
    ticket_to_dict,
)
from supportkit._sqlite import MIGRATIONS, SqliteStore
from supportkit._ticket import Ticket
from supportkit.typing import EventStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TS0 = int(T0.timestamp())


def ev(ticket: str, kind: str = "created", **data: object) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0, data=data)


def note(key: str, ticket: str = "T-1", at: int = TS0) -> OutboxMessage:
    return OutboxMessage(
        key=key, topic="notify", ticket_id=ticket, payload={"k": key}, created_at=at
    )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "desk.sqlite3") as store:
        yield store


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeskStore]:
    """Both DeskStore implementations, so every behaviour below holds for each."""
    if request.param == "memory":
        yield MemorySidecar(InMemoryStore())
        return
    with SqliteStore(tmp_path / "both.sqlite3") as sqlite:
        yield sqlite


def test_both_are_desk_and_event_stores(store: DeskStore) -> None:
    """SqliteStore and MemorySidecar satisfy both protocols."""
    assert (True, True) == (isinstance(store, DeskStore), isinstance(store, EventStore))


def test_events_survive_reopening(tmp_path: Path) -> None:
    """Appended events, versions and ticket order are read back after closing the file."""
    path = tmp_path / "log.sqlite3"
    events = [ev("T-2"), ev("T-1"), ev("T-2", "message", body="hi", public=False)]
    with SqliteStore(path) as store:
        store.append("T-2", [events[0]], expected_version=0)
        store.append("T-1", [events[1]], expected_version=0)
        store.append("T-2", [events[2]], expected_version=1)
    with SqliteStore(path) as store:
        assert [events[0], events[2]] == store.read("T-2")
        assert [events[2]] == store.read("T-2", after=1)
        assert (2, 1, 0) == (store.version("T-2"), store.version("T-1"), store.version("x"))
        assert ["T-2", "T-1"] == store.ticket_ids()
        assert events == list(store.read_all(batch=2))


def test_stale_append_fails_and_writes_nothing(store: DeskStore) -> None:
    """Appending at a stale version raises ConcurrencyError with both versions; nothing lands."""
    store.append("T-1", [ev("T-1")], expected_version=0)
    with pytest.raises(ConcurrencyError) as info:
        store.append("T-1", [ev("T-1", "message")], expected_version=0)
    assert (0, 1, 1) == (info.value.expected, info.value.actual, store.version("T-1"))


def test_foreign_event_in_batch_is_refused(sqlite_store: SqliteStore) -> None:
    """A batch with an event of another ticket is refused whole."""
    with pytest.raises(StoreError, match="belongs to ticket T-2"):
        sqlite_store.append("T-1", [ev("T-1"), ev("T-2")], expected_version=0)
    assert 0 == sqlite_store.version("T-1")


def test_empty_append_returns_current_version(sqlite_store: SqliteStore) -> None:
    """An empty batch changes nothing and returns the version."""
    sqlite_store.append("T-1", [ev("T-1")], expected_version=0)
    assert 1 == sqlite_store.append("T-1", [], expected_version=1)


def test_wal_mode_and_synchronous_follow_durability(tmp_path: Path) -> None:
    """The file is in WAL mode; synchronous is NORMAL (1) by default and FULL (2) when asked."""
    with (
        SqliteStore(tmp_path / "a.db") as normal,
        SqliteStore(tmp_path / "b.db", durability="full") as full,
    ):
        modes = [
            (s._query("t", "PRAGMA journal_mode")[0][0], s._query("t", "PRAGMA synchronous")[0][0])
            for s in (normal, full)
        ]
    assert [("wal", 1), ("wal", 2)] == modes


def test_unknown_durability_is_a_configuration_error(tmp_path: Path) -> None:
    """A misspelled durability names the two choices."""
    with pytest.raises(ConfigurationError, match=r"'normal'.*'full'"):
        SqliteStore(tmp_path / "x.db", durability="paranoid")


def test_sqlite_errors_are_wrapped(tmp_path: Path) -> None:
    """An unopenable path raises StoreError with the sqlite3 error as its cause."""
    with pytest.raises(StoreError, match="cannot open") as info:
        SqliteStore(tmp_path / "missing-dir" / "x.db")
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    """Opening some other file says so with a StoreError, not a raw sqlite3 error."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    with pytest.raises(StoreError, match="is it a supportkit database") as info:
        SqliteStore(path)
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_older_schema_is_migrated_and_keeps_its_events(tmp_path: Path) -> None:
    """A file at schema version 1 (log only) is upgraded on open; old events stay readable."""
    path = tmp_path / "old.sqlite3"
    old = ev("T-1")
    db = sqlite3.connect(path)
    MIGRATIONS[0](db)
    db.execute(
        "INSERT INTO events (ticket_id, version, event_id, body) VALUES (?, 1, ?, ?)",
        ("T-1", old.id, json.dumps(old.to_dict())),
    )
    db.execute("INSERT INTO streams VALUES ('T-1', 1)")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        assert (len(MIGRATIONS), [old]) == (store.schema_version, store.read("T-1"))
        version = store.commit(
            Commit("T-1", (ev("T-1", "message"),), 1, message=("email", "m-1"), due=TS0)
        )
        assert (2, "T-1", [("T-1", TS0)]) == (
            version,
            store.message_ticket("email", "m-1"),
            store.due(TS0),
        )


def test_meta_documents_round_trip(sqlite_store: SqliteStore) -> None:
    """set_meta stores a JSON document that meta reads back; unknown keys are None."""
    sqlite_store.set_meta("settings", {"policies": [1, 2]})
    sqlite_store.set_meta("settings", {"policies": [3]})
    assert ({"policies": [3]}, None) == (sqlite_store.meta("settings"), sqlite_store.meta("x"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer supportkit is refused with advice, not misread."""
    path = tmp_path / "new.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade supportkit"):
        SqliteStore(path)


def test_commit_writes_everything(store: DeskStore) -> None:
    """A commit records events, message id, snapshot, due instant, outbox and alert keys."""
    created = ev("T-1", customer="c-1")
    snapshot = Ticket.from_events([created])
    commit = Commit(
        "T-1",
        (created,),
        0,
        message=("email", "m-1"),
        snapshot=snapshot,
        due=TS0 + 60,
        outbox=(note("n-1"),),
        alerts=("first_reply:0:0.5",),
    )
    assert 1 == store.commit(commit)
    assert ([created], "T-1", snapshot) == (
        store.read("T-1"),
        store.message_ticket("email", "m-1"),
        store.snapshot("T-1"),
    )
    assert ([("T-1", TS0 + 60)], frozenset({"first_reply:0:0.5"})) == (
        store.due(TS0 + 60),
        store.alerts("T-1"),
    )
    assert ["n-1"] == [m.key for m in store.outbox("pending")]


def test_duplicate_message_commits_nothing(store: DeskStore) -> None:
    """A second commit consuming the same channel message id is refused whole."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, message=("chat", "m-1")))
    with pytest.raises(ConcurrencyError, match="already ingested into ticket T-1"):
        store.commit(Commit("T-2", (ev("T-2"),), 0, message=("chat", "m-1")))
    assert (0, "T-1") == (store.version("T-2"), store.message_ticket("chat", "m-1"))


def test_same_message_id_on_other_channel_is_new(store: DeskStore) -> None:
    """Idempotency is keyed by (channel, message id)."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, message=("chat", "m-1")))
    store.commit(Commit("T-2", (ev("T-2"),), 0, message=("email", "m-1")))
    assert ("T-1", "T-2") == (
        store.message_ticket("chat", "m-1"),
        store.message_ticket("email", "m-1"),
    )


def test_emitted_alert_key_is_refused_again(store: DeskStore) -> None:
    """Recording an alert key twice fails, so a warning or breach is emitted exactly once."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, alerts=("k",)))
    with pytest.raises(ConcurrencyError, match="already"):
        store.commit(Commit("T-1", (), 1, alerts=("k",), outbox=(note("n-2"),)))
    assert [] == store.outbox()


def test_due_index_is_ordered_bounded_and_cleared(store: DeskStore) -> None:
    """due() lists entries due by an instant, earliest first; a commit with due=None clears."""
    for n, due in enumerate([300, 100, 200]):
        store.commit(Commit(f"T-{n}", (ev(f"T-{n}"),), 0, due=TS0 + due))
    assert [("T-1", TS0 + 100), ("T-2", TS0 + 200)] == store.due(TS0 + 250)
    store.commit(Commit("T-1", (), 1, due=None))
    assert [("T-2", TS0 + 200)] == store.due(TS0 + 250, limit=1)


def test_keep_due_leaves_the_due_index_alone(store: DeskStore) -> None:
    """A commit with keep_due=True neither moves nor clears the ticket's due entry."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, due=TS0 + 100))
    store.commit(Commit("T-1", (ev("T-1", "tagged"),), 1, due=None, keep_due=True))
    assert [("T-1", TS0 + 100)] == store.due(TS0 + 100)


def test_outbox_claim_hides_message_for_the_lease(store: DeskStore) -> None:
    """A claimed message is not claimed again until its lease runs out (deliverer died)."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note("n-1"),)))
    first = [m.key for m in store.claim_outbox(TS0, limit=10, lease=30)]
    during = store.claim_outbox(TS0 + 29, limit=10, lease=30)
    after = [m.key for m in store.claim_outbox(TS0 + 30, limit=10, lease=30)]
    assert (["n-1"], [], ["n-1"]) == (first, during, after)


def test_outbox_failure_retries_then_dead_letters(store: DeskStore) -> None:
    """A failure counts an attempt and reschedules; a failure without retry is dead-lettered."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note("n-1"),)))
    store.settle_outbox(TS0, failed=[("n-1", "boom", TS0 + 5)])
    pending = store.outbox("pending")[0]
    store.settle_outbox(TS0 + 5, failed=[("n-1", "boom again", None)])
    dead = store.outbox("dead")[0]
    assert ((1, TS0 + 5, "boom"), (2, "boom again")) == (
        (pending.attempts, pending.next_attempt_at, pending.last_error),
        (dead.attempts, dead.last_error),
    )
    assert [] == store.claim_outbox(TS0 + 10_000, limit=10, lease=30)


def test_outbox_delivery_is_recorded(store: DeskStore) -> None:
    """A delivered message records when, counts the attempt and is never claimed again."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note("n-1"),)))
    store.settle_outbox(TS0 + 1, delivered=["n-1"])
    done = store.outbox("delivered")[0]
    assert ((TS0 + 1, 1), []) == (
        (done.delivered_at, done.attempts),
        store.claim_outbox(TS0 + 100, limit=10, lease=1),
    )


def test_prune_forgets_old_deliveries_and_keeps_dead_letters(store: DeskStore) -> None:
    """Pruning drops messages delivered before the cutoff; newer ones and dead letters stay."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note("old"), note("new"), note("dead"))))
    store.settle_outbox(TS0, delivered=["old"], failed=[("dead", "boom", None)])
    store.settle_outbox(TS0 + 100, delivered=["new"])
    assert (1, ["new", "dead"]) == (
        store.prune_outbox(TS0 + 50),
        [m.key for m in store.outbox()],
    )


def test_outbox_key_is_idempotent(store: DeskStore) -> None:
    """Writing an outbox message with a key already present keeps the first one."""
    store.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note("n-1"),)))
    store.commit(Commit("T-1", (), 1, outbox=(note("n-1", at=TS0 + 9),)))
    assert [TS0] == [m.created_at for m in store.outbox()]


def test_snapshot_round_trips_through_dict() -> None:
    """A busy ticket's snapshot survives ticket_to_dict / ticket_from_dict unchanged."""
    events = [
        ev("T-1", priority="high", tags=["a", "b"], tier="gold"),
        TicketEvent("message", ticket_id="T-1", at=T0, by="customer"),
        ev("T-1", "status_changed", to="solved"),
        ev("T-1", "satisfaction_rated", csat="good", score=5),
        ev("T-1", "sla_policy_applied", policy="gold", version=2),
    ]
    ticket = Ticket.from_events(events)
    assert ticket == ticket_from_dict(json.loads(json.dumps(ticket_to_dict(ticket))))


def test_malformed_snapshot_is_a_store_error() -> None:
    """A snapshot with a status the lifecycle does not know is a clear StoreError."""
    raw = ticket_to_dict(Ticket.from_events([ev("T-1")])) | {"status": "archived"}
    with pytest.raises(StoreError, match="malformed"):
        ticket_from_dict(raw)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["T-1", "T-2", "T-3"]),  # ticket
        st.integers(0, 4),  # expected version (often stale)
        st.one_of(st.none(), st.sampled_from(["m-1", "m-2", "m-3"])),  # message id
        st.one_of(st.none(), st.sampled_from(["a", "b"])),  # alert key
        st.integers(0, 2),  # events in the batch
    ),
    max_size=20,
)


@given(OPERATIONS)
def test_sqlite_and_memory_stores_agree(
    operations: list[tuple[str, int, str | None, str | None, int]],
) -> None:
    """Any sequence of commits, stale or duplicate ones included, has the same outcome and
    leaves the same state in the SQLite store and in the in-memory sidecar."""
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "p.db") as sqlite:
        memory = MemorySidecar(InMemoryStore())
        outcomes: dict[str, list[object]] = {"sqlite": [], "memory": []}
        for ticket, expected, message, alert, count in operations:
            kinds = ["created"] if expected == 0 else []
            events = tuple(ev(ticket, k) for k in [*kinds, *["tagged"] * count])
            commit = Commit(
                ticket,
                events,
                expected,
                message=None if message is None else ("chat", message),
                alerts=() if alert is None else (alert,),
                due=TS0 + expected,
            )
            for name, store in (("sqlite", sqlite), ("memory", memory)):
                try:
                    outcomes[name].append(store.commit(commit))
                except ConcurrencyError as error:
                    outcomes[name].append(("conflict", error.expected, error.actual))

        def state(store: DeskStore) -> object:
            return (
                [(e.id, e.kind) for e in store.read_all()],
                {t: store.version(t) for t in ("T-1", "T-2", "T-3")},
                {m: store.message_ticket("chat", m) for m in ("m-1", "m-2", "m-3")},
                {t: store.alerts(t) for t in ("T-1", "T-2", "T-3")},
                store.due(TS0 + 10),
            )

        assert outcomes["memory"] == outcomes["sqlite"]
        assert state(memory) == state(sqlite)
