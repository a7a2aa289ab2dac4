"""Export, import, erasure and moving a desk on PostgreSQL: a SQLite desk copied into
PostgreSQL exports the same lines, ``supportkit export/import/erase --config`` work on a
postgres store, and an erased customer leaves nothing in any table (nor in the pages of the
tables and indexes after the VACUUM that follows the erasure)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from supportkit_postgres import PostgresStore

from supportkit import (
    FrozenClock,
    InboundMessage,
    IntegrationError,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    TicketEvent,
)
from supportkit._cli import main
from supportkit._time import to_epoch
from supportkit._transfer import export_lines
from supportkit.testing import FakeChannel, RecordingNotifier

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = to_epoch(T0 + timedelta(hours=1))
SECRET_MAIL = "zoë.secret@example.org"
SECRET_TEXT = "my passport number is X1234567"
POLICY = SlaPolicy.from_dict(
    {"name": "p", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
)


def _old_desk(path: Path) -> dict[str, str]:
    """A SQLite desk with every stream filled: two tickets, a sent reply (an outbound message
    id), delivered and dead outbox rows, SLA alerts, plugin state and settings."""
    clock = FrozenClock(T0)
    broken = RecordingNotifier("pager", fail=IntegrationError("gone", permanent=True))
    plugins = [FakeChannel("email"), broken]
    # The fake stands in for supportkit-email, which nox -s plugins installs beside it.
    with SupportDesk(
        store=SqliteStore(path),
        clock=clock,
        policies=[POLICY],
        plugins=plugins,
        blocked_plugins=["email"],
    ) as d:
        first = d.ingest(
            InboundMessage("<m-1@x>", "email", SECRET_MAIL, T0, body=SECRET_TEXT)
        ).ticket_id
        d.ingest(InboundMessage("<m-2@x>", "email", SECRET_MAIL, T0, ticket_id=first, body="again"))
        other = d.ingest(InboundMessage("<m-3@x>", "email", "ann@example.com", T0)).ticket_id
        d.reply(first, "We are on it", agent="a-1")
        d.plugin_state("slack").put(first, {"thread": "1712.0042"})
        d.tick(T0 + timedelta(minutes=40))  # the 50 % warning of the unanswered ticket
        d.deliver()
    return {"first": first, "other": other}


def test_a_sqlite_desk_moved_into_postgres_exports_the_same_lines(
    pg_url: str, new_schema: Callable[[], str], tmp_path: Path
) -> None:
    """python -m supportkit_postgres (export → import) copies every stream: the PostgreSQL
    export equals the SQLite export line for line, including outbound message ids, delivered
    and dead outbox rows, alerts, settings versions and plugin state; a desk on the copy emits
    nothing again; copying a second time writes nothing; a different history is refused."""
    path = tmp_path / "old.sqlite3"
    tickets = _old_desk(path)
    with SqliteStore(path) as store:
        before = list(export_lines(store, now=NOW))
    records = [json.loads(line) for line in before]
    streams = {r["stream"] for r in records}
    assert {"event", "message", "alert", "due", "outbox", "meta", "plugin_state"} <= streams
    assert {"delivered", "dead"} <= {r["status"] for r in records if r["stream"] == "outbox"}
    assert any(r["stream"] == "message" and r["message_id"] == "email-1" for r in records)
    schema = new_schema()
    command = [sys.executable, "-m", "supportkit_postgres", str(path), pg_url, "--schema", schema]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (0, True) == (done.returncode, done.stdout.startswith(f"copied {len(before)} records"))
    with PostgresStore(pg_url, schema=schema) as store:
        assert before == list(export_lines(store, now=NOW))
        with SupportDesk(store=store, clock=FrozenClock(T0), policies=[POLICY]) as new:
            ticked = new.tick(T0 + timedelta(minutes=40))
            assert ((), tickets["first"]) == (
                tuple(ticked.warnings),
                store.message_ticket("email", "email-1"),
            )
            assert {"thread": "1712.0042"} == new.plugin_state("slack").get(tickets["first"])
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (0, True) == (again.returncode, again.stdout.startswith("copied 0 records"))
    record = json.loads(before[0])
    record["event"]["id"] = "another-id"
    conflicting = tmp_path / "other.sqlite3"
    with SqliteStore(conflicting) as other:
        other.restore(events=[(1, TicketEvent.from_dict(record["event"]))])
    refused = subprocess.run(
        [sys.executable, "-m", "supportkit_postgres", str(conflicting), pg_url, "--schema", schema],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 1 == refused.returncode
    assert "already has another event at version 1" in refused.stderr


@pytest.fixture
def own_database(pg_url: str) -> Iterator[str]:
    """A database of its own (a conninfo naming it), dropped afterwards: a vacuum keeps row
    versions that any transaction of the same database may still see, so the erasure tests
    must not share their database with other sessions on the server."""
    name = f"sk_erase_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(pg_url, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    yield url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _config(folder: Path, schema: str) -> Path:
    path = folder / "pg.toml"
    path.write_text(
        f"""
[store]
kind = "postgres"
env = {{ url = "SK_TEST_PG_URL" }}
options = {{ schema = "{schema}" }}

[[policies]]
name = "p"
[policies.targets.normal]
first_reply = {{ minutes = 60, business = false }}
""",
        encoding="utf-8",
    )
    return path


def _raw_pages(conn: psycopg.Connection[tuple[bytes]], schema: str) -> bytes:
    """Every page of every table, index and TOAST relation of *schema*, as stored."""
    relations = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid ="
        " c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'i', 't')"
        " UNION SELECT t.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid ="
        " c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid WHERE n.nspname = %s",
        (schema, schema),
    ).fetchall()
    pages = []
    for (relation,) in relations:
        blocks = conn.execute("SELECT pg_relation_size(%s::regclass) / 8192", (relation,))
        for block in range(int(blocks.fetchone()[0])):  # type: ignore[index]
            pages.append(
                conn.execute("SELECT get_raw_page(%s, %s)", (relation, block)).fetchone()[0]  # type: ignore[index]
            )
    return b"".join(pages)


def test_export_import_and_erase_work_on_a_configured_postgres_store(
    own_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """supportkit import/export/erase --config with a postgres [store]: the SQLite export
    imports into PostgreSQL and exports back the same; after erase no table (queried row by
    row) and no page of any table, index or TOAST relation (read raw with pageinspect after
    the erasure's VACUUM) holds the customer's address or text, the other customer's data
    stays, and the export carries the redactions."""
    pg_url = own_database
    monkeypatch.setenv("SK_TEST_PG_URL", pg_url)
    monkeypatch.chdir(tmp_path)
    tickets = _old_desk(tmp_path / "old.sqlite3")
    schema = "desk"
    config = _config(tmp_path, schema)
    assert 0 == main(["export", "--db", "old.sqlite3", "--output", "backup.jsonl"])
    assert 0 == main(["import", "--config", str(config), "backup.jsonl"])
    assert 0 == main(["export", "--config", str(config), "--output", "again.jsonl"])
    backup = (tmp_path / "backup.jsonl").read_text(encoding="utf-8")
    again = (tmp_path / "again.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in again.splitlines()]
    assert [json.loads(line) for line in backup.splitlines()] == records
    assert SECRET_MAIL in backup
    capsys.readouterr()
    # Read commands build the desk from the settings the store records (a Python desk's,
    # which the file's differ from): no refusal, a one-line note, nothing written.
    assert 0 == main(["sla", "show", tickets["other"], "--config", str(config), "--json"])
    out, err = capsys.readouterr()
    assert "2026-03-02T11:00:00+00:00" == json.loads(out)["first_reply"][0]["deadline"]
    assert 1 == len(err.splitlines()), err
    assert 0 == main(["next-steps", "--config", str(config), "--json"])
    assert tickets["other"] in {s["ticket_id"] for s in json.loads(capsys.readouterr().out)}
    assert 0 == main(["export", "--config", str(config)])
    assert again == capsys.readouterr().out
    # report and kb import reach the postgres store through the file too.
    assert 0 == main(["report", "--config", str(config), "--html", "report.html"])
    assert tickets["other"] in (tmp_path / "report.html").read_text(encoding="utf-8")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "reset.md").write_text("# Reset a password\nUse the app.\n")
    capsys.readouterr()
    assert 0 == main(["kb", "import", "kb", "--config", str(config)])
    assert "1 created, 0 updated, 0 unchanged" == capsys.readouterr().out.strip()
    with PostgresStore(pg_url, schema=schema) as store:
        assert ["reset"] == [event.article_id for event in store.article_events()]
    assert 0 == main(["erase", "--customer", SECRET_MAIL, "--config", str(config)])
    assert "1 tickets" in capsys.readouterr().out
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        rows = "".join(
            str(row)
            for table in tables
            for row in conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            )
        )
        assert {"events", "messages", "outbox", "snapshots", "meta", "plugin_state"} <= set(tables)
        assert (False, False, True) == (
            SECRET_MAIL in rows,
            SECRET_TEXT in rows,
            "ann@example.com" in rows,
        )
        raw = _raw_pages(conn, schema)
    assert SECRET_MAIL.encode() not in raw
    assert SECRET_TEXT.encode() not in raw
    assert b"ann@example.com" in raw
    capsys.readouterr()
    assert 0 == main(["export", "--config", str(config)])
    erased = capsys.readouterr().out
    assert (SECRET_MAIL in erased, SECRET_TEXT in erased, "erased-" in erased) == (
        False,
        False,
        True,
    )
    (tmp_path / "erased.jsonl").write_text(erased, encoding="utf-8")
    assert 0 == main(["import", "--db", "restored.sqlite3", "erased.jsonl"])
    capsys.readouterr()
    assert 0 == main(["export", "--db", "restored.sqlite3"])
    assert erased == capsys.readouterr().out


def test_erasure_waits_for_older_transactions_before_rewriting_the_tables(
    own_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A session whose snapshot predates the erasure still sees the old row versions, so
    VACUUM FULL must keep them: the erasure waits for it (the old values stay in the pages
    while it runs) and once it ends no page holds them. Without the wait (scrub_wait 0) the
    pages keep them and the erasure says it could not remove them yet: the page check can
    fail."""
    url = own_database
    for wait, expected in ((60.0, False), (0.0, True)):
        schema = f"s_{int(wait)}"
        store = PostgresStore(url, schema=schema)
        store.scrub_wait = wait
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        desk.ingest(InboundMessage("<m-1@x>", "email", SECRET_MAIL, T0, body=SECRET_TEXT))
        holder = psycopg.connect(url)
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.execute("SELECT count(*) FROM pg_class")  # its snapshot lasts till it ends
        erasing = threading.Thread(target=desk.erase_customer, args=(SECRET_MAIL,))
        erasing.start()
        erasing.join(2.0)
        waited = erasing.is_alive()
        with psycopg.connect(url, autocommit=True) as conn:
            during = SECRET_TEXT.encode() in _raw_pages(conn, schema)
        holder.rollback()
        erasing.join(120)
        with psycopg.connect(url, autocommit=True) as conn:
            after = SECRET_TEXT.encode() in _raw_pages(conn, schema)
        holder.close()
        desk.close()
        told = "old row versions could not be removed yet" in caplog.text
        caplog.clear()
        # Only the waiting erasure must still run after 2 s (the other may be slow too).
        finished = not erasing.is_alive()
        assert (finished, waited or expected, during, after, told) == (
            True,
            True,
            True,
            expected,
            expected,
        )


def test_moving_a_missing_sqlite_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped SQLite path is an error naming it, not an empty desk created there and
    "copied 0 records" (nothing is opened on the server either)."""
    from supportkit_postgres._copy import main as move

    missing = tmp_path / "typo.sqlite3"
    assert 1 == move([str(missing), "postgresql://nobody@127.0.0.1:1/db"])
    assert "no SQLite desk at" in capsys.readouterr().err
    assert not missing.exists()
