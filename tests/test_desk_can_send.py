"""Replies on a channel that cannot send are not queued: the desk asks the channel
(``Channel.can_send``, optional, absent means it can) instead of writing an outbox row that
can only fail and end in the dead letter.

Every desk test runs on the in-memory store and on a real SQLite file (the ``desks`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    FrozenClock,
    InboundMessage,
    JsonChannel,
    OutboundReply,
    PluginError,
    SupportDesk,
    hookimpl,
)
from supportkit.testing import FakeChannel

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


class Registers:
    """A plugin registering *channel* under *name*."""

    def __init__(self, name: str, channel: object) -> None:
        self.name, self.channel = name, channel

    @hookimpl
    def supportkit_register_channels(self, register: Callable[[str, Any], None]) -> None:
        register(self.name, self.channel)


class Plain:
    """A channel written before ``can_send`` existed: it sends, and says nothing about it."""

    def __init__(self) -> None:
        self.sent: list[OutboundReply] = []

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        raise NotImplementedError

    def send(self, reply: OutboundReply) -> str | None:
        self.sent.append(reply)
        return f"plain-{len(self.sent)}"


def replied(desk: SupportDesk, channel: str) -> str:
    """A ticket on *channel* with one public agent reply; its id."""
    ticket_id = desk.ingest(InboundMessage("m-1", channel, "ann@example.com", T0)).ticket_id
    desk.reply(ticket_id, "On it.", agent="a-1")
    return ticket_id


def replies(desk: SupportDesk) -> list[Any]:
    return [m for m in desk.outbox() if m.topic == "reply"]


def test_a_receive_only_channel_gets_no_reply_row(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """JsonChannel registered for a chat endpoint only receives: the agent's public reply is on
    the ticket, and no row was queued (it dead-lettered after every retry failed)."""
    desk = desks(Registers("chat", JsonChannel("chat")))
    ticket_id = replied(desk, "chat")
    assert [] == replies(desk)
    assert "On it." == desk.events(ticket_id)[-1].data["body"]
    for _ in range(8):
        clock.advance(timedelta(hours=2))
        desk.deliver()
    assert [] == desk.outbox("dead")


def test_a_channel_without_can_send_still_sends(desks: Callable[..., SupportDesk]) -> None:
    """The attribute is optional: a channel that does not define it is one that sends."""
    channel = Plain()
    desk = desks(Registers("sms", channel))
    replied(desk, "sms")
    assert 1 == len(replies(desk))
    assert 1 == len(desk.deliver().delivered)
    assert ["On it."] == [reply.body for reply in channel.sent]


def test_can_send_is_asked_at_each_reply(desks: Callable[..., SupportDesk]) -> None:
    """A property is read when the reply is written: a channel that gains its sending settings
    has its later replies queued."""

    class Switchable(Plain):
        can_send = False

    channel = Switchable()
    desk = desks(Registers("sms", channel))
    ticket_id = replied(desk, "sms")
    channel.can_send = True
    desk.reply(ticket_id, "Fixed.", agent="a-1")
    desk.deliver()
    assert ["Fixed."] == [reply.body for reply in channel.sent]


def test_a_send_reply_hookimpl_sends_on_any_channel(desks: Callable[..., SupportDesk]) -> None:
    """A ``supportkit_send_reply`` hookimpl answers before the channels: replies are queued
    even on a receive-only channel's tickets."""

    class Gateway:
        @hookimpl
        def supportkit_send_reply(self, reply: OutboundReply) -> str | None:
            return "gw-1"

    desk = desks(Registers("chat", JsonChannel("chat")), Gateway())
    replied(desk, "chat")
    assert 1 == len(desk.deliver().delivered)


@pytest.mark.parametrize("able", ["yes", None], ids=["not a bool", "None"])
def test_a_bad_can_send_is_a_plugin_error_and_nothing_is_written(
    desks: Callable[..., SupportDesk], able: object
) -> None:
    """A channel whose can_send is not a bool is a PluginError naming it; the reply is not
    appended (the commit never happened)."""

    class Odd(Plain):
        can_send = able

    desk = desks(Registers("sms", Odd()))
    ticket_id = desk.ingest(InboundMessage("m-1", "sms", "ann@example.com", T0)).ticket_id
    before = desk.events(ticket_id)
    with pytest.raises(PluginError, match="channel:sms") as refused:
        desk.reply(ticket_id, "On it.", agent="a-1")
    assert "channel:sms" == refused.value.plugin
    assert before == desk.events(ticket_id)


def test_fake_channel_sends(desks: Callable[..., SupportDesk]) -> None:
    """FakeChannel parses like JsonChannel but sends: its replies are queued and delivered."""
    channel = FakeChannel("email")
    desk = desks(channel)
    replied(desk, "email")
    assert 1 == len(desk.deliver().delivered)
    assert 1 == len(channel.sent)
