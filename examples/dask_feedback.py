"""Scale-out: the product feedback report over a large history, on Dask, equal to one pass.

As in ``dask_metrics.py``, the client sends each worker a small shard description (here a
seed; in real use the path of an export of some tickets' logs, or a range of ticket ids). The
worker reads that shard's ticket logs itself and folds each whole log into its own
:class:`supportkit.FeedbackAggregator`; the partial aggregators are merged in a tree
(``merge`` is exact and order-independent), and the merged one renders the report. A shard
holds whole ticket logs (every event of a ticket in one shard); an incident and its problem may
sit in different shards.

Run it: ``python examples/dask_feedback.py`` (needs ``dask`` and ``distributed``).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dask.bag as db

from supportkit import Feedback, FeedbackAggregator, TicketEvent, feedback

NOW = datetime(2025, 6, 1, tzinfo=UTC)
WINDOW = timedelta(days=28)
WEIGHTS = {"gold": 10, "silver": 3}


def _fold(logs: Iterable[Sequence[TicketEvent]]) -> FeedbackAggregator:
    aggregator = FeedbackAggregator(now=NOW, window=WINDOW, weights=WEIGHTS)
    for log in logs:
        aggregator.update(log)
    return aggregator


def _merge(partials: Iterable[FeedbackAggregator]) -> FeedbackAggregator:
    return functools.reduce(FeedbackAggregator.merge, partials)


def dask_feedback(
    shards: Sequence[Any], load: Callable[[Any], Iterable[Sequence[TicketEvent]]]
) -> FeedbackAggregator:
    """Fold every shard's ticket logs on a worker (``load(shard)`` runs there) and merge."""

    def fold_partition(part: Iterable[Any]) -> FeedbackAggregator:
        return _fold(log for shard in part for log in load(shard))

    bag = db.from_sequence(shards, npartitions=len(shards))
    return bag.reduction(fold_partition, _merge, split_every=4).compute()


def shard_logs(shard: tuple[int, int]) -> list[list[TicketEvent]]:
    """Shard ``(seed, n)``'s ticket logs, built on the worker (a stand-in for reading an
    export): tags, tiers, incidents linked to the ten problems of shard 0, escalations to
    engineering and solves over the period and the one before."""
    seed, n = shard
    rng = random.Random(seed)
    logs = []
    for i in range(n):
        tid = f"S{seed}-T{i:04d}"
        at = NOW - timedelta(seconds=rng.randrange(int(2.5 * WINDOW.total_seconds())))
        data = {
            "subject": f"subject {i}",
            "tier": rng.choice(["gold", "silver", None]),
            "tags": rng.sample(["billing", "export", "login", "area:api", "area:web"], 2),
        }
        log = [TicketEvent("created", ticket_id=tid, at=at, data=data)]
        if (seed, i) >= (0, 10) and rng.random() < 0.4:
            problem = {"problem": f"S0-T{rng.randrange(10):04d}"}
            log.append(TicketEvent("linked_to_problem", ticket_id=tid, at=at, data=problem))
        if rng.random() < 0.3:
            at += timedelta(hours=rng.randrange(1, 100))
            data = {"level": "engineering"}
            log.append(TicketEvent("escalated", ticket_id=tid, at=at, data=data))
        if rng.random() < 0.5:
            at += timedelta(hours=rng.randrange(1, 300))
            log.append(TicketEvent("status_changed", ticket_id=tid, at=at, data={"to": "solved"}))
        logs.append(log)
    return logs


def main() -> Feedback:
    from distributed import Client, LocalCluster

    shards = [(seed, 2_000) for seed in range(8)]
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster),
    ):
        report = dask_feedback(shards, shard_logs).result()
    events = [e for shard in shards for log in shard_logs(shard) for e in log]
    assert report == feedback(events, now=NOW, window=WINDOW, weights=WEIGHTS)  # one pass
    for row in report.top_problems[:3]:
        print(row["problem"], row["incidents"], row["volume"], row["trend"], row["weight"])
    print(report.escalations, report.fix_seconds)
    return report


if __name__ == "__main__":
    main()
