"""The escalation ladder and the next-step guarantee, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    Agent,
    ConfigurationError,
    EscalationLadder,
    EscalationLevel,
    EventError,
    OnReopens,
    OnSlaAlert,
    OnTier,
    Party,
    Router,
    StepAction,
    TicketEvent,
    TicketStateError,
    Tier,
    audit_next_steps,
    next_step,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def ev(
    kind: str, minute: float = 0, ticket_id: str = "T", by: str = "system", **data: Any
) -> TicketEvent:
    return TicketEvent(
        kind, ticket_id=ticket_id, at=T0 + timedelta(minutes=minute), by=by, data=data
    )


def log(*events: TicketEvent, ticket_id: str = "T", **created: Any) -> list[TicketEvent]:
    return [ev("created", 0, ticket_id, **{"customer": "cust", **created}), *events]


LADDER = [
    EscalationLevel("L1", group="l1"),
    EscalationLevel("L2", group="l2"),
    EscalationLevel("L3", group="l3"),
    EscalationLevel("engineering", group="eng"),
]


@attrs.frozen
class Alert:
    kind: str
    metric: str = "first_reply"
    level: float = 1.0


# --- ladder configuration ---------------------------------------------------------------------


def test_cycle_is_refused() -> None:
    """A ladder whose ``next`` pointers loop is refused, showing the loop."""
    levels = [EscalationLevel("L1"), EscalationLevel("L2", next="L1")]
    with pytest.raises(ConfigurationError, match="cycle: L1 → L2 → L1"):
        EscalationLadder(levels)


def test_repeated_level_is_refused() -> None:
    """The same level twice would loop, so it is refused."""
    with pytest.raises(ConfigurationError, match="appears twice"):
        EscalationLadder([EscalationLevel("L1"), EscalationLevel("L1")])


def test_unknown_next_level_is_refused() -> None:
    """A ``next`` naming no level is refused, listing the levels."""
    with pytest.raises(ConfigurationError, match="'L9' is not on the ladder"):
        EscalationLadder([EscalationLevel("L1", next="L9")])


def test_unknown_trigger_target_is_refused() -> None:
    """A trigger aiming at an unknown level is refused."""
    with pytest.raises(ConfigurationError, match="unknown escalation level 'L7'"):
        EscalationLadder(LADDER, triggers=[OnReopens(2, to="L7")])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: OnReopens(0, to="L2"), "whole number >= 1"),
        (lambda: OnReopens(-1, to="L2"), "whole number >= 1"),
        (lambda: OnSlaAlert(min_level=5), "from 0 to 1"),
        (lambda: OnSlaAlert(metrics={"first_replY"}), "unknown SLA metric.*'first_replY'"),
        (lambda: OnSlaAlert("breech"), "'warning' or 'breach', got 'breech'"),
        (lambda: OnTier(set(), to="L2"), "at least one tier"),
        (lambda: OnReopens(2, to=""), "to must name an escalation level"),
    ],
)
def test_bad_trigger_is_a_configuration_error(make: Any, message: str) -> None:
    """Nonsense trigger settings are refused when the trigger is built, saying what is wrong."""
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_explicit_next_skips_levels() -> None:
    """``next`` can skip a rung: L1 → L3 → engineering."""
    ladder = EscalationLadder(
        [EscalationLevel("L1", next="L3"), EscalationLevel("L2"), *LADDER[2:]]
    )
    assert ["L3", "engineering"] == ladder.above("L1")


# --- manual escalation ------------------------------------------------------------------------


def test_manual_escalation_goes_one_level_up_and_names_the_previous_owner() -> None:
    """A manual escalation records level, target and reason, and names the agent to notify."""
    ladder = EscalationLadder(LADDER)
    result = ladder.escalate(
        log(ev("assigned", 1, agent="ann")), at=T0 + timedelta(minutes=2), reason="refund > 1k"
    )
    data = {"level": "L2", "target": "l2", "reason": "refund > 1k", "engineering": False}
    expected = ("L1", "L2", "ann", data)
    assert expected == (
        result.from_level,
        result.to_level,
        result.previous_owner,
        dict(result.event.data),
    )


def test_manual_escalation_needs_a_reason() -> None:
    """An empty reason is refused."""
    with pytest.raises(EventError, match="needs a reason"):
        EscalationLadder(LADDER).escalate(log(), at=T0, reason="  ")


def test_escalation_above_the_top_is_refused() -> None:
    """Escalating a ticket already at the top level is a clear state error."""
    events = log(ev("escalated", 1, level="engineering", target="eng", reason="bug"))
    with pytest.raises(TicketStateError, match="top level 'engineering'"):
        EscalationLadder(LADDER).escalate(events, at=T0 + timedelta(minutes=2), reason="more")


def test_manual_escalation_of_a_closed_ticket_is_refused() -> None:
    """Closed is final: escalating it would append an event the ticket fold refuses."""
    events = log(ev("status_changed", 1, to="solved"), ev("status_changed", 2, to="closed"))
    with pytest.raises(TicketStateError, match="closed is final"):
        EscalationLadder(LADDER).escalate(events, at=T0 + timedelta(minutes=3), reason="late")


def test_manual_escalation_down_the_ladder_is_refused() -> None:
    """An L3 ticket cannot be "escalated" to L1 by accident."""
    events = log(ev("escalated", 1, level="L3", target="l3", reason="hard"))
    with pytest.raises(TicketStateError, match="'L1' is not above its current level 'L3'"):
        EscalationLadder(LADDER).escalate(
            events, at=T0 + timedelta(minutes=2), reason="oops", to="L1"
        )


def test_manual_deescalation_is_allowed_when_asked_for() -> None:
    """``allow_down=True`` moves a ticket down on purpose."""
    events = log(ev("escalated", 1, level="L3", target="l3", reason="hard"))
    result = EscalationLadder(LADDER).escalate(
        events, at=T0 + timedelta(minutes=2), reason="easy after all", to="L1", allow_down=True
    )
    assert ("L3", "L1") == (result.from_level, result.to_level)


def test_manual_escalation_earlier_than_the_last_event_is_refused() -> None:
    """An escalation dated before the log's last event would break time order."""
    events = log(ev("assigned", 10, agent="ann"))
    with pytest.raises(TicketStateError, match="earlier than its last event"):
        EscalationLadder(LADDER).escalate(events, at=T0, reason="hard")


def test_history_is_kept_in_the_log() -> None:
    """Two escalations leave two events; the second names the L2 agent as previous owner."""
    ladder = EscalationLadder(LADDER)
    events = log(ev("assigned", 1, agent="ann"))
    first = ladder.escalate(events, at=T0 + timedelta(minutes=2), reason="hard")
    events += [first.event, ev("assigned", 3, agent="bob")]
    second = ladder.escalate(events, at=T0 + timedelta(minutes=4), reason="harder")
    events.append(second.event)
    levels = [e.data["level"] for e in events if e.kind == "escalated"]
    assert (["L2", "L3"], "bob") == (levels, second.previous_owner)


def test_escalation_to_a_flagged_level_carries_the_flag_in_its_event() -> None:
    """The ``escalated`` event says the level is engineering, so metrics can count it."""
    ladder = EscalationLadder([EscalationLevel("L1"), EscalationLevel("rnd", engineering=True)])
    result = ladder.escalate(log(), at=T0, reason="bug")
    assert (True, True) == (result.engineering, result.event.data["engineering"])


def test_engineering_is_counted_by_name_or_flag() -> None:
    """The level named engineering and a flagged level both count as engineering."""
    ladder = EscalationLadder(
        [
            EscalationLevel("L1"),
            EscalationLevel("rnd", engineering=True),
            EscalationLevel("engineering"),
        ]
    )
    assert (False, True, True) == tuple(
        ladder.is_engineering(n) for n in ("L1", "rnd", "engineering")
    )


# --- triggers ---------------------------------------------------------------------------------


def test_sla_breach_escalates_one_level() -> None:
    """A breach alert moves an L1 ticket to L2 with a reason naming the metric."""
    ladder = EscalationLadder(LADDER, triggers=[OnSlaAlert("breach")])
    result = ladder.check(log(), at=T0, alert=Alert("breach"))
    assert ("L2", "SLA first_reply breached") == (result.to_level, result.reason)  # type: ignore[union-attr]


def test_sla_warning_below_threshold_does_nothing() -> None:
    """A 50 % warning does not fire a trigger that waits for 90 %."""
    ladder = EscalationLadder(LADDER, triggers=[OnSlaAlert("warning", min_level=0.9)])
    assert None is ladder.check(log(), at=T0, alert=Alert("warning", level=0.5))


def test_reopen_count_escalates_once() -> None:
    """Two reopens move the ticket to L2; checking again after that does nothing."""
    ladder = EscalationLadder(LADDER, triggers=[OnReopens(2, to="L2")])
    events = log()
    for minute in (1, 3):
        events += [
            ev("status_changed", minute, to="solved"),
            ev("status_changed", minute + 1, to="open"),
        ]
    first = ladder.check(events, at=T0 + timedelta(minutes=5))
    assert first is not None
    events.append(first.event)
    assert ("reopened 2 times", None) == (
        first.reason,
        ladder.check(events, at=T0 + timedelta(minutes=6)),
    )


def test_tier_trigger_gives_top_accounts_a_named_path() -> None:
    """An enterprise ticket starts its path at L2."""
    ladder = EscalationLadder(LADDER, triggers=[OnTier({"enterprise"}, to="L2")])
    result = ladder.check(log(tier="enterprise"), at=T0)
    assert ("L2", "l2") == (result.to_level, result.target)  # type: ignore[union-attr]


def test_solved_tickets_do_not_escalate_automatically() -> None:
    """A breach alert on a solved ticket escalates nothing."""
    ladder = EscalationLadder(LADDER, triggers=[OnSlaAlert("breach")])
    assert None is ladder.check(
        log(ev("status_changed", 1, to="solved")), at=T0, alert=Alert("breach")
    )


# --- next step --------------------------------------------------------------------------------


def test_new_unassigned_ticket_waits_for_assignment() -> None:
    """A new ticket with no agent: the team owes an assignment, owned by its group."""
    step = next_step(log(group="support"))
    assert (StepAction.ASSIGN, Party.TEAM, None, "support") == (
        step.action,
        step.waiting_on,
        step.owner,
        step.group,  # type: ignore[union-attr]
    )


def test_customer_message_makes_the_agent_owe_a_reply_by_the_deadline() -> None:
    """The customer spoke last: the assigned agent owes a reply, due at the SLA deadline."""
    due = T0 + timedelta(hours=1)
    events = log(ev("assigned", 1, agent="ann"), ev("message", 2, by="customer"))
    step = next_step(events, deadline=due)
    assert (StepAction.REPLY, Party.AGENT, "ann", due) == (
        step.action,
        step.waiting_on,
        step.owner,
        step.due,  # type: ignore[union-attr]
    )


def test_answered_open_ticket_owes_a_follow_up() -> None:
    """After the agent's public reply, an open ticket still owes an update or resolution."""
    events = log(
        ev("assigned", 1, agent="ann"),
        ev("message", 2, by="customer"),
        ev("message", 3, by="agent"),
    )
    assert StepAction.FOLLOW_UP == next_step(events).action  # type: ignore[union-attr]


def test_pending_ticket_awaits_the_customer() -> None:
    """A pending ticket waits on the customer; the agent stays the owner."""
    events = log(ev("assigned", 1, agent="ann"), ev("status_changed", 2, to="pending"))
    step = next_step(events)
    assert (StepAction.CUSTOMER_RESPONSE, Party.CUSTOMER, "ann") == (
        step.action,
        step.waiting_on,
        step.owner,  # type: ignore[union-attr]
    )


def test_engineering_escalation_awaits_a_fix_owned_by_engineering() -> None:
    """On hold after an escalation to engineering: a fix is pending, owned by the eng group."""
    events = log(
        ev("assigned", 1, agent="ann"),
        ev("escalated", 2, level="engineering", target="eng", reason="bug"),
        ev("status_changed", 3, to="on_hold"),
    )
    step = next_step(events)
    assert (StepAction.ENGINEERING_FIX, Party.ENGINEERING, None, "eng") == (
        step.action,
        step.waiting_on,
        step.owner,
        step.group,  # type: ignore[union-attr]
    )


def test_on_hold_without_engineering_waits_on_a_third_party() -> None:
    """Plain on-hold waits on a third party, chased by the owner."""
    events = log(ev("assigned", 1, agent="ann"), ev("status_changed", 2, to="on_hold"))
    assert (StepAction.THIRD_PARTY, "ann") == (next_step(events).action, next_step(events).owner)  # type: ignore[union-attr]


def test_solved_ticket_has_no_next_step() -> None:
    """Nothing is owed on a solved ticket."""
    assert None is next_step(log(ev("status_changed", 1, to="solved")))


def test_router_deadline_is_used_when_none_is_given() -> None:
    """Without a deadline argument, the router's SLA deadline for the ticket is the due time."""
    r = Router([Agent("a", capacity={"email": 1})])
    events = log(channel="email")
    r.apply_all(events)
    r.set_deadline("T", T0 + timedelta(hours=2))
    assert T0 + timedelta(hours=2) == next_step(events, router=r).due  # type: ignore[union-attr]


def test_audit_reports_tickets_without_owner_or_due_time() -> None:
    """Only the open ticket with no group, no agent and no deadline is reported."""
    events = [
        *log(ticket_id="orphan"),
        *log(ticket_id="grouped", group="support"),
        *log(ticket_id="timed"),
        *log(ev("status_changed", 1, ticket_id="done", to="solved"), ticket_id="done"),
    ]
    orphans = audit_next_steps(events, deadlines={"timed": T0 + timedelta(hours=1)})
    assert ["orphan"] == [step.ticket_id for step in orphans]


def test_queued_ticket_is_owned_by_its_tiers_dedicated_team() -> None:
    """With the router, a waiting top-tier ticket is owned by the tier's dedicated group."""
    r = Router(
        [Agent("a", capacity={"email": 1})],
        tiers=[Tier("vip", weight=9, dedicated_group="vip-team")],
    )
    events = log(channel="email", tier="vip")
    r.apply_all(events)
    step = next_step(events, router=r)
    assert (StepAction.ASSIGN, "vip-team", []) == (
        step.action,
        step.group,
        audit_next_steps(events, router=r),  # type: ignore[union-attr]
    )


@given(st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=1, max_size=6))
def test_ladder_is_refused_exactly_when_it_loops(nexts: list[int | None]) -> None:
    """Random ``next`` pointers: the ladder is refused iff following them from some level
    comes back to it; otherwise every level's way up ends."""
    names = [f"L{i}" for i in range(len(nexts))]
    levels = [
        EscalationLevel(name, next=None if n is None else names[n % len(names)])
        for name, n in zip(names, nexts, strict=True)
    ]
    up = {
        lv.name: lv.next or (names[i + 1] if i + 1 < len(names) else None)
        for i, lv in enumerate(levels)
    }

    def loops(start: str) -> bool:
        seen, current = set(), start
        while current is not None:
            if current in seen:
                return True
            seen.add(current)
            current = up[current]
        return False

    if any(loops(name) for name in names):
        with pytest.raises(ConfigurationError, match="cycle"):
            EscalationLadder(levels)
    else:
        ladder = EscalationLadder(levels)
        assert all(len(ladder.above(name)) < len(names) for name in names)
