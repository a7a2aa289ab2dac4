"""Business-time deadlines and elapsed time: supportkit against its peers, in one run.

The same deadlines (Mon-Fri 09:00-17:00 America/New_York with US holidays, starts spread over
2025-2026 at any time of day, durations 1 minute to 40 hours, aware datetimes in and out) are
computed with supportkit, businesstimedelta, pandas' CustomBusinessHour and workclock (scalar
and batch). Answers are checked against supportkit where the conventions match:

* workclock and businesstimedelta: same conventions (a result on a period end stays there;
  their whole-date holidays equal ours for a day schedule) → the instants must be equal.
* pandas: whole business hours only, so it gets the durations rounded up to hours, and it
  reports a result on a period end as the next period start → the two answers must have no
  business time between them.

Targets (issue 4): ≤ 2 µs per deadline; ≥ 100x businesstimedelta; ≥ 3x workclock's scalar API;
numpy batch ≥ 5x workclock's batch API. The same for elapsed time (pandas has no elapsed). Each
target gets a met/MISSED verdict at the end. Every figure is the best of several repeats, in
CPU seconds of this process (``time.process_time``: the machine may be shared), printed with the
load average.

Where a scalar deadline's time goes (issue 23; 5,000 of these deadlines, CPU time, load about
12 on 2 cores, 1.72 µs in all): the aware start to epoch seconds (``_epoch``: one ``toordinal``
and a cached UTC offset per local date) 0.33 µs, ``add_seconds`` (a block lookup, a bisection
within the start's day, a bisection of the prefix sums) 0.57 µs, the result back to an aware
datetime in the calendar's zone (``datetime.fromtimestamp``, C) 0.35 µs, and the three calls
and the duration's conversion the rest. The conversions at both ends are C calls that cost as
much for UTC as for a ``ZoneInfo``; folding the three steps into one function would save about
a tenth, not the 40 % that 1.0 µs asks, so the code is unchanged (issue 23's target is missed
on this machine; workclock measured in the same run is 4.2-4.6x slower).

Re-measured in a later session (load 4-6, in-process, best of 30 interleaved rounds of 20,000
deadlines): 1.65 µs as is; the fast paths of ``_epoch`` and ``add_seconds`` and
``datetime.fromtimestamp`` written out in ``add`` itself 1.51 µs (-8.5 %); only calling
``datetime.fromtimestamp`` directly 1.58 µs (-3 %); the unchanged module compiled with mypyc (an
experiment; the design keeps the library pure Python) 1.23 µs. Neither written-out variant buys
enough to pay for the duplicated rules, so the code stays as it is. What 1.0 µs would leave:
making an aware datetime (``fromtimestamp``, 0.31 µs here; ``base + timedelta`` costs the same)
and reading one (0.3 µs) are about 0.6 µs of the 1.65, leaving 0.4 µs for the lookup, the two
bisections and the calls, which cost 0.9 µs; 5x workclock (6.4 µs in the same run) asks 1.3 µs.
The numpy batch path is unchanged (0.17 µs per deadline, 8.7x workclock's).

The run also times the API edge alone, in turns with the rest (``edge_only``,
``deadline_edge_us``): read each aware start the cheapest way we know (the calendar's own
way, with every date's UTC shift looked up beforehand), add the seconds with no business
rules, make the aware result with ``datetime.fromtimestamp``. Any scalar deadline with aware
datetimes in and out pays at least that, so where it is above 1.0 µs, issue 23's target
cannot be met in pure Python on that machine. On the slower machine of 2026-12-07 (load 1.5,
20,000 deadlines, CPU time, best of 7): the edge 2.20 µs (reading the start's fields 0.54,
``fromtimestamp`` 0.98), ``datetime.fromtimestamp(start.timestamp() + seconds, zone)`` 3.04,
supportkit's ``add`` 4.50; with ``--quick``'s 2,000 (the inputs stay in the caches) the edge
1.28 µs and ``add`` 4.81.

    python benchmarks/bench_calendar.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import businesstimedelta
import numpy as np
import pandas as pd
import pytz
import workclock
from figures import add_options, finish, load_line

from supportkit import BusinessCalendar

ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
HOLIDAYS = [
    date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 5, 26),
    date(2025, 6, 19), date(2025, 7, 4), date(2025, 9, 1), date(2025, 10, 13),
    date(2025, 11, 11), date(2025, 11, 27), date(2025, 12, 25),
    date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25),
    date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7), date(2026, 10, 12),
    date(2026, 11, 11), date(2026, 11, 26), date(2026, 12, 25),
]  # fmt: skip


def make_calendar() -> BusinessCalendar:
    return BusinessCalendar(ZONE, {day: ["09:00-17:00"] for day in WEEKDAYS}, holidays=HOLIDAYS)


def make_inputs(n: int) -> tuple[list[datetime], list[timedelta], list[datetime]]:
    """Starts (any time of day, New York), durations 1 min-40 h, and ends 0-10 days later."""
    rng = random.Random(4)
    t0 = datetime(2025, 1, 1, tzinfo=NY).timestamp()
    starts = [datetime.fromtimestamp(t0 + rng.randrange(0, 700 * 86400), NY) for _ in range(n)]
    durations = [timedelta(minutes=rng.randint(1, 40 * 60)) for _ in range(n)]
    ends = [s + timedelta(seconds=rng.randrange(0, 10 * 86400)) for s in starts]
    return starts, durations, ends


def epoch_of(value: datetime) -> int:
    """Epoch seconds of an aware datetime (set-up only, not timed)."""
    return int(value.timestamp())


def edge_only(pairs: list[tuple[datetime, timedelta]], shifts: dict[int, int]) -> list[datetime]:
    """The API edge of a scalar deadline and nothing else: read each aware start (its date's
    UTC shift looked up in *shifts*, filled beforehand), add the duration's seconds with no
    business rules, make the aware result in the zone. The cheapest way we know to do both
    conversions in Python, so no scalar deadline with aware datetimes in and out can cost
    less. (On a transition day the date's one shift can be an hour off: timing only.)"""
    make, shift = datetime.fromtimestamp, shifts.__getitem__
    return [
        make(
            (day := s.toordinal()) * 86400 + s.hour * 3600 + s.minute * 60 + s.second
            - shift(day) + d.days * 86400 + d.seconds,
            NY,
        )
        for s, d in pairs
    ]  # fmt: skip


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU time of *repeat* runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.process_time()
        result = fn()
        times.append(time.process_time() - t)
    return min(times), result


def best_cold(run: Callable[[BusinessCalendar], Any], repeat: int) -> float:
    """Best CPU time of *run* over *repeat* fresh calendars (built outside the timing)."""
    times = []
    for _ in range(repeat):
        fresh = make_calendar()
        t = time.process_time()
        run(fresh)
        times.append(time.process_time() - t)
    return min(times)


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, Any]]:
    """Best time of each function over *repeat* rounds that run them in turn.

    Taking turns keeps the ratios fair on a shared machine whose load changes during the run.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.process_time()
            results[name] = fn()
            times[name].append(time.process_time() - t)
    return {name: (min(times[name]), results[name]) for name in fns}


def same_instant(a: Any, b: Any) -> bool:
    return int(a.timestamp()) == int(b.timestamp())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "2,000 deadlines, slow peers on 500")
    args = parser.parse_args()
    print(load_line())
    n = 2_000 if args.quick else 20_000
    slow_n = 500 if args.quick else n  # businesstimedelta and pandas
    repeat = 3 if args.quick else 7
    slow_repeat = 2 if args.quick else 3  # businesstimedelta and pandas take seconds per pass
    starts, durations, ends = make_inputs(n)
    rows: list[tuple[str, str, float, int, str]] = []  # (op, name, µs, n, agreement)

    # ---- supportkit and workclock, scalar and batch, timed in turns. A long-lived calendar
    # (its cache warm) is the normal case; a first pass on a fresh calendar, which fills the
    # cache, is reported beside it.
    cal = make_calendar()
    wc = workclock.Schedule(
        [workclock.WorkDay(clock(9), clock(17), days=range(5)), workclock.Holidays(HOLIDAYS)],
        time_zone=ZONE,
    )
    s64 = np.array([int(s.timestamp()) for s in starts], "datetime64[s]")
    d64 = np.array([int(d.total_seconds()) for d in durations], "timedelta64[s]")
    e64 = np.array([int(e.timestamp()) for e in ends], "datetime64[s]")
    pairs, spans = list(zip(starts, durations, strict=True)), list(zip(starts, ends, strict=True))
    shifts = {s.toordinal(): s.toordinal() * 86400 - epoch_of(s) for s in starts}
    fast = interleaved(
        {
            "sk add": lambda: [cal.add(s, d) for s, d in pairs],
            "edge": lambda: edge_only(pairs, shifts),
            "wc add": lambda: [wc.add(s, d) for s, d in pairs],
            "sk elapsed": lambda: [cal.elapsed(a, b) for a, b in spans],
            "wc elapsed": lambda: [wc.between(a, b) for a, b in spans],
            "sk add batch": lambda: cal.add_many(s64, d64),
            "wc add batch": lambda: wc.add_many(s64, d64),
            "sk elapsed batch": lambda: cal.elapsed_many(s64, e64),
            "wc elapsed batch": lambda: wc.between_many(s64, e64),
        },
        repeat,
    )
    sec, ours = fast["sk add"]
    rows.append(("add", "supportkit", sec / n * 1e6, n, "reference"))
    sec = best_cold(lambda fresh: [fresh.add(s, d) for s, d in pairs], repeat)
    rows.append(("add", "supportkit, cold cache", sec / n * 1e6, n, "first pass, fresh calendar"))
    sec, _ = fast["edge"]
    rows.append(("add", "API edge only (no rules)", sec / n * 1e6, n, "read start, make result"))
    sec, theirs = fast["wc add"]
    agree = sum(map(same_instant, ours, theirs))
    rows.append(("add", "workclock", sec / n * 1e6, n, f"{agree}/{n} equal"))
    sec, ours_el = fast["sk elapsed"]
    rows.append(("elapsed", "supportkit", sec / n * 1e6, n, "reference"))
    sec = best_cold(lambda fresh: [fresh.elapsed(a, b) for a, b in spans], repeat)
    rows.append(
        ("elapsed", "supportkit, cold cache", sec / n * 1e6, n, "first pass, fresh calendar")
    )
    sec, theirs = fast["wc elapsed"]
    agree = sum(x == y for x, y in zip(ours_el, theirs, strict=True))
    rows.append(("elapsed", "workclock", sec / n * 1e6, n, f"{agree}/{n} equal"))

    # ---- businesstimedelta (pytz zone).
    tz = pytz.timezone(ZONE)
    rules = businesstimedelta.Rules(
        [
            businesstimedelta.WorkDayRule(
                start_time=clock(9), end_time=clock(17), working_days=list(range(5)), tz=tz
            ),
            businesstimedelta.HolidayRule(HOLIDAYS, tz=tz),
        ]
    )
    deltas = [businesstimedelta.BusinessTimeDelta(rules, timedelta=d) for d in durations[:slow_n]]
    sec, theirs = best(lambda: [s + d for s, d in zip(starts, deltas, strict=False)], slow_repeat)
    agree = sum(map(same_instant, ours, theirs))
    rows.append(("add", "businesstimedelta", sec / slow_n * 1e6, slow_n, f"{agree}/{slow_n} equal"))
    sec, theirs = best(
        lambda: [rules.difference(a, b) for a, b in zip(starts[:slow_n], ends, strict=False)],
        slow_repeat,
    )
    agree = sum(x == y.timedelta for x, y in zip(ours_el, theirs, strict=False))
    rows.append(
        ("elapsed", "businesstimedelta", sec / slow_n * 1e6, slow_n, f"{agree}/{slow_n} equal")
    )

    # ---- pandas CustomBusinessHour: whole hours only, wall-clock arithmetic.
    hours = [math.ceil(d.total_seconds() / 3600) for d in durations[:slow_n]]
    offsets = {h: pd.offsets.CustomBusinessHour(n=h, start="09:00", end="17:00",
                                                holidays=HOLIDAYS) for h in set(hours)}  # fmt: skip
    stamps = [pd.Timestamp(s) for s in starts[:slow_n]]
    sec, theirs = best(
        lambda: [t + offsets[h] for t, h in zip(stamps, hours, strict=True)], slow_repeat
    )
    rounded = [cal.add(s, timedelta(hours=h)) for s, h in zip(starts, hours, strict=False)]
    agree = sum(
        cal.elapsed(x, y.to_pydatetime()) == timedelta(0)
        for x, y in zip(rounded, theirs, strict=True)
    )
    rows.append(
        ("add", "pandas CustomBusinessHour", sec / slow_n * 1e6, slow_n,
         f"{agree}/{slow_n} same position (hours rounded up)")
    )  # fmt: skip

    # ---- batch: supportkit numpy against workclock's numpy API (timed above).
    sec, ours_b = fast["sk add batch"]
    rows.append(("add batch", "supportkit numpy", sec / n * 1e6, n, "reference"))
    scalar_ok = sum(
        int(x) == int(y.timestamp()) for x, y in zip(ours_b.astype(np.int64), ours, strict=True)
    )
    sec, theirs = fast["wc add batch"]
    agree = int((theirs.astype("datetime64[s]") == ours_b).sum())
    rows.append(("add batch", "workclock add_many", sec / n * 1e6, n, f"{agree}/{n} equal"))
    sec, ours_eb = fast["sk elapsed batch"]
    rows.append(("elapsed batch", "supportkit numpy", sec / n * 1e6, n, "reference"))
    sec, theirs = fast["wc elapsed batch"]
    agree = int((theirs.astype("timedelta64[s]").astype(np.int64) == ours_eb).sum())
    rows.append(("elapsed batch", "workclock between_many", sec / n * 1e6, n, f"{agree}/{n} equal"))

    print(f"{n:,} deadlines, Mon-Fri 09:00-17:00 {ZONE}, {len(HOLIDAYS)} holidays")
    print(f"supportkit numpy batch equals the scalar path on {scalar_ok}/{n}\n")
    print(f"{'operation':<14} {'library':<27} {'µs/op':>9} {'ratio':>9} {'n':>7}  agreement")
    reference: dict[str, float] = {}
    for op, name, us, count, agreement in rows:
        reference.setdefault(op, us)
        ratio = us / reference[op]
        print(f"{op:<14} {name:<27} {us:9.2f} {ratio:8.1f}x {count:7,}  {agreement}")
    print("\nratio = peer time / supportkit time (higher: supportkit is faster)")
    us = {(op, name): us for op, name, us, _, _ in rows}
    print_verdicts(us)
    finish(
        args,
        {
            "deadline_us": us["add", "supportkit"],
            "deadline_cold_us": us["add", "supportkit, cold cache"],
            "deadline_edge_us": us["add", "API edge only (no rules)"],
            "deadline_workclock_us": us["add", "workclock"],
            "elapsed_us": us["elapsed", "supportkit"],
            "elapsed_workclock_us": us["elapsed", "workclock"],
            "deadline_batch_us": us["add batch", "supportkit numpy"],
            "elapsed_batch_us": us["elapsed batch", "supportkit numpy"],
        },
    )


def print_verdicts(us: dict[tuple[str, str], float]) -> None:
    """One met/MISSED line per issue-4 target, for add and for elapsed."""
    checks: list[tuple[str, float, str, float]] = []  # (what, measured, unit, target)
    for op, batch_peer in (("add", "workclock add_many"), ("elapsed", "workclock between_many")):
        ours, batch = us[op, "supportkit"], us[f"{op} batch", "supportkit numpy"]
        checks += [
            (f"{op}: supportkit per deadline", ours, "µs", 2),
            (f"{op}: ratio to businesstimedelta", us[op, "businesstimedelta"] / ours, "x", 100),
            (f"{op}: ratio to workclock scalar", us[op, "workclock"] / ours, "x", 3),
            (f"{op} batch: ratio to {batch_peer}", us[f"{op} batch", batch_peer] / batch, "x", 5),
        ]
    ours, wc_us = us["add", "supportkit"], us["add", "workclock"]
    checks += [
        ("issue 23: supportkit per deadline", ours, "µs", 1),
        ("issue 23: ratio to workclock scalar (add)", wc_us / ours, "x", 5),
    ]
    print("\ntargets (issue 4; issue 23 for the last two)")
    met = 0
    for what, value, unit, target in checks:
        ok = value <= target if unit == "µs" else value >= target  # time: at most; ratio: at least
        met += ok
        bound = f"{'≤' if unit == 'µs' else '≥'} {target:g}{unit}"
        print(f"  {what:<46} {value:8.2f}{unit:<2}  target {bound:<7} {'met' if ok else 'MISSED'}")
    print(f"{met}/{len(checks)} targets met")
    edge = us["add", "API edge only (no rules)"]
    print(
        f"the API edge alone (read the aware start, make the aware result, no business rules) "
        f"takes {edge:.2f} µs here: issue 23's 1.0 µs is {'below' if edge > 1 else 'above'} it"
    )


if __name__ == "__main__":
    main()
