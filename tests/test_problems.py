"""Problems and incidents: link rules (valid and refused), the solve cascade through the
outbox, the next step of a linked incident, and duplicate suggestions on ingest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import (
    ConcurrencyError,
    ConfigurationError,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    ProblemSettings,
    ProblemSuggestion,
    SqliteStore,
    SupportDesk,
    Ticket,
    TicketEvent,
    TicketStateError,
    hookimpl,
)
from supportkit._problems import ProblemIndex, score, words
from supportkit.testing import FakeChannel

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> SupportDesk:
    store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "d.sqlite3")
    # "mail", not "email": supportkit-email, where installed, registers the "email" channel
    channel = FakeChannel("mail")
    return SupportDesk(store=store, clock=FrozenClock(T0), plugins=[channel])


def _open(desk: SupportDesk, n: int, subject: str = "", body: str = "", **kw: object) -> str:
    message = InboundMessage(
        f"m-{n}",
        "mail",
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


def test_metrics_group_incidents_by_their_problem(desk: SupportDesk) -> None:
    """The "problem" grouping counts each problem's incidents (an unlinked incident leaves
    its problem's row); report.row("problem", id) holds one problem's incidents alone."""
    problem, other = _open(desk, 0), _open(desk, 1)
    one, two, three = (_open(desk, n) for n in (2, 3, 4))
    desk.link_problem(one, problem)
    desk.link_problem(two, problem)
    desk.link_problem(three, other)
    desk.unlink_problem(three)
    desk.set_status(one, "solved")
    report = desk.metrics(["problem"])
    incidents = {row.key: row["incoming"] for row in report.table("problem")}
    assert {(problem,): 2, (None,): 3} == incidents
    assert (2, 1, 1) == tuple(
        report.row("problem", problem)[m] for m in ("incoming", "solved", "backlog")
    )


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


def test_an_incident_stops_waiting_on_engineering_once_its_problem_is_solved(
    desk: SupportDesk,
) -> None:
    """In notify mode the incident stays open after the fix: its next step is an agent's
    again (confirm with the customer), not "engineering fix pending" on a solved problem."""
    desk.problem_settings = ProblemSettings(on_solve="notify")
    problem, incident = _open(desk, 0), _open(desk, 1)
    desk.assign(problem, "eve")
    desk.assign(incident, "ann")
    desk.link_problem(incident, problem)
    desk.set_status(problem, "solved")
    [step] = [s for s in desk.next_steps() if s.ticket_id == incident]
    assert ("reply", "agent", "ann", "") == (step.action, step.waiting_on, step.owner, step.note)
    assert problem == step.problem  # still linked, for the record
    desk.set_status(problem, "open")  # reopened: the fix is pending again
    [step] = [s for s in desk.next_steps() if s.ticket_id == incident]
    assert "engineering_fix" == step.action


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


class _HostSearch:
    """A supportkit_suggest_problems hookimpl standing in for a host's own search: it answers
    with *answer* (a callable of the ticket and text), and records what it was asked."""

    def __init__(self, answer: Callable[[Ticket, str], object]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, float]] = []

    @hookimpl
    def supportkit_suggest_problems(self, ticket: Ticket, text: str, threshold: float) -> object:
        self.asked.append((ticket.id, text, threshold))
        return self.answer(ticket, text)


def test_a_host_search_suggests_problems_first(desk: SupportDesk) -> None:
    """A supportkit_suggest_problems answer is recorded as the suggestions (open problems only,
    never the ticket itself), where the word overlap finds nothing."""
    problem = _open(desk, 0, subject="CSV export times out")
    done = _open(desk, 1, subject="old")
    desk.set_status(done, "solved")
    found: list[ProblemSuggestion] = []
    search = _HostSearch(lambda ticket, text: found)
    desk.plugins.host.register(search)
    found[:] = [
        ProblemSuggestion(problem, 0.91, ("vector 0.91",)),
        ProblemSuggestion(done, 0.9, ()),  # solved: left out
        ProblemSuggestion("T-nope", 0.8, ()),  # no such ticket: left out
        ProblemSuggestion("", 0.7, ()),  # not a ticket id: left out
    ]
    ticket = _open(desk, 2, subject="spreadsheet download stalls", body="no words in common")
    assert [ProblemSuggestion(problem, 0.91, ("vector 0.91",))] == desk.problem_suggestions(ticket)
    assert (ticket, "spreadsheet download stalls\nno words in common", 0.3) == search.asked[-1]
    search.answer = lambda ticket, text: [ProblemSuggestion(ticket.id, 1.0, ())]
    assert [] == desk.problem_suggestions(_open(desk, 3, subject="x"))  # never itself
    # An empty answer suggests nothing, even where the word overlap would.
    search.answer = lambda ticket, text: []
    assert [] == desk.problem_suggestions(_open(desk, 5, subject="CSV export times out"))


@pytest.mark.parametrize("answer", [None, "junk", [ProblemSuggestion("T-1", True, ())], "raise"])
def test_the_word_overlap_answers_when_the_host_does_not(desk: SupportDesk, answer: object) -> None:
    """None falls back to the word overlap; a wrong answer or a failing hookimpl is logged and
    the word overlap answers too (the message is never lost)."""

    def reply(ticket: Ticket, text: str) -> object:
        if answer == "raise":
            raise RuntimeError("search is down")
        return answer

    desk.plugins.host.register(_HostSearch(reply))
    problem = _open(desk, 0, subject="CSV export times out", body="export to csv hangs")
    desk.link_problem(_open(desk, 1), problem)
    alike = _open(desk, 2, subject="csv export times out again", body="export to csv hangs")
    assert [problem] == [s.problem for s in desk.problem_suggestions(alike)]


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


# --- the suggestion index -------------------------------------------------------------------------


class _State:
    """A dict as supportkit.typing.PluginState (get and put_new are all the index uses)."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def get(self, key: str) -> object:
        return self.values.get(key)

    def put_new(self, key: str, value: object) -> bool:
        return self.values.setdefault(key, value) is value


_WORDS = st.lists(st.sampled_from(["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"]), max_size=8)


@st.composite
def _tickets(draw: st.DrawFn, ident: str) -> tuple[Ticket, str]:
    created = TicketEvent(
        "created",
        ticket_id=ident,
        at=T0,
        data={
            "subject": " ".join(draw(_WORDS)),
            "tags": draw(st.lists(st.sampled_from(["x", "y", "z"]), max_size=2)),
            "group": draw(st.sampled_from([None, "g1", "g2"])),
        },
    )
    events = [created]
    if draw(st.booleans()):
        events.append(TicketEvent("status_changed", ticket_id=ident, at=T0, data={"to": "solved"}))
    return Ticket.from_events(events), " ".join(draw(_WORDS))


@settings(max_examples=300, deadline=None)
@given(
    problems=st.lists(_tickets("P"), max_size=12),
    new=_tickets("T-new"),
    threshold=st.sampled_from([0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0]),
)
def test_the_index_suggests_exactly_what_scoring_every_problem_would(
    problems: list[tuple[Ticket, str]], new: tuple[Ticket, str], threshold: float
) -> None:
    """The indexed suggestion (candidates by rare words, tags and group) equals the plain
    definition: every open problem scored, those at or above the threshold, best first."""
    tickets = {f"P{n}": attrs.evolve(t, id=f"P{n}") for n, (t, _) in enumerate(problems)}
    texts = {f"P{n}": text for n, (_, text) in enumerate(problems)}
    index = ProblemIndex(_State())  # type: ignore[arg-type]
    for n in range(len(problems)):
        index.link(f"P{n}", f"I{n}")
    ticket, body = new
    found = index.suggest(ticket, body, threshold, tickets.__getitem__, texts.__getitem__)
    mine = words(f"{ticket.subject} {body}")
    every = [
        score(ticket, mine, p, words(f"{p.subject} {texts[p.id]}"))
        for p in tickets.values()
        if p.status not in ("solved", "closed")
    ]
    expected = sorted(
        (s for s in every if s.score >= threshold), key=lambda s: (-s.score, s.problem)
    )
    assert expected == found


def test_a_low_threshold_finds_problems_by_their_group_alone() -> None:
    """With a threshold of 0.1 or less, a problem sharing only the group (score 0.1) is
    suggested, though it shares no word or tag with the ticket."""
    index = ProblemIndex(_State())  # type: ignore[arg-type]
    index.link("P", "I")

    def ticket(ident: str, subject: str) -> Ticket:
        data = {"subject": subject, "group": "billing"}
        return Ticket.from_events([TicketEvent("created", ticket_id=ident, at=T0, data=data)])

    problem = ticket("P", "refund never arrived")
    [found] = index.suggest(ticket("T", "login loop"), "", 0.1, lambda _: problem, lambda _: "")
    assert ("P", 0.1, ("text 0.00", "group billing")) == (found.problem, found.score, found.reasons)
    assert [] == index.suggest(ticket("T", "login loop"), "", 0.2, lambda _: problem, lambda _: "")
