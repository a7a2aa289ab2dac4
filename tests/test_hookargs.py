"""The frozen hook arguments (notices, OutboundReply) and the built-in JSON channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    EventError,
    JsonChannel,
    OutboundReply,
    SatisfactionReceived,
    SlaBreached,
    SlaWarning,
    Status,
    StatusChanged,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketEvent,
)
from supportkit._hookargs import notices_for, sla_notice

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)


def event(kind: str, ticket_id: str = "T-1", **data: object) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket_id, at=AT, data=data)


def created_ticket() -> Ticket:
    return notices_for(None, [event("created", channel="chat")])[0].ticket


def test_notices_for_a_new_ticket_in_order() -> None:
    """Each event gives its specific notice (if any) and then an EventAppended."""
    events = [
        event("created"),
        event("status_changed", to="open"),
        event("assigned", agent="a-1"),
        event("escalated", level="L2", reason="bug"),
        event("tagged", add=["vip"]),
        event("satisfaction_rated", csat="good"),
    ]
    kinds = [notice.kind for notice in notices_for(None, events)]
    expected = [
        "ticket_created",
        "event_appended",
        "status_changed",
        "event_appended",
        "ticket_assigned",
        "event_appended",
        "ticket_escalated",
        "event_appended",
        "event_appended",
        "satisfaction_received",
        "event_appended",
    ]
    assert expected == kinds


def test_notices_carry_the_previous_state_and_the_ticket_after() -> None:
    """StatusChanged/TicketAssigned/TicketEscalated know what was before the change."""
    before = notices_for(None, [event("created"), event("assigned", agent="a-1")])[-1].ticket
    later = [
        event("status_changed", to="pending"),
        event("assigned", agent="a-2"),
        event("escalated", level="L2", target="eng", reason="bug"),
    ]
    status, _, assigned, _, escalated, _ = notices_for(before, later)
    assert isinstance(status, StatusChanged)
    assert (Status.NEW, Status.PENDING) == (status.previous, status.status)
    assert Status.PENDING == status.ticket.status
    assert isinstance(assigned, TicketAssigned)
    assert ("a-1", "a-2", None) == (assigned.previous_agent, assigned.agent, assigned.group)
    assert isinstance(escalated, TicketEscalated)
    expected = (None, "L2", "eng", "bug")
    actual = (escalated.previous_level, escalated.level, escalated.target, escalated.reason)
    assert expected == actual


def test_satisfaction_notice_holds_the_rating() -> None:
    """SatisfactionReceived.satisfaction is this event's rating."""
    rating = event("satisfaction_rated", score=4, comment="quick")
    notice = notices_for(created_ticket(), [rating])[0]
    assert isinstance(notice, SatisfactionReceived)
    assert (4, "quick", None) == (
        notice.satisfaction.score,
        notice.satisfaction.comment,
        notice.satisfaction.csat,
    )


def test_notices_are_frozen() -> None:
    """Hook arguments cannot be changed by a plugin."""
    notice = notices_for(None, [event("created")])[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        notice.ticket = created_ticket()  # type: ignore[misc]


def test_notice_refuses_an_event_of_the_wrong_kind() -> None:
    """A TicketCreated needs the created event."""
    with pytest.raises(EventError, match="TicketCreated needs a TicketEvent of kind created"):
        TicketCreated(created_ticket(), event("tagged", add=["x"]))


def test_notice_refuses_an_event_of_another_ticket() -> None:
    """The event must belong to the notice's ticket."""
    with pytest.raises(EventError, match="belongs to ticket T-2, not to ticket T-1"):
        StatusChanged(created_ticket(), event("status_changed", "T-2", to="open"), "new")


def test_to_dict_is_json_with_kind_ticket_and_instant() -> None:
    """to_dict() is plain JSON data: the webhook plugin posts it as is."""
    notice = notices_for(None, [event("created", tags=["vip"])])[0]
    data = json.loads(json.dumps(notice.to_dict()))
    expected = ("ticket_created", "T-1", "2025-03-03T09:00:00+00:00", ["vip"], "created")
    actual = (
        data["kind"],
        data["ticket_id"],
        data["at"],
        data["ticket"]["tags"],
        data["event"]["kind"],
    )
    assert expected == actual


def test_sla_notice_maps_an_alert_to_a_warning_or_a_breach() -> None:
    """sla_notice turns an SlaAlert-shaped object into the matching notice."""

    @attrs.frozen
    class Alert:
        kind: str
        metric: str
        index: int
        level: float
        at: datetime
        key: str

    ticket = created_ticket()
    warning = sla_notice(ticket, Alert("warning", "first_reply", 0, 0.75, AT, "k1"))
    breach = sla_notice(ticket, Alert("breach", "first_reply", 0, 1.0, AT, "k2"))
    assert SlaWarning(ticket, "first_reply", 0, AT, "k1", level=0.75) == warning
    assert SlaBreached(ticket, "first_reply", 0, AT, "k2") == breach
    assert "sla_breached" == breach.to_dict()["kind"]


def test_sla_warning_refuses_a_level_outside_zero_to_one() -> None:
    """A warning level is a fraction of the target."""
    with pytest.raises(EventError, match="level must be a fraction"):
        SlaWarning(created_ticket(), "first_reply", 0, AT, "k", level=75)


def test_sla_notice_refuses_a_naive_instant() -> None:
    """Instants at the API are aware."""
    with pytest.raises(EventError, match="naive datetime"):
        SlaBreached(created_ticket(), "first_reply", 0, AT.replace(tzinfo=None), "k")


def test_outbound_reply_uses_the_ticket_channel_unless_the_event_names_one() -> None:
    """reply.channel falls back to the ticket's channel; key is the event id."""
    ticket = created_ticket()
    plain = OutboundReply(ticket, event("message", body="hi"))
    routed = OutboundReply(ticket, event("message", body="hi", channel="email"))
    assert ("chat", "email") == (plain.channel, routed.channel)
    assert (plain.event.id, "hi") == (plain.key, plain.body)
    assert "chat" == json.loads(json.dumps(plain.to_dict()))["channel"]


# --- the JSON channel ---------------------------------------------------------------------------

payloads = st.fixed_dictionaries(
    {"from": st.text(min_size=1, max_size=20), "at": st.integers(0, 2**31)},
    optional={
        "text": st.text(max_size=40),
        "subject": st.text(max_size=20),
        "tags": st.lists(st.text(min_size=1, max_size=5), max_size=3),
    },
)


@given(payloads)
def test_json_channel_message_id_is_stable_across_redelivery(payload: dict[str, object]) -> None:
    """Without an id, the same payload gets the same message id as bytes, text or a dict,
    whatever its key order."""
    channel = JsonChannel()
    reordered = dict(reversed(list(payload.items())))
    ids = {
        channel.parse(payload, {}).message_id,
        channel.parse(json.dumps(reordered), {}).message_id,
        channel.parse(json.dumps(payload).encode(), {}).message_id,
    }
    assert 1 == len(ids)


def test_json_channel_different_payloads_get_different_ids() -> None:
    """Two messages that differ get different derived ids."""
    channel = JsonChannel()
    first = channel.parse({"from": "ann", "at": 0, "text": "a"}, {})
    second = channel.parse({"from": "ann", "at": 0, "text": "b"}, {})
    assert first.message_id != second.message_id


def test_json_channel_reads_every_field() -> None:
    """All InboundMessage fields come through, with ISO 8601 instants."""
    payload = {
        "message_id": "m-9",
        "channel": "chat",
        "sender": "ann@example.com",
        "at": "2025-03-03T10:00:00+01:00",
        "body": "hello",
        "subject": "Login",
        "ticket_id": "T-7",
        "public": True,
        "priority": "high",
        "tags": ["vip"],
        "language": "de",
        "metadata": {"plan": "pro"},
    }
    message = JsonChannel().parse(payload, {})
    assert AT == message.at
    assert ("m-9", "chat", "high", ("vip",)) == (
        message.message_id,
        message.channel,
        message.priority,
        message.tags,
    )


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        ({"from": "ann"}, "missing field 'at'"),
        ({"from": "ann", "at": "yesterday"}, "not an ISO 8601 instant"),
        ({"from": "ann", "at": 0, "priority": "asap"}, "asap"),
        ({"from": "", "at": 0}, "sender"),
    ],
)
def test_json_channel_invalid_payloads_are_event_errors(payload: object, match: str) -> None:
    """Every malformed payload is an EventError saying what is wrong."""
    with pytest.raises(EventError, match=match):
        JsonChannel().parse(payload, {})


def test_json_channel_does_not_send() -> None:
    """The JSON channel only receives."""
    assert None is JsonChannel().send(OutboundReply(created_ticket(), event("message")))
