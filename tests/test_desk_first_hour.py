"""What a new user meets first on the desk: next steps most urgent first, exact small metrics,
constructor arguments of the wrong type named clearly, and ``reply(take=True)``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PluginError,
    Priority,
    SlaPolicy,
    Status,
    StepAction,
    SupportDesk,
    Tier,
    hookimpl,
)
from supportkit._hookargs import Notice

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {
        "name": "standard",
        "targets": {
            "urgent": {"first_reply": {"minutes": 30, "business": False}},
            "high": {"first_reply": {"minutes": 60, "business": False}},
            "normal": {"first_reply": {"minutes": 60, "business": False}},
        },
    }
)


def _desk(clock: FrozenClock | None = None, **options: object) -> SupportDesk:
    return SupportDesk(
        store=InMemoryStore(),
        clock=clock or FrozenClock(T0),
        plugins=None,
        policies=[POLICY],
        **options,  # type: ignore[arg-type]
    )


def _message(number: int, at: datetime, priority: Priority | None = None) -> InboundMessage:
    return InboundMessage(f"m-{number}", "email", f"c{number}@example.com", at, priority=priority)


def test_next_steps_are_most_urgent_first() -> None:
    """Earliest due first; equal due times put the higher priority first; no due time last,
    whatever the order the tickets were created in."""
    clock = FrozenClock(T0)
    desk = _desk(clock)
    # No policy target for low: no due time at all.
    no_due = desk.ingest(_message(1, T0, Priority.LOW)).ticket_id
    normal = desk.ingest(_message(2, T0)).ticket_id  # due 10:00
    high = desk.ingest(_message(3, T0, Priority.HIGH)).ticket_id  # due 10:00 too
    late = desk.ingest(_message(4, T0 + timedelta(minutes=10))).ticket_id  # due 10:10
    urgent = desk.ingest(_message(5, T0 + timedelta(minutes=20), Priority.URGENT)).ticket_id
    steps = desk.next_steps()
    assert [
        (urgent, T0 + timedelta(minutes=50)),
        (high, T0 + timedelta(hours=1)),
        (normal, T0 + timedelta(hours=1)),
        (late, T0 + timedelta(minutes=70)),
        (no_due, None),
    ] == [(step.ticket_id, step.due) for step in steps]
    assert [Priority.URGENT, Priority.HIGH, Priority.NORMAL] == [s.priority for s in steps[:3]]


def _two_replies_of_twenty_minutes(clock: FrozenClock, desk: SupportDesk) -> None:
    for number in (1, 2):
        clock.set(T0 + timedelta(hours=number))
        ticket_id = desk.ingest(_message(number, clock.now())).ticket_id
        clock.advance(minutes=20)
        desk.reply(ticket_id, "Hello", agent="ann")


def test_small_desk_metrics_are_exact_by_default() -> None:
    """Two 20-minute first replies have a median of exactly 1200 s (the sketch said 1210.13)."""
    clock = FrozenClock(T0)
    desk = _desk(clock)
    _two_replies_of_twenty_minutes(clock, desk)
    report = desk.metrics()
    assert (True, 1200.0, 1200.0) == (
        report.exact,
        report.row("all")["first_reply.median"],
        desk.metrics(exact=True).row("all")["first_reply.median"],
    )


def test_desk_metrics_use_the_sketch_above_the_documented_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past SupportDesk.EXACT_UP_TO tickets the default is the sketch (within 1 %), as is
    exact=False at any size."""
    clock = FrozenClock(T0)
    desk = _desk(clock)
    _two_replies_of_twenty_minutes(clock, desk)
    sketched = desk.metrics(exact=False)
    monkeypatch.setattr(SupportDesk, "EXACT_UP_TO", 1)
    default = desk.metrics()
    median = sketched.row("all")["first_reply.median"]
    assert median is not None
    assert (False, False, True, True) == (
        sketched.exact,
        default.exact,
        median != 1200.0,
        abs(median - 1200) <= 12,
    )
    assert median == default.row("all")["first_reply.median"]


def test_desk_metrics_refuse_a_non_boolean_exact() -> None:
    """exact= takes True, False or None; anything else is a clear ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"metrics\(exact=\.\.\.\) must be True, False"):
        _desk().metrics(exact="yes")  # type: ignore[arg-type]


def test_desk_accepts_one_policy_and_one_tier() -> None:
    """policies= and tiers= take one object as well as a list of them."""
    desk = SupportDesk(
        store=InMemoryStore(),
        clock=FrozenClock(T0),
        plugins=None,
        policies=POLICY,
        tiers=Tier("gold", weight=10, sla_policy="standard"),
    )
    assert (("standard",), ["gold"]) == (
        tuple(p.name for p in desk.policies),
        list(desk.tiers),
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"policies": {"name": "standard", "targets": {}}},
            "policies must be a list of SlaPolicy objects, got {'name': 'standard', "
            "'targets': {}} (SlaPolicy.from_dict(d) reads a dict)",
        ),
        (
            {"policies": [POLICY, "gold"]},
            "policies must be a list of SlaPolicy objects, got 'gold' among them",
        ),
        (
            {"calendars": "Europe/Berlin"},
            "calendars must be a BusinessCalendar (one for every policy) or a mapping from SLA "
            "policy name ('default' for the rest) to BusinessCalendar, got 'Europe/Berlin'; for "
            "a zone's business hours pass BusinessCalendar(tz='Europe/Berlin', weekly=...)",
        ),
        (
            {"calendars": {"default": "Europe/Berlin"}},
            "to BusinessCalendar, got 'Europe/Berlin' for 'default'",
        ),
        ({"tiers": "gold"}, "tiers must be a list of Tier objects, got 'gold'"),
        ({"clock": T0}, "clock must be a supportkit Clock (SystemClock(), FrozenClock(...))"),
        ({"router": "round-robin"}, "router must be a supportkit.Router or None"),
        ({"ladder": ["L1", "L2"]}, "ladder must be a supportkit.EscalationLadder or None"),
        ({"max_attempts": "3"}, "max_attempts must be a whole number of at least 1, got '3'"),
        ({"cache_size": 0}, "cache_size must be a whole number of at least 1, got 0"),
    ],
)
def test_wrong_constructor_types_name_the_expected_type(
    options: dict[str, object], message: str
) -> None:
    """A wrong-type argument is a ConfigurationError that names what was expected, not an
    AttributeError from deep inside."""
    arguments: dict[str, object] = {"store": InMemoryStore(), "plugins": None, "policies": [POLICY]}
    with pytest.raises(ConfigurationError) as raised:
        SupportDesk(**(arguments | options))  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_desk_takes_a_mapping_of_calendars() -> None:
    """The documented forms of calendars= still work: one calendar, or a mapping."""
    calendar = BusinessCalendar(tz="Europe/Berlin", weekly={"mon": ["09:00-17:00"]})
    for calendars in (calendar, {"default": calendar}, {"standard": calendar}):
        desk = _desk(calendars=calendars)
        assert [calendar.to_dict()] == list(desk.settings()["calendars"].values())


def test_a_plain_reply_leaves_a_new_ticket_new_and_unassigned() -> None:
    """The documented rule: reply() alone changes neither status nor assignee."""
    desk = _desk()
    ticket_id = desk.ingest(_message(1, T0)).ticket_id
    ticket = desk.reply(ticket_id, "On it", agent="ann")
    assert (Status.NEW, None, StepAction.ASSIGN) == (
        ticket.status,
        ticket.assignee,
        desk.next_steps()[0].action,
    )


def test_reply_take_assigns_the_agent_and_opens_a_new_ticket() -> None:
    """reply(take=True) on a new ticket assigns the replying agent and moves it to open in
    one commit; the next step is then the agent's follow-up, no longer 'assign'."""
    desk = _desk()
    ticket_id = desk.ingest(_message(1, T0)).ticket_id
    before = len(desk.events(ticket_id))
    ticket = desk.reply(ticket_id, "On it", agent="ann", take=True)
    kinds = [e.kind for e in desk.events(ticket_id)[before:]]
    assert (Status.OPEN, "ann", ["assigned", "message", "status_changed"], "follow_up") == (
        ticket.status,
        ticket.assignee,
        kinds,
        desk.next_steps()[0].action.value,
    )


def test_reply_take_keeps_another_agents_ticket_and_an_explicit_status() -> None:
    """take=True never steals an assigned ticket, and an explicit status wins over open."""
    desk = _desk()
    ticket_id = desk.ingest(_message(1, T0)).ticket_id
    desk.assign(ticket_id, "bob")
    ticket = desk.reply(ticket_id, "Which invoice?", agent="ann", take=True, status="pending")
    assert ("bob", Status.PENDING) == (ticket.assignee, ticket.status)


def test_reply_take_without_an_agent_is_refused_and_writes_nothing() -> None:
    """take=True needs to know whom to assign: an EventError naming agent, nothing appended."""
    desk = _desk()
    ticket_id = desk.ingest(_message(1, T0)).ticket_id
    before = desk.events(ticket_id)
    with pytest.raises(EventError) as raised:
        desk.reply(ticket_id, "Hi", take=True)
    assert ("agent", before) == (raised.value.field, desk.events(ticket_id))


class _Pager:
    """A notifier that takes only SLA breaches."""

    notice_kinds = frozenset({"sla_breached"})

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def notify(self, notice: Notice) -> None:
        self.kinds.append(notice.kind)

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Any], None]) -> None:
        register("pager", self)


def test_a_notifier_gets_only_the_notices_it_declares() -> None:
    """A notifier's notice_kinds attribute limits its outbox rows (and deliveries) to those kinds,
    while a notifier without one still gets every notice."""
    clock = FrozenClock(T0)
    pager = _Pager()
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=[pager], policies=[POLICY])
    ticket_id = desk.ingest(_message(1, T0)).ticket_id
    clock.advance(minutes=90)
    desk.tick()
    desk.reply(ticket_id, "Sorry", agent="ann")
    desk.deliver()
    rows = desk.outbox()
    by_receiver = {
        receiver: sorted({m.topic for m in rows if m.payload.get("receiver") == receiver})
        for receiver in ("notifier:pager", "notifier:log")
    }
    assert (["sla_breached"], ["sla_breached"]) == (pager.kinds, by_receiver["notifier:pager"])
    assert {"ticket_created", "event_appended", "sla_warning", "sla_breached"} <= set(
        by_receiver["notifier:log"]
    )


@pytest.mark.parametrize("notices", [{"sla_brached"}, "sla_breached", 3])
def test_a_notifier_with_unknown_notices_is_refused(notices: object) -> None:
    """A misspelled kind would starve the notifier silently: registering it is a PluginError
    naming the bad entry."""
    pager = _Pager()
    pager.notice_kinds = notices  # type: ignore[assignment]
    with pytest.raises(PluginError, match="notice_kinds include"):
        SupportDesk(store=InMemoryStore(), plugins=[pager], policies=[POLICY])
