"""A worker process for the multi-process tests (run as a script, never imported by pytest).

``python pgworker.py URL SCHEMA WORKER MODE``:

- ``mix``: ingest 160 messages with ids shared by every worker (threaded into 16 tickets),
  reply, claim, tick and deliver between them, then drain the outbox; print a JSON summary.
- ``forever``: ingest, deliver and tick in three threads until killed, printing ``ack ID`` for
  every acknowledged message and ``blocked`` once a delivery hangs (so the test can SIGKILL
  the process while it holds outbox leases).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from supportkit_postgres import PostgresStore

from supportkit import FrozenClock, InboundMessage, SlaPolicy, SupportDesk, SystemClock, hookimpl
from supportkit.typing import Notice, Notifier

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {"name": "fast", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
)
MESSAGES = 160
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


class Slow:
    """A notifier that takes a little time; in ``forever`` mode its 30th call hangs."""

    def __init__(self, hang_at: int | None) -> None:
        self.calls = 0
        self.hang_at = hang_at

    def notify(self, notice: Notice) -> None:
        self.calls += 1
        if self.calls == self.hang_at:
            print("blocked", flush=True)
            time.sleep(3600)
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
        plugins=[Slow(None)],
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


def forever(url: str, schema: str, worker: str) -> None:
    store = PostgresStore(url, schema=schema, max_size=4)
    desk = SupportDesk(
        store=store,
        clock=SystemClock(),
        plugins=[Slow(30)],
        blocked_plugins=["email"],  # as in mix(): no channel sends the replies
        policies=[POLICY],
        lease=timedelta(seconds=2),
    )

    def loop(work: Callable[[], object]) -> None:
        while True:
            work()
            time.sleep(0.01)

    threading.Thread(target=loop, args=(lambda: desk.deliver(limit=5),), daemon=True).start()
    now = datetime.now(UTC)
    later = now + timedelta(hours=2)
    threading.Thread(target=loop, args=(lambda: desk.tick(later),), daemon=True).start()
    n = 0
    while True:
        message_id = f"{worker}-{n}"
        desk.ingest(
            InboundMessage(
                message_id, "email", f"c{n % 5}@example.com", now, ticket_id=f"K-{n % 5}"
            )
        )
        print(f"ack {message_id}", flush=True)
        n += 1


if __name__ == "__main__":
    url, schema, worker, mode = sys.argv[1:5]
    {"mix": mix, "forever": forever}[mode](url, schema, worker)
