"""Ingest throughput of the full desk pipeline: in memory, on SQLite and on PostgreSQL.

Every message goes through ``SupportDesk.ingest``: idempotency check, CRM/tier lookup, SLA policy
selection and tracking, the due index, outbox rows for the built-in log notifier, routing (a
compare-and-set claim for new tickets) and the commit. A quarter of the messages open tickets,
the rest thread into recent ones; one in fifty is a redelivered duplicate. Reports events
appended per second and the p50/p99 latency of one ``ingest`` call; ``durability="full"``
(an fsync per commit, so bounded by the disk) runs on the first tenth of the messages.

PostgreSQL (the ``supportkit-postgres`` plugin, when installed and the server at
``SUPPORTKIT_POSTGRES_URL`` answers; ``synchronous_commit`` as the server has it, ``on`` by
default) runs with 1, 2 and 4 processes on one database, each ingesting its own stream of
``--pg-messages`` messages; events/s is all processes' events over the wall time. It runs
with ``durability="full"`` (``synchronous_commit=on``, the issue's setting) and ``"normal"``
(``off``).

Targets (issue 9): at least 20,000 events/s in memory and 3,000 events/s durable on SQLite.
Issue 16: at least 3,000 events/s on PostgreSQL with one process and 1.5x that with four.

    python benchmarks/bench_desk.py           # 200,000 messages per store
    python benchmarks/bench_desk.py --quick   # 20,000
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import add_options, finish

from supportkit import Agent, FrozenClock, InboundMessage, InMemoryStore, Tier
from supportkit._desk import SupportDesk
from supportkit._routing import Router
from supportkit._sla import SlaPolicy
from supportkit._sqlite import SqliteStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICIES = [
    SlaPolicy.from_dict(
        {
            "name": "enterprise",
            "conditions": {"tier": ["enterprise"]},
            "targets": {
                p: {
                    "first_reply": {"minutes": 30, "business": False},
                    "next_reply": {"minutes": 60, "business": False},
                    "total_resolution": {"minutes": 1440, "business": False},
                }
                for p in ("low", "normal", "high", "urgent")
            },
        }
    ),
    SlaPolicy.from_dict(
        {
            "name": "standard",
            "targets": {
                p: {
                    "first_reply": {"minutes": 240, "business": False},
                    "total_resolution": {"minutes": 4320, "business": False},
                }
                for p in ("low", "normal", "high", "urgent")
            },
        }
    ),
]
TIERS = [
    Tier("enterprise", weight=100, sla_policy="enterprise"),
    Tier("pro", weight=10),
    Tier("free", weight=0),
]


def messages(count: int, seed: int, prefix: str = "") -> list[InboundMessage]:
    """A reproducible stream: new tickets, threaded follow-ups and a few redeliveries."""
    rng = random.Random(seed)
    result: list[InboundMessage] = []
    tickets: list[str] = []
    at = T0
    for n in range(count):
        at += timedelta(seconds=rng.randint(0, 2))
        if result and rng.random() < 0.02:
            result.append(result[rng.randrange(len(result))])
            continue
        ticket = None
        if tickets and rng.random() < 0.75:
            ticket = tickets[rng.randrange(max(0, len(tickets) - 500), len(tickets))]
        else:
            ticket = f"{prefix}B-{n}"
            tickets.append(ticket)
        result.append(
            InboundMessage(
                f"{prefix}msg-{n}",
                rng.choice(("email", "chat", "web")),
                f"customer-{rng.randrange(5000)}@example.com",
                at,
                body="hello",
                ticket_id=ticket,
            )
        )
    return result


class _Collector:
    """Adds up the time the cyclic garbage collector pauses the run (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


def tier_of(sender: str) -> str:
    number = int(sender.split("-")[1].split("@")[0])
    return "enterprise" if number % 10 == 0 else "pro" if number % 3 == 0 else "free"


def ingest_all(store: object, stream: list[InboundMessage]) -> tuple[int, float, list[int]]:
    """Ingest *stream* into a fresh desk on *store*; return events, seconds and latencies (ns)."""
    clock = FrozenClock(T0)
    agents = [
        Agent(f"agent-{i}", capacity={"email": 10_000, "chat": 10_000, "web": 10_000})
        for i in range(20)
    ]
    desk = SupportDesk(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        policies=POLICIES,
        tiers=TIERS,
        router=Router(agents, tiers=TIERS, clock=clock),
    )
    # Tiers come from the watchlist, like a CRM lookup without I/O.
    for tier in TIERS:
        members = {m.sender for m in stream if tier_of(m.sender) == tier.name}
        desk.tiers[tier.name] = Tier(
            tier.name, weight=tier.weight, sla_policy=tier.sla_policy, watchlist=members
        )
    latencies: list[int] = []
    events = 0
    started = time.perf_counter()
    for message in stream:
        clock.set(message.at)
        begin = time.perf_counter_ns()
        result = desk.ingest(message)
        latencies.append(time.perf_counter_ns() - begin)
        events += len(result.events)
    elapsed = time.perf_counter() - started
    desk.close()
    return events, elapsed, latencies


def report(label: str, count: int, events: int, elapsed: float, latencies: list[int]) -> str:
    """One result line; returns the rest of the line's text for callers that add to it."""
    latencies.sort()
    p50 = statistics.median(latencies) / 1000
    p99 = latencies[int(len(latencies) * 0.99)] / 1000
    return (
        f"{label:<22} {count:>8} msgs {events:>8} events {elapsed:7.2f} s "
        f"{events / elapsed:>9,.0f} events/s {count / elapsed:>8,.0f} msgs/s "
        f"p50 {p50:7.1f} µs  p99 {p99:8.1f} µs"
    )


def run(label: str, store: object, stream: list[InboundMessage]) -> tuple[float, float, float]:
    """Events per wall second, events per CPU second and the p99 latency in µs."""
    collector = _Collector()
    gc.callbacks.append(collector)
    cpu_started = time.process_time()
    events, elapsed, latencies = ingest_all(store, stream)
    cpu = time.process_time() - cpu_started
    gc.callbacks.remove(collector)
    print(
        f"{report(label, len(stream), events, elapsed, latencies)}  (cyclic GC "
        f"{collector.seconds:5.1f} s; process CPU {cpu:6.2f} s = {events / cpu:,.0f} events "
        "per CPU second)"
    )
    return events / elapsed, events / cpu, latencies[int(len(latencies) * 0.99)] / 1000


def _postgres_process(
    url: str, schema: str, durability: str, stream: list[InboundMessage], start: Any, results: Any
) -> None:
    from supportkit_postgres import PostgresStore

    store = PostgresStore(url, schema=schema, durability=durability)
    start.wait()
    began = time.perf_counter()
    events, elapsed, latencies = ingest_all(store, stream)
    results.put((began, began + elapsed, events, latencies))


def postgres(count: int, seed: int, durability: str) -> dict[int, float]:
    """Ingest rates with 1, 2 and 4 processes on one PostgreSQL database (a fresh schema
    per run); empty when the plugin or the server is missing."""
    url = os.environ.get("SUPPORTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg
        from supportkit_postgres import PostgresStore

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any reason to skip is reported, not raised
        print(f"postgres: skipped ({exc}); install plugins/postgres and start PostgreSQL")
        return {}
    rates = {}
    context = multiprocessing.get_context("fork")
    for processes in (1, 2, 4):
        schema = f"bench_{os.getpid()}_{processes}"
        streams = [messages(count, seed + k, prefix=f"p{k}-") for k in range(processes)]
        start, queue = context.Barrier(processes), context.Queue()
        try:
            PostgresStore(url, schema=schema).close()  # create and migrate once
            workers = [
                context.Process(
                    target=_postgres_process, args=(url, schema, durability, s, start, queue)
                )
                for s in streams
            ]
            for worker in workers:
                worker.start()
            results = [queue.get() for _ in workers]
            for worker in workers:
                worker.join()
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a fixed-form name
        wall = max(end for _, end, _, _ in results) - min(began for began, _, _, _ in results)
        events = sum(r[2] for r in results)
        latencies = [latency for r in results for latency in r[3]]
        rates[processes] = events / wall
        label = f"postgres {durability} x{processes}"
        print(report(label, count * processes, events, wall, latencies))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "20,000 messages instead of 200,000")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-messages",
        type=int,
        default=None,
        help="messages per PostgreSQL process (default 5,000; 2,000 with --quick)",
    )
    args = parser.parse_args()
    count = args.messages or (20_000 if args.quick else 200_000)
    stream = messages(count, args.seed)
    # No gc.freeze(): the collector sees the generated stream like any other live data (with
    # it frozen, full collections come more often, as the live heap they measure is smaller).
    gc.collect()
    # Wall-clock rates drop when other processes share the cores: the load and each run's
    # CPU time say how much.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"supportkit desk ingest, {count:,} messages through the full pipeline "
        f"(load average {load} on {os.cpu_count()} cores)"
    )
    memory, memory_cpu, memory_p99 = run("in-memory", InMemoryStore(), stream)
    with tempfile.TemporaryDirectory() as tmp:
        normal, normal_cpu, _ = run("sqlite normal (WAL)", SqliteStore(Path(tmp) / "n.db"), stream)
        # durability="full" pays one fsync per commit, so it runs on the first tenth of the
        # stream (the rate is bounded by the disk, not by the message count).
        full, _, _ = run(
            "sqlite full (fsync)",
            SqliteStore(Path(tmp) / "f.db", durability="full"),
            stream[: max(1, count // 10)],
        )
    figures = {
        "memory_events_per_s": memory,
        "memory_cpu_events_per_s": memory_cpu,
        "memory_p99_us": memory_p99,
        "sqlite_events_per_s": normal,
        "sqlite_cpu_events_per_s": normal_cpu,
        "sqlite_full_events_per_s": full,
    }
    pg_count = args.pg_messages or (2_000 if args.quick else 5_000)
    for durability in ("full", "normal"):  # synchronous_commit on, off
        pg = postgres(pg_count, args.seed, durability)
        if pg:
            figures |= {f"postgres_{durability}_{k}p_events_per_s": r for k, r in pg.items()}
            print(
                f"postgres {durability}: 1 process >= 3,000 events/s ({pg[1] / 3_000:.2f}x), "
                f"4 processes >= 1.5x one ({pg[4] / pg[1]:.2f}x); sqlite normal / postgres 1 "
                f"process = {normal / pg[1]:.1f}x; load average now "
                + ", ".join(f"{x:.2f}" for x in os.getloadavg())
            )
    print(
        f"targets: in-memory >= 20,000 events/s ({memory / 20_000:.2f}x), "
        f"sqlite durable >= 3,000 events/s ({normal / 3_000:.2f}x normal, "
        f"{full / 3_000:.2f}x full); sqlite normal is {memory / normal:.1f}x slower than memory"
    )
    finish(args, figures)


if __name__ == "__main__":
    main()
