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

import psycopg
from psycopg import sql
from supportkit_postgres import PostgresStore

from supportkit import SupportDesk, SystemClock

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


def _spawn(url: str, schema: str, worker: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, schema, worker, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(url: str, schema: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        return conn.execute(query).fetchall()  # type: ignore[call-overload, no-any-return]


def test_four_workers_lose_and_repeat_nothing(pg_url: str, new_schema: Callable[[], str]) -> None:
    """Four processes ingest the same 160 message ids (into 16 shared tickets), reply, claim,
    tick and deliver at once: every message is in the log exactly once and every worker
    agrees on its ticket; every acknowledged reply is there once; no two won claims at one
    version; the alerts the workers emitted are exactly the recorded ones; every outbox row
    was delivered, never by two workers at once."""
    schema = new_schema()
    _prepare(pg_url, schema)
    workers = [_spawn(pg_url, schema, f"w{n}", "mix") for n in range(4)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert 0 == worker.returncode, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

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


def test_a_killed_worker_loses_nothing_and_its_leases_are_taken_over(
    pg_url: str, new_schema: Callable[[], str]
) -> None:
    """SIGKILL a worker that ingests, ticks and is stuck in a delivery (holding outbox
    leases): every message it acknowledged is in the log once, and after the 2 s lease a new
    desk delivers every outbox row and ticks every due ticket."""
    schema = new_schema()
    _prepare(pg_url, schema)
    worker = _spawn(pg_url, schema, "k", "forever")
    assert worker.stdout is not None
    acknowledged: list[str] = []
    blocked = False
    deadline = time.monotonic() + 120
    while not (blocked and len(acknowledged) >= 60) and time.monotonic() < deadline:
        line = worker.stdout.readline()
        if not line:
            break
        if line.startswith("ack "):
            acknowledged.append(line.split()[1])
        blocked = blocked or line.startswith("blocked")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    worker.stdout.close()
    assert worker.stderr is not None
    worker.stderr.close()
    assert blocked, "the worker never got stuck in a delivery"
    assert len(acknowledged) >= 60

    leased = _rows(
        pg_url,
        schema,
        "SELECT count(*) FROM outbox WHERE status = 'pending'"
        " AND next_attempt_at > extract(epoch FROM now())",
    )[0][0]
    logged = Counter(
        str(m)
        for (m,) in _rows(
            pg_url,
            schema,
            "SELECT body::json->>'message_id' FROM events WHERE body::json->>'kind' = 'message'",
        )
    )
    assert [] == [m for m in acknowledged if logged[m] != 1]
    assert 0 < leased  # the dead worker held leases

    time.sleep(2.5)
    store = PostgresStore(pg_url, schema=schema)
    with SupportDesk(store=store, clock=SystemClock(), lease=timedelta(seconds=2)) as desk:
        while desk.deliver(limit=100).delivered:
            pass
        assert [] == desk.outbox("pending")
        desk.tick(desk.clock.now() + timedelta(hours=3))
        assert [] == _rows(
            pg_url, schema, "SELECT ticket_id FROM due WHERE claimed_until IS NOT NULL"
        )
