"""Several worker processes on one PostgreSQL schema: what is exactly-once stays so, and a
worker killed with SIGKILL loses nothing it acknowledged and leaves nothing stuck."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from supportkit_postgres import PostgresStore

from supportkit import InboundMessage, SupportDesk, SystemClock

WORKER = Path(__file__).with_name("pgworker.py")


def _prepare(url: str, schema: str) -> None:
    """Create the schema's tables and the workers' delivery record."""
    PostgresStore(url, schema=schema).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.deliveries (key text NOT NULL, worker text NOT NULL,"
                " claimed double precision NOT NULL, settled double precision NOT NULL)"
            ).format(sql.Identifier(schema))
        )


def _spawn(url: str, schema: str, worker: str, mode: str, *pause: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, schema, worker, mode, *pause],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(url: str, schema: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        return conn.execute(query).fetchall()  # type: ignore[call-overload, no-any-return]


def _four(url: str, schema: str, mode: str) -> list[Any]:
    """Run four workers in *mode* on a fresh *schema* at once; their JSON summaries."""
    _prepare(url, schema)
    workers = [_spawn(url, schema, f"w{n}", mode) for n in range(4)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert 0 == worker.returncode, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def test_four_workers_lose_and_repeat_nothing(pg_url: str, new_schema: Callable[[], str]) -> None:
    """Four processes ingest the same 160 message ids (into 16 shared tickets), reply, claim,
    tick and deliver at once: every message is in the log exactly once and every worker
    agrees on its ticket; every acknowledged reply is there once; no two won claims at one
    version; the alerts the workers emitted are exactly the recorded ones; every outbox row
    was delivered, never by two workers at once."""
    schema = new_schema()
    outputs = _four(pg_url, schema, "mix")
    messages = _rows(
        pg_url,
        schema,
        "SELECT body::json->>'message_id', ticket_id FROM events"
        " WHERE body::json->>'kind' = 'message' AND body::json->>'by' = 'customer'",
    )
    logged = Counter(str(message_id) for message_id, _ in messages)
    assert {f"m-{n}": 1 for n in range(160)} == dict(logged)
    owner = {str(m): str(t) for m, t in messages}
    for output in outputs:
        assert {m: t for m, t, _ in output["ingested"]} == owner
    assert 160 == sum(not duplicate for o in outputs for _, _, duplicate in o["ingested"])

    bodies = Counter(
        str(b)
        for (b,) in _rows(
            pg_url,
            schema,
            "SELECT body::json->>'body' FROM events"
            " WHERE body::json->>'kind' = 'message' AND body::json->>'by' = 'agent'",
        )
    )
    replies = [r for o in outputs for r in o["replies"]]
    assert dict.fromkeys(replies, 1) == dict(bodies)

    claims = [tuple(c) for o in outputs for c in o["claims"]]
    assert len(claims) == len(set(claims))

    (recorded,) = _rows(pg_url, schema, "SELECT count(*) FROM alerts")[0]
    assert recorded == sum(o["alerts"] for o in outputs)
    assert 0 < recorded

    outbox = _rows(pg_url, schema, "SELECT key, status FROM outbox")
    assert {"delivered"} == {status for _, status in outbox}
    deliveries = _rows(pg_url, schema, "SELECT key, worker, claimed, settled FROM deliveries")
    assert {key for key, _ in outbox} == {key for key, *_ in deliveries}
    spans: dict[object, list[tuple[float, float]]] = {}
    for key, _, claimed, settled in deliveries:
        spans.setdefault(key, []).append((float(claimed), float(settled)))  # type: ignore[arg-type]
    for key, held in spans.items():
        held.sort()
        for (_, end), (start, _) in itertools.pairwise(held):
            assert end <= start, f"{key} was held by two workers at once"


def test_four_workers_ingesting_overlapping_batches_write_each_message_once(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """Four processes ingest_many the same 160 message ids (16 shared tickets), ten per
    batch in different orders: every message is in the log exactly once, every worker got
    the same ticket for it, and exactly one worker ingested it (the others saw a
    duplicate)."""
    schema = new_schema()
    outputs = _four(pg_url, schema, "batches")
    messages = _rows(
        pg_url,
        schema,
        "SELECT body::json->>'message_id', ticket_id FROM events"
        " WHERE body::json->>'kind' = 'message'",
    )
    assert {f"m-{n}": 1 for n in range(160)} == dict(Counter(str(m) for m, _ in messages))
    owner = {str(m): str(t) for m, t in messages}
    for output in outputs:
        assert owner == {m: t for m, t, _ in output["ingested"]}
    assert 160 == sum(not duplicate for o in outputs for _, _, duplicate in o["ingested"])


def _kill_when_paused(
    url: str, schema: str, pause: str
) -> tuple[list[str], list[tuple[object, ...]]]:
    """Run a ``forever`` worker until it pauses at *pause* (with at least 30 messages
    acknowledged), then SIGKILL it. Returns the acknowledged message ids and, for a pause
    that names the server process of its open transaction, that process's
    ``pg_stat_activity`` state while the worker was paused."""
    worker = _spawn(url, schema, "k", "forever", pause)
    assert worker.stdout is not None
    acknowledged: list[str] = []
    paused = False
    deadline = time.monotonic() + 180
    while not paused and time.monotonic() < deadline:
        line = worker.stdout.readline()
        if not line:
            break
        if line.startswith("ack "):
            acknowledged.append(line.split()[1])
        paused = line.startswith("paused")
    backend = int(line.split()[1]) if paused else 0
    sessions = _rows(url, schema, f"SELECT state FROM pg_stat_activity WHERE pid = {backend}")
    exited = worker.poll()
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    assert worker.stderr is not None
    worker.stdout.close()
    errors = worker.stderr.read()
    worker.stderr.close()
    assert paused, (
        f"the worker never paused at {pause} ({len(acknowledged)} messages acknowledged, "
        f"{'still running' if exited is None else f'exited with {exited}'}): {errors[-2000:]}"
    )
    assert len(acknowledged) >= 30
    return acknowledged, sessions


def _logged_once(url: str, schema: str, acknowledged: list[str]) -> Counter[str]:
    """Every customer message id in the log, counted; asserts each acknowledged one is
    there exactly once."""
    logged = Counter(
        str(m)
        for (m,) in _rows(
            url,
            schema,
            "SELECT body::json->>'message_id' FROM events WHERE body::json->>'kind' = 'message'",
        )
    )
    assert [] == [m for m in acknowledged if logged[m] != 1]
    return logged


def test_a_worker_killed_in_a_delivery_loses_nothing_and_its_leases_are_taken_over(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """SIGKILL a worker stuck in a delivery (holding outbox leases): every message it
    acknowledged is in the log once, the rows it had claimed are still pending, and after
    the 2 s lease a new desk delivers every outbox row."""
    schema = new_schema()
    _prepare(pg_url, schema)
    acknowledged, _ = _kill_when_paused(pg_url, schema, "deliver")
    _logged_once(pg_url, schema, acknowledged)
    # Rows a claim moved (never attempted, due after they were made): the dead worker's
    # leases, however long ago it took them (the lease may be over by now: that is the point).
    claimed = _rows(
        pg_url,
        schema,
        "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0"
        " AND next_attempt_at > created_at",
    )[0][0]
    assert 0 < claimed  # type: ignore[operator]

    time.sleep(2.5)
    store = PostgresStore(pg_url, schema=schema)
    with SupportDesk(store=store, clock=SystemClock(), lease=timedelta(seconds=2)) as desk:
        while desk.deliver(limit=100).delivered:
            pass
        assert [] == desk.outbox("pending")


def test_a_worker_killed_inside_an_ingest_batch_leaves_none_of_the_batch(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """SIGKILL a worker in the middle of an ingest_many batch, with some of the batch's
    commits already written into its open transaction (the test sees the worker's connection
    idle in that transaction): every acknowledged message is in the log once, none of the
    batch is, and the batch's messages then go into a new desk as new messages."""
    schema = new_schema()
    _prepare(pg_url, schema)
    acknowledged, sessions = _kill_when_paused(pg_url, schema, "ingest")
    assert [("idle in transaction",)] == sessions
    logged = _logged_once(pg_url, schema, acknowledged)
    batch = [f"k-{n}" for n in range(60, 70)]
    assert ([], []) == ([m for m in batch if m in acknowledged], [m for m in batch if logged[m]])

    time.sleep(2.5)  # the dead worker's outbox and due leases end
    store = PostgresStore(pg_url, schema=schema)
    with SupportDesk(store=store, clock=SystemClock(), lease=timedelta(seconds=2)) as desk:
        now = desk.clock.now()
        again = desk.ingest_many(
            [
                InboundMessage(m, "email", "c@example.com", now, ticket_id=f"K-{n % 5}")
                for n, m in enumerate(batch, 60)
            ]
        )
        assert [False] * 10 == [getattr(r, "duplicate", None) for r in again]
    assert 70 == len(_logged_once(pg_url, schema, [*acknowledged, *batch]))


def test_a_worker_killed_in_a_tick_leaves_its_claims_to_expire_and_alerts_come_once(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """SIGKILL a worker in a tick, after it claimed the due tickets and before it wrote the
    first one's SLA alerts: acknowledged messages are in the log once, the claims are still
    held, and after the 2 s lease a new desk's tick takes the tickets over and every ticket
    ends with each of its alerts recorded exactly once (4 per ticket: 50/75/90 % and the
    breach of its first reply) and no claim left."""
    schema = new_schema()
    _prepare(pg_url, schema)
    acknowledged, _ = _kill_when_paused(pg_url, schema, "tick")
    _logged_once(pg_url, schema, acknowledged)
    held = _rows(pg_url, schema, "SELECT count(*) FROM due WHERE claimed_until IS NOT NULL")
    assert 0 < held[0][0]  # type: ignore[operator]

    time.sleep(2.5)
    store = PostgresStore(pg_url, schema=schema)
    with SupportDesk(store=store, clock=SystemClock(), lease=timedelta(seconds=2)) as desk:
        desk.tick(desk.clock.now() + timedelta(hours=3))
    alerts = _rows(pg_url, schema, "SELECT ticket_id, key FROM alerts")
    per_ticket = Counter(str(ticket) for ticket, _ in alerts)
    assert {f"K-{n}": 4 for n in range(5)} == dict(per_ticket)
    assert [] == _rows(pg_url, schema, "SELECT ticket_id FROM due WHERE claimed_until IS NOT NULL")
