"""Events and value objects: validation, defaults and the dict round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    Agent,
    ConfigurationError,
    EventError,
    InboundMessage,
    Priority,
    Role,
    TicketEvent,
    Tier,
)
from supportkit._model import EVENT_FIELDS, SCHEMA_VERSION

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def test_defaults_are_filled_in() -> None:
    """A message without fields is public with an empty body; priority defaults to normal."""
    message = TicketEvent("message", ticket_id="T", at=T0, by="agent")
    created = TicketEvent("created", ticket_id="T", at=T0)
    assert (True, "", Role.AGENT) == (message.data["public"], message.data["body"], message.by)
    assert Priority.NORMAL == created.data["priority"]


def test_ts_is_epoch_seconds_of_any_zone() -> None:
    """``ts`` is the same epoch second whatever zone ``at`` was given in."""
    berlin = T0.astimezone(timezone(timedelta(hours=1)))
    a = TicketEvent("created", ticket_id="T", at=T0)
    b = TicketEvent("created", ticket_id="T", at=berlin)
    assert 1740992400 == a.ts == b.ts


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"kind": "bogus", "ticket_id": "T", "at": "2025-03-03T09:00:00Z"}, "kind", "unknown"),
        (
            {"kind": "status_changed", "ticket_id": "T", "at": "2025-03-03T09:00:00Z"},
            "to",
            "missing",
        ),
        ({"kind": "created", "ticket_id": "T", "at": "2025-03-03T09:00:00"}, "at", "no UTC offset"),
        ({"kind": "created", "at": "2025-03-03T09:00:00Z"}, "ticket_id", "missing"),
        ({"ticket_id": "T", "at": "2025-03-03T09:00:00Z"}, "kind", "missing"),
        ({"kind": "created", "ticket_id": "T", "at": "yesterday"}, "at", "not an ISO 8601"),
        (
            {"kind": "created", "ticket_id": "T", "at": "2025-03-03T09:00:00Z", "priority": "asap"},
            "priority",
            "must be one of low, normal, high, urgent",
        ),
        (
            {"kind": "message", "ticket_id": "T", "at": "2025-03-03T09:00:00Z", "public": "yes"},
            "public",
            "true or false",
        ),
        (
            {"kind": "message", "ticket_id": "T", "at": "2025-03-03T09:00:00Z", "colour": "red"},
            "colour",
            "unknown field",
        ),
        (
            {
                "kind": "satisfaction_rated",
                "ticket_id": "T",
                "at": "2025-03-03T09:00:00Z",
                "nps": 11,
            },
            "nps",
            "from 0 to 10",
        ),
        ({"kind": "assigned", "ticket_id": "T", "at": "2025-03-03T09:00:00Z"}, "agent", "give an"),
        (
            {"kind": "message", "ticket_id": "T", "at": "2025-03-03T09:00:00Z", "by": "cat"},
            "by",
            "by",
        ),
        ({"v": 99, "kind": "created", "ticket_id": "T", "at": "2025-03-03T09:00:00Z"}, "v", "99"),
    ],
)
def test_bad_event_dicts_name_the_field(raw: dict[str, object], field: str, message: str) -> None:
    """Every malformed event dict raises EventError naming the offending field."""
    with pytest.raises(EventError, match=message) as info:
        TicketEvent.from_dict(raw)
    assert field == info.value.field
    assert isinstance(info.value, ValueError)


def test_event_ids_are_unique_across_threads_and_forked_children() -> None:
    """Event ids are drawn ahead in blocks: threads taking them at once never share one, and a
    forked child (a worker process) never repeats the ids its parent had drawn ahead."""
    import os
    import threading

    def ids(n: int) -> list[str]:
        return [TicketEvent("created", ticket_id="T", at=T0).id for _ in range(n)]

    ids(1)  # the parent has ids drawn ahead now
    taken: list[list[str]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=lambda out=out: out.extend(ids(600))) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its first ids to the parent, exit without cleanup
        os.write(write, "".join(ids(10)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    parent = ids(10)
    child_ids = [child[i : i + 32] for i in range(0, len(child), 32)]
    every = [*(i for out in taken for i in out), *parent, *child_ids]
    assert (2420, 2420) == (len(every), len(set(every)))
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in every)


def test_naive_datetime_is_rejected() -> None:
    """A naive ``at`` is refused with a hint to pass an aware datetime, never read as UTC."""
    with pytest.raises(EventError, match="naive datetime 2025-03-03 09:00") as info:
        TicketEvent("created", ticket_id="T", at=datetime(2025, 3, 3, 9))
    assert "at" == info.value.field


def test_data_is_read_only() -> None:
    """An event's data cannot be changed after construction."""
    event = TicketEvent("tagged", ticket_id="T", at=T0, data={"add": ["vip"]})
    with pytest.raises(TypeError):
        event.data["add"] = ()  # type: ignore[index]


_VALUES = {
    "created": {"priority": "urgent", "tags": ["a", "b"], "customer": "c-1", "channel": "email"},
    "message": {"public": False, "message_id": "m-1", "body": "hi"},
    "status_changed": {"to": "pending"},
    "assigned": {"agent": "ann", "group": "l1"},
    "priority_changed": {"to": "low"},
    "tier_changed": {"to": "gold"},
    "escalated": {"level": "engineering", "target": "eng", "reason": "bug"},
    "tagged": {"add": ["x"], "remove": ["y"]},
    "handed_off": {"from": "emea", "to": "amer", "note": "pending: reply"},
    "merged": {"into": "T-2"},
    "linked_to_problem": {"problem": "T-2"},
    "unlinked": {"problem": "T-2"},
    "engineering_issue_changed": {"tracker": "github", "key": "acme/app#12", "state": "wont_fix"},
    "satisfaction_rated": {"csat": "good", "score": 5, "nps": 9, "ces": 2, "comment": "thanks"},
    "kb_article_viewed": {"article": "kb-1"},
    "articles_suggested": {"articles": ["kb-1", "kb-2"], "message_id": "m-1"},
    "article_helped": {"article": "kb-1"},
    "article_not_helped": {"article": "kb-2"},
    "deflected": {"article": "kb-1"},
    "sla_policy_applied": {"policy": "gold", "version": 3},
}


def test_every_kind_has_a_sample() -> None:
    """The round-trip samples cover every event kind."""
    assert set(EVENT_FIELDS) == set(_VALUES)


@given(
    kind=st.sampled_from(sorted(_VALUES)),
    by=st.sampled_from(list(Role)),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    seconds=st.integers(min_value=0, max_value=2**31),
)
def test_dict_round_trip(kind: str, by: Role, offset: int, seconds: int) -> None:
    """to_dict is JSON-compatible and from_dict gives back an equal event."""
    at = datetime.fromtimestamp(seconds, timezone(timedelta(minutes=offset)))
    event = TicketEvent(kind, ticket_id="T-1", at=at, by=by, actor="x", data=_VALUES[kind])
    raw = json.loads(json.dumps(event.to_dict()))
    assert SCHEMA_VERSION == raw["v"]
    assert event == TicketEvent.from_dict(raw)


def test_value_objects_validate() -> None:
    """Value objects refuse nonsense with ConfigurationError."""
    with pytest.raises(ConfigurationError, match="not a whole number >= 0"):
        Agent("ann", capacity={"email": -1})
    with pytest.raises(ConfigurationError, match="weight must be an int"):
        Tier("gold", weight="high")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="non-empty"):
        Tier("", weight=1)
    assert frozenset({"acme"}) == Tier("vip", weight=10, watchlist=["acme"]).watchlist
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        Agent("ann", skills=["billing"])  # type: ignore[arg-type]


def test_tier_without_a_weight_is_a_configuration_error() -> None:
    """A missing weight is named as such, not a bare TypeError about __init__."""
    with pytest.raises(ConfigurationError, match="tier 'gold' has no weight"):
        Tier("gold")


def test_inbound_message_validates() -> None:
    """InboundMessage needs an id, a channel, a sender and an aware instant."""
    message = InboundMessage("m-1", "email", "a@example.com", T0, priority="high", tags=["x"])
    assert (Priority.HIGH, ("x",)) == (message.priority, message.tags)
    with pytest.raises(EventError, match="naive"):
        InboundMessage("m-1", "email", "a@example.com", datetime(2025, 1, 1))
    with pytest.raises(EventError, match="'message_id' must be a non-empty string") as info:
        InboundMessage("", "email", "a@example.com", T0)
    assert "message_id" == info.value.field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tags": "vip"}, "tags"),
        ({"public": "no"}, "public"),
        ({"priority": "asap"}, "priority"),
        ({"ticket_id": ""}, "ticket_id"),
        ({"body": 5}, "body"),
        ({"language": 7}, "language"),
    ],
)
def test_inbound_message_fields_are_checked(change: dict[str, object], field: str) -> None:
    """Every InboundMessage field is checked like the event fields, naming the field."""
    with pytest.raises(EventError) as info:
        InboundMessage("m-1", "email", "a@example.com", T0, **change)  # type: ignore[arg-type]
    assert field == info.value.field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": ["created"]}, "kind"),
        ({"data": [("to", "open")]}, "data"),
        ({"data": None}, "data"),
        ({"id": ""}, "id"),
        ({"id": 5}, "id"),
        ({"actor": 5}, "actor"),
    ],
)
def test_event_envelope_types_are_checked(kwargs: dict[str, object], field: str) -> None:
    """Wrong types for kind, data, id or actor raise EventError naming the field."""
    arguments: dict[str, object] = {"kind": "created", "ticket_id": "T", "at": T0, **kwargs}
    kind = arguments.pop("kind")
    with pytest.raises(EventError) as info:
        TicketEvent(kind, **arguments)  # type: ignore[arg-type]
    assert field == info.value.field
