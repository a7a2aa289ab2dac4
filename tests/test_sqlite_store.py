"""The SQLite store and the in-memory sidecar: log, idempotency, snapshots, due index, outbox.

Every test uses a real SQLite file in ``tmp_path``; the multi-process test runs real processes.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    ArticleEvent,
    ConcurrencyError,
    ConfigurationError,
    InMemoryStore,
    SessionEvent,
    StoreError,
    TicketEvent,
)
from supportkit._deskstore import (
    Commit,
    DeskStore,
    MemorySidecar,
    ticket_from_dict,
    ticket_to_dict,
)
from supportkit._sqlite import MIGRATIONS, SqliteStore
from supportkit._ticket import Ticket

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TS0 = int(T0.timestamp())


def ev(ticket: str, kind: str = "created", **data: object) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0, data=data)


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


def test_version_4_file_gains_plugin_state_and_due_claims(tmp_path: Path) -> None:
    """A file of the previous schema (4) keeps its due entries, which become claimable, and
    gains the plugin state table."""
    path = tmp_path / "v4.sqlite3"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:4]:
        migration(db)
    db.execute("INSERT INTO streams VALUES ('T-1', 1)")
    db.execute("INSERT INTO due VALUES ('T-1', ?)", (TS0,))
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        claimed = store.claim_due(TS0, now=TS0, limit=5, lease=60)
        stored = store.state_put_new("ns", "k", [1], expires_at=None, now=TS0)
        assert (len(MIGRATIONS), [("T-1", TS0)], True, [1]) == (
            store.schema_version,
            claimed,
            stored,
            store.state_get("ns", "k", now=TS0),
        )


def test_version_5_file_gains_the_article_log_and_search(tmp_path: Path) -> None:
    """A file of schema 5 keeps its tickets and gains the knowledge base (schema 6)."""
    path = tmp_path / "v5.sqlite3"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:5]:
        migration(db)
    db.execute("INSERT INTO streams VALUES ('T-1', 1)")
    db.execute("PRAGMA user_version=5")
    db.commit()
    db.close()
    created = ArticleEvent(
        "created", "A-1", T0, title="Reset", body="reset it", locale="en", status="published"
    )
    with SqliteStore(path) as store:
        store.append_article("A-1", [created], expected_version=0)
        assert (len(MIGRATIONS), ["T-1"], ["A-1"]) == (
            store.schema_version,
            store.ticket_ids(),
            [hit.article_id for hit in store.search_articles(["reset"], k=3)],
        )


def test_version_6_file_gains_the_session_stream(tmp_path: Path) -> None:
    """A file of schema 6 keeps its tickets and articles and gains the self-service session
    stream (schema 7)."""
    path = tmp_path / "v6.sqlite3"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:6]:
        migration(db)
    db.execute("INSERT INTO streams VALUES ('T-1', 1)")
    db.execute("PRAGMA user_version=6")
    db.commit()
    db.close()
    viewed = SessionEvent("article_viewed", session_id="s1", at=T0, data={"article": "A-1"})
    with SqliteStore(path) as store:
        store.append_sessions([viewed])
        assert (len(MIGRATIONS), ["T-1"], [viewed]) == (
            store.schema_version,
            store.ticket_ids(),
            store.session_events(),
        )


def test_version_7_file_gets_a_plain_text_index(tmp_path: Path) -> None:
    """A file of schema 7 indexed the articles' Markdown bodies, so a snippet showed
    "**Reset**" as if it matched: opening it rebuilds the index rows from the article log as
    plain text (schema 8), published articles only, and the rest of the file is kept."""
    path = tmp_path / "v7.sqlite3"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:7]:
        migration(db)
    body = "Click **Reset** in [Settings](https://x.example/s) to start over."
    log = {
        "A-1": [
            ArticleEvent(
                "created", "A-1", T0, title="Start", body="old", locale="en", status="draft"
            ),
            ArticleEvent("updated", "A-1", T0, body=body, status="published"),
        ],
        "A-2": [
            ArticleEvent(
                "created", "A-2", T0, title="Draft", body="**start**", locale="en", status="draft"
            )
        ],
    }
    for article_id, events in log.items():
        for version, event in enumerate(events, 1):
            db.execute(
                "INSERT INTO article_events (article_id, version, body) VALUES (?, ?, ?)",
                (article_id, version, json.dumps(event.to_dict())),
            )
    # as schema 7 indexed a published article: its Markdown body
    db.execute("INSERT INTO article_search VALUES (1, 'A-1', 'en', NULL, '[]')")
    db.execute("INSERT INTO article_fts (rowid, title, body) VALUES (1, 'Start', ?)", (body,))
    db.execute("INSERT INTO streams VALUES ('T-1', 1)")
    db.execute("PRAGMA user_version=7")
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        [hit] = store.search_articles(["start"], k=3)
        assert (len(MIGRATIONS), ["T-1"]) == (store.schema_version, store.ticket_ids())
        assert ("A-1", "Click Reset in Settings to **start** over.") == (
            hit.article_id,
            hit.snippet,
        )
        assert [] == store.search_articles(["https"], k=3)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer supportkit is refused with advice, not misread."""
    path = tmp_path / "new.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade supportkit"):
        SqliteStore(path)


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
