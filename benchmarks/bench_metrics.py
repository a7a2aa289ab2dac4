"""Benchmark: the full grouped metrics report over 1,000,000 generated tickets.

Three paths compute the same report in one run:

- streaming: ``MetricsAggregator.update`` over ``TicketFacts`` objects, in chunks (memory stays
  flat: the aggregator's state depends on the groups, not on the number of tickets);
- vectorised: ``MetricsAggregator.update_columns`` over numpy columns;
- pandas: an equivalent ``groupby`` (counts, means, 'lower' quantiles, rates) per grouping.

Prints rows/s, CPU-seconds (the machine may be shared, so wall and CPU time are both shown),
peak traced memory, and the single-grouping streaming rate beside the full multi-grouping rate.
``--quick`` runs 100,000 tickets.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from supportkit import MetricsAggregator, TicketFacts

TZ = "Europe/Berlin"
GROUPINGS: list[Any] = [
    "all",
    "tier",
    "channel",
    "priority",
    "group",
    "agent",
    "day",
    ("tier", "week"),
]
START = 1_735_689_600  # 2025-01-01
SPAN = 365 * 86400
DURATIONS = (
    "first_reply",
    "first_reply_business",
    "full_resolution",
    "full_resolution_business",
    "requester_wait",
    "requester_wait_business",
)
DIMS = {
    "tier": ["free", "pro", "business", "enterprise"],
    "channel": ["email", "chat", "web", "phone", "api"],
    "priority": ["low", "normal", "high", "urgent"],
    "group": ["l1", "l2", "l3", "billing", "engineering", None],
    "agent": [f"agent{i:03d}" for i in range(200)] + [None],
}
STATUSES = ["new", "open", "pending", "on_hold"]


def generate(n: int, seed: int = 2025) -> dict[str, Any]:
    """Columns for *n* tickets: replies, statuses, tiers, channels, CSAT, escalations, SLA."""
    rng = np.random.default_rng(seed)
    created = START + rng.integers(0, SPAN, n)
    as_of = START + SPAN + 86400
    solved = rng.random(n) < 0.75
    cols: dict[str, Any] = {"created_at": created}
    for dim, names in DIMS.items():
        cols[f"{dim}.codes"] = rng.integers(0, len(names), n)
        cols[f"{dim}.categories"] = names
    replied = rng.random(n) < 0.93
    first = np.where(replied, rng.lognormal(8, 1.3, n).astype(np.int64), -1)
    cols["first_reply"] = first
    cols["first_reply_business"] = np.where(
        replied, (first * rng.uniform(0.2, 1, n)).astype(np.int64), -1
    )
    resolution = rng.lognormal(11, 1.2, n).astype(np.int64)
    cols["solved_at"] = np.where(solved, created + resolution, -1)
    cols["full_resolution"] = np.where(solved, resolution, -1)
    cols["full_resolution_business"] = np.where(solved, (resolution * 0.3).astype(np.int64), -1)
    cols["requester_wait"] = np.where(solved, (resolution * 0.7).astype(np.int64), -1)
    cols["requester_wait_business"] = np.where(solved, (resolution * 0.2).astype(np.int64), -1)
    cols["backlog_age"] = np.where(solved, -1, as_of - created)
    cols["status"] = np.where(solved, -1, rng.integers(0, len(STATUSES), n))
    cols["agent_replies"] = rng.integers(0, 5, n)
    cols["reopens"] = (rng.random(n) < 0.08).astype(np.int64)
    cols["ever_solved"] = solved | (cols["reopens"] > 0)
    cols["csat"] = rng.choice([-1, -1, 1, 1, 1, 0], n)
    cols["nps"] = np.where(rng.random(n) < 0.2, rng.integers(0, 11, n), -1)
    cols["ces"] = np.where(rng.random(n) < 0.1, rng.integers(1, 8, n), -1)
    counts = rng.integers(0, 3, n)  # next-reply cycles per ticket
    rows = np.repeat(np.arange(n), counts)
    cols["next_reply.row"] = cols["next_reply_business.row"] = rows
    cols["next_reply.seconds"] = rng.lognormal(8.5, 1.1, len(rows)).astype(np.int64)
    cols["next_reply_business.seconds"] = (cols["next_reply.seconds"] * 0.5).astype(np.int64)
    esc = np.nonzero(rng.random(n) < 0.1)[0]
    cols["escalations.row"] = esc
    cols["escalations.codes"] = rng.integers(0, 3, len(esc))
    cols["escalations.categories"] = ["L2", "L3", "engineering"]
    cols["sla.row"] = np.arange(n)
    cols["sla.codes"] = np.zeros(n, dtype=np.int64)
    cols["sla.categories"] = ["first_reply"]
    cols["sla.met"] = (first >= 0) & (first <= 3 * 3600)
    cols["sla.breached"] = (first > 3 * 3600).astype(np.int64)
    cols["_as_of"] = as_of
    return cols


def facts_chunks(cols: dict[str, Any], size: int) -> Iterator[list[TicketFacts]]:
    """The same tickets as TicketFacts objects, one chunk at a time."""
    n = len(cols["created_at"])
    next_start = np.searchsorted(cols["next_reply.row"], np.arange(n + 1))
    esc_of = dict(
        zip(cols["escalations.row"].tolist(), cols["escalations.codes"].tolist(), strict=True)
    )
    for lo in range(0, n, size):
        hi = min(n, lo + size)
        c = {
            k: v[lo:hi].tolist()
            for k, v in cols.items()
            if isinstance(v, np.ndarray) and len(v) == n
        }
        nrt = cols["next_reply.seconds"][next_start[lo] : next_start[hi]].tolist()
        nrt_b = cols["next_reply_business.seconds"][next_start[lo] : next_start[hi]].tolist()
        offsets = (next_start[lo : hi + 1] - next_start[lo]).tolist()
        chunk = []
        for j in range(hi - lo):
            i = lo + j
            solved = c["solved_at"][j] >= 0

            def opt(name: str, j: int = j, c: dict[str, Any] = c) -> int | None:
                value: int = c[name][j]
                return None if value < 0 else value

            level = esc_of.get(i)
            chunk.append(
                TicketFacts(
                    ticket_id=str(i),
                    created_at=c["created_at"][j],
                    as_of=cols["_as_of"],
                    status="solved" if solved else STATUSES[c["status"][j]],
                    tier=DIMS["tier"][c["tier.codes"][j]],
                    channel=DIMS["channel"][c["channel.codes"][j]],  # type: ignore[arg-type]
                    priority=DIMS["priority"][c["priority.codes"][j]],  # type: ignore[arg-type]
                    group=DIMS["group"][c["group.codes"][j]],
                    agent=DIMS["agent"][c["agent.codes"][j]],
                    solved_at=opt("solved_at"),
                    first_reply=opt("first_reply"),
                    first_reply_business=opt("first_reply_business"),
                    next_reply=nrt[offsets[j] : offsets[j + 1]],
                    next_reply_business=nrt_b[offsets[j] : offsets[j + 1]],
                    full_resolution=opt("full_resolution"),
                    full_resolution_business=opt("full_resolution_business"),
                    requester_wait=opt("requester_wait"),
                    requester_wait_business=opt("requester_wait_business"),
                    agent_replies=c["agent_replies"][j],
                    reopens=c["reopens"][j],
                    ever_solved=c["ever_solved"][j],
                    escalations=() if level is None else (cols["escalations.categories"][level],),
                    csat={1: "good", 0: "bad"}.get(c["csat"][j]),
                    nps=opt("nps"),
                    ces=opt("ces"),
                    sla=[("first_reply", int(c["sla.met"][j]), c["sla.breached"][j])],
                )
            )
        yield chunk


def pandas_report(cols: dict[str, Any]) -> dict[str, Any]:
    """The same grouped figures with pandas groupby (categorical dimensions, 'lower' quantiles)."""
    n = len(cols["created_at"])
    frame = pd.DataFrame(
        {
            name: cols[name]
            for name in (
                *DURATIONS,
                "backlog_age",
                "agent_replies",
                "reopens",
                "csat",
                "nps",
                "ces",
                "solved_at",
                "created_at",
            )
        }
    )
    frame = frame.replace(-1, np.nan)  # "none" for every optional figure
    for dim, names in DIMS.items():
        frame[dim] = pd.Categorical.from_codes(cols[f"{dim}.codes"], [x or "-" for x in names])
    local = pd.to_datetime(cols["created_at"], unit="s", utc=True).tz_convert(TZ)
    frame["day"] = local.tz_localize(None).floor("D")
    iso = local.isocalendar()
    frame["week"] = iso.year.to_numpy() * 100 + iso.week.to_numpy()
    frame["escalated"] = np.isin(np.arange(n), cols["escalations.row"])
    frame["good"] = frame["csat"] == 1
    frame["rated"] = frame["csat"].notna()
    frame["promoter"] = frame["nps"] >= 9
    frame["detractor"] = frame["nps"] <= 6
    frame["backlog"] = frame["backlog_age"].notna()
    solved = frame[frame["solved_at"].notna()].copy()
    solved_local = pd.to_datetime(
        solved["solved_at"].astype(np.int64), unit="s", utc=True
    ).dt.tz_convert(TZ)
    solved["day"] = solved_local.dt.tz_localize(None).dt.floor("D")
    iso = solved_local.dt.isocalendar()
    solved["week"] = iso.year.to_numpy() * 100 + iso.week.to_numpy()
    solved["one_touch"] = solved["agent_replies"] == 1
    solved["fcr"] = (solved["agent_replies"] <= 1) & (solved["reopens"] == 0) & ~solved["escalated"]
    nrt = pd.DataFrame(
        {
            "next_reply": cols["next_reply.seconds"],
            "next_reply_business": cols["next_reply_business.seconds"],
        }
    )
    out = {}
    for grouping in GROUPINGS:
        keys = (
            [] if grouping == "all" else [grouping] if isinstance(grouping, str) else list(grouping)
        )
        keys = keys or [np.zeros(n, dtype=np.int8)]
        skeys = [k if isinstance(k, str) else np.zeros(len(solved), dtype=np.int8) for k in keys]
        created = frame.groupby(keys, observed=True, sort=False)
        done = solved.groupby(skeys, observed=True, sort=False)
        dur = ["first_reply", "first_reply_business", "backlog_age"]
        sdur = [
            "full_resolution",
            "full_resolution_business",
            "requester_wait",
            "requester_wait_business",
        ]
        nrt_keys = [
            frame[k].to_numpy()[cols["next_reply.row"]]
            if isinstance(k, str)
            else np.zeros(len(nrt), dtype=np.int8)
            for k in keys
        ]
        nrt_group = nrt.groupby(nrt_keys, sort=False)
        out[str(grouping)] = (
            created.agg(
                incoming=("csat", "size"),
                backlog=("backlog", "sum"),
                escalated=("escalated", "sum"),
                good=("good", "sum"),
                rated=("rated", "sum"),
                promoters=("promoter", "sum"),
                detractors=("detractor", "sum"),
                ces=("ces", "mean"),
            ),
            created[dur].mean(),
            created[dur].quantile([0.5, 0.9, 0.95], interpolation="lower"),
            nrt_group.mean(),
            nrt_group.quantile([0.5, 0.9, 0.95], interpolation="lower"),
            done.agg(
                solved=("one_touch", "size"), one_touch=("one_touch", "mean"), fcr=("fcr", "mean")
            ),
            done[sdur].mean(),
            done[sdur].quantile([0.5, 0.9, 0.95], interpolation="lower"),
        )
    return out


def state_mb(agg: MetricsAggregator) -> float:
    """Size of an aggregator's state in MB (containers and the ints they hold)."""
    seen: set[int] = set()

    def size(obj: Any) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        total = sys.getsizeof(obj)
        if isinstance(obj, dict):
            total += sum(size(k) + size(v) for k, v in obj.items())
        elif isinstance(obj, list | tuple | set):
            total += sum(size(v) for v in obj)
        elif hasattr(obj, "__slots__"):
            total += sum(size(getattr(obj, name)) for name in obj.__slots__)
        return total

    return sum(size(g.groups) for g in agg._groupings) / 1e6


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def peak(fn: Callable[[], Any]) -> float:
    """Peak traced memory of *fn* in MB."""
    gc.collect()
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 tickets instead of 1,000,000")
    parser.add_argument("--tickets", type=int, help="number of tickets (overrides --quick)")
    args = parser.parse_args()
    n = args.tickets or (100_000 if args.quick else 1_000_000)
    chunk = 50_000
    cols = generate(n)
    print(f"{n:,} tickets, groupings {GROUPINGS} (zone {TZ}), chunks of {chunk:,} facts")

    # Each streaming run builds the facts chunk by chunk and times the aggregation only (fact
    # building is reported apart). The runs are separate passes: interleaving them would let the
    # full report's state push the single grouping's out of the CPU caches.
    times = {name: [0.0, 0.0] for name in ("build", "single", "full", "loop")}
    quarter = max(1, n // 4 // chunk) * chunk
    states: dict[int, float] = {}

    def stream(name: str, groupings: list[Any], vectorise: bool | None) -> MetricsAggregator:
        agg = MetricsAggregator(groupings, tz=TZ)
        chunks, done = facts_chunks(cols, chunk), 0
        while True:
            facts, wall, cpu = measure(lambda: next(chunks, None))
            if facts is None:
                return agg
            if name == "single":
                times["build"][0] += wall
                times["build"][1] += cpu
            _, wall, cpu = measure(
                lambda agg=agg, facts=facts: agg.update(facts, vectorise=vectorise)
            )
            times[name][0] += wall
            times[name][1] += cpu
            del facts
            done += chunk
            if name == "full" and done in (quarter, n):
                states[done] = state_mb(agg)

    stream("single", ["tier"], None)
    full = stream("full", GROUPINGS, None)  # numpy batches (the default with numpy installed)
    streamed = full.report()
    assert streamed == stream("loop", GROUPINGS, False).report(), "loop and batches differ"
    small_state, big_state = states[quarter], states[n]

    vector, v_wall, v_cpu = measure(
        lambda: MetricsAggregator(GROUPINGS, tz=TZ).update_columns(cols)
    )
    _, p_wall, p_cpu = measure(lambda: pandas_report(cols))
    assert streamed == vector.report(), "vectorised and streaming reports differ"

    # Memory: the bulk paths' peaks are traced (numpy reports to tracemalloc); the streaming
    # aggregator's state is sized directly after a quarter and after all of the tickets.
    v_peak = peak(lambda: MetricsAggregator(GROUPINGS, tz=TZ).update_columns(cols))
    p_peak = peak(lambda: pandas_report(cols))

    def line(name: str, wall: float, cpu: float, extra: str) -> None:
        print(f"  {name:<34} {n / wall:>12,.0f} rows/s wall {n / cpu:>12,.0f} rows/s CPU  {extra}")

    print("results")
    line("streaming, one grouping (tier)", *times["single"], "")
    line(
        f"streaming, full ({len(full.groupings)} groupings)",
        *times["full"],
        f"state {small_state:.1f} MB after {quarter:,}, {big_state:.1f} MB after {n:,}",
    )
    line("  the same, per-fact loop only", *times["loop"], "(update(..., vectorise=False))")
    line("vectorised (numpy), full", v_wall, v_cpu, f"peak {v_peak:.0f} MB")
    line("pandas groupby, full", p_wall, p_cpu, f"peak {p_peak:.0f} MB")
    line("building TicketFacts (not in above)", *times["build"], "")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"  process peak RSS {rss:,.0f} MB (includes the generated columns)")
    growth = big_state / small_state if small_state else 0.0
    print("ratios")
    print(
        f"  vectorised / pandas time: {v_wall / p_wall:.2f}x wall, {v_cpu / p_cpu:.2f}x CPU"
        " (target <= 1.5x)"
    )
    print(
        f"  streaming, one grouping: {n / times['single'][1]:,.0f} facts/s CPU (target >= 300,000)"
    )
    print(
        f"  streaming, full / one grouping time: {times['full'][1] / times['single'][1]:.1f}x CPU"
    )
    print(f"  streaming state growth: {growth:.2f}x from {quarter:,} to {n:,} tickets")


if __name__ == "__main__":
    main()
