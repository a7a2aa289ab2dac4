"""``tick(now)`` reads a ticket only when it has an alert to emit, even with *now* ahead of the
desk's clock (a scheduler that passes its own time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supportkit import FrozenClock, InboundMessage, InMemoryStore, SlaPolicy, SlaTarget, SupportDesk

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy("std", {"normal": {"first_reply": SlaTarget(3600, False)}})


def test_ticks_ahead_of_the_clock_read_each_ticket_once_per_alert() -> None:
    """First reply in 1 h warns at 30, 45 and 54 minutes and breaches at 60: four alerts, so
    ticking every 5 minutes for 2 h reads each ticket four times (it read it 19 times, revisiting
    alerts already sent because the next due instant was computed from the desk's clock)."""
    desk = SupportDesk(
        store=InMemoryStore(), plugins=None, clock=FrozenClock(T0), policies=[POLICY], ladder=None
    )
    for n in range(3):
        desk.ingest(InboundMessage(f"m{n}", "email", "c", T0, body="hi"))
    results = [desk.tick(T0 + timedelta(minutes=5 * k)) for k in range(1, 25)]
    alerts = sum(len(r.warnings) + len(r.breaches) for r in results)
    assert (12, 12) == (alerts, sum(r.checked for r in results))
    # Warnings at 30, 45 and 54 minutes; the breach after 60 (a reply exactly at the deadline
    # is met), so the ticks at 30, 45, 55 and 65 minutes read the tickets.
    assert [30, 45, 55, 65] == [5 * k for k, r in enumerate(results, 1) if r.checked]
