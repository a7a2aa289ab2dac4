"""Ingest throughput of the full desk pipeline: in memory, on SQLite and on PostgreSQL.

Every message goes through ``SupportDesk.ingest``: idempotency check, CRM/tier lookup, SLA policy
selection and tracking, the due index, outbox rows for the built-in log notifier, routing (a
compare-and-set claim for new tickets) and the commit. A quarter of the messages open tickets,
the rest thread into recent ones; one in fifty is a redelivered duplicate. Reports events
appended per second and the p50/p99 latency of one ``ingest`` call; ``durability="full"``
(an fsync per commit, so bounded by the disk) runs on the first tenth of the messages.

``ingest_many`` runs (``--batch`` messages per call, one transaction each) follow each
store's ``ingest`` run on the same stream; their latencies are per batch (the time until its
messages are acknowledged).

PostgreSQL (the ``supportkit-postgres`` plugin, when installed and the server at
``SUPPORTKIT_POSTGRES_URL`` answers) runs with ``durability="full"``
(``synchronous_commit=on``) and 1, 2 and 4 processes on one database, each ingesting its own
stream (``--pg-messages`` through ``ingest``, ten times as many through ``ingest_many``);
events/s is all processes' events over the wall time from the first process's start (its desk
being built included) to the last one's end. As for the other stores, an event is a ticket
event the ingest appended: a new ticket's ``created``, ``sla_policy_applied``, ``message`` and
``assigned``, a follow-up's ``message``, a redelivery none; about 1.75 per message. The run
first measures one durable commit on the server (``postgres_commit_ms``): every ``ingest``
waits for one, so it bounds single-message throughput per process at about 1000 / that figure
commits per second.

Where ``ingest_many`` spends its time (cProfile, 4,000 messages, batches of 200, on SQLite):
before holding commits back, the store's part was about 12 statements per message (a third
of the run: ``execute`` 47 µs each under load 8, event JSON ~1/3 of the store's time); with
commits checked at once and written a statement per table at the end of the batch, about 3
statements remain per message (the idempotency lookup, the article search for suggestions,
and a version read for a new ticket), and the store's part is serialising rows (events,
snapshots, outbox payloads) plus those reads; the desk's own fold, SLA tracking, routing and
notices are the rest (as in memory). On PostgreSQL (cProfile, 1,000 messages in batches of
100): a batch opens with one round trip that claims its message ids and locks (or creates) the
tickets they name (``store.batch(messages)``), so most messages send no query of their own;
0.44 statements per message remain, over half of them the problem index read for each new
ticket (a plugin-state read), the rest each batch's read-ahead, flush and commit. Before, 3.3
statements per message, each a round trip costing milliseconds under load (the server waits
for a core); the desk process's CPU went from about 1.1 to 0.3 ms per message.

PostgreSQL ``ingest_many``, issue 16 (one process, 5,000 messages in batches of 100, each store
method and statement timed, load 4-5 on 2 cores). Before: 1,275 queries besides the batches'
own round trips, 1,217 of them the problem index read of each new ticket (0.5-1 ms each under
this load: a third of the wall time), and per batch ``BEGIN``, the read-ahead, the article
check, the flush and ``COMMIT`` a round trip each; psycopg dumping the bulk statements' array
parameters element by element in Python was a sixth of the desk process's CPU (cProfile on CPU
time). After: two round trips per batch (``BEGIN``, the read-ahead, the article check and the
plugin state entries the previous batch asked for more than once; then the held rows, the
unused claims and ``COMMIT``); a batch reads each plugin state entry at most once; bulk rows go
as one JSON array per statement. Desk process CPU 0.86-1.19 -> 0.62-0.72 s per 5,000 messages;
in four interleaved runs at load 5-6.5, one process 2,420-3,482 -> 3,680-4,228 events/s and
four 3,377-3,998 -> 4,962-6,208 (docs/postgres.md has more). A batch of 100 (about 50-65 ms of
wall time here) now spends about 13 ms on the desk process's CPU (the desk's own pipeline three
quarters of it: folds, SLA, routing, notifier outbox rows, event checks; the store's part is
mostly turning events and snapshots into JSON), about 20 ms waiting for the server to run the
held rows' statements (events and outbox rows the largest: 1.7 events and 2.3 outbox rows per
message) and 6-11 ms for ``COMMIT`` (its WAL flush: 3.4 KB of WAL per message), 4 ms for the
read-ahead; the server process used about 10 ms of CPU per batch, and the rest is waiting for a
core. One ``ingest`` (500 messages, ``postgres_commit_ms`` about 3): about 5.4 ms per message, of
which the commit (one pipeline: a round trip plus the WAL flush) 4.2 ms, the article search 0.6
ms (a full-text query even when no article is published), the idempotency lookup 0.3 ms and,
for a new ticket, the problem index and version reads; a process through ``ingest`` is bounded
near 1000 / ``postgres_commit_ms`` commits a second (about 1.75 events each), far below 3,000
events/s, so that target is for ``ingest_many``.

Targets (issue 9): at least 20,000 events/s in memory and 3,000 events/s durable on SQLite.
Issue 16: at least 3,000 events/s on PostgreSQL with one process and 1.5x that with four.
Issue 23: ``ingest_many`` at least 15,000 events/s on SQLite (synchronous=NORMAL); one
``ingest`` at a time, at least 30,000 events/s in memory and 5,000 on SQLite.

Where the time of one ``ingest`` goes (py-spy, 20,000 messages in memory, issue 23): no single
hot spot. Before: the commit path about 60 % (the outbox rows of the log notifier 17 %, the
memory store's commit 8 %, the SLA tracker's next alert 8 %, feeding the router 7 %, choosing
a new ticket's agent 7 %), building and checking events 13 % (5 % of it the ``os.urandom``
system call behind each event id), knowledge-base suggestions 5.5 %, problem suggestions 4 %,
sorting the plugin list and each hook's implementations again on every call (~2 %), and an
exception raised and caught to learn that the router has not seen a new ticket (~1.5 %). The
cyclic garbage collector adds 10-15 % of the wall time (a large live heap). After: event ids
are drawn 256 at a time, the plugin host keeps its sorted answers until registrations
change, the desk asks the router whether it knows the ticket, and the new ticket's agent is
the top of its lane's rank heap (see bench_routing.py) instead of the strategy ranking every
candidate: about 5-7 % less CPU per message in interleaved runs at load ~10, short of the
target, which would need the outbox rows, event checks and SLA lookups to cost a fraction of
what they do. On SQLite a third of the samples are the transaction's ``COMMIT`` (its WAL
writes), most of the rest the same pipeline plus JSON encoding of events and outbox rows.

Second pass (issue 23; 20,000 messages, CPU time, load 3-5 on 2 cores). py-spy's per-line
shares mislead on Python 3.11: the cyclic collector runs inside whichever allocation crosses
its threshold, so its pauses land on constructor lines. Switching one part off in the same
process (same stream, runs interleaved, median of 4-6) measures its real cost instead. In
memory, before: the outbox rows of the log notifier about a quarter of the CPU (21,900 ->
28,500 events per CPU second without them: building them half, the sidecar storing them
half), knowledge-base suggestions 5 %, problem suggestions 4 %, the cyclic collector 15-20 %
(25,600 with it off, 23,200 with a generation-0 threshold of 20,000: a host with a large live
heap may tune that; this benchmark keeps the defaults); the SLA tracker's next alert and
routing are most of the rest. On SQLite one ``ingest`` writes about 14 WAL pages (the event
and its two unique indexes, the stream, the message id, the due row and its indexes, the
outbox rows and their two indexes) and SQLite checkpointed every 1,000 pages (~66 commits),
copying and syncing the same hot pages again: ``COMMIT`` was a quarter to a third of the CPU
and the syncs most of the wall time beyond it. A batch writes 2-4 pages per message (random
event ids and outbox keys spread its index inserts over many leaves; ids ordered within a
block measured only ~1 % at this size), and SQLite's own work (inserts and ``COMMIT``) is
about 40 % of ``ingest_many``'s CPU: the same desk on PostgreSQL, whose server does that
work, spends about 15,000 events per CPU second. After: the WAL is checkpointed every 10,000
pages (``WAL_CHECKPOINT_PAGES``: +12 % events per CPU second through ``ingest`` and
``ingest_many``, toggled in one process), one JSON encoder serves every row, due instants and
snapshots are upserted in place (a due move wrote 6 pages, now 2), outbox rows are built with
less allocation (``rows()`` 8.0 -> 6.4 µs per call), event text checks and ``to_dict`` take a
fast path for plain values, and problem scoring is skipped while the store lists no problem.
Tried and dropped: reading a batch's message ids and ticket versions ahead in one statement
(slower than the primary-key lookups it saves), skipping article search inside a batch while
no article is published (5 % at most). Three interleaved ``--quick`` runs, before (0424214)
-> after (with the other helpers' work landed meanwhile, e.g. the SQLite article search), load
3.6-4.0: in memory 19,000-20,700 -> 20,500-21,300 events per CPU second (12,800-16,100 ->
13,900-16,800 events/s); SQLite ``ingest`` 5,100-5,300 -> 6,000-6,600 per CPU second and
2,000-2,200 -> 3,500-3,900 events/s (p99 12.8-13.7 -> 4.6-4.9 ms); ``ingest_many`` 8,600-8,800
-> 10,100-10,600 per CPU second and 4,100-4,300 -> 6,100-6,500 events/s. Targets: single
SQLite ``ingest`` reaches 5,000 events/s only when the process has a core to itself (its CPU
rate is 6,000-6,600); ``ingest_many`` 15,000 on SQLite and 30,000 in memory are not met (about
0.7x in CPU terms for both): the rest is the outbox rows, SLA and routing work per event and
SQLite's own inserts, none of which a local change removes.

Third pass (issue 23, session 7; a shared machine about 2.5x slower than the earlier ones, where
back-to-back runs of the same code spread by 15-20 %: before/after figures here come from pairs
of runs started together, one per core, so both see the same load; the median of the pairs'
ratios). Where the time goes in memory, per-stage process CPU timers around one ``ingest`` each
(20,000 messages, the collector off): outbox rows 8-10 %, a new ticket's opening events
(customer, tier, policy, ``created`` and ``sla_policy_applied``) 8 %, feeding the router 7 %, the
SLA due instant 7 %, the store's commit 7 %, choosing a new ticket's agent 6 %, knowledge-base
suggestions 5 %, the SLA tracker's ``apply`` 4-6 %, problem suggestions 2 %; building
``TicketEvent``, ``Ticket``, ``OutboxMessage``, ``Commit`` and ``IngestResult`` values is a
sixth of it, spread over those stages. The cyclic collector adds 12-20 % of the process CPU
(``gc.callbacks``), almost all of it full collections: each walks the whole live heap (here
~0.9 µs per tracked object), and the in-memory store's growing log (an event and its data's
mapping proxy are two tracked objects) brings one every 25 % of growth. On SQLite, one
``ingest`` is about 12 statements, a quarter of its CPU the transaction's ``BEGIN``/``COMMIT``
(about 28 ``pwrite`` calls a message for its WAL frames); in ``ingest_many``, before, every
message's article suggestion ran a count statement (kept phrase counts were not used inside a
batch: 7 % of its CPU, py-spy); after, once per batch; the rest is the ``COMMIT`` (10 %) and the
held rows' inserts (20 %, JSON of events and outbox rows the largest part). Also after: a UTC
instant converts to epoch seconds without asking for its offset (``to_epoch`` ~45 % faster, 4
calls a message), and ``next_alert`` with emitted keys no longer works out the unreached
warnings' instants. Paired runs, before (31ad77f) -> after, load 2.6-3.0, events per CPU second
(median ratio, range): in memory ``ingest`` x1.04 (0.96-1.12; 6,300-8,900 -> 6,600-9,100),
``ingest_many`` x1.03 (1.00-1.07); SQLite ``ingest`` x1.02 (0.99-1.03; 2,400-2,500), SQLite
``ingest_many`` x1.15 (1.07-1.19; 3,600-4,200 -> 4,200-5,000). Left: no single stage is above
a tenth; the rest is the per-event work of each stage and the collector's walks of the store's
log, which a local change does not remove.

Fourth pass (issue 23): the duplicated work an earlier review listed, checked with callgrind (2,000
messages; it counts the same under load; start-up alone is 2,102 M instructions, 2,111 M on SQLite)
and gc counts. The SLA tracker folded every appended event into a lifecycle fold of its own beside
the desk's: a ticket with a tracker now has the tracker's fold as its own (``_Live.apply``): the
ingest's instructions 1,148-1,150 M -> 1,143 M (-0.5 %; on SQLite 2,146-2,151 M -> 2,144-2,146 M,
about its run-to-run spread), one tracked object fewer per ticket (6.44 -> 6.20 left per message).
Not repeats: a new ticket's ``Ticket`` is built once for the policy choice (as ``created`` leaves
it) and once more for its snapshot (after the opening events). Kept: the router builds a new
ticket's state in ``choose_new`` (before the commit, changing nothing) and again when the committed
``created`` is applied (``_routed`` and ``_requirements``, about 2 % of the CPU): sharing it would
hand router state across the commit. The cyclic collector is 10-12 % of the CPU at 20,000 messages
(3 full collections, each walking the whole heap), driven by what each message leaves tracked: an
event and its data's mapping proxy (1.7 events a message), and per new ticket its log, fold,
tracker, live state, router state, snapshot and the created notice's outbox row; none of it is
spare. CPU-time runs (interleaved, 6,000 messages, load 3.5-4.4) spread by 20 % and do not resolve
a 0.5 % change. On SQLite the article search of every public message (a read transaction and the
index-state query, even with no article published) costs about 33 µs, some 5 % of ``ingest``.

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

from figures import add_options, finish, load_line

from supportkit import Agent, FrozenClock, InboundMessage, IngestResult, InMemoryStore, Tier
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


def ingest_all(
    store: object, stream: list[InboundMessage], batch: int = 0
) -> tuple[int, float, list[int]]:
    """Ingest *stream* into a fresh desk on *store*; return events, seconds and latencies (ns).

    With *batch*, through ``ingest_many`` in batches of that many messages (one transaction
    each; the clock stands at the batch's last message); a latency is then one batch's: the
    time until its messages are acknowledged."""
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
    if batch:
        for start in range(0, len(stream), batch):
            chunk = stream[start : start + batch]
            clock.set(chunk[-1].at)
            begin = time.perf_counter_ns()
            results = desk.ingest_many(chunk)
            latencies.append(time.perf_counter_ns() - begin)
            for outcome in results:
                if not isinstance(outcome, IngestResult):
                    raise outcome  # the stream holds valid messages only
                events += len(outcome.events)
    for message in [] if batch else stream:
        clock.set(message.at)
        begin = time.perf_counter_ns()
        result = desk.ingest(message)
        latencies.append(time.perf_counter_ns() - begin)
        events += len(result.events)
    elapsed = time.perf_counter() - started
    desk.close()
    return events, elapsed, latencies


def percentiles(latencies: list[int]) -> tuple[float, float]:
    """p50 and p99 of *latencies* (ns) in µs."""
    ordered = sorted(latencies)
    return statistics.median(ordered) / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def report(label: str, count: int, events: int, elapsed: float, latencies: list[int]) -> str:
    """One result line; returns the rest of the line's text for callers that add to it."""
    p50, p99 = percentiles(latencies)
    return (
        f"{label:<22} {count:>8} msgs {events:>8} events {elapsed:7.2f} s "
        f"{events / elapsed:>9,.0f} events/s {count / elapsed:>8,.0f} msgs/s "
        f"p50 {p50:7.1f} µs  p99 {p99:8.1f} µs"
    )


def run(
    label: str, store: object, stream: list[InboundMessage], batch: int = 0
) -> tuple[float, float, float]:
    """Events per wall second, events per CPU second and the p99 latency in µs."""
    collector = _Collector()
    gc.callbacks.append(collector)
    cpu_started = time.process_time()
    events, elapsed, latencies = ingest_all(store, stream, batch)
    cpu = time.process_time() - cpu_started
    gc.callbacks.remove(collector)
    print(
        f"{report(label, len(stream), events, elapsed, latencies)}  (cyclic GC "
        f"{collector.seconds:5.1f} s; process CPU {cpu:6.2f} s = {events / cpu:,.0f} events "
        "per CPU second)"
    )
    return events / elapsed, events / cpu, percentiles(latencies)[1]


def _postgres_process(
    url: str, schema: str, stream: list[InboundMessage], batch: int, start: Any, results: Any
) -> None:
    from supportkit_postgres import PostgresStore

    store = PostgresStore(url, schema=schema, durability="full")
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    events, elapsed, latencies = ingest_all(store, stream, batch)
    results.put((began, began + elapsed, events, latencies, time.process_time() - cpu))


def postgres_url() -> str | None:
    """The server's URL if the plugin is installed and the server answers, else ``None``."""
    url = os.environ.get("SUPPORTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg
        import supportkit_postgres  # noqa: F401 - only: is it installed

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any reason to skip is reported, not raised
        print(f"postgres: skipped ({exc}); install plugins/postgres and start PostgreSQL")
        return None
    return url


def commit_ms(url: str, rounds: int = 100) -> float:
    """Milliseconds per durable one-row commit on the server (``synchronous_commit=on``):
    the WAL flush (fsync) every acknowledged transaction waits for, plus a round trip."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")
        table = f"bench_fsync_{os.getpid()}"  # a fixed-form name
        conn.execute(f"CREATE TABLE {table} (n integer)")
        try:
            started = time.perf_counter()
            for n in range(rounds):
                conn.execute(f"INSERT INTO {table} VALUES (%s)", (n,))  # one commit each
            return (time.perf_counter() - started) / rounds * 1000
        finally:
            conn.execute(f"DROP TABLE {table}")


def postgres(
    url: str, count: int, seed: int, batch: int
) -> dict[int, tuple[float, float, float, float]]:
    """Per process count (1, 2, 4 on one database, a fresh schema each):
    ``(events/s, events per CPU second of the desks, p50 µs, p99 µs)``, through ``ingest``
    (*batch* 0) or ``ingest_many``, with ``durability="full"`` (``synchronous_commit=on``)."""
    import psycopg
    from supportkit_postgres import PostgresStore

    figures = {}
    context = multiprocessing.get_context("fork")
    for processes in (1, 2, 4):
        schema = f"bench_{os.getpid()}_{processes}"
        streams = [messages(count, seed + k, prefix=f"p{k}-") for k in range(processes)]
        start, queue = context.Barrier(processes), context.Queue()
        try:
            PostgresStore(url, schema=schema).close()  # create and migrate once
            workers = [
                context.Process(
                    target=_postgres_process, args=(url, schema, s, batch, start, queue)
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
        wall = max(r[1] for r in results) - min(r[0] for r in results)
        events = sum(r[2] for r in results)
        latencies = [latency for r in results for latency in r[3]]
        cpu = sum(r[4] for r in results)
        p50, p99 = percentiles(latencies)
        figures[processes] = (events / wall, events / cpu, p50, p99)
        label = f"postgres {'many' if batch else 'single'} x{processes}"
        print(
            f"{report(label, count * processes, events, wall, latencies)}  (desks' CPU "
            f"{cpu:6.2f} s = {events / cpu:,.0f} events per CPU second)"
        )
    return figures


def sqlite_runs(stream: list[InboundMessage], batch: int) -> dict[str, float]:
    """The SQLite runs (``ingest`` and ``ingest_many``, synchronous NORMAL and FULL) and their
    figures."""
    count = len(stream)
    with tempfile.TemporaryDirectory() as tmp:
        normal, normal_cpu, _ = run("sqlite normal (WAL)", SqliteStore(Path(tmp) / "n.db"), stream)
        many, many_cpu, many_p99 = run(
            f"sqlite normal many/{batch}", SqliteStore(Path(tmp) / "m.db"), stream, batch
        )
        # durability="full" pays one fsync per commit, so it runs on the first tenth of the
        # stream (the rate is bounded by the disk, not by the message count).
        full, _, _ = run(
            "sqlite full (fsync)",
            SqliteStore(Path(tmp) / "f.db", durability="full"),
            stream[: max(1, count // 10)],
        )
        full_many, _, _ = run(
            f"sqlite full many/{batch}",
            SqliteStore(Path(tmp) / "g.db", durability="full"),
            stream[: max(1, count // 10)],
            batch,
        )
    print(
        f"targets: sqlite ingest_many (synchronous=NORMAL) >= 15,000 events/s "
        f"({many / 15_000:.2f}x); single-message sqlite >= 5,000 ({normal / 5_000:.2f}x; "
        f"durable >= 3,000 in issue 9: {normal / 3_000:.2f}x normal, {full / 3_000:.2f}x full); "
        f"{load_line()}"
    )
    return {
        "sqlite_events_per_s": normal,
        "sqlite_cpu_events_per_s": normal_cpu,
        "sqlite_full_events_per_s": full,
        "sqlite_many_events_per_s": many,
        "sqlite_many_cpu_events_per_s": many_cpu,
        "sqlite_many_batch_p99_us": many_p99,
        "sqlite_full_many_events_per_s": full_many,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "20,000 messages instead of 200,000")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="messages per ingest_many call in the batch runs (default 100)",
    )
    parser.add_argument(
        "--pg-messages",
        type=int,
        default=None,
        help="messages per PostgreSQL process through ingest (default 2,000; 500 with "
        "--quick); ingest_many runs get ten times as many",
    )
    parser.add_argument(
        "--stores",
        default="memory,sqlite,postgres",
        help="the stores to run, comma-separated (default memory,sqlite,postgres); figures of "
        "the others are left out",
    )
    args = parser.parse_args()
    stores = {name.strip() for name in args.stores.split(",") if name.strip()}
    unknown = stores - {"memory", "sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s) {', '.join(sorted(unknown))}: use memory, sqlite, postgres")
    count = args.messages or (20_000 if args.quick else 200_000)
    # A first desk imports the installed plugins (entry points), outside every timed run: the
    # process CPU time of the first run counted those imports (about 0.3 s).
    ingest_all(InMemoryStore(), messages(200, args.seed + 1))
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
    figures: dict[str, float] = {}
    batch = args.batch
    if "memory" in stores:
        memory, memory_cpu, memory_p99 = run("in-memory", InMemoryStore(), stream)
        memory_many, _, _ = run(f"in-memory many/{batch}", InMemoryStore(), stream, batch)
        figures |= {
            "memory_events_per_s": memory,
            "memory_cpu_events_per_s": memory_cpu,
            "memory_p99_us": memory_p99,
            "memory_many_events_per_s": memory_many,
        }
        print(
            f"target: in-memory ingest >= 30,000 events/s ({memory / 30_000:.2f}x; issue 9 "
            f"asked 20,000: {memory / 20_000:.2f}x); {load_line()}"
        )
    if "sqlite" in stores:
        figures |= sqlite_runs(stream, batch)
    url = postgres_url() if "postgres" in stores else None
    if url is not None:
        fsync = commit_ms(url)
        figures["postgres_commit_ms"] = fsync
        print(
            f"postgres: one durable commit (synchronous_commit=on, WAL fsync) takes {fsync:.2f} "
            f"ms here: at most {1000 / fsync:,.0f} commits/s per connection"
        )
        pg_count = args.pg_messages or (500 if args.quick else 2_000)
        for mode, size, number in (("single", 0, pg_count), ("many", batch, pg_count * 10)):
            pg = postgres(url, number, args.seed, size)
            name = "postgres_full" if mode == "single" else "postgres_full_many"
            for k, (rate, cpu_rate, p50, p99) in pg.items():
                figures |= {
                    f"{name}_{k}p_events_per_s": rate,
                    f"{name}_{k}p_cpu_events_per_s": cpu_rate,
                    f"{name}_{k}p_p50_us": p50,
                    f"{name}_{k}p_p99_us": p99,
                }
            print(
                f"postgres {mode} (synchronous_commit=on): 1 process >= 3,000 events/s "
                f"({pg[1][0] / 3_000:.2f}x), 4 processes >= 1.5x one ({pg[4][0] / pg[1][0]:.2f}x)"
                f"; {load_line()}"
            )
    finish(args, figures)


if __name__ == "__main__":
    main()
