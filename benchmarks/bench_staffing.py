"""Coverage, staffing and what-if speed (issue 24), each beside its baseline in the same run.

* Erlang C staffing: ``agents_needed`` for 10,000 intervals whose answers are about 1,000
  agents (arrival rates of 2.5 to 3.5 contacts/s at a 300 s handling time, 80 % within 20 s),
  per interval in pure Python and in one vectorised numpy pass (``agents_needed_many``).
  Target: at most 1 s.
* Coverage map: 100 groups in six zones, weekday hours of different lengths, over a year.
  Target: at most 1 s.
* What-if: 100,000 tickets (1,100,000 events, bench_sla's tickets with the policy applied at
  creation) replayed under the recorded and a proposed configuration by ``WhatIfTally``,
  against the baseline of evaluating the same logs directly with ``evaluate_sla`` under each of
  the two configurations. Target: at least 0.8x the baseline's rate.

Times are CPU seconds of this process (``time.process_time``), best of the repeats, so other
work on the shared machine counts less. Where the time goes: what-if pays the two SLA replays
(the same engine as the baseline) plus the counting of judged cycles per grouping, which is
the whole of its overhead.

    python benchmarks/bench_staffing.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_sla import START, best, make_calendar, make_policy, make_tickets
from figures import add_options, finish, load_line

from supportkit import (
    BusinessCalendar,
    SlaConfig,
    SlaPolicy,
    SlaTarget,
    TicketEvent,
    WhatIfTally,
    coverage,
    evaluate_sla,
    staffing,
)

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Asia/Tokyo",
         "America/Los_Angeles"]  # fmt: skip


def bench_erlang(intervals: int) -> dict[str, float]:
    rng = random.Random(1)
    rates = [rng.uniform(2.5, 3.5) for _ in range(intervals)]
    sec_scalar, scalar = best(lambda: [staffing.agents_needed(r, 300, 0.8, 20) for r in rates], 1)
    sec_vector, vector = best(lambda: staffing.agents_needed_many(rates, 300, 0.8, 20), 3)
    assert scalar == vector
    print(f"Erlang C, {intervals:,} intervals of ~{sum(vector) // len(vector):,} agents:")
    print(f"  per interval (pure Python)   {sec_scalar:8.3f} s")
    print(f"  agents_needed_many (numpy)   {sec_vector:8.3f} s   (target <= 1 s)")
    return {"erlang_scalar_s": sec_scalar, "erlang_many_s": sec_vector}


def bench_coverage(groups: int) -> dict[str, float]:
    rng = random.Random(1)
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    cals = {
        f"g{i}": BusinessCalendar(
            rng.choice(ZONES),
            {d: [f"{rng.randint(0, 12):02d}:00-{rng.randint(13, 23):02d}:00"] for d in weekdays},
        )
        for i in range(groups)
    }
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    # Fresh calendars each run would measure their cache warm-up too; the map is the subject.
    sec, cover = best(lambda: coverage(cals, start, end), 3)
    print(f"Coverage map, {groups} groups over a year: {len(cover.spans):,} spans, "
          f"{len(cover.gaps)} gaps")  # fmt: skip
    print(f"  coverage()                   {sec:8.3f} s   (target <= 1 s)")
    return {"coverage_s": sec}


def bench_whatif(n: int) -> dict[str, float]:
    policy = make_policy()
    calendar = make_calendar()
    logs = []
    for log in make_tickets(n):
        created = log[0]
        applied = TicketEvent(
            "sla_policy_applied", ticket_id=created.ticket_id, at=created.at,
            data={"policy": policy.name, "version": policy.version},
        )  # fmt: skip
        logs.append([created, applied, *log[1:]])
    events = sum(len(log) for log in logs)
    raw = policy.to_dict()
    for targets in raw["targets"].values():
        first = SlaTarget.from_dict(targets["first_reply"])
        targets["first_reply"] = {"seconds": first.seconds // 2, "business": first.business}
    proposed = SlaPolicy.from_dict(raw)
    actual_config = SlaConfig([policy], {"default": calendar})
    proposed_config = SlaConfig([proposed], {"default": calendar})
    at = START + timedelta(days=400)

    def direct() -> int:
        judged = 0
        for p in (policy, proposed):
            for log in logs:
                for cycles in evaluate_sla(log, p, at=at, calendar=calendar).values():
                    judged += sum(c.status.value in ("met", "breached") for c in cycles)
        return judged

    def replay() -> WhatIfTally:
        return WhatIfTally(actual_config, proposed_config, START, at).update(logs)

    sec_direct, judged = best(direct, 2)
    sec_whatif, tally = best(replay, 2)
    counted = sum(n for key, n in tally.counts.items() if key[1] == "all")
    assert counted == judged, (counted, judged)
    rate_direct, rate_whatif = 2 * events / sec_direct, 2 * events / sec_whatif
    print(f"What-if, {n:,} tickets ({events:,} events) under two configurations:")
    print(f"  evaluate_sla under each      {rate_direct:12,.0f} events/s")
    print(f"  WhatIfTally                  {rate_whatif:12,.0f} events/s   "
          f"{rate_whatif / rate_direct:.2f}x (target >= 0.8x)")  # fmt: skip
    return {
        "whatif_events_per_s": rate_whatif,
        "whatif_direct_events_per_s": rate_direct,
        "whatif_ratio": rate_whatif / rate_direct,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "a tenth of the sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(load_line())
    figures = {
        **bench_erlang(10_000 // scale),
        **bench_coverage(100 // scale),
        **bench_whatif(100_000 // scale),
    }
    finish(args, figures)


if __name__ == "__main__":
    main()
