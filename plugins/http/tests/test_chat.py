"""The chat channel: payloads threaded by conversation, agents' replies delivered back."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from http_support import AT, chat, client
from supportkit_http import ChatChannel, ConversationLog, create_app

from supportkit import EventError, FrozenClock, OutboundReply, SupportDesk

pytestmark = pytest.mark.anyio
CONVERSATION = "conv-0001-abcdef"


def open_app(desk: SupportDesk) -> Any:
    return create_app(desk, secrets={}, open_channels=["chat"])


async def test_messages_of_a_conversation_share_a_ticket(desk: SupportDesk) -> None:
    """Three messages of one conversation make one ticket; another conversation its own."""
    async with client(open_app(desk)) as http:
        results = [
            (await http.post("/inbound/chat", content=chat(text=text, message_id=str(n)))).json()
            for n, text in enumerate(["Hi", "My order is late", "Order 1234"])
        ]
        other = (await http.post("/inbound/chat", content=chat("conv-0002-zzzzzz"))).json()
    assert {r["ticket_id"] for r in results} == {f"chat-{CONVERSATION}"}
    assert [r["created"] for r in results] == [True, False, False]
    assert other["ticket_id"] == "chat-conv-0002-zzzzzz"
    events = desk.events(f"chat-{CONVERSATION}")
    bodies = [e.data["body"] for e in events if e.kind == "message"]
    assert bodies == ["Hi", "My order is late", "Order 1234"]
    assert desk.ticket(f"chat-{CONVERSATION}").channel == "chat"


async def test_a_redelivered_chat_message_is_a_duplicate(desk: SupportDesk) -> None:
    """Without a message_id the body's digest is the id: the same body twice is one message."""
    async with client(open_app(desk)) as http:
        first = (await http.post("/inbound/chat", content=chat())).json()
        again = (await http.post("/inbound/chat", content=chat())).json()
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert len([e for e in desk.events(first["ticket_id"]) if e.kind == "message"]) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "payload"),
        (b"[1, 2]", "payload"),
        (json.dumps({"visitor": "v", "text": "t"}).encode(), "conversation_id"),
        (
            json.dumps({"conversation_id": "short", "visitor": "v", "text": "t"}).encode(),
            "conversation_id",
        ),
        (
            json.dumps({"conversation_id": "../../etc/x", "visitor": "v", "text": "t"}).encode(),
            "conversation_id",
        ),
        (json.dumps({"conversation_id": CONVERSATION, "text": "t"}).encode(), "visitor"),
        (
            json.dumps({"conversation_id": CONVERSATION, "visitor": {}, "text": "t"}).encode(),
            "visitor.id",
        ),
        (
            json.dumps({"conversation_id": CONVERSATION, "visitor": "v", "text": ""}).encode(),
            "text",
        ),
        (chat(sent_at="yesterday"), "sent_at"),
        (chat(sent_at="2025-03-03T09:00:00"), "sent_at"),
        (chat(message_id=["x"]), "message_id"),
        (chat(subject=5), "subject"),
    ],
)
async def test_bad_chat_payloads_are_400_naming_the_field(
    desk: SupportDesk, payload: bytes, field: str
) -> None:
    """Each malformed chat payload is refused with the field that was wrong; no ticket."""
    async with client(open_app(desk)) as http:
        response = await http.post("/inbound/chat", content=payload)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert desk.tickets() == []


def test_parse_accepts_decoded_json_and_sent_at() -> None:
    """``parse`` takes decoded JSON as well, with an explicit send time and e-mail."""
    channel = ChatChannel(clock=FrozenClock(AT))
    payload = {
        "conversation_id": CONVERSATION,
        "visitor": {"id": "v-1", "email": "ada@example.com"},
        "text": "Hi",
        "sent_at": (AT - timedelta(minutes=2)).isoformat(),
    }
    message = channel.parse(payload, {})
    assert message.sender == "ada@example.com"
    assert message.at == AT - timedelta(minutes=2)
    assert message.ticket_id == f"chat-{CONVERSATION}"
    assert message.message_id == channel.parse(dict(payload), {}).message_id
    with pytest.raises(EventError):
        channel.parse(42, {})


async def test_agent_reply_is_delivered_to_the_conversation(desk: SupportDesk) -> None:
    """Two-way: an agent's public reply goes through the outbox to the chat channel, which
    puts it where ``GET /conversations/{id}/messages`` serves it; internal notes stay inside."""
    app = open_app(desk)
    async with client(app) as http:
        ticket = (await http.post("/inbound/chat", content=chat())).json()["ticket_id"]
        await http.post(f"/api/tickets/{ticket}/reply", json={"body": "Internal", "public": False})
        await http.post(
            f"/api/tickets/{ticket}/reply", json={"body": "On its way!", "agent": "grace"}
        )
        before = (await http.get(f"/conversations/{CONVERSATION}/messages")).json()
        delivered = desk.deliver()
        after = (await http.get(f"/conversations/{CONVERSATION}/messages")).json()
        newer = (await http.get(f"/conversations/{CONVERSATION}/messages?after=1")).json()
        bad = await http.get(f"/conversations/{CONVERSATION}/messages?after=-1")
        nobody = await http.get("/conversations/no/messages")
    assert before == {"conversation_id": CONVERSATION, "messages": []}
    assert any(key.startswith("reply:") for key in delivered.delivered)
    assert [(m["n"], m["text"], m["author"]) for m in after["messages"]] == [
        (1, "On its way!", "grace")
    ]
    assert newer["messages"] == []
    assert bad.status_code == 400
    assert nobody.status_code == 404


def test_delivery_is_idempotent_per_reply(desk: SupportDesk) -> None:
    """The outbox may deliver a reply twice (at least once): the conversation shows it once."""
    channel = desk.plugins.host.channels()["chat"]
    ticket = desk.receive("chat", chat()).ticket_id
    desk.reply(ticket, "Once", agent="grace")
    desk.deliver()
    [message] = [m for m in desk.outbox() if m.topic == "reply"]
    reply_event = desk.events(ticket)[-1]
    reply = OutboundReply(desk.ticket(ticket), reply_event, "v-42", f"{CONVERSATION}/x")
    assert channel.send(reply) == channel.send(reply)
    assert len(ConversationLog.of(desk).read(CONVERSATION)) == 1
    assert message.status == "delivered"


async def test_a_closed_conversation_continues_in_one_follow_up(desk: SupportDesk) -> None:
    """After the conversation's ticket is closed, the next message opens one follow-up ticket
    and later messages join it (not one follow-up each); replies there reach the widget."""
    first = f"chat-{CONVERSATION}"
    async with client(open_app(desk)) as http:
        await http.post("/inbound/chat", content=chat(text="Hi", message_id="1"))
        desk.set_status(first, "solved")
        desk.set_status(first, "closed")
        again = [
            (await http.post("/inbound/chat", content=chat(text=t, message_id=t))).json()
            for t in ("back again", "still there?")
        ]
        follow_up = again[0]["ticket_id"]
        await http.post(f"/api/tickets/{follow_up}/reply", json={"body": "Yes!", "agent": "al"})
        desk.deliver()
        replies = (await http.get(f"/conversations/{CONVERSATION}/messages")).json()
    assert follow_up != first
    assert [r["ticket_id"] for r in again] == [follow_up, follow_up]
    assert [r["created"] for r in again] == [True, False]
    assert f"follow-up:{first}" in desk.ticket(follow_up).tags
    assert [(m["ticket_id"], m["text"]) for m in replies["messages"]] == [(follow_up, "Yes!")]
