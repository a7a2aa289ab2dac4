"""Durability of the desk on SQLite, with real processes: SIGKILL and concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from supportkit._sqlite import SqliteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

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


RACE = textwrap.dedent(
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
    script, path, count = tmp_path / "race.py", tmp_path / "race.sqlite3", 120
    script.write_text(RACE)
    SqliteStore(path).close()  # create the schema once, before the race
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), name, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    ]
    claims = [
        line.split()[1]
        for w in workers
        for line in w.communicate(timeout=300)[0].split("\n")
        if line
    ]
    assert [0, 0] == [w.returncode for w in workers]
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
    from datetime import UTC, datetime

    from supportkit import FrozenClock, InboundMessage, SlaPolicy
    from supportkit._desk import SupportDesk

    path, script = tmp_path / "tick.sqlite3", tmp_path / "ticker.py"
    script.write_text(TICKER)
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    policy = SlaPolicy.from_dict(
        {"name": "hour", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
    )
    with SupportDesk(
        store=SqliteStore(path), clock=FrozenClock(start), policies=[policy], plugins=None
    ) as desk:
        tickets = [
            desk.ingest(InboundMessage(f"m-{n}", "email", f"c-{n}", start)).ticket_id
            for n in range(150)
        ]
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    lines = [line for w in workers for line in w.communicate(timeout=300)[0].splitlines()]
    assert [0, 0] == [w.returncode for w in workers]
    expected = sorted(
        [
            f"{t}:first_reply:0:{s}"
            for t in tickets
            for s in ("warning:0.5", "warning:0.75", "warning:0.9", "breach")
        ]
        + [f"escalated {t}" for t in tickets]
    )
    assert expected == sorted(lines)
