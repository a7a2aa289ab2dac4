"""Durability and concurrency on SQLite with real processes: SIGKILL, racing writers, tickers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportkit import FrozenClock, InboundMessage, SlaPolicy
from supportkit._desk import SupportDesk
from supportkit._sqlite import SqliteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

START = datetime(2025, 3, 3, 9, tzinfo=UTC)


def race(tmp_path: Path, source: str, *argvs: list[object]) -> list[str]:
    """Run one copy of the script *source* per argument list, all at once; return every
    line they printed (each must exit 0)."""
    script = tmp_path / "worker.py"
    script.write_text(source)
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), *map(str, argv)], stdout=subprocess.PIPE, text=True
        )
        for argv in argvs
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [0] * len(workers) == [worker.returncode for worker in workers]
    return [line for output in outputs for line in output.splitlines()]


INGEST_LOOP = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from supportkit import InboundMessage
    from supportkit._desk import SupportDesk
    from supportkit._sqlite import SqliteStore

    desk = SupportDesk(store=SqliteStore(sys.argv[1]), plugins=None)
    at = datetime(2025, 3, 3, 9, tzinfo=UTC)
    ticket = None
    for n in range(1_000_000):
        result = desk.ingest(
            InboundMessage(f"m-{n}", "chat", f"c-{n % 7}", at, ticket_id=ticket)
        )
        ticket = result.ticket_id if n % 3 else None
        print(f"m-{n}", flush=True)
    """
)


def test_acknowledged_messages_survive_sigkill(tmp_path: Path) -> None:
    """A child ingesting in a loop is SIGKILLed; every acknowledged id is stored exactly once."""
    script, path = tmp_path / "loop.py", tmp_path / "killed.sqlite3"
    script.write_text(INGEST_LOOP)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged = [child.stdout.readline().strip() for _ in range(300)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    with SqliteStore(path) as store:
        logged = Counter(e.data["message_id"] for e in store.read_all() if e.kind == "message")
        recorded = {m for m in logged if store.message_ticket("chat", m) is not None}
    assert ([], set(acknowledged)) == (
        [m for m, count in logged.items() if count != 1],
        set(acknowledged) & recorded,
    )
    assert -signal.SIGKILL == child.returncode


BATCH_LOOP = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from supportkit import InboundMessage, hookimpl
    from supportkit._desk import SupportDesk
    from supportkit._sqlite import SqliteStore

    class Pause:
        # The CRM lookup of message m-65 (a new ticket, in the middle of the batch m-60..m-69)
        # stops the worker with the batch's first five messages accepted, none committed.
        @hookimpl
        def supportkit_lookup_customer(self, message):
            if message.message_id == "m-65":
                print("paused", flush=True)
                time.sleep(3600)

    desk = SupportDesk(store=SqliteStore(sys.argv[1]), plugins=[Pause()])
    at = datetime(2025, 3, 3, 9, tzinfo=UTC)
    for start in range(0, 1000, 10):
        batch = [
            InboundMessage(f"m-{n}", "chat", "c", at, ticket_id=f"T-{n % 3 if n % 5 else n}")
            for n in range(start, start + 10)
        ]
        for result in desk.ingest_many(batch):
            print(f"ack {result.events[-1].data['message_id']}", flush=True)
    """
)


def test_a_process_killed_inside_a_batch_keeps_none_of_it(tmp_path: Path) -> None:
    """A child ingesting batches of ten is SIGKILLed in the middle of a batch (five of its
    messages already accepted into the batch, which holds the write lock): every acknowledged
    message is stored exactly once and none of the unfinished batch is, so each message is
    all or nothing; ingesting that batch again writes it whole."""
    script, path = tmp_path / "batches.py", tmp_path / "killed.sqlite3"
    script.write_text(BATCH_LOOP)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    lines = [child.stdout.readline().strip() for _ in range(61)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert ("paused", [f"ack m-{n}" for n in range(60)]) == (lines[-1], lines[:-1])
    with SqliteStore(path) as store:
        logged = Counter(e.data["message_id"] for e in store.read_all() if e.kind == "message")
    assert {f"m-{n}": 1 for n in range(60)} == dict(logged)
    with SupportDesk(store=SqliteStore(path), plugins=None) as desk:
        again = desk.ingest_many(
            [
                InboundMessage(f"m-{n}", "chat", "c", START, ticket_id=f"T-{n % 3 if n % 5 else n}")
                for n in range(60, 70)
            ]
        )
    assert [False] * 10 == [getattr(r, "duplicate", None) for r in again]


STORE_RACE = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from supportkit import ConcurrencyError, TicketEvent
    from supportkit._deskstore import Commit
    from supportkit._sqlite import SqliteStore

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    at = datetime(2025, 3, 3, 9, tzinfo=UTC)
    store = SqliteStore(path)
    for n in range(count):
        ticket = f"T-{n}"
        # ingest: both workers deliver the same channel message; one must win
        while True:
            version = store.version(ticket)
            if store.message_ticket("email", f"m-{n}") is not None:
                break
            events = [] if version else [TicketEvent("created", ticket_id=ticket, at=at)]
            events.append(TicketEvent("message", ticket_id=ticket, at=at, by="customer"))
            try:
                store.commit(Commit(ticket, tuple(events), version, message=("email", f"m-{n}")))
                break
            except ConcurrencyError:
                continue
        # claim: assign the ticket to me unless someone already has it
        while True:
            log = store.read(ticket)
            if any(e.kind == "assigned" for e in log):
                break
            claim = TicketEvent("assigned", ticket_id=ticket, at=at, data={"agent": name})
            try:
                store.commit(Commit(ticket, (claim,), len(log)))
                print("claimed", ticket, flush=True)
                break
            except ConcurrencyError:
                continue
    """
)


def test_two_store_writers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """Two processes commit the same messages and claims straight to the store: one event per
    message, one owner per ticket, and every claim a process reports is the one stored."""
    path, count = tmp_path / "race.sqlite3", 400
    claimed = [
        line.split()[1]
        for line in race(tmp_path, STORE_RACE, *([path, name, count] for name in ("ann", "bob")))
    ]
    with SqliteStore(path) as store:
        kinds = {t: [e.kind for e in store.read(t)] for t in store.ticket_ids()}
    expected = {f"T-{n}": ["created", "message", "assigned"] for n in range(count)}
    assert (expected, sorted(expected)) == (kinds, sorted(claimed))


DESK_RACE = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from supportkit import InboundMessage
    from supportkit._desk import SupportDesk
    from supportkit._sqlite import SqliteStore

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    desk = SupportDesk(store=SqliteStore(path), plugins=None)
    at = datetime(2025, 3, 3, 9, tzinfo=UTC)
    for n in range(count):
        result = desk.ingest(InboundMessage(f"m-{n}", "email", f"c-{n}", at))
        ticket = desk.ticket(result.ticket_id)
        if ticket.assignee is None and desk.claim(
            result.ticket_id, name, expected_version=ticket.version
        ):
            print("claimed", result.ticket_id, flush=True)
    """
)


def test_two_desk_processes_never_lose_or_duplicate(tmp_path: Path) -> None:
    """Two desks ingest the same messages and claim the tickets at once: one ticket per
    message, every message once, one owner per ticket, and every claim reported is real."""
    path, count = tmp_path / "race.sqlite3", 120
    SqliteStore(path).close()  # create the schema once, before the race
    claims = [
        line.split()[1]
        for line in race(tmp_path, DESK_RACE, *([path, name, count] for name in ("ann", "bob")))
    ]
    with SqliteStore(path) as store:
        events = list(store.read_all())
    messages = Counter(e.data["message_id"] for e in events if e.kind == "message")
    assigned = Counter(e.ticket_id for e in events if e.kind == "assigned")
    tickets = {e.ticket_id for e in events}
    assert (count, {1}, count) == (len(tickets), set(messages.values()), len(messages))
    assert (tickets, {1}) == (set(assigned), set(assigned.values()))
    assert sorted(tickets) == sorted(claims)


TICKER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from supportkit import FrozenClock, SlaPolicy
    from supportkit._desk import SupportDesk
    from supportkit._sqlite import SqliteStore

    policy = SlaPolicy.from_dict(
        {"name": "hour", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
    )
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    desk = SupportDesk(
        store=SqliteStore(sys.argv[1]), clock=FrozenClock(start), policies=[policy], plugins=None
    )
    for minutes in range(0, 121):
        result = desk.tick(start + timedelta(minutes=minutes))
        for alert in result.warnings + result.breaches:
            print(alert.key, flush=True)
        for event in result.escalations:
            print("escalated", event.ticket_id, flush=True)
    """
)


def test_two_processes_ticking_emit_each_alert_once(tmp_path: Path) -> None:
    """Two desks tick the same store at once: every warning, breach and escalation is
    emitted by exactly one of them."""
    path = tmp_path / "tick.sqlite3"
    policy = SlaPolicy.from_dict(
        {"name": "hour", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
    )
    with SupportDesk(
        store=SqliteStore(path), clock=FrozenClock(START), policies=[policy], plugins=None
    ) as desk:
        tickets = [
            desk.ingest(InboundMessage(f"m-{n}", "email", f"c-{n}", START)).ticket_id
            for n in range(150)
        ]
    lines = race(tmp_path, TICKER, [path], [path])
    levels = ("warning:0.5", "warning:0.75", "warning:0.9", "breach")
    expected = [f"{t}:first_reply:0:{level}" for t in tickets for level in levels]
    assert sorted(expected + [f"escalated {t}" for t in tickets]) == sorted(lines)
