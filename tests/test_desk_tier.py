"""SupportDesk.set_tier: a tier change (say from a CRM re-sync) and the SLA policy it brings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportkit import Customer, EventError, FrozenClock, InboundMessage, InMemoryStore, Tier
from supportkit._desk import SupportDesk
from supportkit._sla import SlaPolicy
from supportkit._sqlite import SqliteStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
STANDARD = SlaPolicy.from_dict(
    {"name": "standard", "targets": {"normal": {"first_reply": {"hours": 4, "business": False}}}}
)
GOLD = SlaPolicy.from_dict(
    {"name": "gold", "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
)


@pytest.fixture(params=["memory", "sqlite"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SupportDesk]:
    store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "d.db")
    with SupportDesk(
        store=store,
        clock=FrozenClock(T0 + timedelta(minutes=30)),
        plugins=[],
        blocked_plugins=["supportkit.builtins"],
        policies=[STANDARD, GOLD],
        tiers=[Tier("gold", weight=10, sla_policy="gold"), Tier("silver", weight=5)],
    ) as made:
        yield made


def opened(desk: SupportDesk) -> str:
    return desk.ingest(InboundMessage("m-1", "email", "ann@example.com", T0)).ticket_id


def test_a_tier_change_brings_its_sla_policy(desk: SupportDesk) -> None:
    """Moving to gold appends tier_changed and sla_policy_applied: the deadline tightens to
    one hour after the message, keeping the elapsed time."""
    ticket_id = opened(desk)
    ticket = desk.set_tier(ticket_id, "gold")
    assert ("gold", "gold") == (ticket.tier, ticket.sla_policy)
    assert ["tier_changed", "sla_policy_applied"] == [e.kind for e in desk.events(ticket_id)[-2:]]
    (cycle,) = desk.sla(ticket_id)["first_reply"]  # type: ignore[index]
    assert T0 + timedelta(hours=1) == cycle.deadline


def test_a_tier_without_its_own_policy_keeps_the_matching_one(desk: SupportDesk) -> None:
    """Silver names no policy and the standard one still matches: only tier_changed."""
    ticket_id = opened(desk)
    desk.set_tier(ticket_id, "silver")
    assert "tier_changed" == desk.events(ticket_id)[-1].kind
    assert ("silver", "standard") == (
        desk.ticket(ticket_id).tier,
        desk.ticket(ticket_id).sla_policy,
    )


def test_setting_the_same_tier_writes_nothing(desk: SupportDesk) -> None:
    """The tier the ticket has already: no event."""
    ticket_id = opened(desk)
    version = desk.ticket(ticket_id).version
    desk.set_tier(ticket_id, None)
    assert version == desk.ticket(ticket_id).version


@pytest.mark.parametrize("tier", ["", "  ", 5])
def test_a_bad_tier_is_refused_and_changes_nothing(desk: SupportDesk, tier: object) -> None:
    """Not a name: EventError naming the field, nothing written."""
    ticket_id = opened(desk)
    version = desk.ticket(ticket_id).version
    with pytest.raises(EventError, match="a tier is a non-empty name") as info:
        desk.set_tier(ticket_id, tier)  # type: ignore[arg-type]
    assert ("to", version) == (info.value.field, desk.ticket(ticket_id).version)


def test_tier_for_puts_watchlists_before_the_customers_own_tier(desk: SupportDesk) -> None:
    """A watchlisted organisation wins over the customer's tier; else their own tier, known
    or not; else None."""
    desk.tiers["top"] = Tier("top", weight=99, watchlist={"Big Corp"})
    tiers = [
        desk.tier_for(Customer("a@x.example", tier="silver", organisation="Big Corp")),
        desk.tier_for(Customer("a@x.example", tier="silver")),
        desk.tier_for(Customer("a@x.example", tier="bronze")),
        desk.tier_for(Customer("a@x.example")),
    ]
    assert [Tier("top", weight=99, watchlist={"Big Corp"}), Tier("silver", weight=5)] == tiers[:2]
    assert [Tier("bronze", weight=0), None] == tiers[2:]


@pytest.mark.parametrize("watched", ["ann@example.com", "Big Corp"], ids=["customer", "org"])
def test_on_tier_sees_a_watchlisted_customers_tier(tmp_path: Path, watched: str) -> None:
    """A watchlisted customer's (or organisation's) ticket is on the watchlist's tier for
    OnTier: the desk records the tier it chose in the created event, so the trigger takes the
    ticket to L2 at its first SLA alert, though the CRM names no tier."""
    from supportkit import EscalationLadder, EscalationLevel, OnTier
    from supportkit.testing import FakeCrm

    clock = FrozenClock(T0)
    crm = FakeCrm({"ann@example.com": Customer("ann@example.com", organisation="Big Corp")}, {})
    ladder = EscalationLadder(
        [EscalationLevel("L1", group="l1"), EscalationLevel("L2", group="l2")],
        triggers=[OnTier({"vip"}, to="L2")],
    )
    with SupportDesk(
        store=SqliteStore(tmp_path / "d.db"),
        clock=clock,
        plugins=[crm],
        blocked_plugins=["supportkit.builtins"],
        policies=[STANDARD],
        tiers=[Tier("vip", weight=9, watchlist={watched}), Tier("silver", weight=5)],
        ladder=ladder,
    ) as desk:
        ticket_id = opened(desk)
        assert "vip" == desk.ticket(ticket_id).tier
        result = desk.tick(T0 + timedelta(hours=3))
        assert ["L2"] == [e.data["level"] for e in result.escalations]
        assert "l2" == desk.ticket(ticket_id).group
