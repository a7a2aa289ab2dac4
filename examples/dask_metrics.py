"""Scale-out: run supportkit's metrics aggregators on Dask and get the one-pass answer.

The client sends each worker only a small shard description (here a seed; in real use a file
path or a date range of event logs). The worker loads that shard's ticket facts itself and folds
them into its own :class:`supportkit.MetricsAggregator`; the partial aggregators are merged in a
tree (``merge`` is exact and order-independent), and the merged aggregator renders the report.
So only shard descriptions and aggregator state travel between processes, never the facts.

Run it: ``python examples/dask_metrics.py`` (needs ``dask`` and ``distributed``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
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
    shards: Sequence[Any],
    load: Callable[[Any], Iterable[TicketFacts]],
    groupings: Sequence[Any] = GROUPINGS,
    goals: Sequence[Goal] = GOALS,
) -> MetricsAggregator:
    """Fold every shard on a worker (``load(shard)`` runs there) and merge the partials.

    *shards* are small descriptions (seeds, file paths); one Dask partition per shard.
    """

    def fold_partition(part: Iterable[Any]) -> MetricsAggregator:
        return _fold(itertools.chain.from_iterable(map(load, part)), groupings, goals)

    bag = db.from_sequence(shards, npartitions=len(shards))
    return bag.reduction(fold_partition, _merge, split_every=4).compute()


def shard_facts(shard: tuple[int, int]) -> list[TicketFacts]:
    """Shard ``(seed, n)``'s facts, built on the worker (a stand-in for reading a file)."""
    seed, n = shard
    return sample_facts(n, seed=seed, prefix=f"S{seed}-")


def sample_facts(n: int, seed: int = 1, prefix: str = "T") -> list[TicketFacts]:
    """Generated ticket facts (a stand-in for facts folded from real event logs)."""
    rnd = random.Random(seed)
    facts = []
    for i in range(n):
        created = 1_735_689_600 + rnd.randrange(0, 60 * 86400)  # Jan-Feb 2025
        solved = rnd.random() < 0.7
        facts.append(
            TicketFacts(
                ticket_id=f"{prefix}{i}",
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

    shards = [(seed, 2_500) for seed in range(8)]
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster),
    ):
        merged = dask_aggregate(shards, shard_facts)
    report = merged.report()
    one_pass = _fold(itertools.chain.from_iterable(map(shard_facts, shards)), GROUPINGS, GOALS)
    assert report == one_pass.report()  # identical to one pass
    for row in report.table("tier"):
        print(row.key[0], row["incoming"], row["first_reply.median"], row["csat"])
    print(report.goals[0].to_dict())
    return report


if __name__ == "__main__":
    main()
