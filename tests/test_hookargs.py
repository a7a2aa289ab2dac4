"""The frozen hook arguments (notices, OutboundReply) and the built-in JSON channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    EventAppended,
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
    hookspecs,
)
from supportkit._hookargs import NOTICE_TYPES

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)


def event(kind: str, ticket_id: str = "T-1", **data: object) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket_id, at=AT, data=data)


def created_ticket(**data: object) -> Ticket:
    return Ticket.from_events([event("created", channel="chat", **data)])


def test_status_changed_knows_the_previous_and_the_new_status() -> None:
    """StatusChanged.previous is given; status comes from the event."""
    change = event("status_changed", to="pending")
    notice = StatusChanged(created_ticket().apply(change), change, "new")
    assert (Status.NEW, Status.PENDING) == (notice.previous, notice.status)
    assert ("T-1", AT) == (notice.ticket_id, notice.at)


def test_assigned_and_escalated_read_their_event() -> None:
    """TicketAssigned and TicketEscalated derive agent, group, level, target, reason."""
    ticket = created_ticket()
    assign = event("assigned", agent="a-2")
    assigned = TicketAssigned(ticket.apply(assign), assign, previous_agent="a-1")
    escalate = event("escalated", level="L2", target="eng", reason="bug")
    escalated = TicketEscalated(ticket.apply(escalate), escalate)
    assert ("a-1", "a-2", None) == (assigned.previous_agent, assigned.agent, assigned.group)
    expected = (None, "L2", "eng", "bug")
    actual = (escalated.previous_level, escalated.level, escalated.target, escalated.reason)
    assert expected == actual


def test_satisfaction_notice_holds_the_rating() -> None:
    """SatisfactionReceived.satisfaction is this event's rating."""
    rating = event("satisfaction_rated", score=4, comment="quick")
    notice = SatisfactionReceived(created_ticket().apply(rating), rating)
    expected = (4, "quick", None)
    actual = (notice.satisfaction.score, notice.satisfaction.comment, notice.satisfaction.csat)
    assert expected == actual


def test_every_notice_kind_names_its_hook() -> None:
    """NOTICE_TYPES maps each kind to its class, and each kind has a broadcast hook."""
    hooks = {name for name in vars(hookspecs) if name.startswith("supportkit_")}
    assert {f"supportkit_{kind}" for kind in NOTICE_TYPES} <= hooks
    assert all(cls.kind == kind for kind, cls in NOTICE_TYPES.items())


def test_notices_are_frozen() -> None:
    """Hook arguments cannot be changed by a plugin."""
    created = event("created")
    notice = TicketCreated(Ticket.from_events([created]), created)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        notice.ticket = created_ticket()  # type: ignore[misc]


def test_notice_refuses_an_event_of_the_wrong_kind() -> None:
    """A TicketCreated needs the created event."""
    with pytest.raises(EventError, match="TicketCreated needs a TicketEvent of kind created"):
        TicketCreated(created_ticket(), event("tagged", add=["x"]))


def test_event_appended_refuses_what_is_not_an_event() -> None:
    """EventAppended takes any event kind, but only a TicketEvent."""
    with pytest.raises(EventError, match=r"^EventAppended needs a TicketEvent, got 'created'"):
        EventAppended(created_ticket(), "created")  # type: ignore[arg-type]


def test_notice_refuses_an_event_of_another_ticket() -> None:
    """The event must belong to the notice's ticket."""
    with pytest.raises(EventError, match="belongs to ticket T-2, not to ticket T-1"):
        StatusChanged(created_ticket(), event("status_changed", "T-2", to="open"), "new")


def test_to_dict_is_json_with_kind_ticket_and_instant() -> None:
    """to_dict() is plain JSON data: the webhook plugin posts it as is."""
    created = event("created", tags=["vip"])
    notice = TicketCreated(Ticket.from_events([created]), created)
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


def test_sla_notices_carry_metric_cycle_key_and_policy() -> None:
    """SLA notices are fields, not an event; policy comes from the ticket."""
    ticket = created_ticket().apply(event("sla_policy_applied", policy="gold"))
    warning = SlaWarning(ticket, "first_reply", 0, AT, "k1", level=0.75, deadline=AT)
    breach = SlaBreached(ticket, "first_reply", 0, AT, "k2")
    assert ("gold", 0.75, AT) == (warning.policy, warning.level, warning.deadline)
    data = json.loads(json.dumps(breach.to_dict()))
    expected = ("sla_breached", "first_reply", 0, "k2", "2025-03-03T09:00:00+00:00")
    assert expected == (data["kind"], data["metric"], data["cycle"], data["key"], data["at"])


def test_sla_warning_refuses_a_level_outside_zero_to_one() -> None:
    """A warning level is a fraction of the target."""
    with pytest.raises(EventError, match="level must be a fraction"):
        SlaWarning(created_ticket(), "first_reply", 0, AT, "k", level=75)


def test_sla_notices_refuse_a_naive_instant() -> None:
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
