"""Follow the sun: tickets queue for the team on shift, pass to the next team when a shift
ends (handed_off, with what is pending), and tick warns when nobody is on before a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportkit import (
    Agent,
    BusinessCalendar,
    ConfigurationError,
    EventError,
    FollowTheSun,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    Router,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    Ticket,
    TicketEvent,
)
from supportkit.testing import RecordingNotifier

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
TEAMS = FollowTheSun(
    {
        "apac": BusinessCalendar("Australia/Sydney", WEEKDAYS),
        "emea": BusinessCalendar("Europe/Berlin", WEEKDAYS),
        "amer": BusinessCalendar("America/New_York", WEEKDAYS),
    }
)
MONDAY = datetime(2025, 3, 3, tzinfo=UTC)  # before the March DST changes of all three
POLICY = SlaPolicy.from_dict(
    {"name": "std", "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
)


def desk_at(at: datetime, store=None, **kwargs) -> tuple[SupportDesk, FrozenClock]:  # type: ignore[no-untyped-def]
    clock = FrozenClock(at)
    desk = SupportDesk(
        store=store or InMemoryStore(), clock=clock, plugins=kwargs.pop("plugins", None),
        policies=[POLICY], follow_the_sun=TEAMS, **kwargs,
    )  # fmt: skip
    return desk, clock


def test_a_ticket_follows_the_sun_around_the_world() -> None:
    """Opened at 10:00 UTC Monday (Berlin on shift) it is EMEA's; at 16:00 UTC Berlin's shift
    ends and New York's is on: handed to AMER; at 22:00 UTC New York closes and Sydney opens
    (09:00 AEDT Tuesday): handed to APAC. Each hand-off notes what is pending."""
    desk, clock = desk_at(MONDAY + timedelta(hours=10))
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    assert "emea" == desk.ticket(opened.ticket_id).group
    desk.tick(MONDAY + timedelta(hours=15, minutes=59))
    assert "emea" == desk.ticket(opened.ticket_id).group
    clock.set(MONDAY + timedelta(hours=16))
    desk.tick()
    assert "amer" == desk.ticket(opened.ticket_id).group
    clock.set(MONDAY + timedelta(hours=22))
    desk.tick()
    ticket = desk.ticket(opened.ticket_id)
    assert ("apac", None) == (ticket.group, ticket.assignee)
    handoffs = [e for e in desk.events(opened.ticket_id) if e.kind == "handed_off"]
    assert [("emea", "amer"), ("amer", "apac")] == [
        (e.data["from"], e.data["to"]) for e in handoffs
    ]
    assert [MONDAY + timedelta(hours=16), MONDAY + timedelta(hours=22)] == [e.at for e in handoffs]
    assert "pending: assign (team), due 2025-03-03T11:00:00+00:00" in handoffs[0].data["note"]
    # The log replays to the same ticket anywhere.
    assert ticket == Ticket.from_events(desk.events(opened.ticket_id))
    [step] = desk.next_steps()
    assert "apac" == step.group


def test_a_solved_ticket_stays_put() -> None:
    """Solved tickets are not handed off (nor revisited for it)."""
    desk, clock = desk_at(MONDAY + timedelta(hours=10))
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    desk.reply(opened.ticket_id, "Done.", agent="ann", status="solved")
    clock.set(MONDAY + timedelta(hours=17))
    assert 0 == desk.tick().checked
    assert "emea" == desk.ticket(opened.ticket_id).group


def test_the_router_follows_the_hand_off(tmp_path: Path) -> None:
    """ann (EMEA) gets the ticket at ingest; at EMEA's shift end it is unassigned and queued
    for AMER, and dispatch gives it to bob (AMER). On SQLite a second desk sees the same."""
    clock = FrozenClock(MONDAY + timedelta(hours=10))
    router = Router(
        [Agent("ann", groups=["emea"], capacity={"email": 2}),
         Agent("bob", groups=["amer"], capacity={"email": 2})],
        clock=clock,
    )  # fmt: skip
    path = tmp_path / "desk.sqlite3"
    desk = SupportDesk(store=SqliteStore(path), clock=clock, plugins=None, policies=[POLICY],
                       router=router, follow_the_sun=TEAMS)  # fmt: skip
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    assert "ann" == opened.assignee
    clock.set(MONDAY + timedelta(hours=16))
    desk.tick()
    assert [("bob", opened.ticket_id)] == [(c.agent, c.ticket_id) for c in desk.dispatch()]
    desk.close()
    again = SupportDesk(store=SqliteStore(path), clock=clock, plugins=None, policies=[POLICY])
    assert ("amer", "bob") == (again.ticket(opened.ticket_id).group,
                               again.ticket(opened.ticket_id).assignee)  # fmt: skip
    again.close()


def test_nobody_on_before_the_deadline_is_an_uncovered_warning() -> None:
    """Saturday 10:00 UTC, a one-hour (calendar time) first-reply target: no team is on before
    Sunday 22:00 UTC, so tick warns once ("uncovered", level 1.0) before the breach, and the
    notifiers get an sla_warning with reason "uncovered"."""
    notifier = RecordingNotifier()
    saturday = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
    desk, clock = desk_at(saturday, plugins=[notifier])
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    assert "apac" == desk.ticket(opened.ticket_id).group  # the next team to come on
    clock.set(saturday + timedelta(minutes=30))
    first = desk.tick()
    uncovered = [a for a in first.warnings if a.kind == "uncovered"]
    assert [("first_reply", 1.0)] == [(a.metric, a.level) for a in uncovered]
    assert [] == [a for a in desk.tick().warnings if a.kind == "uncovered"]  # once
    desk.deliver()
    reasons = [n.reason for n in notifier.notices if n.kind == "sla_warning"]
    assert "uncovered" in reasons


@pytest.mark.parametrize("warnings", [[], [0.5, 0.75, 0.9]])
def test_the_uncovered_warning_comes_at_the_first_tick(warnings: list[float]) -> None:
    """The audit looks ahead: the first tick after a Saturday ticket arrives reports it, with
    or without warning levels (it used to wait for the first warning level, and a policy
    without any breached with no warning at all)."""
    saturday = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
    policy = SlaPolicy.from_dict(
        {"name": "std", "warnings": warnings,
         "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
    )  # fmt: skip
    clock = FrozenClock(saturday)
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=None, policies=[policy],
                       follow_the_sun=TEAMS)  # fmt: skip
    desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    clock.set(saturday + timedelta(minutes=1))
    assert [("uncovered", "first_reply")] == [(a.kind, a.metric) for a in desk.tick().warnings]
    clock.set(saturday + timedelta(minutes=2))
    assert [] == list(desk.tick().warnings)  # once


def test_covered_deadlines_raise_no_uncovered_warning() -> None:
    """Monday 10:00 UTC with Berlin on shift: only the ordinary warnings."""
    desk, clock = desk_at(MONDAY + timedelta(hours=10))
    desk.ingest(InboundMessage("m-1", "email", "ada@example.com", clock.now()))
    clock.set(MONDAY + timedelta(hours=10, minutes=50))
    result = desk.tick()
    assert result.warnings
    assert all(a.kind == "warning" for a in result.warnings)


def test_handed_off_events_are_validated() -> None:
    """A handed_off event needs the team it goes to."""
    with pytest.raises(EventError):
        TicketEvent("handed_off", ticket_id="T-1", at=MONDAY, data={"from": "emea"})


@pytest.mark.parametrize("teams", [{}, {"emea": "Europe/Berlin"}, ["emea"]])
def test_bad_rotation_is_a_configuration_error(teams: object) -> None:
    """A rotation needs at least one team, each with a calendar."""
    with pytest.raises(ConfigurationError):
        FollowTheSun(teams)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SupportDesk(store=InMemoryStore(), plugins=None, follow_the_sun=teams)  # type: ignore[arg-type]
