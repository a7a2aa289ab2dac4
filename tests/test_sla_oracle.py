"""The SLA fold against a brute-force oracle that steps through minutes.

The oracle restates which cycles exist, then does the time accounting the slow, obvious way: a
cycle's clock runs in minute ``m`` if the cycle has started and not stopped and the ticket's
status after minute ``m``'s events runs the metric; elapsed time is the count of such minutes;
the breach is the first running minute at which the target is already used up. Logs have one
event per whole minute (same-instant order is covered by the scenario files) and 24x7 targets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from supportkit import SlaPolicy, TicketEvent, evaluate_sla
from supportkit.testing import ticket

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TARGETS = {
    "first_reply": 45,
    "next_reply": 30,
    "periodic_update": 90,
    "pausable_update": 60,
    "requester_wait": 150,
    "agent_work": 120,
    "total_resolution": 240,
}
POLICY = SlaPolicy.from_dict(
    {
        "name": "oracle",
        "targets": {"normal": {m: {"minutes": n, "business": False} for m, n in TARGETS.items()}},
    }
)
RUNS = {
    "pausable_update": {"new", "open", "on_hold"},
    "requester_wait": {"new", "open", "on_hold"},
    "agent_work": {"new", "open"},
}
UNSOLVED = {"new", "open", "pending", "on_hold"}


def _cycles(events: list[TicketEvent]) -> dict[str, list[list[Any]]]:
    """metric -> [[start_minute, stop_minute | None], ...] by the issue's start/stop rules."""
    minute = {id(e): int((e.at - T0).total_seconds()) // 60 for e in events}
    cycles: dict[str, list[list[Any]]] = {m: [] for m in TARGETS}
    first_done = events[0].by.value == "agent"
    if not first_done:
        cycles["first_reply"].append([0, None])
    for m in ("requester_wait", "agent_work", "total_resolution"):
        cycles[m].append([0, None])
    status, awaiting = "new", False
    for event in events[1:]:
        t = minute[id(event)]
        public = event.kind == "message" and event.data["public"]
        if public and event.by.value == "customer" and status in UNSOLVED:
            if first_done and not awaiting:
                awaiting = True
                cycles["next_reply"].append([t, None])
        elif public and event.by.value == "agent":
            for m in ("first_reply", "next_reply", "periodic_update", "pausable_update"):
                if cycles[m] and cycles[m][-1][1] is None:
                    cycles[m][-1][1] = t
            first_done, awaiting = True, False
            if status in UNSOLVED:
                cycles["periodic_update"].append([t, None])
                cycles["pausable_update"].append([t, None])
        elif event.kind == "status_changed":
            new = event.data["to"].value
            if new == "solved":
                for m in TARGETS:
                    if cycles[m] and cycles[m][-1][1] is None:
                        cycles[m][-1][1] = t
                first_done, awaiting = True, False
            elif status == "solved" and new != "closed":
                for m in ("requester_wait", "agent_work", "total_resolution"):
                    cycles[m][-1][1] = None  # a reopen resumes the one accumulated cycle
            status = new
    return cycles


def _status_at(events: list[TicketEvent], t: int) -> str:
    status = "new"
    for event in events:
        if (event.at - T0).total_seconds() // 60 > t:
            break
        if event.kind == "status_changed":
            status = event.data["to"].value
    return status


def _oracle(events: list[TicketEvent], at: int) -> dict[str, list[dict[str, Any]]]:
    statuses = [_status_at(events, t) for t in range(at + 1)]
    result = {}
    for metric, cycles in _cycles(events).items():
        target = TARGETS[metric]
        runs = RUNS.get(metric, UNSOLVED)
        rows = []
        for start, stop in cycles:
            end = at if stop is None else stop
            running = [start <= t < end and statuses[t] in runs for t in range(at + 1)]
            elapsed, breached, last_resume, used_at_resume = 0, None, None, 0
            for t in range(start, end):
                if running[t]:
                    if t == start or not running[t - 1]:
                        last_resume, used_at_resume = t, elapsed
                    if elapsed >= target and breached is None:
                        breached = t
                    elapsed += 1
            if stop is None:
                ran = statuses[at] in runs
                if ran and (at == start or not running[at - 1]):
                    last_resume, used_at_resume = at, elapsed
            else:
                ran = stop > start and running[stop - 1]
            deadline = last_resume + max(0, target - used_at_resume) if ran else None
            rows.append(
                {
                    "status": "breached"
                    if breached is not None
                    else ("met" if stop is not None else ("active" if ran else "paused")),
                    "running": stop is None and ran,
                    "start": start,
                    "stop": stop,
                    "deadline": deadline,
                    "elapsed_seconds": elapsed * 60,
                    "breached_at": breached,
                }
            )
        result[metric] = rows
    return result


def _minutes(evaluation: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    def minute(value: str | None) -> int | None:
        if value is None:
            return None
        return int((datetime.fromisoformat(value) - T0).total_seconds()) // 60

    return {
        metric: [
            {
                **{k: c[k] for k in ("status", "running", "elapsed_seconds")},
                **{k: minute(c[k]) for k in ("start", "stop", "deadline", "breached_at")},
            }
            for c in cycles
        ]
        for metric, cycles in evaluation.items()
    }


_STEPS = st.lists(
    st.tuples(
        st.integers(1, 90),
        st.sampled_from(
            ["customer", "reply", "note", "open", "pending", "on_hold", "solved", "reopen"]
        ),
    ),
    max_size=18,
)


@given(_STEPS, st.integers(0, 300), st.booleans())
def test_fold_matches_the_minute_oracle(
    steps: list[tuple[int, str]], extra: int, outbound: bool
) -> None:
    """On generated logs the fold's cycles equal the brute-force oracle's."""
    log = ticket().created(T0, by="agent" if outbound else "customer")
    status, t = "new", 0
    for gap, what in steps:
        t += gap
        at = T0 + timedelta(minutes=t)
        if what in ("customer", "reply", "note"):
            {"customer": log.customer, "reply": log.reply, "note": log.note}[what](at)
            continue
        target = "open" if what == "reopen" else what
        if target == status or status == "closed" or (status != "solved" and what == "reopen"):
            continue
        log.status(at, target)
        status = target
    at_minute = t + extra
    evaluation = evaluate_sla(log.events, POLICY, at=T0 + timedelta(minutes=at_minute))
    expected = _oracle(log.events, at_minute)
    assert expected == _minutes(evaluation.to_dict())
