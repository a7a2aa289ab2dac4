"""Problems and incidents: link rules (valid and refused), the solve cascade through the
outbox, the next step of a linked incident, and duplicate suggestions on ingest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportkit import (
    ConcurrencyError,
    ConfigurationError,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    ProblemSettings,
    SqliteStore,
    SupportDesk,
    Ticket,
    TicketEvent,
    TicketStateError,
)
from supportkit.testing import FakeChannel

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> SupportDesk:
    store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "d.sqlite3")
    channel = FakeChannel("email")
    return SupportDesk(store=store, clock=FrozenClock(T0), plugins=[channel])


def _open(desk: SupportDesk, n: int, subject: str = "", body: str = "", **kw: object) -> str:
    message = InboundMessage(
        f"m-{n}",
        "email",
        f"c{n}@example.com",
        T0,
        subject=subject,
        body=body,
        **kw,  # type: ignore[arg-type]
    )
    ticket_id = desk.ingest(message).ticket_id
    assert ticket_id is not None
    return ticket_id


def _channel(desk: SupportDesk) -> FakeChannel:
    [channel] = [c for c in desk.plugins.host.channels().values() if isinstance(c, FakeChannel)]
    return channel


# --- the events, folded -------------------------------------------------------------------------


def test_the_fold_links_and_unlinks() -> None:
    """linked_to_problem sets Ticket.problem, unlinked clears it; the fold refuses a second
    problem, the ticket itself, an unlink of another problem and a link on a closed ticket."""
    created = TicketEvent("created", ticket_id="T-1", at=T0)
    link = TicketEvent("linked_to_problem", ticket_id="T-1", at=T0, data={"problem": "P-1"})
    ticket = Ticket.from_events([created, link])
    assert "P-1" == ticket.problem
    unlink = TicketEvent("unlinked", ticket_id="T-1", at=T0, data={"problem": "P-1"})
    assert ticket.apply(unlink).problem is None
    again = TicketEvent("linked_to_problem", ticket_id="T-1", at=T0, data={"problem": "P-2"})
    with pytest.raises(TicketStateError, match=r"T-1.*already linked to problem P-1"):
        ticket.apply(again)
    own = TicketEvent("linked_to_problem", ticket_id="T-1", at=T0, data={"problem": "T-1"})
    with pytest.raises(TicketStateError, match="its own problem"):
        Ticket.from_events([created, own])
    wrong = TicketEvent("unlinked", ticket_id="T-1", at=T0, data={"problem": "P-9"})
    with pytest.raises(TicketStateError, match="linked to P-1"):
        ticket.apply(wrong)
    closed = ticket.apply(
        TicketEvent("status_changed", ticket_id="T-1", at=T0, data={"to": "solved"})
    )
    closed = closed.apply(
        TicketEvent("status_changed", ticket_id="T-1", at=T0, data={"to": "closed"})
    )
    with pytest.raises(TicketStateError, match="closed ticket"):
        closed.apply(unlink)


def test_the_events_are_validated() -> None:
    """Both kinds need a non-empty problem id and nothing else."""
    for kind in ("linked_to_problem", "unlinked"):
        with pytest.raises(EventError, match="missing field 'problem'") as missing:
            TicketEvent(kind, ticket_id="T-1", at=T0)
        assert "problem" == missing.value.field
        with pytest.raises(EventError, match="non-empty"):
            TicketEvent(kind, ticket_id="T-1", at=T0, data={"problem": ""})
        with pytest.raises(EventError, match="unknown field 'why'"):
            TicketEvent(kind, ticket_id="T-1", at=T0, data={"problem": "P", "why": "x"})


# --- the desk's rules ---------------------------------------------------------------------------


def test_link_and_unlink_through_the_desk(desk: SupportDesk) -> None:
    problem, one, two = (_open(desk, n) for n in range(3))
    assert problem == desk.link_problem(one, problem, actor="ann").problem
    desk.link_problem(two, problem)
    assert [one, two] == [t.id for t in desk.incidents(problem)]
    assert desk.unlink_problem(one).problem is None
    assert [two] == [t.id for t in desk.incidents(problem)]
    kinds = [e.kind for e in desk.events(one)]
    assert ["linked_to_problem", "unlinked"] == kinds[-2:]


def test_refused_links_name_the_ticket_and_change_nothing(desk: SupportDesk) -> None:
    problem, incident, other, closed = (_open(desk, n) for n in range(4))
    desk.set_status(closed, "solved")
    desk.set_status(closed, "closed")
    desk.link_problem(incident, problem)
    refusals = [
        (lambda: desk.link_problem(incident, incident), "its own problem"),
        (lambda: desk.link_problem(incident, other), "already linked to problem"),
        (lambda: desk.link_problem(incident, problem), "already linked to problem"),
        (lambda: desk.link_problem(closed, problem), "is closed"),
        (lambda: desk.link_problem(other, closed), "is closed"),
        (lambda: desk.link_problem(other, incident), "itself an incident"),  # no chain
        (lambda: desk.link_problem(problem, other), "cannot be an incident"),  # no cycle
        (lambda: desk.unlink_problem(other), "linked to no problem"),
    ]
    before = {t: desk.store.version(t) for t in (problem, incident, other, closed)}
    for call, reason in refusals:
        with pytest.raises(TicketStateError, match=reason) as refused:
            call()
        assert refused.value.ticket_id in (incident, closed, other, problem)
        assert str(refused.value).startswith(f"ticket {refused.value.ticket_id}:")
    assert before == {t: desk.store.version(t) for t in before}
    with pytest.raises(TicketStateError, match="T-nope"):
        desk.link_problem(other, "T-nope")
    desk.set_status(problem, "solved")
    with pytest.raises(TicketStateError, match="is solved"):
        desk.link_problem(other, problem)


# --- two desks on one store --------------------------------------------------------------------


def _two_desks(tmp_path: Path) -> tuple[SupportDesk, SupportDesk]:
    path = tmp_path / "shared.sqlite3"
    return tuple(  # type: ignore[return-value]
        SupportDesk(store=SqliteStore(path), clock=FrozenClock(T0), plugins=None) for _ in "ab"
    )


def _meanwhile(
    desk: SupportDesk, monkeypatch: pytest.MonkeyPatch, other: Callable[[], object]
) -> None:
    """Run *other* (another desk's whole action) once, after *desk* has checked its next link
    and before it commits it: the interleaving of two desks linking at the same instant."""
    record = desk._problems.link
    pending = [other]

    def link(problem: str, incident: str) -> None:
        while pending:
            pending.pop()()
        record(problem, incident)

    monkeypatch.setattr(desk._problems, "link", link)


def test_two_desks_linking_in_opposite_directions_make_no_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Desk A links a to b while desk B links b to a on the same SQLite file, each having
    checked the other ticket before either committed: the store decides. B's link stands, A's
    is undone (an unlinked event) with a ConcurrencyError, and no ticket is both."""
    first, second = _two_desks(tmp_path)
    a, b = _open(first, 0), _open(first, 1)
    _meanwhile(first, monkeypatch, lambda: second.link_problem(b, a))
    with pytest.raises(ConcurrencyError, match="undone"):
        first.link_problem(a, b)
    for desk in (first, second):
        assert (None, a) == (desk.ticket(a).problem, desk.ticket(b).problem)
        assert [b] == [t.id for t in desk.incidents(a)]
        assert [] == desk.incidents(b)
    assert ["linked_to_problem", "unlinked"] == [e.kind for e in first.events(a)][-2:]
    first.unlink_problem(b)
    first.link_problem(a, b)  # retried once the tickets allow it
    assert [a] == [t.id for t in second.incidents(b)]


def test_two_desks_linking_to_one_problem_at_once_lose_no_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two desks link two incidents to one problem at the same instant: both are listed by
    either desk (the lists are append-only, each slot written with compare-and-set), so the
    solve cascade reaches both."""
    first, second = _two_desks(tmp_path)
    problem, one, two = (_open(first, n) for n in range(3))
    _meanwhile(first, monkeypatch, lambda: second.link_problem(two, problem))
    first.link_problem(one, problem)
    for desk in (first, second):
        assert {one, two} == {t.id for t in desk.incidents(problem)}
    second.set_status(problem, "solved")
    assert ("solved", "solved") == (first.ticket(one).status, first.ticket(two).status)


# --- the cascade --------------------------------------------------------------------------------


def test_solving_the_problem_solves_its_incidents_through_the_outbox(desk: SupportDesk) -> None:
    problem = _open(desk, 0, subject="Export fails with a timeout")
    one, two, left = (_open(desk, n) for n in range(1, 4))
    for incident in (one, two):
        desk.link_problem(incident, problem)
    desk.set_status(two, "pending")
    desk.reply(problem, "fixed in 4.2", status="solved")
    for incident in (one, two):
        ticket = desk.ticket(incident)
        assert "solved" == ticket.status
        [note] = [e for e in desk.events(incident) if e.kind == "message" and e.by == "system"]
        assert note.data["public"]
        assert "(Export fails with a timeout) has been fixed" in note.data["body"]
    assert "new" == desk.ticket(left).status
    desk.deliver()
    sent = {reply.ticket.id: reply for reply in _channel(desk).sent}
    assert {one, two, problem} == set(sent)
    assert sent[one].automatic
    assert "has been fixed" in sent[one].body


def test_notify_mode_leaves_incidents_open_and_uses_its_template(desk: SupportDesk) -> None:
    desk.problem_settings = ProblemSettings(on_solve="notify", notified="$ticket: $problem fixed")
    problem, incident, done = (_open(desk, n) for n in range(3))
    desk.link_problem(incident, problem)
    desk.link_problem(done, problem)
    desk.set_status(done, "solved")
    desk.set_status(problem, "solved")
    assert "new" == desk.ticket(incident).status
    bodies = [e.data["body"] for e in desk.events(incident) if e.kind == "message"]
    assert f"{incident}: {problem} fixed" == bodies[-1]
    assert not [e for e in desk.events(done) if e.kind == "message" and e.by == "system"]


def test_an_unlinked_incident_is_left_alone(desk: SupportDesk) -> None:
    problem, incident = _open(desk, 0), _open(desk, 1)
    desk.link_problem(incident, problem)
    desk.unlink_problem(incident)
    desk.set_status(problem, "solved")
    assert "new" == desk.ticket(incident).status


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="'solve' or 'notify'"):
        ProblemSettings(on_solve="close")
    with pytest.raises(ConfigurationError, match="bad placeholder"):
        ProblemSettings(solved="$customer is happy")
    with pytest.raises(ConfigurationError, match="similarity"):
        ProblemSettings(similarity=0)


# --- the next step ------------------------------------------------------------------------------


def test_a_linked_incident_waits_on_the_problems_owner(desk: SupportDesk) -> None:
    problem, incident = _open(desk, 0), _open(desk, 1)
    desk.assign(problem, "eve", group="engineering")
    desk.link_problem(incident, problem)
    steps = {step.ticket_id: step for step in desk.next_steps()}
    step = steps[incident]
    assert ("engineering_fix", "engineering") == (step.action, step.waiting_on)
    assert (problem, "eve") == (step.problem, step.problem_owner)
    assert step.owned  # the next-step guarantee covers it through the problem's owner
    assert f"engineering fix pending on problem {problem}, owned by eve" == step.note
    desk.set_status(incident, "pending")  # the customer owes an answer first
    assert "customer_response" == {s.ticket_id: s for s in desk.next_steps()}[incident].action
    desk.set_status(incident, "open")
    desk.unlink_problem(incident)
    unlinked = {s.ticket_id: s for s in desk.next_steps()}[incident]
    assert (None, "") == (unlinked.problem, unlinked.note)


# --- duplicate suggestions ----------------------------------------------------------------------


def test_new_tickets_get_problem_suggestions_never_links(desk: SupportDesk) -> None:
    problem = _open(desk, 0, subject="CSV export times out", body="export to csv hangs then fails")
    desk.link_problem(_open(desk, 1), problem)
    alike = _open(desk, 2, subject="csv export times out again", body="the export to csv fails")
    unlike = _open(desk, 3, subject="invoice address", body="please change my billing address")
    [suggestion] = desk.problem_suggestions(alike)
    assert problem == suggestion.problem
    assert 0.5 < suggestion.score <= 1
    assert desk.ticket(alike).problem is None  # suggested only
    assert [] == desk.problem_suggestions(unlike)
    desk.set_status(problem, "solved")  # a solved problem is no longer suggested
    later = _open(desk, 4, subject="CSV export times out", body="export to csv hangs")
    assert [] == desk.problem_suggestions(later)


def test_suggestions_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with SupportDesk(store=SqliteStore(path), clock=FrozenClock(T0), plugins=None) as first:
        problem = _open(first, 0, subject="login loop on SSO")
        incident = _open(first, 1)
        first.link_problem(incident, problem)
        new = _open(first, 2, subject="SSO login loop")
        expected = first.problem_suggestions(new)
    clock = FrozenClock(T0 + timedelta(hours=1))
    with SupportDesk(store=SqliteStore(path), clock=clock, plugins=None) as second:
        assert expected == second.problem_suggestions(new)
        assert [problem] == [s.problem for s in expected]
        assert [incident] == [t.id for t in second.incidents(problem)]
