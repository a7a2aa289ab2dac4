"""Scale-out: run supportkit's metrics aggregators on Dask and get the one-pass answer.

Each partition of ticket facts is folded into its own :class:`supportkit.MetricsAggregator`;
the partial aggregators are merged in a tree (``merge`` is exact and order-independent), and the
merged aggregator renders the report. Only the small aggregator state travels between workers,
never the facts.

Run it: ``python examples/dask_metrics.py`` (needs ``dask`` and ``distributed``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import dask.bag as db

from supportkit import Goal, MetricsAggregator, MetricsReport, TicketFacts

GROUPINGS: list[Any] = ["all", "tier", "channel", ("tier", "week")]
GOALS = [Goal("first_reply.median", 3600, grouping="tier", group="enterprise", period="week")]


def _fold(
    facts: Iterable[TicketFacts], groupings: Sequence[Any], goals: Sequence[Goal]
) -> MetricsAggregator:
    return MetricsAggregator(groupings, goals=goals, tz="Europe/Berlin").update(facts)


def _merge(partials: Iterable[MetricsAggregator]) -> MetricsAggregator:
    return MetricsAggregator.combine(partials)


def dask_aggregate(
    bag: db.Bag, groupings: Sequence[Any] = GROUPINGS, goals: Sequence[Goal] = GOALS
) -> MetricsAggregator:
    """Fold every partition of *bag* (of TicketFacts) and merge the partial aggregators."""
    return bag.reduction(
        lambda part: _fold(part, groupings, goals), _merge, split_every=4
    ).compute()


def sample_facts(n: int, seed: int = 1) -> list[TicketFacts]:
    """Generated ticket facts (a stand-in for facts folded from real event logs)."""
    rnd = random.Random(seed)
    facts = []
    for i in range(n):
        created = 1_735_689_600 + rnd.randrange(0, 60 * 86400)  # Jan-Feb 2025
        solved = rnd.random() < 0.7
        facts.append(
            TicketFacts(
                ticket_id=f"T{i}",
                created_at=created,
                as_of=1_741_000_000,
                status="solved" if solved else "open",
                channel=rnd.choice(["email", "chat", "web"]),
                tier=rnd.choice(["free", "pro", "enterprise"]),
                solved_at=created + rnd.randrange(86400) if solved else None,
                first_reply=rnd.randrange(60, 3 * 3600),
                full_resolution=rnd.randrange(3600, 86400) if solved else None,
                agent_replies=rnd.randrange(0, 4),
                ever_solved=solved,
                csat=rnd.choice([None, "good", "bad"]),
            )
        )
    return facts


def main() -> MetricsReport:
    from distributed import Client, LocalCluster

    facts = sample_facts(20_000)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster),
    ):
        merged = dask_aggregate(db.from_sequence(facts, npartitions=8))
    report = merged.report()
    assert report == _fold(facts, GROUPINGS, GOALS).report()  # identical to one pass
    for row in report.table("tier"):
        print(row.key[0], row["incoming"], row["first_reply.median"], row["csat"])
    print(report.goals[0].to_dict())
    return report


if __name__ == "__main__":
    main()
