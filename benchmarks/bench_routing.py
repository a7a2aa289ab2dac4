"""Routing decisions and queue updates: the indexed router against a plain linear scan, in one run.

Set-up (issue 6): 1,000 agents (two of six skills at levels 1-3, one or two of three languages,
10 % in the VIP team, 5 email and 3 chat slots), queues of 1k, 10k and 100k waiting tickets
(four tiers, the top one dedicated to the VIP team; half need a skill at level 1-2; 30 % need a
language; 30 % chat; half carry an SLA deadline; arrivals over the last two hours, so the
10- and 30-minute skill relaxations have moved many tickets). Every agent starts full, so the
queue is the steady-state backlog. Then, repeatedly: one of an agent's tickets is solved (a
queue update that frees a slot), the router decides (``decide()``: the best ticket any free
agent may take, and the agent), and the assignment is applied (another update).

Measured: time per decision (``decide()`` and ``next_ticket(agent)``), per queue update
(``created`` enqueue, ``priority_changed`` re-key, ``assigned`` dequeue, ``solved`` release), and
the same decisions by a plain linear scan over every queued ticket (eligibility and relaxation
worked out from scratch), which must agree with the router on every sampled decision.

Target: ≤ 20 µs per decision at 100k queued tickets, growing no faster than O(log n).

    python benchmarks/bench_routing.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from supportkit import Agent, FrozenClock, Relax, Router, TicketEvent, Tier
from supportkit._routing import _scan_next_ticket

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
SKILLS = ("billing", "tech", "api", "mobile", "security", "sales")
LANGUAGES = ("en", "de", "fr")
TIERS = [
    Tier("enterprise", weight=100, dedicated_group="vip"),
    Tier("pro", weight=50),
    Tier("standard", weight=10),
    Tier("free", weight=0),
]


def make_agents(n: int, rng: random.Random) -> list[Agent]:
    return [
        Agent(
            f"agent-{i}",
            skills={skill: rng.randint(1, 3) for skill in rng.sample(SKILLS, 2)},
            languages=set(rng.sample(LANGUAGES, rng.randint(1, 2))),
            groups={"vip"} if rng.random() < 0.1 else set(),
            capacity={"email": 5, "chat": 3},
        )
        for i in range(n)
    ]


def ticket_events(n: int, rng: random.Random, prefix: str) -> list[TicketEvent]:
    events = []
    for i in range(n):
        tags = [f"skill:{rng.choice(SKILLS)}:{rng.randint(1, 2)}"] if rng.random() < 0.5 else []
        data = {
            "channel": "chat" if rng.random() < 0.3 else "email",
            "tier": rng.choices([t.name for t in TIERS], weights=[5, 20, 35, 40])[0],
            "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
            "language": rng.choice(LANGUAGES) if rng.random() < 0.3 else None,
            "customer": f"c{rng.randint(0, n)}",
            "tags": tags,
        }
        at = NOW - timedelta(seconds=rng.randint(0, 7200))
        events.append(TicketEvent("created", ticket_id=f"{prefix}{i}", at=at, data=data))
    events.sort(key=lambda e: e.ts)
    return events


def per_call(samples: list[int]) -> tuple[float, float]:
    """Median and mean in µs."""
    return statistics.median(samples) / 1000, statistics.fmean(samples) / 1000


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    start = time.perf_counter_ns()
    result = call(*args, **kwargs)
    return result, time.perf_counter_ns() - start


def check(reference: Any, got: Any, agent: str) -> None:
    if reference is not got:
        raise AssertionError(f"{agent}: router chose {got}, the linear scan {reference}")


def run(queue_length: int, agents: list[Agent], decisions: int, scans: int) -> dict[str, Any]:
    rng = random.Random(queue_length)
    router = Router(
        agents,
        tiers=TIERS,
        clock=FrozenClock(NOW),
        relax=[Relax(timedelta(minutes=10)), Relax(timedelta(minutes=30), lower_by=None)],
    )
    # Fill every agent first (its own tickets, eligible for anyone), then the backlog.
    fill = []
    own: dict[str, list[str]] = {agent.id: [] for agent in agents}
    for agent in agents:
        for channel, slots in agent.capacity.items():
            for k in range(slots):
                tid = f"own-{agent.id}-{channel}-{k}"
                own[agent.id].append(tid)
                at = NOW - timedelta(hours=3)
                fill.append(TicketEvent("created", ticket_id=tid, at=at, data={"channel": channel}))
                fill.append(TicketEvent("assigned", ticket_id=tid, at=at, data={"agent": agent.id}))
    router.apply_all(fill)
    backlog = ticket_events(queue_length, rng, "T")
    start = time.perf_counter()
    router.apply_all(backlog)
    router.advance(NOW)
    build = time.perf_counter() - start
    assert len(router.queue) == queue_length
    gc.collect()
    gc.freeze()  # the set-up's objects are not garbage: keep full collections off them

    # Steady state: solve one of an agent's tickets, decide, assign; check against the scan.
    decide_ns: list[int] = []
    pull_ns: list[int] = []
    scan_ns: list[int] = []
    release_ns: list[int] = []
    assign_ns: list[int] = []
    agree = 0
    for n in range(decisions):
        agent = rng.choice(agents).id
        tid = own[agent].pop() if own[agent] else None
        if tid is None:
            continue
        solved = TicketEvent("status_changed", ticket_id=tid, at=NOW, data={"to": "solved"})
        _, ns = timed(router.apply, solved)
        release_ns.append(ns)
        pulled, ns = timed(router.next_ticket, agent, at=NOW)
        pull_ns.append(ns)
        if n < scans:
            reference, ns = timed(_scan_next_ticket, router, agent, NOW)
            scan_ns.append(ns)
            check(reference, pulled, agent)
        while True:  # dispatch: decide and assign until nothing can move
            decision, ns = timed(router.decide, at=NOW)
            decide_ns.append(ns)
            if decision is None:
                break
            if n < scans:
                decided = router.ticket(decision.ticket_id)
                check(_scan_next_ticket(router, decision.agent, NOW), decided, decision.agent)
                agree += 1
            assigned = TicketEvent(
                "assigned", ticket_id=decision.ticket_id, at=NOW, data={"agent": decision.agent}
            )
            _, ns = timed(router.apply, assigned)
            assign_ns.append(ns)
            own[decision.agent].append(decision.ticket_id)

    # Pure queue updates: enqueue new tickets and re-key waiting ones.
    extra = ticket_events(min(2000, queue_length), random.Random(7), "X")
    enqueue_ns = [timed(router.apply, e)[1] for e in extra]
    waiting = (
        [t.id for t in list(router.queue)[: len(extra)]]
        if queue_length <= 10_000
        else [e.ticket_id for e in extra]
    )
    rekey_ns = []
    for tid in waiting:
        event = TicketEvent("priority_changed", ticket_id=tid, at=NOW, data={"to": "urgent"})
        rekey_ns.append(timed(router.apply, event)[1])
    return {
        "queue": queue_length,
        "lanes": len(router.queue.lanes()),
        "lanes_per_agent": statistics.fmean(
            sum(len(v) for v in state.lanes.values()) for state in router.agents
        ),
        "build_us": build / queue_length * 1e6,
        "decide": per_call(decide_ns),
        "pull": per_call(pull_ns),
        "scan": per_call(scan_ns),
        "release": per_call(release_ns),
        "assign": per_call(assign_ns),
        "enqueue": per_call(enqueue_ns),
        "rekey": per_call(rekey_ns),
        "agree": agree,
        "decisions": len(decide_ns),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small queues, few samples")
    args = parser.parse_args()
    agents = make_agents(1000, random.Random(1))
    if args.quick:
        plan = [(1_000, 300, 50), (10_000, 300, 10)]
    else:
        plan = [(1_000, 3000, 300), (10_000, 3000, 100), (100_000, 3000, 20)]
    print(f"routing: {len(agents)} agents, 5 email + 3 chat slots each, all busy at the start")
    header = (
        f"{'queued':>8} {'lanes':>6} {'/agent':>6} | {'decide µs':>10} {'next µs':>9} "
        f"| {'scan µs':>10} {'scan/next':>9} {'agreed':>7} | {'enqueue':>7} {'rekey':>6} "
        f"{'assign':>6} {'release':>7}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for queue_length, decisions, scans in plan:
        gc.collect()
        r = run(queue_length, agents, decisions, scans)
        results.append(r)
        print(
            f"{r['queue']:>8,} {r['lanes']:>6} {r['lanes_per_agent']:>6.1f} | "
            f"{r['decide'][0]:>5.1f}/{r['decide'][1]:<4.1f} "
            f"{r['pull'][0]:>4.1f}/{r['pull'][1]:<4.1f} | "
            f"{r['scan'][0]:>10,.0f} {r['scan'][0] / r['pull'][0]:>8,.0f}x "
            f"{r['agree']:>7} | {r['enqueue'][0]:>7.1f} {r['rekey'][0]:>6.1f} "
            f"{r['assign'][0]:>6.1f} {r['release'][0]:>7.1f}"
        )
    print("(times are median/mean µs per call; scan = the same decision by a linear scan;")
    print(" enqueue/rekey/assign/release = median µs per queue update)")
    first, last = results[0], results[-1]
    growth = last["decide"][0] / first["decide"][0]
    print(
        f"decide() grows {growth:.2f}x from {first['queue']:,} to {last['queue']:,} queued "
        f"({last['queue'] / first['queue']:,.0f}x more); the linear scan grows "
        f"{last['scan'][0] / first['scan'][0]:.0f}x"
    )
    verdict = "meets" if last["decide"][0] <= 20 else "misses"
    print(
        f"target ≤ 20 µs per decision at {last['queue']:,} queued: {verdict} "
        f"({last['decide'][0]:.1f} µs median decide, {last['pull'][0]:.1f} µs next_ticket)"
    )


if __name__ == "__main__":
    main()
