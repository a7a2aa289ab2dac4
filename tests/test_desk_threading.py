"""Threading (references, ticket hints), the outbound message index, receive() and Ignored noise,
and attach(desk). Desk tests run on the memory sidecar and on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import (
    ConfigurationError,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PluginError,
    Role,
    SlaPolicy,
    SqliteStore,
    Status,
    SupportDesk,
    SupportkitError,
    hookimpl,
)
from supportkit._hookargs import Notice
from supportkit._plugins import PluginHost
from supportkit.exceptions import Ignored
from supportkit.testing import FakeChannel, RecordingNotifier, registered_plugin

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {
        "name": "standard",
        "targets": {
            "normal": {
                "first_reply": {"minutes": 60, "business": False},
                "next_reply": {"minutes": 60, "business": False},
            }
        },
    }
)


def msg(mid: str, *, channel: str = "email", at: datetime = T0, **kw: Any) -> InboundMessage:
    return InboundMessage(mid, channel, "ann@example.com", at, body=f"body of {mid}", **kw)


def host(*plugins: object) -> PluginHost:
    return PluginHost(plugins=plugins, load_entrypoints=False, blocked=["supportkit.builtins"])


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


# --- InboundMessage ------------------------------------------------------------------------------


def test_references_and_hint_default_to_nothing() -> None:
    """A plain message references nothing and hints at no ticket."""
    assert ((), None) == (msg("m-1").references, msg("m-1").ticket_hint)


def test_references_become_a_tuple() -> None:
    """A list of ids is kept as a tuple, in the order given (newest last)."""
    assert ("a", "b") == msg("m-1", references=["a", "b"]).references


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"references": "m-0"}, "references"),
        ({"references": ["m-0", ""]}, "references"),
        ({"references": [1]}, "references"),
        ({"ticket_hint": ""}, "ticket_hint"),
        ({"ticket_hint": 7}, "ticket_hint"),
    ],
)
def test_bad_references_or_hint_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    """A bare string, an empty id or a non-string is an EventError naming the field."""
    with pytest.raises(EventError) as info:
        msg("m-1", **kwargs)
    assert field == info.value.field


# --- threading -----------------------------------------------------------------------------------


def test_a_reference_threads_into_the_ticket_of_that_message(
    desks: Callable[..., SupportDesk],
) -> None:
    """An answer referencing an ingested message id goes into that message's ticket."""
    desk = desks()
    first = desk.ingest(msg("m-1"))
    answer = desk.ingest(msg("m-2", references=["unknown", "m-1"]))
    assert (first.ticket_id, False) == (answer.ticket_id, answer.created)


def test_the_newest_known_reference_wins(desks: Callable[..., SupportDesk]) -> None:
    """References are read newest (last) first."""
    desk = desks()
    one = desk.ingest(msg("a-1")).ticket_id
    two = desk.ingest(msg("b-1")).ticket_id
    assert two == desk.ingest(msg("c-1", references=["a-1", "b-1"])).ticket_id
    assert one == desk.ingest(msg("c-2", references=["a-1", "zz"])).ticket_id


def test_references_are_per_channel(desks: Callable[..., SupportDesk]) -> None:
    """A reference is looked up on the message's own channel only."""
    desk = desks()
    desk.ingest(msg("m-1", channel="chat"))
    assert desk.ingest(msg("m-2", references=["m-1"])).created


def test_a_hint_threads_into_an_existing_ticket(desks: Callable[..., SupportDesk]) -> None:
    """A ticket hint naming an existing ticket threads into it when no reference is known."""
    desk = desks()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    result = desk.ingest(msg("m-2", references=["nope"], ticket_hint=ticket_id))
    assert (ticket_id, False) == (result.ticket_id, result.created)


def test_a_reference_wins_over_the_hint_and_the_hint_over_ticket_id(
    desks: Callable[..., SupportDesk],
) -> None:
    """The order is references, then ticket_hint, then the host-trusted ticket_id."""
    desk = desks()
    a = desk.ingest(msg("a-1")).ticket_id
    b = desk.ingest(msg("b-1")).ticket_id
    c = desk.ingest(msg("c-1")).ticket_id
    assert a == desk.ingest(msg("x-1", references=["a-1"], ticket_hint=b, ticket_id=c)).ticket_id
    assert b == desk.ingest(msg("x-2", ticket_hint=b, ticket_id=c)).ticket_id


def test_an_unknown_hint_or_reference_never_opens_a_ticket_under_that_id(
    desks: Callable[..., SupportDesk],
) -> None:
    """A hint naming no ticket opens a new ticket with a generated id, not the hinted one."""
    desk = desks()
    result = desk.ingest(msg("m-1", ticket_hint="T-attacker", references=["T-attacker"]))
    assert result.created
    assert "T-attacker" != result.ticket_id
    assert "T-attacker" not in desk.store.ticket_ids()


def test_host_ticket_id_still_opens_a_ticket_under_that_id(
    desks: Callable[..., SupportDesk],
) -> None:
    """The host-trusted ticket_id keeps today's meaning when nothing else threads."""
    desk = desks()
    result = desk.ingest(msg("m-1", ticket_hint="T-none", ticket_id="conv-1"))
    assert ("conv-1", True) == (result.ticket_id, result.created)


def test_a_reference_to_a_closed_ticket_opens_a_follow_up(
    desks: Callable[..., SupportDesk],
) -> None:
    """Closed is final: an answer threading into a closed ticket opens a linked follow-up."""
    desk = desks()
    old = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(old, Status.SOLVED)
    desk.set_status(old, Status.CLOSED)
    result = desk.ingest(msg("m-2", references=["m-1"]))
    assert result.created
    assert result.ticket_id != old
    assert f"follow-up:{old}" in desk.ticket(result.ticket_id or "").tags


# --- the outbound message index ------------------------------------------------------------------


def test_sent_reply_ids_thread_the_customers_answer(
    desks: Callable[..., SupportDesk],
) -> None:
    """The id the channel gives a sent reply is indexed: an answer referencing it threads."""
    channel = FakeChannel("email")
    desk = desks(channel)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "Which invoice?", agent="bob")
    desk.deliver()
    assert ticket_id == desk.store.message_ticket("email", "email-1")
    assert ticket_id == desk.ingest(msg("m-2", references=["email-1"])).ticket_id


def test_the_outbound_index_survives_a_restart(tmp_path: Path, clock: FrozenClock) -> None:
    """On SQLite, a sent reply's id still threads after the desk is reopened."""
    path = tmp_path / "desk.db"
    with SupportDesk(store=SqliteStore(path), clock=clock, plugins=host(FakeChannel("email"))) as d:
        ticket_id = d.ingest(msg("m-1")).ticket_id
        assert ticket_id is not None
        d.reply(ticket_id, "Which invoice?", agent="bob")
        d.deliver()
    with SupportDesk(store=SqliteStore(path), clock=clock, plugins=host()) as again:
        assert ticket_id == again.ingest(msg("m-2", references=["email-1"])).ticket_id


def test_reply_references_list_the_tickets_ids_oldest_first(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A reply references every id received or sent on its channel before it, oldest first."""
    channel = FakeChannel("email")
    desk = desks(channel)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "first", agent="bob")
    desk.deliver()
    clock.advance(minutes=5)
    desk.ingest(msg("m-2", at=clock.now(), references=["email-1"]))
    desk.ingest(msg("c-1", channel="chat", at=clock.now(), ticket_id=ticket_id))
    desk.reply(ticket_id, "second", agent="bob")
    desk.deliver()
    first, second = channel.sent
    assert ((), "m-1") == (first.references[1:], first.in_reply_to)
    assert (("m-1", "email-1", "m-2"), "m-2") == (second.references, second.in_reply_to)
    assert ("m-1",) == first.references


def test_reply_references_are_stable_across_retries(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A retried reply names the same references even if the customer wrote again meanwhile."""
    channel = FakeChannel("email", fail=ConnectionError("smtp down"))
    desk = desks(channel)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "hello", agent="bob")
    desk.deliver()
    channel.fail = None
    clock.advance(minutes=1)
    desk.ingest(msg("m-2", at=clock.now(), references=["m-1"]))
    desk.deliver()
    assert [("m-1",), ("m-1",)] == [reply.references for reply in channel.sent]


def test_automatic_notice_goes_out_marked_and_stops_no_clock(
    desks: Callable[..., SupportDesk],
) -> None:
    """reply(automatic=True) is sent with automatic set, by the system, and is not a reply."""
    channel = FakeChannel("email")
    desk = desks(channel, policies=[POLICY])
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "We got your message.", automatic=True)
    desk.reply(ticket_id, "Looking into it.", agent="bob")
    desk.deliver()
    assert [True, False] == [reply.automatic for reply in channel.sent]
    assert Role.SYSTEM is channel.sent[0].event.by
    evaluation = desk.sla(ticket_id, T0)
    assert evaluation is not None
    assert "met" == evaluation["first_reply"][0].status.value
    assert 0 == desk.ticket(ticket_id).agent_replies - 1  # only bob's reply counts


def test_automatic_must_be_a_flag(desks: Callable[..., SupportDesk]) -> None:
    """reply(automatic="yes") is refused with the field named; nothing is written."""
    desk = desks()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    assert ticket_id is not None
    version = desk.store.version(ticket_id)
    with pytest.raises(EventError) as info:
        desk.reply(ticket_id, "hi", automatic="yes")  # type: ignore[arg-type]
    assert ("automatic", version) == (info.value.field, desk.store.version(ticket_id))


# --- receive and Ignored -------------------------------------------------------------------------


class Noisy(FakeChannel):
    """A fake email channel that refuses payloads with an "ignore" key as noise."""

    def parse(self, payload: Any, headers: Any) -> InboundMessage:
        if isinstance(payload, dict) and "ignore" in payload:
            fields = {k: v for k, v in payload.items() if k not in ("ignore", "record")}
            message = super().parse(fields, headers) if fields else None
            raise Ignored(payload["ignore"], message=message, record=payload.get("record", False))
        return super().parse(payload, headers)


def payload(mid: str, **fields: Any) -> dict[str, Any]:
    return {"id": mid, "from": "ann@example.com", "at": T0.isoformat(), **fields}


def test_receive_parses_then_ingests(desks: Callable[..., SupportDesk]) -> None:
    """receive() is the channel's parse followed by ingest; redelivery is a duplicate."""
    desk = desks(FakeChannel("email"))
    first = desk.receive("email", payload("m-1", body="hi"), {"X-Test": "1"})
    again = desk.receive("email", payload("m-1", body="hi"))
    assert (True, None, True, first.ticket_id) == (
        first.created,
        first.ignored,
        again.duplicate,
        again.ticket_id,
    )


def test_channel_names_lists_the_registered_channels(desks: Callable[..., SupportDesk]) -> None:
    """channel_names() names what receive() accepts."""
    desk = desks(FakeChannel("email"), FakeChannel("chat"))
    assert ["chat", "email"] == sorted(desk.channel_names())


@pytest.mark.parametrize("channel", ["sms", "", None, 3])
def test_receive_on_an_unknown_channel_is_a_configuration_error(
    desks: Callable[..., SupportDesk], channel: Any
) -> None:
    """An unregistered (or non-string) channel is refused; nothing is written."""
    desk = desks(FakeChannel("email"))
    with pytest.raises(ConfigurationError, match="email"):
        desk.receive(channel, payload("m-1"))
    assert [] == desk.store.ticket_ids()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "payload"),
        ({"from": "ann@example.com"}, "at"),
        (payload("m-1", references="m-0"), "references"),
    ],
)
def test_receive_names_the_bad_field(
    desks: Callable[..., SupportDesk], body: Any, field: str
) -> None:
    """A payload the channel cannot parse is an EventError naming the field."""
    desk = desks(FakeChannel("email"))
    with pytest.raises(EventError) as info:
        desk.receive("email", body)
    assert (field, []) == (info.value.field, desk.store.ticket_ids())


@pytest.mark.parametrize("headers", [["a"], {"a": 1}, {1: "a"}])
def test_receive_refuses_headers_that_are_not_strings(
    desks: Callable[..., SupportDesk], headers: Any
) -> None:
    """Headers must map strings to strings."""
    desk = desks(FakeChannel("email"))
    with pytest.raises(EventError) as info:
        desk.receive("email", payload("m-1"), headers)
    assert "headers" == info.value.field


def test_ignored_noise_without_a_message_opens_nothing(
    desks: Callable[..., SupportDesk],
) -> None:
    """Noise the channel could not even parse: ignored, no ticket, nothing written."""
    desk = desks(Noisy("email"))
    result = desk.receive("email", {"ignore": "bounce"})
    assert (None, "bounce", False, ()) == (
        result.ticket_id,
        result.ignored,
        result.duplicate,
        result.events,
    )
    assert [] == desk.store.ticket_ids()


def test_ignored_noise_names_the_ticket_it_belongs_to(
    desks: Callable[..., SupportDesk],
) -> None:
    """An auto-reply referencing a ticket's message names that ticket but writes nothing."""
    desk = desks(Noisy("email"))
    ticket_id = desk.receive("email", payload("m-1")).ticket_id
    assert ticket_id is not None
    version = desk.store.version(ticket_id)
    result = desk.receive("email", {"ignore": "auto-reply", **payload("ar-1", references=["m-1"])})
    hinted = desk.receive(
        "email", {"ignore": "auto-reply", **payload("ar-2", ticket_hint=ticket_id)}
    )
    unknown = desk.receive("email", {"ignore": "auto-reply", **payload("ar-3", ticket_hint="T-x")})
    assert (ticket_id, ticket_id, None) == (result.ticket_id, hinted.ticket_id, unknown.ticket_id)
    assert ("auto-reply", (), version) == (
        result.ignored,
        result.events,
        desk.store.version(ticket_id),
    )
    assert 1 == len(desk.store.ticket_ids())


def test_recorded_noise_is_an_internal_system_note_with_no_sla_effect(
    desks: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """record=True appends an internal system note: SLA and customer counters stay as they were."""
    desk = desks(Noisy("email"), policies=[POLICY])
    ticket_id = desk.receive("email", payload("m-1")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "Fixed?", agent="bob", status=Status.PENDING)
    before = desk.ticket(ticket_id)
    clock.advance(minutes=30)
    at = clock.now()
    sla_before = desk.sla(ticket_id, at + timedelta(hours=3))
    bounce = {
        "ignore": "bounce",
        "record": True,
        **payload("b-1", at=at.isoformat(), references=["m-1"]),
    }
    result = desk.receive("email", bounce)
    after = desk.ticket(ticket_id)
    [note] = result.events
    assert ("bounce", ticket_id, Role.SYSTEM, False) == (
        result.ignored,
        result.ticket_id,
        note.by,
        note.data["public"],
    )
    assert "bounce" in note.data["body"]
    assert (Status.PENDING, before.last_customer_message_at, before.agent_replies) == (
        after.status,
        after.last_customer_message_at,
        after.agent_replies,
    )
    assert sla_before == desk.sla(ticket_id, at + timedelta(hours=3))
    again = desk.receive("email", bounce)
    assert (True, ticket_id, "bounce") == (again.duplicate, again.ticket_id, again.ignored)
    assert after.version == desk.store.version(ticket_id)


def test_recorded_noise_without_a_known_ticket_writes_nothing(
    desks: Callable[..., SupportDesk],
) -> None:
    """record=True with no ticket to attach it to: ignored, ticket_id None, no ticket opened."""
    desk = desks(Noisy("email"))
    result = desk.receive("email", {"ignore": "bulk", "record": True, **payload("n-1")})
    assert (None, "bulk", []) == (result.ticket_id, result.ignored, desk.store.ticket_ids())


def test_recorded_noise_on_a_closed_ticket_adds_no_note(
    desks: Callable[..., SupportDesk],
) -> None:
    """Closed is final: the noise names the ticket but nothing is appended."""
    desk = desks(Noisy("email"))
    ticket_id = desk.receive("email", payload("m-1")).ticket_id
    assert ticket_id is not None
    desk.set_status(ticket_id, Status.SOLVED)
    desk.set_status(ticket_id, Status.CLOSED)
    version = desk.store.version(ticket_id)
    result = desk.receive(
        "email", {"ignore": "bounce", "record": True, **payload("b-1", references=["m-1"])}
    )
    assert (ticket_id, (), version) == (
        result.ticket_id,
        result.events,
        desk.store.version(ticket_id),
    )


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("",), {}), ((None,), {}), (("x",), {"message": "m-1"}), (("x",), {"record": True})],
)
def test_ignored_refuses_what_it_cannot_use(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """An empty reason, a non-message or record=True without a message is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        Ignored(*args, **kwargs)


def test_ignored_carries_reason_message_and_record() -> None:
    """The attributes are what the channel gave; str() is the reason."""
    message = msg("m-1")
    noise = Ignored("auto-reply", message=message, record=True)
    assert ("auto-reply", message, True, "auto-reply") == (
        noise.reason,
        noise.message,
        noise.record,
        str(noise),
    )


# --- attach(desk) --------------------------------------------------------------------------------


class Attaching(RecordingNotifier):
    """A notifier that records the desks it was attached to."""

    def __init__(self, name: str = "attaching", fail: bool = False) -> None:
        super().__init__(name)
        self.desks: list[SupportDesk] = []
        self.failing = fail

    def attach(self, desk: SupportDesk) -> None:
        if self.failing:
            raise RuntimeError("no state table")
        self.desks.append(desk)


def test_attach_is_called_once_per_desk(clock: FrozenClock) -> None:
    """Each desk that loads a registered object with attach() calls it once."""
    notifier = Attaching()
    channel = FakeChannel("email")
    channel.attached = []  # type: ignore[attr-defined]
    channel.attach = channel.attached.append  # type: ignore[attr-defined]
    plugins = host(notifier, channel)
    one = SupportDesk(store=InMemoryStore(), clock=clock, plugins=plugins)
    two = SupportDesk(store=InMemoryStore(), clock=clock, plugins=plugins)
    one.ingest(msg("m-1"))
    one.deliver()
    two.receive("email", payload("m-2"))
    assert ([one, two], [one, two]) == (notifier.desks, channel.attached)  # type: ignore[attr-defined]


def test_attach_reaches_objects_registered_later(clock: FrozenClock) -> None:
    """A notifier registered after the desk was made is attached before the desk uses it."""
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=host())
    notifier = Attaching()
    with registered_plugin(desk, notifier):
        desk.ingest(msg("m-1"))
        desk.deliver()
    assert ([desk], ["ticket_created", "event_appended", "event_appended"]) == (
        notifier.desks,
        notifier.kinds,
    )


def test_failing_attach_is_a_plugin_error_naming_the_object(clock: FrozenClock) -> None:
    """attach() raising stops the desk's construction with a PluginError naming it."""
    with pytest.raises(PluginError, match="no state table") as info:
        SupportDesk(store=InMemoryStore(), clock=clock, plugins=host(Attaching(fail=True)))
    assert "notifier:attaching" == info.value.plugin


def test_hookimpl_notices_still_fire_with_attach(clock: FrozenClock) -> None:
    """Plugins that only implement hooks need no attach()."""
    seen: list[str] = []

    class Hooks:
        @hookimpl
        def supportkit_ticket_created(self, notice: Notice) -> None:
            seen.append(notice.ticket_id)

    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=host(Hooks()))
    assert [desk.ingest(msg("m-1")).ticket_id] == seen


# --- receive on any input ------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=6) | _JSON,
        "from": st.text(max_size=6) | _JSON,
        "at": st.sampled_from(["2025-03-03T09:00:00Z", "2025-03-03T09:00:00", 1741000000]) | _JSON,
        "references": st.lists(st.sampled_from(["m-1", "", "x"]), max_size=3) | _JSON,
        "ticket_hint": st.sampled_from(["T-1", ""]) | _JSON,
        "ticket_id": st.sampled_from(["T-1", "new-1"]) | _JSON,
        "ignore": st.sampled_from(["bounce", ""]) | _JSON,
        "record": st.booleans() | _JSON,
    },
)


@settings(max_examples=60, deadline=None)
@given(
    channel=st.sampled_from(["email", "json", "nope"]) | _JSON,
    body=_FIELDS | _JSON | st.binary(max_size=12),
    headers=st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4)) | _JSON,
)
def test_receive_raises_only_supportkit_errors_and_a_refusal_changes_nothing(
    channel: Any, body: Any, headers: Any
) -> None:
    """Any channel name, payload and headers: receive() returns or raises a SupportkitError,
    and when it raises, the store is exactly as before."""
    desk = SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0), plugins=host(Noisy("email")))
    desk.receive("email", payload("m-1"))
    before = [e.to_dict() for e in desk.store.read_all()]
    try:
        desk.receive(channel, body, headers)
    except SupportkitError:
        assert before == [e.to_dict() for e in desk.store.read_all()]
