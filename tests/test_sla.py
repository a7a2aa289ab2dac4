"""The SLA engine: scenarios, the CLI, incremental == batch, alerts, policies, metric events."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    BusinessCalendar,
    CalendarError,
    ConfigurationError,
    PolicyError,
    PolicyWarning,
    SlaPolicy,
    SlaStatus,
    SlaTarget,
    SlaTracker,
    Ticket,
    TicketStateError,
    check_policies,
    evaluate_sla,
    select_policy,
    sla_metric_events,
)
from supportkit._cli import main
from supportkit.testing import assert_sla, load_scenario, ticket

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ALL = {
    "first_reply": {"minutes": 60, "business": True},
    "next_reply": {"minutes": 30, "business": True},
    "periodic_update": {"minutes": 120, "business": False},
    "pausable_update": {"minutes": 90, "business": True},
    "requester_wait": {"minutes": 240, "business": True},
    "agent_work": {"minutes": 180, "business": False},
    "total_resolution": {"minutes": 480, "business": True},
}
POLICY = SlaPolicy.from_dict(
    {
        "name": "all",
        "targets": {
            "normal": ALL,
            "urgent": {k: {**v, "minutes": v["minutes"] // 3} for k, v in ALL.items()},
            "low": {"total_resolution": {"hours": 24, "business": False}},
        },
    }
)
CALENDAR = BusinessCalendar.from_dict(
    {
        "tz": "Europe/Berlin",
        "weekly": {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu")}
        | {"fri": ["22:00-02:00"]},
        "holidays": ["2025-03-04"],
    }
)


def test_there_are_enough_scenarios() -> None:
    """The suite ships at least 40 scenario files, each saying what it proves."""
    assert len(SCENARIOS) >= 40
    for path in SCENARIOS:
        assert json.loads(path.read_text())["comment"], path.name


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario(path: Path) -> None:
    """Each scenario's evaluation equals its hand-computed expected result."""
    assert_sla(load_scenario(path))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supportkit._cli", "sla", "evaluate", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("path", SCENARIOS[:3], ids=lambda p: p.stem)
def test_cli_prints_the_scenario_evaluation(path: Path) -> None:
    """``supportkit sla evaluate FILE`` prints the evaluation as JSON (checked with --check)."""
    done = _cli("--check", str(path))
    assert (0, "") == (done.returncode, done.stderr)
    assert load_scenario(path).evaluate().to_dict() == json.loads(done.stdout)


def test_cli_checks_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process, ``supportkit sla evaluate --check`` agrees with every scenario's expected."""
    for path in SCENARIOS:
        assert (path.name, 0) == (path.name, main(["sla", "evaluate", "--check", str(path)]))
    assert "" == capsys.readouterr().err


def test_cli_rejects_a_bad_file(tmp_path: Path) -> None:
    """A malformed scenario exits 1 with a message naming the file and the bad entry."""
    bad = tmp_path / "bad.json"
    raw = json.loads((SCENARIOS[0].parent / "next_reply_cycles.json").read_text())
    raw["events"][1]["kind"] = "mesage"
    bad.write_text(json.dumps(raw))
    done = _cli(str(bad))
    assert 1 == done.returncode
    assert f"{bad}: events[1]: unknown event kind 'mesage'" in done.stderr


def test_cli_rejects_invalid_json(tmp_path: Path) -> None:
    """A file that is not JSON exits 1 saying where the JSON breaks."""
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = _cli(str(bad))
    assert (1, True) == (done.returncode, "not valid JSON" in done.stderr)


def test_cli_check_reports_differences(tmp_path: Path) -> None:
    """With --check, a scenario whose expected answer is wrong exits 1 and shows the diff."""
    path = tmp_path / "wrong.json"
    raw = json.loads((SCENARIOS[0].parent / "first_reply_met.json").read_text())
    raw["expected"]["first_reply"][0]["status"] = "breached"
    path.write_text(json.dumps(raw))
    done = _cli("--check", str(path))
    assert 1 == done.returncode
    assert "first_reply[0].status: expected 'breached', got 'met'" in done.stderr


def test_assert_sla_shows_a_readable_diff() -> None:
    """assert_sla names the metric, cycle and key that differ."""
    evaluation = ticket().created(priority="normal").evaluate(POLICY, at=timedelta(hours=2))
    expected = evaluation.to_dict()
    expected["first_reply"][0]["status"] = "met"
    with pytest.raises(AssertionError) as info:
        assert_sla(evaluation, expected)
    assert "first_reply[0].status: expected 'met', got 'breached'" in str(info.value)


# -- generated logs ------------------------------------------------------------------------

_STEPS = st.lists(
    st.tuples(
        st.integers(0, 6 * 3600),
        st.sampled_from(
            [
                "customer",
                "reply",
                "note",
                "bot",
                "open",
                "pending",
                "on_hold",
                "solved",
                "priority",
                "apply",
                "reopen",
            ]
        ),
        st.sampled_from(["low", "normal", "urgent"]),
    ),
    max_size=25,
)


def _log(steps: list[tuple[int, str, str]]) -> list:  # type: ignore[type-arg]
    """A valid log from generated steps (invalid transitions are skipped)."""
    log = ticket().created(T0, priority="normal")
    status, at = "new", T0
    for gap, what, priority in steps:
        at += timedelta(seconds=gap)
        if what in ("customer", "reply", "note", "bot"):
            if status == "closed":
                continue
            {"customer": log.customer, "reply": log.reply, "note": log.note}.get(
                what, lambda t: log.message(t, by="bot")
            )(at)
        elif what == "priority":
            if status != "closed":
                log.priority(at, priority)
        elif what == "apply":
            if status != "closed":
                log.apply_policy(at, "all")
        else:
            target = "open" if what == "reopen" else what
            if (
                target == status
                or status == "closed"
                or (status == "solved" and target == "solved")
            ):
                continue
            log.status(at, target)
            status = target
    return log.events


@given(_STEPS, st.integers(0, 3 * 86400), st.booleans())
def test_incremental_equals_batch(steps: list[tuple[int, str, str]], extra: int, biz: bool) -> None:
    """Feeding events one at a time and evaluating after each gives the batch result."""
    events = _log(steps)
    calendar = CALENDAR if biz else None
    tracker = SlaTracker(POLICY, calendar)
    for number, event in enumerate(events, 1):
        tracker.apply(event)
        # The batch form reads every event up to `at`; same-instant events may follow this one.
        expected = evaluate_sla(events[:number], POLICY, at=event.at, calendar=calendar).to_dict()
        assert expected == tracker.evaluate(event.at).to_dict()
    at = events[-1].at + timedelta(seconds=extra)
    assert evaluate_sla(events, POLICY, at=at, calendar=calendar).to_dict() == (
        tracker.evaluate(at).to_dict()
    )


@given(_STEPS, st.booleans())
def test_invariants(steps: list[tuple[int, str, str]], biz: bool) -> None:
    """Elapsed never exceeds the span, breaches are permanent and next_reply waits for
    first_reply."""
    events = _log(steps)
    calendar = CALENDAR if biz else None
    at = events[-1].at + timedelta(hours=5)
    earlier = evaluate_sla(events, POLICY, at=events[-1].at, calendar=calendar)
    later = evaluate_sla(events, POLICY, at=at, calendar=calendar)
    for metric, cycles in later.items():
        for cycle in cycles:
            end = cycle.stop or later.at
            assert cycle.elapsed <= end - cycle.start
            assert (cycle.breached_at is not None) == (cycle.status is SlaStatus.BREACHED)
        for before, after in zip(earlier.get(metric, ()), cycles, strict=False):
            if before.status is SlaStatus.BREACHED:
                assert (SlaStatus.BREACHED, before.breached_at) == (after.status, after.breached_at)
    first = later.get("first_reply", ())
    for cycle in later.get("next_reply", ()):
        assert first == () or first[0].stop is not None
        assert first == () or cycle.start >= first[0].stop


@given(_STEPS, st.booleans())
def test_next_due_is_when_the_next_alert_appears(
    steps: list[tuple[int, str, str]], biz: bool
) -> None:
    """At next_due a new alert appears, and none appears a second before it."""
    events = _log(steps)
    calendar = CALENDAR if biz else None
    evaluation = evaluate_sla(events, POLICY, at=events[-1].at, calendar=calendar)
    due = evaluation.next_due
    if due is None:
        return
    before = {a.key for a in evaluation.alerts(due - timedelta(seconds=1))}
    after = {a.key for a in evaluation.alerts(due)}
    assert before == {a.key for a in evaluation.alerts()}
    assert after - before
    later = evaluate_sla(events, POLICY, at=due, calendar=calendar)
    assert after == {a.key for a in later.alerts()}


@given(_STEPS, st.integers(0, 3 * 86400), st.booleans(), st.integers(0, 3))
def test_next_alert_agrees_with_the_evaluation(
    steps: list[tuple[int, str, str]], extra: int, biz: bool, sent: int
) -> None:
    """SlaTracker.next_alert (the desk's due index, in epoch seconds) is the earliest alert due
    by then and not yet sent, else next_due; asking it does not change later evaluations."""
    events = _log(steps)
    calendar = CALENDAR if biz else None
    tracker = SlaTracker(POLICY, calendar)
    for event in events:
        tracker.apply(event)
        tracker.next_alert(event.ts, set())
    at = events[-1].at + timedelta(seconds=extra)
    evaluation = tracker.evaluate(at)
    alerts = evaluation.alerts()
    emitted = {alert.key for alert in alerts[:sent]}
    pending = [alert.at for alert in alerts if alert.key not in emitted]
    expected = min(pending) if pending else evaluation.next_due
    assert (None if expected is None else int(expected.timestamp())) == tracker.next_alert(
        int(at.timestamp()), emitted
    )
    assert evaluate_sla(events, POLICY, at=at, calendar=calendar).to_dict() == (
        evaluation.to_dict()
    )


@given(_STEPS, st.lists(st.integers(0, 4 * 3600), min_size=1, max_size=3), st.booleans())
def test_next_alert_reused_between_events_is_still_right(
    steps: list[tuple[int, str, str]], waits: list[int], biz: bool
) -> None:
    """next_alert asked at later and later instants while events come in (it reuses its answer
    when the cycles did not change) always equals a fresh evaluation's next_due."""
    events = _log(steps)
    calendar = CALENDAR if biz else None
    tracker = SlaTracker(POLICY, calendar)
    for number, event in enumerate(events, 1):
        tracker.apply(event)
        at = event.at
        for wait in waits:
            at += timedelta(seconds=wait)
            fresh = evaluate_sla(events[:number], POLICY, at=at, calendar=calendar).next_due
            assert (None if fresh is None else int(fresh.timestamp())) == tracker.next_alert(
                int(at.timestamp())
            )


@given(
    _STEPS,
    st.integers(0, 3 * 86400),
    st.sampled_from(["next_due", "alerts", "items", "to_dict"]),
)
def test_an_evaluation_reads_the_same_in_any_order(
    steps: list[tuple[int, str, str]], extra: int, first: str
) -> None:
    """Business deadlines are computed when first read: whichever part of an evaluation is read
    first, every part equals a fresh evaluation's."""
    events = _log(steps)
    at = events[-1].at + timedelta(seconds=extra)
    parts = {
        "next_due": lambda e: e.next_due,
        "alerts": lambda e: e.alerts(at + timedelta(days=2)),
        "items": lambda e: dict(e.items()),
        "to_dict": lambda e: e.to_dict(),
    }
    evaluation = evaluate_sla(events, POLICY, at=at, calendar=CALENDAR)
    read = {first: parts[first](evaluation)}
    read |= {name: part(evaluation) for name, part in parts.items() if name != first}
    fresh = evaluate_sla(events, POLICY, at=at, calendar=CALENDAR)
    assert read == {name: part(fresh) for name, part in parts.items()}


def test_a_business_cycle_at_its_target_after_closing_is_breached() -> None:
    """Elapsed equal to the target: at the deadline the cycle is active; after closing (no
    business time counted since) it is breached at the deadline."""
    policy = SlaPolicy("p", {"normal": {"first_reply": SlaTarget(3600, business=True)}})
    log = ticket().created(T0 + timedelta(hours=1))  # Monday 11:00 Berlin; lunch from 12:00
    deadline = T0 + timedelta(hours=2)
    at_deadline = log.evaluate(policy, at=deadline, calendar=CALENDAR)
    assert deadline + timedelta(seconds=1) == at_deadline.next_due
    (cycle,) = at_deadline["first_reply"]
    assert (SlaStatus.ACTIVE, deadline, None) == (cycle.status, cycle.deadline, cycle.breached_at)
    at_lunch = log.evaluate(policy, at=deadline + timedelta(minutes=30), calendar=CALENDAR)
    assert at_lunch.next_due is None
    (cycle,) = at_lunch["first_reply"]
    assert (SlaStatus.BREACHED, deadline, deadline, timedelta(hours=1)) == (
        cycle.status,
        cycle.deadline,
        cycle.breached_at,
        cycle.elapsed,
    )


def test_an_unreachable_business_deadline_raises_when_read() -> None:
    """A calendar that opens only on its overrides may never reach a deadline: the status and
    elapsed time are still reported, and reading the deadline raises CalendarError."""
    calendar = BusinessCalendar("UTC", overrides={"2025-03-03": ["09:00-10:00"]})
    policy = SlaPolicy("p", {"normal": {"first_reply": SlaTarget(7200, business=True)}})
    log = ticket().created(T0)
    evaluation = log.evaluate(policy, at=T0 + timedelta(minutes=30), calendar=calendar)
    assert ["first_reply"] == list(evaluation)
    with pytest.raises(CalendarError, match="opens only on its overrides"):
        evaluation.to_dict()


def test_an_unreachable_deadline_spares_other_metrics_and_the_repr() -> None:
    """Reading one metric computes only its own deadlines, and the repr (statuses only) never
    raises: only the unreachable deadline itself does."""
    calendar = BusinessCalendar("UTC", overrides={"2025-03-03": ["09:00-10:00"]})
    policy = SlaPolicy(
        "p",
        {
            "normal": {
                "first_reply": SlaTarget(7200, business=True),
                "total_resolution": SlaTarget(3600, business=False),
            }
        },
    )
    evaluation = (
        ticket().created(T0).evaluate(policy, at=T0 + timedelta(minutes=30), calendar=calendar)
    )
    (resolution,) = evaluation["total_resolution"]
    assert (SlaStatus.ACTIVE, T0 + timedelta(hours=1)) == (resolution.status, resolution.deadline)
    assert "'first_reply': ['active']" in repr(evaluation)
    with pytest.raises(CalendarError, match="opens only on its overrides"):
        evaluation["first_reply"]


# -- alerts, metric events ------------------------------------------------------------------


def test_alerts_have_stable_keys_and_instants() -> None:
    """Warnings at 50/75/90 % and the breach, each with a stable key, in time order."""
    log = ticket().created(T0, priority="normal")
    policy = SlaPolicy("p", {"normal": {"first_reply": SlaTarget(3600, business=False)}})
    evaluation = log.evaluate(policy, at=T0 + timedelta(hours=2))
    expected = [
        ("T-1:first_reply:0:warning:0.5", T0 + timedelta(minutes=30)),
        ("T-1:first_reply:0:warning:0.75", T0 + timedelta(minutes=45)),
        ("T-1:first_reply:0:warning:0.9", T0 + timedelta(minutes=54)),
        ("T-1:first_reply:0:breach", T0 + timedelta(hours=1)),
    ]
    assert expected == [(a.key, a.at) for a in evaluation.alerts()]


def test_next_due_of_a_breach_is_one_second_after_the_deadline() -> None:
    """A reply exactly at the deadline is met, so the breach is due one second later."""
    policy = SlaPolicy("p", {"normal": {"first_reply": SlaTarget(3600, business=False)}})
    evaluation = ticket().created(T0).evaluate(policy, at=T0 + timedelta(minutes=55))
    assert T0 + timedelta(hours=1, seconds=1) == evaluation.next_due


def test_metric_events_for_export() -> None:
    """Zendesk-style metric events: apply_sla, activate, pause, fulfill and breach."""
    policy = SlaPolicy(
        "p",
        {
            "normal": {
                "first_reply": SlaTarget(3600, business=False),
                "requester_wait": SlaTarget(1800, business=False),
            }
        },
    )
    log = (
        ticket()
        .created(T0)
        .reply(T0 + timedelta(minutes=10))
        .pending(T0 + timedelta(minutes=10))
        .open(T0 + timedelta(minutes=20))
    )
    events = sla_metric_events(log, policy, at=T0 + timedelta(hours=1))
    expected = [
        ("apply_sla", None, 0),
        ("activate", "first_reply", 0),
        ("activate", "requester_wait", 0),
        ("fulfill", "first_reply", 10),
        ("pause", "requester_wait", 10),
        ("activate", "requester_wait", 20),
        ("breach", "requester_wait", 40),
    ]
    assert expected == [(e.kind, e.metric, int((e.at - T0).total_seconds()) // 60) for e in events]


# -- policies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "p", "targets": {}}, "has no targets"),
        (
            {"name": "p", "targets": {"normal": {"first_reply": {"minutes": 0, "business": True}}}},
            "must be positive",
        ),
        (
            {"name": "p", "targets": {"normal": {"first_rply": {"minutes": 5, "business": True}}}},
            "unknown metric 'first_rply'",
        ),
        (
            {"name": "p", "targets": {"hot": {"first_reply": {"minutes": 5, "business": True}}}},
            "unknown priority 'hot'",
        ),
        (
            {"name": "p", "targets": {"normal": {"first_reply": {"minutes": 5}}}},
            'add "business": true',
        ),
        (
            {
                "name": "p",
                "targets": {"normal": {"first_reply": {"minutes": 5, "business": True}}},
                "warnings": [0.9, 0.5],
            },
            "increasing",
        ),
        (
            {
                "name": "p",
                "targets": {"normal": {"first_reply": {"minutes": 5, "business": True}}},
                "conditions": {"colour": ["red"]},
            },
            "unknown condition 'colour'",
        ),
    ],
)
def test_policy_validation(raw: dict, message: str) -> None:  # type: ignore[type-arg]
    """Policy mistakes raise PolicyError explaining what is wrong."""
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        SlaPolicy.from_dict(raw)


def test_overlapping_policies_are_reported_as_a_warning() -> None:
    """Two policies some ticket could both match are reported; disjoint ones are not."""
    target = {"normal": {"first_reply": SlaTarget(60, business=True)}}
    gold = SlaPolicy("gold", target, conditions={"tier": ["gold"]})
    vip = SlaPolicy("vip", target, conditions={"tags": ["vip"]})
    silver = SlaPolicy("silver", target, conditions={"tier": ["silver"]})
    with pytest.warns(PolicyWarning) as record:
        messages = check_policies([gold, vip, silver])
    expected = [("gold", "vip"), ("vip", "silver")]  # gold and silver are disjoint
    assert expected == [tuple(m.split("'")[1:4:2]) for m in messages]
    assert messages == [str(w.message) for w in record]


def test_specific_first_then_catch_all_is_not_reported() -> None:
    """The usual layout (specific policies, then a catch-all) raises no warning."""
    target = {"normal": {"first_reply": SlaTarget(60, business=True)}}
    gold = SlaPolicy("gold", target, conditions={"tier": ["gold"]})
    gold_email = SlaPolicy("gold-email", target, conditions={"tier": ["gold"], "channel": "email"})
    default = SlaPolicy("default", target)
    assert [] == check_policies([gold_email, gold, default])


def test_a_shadowed_policy_is_reported() -> None:
    """A policy after a broader one can never apply, and the warning says so."""
    target = {"normal": {"first_reply": SlaTarget(60, business=True)}}
    default = SlaPolicy("default", target)
    gold = SlaPolicy("gold", target, conditions={"tier": ["gold", "platinum"]})
    platinum = SlaPolicy("platinum", target, conditions={"tier": "platinum"})
    with pytest.warns(PolicyWarning):
        messages = check_policies([gold, platinum, default])
    assert [
        "policy 'platinum' never applies: every ticket it matches also matches 'gold', which "
        "comes first; move 'platinum' before 'gold' or drop it"
    ] == messages


def test_a_policy_a_tier_names_is_not_reported_as_shadowed() -> None:
    """A tier's ``sla_policy`` gives its tickets that policy whatever the order, so a policy
    named there is not "never applies" behind a catch-all (dropping it would be wrong); a
    shadowed policy no tier names still is."""
    target = {"normal": {"first_reply": SlaTarget(60, business=True)}}
    default = SlaPolicy("default", target)
    gold = SlaPolicy("gold", target, conditions={"tier": ["gold"]})
    silver = SlaPolicy("silver", target, conditions={"tier": ["silver"]})
    with pytest.warns(PolicyWarning):
        messages = check_policies([default, gold, silver], named={"gold"})
    assert [m.split("'")[1] for m in messages] == ["silver"]


def test_select_policy_takes_the_first_match() -> None:
    """select_policy returns the first policy, in declared order, whose conditions match."""
    target = {"normal": {"first_reply": SlaTarget(60, business=True)}}
    vip = SlaPolicy("vip", target, conditions={"tags": ["vip"], "channel": "email"})
    default = SlaPolicy("default", target)
    log = ticket().created(T0, channel="email", tags=["vip", "billing"])
    assert "vip" == select_policy([vip, default], Ticket.from_events(log)).name
    chat = ticket().created(T0, channel="chat", tags=["vip"])
    assert "default" == select_policy([vip, default], Ticket.from_events(chat)).name


def test_policy_round_trips_through_its_dict_form() -> None:
    """SlaPolicy.from_dict(policy.to_dict()) is the same policy."""
    assert POLICY == SlaPolicy.from_dict(POLICY.to_dict())


def test_unknown_policy_version_in_the_log_is_an_error() -> None:
    """An sla_policy_applied event naming a policy that was not given raises PolicyError."""
    log = ticket().created(T0).apply_policy(T0, "other", 3)
    with pytest.raises(PolicyError, match="'other' version 3, which was not given"):
        evaluate_sla(log, POLICY, at=T0)


# -- the tracker ---------------------------------------------------------------------------


def test_refused_event_leaves_the_tracker_unchanged() -> None:
    """A transition the lifecycle refuses raises and the tracker's state is untouched."""
    log = ticket().created(T0).solve(T0 + timedelta(minutes=5))
    tracker = SlaTracker(POLICY)
    for event in log:
        tracker.apply(event)
    before = tracker.evaluate(T0 + timedelta(hours=1)).to_dict()
    bad = ticket().created(T0).solve(T0 + timedelta(minutes=6)).events[1]
    with pytest.raises(TicketStateError):
        tracker.apply(bad)
    assert before == tracker.evaluate(T0 + timedelta(hours=1)).to_dict()


def test_tracker_refuses_to_evaluate_in_the_past() -> None:
    """Evaluating before the last applied event is refused with a hint to replay."""
    tracker = SlaTracker(POLICY)
    for event in ticket().created(T0).reply(T0 + timedelta(hours=1)):
        tracker.apply(event)
    with pytest.raises(ConfigurationError, match="replay the log"):
        tracker.evaluate(T0)


def test_evaluations_do_not_change_when_the_tracker_moves_on() -> None:
    """An evaluation is a snapshot: later events do not alter it."""
    tracker = SlaTracker(POLICY)
    log = ticket().created(T0).reply(T0 + timedelta(minutes=5))
    tracker.apply(log.events[0])
    evaluation = tracker.evaluate(T0 + timedelta(minutes=1))
    snapshot = evaluation.to_dict()
    tracker.apply(log.events[1])
    assert (snapshot, snapshot["first_reply"][0]["status"]) == (evaluation.to_dict(), "active")


def test_business_deadlines_read_after_the_tracker_moves_on_are_the_snapshots() -> None:
    """Business deadlines are computed when first read, from the evaluated state: events the
    tracker applies in between do not change them."""
    tracker = SlaTracker(POLICY, CALENDAR)
    log = (
        ticket()
        .created(T0)
        .customer(T0 + timedelta(minutes=2))
        .reply(T0 + timedelta(minutes=5))
        .priority(T0 + timedelta(minutes=6), "urgent")
        .pending(T0 + timedelta(minutes=7))
    )
    at = T0 + timedelta(minutes=1)
    tracker.apply(log.events[0])
    evaluation = tracker.evaluate(at)
    for event in log.events[1:]:
        tracker.apply(event)
    expected = evaluate_sla(log.events[:1], POLICY, at=at, calendar=CALENDAR)
    assert expected.to_dict() == evaluation.to_dict()
    assert T0 + timedelta(hours=1) == evaluation["first_reply"][0].deadline
