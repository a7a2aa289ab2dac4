"""A worker process for the multi-process tests (run as a script, never imported by pytest).

``python pgworker.py URL SCHEMA WORKER MODE``:

- ``mix``: ingest 160 messages with ids shared by every worker (threaded into 16 tickets),
  reply, claim, tick and deliver between them, then drain the outbox; print a JSON summary.
- ``batches``: the same 160 message ids through ``ingest_many``, ten at a time; print a
  JSON summary.
- ``forever``: ingest, deliver and tick in three threads until killed, printing ``ack ID`` for
  every acknowledged message; with ``PAUSE`` (the fifth argument) it stops at one point and
  prints ``paused``, so the test can SIGKILL it exactly there:

  - ``deliver``: in a delivery (once 30 messages were acknowledged), holding outbox leases;
  - ``ingest``: in the middle of an ``ingest_many`` batch (messages are ingested ten at a
    time here), right after the commit of the batch's sixth message was written into the
    batch's open transaction;
  - ``tick``: in a tick, after it claimed the due tickets and before it commits the first
    ticket's SLA alerts (once 30 messages were acknowledged).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from supportkit_postgres import PostgresStore

from supportkit import (
    Commit,
    FrozenClock,
    InboundMessage,
    IngestResult,
    SlaPolicy,
    StoreError,
    SupportDesk,
    SystemClock,
    hookimpl,
)
from supportkit.typing import Notice, Notifier

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {"name": "fast", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
)
MESSAGES = 160
R = TypeVar("R")
TICKETS = 16


class RecordingStore(PostgresStore):
    """Records, per delivered outbox key, when this worker claimed it and when it settled."""

    def __init__(self, *args: Any, worker: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker = worker
        self._claimed: dict[str, float] = {}

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[Any]:
        got = super().claim_outbox(now, limit=limit, lease=lease)
        at = time.time()
        for message in got:
            self._claimed[message.key] = at
        return got

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
        deferred: Sequence[tuple[str, str, int]] = (),
    ) -> None:
        super().settle_outbox(at, delivered, failed, deferred)
        done = time.time()
        rows = [
            (k, self.worker, self._claimed.pop(k), done) for k in delivered if k in self._claimed
        ]
        if rows:
            self._run(
                "record deliveries",
                lambda cur: cur.executemany(
                    "INSERT INTO deliveries (key, worker, claimed, settled)"
                    " VALUES (%s, %s, %s, %s)",
                    rows,
                ),
            )


class PausingStore(PostgresStore):
    """Stops the worker for good inside :meth:`commit` at the point ``pause`` names."""

    def __init__(self, *args: Any, pause: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pause = pause
        self.ready = threading.Event()  # set once enough messages were acknowledged

    def commit(self, commit: Commit) -> int:
        if self.pause == "tick" and commit.alerts and self.ready.is_set():
            stop()  # the due tickets are claimed; the alerts are not written
        version = super().commit(commit)
        message = commit.message[1] if commit.message is not None else ""
        if self.pause == "ingest" and self.ready.is_set() and message.endswith("-65"):
            # Written into the open batch, which has not committed; say which server process
            # holds that transaction, so the test can look at it.
            stop(self._local.batch.cur.connection.info.backend_pid)
        return version


def stop(backend: int = 0) -> None:
    print(f"paused {backend}", flush=True)
    time.sleep(3600)


class Slow:
    """A notifier that takes a little time; once *hang* is set, its next call hangs."""

    def __init__(self, hang: threading.Event | None = None) -> None:
        self.hang = hang

    def notify(self, notice: Notice) -> None:
        if self.hang is not None and self.hang.is_set():
            stop()
        time.sleep(0.001)

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Notifier], None]) -> None:
        register("slow", self)


def mix(url: str, schema: str, worker: str) -> None:
    store = RecordingStore(url, schema=schema, worker=worker, max_size=2)
    clock = FrozenClock(T0)
    desk = SupportDesk(
        store=store,
        clock=clock,
        plugins=[Slow()],
        # the messages say channel "email" but nothing sends there: keep the email plugin's
        # receive-only channel (installed beside this one by `nox -s plugins`) off the desk
        blocked_plugins=["email"],
        policies=[POLICY],
    )
    order = list(range(MESSAGES))
    random.Random(worker).shuffle(order)
    ingested, replies, claims, alerts = [], [], [], 0
    for step, n in enumerate(order):
        ticket = f"T-{n % TICKETS}"
        message = InboundMessage(
            f"m-{n}", "email", f"c{n % TICKETS}@example.com", T0, ticket_id=ticket, body=f"{n}"
        )
        result = desk.ingest(message)
        ingested.append([message.message_id, result.ticket_id, result.duplicate])
        if step % 8 == 3:
            body = f"{worker}-r{step}"
            desk.reply(result.ticket_id, body, agent=worker)
            replies.append(body)
        if step % 8 == 5:
            version = store.version(ticket)
            claim = desk.claim(ticket, f"agent-{worker}", expected_version=version)
            if claim.won:
                claims.append([ticket, version])
        if step % 16 == 7:
            result_tick = desk.tick(T0 + timedelta(hours=2))
            alerts += len(result_tick.warnings) + len(result_tick.breaches)
        if step % 4 == 0:
            desk.deliver(limit=10)
    final = desk.tick(T0 + timedelta(hours=2))
    alerts += len(final.warnings) + len(final.breaches)
    while desk.deliver(limit=50).delivered:
        pass
    desk.close()
    summary = {"ingested": ingested, "replies": replies, "claims": claims, "alerts": alerts}
    print(json.dumps(summary), flush=True)


def batches(url: str, schema: str, worker: str) -> None:
    """The 160 shared message ids (16 tickets) through ingest_many, ten at a time in this
    worker's order; a batch that fails as a whole (a deadlock with another worker's batch)
    is ingested again. Prints the message -> (ticket, duplicate) pairs and the retries."""
    store = PostgresStore(url, schema=schema, max_size=2)
    desk = SupportDesk(store=store, clock=FrozenClock(T0), plugins=[], policies=[POLICY])
    order = list(range(MESSAGES))
    random.Random(worker).shuffle(order)
    ingested, retries = [], 0
    for start in range(0, MESSAGES, 10):
        batch = [
            InboundMessage(
                f"m-{n}", "email", f"c{n % TICKETS}@example.com", T0, ticket_id=f"T-{n % TICKETS}"
            )
            for n in order[start : start + 10]
        ]
        while True:
            try:
                results = desk.ingest_many(batch)
                break
            except StoreError:
                retries += 1
        for message, result in zip(batch, results, strict=True):
            assert isinstance(result, IngestResult), result
            ingested.append([message.message_id, result.ticket_id, result.duplicate])
    desk.close()
    print(json.dumps({"ingested": ingested, "retries": retries}), flush=True)


def retried(work: Callable[[], R]) -> R:
    """*work*'s result, done again after a :class:`StoreError` (a busy server can time out a
    pool wait or a lock), as a real worker loop does; the error goes to stderr, which the test
    shows if the worker never pauses. Any other error ends the thread, as it should."""
    while True:
        try:
            return work()
        except StoreError as exc:
            print(f"retrying after StoreError: {exc}", file=sys.stderr, flush=True)
            time.sleep(0.05)


def forever(url: str, schema: str, worker: str, pause: str) -> None:
    store = PausingStore(url, schema=schema, max_size=4, pause=pause)
    desk = SupportDesk(
        store=store,
        clock=SystemClock(),
        plugins=[Slow(store.ready if pause == "deliver" else None)],
        blocked_plugins=["email"],  # as in mix(): no channel sends the replies
        policies=[POLICY],
        lease=timedelta(seconds=2),
    )

    def loop(work: Callable[[], object]) -> None:
        while True:
            retried(work)
            time.sleep(0.01)

    threading.Thread(target=loop, args=(lambda: desk.deliver(limit=5),), daemon=True).start()
    now = datetime.now(UTC)
    later = now + timedelta(hours=2)

    def tick() -> None:
        if pause != "tick" or store.ready.is_set():  # "tick": every alert still to come
            desk.tick(later)

    threading.Thread(target=loop, args=(tick,), daemon=True).start()
    n = 0
    while True:
        size = 10 if pause == "ingest" else 1
        batch = [
            InboundMessage(
                f"{worker}-{k}", "email", f"c{k % 5}@example.com", now, ticket_id=f"K-{k % 5}"
            )
            for k in range(n, n + size)
        ]
        if size == 1:
            retried(partial(desk.ingest, batch[0]))
        else:
            results = retried(partial(desk.ingest_many, batch))
            assert all(not isinstance(r, Exception) for r in results)
        for message in batch:
            print(f"ack {message.message_id}", flush=True)
        n += size
        if n >= 30:
            store.ready.set()


if __name__ == "__main__":
    url, schema, worker, mode, *pause = sys.argv[1:6]
    if mode == "mix":
        mix(url, schema, worker)
    elif mode == "batches":
        batches(url, schema, worker)
    else:
        forever(url, schema, worker, *pause)
