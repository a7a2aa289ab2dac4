"""The PostgreSQL store on a real server: the shipped store contract, the desk through the
entry point, migrations, connection loss."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from supportkit_postgres import MIGRATIONS, PostgresStore

from supportkit import (
    ArticleEvent,
    Commit,
    ConcurrencyError,
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    OutboxMessage,
    StoreError,
    SupportDesk,
    TicketEvent,
)
from supportkit.testing.stores import DeskStoreContract
from supportkit.typing import DeskStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def ev(ticket: str, kind: str = "created") -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0)


class TestPostgresContract(DeskStoreContract):
    """The shipped store contract, each test on a fresh schema."""

    @pytest.fixture(autouse=True)
    def _server(self, pg_url: str, new_schema: Callable[[], str]) -> None:
        self.url, self.new_schema = pg_url, new_schema

    def make_store(self) -> DeskStore:
        return PostgresStore(self.url, schema=self.new_schema(), max_size=2)


def test_desk_opens_the_store_by_name(pg_url: str, new_schema: Callable[[], str]) -> None:
    """SupportDesk(store="postgres", store_options=...) finds the plugin by its entry point;
    two desks on one schema share tickets, the message index and the settings."""
    options = {"url": pg_url, "schema": new_schema()}
    clock = FrozenClock(T0)
    with SupportDesk(store="postgres", store_options=options, clock=clock) as first:
        result = first.ingest(InboundMessage("m-1", "email", "ann@example.com", T0, body="hi"))
        with SupportDesk(store="postgres", store_options=options, clock=clock) as second:
            again = second.ingest(InboundMessage("m-1", "email", "ann@example.com", T0))
            assert isinstance(second.store, PostgresStore)
            assert (True, result.ticket_id) == (again.duplicate, again.ticket_id)
            assert first.ticket(result.ticket_id) == second.ticket(result.ticket_id)
            assert first.settings() == second.store.meta(SupportDesk.SETTINGS_KEY)


def test_a_mail_holding_a_nul_character_is_kept(pg_url: str, new_schema: Callable[[], str]) -> None:
    """PostgreSQL text cannot hold a NUL: a body or subject with one (a badly encoded mail)
    failed every commit with a StoreError, so the channel retried it for ever. The core
    keeps it as U+FFFD, here as on every store, and ingests it once."""
    options = {"url": pg_url, "schema": new_schema()}
    with SupportDesk(store="postgres", store_options=options, clock=FrozenClock(T0)) as desk:
        mail = InboundMessage("m-0", "email", "ann@example.com", T0, body="a\x00b", subject="\x00")
        result = desk.ingest(mail)
        again = desk.ingest(mail)
        assert (True, result.ticket_id) == (again.duplicate, again.ticket_id)
        (logged,) = [e for e in desk.events(result.ticket_id) if e.kind == "message"]
        assert "a\ufffdb" == logged.data["body"]
        assert "\ufffd" == desk.ticket(result.ticket_id).subject


def test_migrates_an_empty_schema(pg_url: str, new_schema: Callable[[], str]) -> None:
    """A new schema gets every table and the latest version; reopening changes nothing."""
    schema = new_schema()
    with PostgresStore(pg_url, schema=schema) as store:
        first = store.schema_version
    with PostgresStore(pg_url, schema=schema) as store:
        second = store.schema_version
    with psycopg.connect(pg_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
    expected = {"supportkit_schema", "streams", "events", "messages", "snapshots", "outbox"}
    expected |= {"due", "alerts", "meta", "plugin_state", "article_events", "article_search"}
    expected |= {"session_events"}
    assert (len(MIGRATIONS), len(MIGRATIONS), expected) == (first, second, tables)


def test_migrates_the_previous_version_and_keeps_its_data(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """A schema at version 1 (before plugin state and due claims) keeps its log and due
    entries, which become claimable, and gains plugin state."""
    schema = new_schema()
    old = ev("T-1")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        for statement in MIGRATIONS[0]:
            conn.execute(statement)  # type: ignore[call-overload]
        conn.execute("CREATE TABLE supportkit_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO supportkit_schema VALUES (1)")
        conn.execute("INSERT INTO streams (ticket_id, version) VALUES ('T-1', 1)")
        conn.execute(
            "INSERT INTO events (ticket_id, version, event_id, body) VALUES ('T-1', 1, %s, %s)",
            (old.id, json.dumps(old.to_dict())),
        )
        conn.execute("INSERT INTO due (ticket_id, due_at) VALUES ('T-1', 100)")
    with PostgresStore(pg_url, schema=schema) as store:
        assert (len(MIGRATIONS), [old]) == (store.schema_version, store.read("T-1"))
        assert [("T-1", 100)] == store.claim_due(100, now=0, limit=5, lease=60)
        assert store.state_put_new("ns", "k", 1, expires_at=None, now=0)


def test_a_version_4_schema_gets_a_plain_text_index(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """A schema at version 4 indexed the articles' Markdown bodies, so a snippet showed
    "**Reset**" as if it matched: opening it rebuilds the indexed bodies from the article log
    as plain text (version 5)."""
    schema = new_schema()
    body = "Click **Reset** in [Settings](https://x.example/s) to start over."
    created = ArticleEvent(
        "created", "A-1", T0, title="Start", body=body, locale="en", status="published"
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        for statements in MIGRATIONS[:4]:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("CREATE TABLE supportkit_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO supportkit_schema VALUES (4)")
        conn.execute(
            "INSERT INTO article_events (article_id, version, body) VALUES ('A-1', 1, %s)",
            (json.dumps(created.to_dict()),),
        )
        # as version 4 indexed a published article: its Markdown body
        conn.execute(
            "INSERT INTO article_search VALUES ('A-1', 'en', NULL, '{}', 'Start', %s,"
            " 'english', setweight(to_tsvector('english', 'Start'), 'A')"
            " || setweight(to_tsvector('english', %s), 'B'))",
            (body, body),
        )
    with PostgresStore(pg_url, schema=schema) as store:
        [hit] = store.search_articles(["start"], k=3)
        assert (len(MIGRATIONS), "A-1") == (store.schema_version, hit.article_id)
        assert "Reset in Settings to **start** over." in hit.snippet
        assert [] == store.search_articles(["https"], k=3)


def test_a_newer_schema_is_refused(pg_url: str, new_schema: Callable[[], str]) -> None:
    """A schema written by a newer plugin is refused with advice, not misread."""
    schema = new_schema()
    with PostgresStore(pg_url, schema=schema):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {}.supportkit_schema SET version = 99").format(sql.Identifier(schema))
        )
    with pytest.raises(StoreError, match=r"version 99.*upgrade supportkit-postgres"):
        PostgresStore(pg_url, schema=schema)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"url": ""}, "needs a url"),
        ({"url": "postgresql://x@127.0.0.1/db", "schema": "Bad-Name"}, "identifier"),
        ({"url": "postgresql://x@127.0.0.1/db", "schema": "x; DROP TABLE y"}, "identifier"),
        ({"url": "postgresql://x@127.0.0.1/db", "min_size": 0}, "pool sizes"),
        ({"url": "postgresql://x@127.0.0.1/db", "min_size": 3, "max_size": 2}, "below"),
        ({"url": "postgresql://x@127.0.0.1/db", "durability": "fsync"}, "durability must be"),
        ({"url": "postgresql://x@127.0.0.1/db", "timeout": 0}, "timeout must be"),
        ({"url": "postgresql://x@127.0.0.1/db", "timeout": "5"}, "timeout must be"),
        ({"url": "postgresql://x@127.0.0.1/db", "timeout": True}, "timeout must be"),
        ({"url": "postgresql://x@127.0.0.1/db", "check": "no"}, "check must be"),
        ({"url": "postgresql://x@127.0.0.1/db", "min_size": True}, "pool sizes"),
        ({"url": "not a url"}, "not a PostgreSQL URL"),
        ({"url": "http://127.0.0.1/db"}, "not a PostgreSQL URL"),
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, object], match: str) -> None:
    """Bad store options are refused before any connection is made."""
    with pytest.raises(ConfigurationError, match=match):
        PostgresStore(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("durability", "setting"), [("full", "on"), ("normal", "off")])
def test_durability_sets_synchronous_commit(
    pg_url: str, new_schema: Callable[[], str], durability: str, setting: str
) -> None:
    """The store's connections commit with the synchronous_commit its durability names."""
    with PostgresStore(pg_url, schema=new_schema(), durability=durability) as store:
        rows = store._query("setting", "SHOW synchronous_commit")
    assert [(setting,)] == rows


def test_an_unreachable_server_is_a_store_error() -> None:
    """No server at the URL: a StoreError naming it (the password masked), not a hang."""
    with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL at postgresql://u:\*\*\*@"):
        PostgresStore("postgresql://u:secret@127.0.0.1:1/db", timeout=1)


def test_a_refused_login_says_why(pg_url: str) -> None:
    """The server answers but refuses the login (an unknown role): the StoreError gives the
    server's reason, not only the pool's timeout; a password given as a query parameter or
    in key=value form is masked too."""
    info = conninfo_to_dict(pg_url)
    where = f"{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
    refused = f"postgresql://sk_no_such_role@{where}"
    with pytest.raises(StoreError, match='role "sk_no_such_role" does not exist'):
        PostgresStore(refused, timeout=1)
    for url in (f"{refused}?password=secret", "host=127.0.0.1 port=1 password=secret dbname=x"):
        with pytest.raises(StoreError) as info:
            PostgresStore(url, timeout=1)
        assert "secret" not in str(info.value)


def test_a_closed_store_says_so_at_once(
    pg_url: str, new_schema: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    """Using a store after close() is a StoreError saying it is closed, not three attempts
    logged as lost connections."""
    store = PostgresStore(pg_url, schema=new_schema())
    store.close()
    store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="message lookup on a closed store"):
        store.message_ticket("email", "m-1")
    assert not [r for r in caplog.records if "connection lost" in r.getMessage()]


def _terminate_others(url: str, schema: str) -> int:
    """Kill every server process of the pool named after *schema* (a dropped connection)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            " AND query NOT ILIKE '%%pg_stat_activity%%' AND backend_type = 'client backend'"
            " AND application_name = %s",
            (f"sk-{schema}",),
        ).fetchall()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (f"sk-{schema}",)
        ).fetchone() != (0,):
            time.sleep(0.05)  # until the server processes are gone
    return len(rows)


def test_a_dropped_connection_is_replaced(pg_url: str, new_schema: Callable[[], str]) -> None:
    """Connections killed between operations: the health check before use notices (the
    server told them it was ending the session) and reads and writes go on, on fresh ones."""
    schema = new_schema()
    url = f"{pg_url}?application_name=sk-{schema}"
    with PostgresStore(url, schema=schema, min_size=2, max_size=2) as store:
        store.commit(Commit("T-1", (ev("T-1"),), 0, message=("chat", "m-1")))
        assert _terminate_others(pg_url, schema) >= 1
        version = store.commit(Commit("T-1", (ev("T-1", "tagged"),), 1))
        assert _terminate_others(pg_url, schema) >= 1
        assert (2, "T-1", 2) == (
            version,
            store.message_ticket("chat", "m-1"),
            store.version("T-1"),
        )


def _kill_at_commit(url: str, schema: str, times: int) -> None:
    """A deferred trigger that kills the session during COMMIT of the next *times* appends."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        conn.execute(f"CREATE SEQUENCE kills MAXVALUE {int(times) + 1} NO CYCLE")
        conn.execute(
            "CREATE FUNCTION kill_session() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF (SELECT last_value < {int(times + 1)} FROM kills)"
            " THEN PERFORM nextval('kills');"
            " PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NULL; END $$"
        )
        conn.execute("SELECT nextval('kills')")
        conn.execute(
            "CREATE CONSTRAINT TRIGGER kill_at_commit AFTER INSERT ON events"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kill_session()"
        )


def test_a_connection_lost_during_commit_is_a_store_error_and_writes_nothing(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """The server dies in COMMIT of an append whose replay would not be safe: a StoreError
    names the operation and says the outcome is unknown; the append did not land."""
    schema = new_schema()
    with PostgresStore(pg_url, schema=schema, check=False) as store:
        store.append("T-1", [ev("T-1")], expected_version=0)
        _kill_at_commit(pg_url, schema, times=1)
        with pytest.raises(StoreError, match=r"append to ticket T-1 failed.*outcome is unknown"):
            store.append("T-1", [ev("T-1", "tagged")], expected_version=1)
        assert 1 == store.version("T-1")


def test_an_ingest_commit_lost_during_commit_is_replayed(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """A commit that consumes a message id is replayed on a fresh connection after its
    COMMIT was lost (the message index makes the replay safe); it lands once."""
    schema = new_schema()
    with PostgresStore(pg_url, schema=schema, check=False) as store:
        store.append("T-0", [ev("T-0")], expected_version=0)
        _kill_at_commit(pg_url, schema, times=1)
        version = store.commit(Commit("T-1", (ev("T-1"),), 0, message=("chat", "m-1")))
        assert (1, "T-1", 1) == (
            version,
            store.message_ticket("chat", "m-1"),
            len(store.read("T-1")),
        )
        with pytest.raises(ConcurrencyError, match="already ingested"):
            store.commit(Commit("T-2", (ev("T-2"),), 0, message=("chat", "m-1")))


def test_a_commit_with_outbox_rows_wakes_a_waiting_worker(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """wait_for_work returns True soon after another store's commit adds outbox rows
    (NOTIFY), and False after its timeout when nothing happens (the polling fallback)."""
    schema = new_schema()
    with (
        PostgresStore(pg_url, schema=schema) as waiter,
        PostgresStore(pg_url, schema=schema) as writer,
    ):
        assert False is waiter.wait_for_work(0.2)
        woken: list[tuple[bool, float]] = []

        def wait() -> None:
            started = time.monotonic()
            woken.append((waiter.wait_for_work(20), time.monotonic() - started))

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.5)  # the waiter is listening
        note = OutboxMessage("n-1", "notify", "T-1", {}, created_at=0)
        writer.commit(Commit("T-1", (ev("T-1"),), 0, outbox=(note,)))
        thread.join(30)
        assert woken[0][0] is True
        assert woken[0][1] < 10


def test_desk_worker_delivers_soon_after_another_process_commits(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """A desk's background worker with a long polling interval delivers a message another
    desk ingested within seconds: it was woken, not polled."""
    options = {"url": pg_url, "schema": new_schema()}
    with (
        SupportDesk(store="postgres", store_options=options) as worker,
        SupportDesk(store="postgres", store_options=options) as front,
    ):
        worker.start(interval=60)
        time.sleep(0.5)
        front.ingest(InboundMessage("m-1", "email", "ann@example.com", datetime.now(UTC)))
        deadline = time.monotonic() + 15
        while front.outbox("pending") and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.stop(5)
        assert ([], True) == (front.outbox("pending"), bool(front.outbox("delivered")))


def test_ingest_many_does_what_ingest_does_message_by_message(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """The same stream (new tickets, threads, a message repeated inside a batch and across
    batches, a refused item) through ingest one by one and through ingest_many in batches of
    seven gives the same results, logs, due index, outbox and snapshots on PostgreSQL."""
    stream: list[object] = []
    for n in range(40):
        stream.append(
            InboundMessage(
                f"m-{n % 33}",
                "email",
                f"c-{n % 4}",
                T0.replace(minute=n),
                ticket_id=f"T-{n % 6}",
                public=n % 5 != 0,
            )
        )
    stream.insert(9, "not a message")

    def outcome(result: object) -> tuple[object, ...]:
        if isinstance(result, Exception):
            return (type(result).__name__,)
        events = tuple(e.kind for e in result.events)  # type: ignore[attr-defined]
        return (result.ticket_id, result.duplicate, result.created, events)  # type: ignore[attr-defined]

    def state(desk: SupportDesk) -> tuple[object, ...]:
        store = desk.store
        tickets = store.ticket_ids()
        return (
            [[(e.kind, e.at) for e in store.read(t)] for t in tickets],
            store.due(2**40),
            [(m.topic, m.ticket_id) for m in store.outbox()],
            [getattr(store.snapshot(t), "version", None) for t in tickets],
            store.message_index(),  # no id claimed by a batch's read-ahead and left empty
        )

    one = SupportDesk(
        store=PostgresStore(pg_url, schema=new_schema()), clock=FrozenClock(T0), plugins=[]
    )
    many = SupportDesk(
        store=PostgresStore(pg_url, schema=new_schema()), clock=FrozenClock(T0), plugins=[]
    )
    with one, many:
        expected = []
        for item in stream:
            try:
                expected.append(outcome(one.ingest(item)))  # type: ignore[arg-type]
            except ConfigurationError as exc:
                expected.append(outcome(exc))
        actual = [
            outcome(result)
            for start in range(0, len(stream), 7)
            for result in many.ingest_many(stream[start : start + 7])  # type: ignore[arg-type]
        ]
        assert expected == actual
        assert state(one) == state(many)


def test_a_batch_read_ahead_claims_only_until_it_ends(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """batch(messages) claims their message ids and named tickets at once: an ingest of a
    claimed id in another process waits for the batch, and what the batch did not use is
    gone when it ends (no empty message index entry, no ticket at version 0)."""
    schema = new_schema()

    def msg(n: int, ticket: str, *references: str) -> InboundMessage:
        return InboundMessage(
            f"m-{n}", "email", "ann", T0.replace(minute=n), ticket_id=ticket, references=references
        )

    with (
        PostgresStore(pg_url, schema=schema) as mine,
        PostgresStore(pg_url, schema=schema) as theirs,
    ):
        desk = SupportDesk(store=mine, clock=FrozenClock(T0), plugins=[])
        other = SupportDesk(store=theirs, clock=FrozenClock(T0), plugins=[])
        desk.ingest(msg(0, "T-0"))
        results: list[object] = []
        waiting = threading.Thread(target=lambda: results.append(other.ingest(msg(1, "T-1"))))
        with mine.batch([msg(0, "T-0"), msg(1, "T-1"), msg(2, "T-9", "m-0")]):
            assert "T-0" == mine.message_ticket("email", "m-0")  # read ahead
            assert mine.message_ticket("email", "m-1") is None  # claimed, unused
            waiting.start()
            time.sleep(0.5)
            assert [] == results  # the other desk waits for the claim on m-1
            threaded = desk.ingest(msg(2, "T-9", "m-0"))
            assert ("T-0", False) == (threaded.ticket_id, threaded.duplicate)
            assert desk.ingest(msg(0, "T-0")).duplicate
        waiting.join(30)
        created = results[0]
        assert ("T-1", True) == (created.ticket_id, created.created)  # type: ignore[attr-defined]
        assert ["T-0", "T-1"] == mine.ticket_ids()  # T-9 was named, never created
        assert 0 == mine.version("T-9")
        assert [("email", f"m-{n}", t) for n, t in enumerate(["T-0", "T-1", "T-0"])] == sorted(
            mine.message_index()
        )


def test_tickets_a_batch_creates_keep_their_order_of_creation(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """The read-ahead creates named tickets' stream rows in id order; ticket_ids() still lists
    them in the order the batch's messages created them."""
    names = ["T-9", "T-10", "A-1", "T-2"]
    stream = [
        InboundMessage(f"m-{n}", "email", "ann", T0.replace(minute=n), ticket_id=name)
        for n, name in enumerate(names)
    ]
    with PostgresStore(pg_url, schema=new_schema()) as store:
        desk = SupportDesk(store=store, clock=FrozenClock(T0), plugins=[])
        desk.ingest(InboundMessage("m-x", "email", "bob", T0, ticket_id="T-10a"))
        assert all(r.created for r in desk.ingest_many(stream))  # type: ignore[union-attr]
        assert ["T-10a", *names] == store.ticket_ids()


def test_a_batch_reads_each_plugin_state_entry_once(
    pg_url: str, new_schema: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a batch a plugin state entry is read from the server once (every new ticket of
    a batch asks for the problem index's next slot), the batch's own writes included, and
    expiry still applies; another process's write is seen from the next batch on. Entries a
    batch asked for more than once come with the next batch's read-ahead."""
    reads: list[str] = []
    execute = psycopg.Cursor.execute

    def counting(cur: psycopg.Cursor[object], query: object, *args: object, **kw: object) -> object:
        if str(query).startswith("SELECT") and "FROM plugin_state" in str(query):
            reads.append(str(query))
        return execute(cur, query, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    schema = new_schema()
    with (
        PostgresStore(pg_url, schema=schema) as mine,
        PostgresStore(pg_url, schema=schema) as theirs,
    ):
        with mine.batch([InboundMessage("m-1", "email", "ann", T0)]):
            assert [None, None] == [mine.state_get("ns", "k", now=0) for _ in range(2)]
            theirs.state_put("ns", "k", 1, expires_at=None, now=0)
            assert mine.state_get("ns", "k", now=0) is None  # as the batch first read it
            mine.state_put("ns", "mine", 2, expires_at=10, now=0)
            assert (2, None) == (
                mine.state_get("ns", "mine", now=9),
                mine.state_get("ns", "mine", now=10),
            )
            assert not mine.state_put_new("ns", "k", 3, expires_at=None, now=0)
            assert 1 == mine.state_get("ns", "k", now=0)  # theirs, live: read again
        assert 2 == len(reads)
        reads.clear()
        theirs.state_put("ns", "k", 4, expires_at=None, now=0)
        with mine.batch([InboundMessage("m-2", "email", "ann", T0)]):
            assert [4, 4, 2] == [
                mine.state_get("ns", "k", now=0),
                mine.state_get("ns", "k", now=0),
                mine.state_get("ns", "mine", now=0),
            ]
        assert 1 == len(reads)  # the read-ahead's
        assert 4 == mine.state_get("ns", "k", now=0)


def test_a_batch_whose_commit_is_lost_says_its_outcome_is_unknown(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """The server dies in the COMMIT a batch sends with its held rows: a StoreError says the
    outcome is unknown; nothing of the batch landed."""
    schema = new_schema()
    with PostgresStore(pg_url, schema=schema, check=False) as store:
        store.append("T-0", [ev("T-0")], expected_version=0)
        _kill_at_commit(pg_url, schema, times=1)
        with (
            pytest.raises(StoreError, match=r"batch failed.*outcome is unknown"),
            store.batch([InboundMessage("m-1", "chat", "ann", T0)]),
        ):
            store.commit(Commit("T-1", (ev("T-1"),), 0, message=("chat", "m-1")))
        assert (0, None) == (store.version("T-1"), store.message_ticket("chat", "m-1"))
