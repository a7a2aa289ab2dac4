"""``SupportDesk.claim`` and the module-level ``claim`` behave alike on a log that refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportkit import FrozenClock, InboundMessage, SqliteStore, SupportDesk, claim

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path: Path) -> SupportDesk:
    return SupportDesk(store=SqliteStore(tmp_path / "d.db"), plugins=None, clock=FrozenClock(T0))


def test_claiming_an_unknown_ticket_is_a_refused_claim_as_with_claim(desk: SupportDesk) -> None:
    """desk.claim() on an unknown ticket used to raise TicketStateError, while claim() and the
    Claim docstring give a lost claim whose reason starts with "refused:"."""
    through_desk = desk.claim("T-none", "ann", expected_version=1)
    direct = claim(desk.store, "T-none", "ann", expected_version=1, at=T0)
    for result in (through_desk, direct):
        assert (False, 0, None) == (result.won, result.version, result.event)
        assert result.reason.startswith("refused:")
    assert [] == desk.store.ticket_ids()


def test_claiming_a_closed_ticket_is_a_refused_claim_and_writes_nothing(desk: SupportDesk) -> None:
    """A closed ticket cannot take an assignment: a refused claim, not an exception."""
    ticket_id = desk.ingest(InboundMessage("m1", "email", "c", T0, body="hi")).ticket_id
    desk.set_status(ticket_id, "solved")
    desk.set_status(ticket_id, "closed")
    version = desk.store.version(ticket_id)
    through_desk = desk.claim(ticket_id, "ann", expected_version=version)
    direct = claim(desk.store, ticket_id, "ann", expected_version=version, at=T0)
    for result in (through_desk, direct):
        assert (False, version) == (result.won, result.version)
        assert result.reason.startswith("refused:")
        assert "closed" in result.reason
    assert version == desk.store.version(ticket_id)


def test_a_won_and_a_lost_claim_are_unchanged(desk: SupportDesk) -> None:
    """The usual outcomes stay: the first claim at a version wins, the second loses the race."""
    ticket_id = desk.ingest(InboundMessage("m1", "email", "c", T0, body="hi")).ticket_id
    version = desk.store.version(ticket_id)
    won = desk.claim(ticket_id, "ann", expected_version=version)
    lost = desk.claim(ticket_id, "bob", expected_version=version)
    assert (True, version + 1) == (won.won, won.version)
    assert (False, version + 1) == (lost.won, lost.version)
    assert lost.reason.startswith("lost:")
