"""Routing rules, one behaviour per test: ordering, eligibility, capacity, relaxation, strategies,
claims and configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    Agent,
    AgentState,
    AgentStatus,
    Claim,
    ConfigurationError,
    FrozenClock,
    InMemoryStore,
    LeastLoaded,
    MostIdle,
    Relax,
    RoundRobin,
    RoutedTicket,
    Router,
    RoutingQueue,
    Status,
    Sticky,
    Ticket,
    TicketEvent,
    TicketStateError,
    Tier,
    claim,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TIERS = [Tier("enterprise", weight=100), Tier("pro", weight=10), Tier("free", weight=0)]


def ev(kind: str, ticket_id: str, minute: float = 0, **data: Any) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket_id, at=T0 + timedelta(minutes=minute), data=data)


def created(ticket_id: str, minute: float = 0, **data: Any) -> TicketEvent:
    return ev("created", ticket_id, minute, **{"channel": "email", **data})


def agent(agent_id: str, email: int = 5, **kwargs: Any) -> Agent:
    return Agent(agent_id, capacity={"email": email, **kwargs.pop("capacity", {})}, **kwargs)


def router(*agents: Agent, **kwargs: Any) -> Router:
    kwargs.setdefault("tiers", TIERS)
    kwargs.setdefault("clock", FrozenClock(T0 + timedelta(hours=1)))
    return Router(agents, **kwargs)


def fed(r: Router, *events: TicketEvent) -> Router:
    r.apply_all(events)
    return r


def order(r: Router) -> list[str]:
    return [t.id for t in r.queue]


# --- ordering ---------------------------------------------------------------------------------


def test_higher_tier_weight_goes_first() -> None:
    """A pro ticket that arrived later still waits in front of an earlier free ticket."""
    r = fed(router(agent("a")), created("F", 0, tier="free"), created("P", 5, tier="pro"))
    assert "P" == r.next_ticket("a").id  # type: ignore[union-attr]


def test_priority_orders_within_a_tier() -> None:
    """Within one tier an urgent ticket goes before a normal one that came first."""
    r = fed(router(agent("a")), created("N", 0), created("U", 5, priority="urgent"))
    assert ["U", "N"] == order(r)


def test_earlier_sla_deadline_goes_first_and_none_last() -> None:
    """Equal tier and priority: the nearer SLA deadline first, tickets without one last."""
    r = fed(router(agent("a")), created("X", 0), created("Y", 1), created("Z", 2))
    r.set_deadline("Y", T0 + timedelta(hours=4))
    r.set_deadline("Z", T0 + timedelta(hours=2))
    assert ["Z", "Y", "X"] == order(r)


def test_deadline_accepts_epoch_seconds() -> None:
    """A deadline given as epoch seconds orders the same as the aware datetime."""
    r = fed(router(agent("a")), created("X", 0), created("Y", 1))
    r.set_deadline("Y", int((T0 + timedelta(hours=1)).timestamp()))
    assert ["Y", "X"] == order(r)


def test_arrival_breaks_ties() -> None:
    """Otherwise equal tickets are served first come, first served."""
    r = fed(router(agent("a")), created("B", 3), created("A", 4), created("C", 5))
    assert ["B", "A", "C"] == order(r)


def test_key_is_configurable() -> None:
    """With priority ahead of tier, an urgent free ticket beats a normal enterprise one."""
    r = fed(
        router(agent("a"), key=("priority", "tier", "arrival")),
        created("E", 0, tier="enterprise"),
        created("U", 1, tier="free", priority="urgent"),
    )
    assert ["U", "E"] == order(r)


def test_callable_key() -> None:
    """A callable key orders by anything on the routed ticket (here: newest first)."""
    r = fed(router(agent("a"), key=lambda t: -t.queued_at), created("old", 0), created("new", 9))
    assert ["new", "old"] == order(r)


def test_bad_key_name_is_a_configuration_error() -> None:
    """An unknown key component is refused with the allowed names."""
    with pytest.raises(ConfigurationError, match="tier, priority, deadline, arrival"):
        RoutingQueue(key=("tier", "age"))


def test_priority_change_reorders_a_queued_ticket() -> None:
    """Raising a waiting ticket's priority moves it up the queue."""
    r = fed(
        router(agent("a")),
        created("A", 0),
        created("B", 1),
        ev("priority_changed", "B", 2, to="high"),
    )
    assert ["B", "A"] == order(r)


# --- eligibility ------------------------------------------------------------------------------


def test_skill_level_must_be_met() -> None:
    """A ticket needing billing level 2 is not offered to a level-1 agent."""
    r = fed(
        router(agent("junior", skills={"billing": 1}), agent("senior", skills={"billing": 2})),
        created("T", 0, tags=["skill:billing:2"]),
    )
    assert (None, "T") == (r.next_ticket("junior"), r.next_ticket("senior").id)  # type: ignore[union-attr]


def test_require_adds_skills_explicitly() -> None:
    """``Router.require`` adds a skill requirement to a queued ticket."""
    r = fed(router(agent("a"), agent("b", skills={"tax": 1})), created("T"))
    r.require("T", skills={"tax": 1})
    assert (None, "T") == (r.next_ticket("a"), r.next_ticket("b").id)  # type: ignore[union-attr]


def test_language_must_be_spoken() -> None:
    """A German ticket skips an English-only agent; an agent declaring no languages takes it."""
    r = fed(
        router(agent("en", languages={"en"}), agent("any")),
        created("T", 0, language="de"),
    )
    assert (None, "T") == (r.next_ticket("en"), r.next_ticket("any").id)  # type: ignore[union-attr]


def test_dedicated_group_restricts_a_tier() -> None:
    """A tier with a dedicated group only reaches agents of that group."""
    tiers = [Tier("vip", weight=50, dedicated_group="vip-team"), Tier("free", weight=0)]
    r = fed(
        router(agent("plain"), agent("vip", groups={"vip-team"}), tiers=tiers),
        created("T", 0, tier="vip"),
    )
    assert (None, "T") == (r.next_ticket("plain"), r.next_ticket("vip").id)  # type: ignore[union-attr]


def test_watchlist_gives_a_customer_the_tier() -> None:
    """A watchlisted organisation's untiered ticket gets the top tier's place in the queue."""
    tiers = [Tier("top", weight=99, watchlist={"acme"}), Tier("free", weight=0)]
    r = fed(
        router(agent("a"), tiers=tiers),
        created("F", 0, tier="free"),
        created("W", 5, organisation="acme"),
    )
    assert (["W", "F"], 99) == (order(r), r.ticket("W").weight)


def test_away_and_offline_agents_get_nothing_new() -> None:
    """Only online agents are offered work; coming back online restores it."""
    r = fed(router(agent("a")), created("T"))
    r.set_status("a", AgentStatus.AWAY)
    away = r.next_ticket("a")
    r.set_status("a", "offline")
    offline = r.decide()
    r.set_status("a", "online")
    assert (None, None, "T") == (away, offline, r.next_ticket("a").id)  # type: ignore[union-attr]


def test_capacity_is_per_channel() -> None:
    """An agent full on email still gets a chat."""
    a = agent("a", email=1, capacity={"chat": 1})
    r = fed(
        router(a),
        created("E1", 0),
        ev("assigned", "E1", 1, agent="a"),
        created("E2", 2),
        created("C1", 3, channel="chat"),
    )
    assert "C1" == r.next_ticket("a").id  # type: ignore[union-attr]


def test_pending_tickets_do_not_fill_a_slot() -> None:
    """Moving an assigned ticket to pending frees the agent's slot."""
    r = fed(
        router(agent("a", email=1)),
        created("T1"),
        ev("assigned", "T1", 1, agent="a"),
        created("T2", 2),
    )
    full = r.next_ticket("a")
    r.apply(ev("status_changed", "T1", 3, to="pending"))
    assert (None, "T2") == (full, r.next_ticket("a").id)  # type: ignore[union-attr]


def test_counting_pending_is_configurable() -> None:
    """With ``counts`` including pending, a pending ticket keeps its slot."""
    r = fed(
        router(agent("a", email=1), counts=("new", "open", "pending")),
        created("T1"),
        ev("assigned", "T1", 1, agent="a"),
        ev("status_changed", "T1", 2, to="pending"),
        created("T2", 3),
    )
    assert ({"email": 1}, None) == (r.agent("a").load, r.next_ticket("a"))


def test_solving_frees_the_slot() -> None:
    """A solved ticket no longer counts against capacity."""
    r = fed(
        router(agent("a", email=1)),
        created("T1"),
        ev("assigned", "T1", 1, agent="a"),
        ev("status_changed", "T1", 2, to="solved"),
    )
    assert {"email": 0} == r.agent("a").load


def test_reopened_unassigned_ticket_queues_again() -> None:
    """An unassigned ticket leaves the queue while pending and returns when it opens again."""
    r = fed(router(agent("a")), created("T"), ev("status_changed", "T", 1, to="pending"))
    while_pending = "T" in r.queue
    r.apply(ev("status_changed", "T", 2, to="open"))
    assert (False, True) == (while_pending, "T" in r.queue)


def test_escalation_requeues_for_the_target_group_and_frees_the_agent() -> None:
    """An escalation to l2 releases the L1 agent and offers the ticket to l2 agents only."""
    r = fed(
        router(agent("l1", email=1), agent("l2", groups={"l2"})),
        created("T"),
        ev("assigned", "T", 1, agent="l1"),
        ev("escalated", "T", 2, level="L2", target="l2", reason="needs l2"),
    )
    got = (r.agent("l1").load, r.next_ticket("l1"), r.next_ticket("l2").id)  # type: ignore[union-attr]
    assert ({"email": 0}, None, "T") == got


# --- relaxation -------------------------------------------------------------------------------


def test_skill_requirement_relaxes_after_the_wait() -> None:
    """After five minutes a level-2 requirement drops to level 1."""
    r = fed(
        router(agent("junior", skills={"billing": 1}), relax=[Relax(timedelta(minutes=5))]),
        created("T", 0, tags=["skill:billing:2"]),
    )
    before = r.next_ticket("junior", at=T0 + timedelta(minutes=4))
    after = r.next_ticket("junior", at=T0 + timedelta(minutes=5))
    assert (None, "T") == (before, after.id if after else None)


def test_relax_step_can_drop_every_skill() -> None:
    """A ``lower_by=None`` step lets anyone take the ticket."""
    steps = [Relax(timedelta(minutes=5)), Relax(timedelta(minutes=15), lower_by=None)]
    r = fed(router(agent("anyone"), relax=steps), created("T", 0, tags=["skill:tax:3"]))
    at_ten = r.next_ticket("anyone", at=T0 + timedelta(minutes=10))
    at_fifteen = r.next_ticket("anyone", at=T0 + timedelta(minutes=15))
    assert (None, "T") == (at_ten, at_fifteen.id if at_fifteen else None)


def test_dedicated_agent_first_then_the_team() -> None:
    """A tier's dedicated agent gets first call; after the first relax step anyone eligible."""
    tiers = [Tier("named", weight=50, dedicated_agent="dana"), Tier("free", weight=0)]
    r = fed(
        router(agent("dana"), agent("eve"), tiers=tiers, relax=[Relax(timedelta(minutes=2))]),
        created("T", 0, tier="named"),
    )
    early = (r.next_ticket("eve", at=T0 + timedelta(minutes=1)), r.next_ticket("dana", at=T0).id)  # type: ignore[union-attr]
    late = r.next_ticket("eve", at=T0 + timedelta(minutes=2))
    assert ((None, "T"), "T") == (early, late.id if late else None)


# --- strategies -------------------------------------------------------------------------------


def candidates(*loads: int, capacity: int = 4) -> list[AgentState]:
    states = []
    for index, load in enumerate(loads):
        state = AgentState(agent(f"a{index}", capacity), index, AgentStatus.ONLINE, 0)
        state.load = {"email": load}
        states.append(state)
    return states


def routed(customer: str | None = None, previous: str | None = None) -> RoutedTicket:
    ticket = RoutedTicket()
    ticket.channel, ticket.customer, ticket.previous_agent = "email", customer, previous
    return ticket


def test_round_robin_rotates() -> None:
    """Round robin gives the ticket to whoever was assigned longest ago (never first)."""
    states = candidates(0, 0, 0)
    states[0].assigned_seq, states[1].assigned_seq, states[2].assigned_seq = 5, 3, 4
    assert "a1" == RoundRobin().choose(routed(), states).id


def test_least_loaded_picks_most_spare_capacity() -> None:
    """Least loaded picks the agent with the most free slots on the channel."""
    assert "a1" == LeastLoaded().choose(routed(), candidates(3, 1, 2)).id


def test_least_loaded_percentage() -> None:
    """With percentages, 1 of 2 used (50 % spare) beats 8 of 10 used (20 % spare)."""
    small, big = candidates(1, capacity=2)[0], candidates(0, 8, capacity=10)[1]
    assert (big.id, small.id) == (
        LeastLoaded().choose(routed(), [small, big]).id,
        LeastLoaded(percentage=True).choose(routed(), [small, big]).id,
    )


def test_most_idle_picks_longest_idle() -> None:
    """Most idle picks the agent whose last assignment (or coming online) is oldest."""
    states = candidates(0, 0, 0)
    states[0].idle_since, states[1].idle_since, states[2].idle_since = 300, 100, 200
    assert "a1" == MostIdle().choose(routed(), states).id


def test_sticky_prefers_the_customers_previous_agent() -> None:
    """Sticky returns the customer's previous agent when that agent is a candidate."""
    assert "a2" == Sticky().choose(routed("c", previous="a2"), candidates(0, 0, 3)).id


def test_sticky_falls_back() -> None:
    """Without the previous agent among the candidates, the fallback decides."""
    assert "a1" == Sticky(fallback=LeastLoaded()).choose(routed("c", "zz"), candidates(2, 0)).id


def test_sticky_router_remembers_the_customer() -> None:
    """The router sends a returning customer to the agent of their previous ticket."""
    r = fed(
        router(agent("a"), agent("b"), strategy=Sticky()),
        created("T1", 0, customer="cust"),
        ev("assigned", "T1", 1, agent="b"),
        ev("status_changed", "T1", 2, to="solved"),
        created("T2", 3, customer="cust"),
    )
    assert "b" == r.decide().agent  # type: ignore[union-attr]


def test_custom_strategy_is_used() -> None:
    """Any object with ``choose`` works as a strategy (here: the last candidate)."""

    class Last:
        def choose(self, ticket: RoutedTicket, states: Any) -> AgentState:
            return states[-1]  # type: ignore[no-any-return]

    r = fed(router(agent("a"), agent("b"), strategy=Last()), created("T"))
    assert "b" == r.choose_agent("T").id  # type: ignore[union-attr]


# --- claims -----------------------------------------------------------------------------------


def stored(*events: TicketEvent) -> InMemoryStore:
    store = InMemoryStore()
    for event in events:
        store.append(event.ticket_id, [event], expected_version=store.version(event.ticket_id))
    return store


def test_claim_appends_an_assigned_event() -> None:
    """A won claim appends ``assigned`` at the expected version and reports the new one."""
    store = stored(created("T"))
    result = claim(store, "T", "a", expected_version=1, at=T0)
    assert (True, 2, "a") == (result.won, result.version, store.read("T")[-1].data["agent"])


def test_stale_claim_is_a_lost_result_not_an_exception() -> None:
    """A claim at a stale version comes back lost, falsy, with the store's version."""
    store = stored(created("T"), ev("message", "T", 1))
    result = claim(store, "T", "a", expected_version=1, at=T0)
    assert (False, False, 2, None) == (bool(result), result.won, result.version, result.event)


def test_claim_on_an_unknown_ticket_is_refused_and_writes_nothing() -> None:
    """A claim at version 0 cannot start a log with ``assigned``: refused, store untouched."""
    store = InMemoryStore()
    result = claim(store, "NOPE", "ann", expected_version=0, at=T0)
    assert (False, True, []) == (
        result.won,
        result.reason.startswith("refused:"),
        store.read("NOPE"),
    )


def test_claim_on_a_closed_ticket_is_refused_and_the_log_stays_foldable() -> None:
    """Closed is final: a claim is refused and the ticket still folds."""
    store = stored(
        created("T"),
        ev("status_changed", "T", 1, to="solved"),
        ev("status_changed", "T", 2, to="closed"),
    )
    result = claim(store, "T", "ann", expected_version=3, at=T0 + timedelta(minutes=3))
    assert (False, True, 3, Status.CLOSED) == (
        result.won,
        result.reason.startswith("refused:"),
        store.version("T"),
        Ticket.from_events(store.read("T")).status,
    )


def test_claim_earlier_than_the_last_event_is_refused() -> None:
    """An ``assigned`` event before the log's last event would break time order: refused."""
    store = stored(created("T"), ev("message", "T", 10, public=True, body="hi"))
    result = claim(store, "T", "ann", expected_version=2, at=T0)
    assert (False, 2) == (result.won, store.version("T"))


def test_two_routers_never_take_the_same_ticket() -> None:
    """Two workers decide the same ticket; one claim wins, the other loses and catches up."""
    store = stored(created("T"))
    first, second = router(agent("a")), router(agent("b"))
    for r in (first, second):
        r.apply_all(store.read_all())
    one = first.claim(store, first.decide())  # type: ignore[arg-type]
    two = second.claim(store, second.decide())  # type: ignore[arg-type]
    assigned = [e for e in store.read("T") if e.kind == "assigned"]
    assert (True, False, 1, None) == (one.won, two.won, len(assigned), second.decide())


def test_dispatch_fills_free_slots_in_queue_order() -> None:
    """Dispatch assigns the best tickets until no free agent can take more."""
    store = stored(created("low", 0), created("high", 1, priority="high"), created("last", 2))
    r = router(agent("a", email=2))
    r.apply_all(store.read_all())
    claims = r.dispatch(store)
    assert ["high", "low"] == [c.ticket_id for c in claims if isinstance(c, Claim) and c.won]


# --- configuration and input errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("round_robin", RoundRobin), ("least_loaded", LeastLoaded), ("most_idle", MostIdle)],
)
def test_strategy_can_be_named(name: str, kind: type) -> None:
    """A known strategy name gives that strategy."""
    assert isinstance(router(agent("a"), strategy=name).strategy, kind)


@pytest.mark.parametrize("strategy", ["round-robin", 3])
def test_unknown_strategy_is_a_configuration_error(strategy: Any) -> None:
    """An unknown name, or an object without ``choose``, is refused up front."""
    with pytest.raises(ConfigurationError, match="strategy"):
        router(agent("a"), strategy=strategy)


def test_unknown_agent_skill_is_refused() -> None:
    """With a skill catalogue, an agent naming another skill is a configuration error."""
    with pytest.raises(ConfigurationError, match="unknown skill 'kung-fu'"):
        router(agent("a", skills={"kung-fu": 3}), skills={"billing"})


def test_unknown_ticket_skill_is_refused() -> None:
    """With a skill catalogue, a ticket asking for another skill is refused."""
    r = router(agent("a"), skills={"billing"})
    with pytest.raises(ConfigurationError, match="unknown skill 'tax'"):
        r.apply(created("T", tags=["skill:tax"]))


def test_negative_capacity_is_refused() -> None:
    """Capacity below zero is a configuration error."""
    with pytest.raises(ConfigurationError, match="-1"):
        Agent("a", capacity={"email": -1})


def test_tier_without_weight_is_refused() -> None:
    """A tier given as a dict without a weight is refused, naming the tier."""
    with pytest.raises(ConfigurationError, match="tier 'gold' has no weight"):
        Router(tiers=[{"name": "gold"}])


def test_relax_waits_must_increase() -> None:
    """Relaxation steps with waits that do not increase are refused."""
    with pytest.raises(ConfigurationError, match="increasing"):
        Router(relax=[Relax(timedelta(minutes=5)), Relax(timedelta(minutes=5))])


def test_unknown_ticket_tier_is_refused() -> None:
    """A ticket of a tier the router was not configured with is refused, naming it."""
    with pytest.raises(ConfigurationError, match="unknown tier 'gold'"):
        router(agent("a")).apply(created("T", tier="gold"))


def test_check_refuses_what_apply_would_refuse_and_changes_nothing() -> None:
    """Router.check raises the ConfigurationError of an unknown tier without queueing the ticket."""
    r = router(agent("a"))
    with pytest.raises(ConfigurationError, match="unknown tier 'gold'"):
        r.check(created("T", tier="gold"))
    assert (False, 0) == ("T" in r, len(r.queue))


def test_unknown_agent_is_refused() -> None:
    """Asking about an agent that was never registered says how to register it."""
    with pytest.raises(ConfigurationError, match="add_agent"):
        router().next_ticket("ghost")


def test_event_before_created_is_refused_without_change() -> None:
    """An event of a ticket the router has not seen is refused and changes nothing."""
    r = router(agent("a"))
    with pytest.raises(TicketStateError, match="before the ticket's 'created' event"):
        r.apply(ev("assigned", "T", agent="a"))
    assert ({}, 0) == (r.agent("a").load, len(r.queue))


def test_duplicate_created_is_refused() -> None:
    """A second ``created`` for the same ticket is refused."""
    r = fed(router(agent("a")), created("T"))
    with pytest.raises(TicketStateError, match="second 'created'"):
        r.apply(created("T"))


def test_status_of_routed_ticket_follows_events() -> None:
    """The routed view tracks status, assignee and version from the events."""
    r = fed(router(agent("a")), created("T"), ev("assigned", "T", 1, agent="a"))
    t = r.ticket("T")
    assert (Status.NEW, "a", 2, False) == (t.status, t.assignee, t.version, t.queued)


def test_unknown_presence_is_refused() -> None:
    """A presence that is not online, away or offline is a configuration error naming them."""
    with pytest.raises(ConfigurationError, match="online, away, offline"):
        router(agent("a")).set_status("a", "busy")


def test_agent_registered_late_counts_its_tickets() -> None:
    """An agent added after its assignments were replayed starts with that load (so is full)."""
    r = fed(router(), created("T"), ev("assigned", "T", 1, agent="late"), created("T2", 2))
    r.add_agent(agent("late", email=1))
    assert ({"email": 1}, None) == (r.agent("late").load, r.decide())


def test_tagging_a_skill_requires_it_and_untagging_drops_it() -> None:
    """A ``skill:`` tag added while queued narrows the agents; removing it widens them again."""
    r = fed(router(agent("a")), created("T"), ev("tagged", "T", 1, add=["skill:tax"]))
    narrowed = r.next_ticket("a")
    r.apply(ev("tagged", "T", 2, remove=["skill:tax"]))
    assert (None, "T") == (narrowed, r.next_ticket("a").id)  # type: ignore[union-attr]


def test_untagging_keeps_an_explicit_requirement() -> None:
    """A skill required with ``require`` stays required when the same tag is removed."""
    r = fed(router(agent("a")), created("T", tags=["skill:tax"]))
    r.require("T", skills={"tax": 1})
    r.apply(ev("tagged", "T", 1, remove=["skill:tax"]))
    assert ({"tax": 1}, None) == (r.ticket("T").skills, r.next_ticket("a"))


def test_choose_agent_does_not_let_a_new_ticket_jump_the_queue() -> None:
    """A free agent with an older urgent ticket waiting is not offered a new normal one."""
    r = fed(router(agent("a", email=0)), created("U", 0, priority="urgent"), created("N", 1))
    r.add_agent(agent("a", email=1))  # a slot opens, but nobody dispatched yet
    assert (None, "a") == (r.choose_agent("N"), r.choose_agent("U").id)  # type: ignore[union-attr]


# --- issue 14: stable order ---------------------------------------------------------------------


def test_a_priority_change_to_the_same_priority_keeps_the_place_among_equals() -> None:
    """With a key that ties tickets of one priority, re-stating a ticket's priority must not
    move it behind its peers (it used to be re-queued last)."""
    r = fed(
        router(agent("a"), key=("tier", "priority")),
        created("A", 0),
        created("B", 1),
        created("C", 2),
        ev("priority_changed", "A", 3, to="normal"),
        ev("tier_changed", "B", 3, to=None),
    )
    assert ["A", "B", "C"] == order(r)


def test_agent_index_is_never_reused_after_a_removal() -> None:
    """AgentState.index is the order of registration: an agent added after a removal gets a
    new index rather than the removed one's count (which another agent already has)."""
    r = router(agent("x"), agent("y"), agent("z"))
    r.remove_agent("x")
    w = r.add_agent(agent("w"))
    indexes = {state.id: state.index for state in r.agents}
    assert {"y": 1, "z": 2, "w": 3} == indexes
    assert w.index == 3


def test_the_heaviest_watchlist_wins_between_customer_and_organisation() -> None:
    """The customer is on pro's watchlist and its organisation on enterprise's: the router gives
    the ticket enterprise's weight, as the desk's tier_for does (it took the customer's entry
    first, the lighter tier)."""
    tiers = [
        Tier("enterprise", weight=100, watchlist={"acme"}),
        Tier("pro", weight=10, watchlist={"c1"}),
    ]
    r = fed(
        router(agent("a"), tiers=tiers),
        created("A", 0, tier="pro", customer="c2"),
        created("B", 1, customer="c1", organisation="acme"),
    )
    assert ["B", "A"] == order(r)
    assert 100 == r.ticket("B").weight
