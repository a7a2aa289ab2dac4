"""SupportDesk: ingest, actions, tick, outbox, routing and restarts, on both stores."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    Agent,
    ConfigurationError,
    Customer,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PluginError,
    Status,
    StoreError,
    TicketStateError,
    Tier,
    hookimpl,
    sla_deadline,
)
from supportkit._desk import DEFAULT_DATABASE, SupportDesk
from supportkit._hookargs import Notice, OutboundReply, TicketEscalated
from supportkit._plugins import PluginHost
from supportkit._routing import Router
from supportkit._sla import SlaPolicy
from supportkit._sqlite import SqliteStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
HOUR_POLICY = SlaPolicy.from_dict(
    {
        "name": "standard",
        "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}},
    }
)
GOLD_POLICY = SlaPolicy.from_dict(
    {
        "name": "gold",
        "targets": {"normal": {"first_reply": {"minutes": 15, "business": False}}},
    }
)


class Crm:
    """A CRM plugin that knows one customer per address."""

    def __init__(self, customers: dict[str, Customer]) -> None:
        self.customers = customers

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        return self.customers.get(message.sender)

    def lookup_tier(self, customer: Customer) -> Tier | None:
        return None

    @hookimpl
    def supportkit_register_crm_backends(self, register: Callable[[str, Any], None]) -> None:
        register("test-crm", self)


class Notifier:
    """A notifier that fails its first *failures* calls (of kind *only*), then records notices."""

    def __init__(self, failures: int = 0, only: str | None = None) -> None:
        self.failures = failures
        self.only = only
        self.notices: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        if self.failures and self.only in (None, notice.kind):
            self.failures -= 1
            raise ConnectionError("notifier down")
        self.notices.append(notice)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notices]

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Any], None]) -> None:
        register("test", self)


class Mailer:
    """A channel plugin for 'email' that records the replies it sends."""

    def __init__(self) -> None:
        self.sent: list[OutboundReply] = []

    def parse(self, payload: Any, headers: Any) -> InboundMessage:
        raise NotImplementedError

    def send(self, reply: OutboundReply) -> str:
        self.sent.append(reply)
        return f"sent-{len(self.sent)}"

    @hookimpl
    def supportkit_register_channels(self, register: Callable[[str, Any], None]) -> None:
        register("email", self)


def host(*plugins: object) -> PluginHost:
    return PluginHost(plugins=plugins, load_entrypoints=False, blocked=["supportkit.builtins"])


def msg(
    mid: str, *, at: datetime = T0, sender: str = "ann@example.com", **kw: Any
) -> InboundMessage:
    return InboundMessage(mid, "email", sender, at, body=f"body of {mid}", **kw)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(params=["memory", "sqlite"])
def make_desk(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Callable[..., SupportDesk]]:
    """Build desks on the in-memory store and on a real SQLite file."""
    desks: list[SupportDesk] = []

    def make(**kwargs: Any) -> SupportDesk:
        store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "d.db")
        kwargs.setdefault("plugins", host())
        desk = SupportDesk(store=store, clock=clock, **kwargs)
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()


def kinds(desk: SupportDesk, ticket_id: str) -> list[str]:
    return [e.kind for e in desk.events(ticket_id)]


# --- ingest ---------------------------------------------------------------------------------


def test_ingest_opens_a_ticket_with_policy_and_message(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """A new message opens a ticket: created, sla_policy_applied, then the customer message."""
    desk = make_desk(policies=[HOUR_POLICY])
    result = desk.ingest(msg("m-1", subject="Login broken"))
    ticket = desk.ticket(result.ticket_id)
    assert (True, False, ["created", "sla_policy_applied", "message"]) == (
        result.created,
        result.duplicate,
        kinds(desk, result.ticket_id),
    )
    assert ("Login broken", "standard", Status.NEW) == (
        ticket.subject,
        ticket.sla_policy,
        ticket.status,
    )


def test_same_message_twice_is_one_event_and_says_so(make_desk: Callable[..., SupportDesk]) -> None:
    """Ingesting a message id again writes nothing and reports a duplicate of that ticket."""
    desk = make_desk()
    first = desk.ingest(msg("m-1"))
    again = desk.ingest(msg("m-1"))
    assert (True, first.ticket_id, (), 2) == (
        again.duplicate,
        again.ticket_id,
        again.events,
        desk.store.version(first.ticket_id),
    )


def test_message_threads_into_its_ticket(make_desk: Callable[..., SupportDesk]) -> None:
    """A message naming a ticket id is appended to that ticket."""
    desk = make_desk()
    first = desk.ingest(msg("m-1"))
    second = desk.ingest(msg("m-2", ticket_id=first.ticket_id))
    assert (False, ["created", "message", "message"]) == (
        second.created,
        kinds(desk, first.ticket_id),
    )


@pytest.mark.parametrize("status", ["pending", "on_hold", "solved"])
def test_customer_message_reopens_with_explicit_event(
    make_desk: Callable[..., SupportDesk], status: str
) -> None:
    """On a pending, on-hold or solved ticket the desk appends status_changed → open first."""
    desk = make_desk(ladder=None)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(ticket_id, status)
    result = desk.ingest(msg("m-2", ticket_id=ticket_id))
    assert (["status_changed", "message"], Status.OPEN) == (
        [e.kind for e in result.events],
        desk.ticket(ticket_id).status,
    )


def test_internal_note_does_not_reopen(make_desk: Callable[..., SupportDesk]) -> None:
    """A non-public inbound message on a pending ticket leaves it pending."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(ticket_id, "pending")
    desk.ingest(msg("m-2", ticket_id=ticket_id, public=False))
    assert Status.PENDING == desk.ticket(ticket_id).status


def test_message_on_closed_ticket_opens_a_follow_up(make_desk: Callable[..., SupportDesk]) -> None:
    """Closed is final: a new message opens a follow-up ticket tagged with the old id."""
    desk = make_desk()
    old = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(old, "solved")
    desk.set_status(old, "closed")
    result = desk.ingest(msg("m-2", ticket_id=old))
    assert (True, frozenset({f"follow-up:{old}"})) == (
        result.ticket_id != old,
        desk.ticket(result.ticket_id).tags,
    )


def test_crm_lookup_sets_customer_tier_and_tier_policy(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """The CRM plugin names the customer; their tier picks the tier's SLA policy."""
    crm = Crm({"ceo@big.example": Customer("c-9", tier="gold", organisation="big")})
    desk = make_desk(
        plugins=host(crm),
        policies=[HOUR_POLICY, GOLD_POLICY],
        tiers=[Tier("gold", weight=10, sla_policy="gold", dedicated_group="vip")],
    )
    ticket = desk.ticket(desk.ingest(msg("m-1", sender="ceo@big.example")).ticket_id)
    assert ("c-9", "big", "gold", "gold", "vip") == (
        ticket.customer,
        ticket.organisation,
        ticket.tier,
        ticket.sla_policy,
        ticket.group,
    )


def test_watchlist_puts_top_accounts_in_their_tier(make_desk: Callable[..., SupportDesk]) -> None:
    """A customer on a tier's watchlist gets that tier even if the CRM knows nothing."""
    desk = make_desk(tiers=[Tier("top", weight=99, watchlist={"vip@example.com"})])
    ticket_id = desk.ingest(msg("m-1", sender="vip@example.com")).ticket_id
    assert "top" == desk.ticket(ticket_id).tier


def test_ingest_rejects_other_objects(make_desk: Callable[..., SupportDesk]) -> None:
    """ingest() takes an InboundMessage and says so."""
    with pytest.raises(ConfigurationError, match="InboundMessage"):
        make_desk().ingest({"message_id": "x"})  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), max_size=25))
def test_every_message_id_is_in_the_log_exactly_once(ops: list[tuple[int, bool]]) -> None:
    """Whatever mix of new, threaded and repeated messages, each id is logged once."""
    desk = SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0), plugins=host())
    tickets: list[str] = []
    for number, thread in ops:
        ticket_id = tickets[-1] if thread and tickets else None
        result = desk.ingest(msg(f"m-{number}", ticket_id=ticket_id))
        if result.created:
            tickets.append(result.ticket_id)
    logged = [e.data["message_id"] for e in desk.store.read_all() if e.kind == "message"]
    assert sorted({f"m-{n}" for n, _ in ops}) == sorted(logged)


# --- actions ----------------------------------------------------------------------------------


def test_invalid_action_raises_and_changes_nothing(make_desk: Callable[..., SupportDesk]) -> None:
    """A forbidden transition is a TicketStateError; the log and later actions are unaffected."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(ticket_id, "pending")
    with pytest.raises(TicketStateError, match="from pending to pending"):
        desk.set_status(ticket_id, "pending")
    desk.reply(ticket_id, "any news?", agent="a-1")
    assert ["created", "message", "status_changed", "message"] == kinds(desk, ticket_id)


def test_bad_event_data_changes_nothing(make_desk: Callable[..., SupportDesk]) -> None:
    """An invalid rating (score 9) raises EventError and appends nothing."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(ValueError, match="score"):
        desk.rate(ticket_id, score=9)
    assert 2 == desk.store.version(ticket_id)


def test_an_empty_rating_is_refused(make_desk: Callable[..., SupportDesk]) -> None:
    """rate() without csat, score, nps or ces raises EventError and appends nothing."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(EventError, match="at least one of csat"):
        desk.rate(ticket_id, comment="no answer")
    assert 2 == desk.store.version(ticket_id)


def test_a_closed_ticket_can_still_be_rated(make_desk: Callable[..., SupportDesk]) -> None:
    """A late survey answer on a closed ticket is recorded and leaves the ticket closed."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(ticket_id, "solved")
    desk.set_status(ticket_id, "closed")
    ticket = desk.rate(ticket_id, csat="good")
    assert (Status.CLOSED, "satisfaction_rated") == (
        ticket.status,
        kinds(desk, ticket_id)[-1],
    )


def test_tag_refuses_a_bare_string(make_desk: Callable[..., SupportDesk]) -> None:
    """tag(add="vip") raises EventError naming the field instead of storing tags v, i, p."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(EventError, match=r"tag\(add=...\) takes a list of tags") as caught:
        desk.tag(ticket_id, add="vip")
    assert ("add", 2) == (caught.value.field, desk.store.version(ticket_id))


def test_reply_with_an_unknown_status_names_the_field(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """reply(status="bogus") raises EventError for field 'status' and appends nothing."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(EventError, match="reply status must be one of") as caught:
        desk.reply(ticket_id, "x", status="bogus")
    assert ("status", 2) == (caught.value.field, desk.store.version(ticket_id))


def test_an_unknown_role_names_the_field(make_desk: Callable[..., SupportDesk]) -> None:
    """set_status(by="alien") raises EventError for field 'by' and appends nothing."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(EventError, match="'by' must be one of") as caught:
        desk.set_status(ticket_id, "pending", by="alien")
    assert ("by", 2) == (caught.value.field, desk.store.version(ticket_id))


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda desk: desk.deliver(limit=0), "deliver(limit=...) must be a whole number"),
        (lambda desk: desk.deliver(limit=-1), "deliver(limit=...) must be a whole number"),
        (lambda desk: desk.tick(limit=0), "tick(limit=...) must be a whole number"),
        (lambda desk: desk.outbox("weird"), "outbox status must be 'pending'"),
        (
            lambda desk: desk.prune_outbox(older_than=timedelta(days=-1)),
            "must be a timedelta of zero or more",
        ),
    ],
)
def test_bad_arguments_are_configuration_errors(
    make_desk: Callable[..., SupportDesk], call: Callable[[SupportDesk], Any], expected: str
) -> None:
    """Limits below 1, an unknown outbox status and a negative age raise ConfigurationError."""
    desk = make_desk()
    with pytest.raises(ConfigurationError) as caught:
        call(desk)
    assert expected in str(caught.value)


def test_an_unknown_ticket_id_opens_a_ticket_with_that_id(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """A message naming an id the store lacks opens a ticket with that host-chosen id."""
    desk = make_desk()
    first = desk.ingest(msg("m-1", ticket_id="conv-42"))
    second = desk.ingest(msg("m-2", ticket_id="conv-42"))
    assert (True, False, "conv-42", ["conv-42"]) == (
        first.created,
        second.created,
        second.ticket_id,
        desk.store.ticket_ids(),
    )


def test_unknown_ticket_is_a_ticket_state_error(make_desk: Callable[..., SupportDesk]) -> None:
    """Acting on a ticket that does not exist names it."""
    with pytest.raises(TicketStateError, match="T-nope does not exist"):
        make_desk().reply("T-nope", "hello")


def test_actions_append_validated_events(make_desk: Callable[..., SupportDesk]) -> None:
    """reply (with a status), assign, escalate, set_priority, tag and rate each append events."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.assign(ticket_id, "a-1", group="support")
    desk.reply(ticket_id, "try this", agent="a-1", status="pending")
    desk.escalate(ticket_id, "engineering", target="rnd", reason="bug")
    desk.set_priority(ticket_id, "high")
    desk.tag(ticket_id, add=["bug"])
    desk.set_status(ticket_id, "solved")
    desk.rate(ticket_id, csat="good", score=5)
    ticket = desk.ticket(ticket_id)
    assert ("engineering", "rnd", "high", frozenset({"bug"}), "good", Status.SOLVED) == (
        ticket.escalation_level,
        ticket.group,
        ticket.priority,
        ticket.tags,
        ticket.satisfaction.csat if ticket.satisfaction else None,
        ticket.status,
    )


def test_stale_expected_version_is_a_lost_claim(make_desk: Callable[..., SupportDesk]) -> None:
    """claim() at a stale version returns a falsy Claim naming the version found."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    won = desk.claim(ticket_id, "a-1", expected_version=2)
    lost = desk.claim(ticket_id, "a-2", expected_version=2)
    assert (True, False, 3, "a-1") == (
        bool(won),
        bool(lost),
        lost.version,
        desk.ticket(ticket_id).assignee,
    )


def test_escalate_to_a_level_the_ladder_lacks_is_refused(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """With a ladder, ``escalate`` names an unknown level and writes nothing."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(ConfigurationError, match="unknown escalation level 'L9'"):
        desk.escalate(ticket_id, "L9", reason="why not")
    assert ["created", "message"] == kinds(desk, ticket_id)


def test_escalate_down_the_ladder_is_refused_unless_allowed(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """An L3 ticket cannot drop to L1 by accident; ``allow_down=True`` does it on purpose."""
    desk = make_desk()
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.escalate(ticket_id, "L3", reason="hard")
    with pytest.raises(TicketStateError, match="not above its current level 'L3'"):
        desk.escalate(ticket_id, "L1", reason="oops")
    desk.escalate(ticket_id, "L1", reason="easy after all", allow_down=True)
    assert "L1" == desk.ticket(ticket_id).escalation_level


@pytest.mark.parametrize("ladder", ["default", None])
def test_escalate_needs_a_level_and_a_reason(
    make_desk: Callable[..., SupportDesk], ladder: str | None
) -> None:
    """With or without a ladder, an empty level or reason is refused before anything is written."""
    desk = make_desk() if ladder else make_desk(ladder=None)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(EventError, match="non-empty reason"):
        desk.escalate(ticket_id, "L2")
    with pytest.raises(EventError, match="non-empty level"):
        desk.escalate(ticket_id, " ", reason="hard")
    assert ["created", "message"] == kinds(desk, ticket_id)


def test_tick_reports_a_failing_ticket_and_still_alerts_the_others(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A ticket at a level the ladder no longer has is reported in ``failed``; the other
    ticket's breach is still emitted and escalated."""
    path = tmp_path / "ladders.db"
    old = SupportDesk(
        store=SqliteStore(path), clock=clock, plugins=host(), policies=[HOUR_POLICY], ladder=None
    )
    bad = old.ingest(msg("m-1")).ticket_id
    good = old.ingest(msg("m-2", sender="bob@example.com")).ticket_id
    old.escalate(bad, "L9", reason="a level the new ladder dropped")
    old.close()
    desk = SupportDesk(store=SqliteStore(path), clock=clock, plugins=host(), policies=[HOUR_POLICY])
    clock.advance(hours=2)
    result = desk.tick()
    desk.close()
    assert ([bad], [good], [good]) == (
        [ticket_id for ticket_id, _ in result.failed],
        [alert.ticket_id for alert in result.breaches],
        [event.ticket_id for event in result.escalations],
    )


def test_escalation_notice_names_the_previous_assignee(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """An escalation with a target clears the assignee; the notice names who had it."""
    notifier = Notifier()
    desk = make_desk(plugins=host(notifier))
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.assign(ticket_id, "a-1")
    ticket = desk.escalate(ticket_id, "L2", target="specialists", reason="refund above limit")
    desk.deliver()
    notice = next(n for n in notifier.notices if isinstance(n, TicketEscalated))
    assert (None, "specialists", "a-1", "L2") == (
        ticket.assignee,
        ticket.group,
        notice.previous_assignee,
        notice.level,
    )


def test_sla_deadline_is_the_running_cycles_due_time_not_the_next_alert(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """Forty minutes into a one-hour first reply the next alert is the 75 % warning, but the
    reply is due at the hour: that is what ``sla_deadline`` (and next_steps) give."""
    desk = make_desk(policies=[HOUR_POLICY], ladder=None)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    evaluation = desk.sla(ticket_id, T0 + timedelta(minutes=40))
    assert (T0 + timedelta(minutes=60), T0 + timedelta(minutes=45)) == (
        sla_deadline(evaluation),
        evaluation.next_due if evaluation is not None else None,
    )


# --- tick -------------------------------------------------------------------------------------


def test_tick_emits_each_warning_and_breach_once(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """Warnings at 50/75/90 % and the breach come out once each, however often tick runs."""
    desk = make_desk(policies=[HOUR_POLICY], ladder=None)
    desk.ingest(msg("m-1"))
    seen = []
    for minutes in (20, 20, 10, 10, 10, 30):
        clock.advance(minutes=minutes)
        result = desk.tick()
        seen += [(a.kind, a.level) for a in result.warnings + result.breaches]
    assert [("warning", 0.5), ("warning", 0.75), ("warning", 0.9), ("breach", 1.0)] == seen


def test_tick_escalates_on_breach_once(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """The default ladder moves a breached ticket up one level, once."""
    desk = make_desk(policies=[HOUR_POLICY])
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    clock.advance(hours=2)
    first = desk.tick()
    second = desk.tick(clock.now() + timedelta(hours=5))
    assert (1, 0, "L2") == (
        len(first.escalations),
        len(second.escalations),
        desk.ticket(ticket_id).escalation_level,
    )


def test_tick_reads_only_due_tickets(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """Only tickets whose next warning or breach has come are looked at."""
    desk = make_desk(policies=[HOUR_POLICY], ladder=None)
    desk.ingest(msg("m-1"))
    clock.advance(minutes=40)
    desk.ingest(msg("m-2", at=clock.now()))
    desk.ingest(msg("m-3", at=clock.now()))
    assert 1 == desk.tick().checked


def test_reply_in_time_means_no_breach(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A first reply before the deadline leaves nothing but the warnings already due."""
    desk = make_desk(policies=[HOUR_POLICY])
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    clock.advance(minutes=35)
    desk.reply(ticket_id, "on it", agent="a-1")
    result = desk.tick(T0 + timedelta(days=1))
    assert ([0.5], []) == ([a.level for a in result.warnings], list(result.breaches))


def test_tick_after_restart_does_not_repeat_alerts(tmp_path: Path, clock: FrozenClock) -> None:
    """Emitted alert keys are stored: a new desk on the same file emits only new ones."""
    path = tmp_path / "restart.db"
    with SupportDesk(
        store=SqliteStore(path), clock=clock, policies=[HOUR_POLICY], plugins=host()
    ) as desk:
        desk.ingest(msg("m-1"))
        clock.advance(minutes=40)
        first = desk.tick()
    clock.advance(minutes=40)
    with SupportDesk(
        store=SqliteStore(path), clock=clock, policies=[HOUR_POLICY], plugins=host()
    ) as desk:
        second = desk.tick()
    assert ([0.5], [0.75, 0.9], 1) == (
        [a.level for a in first.warnings],
        [a.level for a in second.warnings],
        len(second.breaches),
    )


# --- outbox and hooks -------------------------------------------------------------------------


def test_notifier_gets_notices_through_the_outbox(make_desk: Callable[..., SupportDesk]) -> None:
    """Notifiers receive notices when the outbox is delivered, each once."""
    notifier = Notifier()
    desk = make_desk(plugins=host(notifier))
    desk.ingest(msg("m-1"))
    before = list(notifier.kinds())
    desk.deliver()
    desk.deliver()
    assert ([], ["ticket_created", "event_appended", "event_appended"]) == (
        before,
        notifier.kinds(),
    )


def test_failing_notifier_is_retried_with_backoff_and_recovers(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """Two failures reschedule at +30 s then +60 s; the third try delivers the same key."""
    notifier = Notifier(failures=2, only="ticket_created")
    desk = make_desk(plugins=host(notifier))
    desk.ingest(msg("m-1"))
    [first_key] = [m.key for m in desk.outbox() if m.topic == "ticket_created"]
    desk.deliver()
    after_one = next(m for m in desk.outbox() if m.key == first_key)
    clock.advance(seconds=30)
    desk.deliver()
    after_two = next(m for m in desk.outbox() if m.key == first_key)
    clock.advance(seconds=60)
    third = desk.deliver()
    assert (
        (1, int(T0.timestamp()) + 30),
        (2, int(T0.timestamp()) + 90),
        (first_key,),
    ) == (
        (after_one.attempts, after_one.next_attempt_at),
        (after_two.attempts, after_two.next_attempt_at),
        third.delivered,
    )


def test_dead_letter_after_max_attempts(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A notifier that keeps failing sends its messages to the dead letter after N tries."""
    desk = make_desk(plugins=host(Notifier(failures=10**6)), max_attempts=3)
    desk.ingest(msg("m-1"))
    for _ in range(3):
        desk.deliver()
        clock.advance(hours=1)
    assert (3, [3, 3, 3]) == (
        len(desk.outbox("dead")),
        [m.attempts for m in desk.outbox("dead")],
    )


def test_hookimpls_fire_at_ingest_and_failures_retry(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A lifecycle hookimpl runs right after the commit; if it fails, deliver() retries it."""
    calls: list[str] = []

    class Hooks:
        fail = True

        @hookimpl
        def supportkit_ticket_created(self, notice: Notice) -> None:
            calls.append(notice.ticket_id)
            if self.fail:
                self.fail = False
                raise RuntimeError("flaky")

    desk = make_desk(plugins=host(Hooks()))
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    clock.advance(minutes=1)
    result = desk.deliver()
    assert ([ticket_id, ticket_id], 1) == (calls, len(result.delivered))


def test_public_reply_is_sent_through_the_channel(make_desk: Callable[..., SupportDesk]) -> None:
    """A public agent reply goes out via the channel plugin, threaded on the customer message."""
    mailer = Mailer()
    desk = make_desk(plugins=host(mailer))
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.reply(ticket_id, "internal", agent="a-1", public=False)
    desk.reply(ticket_id, "hello Ann", agent="a-1")
    desk.deliver()
    assert [("hello Ann", "m-1", "ann@example.com")] == [
        (r.body, r.in_reply_to, r.recipient) for r in mailer.sent
    ]


def test_background_worker_delivers(make_desk: Callable[..., SupportDesk]) -> None:
    """start() runs deliver() in a thread until stop()."""
    notifier = Notifier()
    desk = make_desk(plugins=host(notifier))
    desk.ingest(msg("m-1"))
    desk.start(interval=0.01, tick=False)
    for _ in range(500):
        if not desk.outbox("pending"):
            break
        time.sleep(0.01)
    desk.stop()
    assert [] == desk.outbox("pending")


# --- routing and next steps -------------------------------------------------------------------


def test_router_assigns_new_tickets(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """With a router, a new ticket is claimed for a free eligible agent at ingest."""
    router = Router([Agent("a-1", capacity={"email": 1})], clock=clock)
    desk = make_desk(router=router)
    first = desk.ingest(msg("m-1"))
    second = desk.ingest(msg("m-2", sender="bob@example.com"))
    assert ("a-1", None, "a-1") == (
        first.assignee,
        second.assignee,
        desk.ticket(first.ticket_id).assignee,
    )


def test_new_ticket_and_its_assignment_are_one_commit(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """The router's claim of a new ticket is written in the ticket's first commit: the
    snapshot stored with it already names the agent, at the version ingest returns."""
    router = Router([Agent("a-1", capacity={"email": 1})], clock=clock)
    desk = make_desk(router=router)
    result = desk.ingest(msg("m-1"))
    snapshot = desk.store.snapshot(result.ticket_id)
    assert (["created", "message", "assigned"], 3, "a-1", 3) == (
        [e.kind for e in result.events],
        result.version,
        None if snapshot is None else snapshot.assignee,
        None if snapshot is None else snapshot.version,
    )


def test_unknown_tier_for_the_router_is_refused_before_anything_is_written(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A customer whose tier the router does not know: ingest raises ConfigurationError and the
    store keeps no event, no message id and no outbox row, so the message can come again."""
    crm = Crm({"ceo@big.example": Customer("c-9", tier="platinum")})
    router = Router([Agent("a-1", capacity={"email": 5})], tiers=[Tier("gold", weight=10)])
    desk = make_desk(plugins=host(crm, Notifier()), router=router)
    with pytest.raises(ConfigurationError, match="unknown tier 'platinum'"):
        desk.ingest(msg("m-1", sender="ceo@big.example"))
    assert ([], [], None, []) == (
        list(desk.store.read_all()),
        desk.store.ticket_ids(),
        desk.store.message_ticket("email", "m-1"),
        desk.outbox(),
    )


def test_unknown_skill_tag_for_the_router_is_refused_before_anything_is_written(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """Tagging a ticket with a skill outside the router's catalogue raises ConfigurationError
    and appends nothing; the ticket takes later events as before."""
    router = Router([Agent("a-1", capacity={"email": 5})], skills=["billing"], clock=clock)
    desk = make_desk(router=router)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    with pytest.raises(ConfigurationError, match="unknown skill 'kung-fu'"):
        desk.tag(ticket_id, add=["skill:kung-fu"])
    desk.tag(ticket_id, add=["skill:billing"])
    assert ["created", "message", "assigned", "tagged"] == kinds(desk, ticket_id)


def test_dispatch_assigns_queued_tickets_when_a_slot_frees(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """Solving a ticket frees the agent's slot; dispatch() gives the waiting ticket to them."""
    router = Router([Agent("a-1", capacity={"email": 1})], clock=clock)
    desk = make_desk(router=router)
    first = desk.ingest(msg("m-1")).ticket_id
    second = desk.ingest(msg("m-2", sender="bob@example.com")).ticket_id
    desk.set_status(first, "solved")
    claims = desk.dispatch()
    assert ([second], "a-1") == ([c.ticket_id for c in claims], desk.ticket(second).assignee)


def test_next_steps_cover_open_tickets(make_desk: Callable[..., SupportDesk]) -> None:
    """Every open ticket has a next step; solved ones have none."""
    desk = make_desk(policies=[HOUR_POLICY])
    waiting = desk.ingest(msg("m-1")).ticket_id
    done = desk.ingest(msg("m-2", sender="bob@example.com")).ticket_id
    desk.set_status(done, "solved")
    [step] = desk.next_steps()
    assert (waiting, "assign", T0 + timedelta(hours=1)) == (step.ticket_id, step.action, step.due)


# --- configuration and default store ----------------------------------------------------------


def test_default_store_is_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SupportDesk() with no store keeps its log in ./supportkit.sqlite3."""
    monkeypatch.chdir(tmp_path)
    with SupportDesk(plugins=host()) as desk:
        desk.ingest(msg("m-1"))
        assert isinstance(desk.store, SqliteStore)
    assert (tmp_path / DEFAULT_DATABASE).exists()


def test_tier_naming_unknown_policy_is_refused() -> None:
    """A tier whose sla_policy is not among the policies is a configuration error."""
    with pytest.raises(ConfigurationError, match="names SLA policy 'platinum'"):
        SupportDesk(store=InMemoryStore(), tiers=[Tier("p", weight=1, sla_policy="platinum")])


def test_store_that_is_not_an_event_store_is_refused() -> None:
    """store= must implement the EventStore protocol."""
    with pytest.raises(ConfigurationError, match="EventStore"):
        SupportDesk(store=object())  # type: ignore[arg-type]


def test_closed_sqlite_store_errors_are_store_errors(tmp_path: Path) -> None:
    """Using a desk after closing its SQLite store raises StoreError, not sqlite3 errors."""
    desk = SupportDesk(store=SqliteStore(tmp_path / "c.db"), plugins=host())
    desk.close()
    with pytest.raises(StoreError):
        desk.ingest(msg("m-1"))


def test_metrics_fold_every_ticket_with_its_sla(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """metrics() reports per tier, counting SLA met and breached cycles."""
    desk = make_desk(
        policies=[HOUR_POLICY], tiers=[Tier("vip", weight=9, watchlist={"vip@example.com"})]
    )
    fast = desk.ingest(msg("m-1", sender="vip@example.com")).ticket_id
    desk.ingest(msg("m-2"))
    clock.advance(minutes=10)
    desk.reply(fast, "done", agent="a-1", status="solved")
    clock.advance(hours=2)
    report = desk.metrics(("all", "tier"))
    vip = report.row("tier", "vip")
    assert ((1, 1, 600.0), (2, 0.5)) == (
        (vip["incoming"], vip["solved"], vip["first_reply.mean"]),
        (report.row("all")["incoming"], report.row("all")["sla_attainment"]),
    )


def test_redelivered_notices_are_rebuilt_as_they_were(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """Notices delivered from the outbox carry the ticket as it was right after their event."""
    notifier = Notifier()
    desk = make_desk(plugins=host(notifier))
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    desk.set_status(ticket_id, "pending")
    desk.set_status(ticket_id, "open")
    desk.deliver()
    changes = [n for n in notifier.notices if n.kind == "status_changed"]
    assert [("new", "pending", 3), ("pending", "open", 4)] == [
        (n.previous.value, n.ticket.status.value, n.ticket.version) for n in changes
    ]


def test_plugin_chosen_policy_is_applied_and_ticked(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """A policy a plugin picks (even one the desk was not given) runs the ticket's clocks."""
    rush = SlaPolicy.from_dict(
        {"name": "rush", "targets": {"normal": {"first_reply": {"minutes": 5, "business": False}}}}
    )

    class Picker:
        @hookimpl
        def supportkit_select_sla_policy(self, ticket: Any, policies: Any) -> SlaPolicy:
            return rush

    desk = make_desk(plugins=host(Picker()), policies=[HOUR_POLICY], ladder=None)
    ticket_id = desk.ingest(msg("m-1")).ticket_id
    clock.advance(minutes=6)
    assert ("rush", 1) == (desk.ticket(ticket_id).sla_policy, len(desk.tick().breaches))


def test_plugin_policy_that_is_not_a_policy_is_a_plugin_error(
    make_desk: Callable[..., SupportDesk],
) -> None:
    """A select-policy hook returning something else is refused and nothing is written."""

    class Broken:
        @hookimpl
        def supportkit_select_sla_policy(self, ticket: Any, policies: Any) -> str:
            return "gold"

    desk = make_desk(plugins=host(Broken()), policies=[HOUR_POLICY])
    with pytest.raises(PluginError, match=r"return a supportkit\.SlaPolicy"):
        desk.ingest(msg("m-1"))
    assert [] == desk.store.ticket_ids()


def test_prune_outbox_forgets_old_deliveries(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """prune_outbox() drops what was delivered more than the given age ago."""
    desk = make_desk(plugins=host(Notifier()))
    desk.ingest(msg("m-1"))
    desk.deliver()
    delivered = len(desk.outbox("delivered"))
    assert 0 == desk.prune_outbox(timedelta(days=1))
    clock.advance(days=2)
    assert (delivered, []) == (desk.prune_outbox(timedelta(days=1)), desk.outbox())


def test_metrics_at_a_past_instant_leave_out_later_tickets_and_events(
    make_desk: Callable[..., SupportDesk], clock: FrozenClock
) -> None:
    """metrics(at=T) counts only tickets created by T, with their events up to T, at T."""
    desk = make_desk(policies=[HOUR_POLICY])
    first = desk.ingest(msg("m-1")).ticket_id
    clock.advance(minutes=30)
    desk.reply(first, "done", agent="a-1", status="solved")
    desk.ingest(msg("m-2", at=T0 + timedelta(hours=3)))
    clock.set(T0 + timedelta(hours=4))
    row = desk.metrics(("all",), at=T0 + timedelta(minutes=20)).row("all")
    assert (1, 0, 1, None) == (
        row["incoming"],
        row["solved"],
        row["backlog"],
        row["sla_attainment"],
    )


def test_metrics_refuse_a_naive_instant(make_desk: Callable[..., SupportDesk]) -> None:
    """metrics(at=naive datetime) raises ConfigurationError naming the argument."""
    desk = make_desk()
    desk.ingest(msg("m-1"))
    with pytest.raises(ConfigurationError, match="metrics instant 'at'"):
        desk.metrics(at=datetime(2025, 3, 3, 10))
