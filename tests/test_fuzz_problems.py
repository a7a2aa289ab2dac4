"""Fuzz the problem and incident entry points: only SupportkitError escapes, and a refused
link, unlink or lookup changes neither the event log nor the problem index."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from fuzzkit import Target, junk, kwargs_of, run, text
from supportkit import (
    EngineeringIssue,
    FeedbackAggregator,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    IssueUpdate,
    ProblemSettings,
    ProblemSuggestion,
    SupportDesk,
    feedback,
    hookimpl,
)


class Tracker:
    """An in-process supportkit.typing.IssueTracker: a webhook body is '<key> <state>'."""

    def create_issue(self, problem: Any, affected: Any) -> EngineeringIssue:
        return EngineeringIssue("t", f"T#{problem.id}")

    def link_issue(self, reference: str) -> EngineeringIssue:
        return EngineeringIssue("t", reference)

    def update_issue(self, issue: Any, affected: Any) -> None:
        pass

    def parse_webhook(self, body: bytes, headers: Any) -> list[IssueUpdate]:
        key, _, state = body.decode("utf-8", "replace").partition(" ")
        return [IssueUpdate(key, state)]

    @hookimpl
    def supportkit_register_issue_trackers(self, register: Any) -> None:
        register("t", self)


CLOCK = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
DESK = SupportDesk(store=InMemoryStore(), clock=CLOCK, plugins=[Tracker()])
IDS = [
    DESK.ingest(
        InboundMessage(f"m-{n}", "chat", f"v{n}@x", CLOCK.now(), subject=f"s {n}")
    ).ticket_id
    for n in range(4)
]
DESK.link_problem(IDS[1], IDS[0])
DESK.set_status(IDS[3], "solved")
DESK.escalate_to_engineering(IDS[0], "t")
DESK.deliver()  # IDS[0] is linked to issue T#<id>: webhooks below change its state
STATES = st.sampled_from(["open", "fixed", "released", "wont_fix"])
BODIES = st.one_of(STATES.map(lambda state: f"T#{IDS[0]} {state}".encode()), st.binary(), junk())
TICKETS = st.one_of(st.sampled_from(IDS), text(), junk())


@functools.cache
def _github_tracker() -> Any:
    """One tracker for every input (an httpx.Client per input, with its TLS context, cost about
    0.2 s of CPU each and was never closed)."""
    github = pytest.importorskip("supportkit_github")
    client = httpx.Client(base_url="http://127.0.0.1:9")  # never used: parsing only
    return github.GitHubTracker(client, "acme/app", secret="webhook-secret")


def _github_webhook(kw: dict[str, Any]) -> None:
    github = pytest.importorskip("supportkit_github")
    tracker = _github_tracker()
    body = kw["body"]
    if kw.pop("signed", False) and isinstance(body, bytes):
        signature = github.signature("webhook-secret", body)
        kw["headers"] = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature}
    tracker.parse_webhook(body, kw.get("headers", {}))


class HostSearch:
    """A supportkit_suggest_problems hookimpl answering whatever the fuzzer drew."""

    answer: Any = None

    @hookimpl
    def supportkit_suggest_problems(self, ticket: Any, text: str, threshold: float) -> Any:
        return self.answer


SEARCH = HostSearch()
SEARCHED = SupportDesk(store=InMemoryStore(), clock=CLOCK, plugins=[SEARCH])
SEARCHED_IDS = [
    SEARCHED.ingest(InboundMessage(f"p-{n}", "chat", f"p{n}@x", CLOCK.now(), subject="s")).ticket_id
    for n in range(2)
]


def _suggested_by_host(answer: Any) -> object:
    """Ingest a message while the host's search answers *answer*: never an error (a wrong
    answer falls back to the word overlap), and only open tickets are suggested."""
    SEARCH.answer = answer
    n = len(SEARCHED.store.ticket_ids())
    ticket_id = SEARCHED.ingest(
        InboundMessage(f"q-{n}", "chat", f"q{n}@x", CLOCK.now(), subject="s")
    ).ticket_id
    assert ticket_id is not None
    found = SEARCHED.problem_suggestions(ticket_id)
    assert all(s.problem in SEARCHED_IDS for s in found), found
    return found


def _contents(_kw: Any) -> object:
    index = {p: DESK._problems.incidents(p) for p in DESK._problems.problems()}
    return [e.to_dict() for e in DESK.store.read_all()], index


TARGETS: dict[str, Target] = {
    "SupportDesk.link_problem": Target(
        kwargs_of({"ticket_id": TICKETS, "problem_id": TICKETS}, {"actor": junk()}),
        lambda kw: DESK.link_problem(kw.pop("ticket_id"), kw.pop("problem_id"), **kw),
        state=_contents,
        examples=200,
    ),
    "SupportDesk.unlink_problem": Target(
        kwargs_of({"ticket_id": TICKETS}, {"actor": junk()}),
        lambda kw: DESK.unlink_problem(kw.pop("ticket_id"), **kw),
        state=_contents,
        examples=100,
    ),
    "SupportDesk.incidents": Target(TICKETS, DESK.incidents, state=_contents, examples=100),
    "SupportDesk.problem_suggestions": Target(
        TICKETS, DESK.problem_suggestions, state=_contents, examples=100
    ),
    "SupportDesk.escalate_to_engineering": Target(
        kwargs_of({"problem_id": TICKETS, "tracker": st.one_of(st.just("t"), junk())}),
        lambda kw: DESK.escalate_to_engineering(kw["problem_id"], kw["tracker"]),
        state=_contents,
        examples=100,
    ),
    "SupportDesk.link_engineering_issue": Target(
        kwargs_of(
            {"problem_id": TICKETS, "tracker": st.one_of(st.just("t"), junk()), "ref": junk()}
        ),
        lambda kw: DESK.link_engineering_issue(kw["problem_id"], kw["tracker"], kw["ref"]),
        state=_contents,
        examples=100,
    ),
    "SupportDesk.receive_issue_webhook": Target(
        kwargs_of(
            {"tracker": st.one_of(st.just("t"), junk()), "body": BODIES},
            {"headers": junk()},
        ),
        lambda kw: DESK.receive_issue_webhook(kw.pop("tracker"), kw.pop("body"), **kw),
        state=_contents,
        examples=200,
    ),
    "feedback": Target(
        kwargs_of(
            {"events": st.one_of(st.just(DESK.store.read_all()), junk()), "now": junk()},
            {"window": junk(), "weights": junk(), "top": junk(), "sessions": junk()},
        ),
        lambda kw: feedback(kw.pop("events"), **kw),
        examples=200,
    ),
    "FeedbackAggregator.update_sessions": Target(
        st.one_of(st.lists(junk(), max_size=3), junk()),
        lambda sessions: FeedbackAggregator(
            now=CLOCK.now(), window=timedelta(days=7)
        ).update_sessions(sessions),
        examples=200,
    ),
    "SupportDesk.affected_customers": Target(
        TICKETS, DESK.affected_customers, state=_contents, examples=100
    ),
    "GitHubTracker.parse_webhook": Target(
        kwargs_of(
            {"body": st.one_of(st.binary(), st.text().map(str.encode), junk())},
            {"headers": junk(), "signed": st.booleans()},
        ),
        _github_webhook,
        examples=200,
    ),
    "supportkit_suggest_problems": Target(
        st.one_of(
            st.lists(
                st.builds(
                    ProblemSuggestion,
                    st.one_of(st.sampled_from(SEARCHED_IDS), text(), junk()),
                    st.one_of(st.floats(), junk()),
                    st.one_of(st.tuples(text()), junk()),
                ),
                max_size=3,
            ),
            junk(),
        ),
        _suggested_by_host,
        examples=100,
    ),
    "ProblemSettings": Target(
        kwargs_of(
            {},
            {
                "on_solve": junk(),
                "solved": junk(),
                "notified": junk(),
                "similarity": junk(),
                "wont_fix": st.one_of(text(), junk()),
            },
        ),
        lambda kw: ProblemSettings(**kw),
        examples=200,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Junk in, a typed error (or a result) out, for each entry point."""
    run(name, TARGETS[name])
