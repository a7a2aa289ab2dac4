"""IntegrationError's retry hints in the desk's outbox: ``retry_at`` and ``permanent``.

Every desk test runs on the in-memory store (the memory sidecar) and on a real SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    SupportDesk,
    hookimpl,
)
from supportkit._hookargs import Notice
from supportkit.testing import FakeChannel

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TS0 = int(T0.timestamp())
LATER = T0 + timedelta(minutes=10)


class Flaky:
    """A notifier that raises the errors in *errors* (one per call, ticket_created only)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.notices: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        if notice.kind != "ticket_created":
            return
        if self.errors:
            raise self.errors.pop(0)
        self.notices.append(notice)

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Any], None]) -> None:
        register("flaky", self)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def created_row(desk: SupportDesk) -> Any:
    [row] = [m for m in desk.outbox() if m.topic == "ticket_created"]
    return row


def ingest(desk: SupportDesk, mid: str = "m-1") -> str:
    return desk.ingest(InboundMessage(mid, "email", "ann@example.com", T0)).ticket_id


# --- the error itself ----------------------------------------------------------------------------


def test_integration_error_carries_its_hints() -> None:
    """retry_at and permanent are attributes; the subclasses take them too."""
    plain = IntegrationError("down")
    later = IntegrationHTTPError("429", response="r", retry_at=LATER)
    gone = IntegrationTimeout("no such host", permanent=True)
    assert ((None, False), (LATER, False, "r"), (None, True)) == (
        (plain.retry_at, plain.permanent),
        (later.retry_at, later.permanent, later.response),
        (gone.retry_at, gone.permanent),
    )


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"retry_at": datetime(2025, 3, 3, 9)}, "aware datetime"),
        ({"retry_at": 1741000000}, "aware datetime"),
        ({"retry_at": LATER, "permanent": True}, "not both"),
    ],
)
def test_integration_error_refuses_bad_hints(kwargs: dict[str, Any], complaint: str) -> None:
    """A naive or non-datetime retry_at, or both hints, is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=complaint):
        IntegrationError("x", **kwargs)


# --- the outbox ----------------------------------------------------------------------------------


def test_retry_at_defers_without_spending_an_attempt(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """The outbox waits until retry_at (attempts unchanged), then delivers."""
    notifier = Flaky(IntegrationError("rate limited", retry_at=LATER))
    desk = desks(notifier)
    ingest(desk)
    first = desk.deliver()
    waiting = created_row(desk)
    clock.advance(minutes=9, seconds=59)
    early = desk.deliver()
    clock.advance(seconds=1)
    on_time = desk.deliver()
    done = created_row(desk)
    assert (
        ((waiting.key,), (), ()),
        (0, TS0 + 600, "pending"),
        (),
        (waiting.key,),
        (1, "delivered"),
    ) == (
        (first.deferred, first.retried, first.dead),
        (waiting.attempts, waiting.next_attempt_at, waiting.status),
        early.delivered + early.deferred + early.retried,
        on_time.delivered,
        (done.attempts, done.status),
    )
    assert "rate limited" in (waiting.last_error or "")


def test_deferrals_never_dead_letter(desks: Callable[..., SupportDesk], clock: FrozenClock) -> None:
    """More deferrals than max_attempts still leave the message pending with no attempt."""
    notifier = Flaky(
        *(IntegrationError("busy", retry_at=T0 + timedelta(minutes=n)) for n in (1, 2, 3))
    )
    desk = desks(notifier, max_attempts=2)
    ingest(desk)
    for _ in range(3):
        desk.deliver()
        clock.advance(minutes=1)
    row = created_row(desk)
    assert ("pending", 0) == (row.status, row.attempts)
    desk.deliver()
    assert ("delivered", 1) == (created_row(desk).status, created_row(desk).attempts)


def test_retry_at_not_in_the_future_is_an_ordinary_failure(
    desks: Callable[..., SupportDesk],
) -> None:
    """A retry_at at or before now spends an attempt and backs off as usual."""
    desk = desks(Flaky(IntegrationError("stale hint", retry_at=T0)))
    ingest(desk)
    result = desk.deliver()
    row = created_row(desk)
    assert ((row.key,), (), 1, TS0 + 30) == (
        result.retried,
        result.deferred,
        row.attempts,
        row.next_attempt_at,
    )


def test_permanent_failure_dead_letters_at_once(desks: Callable[..., SupportDesk]) -> None:
    """permanent=True sends the message to the dead letter on its first failure, with why."""
    desk = desks(Flaky(IntegrationHTTPError("404 no such room", permanent=True)))
    ingest(desk)
    result = desk.deliver()
    [dead] = desk.outbox("dead")
    assert ((dead.key,), (), 1) == (result.dead, result.retried, dead.attempts)
    assert "permanent" in (dead.last_error or "")
    assert "404 no such room" in (dead.last_error or "")


def test_channel_send_hints_reach_the_outbox(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A channel's IntegrationError (wrapped in a PluginError) defers the reply it refused."""
    channel = FakeChannel("email", fail=IntegrationTimeout("greylisted", retry_at=LATER))
    desk = desks(channel)
    ticket_id = ingest(desk)
    desk.reply(ticket_id, "On it.", agent="a-1")
    first = desk.deliver()
    [reply] = [m for m in desk.outbox() if m.topic == "reply"]
    channel.fail = None
    clock.set(LATER)
    second = desk.deliver()
    assert ((reply.key,), 0, (reply.key,)) == (first.deferred, reply.attempts, second.delivered)


def test_inline_hookimpl_permanent_failure_is_dead_at_once(
    desks: Callable[..., SupportDesk],
) -> None:
    """An in-process hookimpl that fails for good is dead-lettered right after the commit."""

    class Hook:
        @hookimpl
        def supportkit_ticket_created(self, notice: Notice) -> None:
            raise IntegrationError("the tracker refuses this project", permanent=True)

    desk = desks(Hook())
    ingest(desk)
    [dead] = desk.outbox("dead")
    assert ("ticket_created", 1) == (dead.topic, dead.attempts)
