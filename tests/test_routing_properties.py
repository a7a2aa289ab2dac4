"""Routing invariants under random event sequences (Hypothesis), and a simulated day of traffic."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    Agent,
    FrozenClock,
    InMemoryStore,
    LeastLoaded,
    MostIdle,
    Relax,
    RoundRobin,
    Router,
    Status,
    Sticky,
    TicketEvent,
    Tier,
    next_step,
)
from supportkit._lifecycle import TRANSITIONS
from supportkit._routing import _scan_next_ticket

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TIERS = [Tier("gold", weight=20), Tier("silver", weight=10), Tier("bronze", weight=0)]
SKILLS = ("billing", "tech")
STRATEGIES = [RoundRobin(), LeastLoaded(), LeastLoaded(percentage=True), MostIdle(), Sticky()]

agent_st = st.fixed_dictionaries(
    {
        "skills": st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 3), max_size=2),
        "languages": st.sets(st.sampled_from(["en", "de"]), max_size=2),
        "groups": st.sets(st.sampled_from(["l2"]), max_size=1),
        "capacity": st.fixed_dictionaries({"email": st.integers(1, 3), "chat": st.integers(0, 2)}),
    }
)
agents_st = st.lists(agent_st, min_size=1, max_size=5)

create_st = st.tuples(
    st.just("create"),
    st.sampled_from(["gold", "silver", "bronze", None]),
    st.sampled_from(["low", "normal", "high", "urgent"]),
    st.sampled_from([(), (), ("skill:billing",), ("skill:tech:2",), ("skill:billing:3",)]),
    st.sampled_from(["email", "email", "chat"]),
    st.sampled_from([None, None, "en", "de"]),
    st.sampled_from([None, "cust1", "cust2"]),
)
decide_st = st.one_of(
    st.tuples(st.just("decide")),
    st.tuples(st.just("pull"), st.integers(0, 4)),
    st.tuples(st.just("choose"), st.integers(0, 30)),
)
op_st = st.one_of(
    create_st,
    decide_st,
    create_st,
    decide_st,
    st.tuples(st.just("status"), st.integers(0, 30), st.sampled_from(list(Status))),
    st.tuples(st.just("presence"), st.integers(0, 4), st.sampled_from(["online", "away"])),
    st.tuples(st.just("wait"), st.integers(1, 20)),
    st.tuples(st.just("escalate"), st.integers(0, 30)),
    st.tuples(st.just("deadline"), st.integers(0, 30), st.integers(0, 600)),
)
ops_st = st.lists(op_st, min_size=15, max_size=80)


class World:
    """A store, a router on top of it and a clock; every event goes to both."""

    def __init__(self, agents: list[dict[str, Any]], strategy: Any, reactivate: bool) -> None:
        self.clock = FrozenClock(T0)
        self.store = InMemoryStore()
        self.router = Router(
            [Agent(f"a{i}", **fields) for i, fields in enumerate(agents)],
            tiers=TIERS,
            strategy=strategy,
            clock=self.clock,
            relax=[Relax(timedelta(minutes=10)), Relax(timedelta(minutes=30), lower_by=None)],
        )
        self.ids: list[str] = []
        self.reactivate = reactivate

    def append(self, kind: str, ticket_id: str, **data: Any) -> None:
        event = TicketEvent(kind, ticket_id=ticket_id, at=self.clock.now(), data=data)
        self.store.append(ticket_id, [event], expected_version=self.store.version(ticket_id))
        self.router.apply(event)

    def pick(self, index: int) -> str | None:
        return self.ids[index % len(self.ids)] if self.ids else None

    def assign(self, ticket_id: str, agent_id: str) -> None:
        ticket = self.router.ticket(ticket_id)
        state = self.router.agent(agent_id)
        # the decision never hands out a taken ticket or a slot the agent does not have
        assert ticket.queued
        assert ticket.assignee is None
        assert state.load.get(ticket.channel, 0) < state.slots(ticket.channel)
        # and never skips a higher-ordered ticket the agent could take
        assert _scan_next_ticket(self.router, agent_id) is ticket
        self.append("assigned", ticket_id, agent=agent_id)
        assert state.load.get(ticket.channel, 0) <= state.slots(ticket.channel)

    def run(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        router = self.router
        if name == "create":
            _, tier, priority, tags, channel, language, customer = op
            ticket_id = f"T{len(self.ids)}"
            self.ids.append(ticket_id)
            data = {"channel": channel, "priority": priority, "tags": list(tags)}
            data.update(tier=tier, language=language, customer=customer)
            self.append("created", ticket_id, **data)
        elif name == "decide":
            decision = router.decide()
            if decision is not None:
                self.assign(decision.ticket_id, decision.agent)
        elif name == "pull":
            agent_id = router.agents[op[1] % len(router.agents)].id
            ticket = router.next_ticket(agent_id)
            assert _scan_next_ticket(router, agent_id) is ticket
            if ticket is not None:
                self.assign(ticket.id, agent_id)
        elif name == "choose" and (ticket_id := self.pick(op[1])) is not None:
            if router.ticket(ticket_id).queued and (chosen := router.choose_agent(ticket_id)):
                self.assign(ticket_id, chosen.id)
        elif name == "status" and (ticket_id := self.pick(op[1])) is not None:
            ticket = router.ticket(ticket_id)
            reactivates = ticket.assignee is not None and op[2] in router.counts
            if (ticket.status, op[2]) in TRANSITIONS and (self.reactivate or not reactivates):
                self.append("status_changed", ticket_id, to=op[2])
        elif name == "presence":
            router.set_status(router.agents[op[1] % len(router.agents)].id, op[2])
        elif name == "wait":
            self.clock.advance(minutes=op[1])
        elif name == "escalate" and (ticket_id := self.pick(op[1])) is not None:
            if router.ticket(ticket_id).status not in (Status.SOLVED, Status.CLOSED):
                self.append("escalated", ticket_id, level="L2", target="l2", reason="test")
        elif name == "deadline" and (ticket_id := self.pick(op[1])) is not None:
            router.set_deadline(ticket_id, self.clock.now() + timedelta(minutes=op[2]))
        elif name == "capacity":  # reconfigure an agent: same skills, new email capacity
            config = router.agents[op[1] % len(router.agents)].agent
            router.add_agent(attrs.evolve(config, capacity={**config.capacity, "email": op[2]}))

    def check_bookkeeping(self) -> None:
        """Loads and lane counters equal a recount from scratch."""
        router = self.router
        load: Counter[tuple[str, str]] = Counter()
        for ticket_id in self.ids:
            t = router.ticket(ticket_id)
            if t.assignee is not None and t.status in router.counts:
                load[(t.assignee, t.channel)] += 1
        for state in router.agents:
            for channel in ("email", "chat"):
                assert load[(state.id, channel)] == state.load.get(channel, 0)
        for lane in router.queue._lanes.values():
            channel = lane.requirements.channel
            free = [a for a in lane.agents if router.is_free(a, channel)]
            queued = [
                t for t in router.queue._tickets.values() if t.requirements == lane.requirements
            ]
            assert (set(free), len(queued)) == (set(lane.free), lane.live)


@given(agents_st, ops_st, st.sampled_from(STRATEGIES), st.booleans())
def test_decisions_respect_capacity_order_and_single_assignment(
    agents: list[dict[str, Any]], ops: list[tuple[Any, ...]], strategy: Any, reactivate: bool
) -> None:
    """Every decision takes a queued, unassigned ticket for an agent with a free slot, and is
    the best ticket that agent may take; bookkeeping matches a recount; without reactivations
    (which may exceed capacity, as in Zendesk) no agent is ever above capacity."""
    world = World(agents, strategy, reactivate)
    drain = [("decide",)] * 20  # finish with decisions until nothing can move
    for op in [*ops, *drain]:
        world.run(op)
        world.check_bookkeeping()
        if not reactivate:
            for state in world.router.agents:
                assert all(state.load[ch] <= state.slots(ch) for ch in state.load)


class ChoiceWorld(World):
    """A World that checks each decision's agent: the strategy's choice among every agent
    that is online, has a free slot on the ticket's channel and meets its requirements, found
    by a scan over all agents (the router keeps each lane's free agents in a heap by rank)."""

    def run(self, op: tuple[Any, ...]) -> None:
        if op[0] != "decide":
            super().run(op)
            return
        router = self.router
        decision = router.decide()
        if decision is None:
            return
        ticket = router.ticket(decision.ticket_id)
        candidates = [
            state
            for state in router.agents
            if router.is_free(state, ticket.channel) and ticket.requirements.admits(state.agent)
        ]
        expected = router.strategy.choose(ticket, candidates)
        assert expected.id == decision.agent
        self.assign(decision.ticket_id, decision.agent)


choice_ops_st = st.lists(  # busy: many decisions, slots freed and agents changed between them
    st.one_of(
        create_st,
        st.tuples(st.just("decide")),
        st.tuples(st.just("decide")),
        st.tuples(st.just("status"), st.integers(0, 30), st.sampled_from(["solved", "pending"])),
        st.tuples(st.just("presence"), st.integers(0, 11), st.sampled_from(["online", "away"])),
        st.tuples(st.just("capacity"), st.integers(0, 11), st.integers(0, 3)),
        st.tuples(st.just("wait"), st.integers(1, 20)),
    ),
    min_size=30,
    max_size=120,
)


@given(st.lists(agent_st, min_size=1, max_size=12), choice_ops_st, st.sampled_from(STRATEGIES))
def test_decisions_pick_the_strategys_choice_among_all_free_agents(
    agents: list[dict[str, Any]], ops: list[tuple[Any, ...]], strategy: Any
) -> None:
    """Every decision's agent is what the strategy picks among all eligible free agents, through
    load, presence and capacity changes (the router keeps free agents sorted by rank)."""
    world = ChoiceWorld(agents, strategy, reactivate=True)
    for op in [*ops, *[("decide",)] * 20]:
        world.run(op)
        world.check_bookkeeping()


class PreviewWorld(World):
    """A World that asks choose_new before each ticket is created: it must name the agent
    choose_agent names once the ticket is applied (with the same SLA deadline)."""

    def append(self, kind: str, ticket_id: str, **data: Any) -> None:
        if kind != "created":
            super().append(kind, ticket_id, **data)
            return
        event = TicketEvent(kind, ticket_id=ticket_id, at=self.clock.now(), data=data)
        deadline = None if len(self.ids) % 2 else event.ts + 60 * len(self.ids)
        preview = self.router.choose_new(event, deadline=deadline)
        self.store.append(ticket_id, [event], expected_version=0)
        self.router.apply(event)
        self.router.set_deadline(ticket_id, deadline)
        chosen = self.router.choose_agent(ticket_id)
        assert (None if chosen is None else chosen.id) == (None if preview is None else preview.id)


@given(agents_st, ops_st, st.sampled_from(STRATEGIES))
def test_choosing_before_a_ticket_exists_agrees_with_choosing_after(
    agents: list[dict[str, Any]], ops: list[tuple[Any, ...]], strategy: Any
) -> None:
    """Router.choose_new (what a desk asks before committing a new ticket) gives the agent
    choose_agent gives right after the ticket is applied, and changes no bookkeeping."""
    world = PreviewWorld(agents, strategy, reactivate=True)
    for op in ops:
        world.run(op)
        world.check_bookkeeping()


@given(agents_st, ops_st)
def test_every_open_ticket_has_a_next_step(
    agents: list[dict[str, Any]], ops: list[tuple[Any, ...]]
) -> None:
    """After any sequence of events every open ticket has a next step, and an agent who owes
    something is named."""
    world = World(agents, LeastLoaded(), reactivate=True)
    for op in ops:
        world.run(op)
    for ticket_id in world.ids:
        events = world.store.read(ticket_id)
        step = next_step(events, router=world.router)
        open_ = world.router.ticket(ticket_id).status not in (Status.SOLVED, Status.CLOSED)
        assert open_ == (step is not None)
        if step is not None and step.waiting_on == "agent":
            assert step.owner is not None


@given(
    st.lists(st.integers(1, 3), min_size=1, max_size=4),
    st.lists(st.sampled_from(["first", "second"]), min_size=1, max_size=40),
    st.integers(1, 15),
)
def test_racing_routers_never_assign_a_ticket_twice(
    capacities: list[int], turns: list[str], tickets: int
) -> None:
    """Two routers sharing one store dispatch in any interleaving; each ticket gets at most one
    ``assigned`` event."""
    store = InMemoryStore()
    for n in range(tickets):
        event = TicketEvent("created", ticket_id=f"T{n}", at=T0, data={"channel": "email"})
        store.append(event.ticket_id, [event], expected_version=0)
    agents = [Agent(f"a{i}", capacity={"email": c}) for i, c in enumerate(capacities)]
    routers = {
        "first": Router(agents, clock=FrozenClock(T0)),
        "second": Router(agents, clock=FrozenClock(T0)),
    }
    for r in routers.values():
        r.apply_all(store.read_all())
    for turn in turns:
        r = routers[turn]
        decision = r.decide()
        if decision is not None:
            r.claim(store, decision)
    assigned = Counter(e.ticket_id for e in store.read_all() if e.kind == "assigned")
    assert all(count == 1 for count in assigned.values())


# --- a day of traffic -------------------------------------------------------------------------


def simulate_day(seed: int) -> dict[str, list[int]]:
    """Eight hours, a ticket about every 90 s (gold 10 %, silver 30 %, bronze 60 %), six agents
    with two slots each, 15-40 minutes per ticket. Returns the waits in minutes per tier
    (tickets never picked up count as waiting until the end of the day)."""
    rng = random.Random(seed)
    clock = FrozenClock(T0)
    store = InMemoryStore()
    router = Router(
        [Agent(f"a{i}", capacity={"email": 2}) for i in range(6)],
        tiers=TIERS,
        strategy=RoundRobin(),
        clock=clock,
    )
    arrived: dict[str, tuple[str, int]] = {}
    waits: dict[str, list[int]] = {tier.name: [] for tier in TIERS}
    finishing: dict[int, list[str]] = {}
    numbers = itertools.count()

    def append(event: TicketEvent) -> None:
        store.append(event.ticket_id, [event], expected_version=store.version(event.ticket_id))
        router.apply(event)

    for minute in range(8 * 60):
        clock.set(T0 + timedelta(minutes=minute))
        for ticket_id in finishing.pop(minute, []):
            append(
                TicketEvent(
                    "status_changed", ticket_id=ticket_id, at=clock.now(), data={"to": "solved"}
                )
            )
        while rng.random() < 0.66:
            tier = rng.choices(["gold", "silver", "bronze"], weights=[1, 3, 6])[0]
            ticket_id = f"T{next(numbers)}"
            arrived[ticket_id] = (tier, minute)
            data = {"channel": "email", "tier": tier, "priority": rng.choice(["normal", "high"])}
            append(TicketEvent("created", ticket_id=ticket_id, at=clock.now(), data=data))
            if rng.random() < 0.5:
                break
        for result in router.dispatch(store):
            assert result.won
            tier, start = arrived.pop(result.ticket_id)
            waits[tier].append(minute - start)
            finishing.setdefault(minute + rng.randint(15, 40), []).append(result.ticket_id)
    for tier, start in arrived.values():
        waits[tier].append(8 * 60 - start)
    return waits


def test_day_of_traffic_top_tier_waits_least() -> None:
    """Over a busy day, gold tickets wait less on average than silver, and silver less than
    bronze; everyone is eventually served or still queued in order."""
    for seed in (1, 2):
        waits = simulate_day(seed)
        means = [statistics.fmean(waits[name]) for name in ("gold", "silver", "bronze")]
        assert means == sorted(means), means
        assert means[0] < means[2], means
