"""supportkit-slack inside a SupportDesk: the outbox, retry-at, dead letters and threads that
survive a restart (a real SQLite file and the loopback Slack)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from supportkit_slack import SlackNotifier

from supportkit import (
    FrozenClock,
    InboundMessage,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    Tier,
)

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {"name": "standard", "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(AT)


@pytest.fixture
def make_desk(
    slack: Any, clock: FrozenClock, tmp_path: Path
) -> Iterator[Callable[..., tuple[SupportDesk, SlackNotifier]]]:
    """A desk on one SQLite file with a fresh SlackNotifier (a restart, or another process)."""
    desks: list[SupportDesk] = []

    def make(**options: Any) -> tuple[SupportDesk, SlackNotifier]:
        notifier = SlackNotifier(
            slack.token,
            **{
                "channel": "#support",
                "base_url": slack.base_url,
                "clock": clock,
                "top_tiers": ["gold"],
                "sleep": lambda _: None,
            }
            | options,
        )
        desk = SupportDesk(
            store=SqliteStore(tmp_path / "desk.db"),
            plugins=[notifier],
            clock=clock,
            policies=[POLICY],
            tiers=[Tier("gold", weight=10, watchlist={"ceo@big.example"})],
            ladder=None,
        )
        desks.append(desk)
        return desk, notifier

    yield make
    for desk in desks:
        desk.close()


def opened(desk: SupportDesk) -> str:
    message = InboundMessage("m-1", "email", "ceo@big.example", AT, subject="Checkout fails")
    return desk.ingest(message).ticket_id


def test_the_thread_survives_a_restart(slack: Any, make_desk: Any) -> None:
    """The first desk posts the new gold ticket; a second desk on the same store (a restart,
    or another process) with a new notifier replies in that thread. Each desk attached its
    notifier itself (attach(desk) → the store's plugin state)."""
    first, _ = make_desk()
    ticket_id = opened(first)
    assert first.deliver().delivered
    first.close()
    second, _ = make_desk()
    second.escalate(ticket_id, "engineering", reason="payment bug")
    assert second.deliver().delivered
    top, reply = slack.posts()
    assert (None, "C0SUPPORT", "1700000000.000001") == (
        top.get("thread_ts"),
        reply["channel"],
        reply["thread_ts"],
    )


def test_rate_limit_defers_the_outbox_without_spending_an_attempt(
    slack: Any, make_desk: Any, clock: FrozenClock
) -> None:
    """A 429 with Retry-After: 30 defers the notice to exactly 30 s later, attempt unspent;
    then it is posted."""
    desk, _ = make_desk()
    opened(desk)
    slack.queue_json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "30"})
    result = desk.deliver()
    (key,) = result.deferred
    (row,) = [m for m in desk.outbox("pending") if m.key == key]
    assert (0, int((AT + timedelta(seconds=30)).timestamp())) == (row.attempts, row.next_attempt_at)
    clock.advance(seconds=29)
    assert key not in desk.deliver().delivered
    clock.advance(seconds=1)
    assert key in desk.deliver().delivered
    assert 2 == len(slack.posts())  # the rate-limited request, then the post


def test_channel_not_found_is_dead_lettered_at_once(slack: Any, make_desk: Any) -> None:
    """channel_not_found: the outbox dead-letters the notice on the first try, with the
    reason; the token is nowhere in it."""
    desk, _ = make_desk(channel="#gone")
    opened(desk)
    result = desk.deliver()
    (key,) = result.dead
    (row,) = [m for m in desk.outbox("dead") if m.key == key]
    assert row.last_error is not None
    assert "channel_not_found" in row.last_error
    assert slack.token not in row.last_error
