"""A ticket's SLA business calendar is fixed when its policy is first applied and recorded in
the ``sla_policy_applied`` event (a policy may name a calendar, a follow-the-sun team's
included), so the SLA replays the same on any desk, whatever policy the ticket moves to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    FollowTheSun,
    FrozenClock,
    InboundMessage,
    PolicyError,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    TicketEvent,
    Tier,
    whatif,
)
from supportkit._config import DeskConfig
from supportkit._whatif import SlaConfig

MONDAY = datetime(2025, 3, 3, 8, tzinfo=UTC)
NINE_TO_FIVE = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
BERLIN = BusinessCalendar("Europe/Berlin", NINE_TO_FIVE)  # opens 08:00 UTC in March
SYDNEY = BusinessCalendar("Australia/Sydney", NINE_TO_FIVE)  # opens 22:00 UTC (AEDT)


def policy(name: str, hours: int, *, tier: str | None = None, **kwargs: object) -> SlaPolicy:
    return SlaPolicy.from_dict(
        {
            "name": name,
            "targets": {"normal": {"first_reply": {"hours": hours, "business": True}}},
            **({"conditions": {"tier": [tier]}} if tier else {}),
            **kwargs,
        }
    )


def applied(desk: SupportDesk, ticket_id: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in desk.events(ticket_id) if e.kind == "sla_policy_applied"]


def test_the_calendar_is_recorded_when_the_policy_is_applied(tmp_path: Path) -> None:
    """Named after the policy, else ``default``, else the policy's own ``calendar``."""
    desk = SupportDesk(
        store=SqliteStore(tmp_path / "d.sqlite3"),
        clock=FrozenClock(MONDAY),
        policies=[policy("gold", 2, tier="gold"), policy("std", 8)],
        calendars={"gold": SYDNEY, "default": BERLIN},
        tiers=[Tier("gold", weight=10, watchlist=["bo@example.com"])],
    )
    std = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", MONDAY))
    gold = desk.ingest(InboundMessage("m-2", "email", "bo@example.com", MONDAY))
    assert [{"policy": "std", "version": 1, "calendar": "default"}] == applied(desk, std.ticket_id)
    assert [{"policy": "gold", "version": 1, "calendar": "gold"}] == applied(desk, gold.ticket_id)
    assert "default" == desk.ticket(std.ticket_id).sla_calendar
    # Sydney opens 22:00 UTC: two business hours later is Tuesday 00:00 UTC.
    [cycle] = desk.sla(gold.ticket_id, MONDAY)["first_reply"]
    assert MONDAY.replace(day=4, hour=0) == cycle.deadline


def test_a_policy_may_name_a_follow_the_sun_teams_calendar() -> None:
    teams = FollowTheSun({"emea": BERLIN, "apac": SYDNEY})
    desk = SupportDesk(
        store=_memory(),
        clock=FrozenClock(MONDAY),
        policies=[policy("apac-std", 1, calendar="apac")],
        follow_the_sun=teams,
    )
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", MONDAY))
    assert "apac" == applied(desk, opened.ticket_id)[0]["calendar"]
    [cycle] = desk.sla(opened.ticket_id, MONDAY)["first_reply"]
    assert MONDAY.replace(hour=23) == cycle.deadline  # Sydney's first hour, not Berlin's


def _memory():  # type: ignore[no-untyped-def]
    from supportkit import InMemoryStore

    return InMemoryStore()


def test_a_tier_change_keeps_the_calendar_and_a_new_desk_replays_the_same(tmp_path: Path) -> None:
    """Before the calendar was recorded, a desk that loaded the ticket after a tier change
    counted on the new policy's calendar while the live desk kept the old one."""
    path = tmp_path / "d.sqlite3"
    clock = FrozenClock(MONDAY)
    settings = {
        "policies": [policy("gold", 4, tier="gold"), policy("std", 4)],
        "calendars": {"gold": SYDNEY, "std": BERLIN},
        "tiers": [Tier("gold", weight=10)],
    }
    desk = SupportDesk(store=SqliteStore(path), clock=clock, **settings)  # type: ignore[arg-type]
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", MONDAY))
    clock.set(MONDAY + timedelta(hours=1))
    desk.set_tier(opened.ticket_id, "gold")
    assert [("std", "std"), ("gold", "std")] == [
        (a["policy"], a["calendar"]) for a in applied(desk, opened.ticket_id)
    ]
    at = MONDAY + timedelta(hours=2)
    live = desk.sla(opened.ticket_id, at)
    fresh = SupportDesk(store=SqliteStore(path), clock=clock, **settings)  # type: ignore[arg-type]
    assert live == fresh.sla(opened.ticket_id, at)
    [cycle] = live["first_reply"]
    assert MONDAY + timedelta(hours=4) == cycle.deadline  # Berlin's hours, still


def test_a_log_from_before_calendars_were_recorded_uses_the_policys() -> None:
    desk = SupportDesk(
        store=_memory(), clock=FrozenClock(MONDAY), policies=[policy("std", 1)], calendars=BERLIN
    )
    events = [
        TicketEvent("created", ticket_id="T-1", at=MONDAY, data={"channel": "email"}),
        TicketEvent("sla_policy_applied", ticket_id="T-1", at=MONDAY, data={"policy": "std"}),
    ]
    desk.store.append("T-1", events, expected_version=0)
    assert desk.ticket("T-1").sla_calendar is None
    [cycle] = desk.sla("T-1", MONDAY)["first_reply"]
    assert MONDAY + timedelta(hours=1) == cycle.deadline


def test_a_recorded_calendar_the_desk_lacks_is_named() -> None:
    desk = SupportDesk(store=_memory(), clock=FrozenClock(MONDAY), policies=[policy("std", 1)])
    events = [
        TicketEvent("created", ticket_id="T-1", at=MONDAY, data={"channel": "email"}),
        TicketEvent(
            "sla_policy_applied",
            ticket_id="T-1",
            at=MONDAY,
            data={"policy": "std", "calendar": "x"},
        ),
    ]
    desk.store.append("T-1", events, expected_version=0)
    with pytest.raises(ConfigurationError, match="calendar 'x'"):
        desk.sla("T-1", MONDAY)


def test_bad_policy_calendars_are_refused() -> None:
    with pytest.raises(PolicyError, match="calendar must name"):
        SlaPolicy.from_dict(
            {
                "name": "p",
                "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}},
                "calendar": 5,
            }
        )
    with pytest.raises(ConfigurationError, match="counts on calendar 'nowhere'"):
        SupportDesk(store=_memory(), policies=[policy("std", 1, calendar="nowhere")])
    named = policy("std", 1, calendar="office")
    assert named == SlaPolicy.from_dict(named.to_dict())
    SupportDesk(store=_memory(), policies=[named], calendars={"office": BERLIN})  # accepted


def test_the_config_file_checks_a_policys_calendar() -> None:
    doc = {
        "calendars": {"office": {"tz": "Europe/Berlin", "weekly": NINE_TO_FIVE}},
        "policies": [
            {
                "name": "a",
                "calendar": "office",
                "targets": {"normal": {"first_reply": {"hours": 8, "business": True}}},
            },
            {
                "name": "b",
                "calendar": "moon",
                "targets": {"normal": {"first_reply": {"hours": 8, "business": True}}},
            },
        ],
    }
    with pytest.raises(ConfigurationError) as raised:
        DeskConfig.load(doc)
    assert "policies[1].calendar" in str(raised.value)
    assert "office" not in str(raised.value)  # referenced, so not "unused"
    del doc["policies"][1]  # type: ignore[attr-defined]
    assert {"office"} == set(DeskConfig.load(doc).desk_calendars())


def test_whatif_replays_the_recorded_version_and_calendar(tmp_path: Path) -> None:
    """The actual side takes the policy version the ticket recorded (not the first of that
    name) and the calendar it recorded."""
    store = SqliteStore(tmp_path / "d.sqlite3")
    v1 = policy("std", 1)
    desk = SupportDesk(store=store, clock=FrozenClock(MONDAY), policies=[v1], calendars=BERLIN)
    opened = desk.ingest(InboundMessage("m-1", "email", "ada@example.com", MONDAY))
    desk.clock.set(MONDAY + timedelta(minutes=90))  # type: ignore[attr-defined]
    desk.reply(opened.ticket_id, "hi", agent="ann")
    v2 = SlaPolicy.from_dict(
        {
            **v1.to_dict(),
            "version": 2,
            "targets": {"normal": {"first_reply": {"hours": 2, "business": True}}},
        }
    )
    actual = SlaConfig([v2, v1], {"default": BERLIN})
    result = whatif(
        store, actual=actual, start=MONDAY, end=MONDAY + timedelta(days=1), groupings=["all"]
    )
    # Recorded v1 (1 hour): breached; v2 (2 hours) would have met it.
    assert (0, 1) == result.actual[("all", None)]["first_reply"]


def test_a_desk_built_with_other_settings_still_replays_earlier_tickets(tmp_path: Path) -> None:
    """A desk built with defaults on a store whose tickets counted on a calendar it lacks
    (the issue-15 case: a plain constructor on an existing file) replays them on the calendar
    the earlier settings version recorded, and the report and read commands keep working."""
    path = tmp_path / "d.sqlite3"
    first = SupportDesk(
        store=SqliteStore(path), clock=FrozenClock(MONDAY), policies=[policy("std", 4)],
        calendars=BERLIN,
    )  # fmt: skip
    opened = first.ingest(InboundMessage("m-1", "email", "ada@example.com", MONDAY))
    before = first.sla(opened.ticket_id, MONDAY + timedelta(hours=1))
    first.store.close()
    later = SupportDesk(store=SqliteStore(path), clock=FrozenClock(MONDAY))  # logs a warning
    assert before == later.sla(opened.ticket_id, MONDAY + timedelta(hours=1))
    later.metrics(["all"])  # counts on the recorded calendar too
    later.store.close()
    from supportkit._cli import main

    assert 0 == main(["next-steps", "--db", str(path), "--json"])
