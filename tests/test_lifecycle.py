"""The ticket lifecycle: one python-statemachine definition, one compiled table, same answers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import Status, TicketStateError, allowed_transitions
from supportkit._lifecycle import (
    TRANSITIONS,
    TicketLifecycle,
    check_transition,
    machine_for,
    parse_status,
    send,
)

TARGETS = [s for s in Status if s is not Status.NEW]


def machine_allows(status: Status, target: Status) -> bool:
    machine = machine_for(status)
    try:
        send(machine, target)
    except TicketStateError:
        return False
    return True


@pytest.mark.parametrize(("status", "target"), list(itertools.product(Status, Status)))
def test_table_agrees_with_state_machine(status: Status, target: Status) -> None:
    """For every (status, target) pair the compiled table and the machine give the same answer."""
    assert machine_allows(status, target) == ((status, target) in TRANSITIONS)


def test_zendesk_transition_rules() -> None:
    """The table holds exactly the transitions of DESIGN.md (Zendesk's)."""
    working = {Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD}
    expected = {
        (src, to)
        for src in working
        for to in (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED)
        if src is not to
    } | {
        (Status.SOLVED, Status.OPEN),
        (Status.SOLVED, Status.PENDING),
        (Status.SOLVED, Status.ON_HOLD),
        (Status.SOLVED, Status.CLOSED),
    }
    assert expected == set(TRANSITIONS)


@given(st.lists(st.sampled_from(TARGETS), max_size=30))
def test_sequences_agree(targets: list[Status]) -> None:
    """Replaying any sequence through the table and through one machine ends in the same status
    and refuses the same steps."""
    machine = TicketLifecycle()
    status = Status.NEW
    for target in targets:
        table_ok = (status, target) in TRANSITIONS
        try:
            machine_status = send(machine, target)
        except TicketStateError:
            machine_status = None
        assert table_ok == (machine_status is not None)
        if table_ok:
            status = check_transition(status, target)
        assert status == Status(machine.current_state_value)


def test_invalid_transition_names_ticket_status_and_event() -> None:
    """A refused transition is a TicketStateError (and ValueError) that names what was refused."""
    with pytest.raises(TicketStateError) as info:
        check_transition(Status.CLOSED, Status.OPEN, ticket_id="T-9")
    assert isinstance(info.value, ValueError)
    assert (info.value.ticket_id, info.value.status) == ("T-9", "closed")
    assert "closed is final" in str(info.value)


def test_machine_refusal_is_translated() -> None:
    """python-statemachine's TransitionNotAllowed never reaches the caller."""
    machine = machine_for(Status.OPEN)
    with pytest.raises(TicketStateError, match="from open to open") as info:
        send(machine, Status.OPEN, ticket_id="T-1")
    assert type(info.value.__cause__).__name__ == "TransitionNotAllowed"


def test_unknown_persisted_status_is_clear() -> None:
    """A status the machine does not know is a TicketStateError, not a KeyError."""
    with pytest.raises(TicketStateError, match="unknown status 'archived'"):
        parse_status("archived", ticket_id="T-3")
    assert Status.ON_HOLD == parse_status("on_hold")


def test_allowed_transitions_lists_the_next_statuses() -> None:
    """allowed_transitions answers from the compiled table; closed leads nowhere."""
    assert {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.CLOSED} == allowed_transitions(
        "solved"
    )
    assert frozenset() == allowed_transitions(Status.CLOSED)
    with pytest.raises(TicketStateError, match="unknown status 'archived'"):
        allowed_transitions("archived")
