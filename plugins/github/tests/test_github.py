"""supportkit-github against a loopback server speaking GitHub's Issues JSON shapes: create,
link, body updates as incidents link, signed webhooks (a bad signature is refused) that solve
the problem and its incidents, and error statuses mapped for the outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supportkit_github import GitHubTracker, signature

from supportkit import (
    ConfigurationError,
    EngineeringIssue,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    StoreError,
    SupportDesk,
    TicketStateError,
    Tier,
)
from supportkit.testing.http import send, serve

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TOKEN, SECRET, REPO = "ghp_test_token", "webhook-secret-1", "acme/app"


class GitHub:
    """The issues of one repository, as GitHub's REST API keeps them."""

    def __init__(self) -> None:
        self.issues: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        self.fail: int | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        github = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                with github.lock:
                    github.requests.append((method, self.path, payload))
                    status, body = github.route(method, self.path, payload, self.headers)
                send(self, status, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PATCH(self) -> None:
                self._answer("PATCH")

        return Handler

    def route(self, method: str, path: str, payload: Any, headers: Any) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}
        if self.fail is not None:
            return self.fail, {"message": "Server Error"}
        prefix = f"/repos/{REPO}/issues"
        url = urlsplit(path)
        if method == "GET" and url.path == prefix:  # newest first, filtered by labels
            query = parse_qs(url.query)
            wanted = set(query.get("labels", [""])[0].split(",")) - {""}
            listed = [i for i in reversed(self.issues.values())
                      if wanted <= {label["name"] for label in i["labels"]}]  # fmt: skip
            return 200, listed[: int(query.get("per_page", ["30"])[0])]
        if method == "POST" and path == prefix:
            if not payload.get("title"):
                return 422, {"message": "Validation Failed"}
            number = len(self.issues) + 1
            self.issues[number] = {
                "number": number,
                "html_url": f"https://github.com/{REPO}/issues/{number}",
                "title": payload["title"],
                "body": payload.get("body"),
                "labels": [{"name": n} for n in payload.get("labels", [])],
                "state": "open",
                "state_reason": None,
            }
            return 201, self.issues[number]
        if path.startswith(prefix + "/"):
            issue = self.issues.get(int(path.rsplit("/", 1)[1]))
            if issue is None:
                return 404, {"message": "Not Found"}
            if method == "PATCH":
                issue.update(payload)
            return 200, issue
        return 404, {"message": "Not Found"}


@pytest.fixture
def github() -> Iterator[tuple[GitHub, str]]:
    server = GitHub()
    with serve(server.handler()) as url:
        yield server, url


@pytest.fixture
def desk(github: tuple[GitHub, str]) -> Iterator[SupportDesk]:
    client = httpx.Client(base_url=github[1], headers={"Authorization": f"Bearer {TOKEN}"})
    tracker = GitHubTracker(client, REPO, secret=SECRET)
    tiers = [Tier("gold", weight=10), Tier("silver", weight=3)]
    with SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0), plugins=[tracker],
                     tiers=tiers) as desk:  # fmt: skip
        yield desk
    client.close()


def _open(desk: SupportDesk, n: int, tier: str | None = None) -> str:
    message = InboundMessage(f"m-{n}", "email", f"c{n}@example.com", T0, subject=f"Crash {n}")
    ticket_id = desk.ingest(message).ticket_id
    assert ticket_id is not None
    if tier is not None:
        desk.set_tier(ticket_id, tier)
    return ticket_id


def _delivery(action: str, number: int, **extra: Any) -> tuple[bytes, dict[str, str]]:
    issue = {"number": number, "state_reason": extra.pop("reason", None)}
    event = {"action": action, "issue": issue, "repository": {"full_name": REPO}, **extra}
    body = json.dumps(event).encode()
    return body, {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature(SECRET, body)}


def _escalate(desk: SupportDesk, problem: str, reference: str | None = None) -> EngineeringIssue:
    """Ask for the problem's issue and let the outbox deliver the request."""
    if reference is None:
        desk.escalate_to_engineering(problem, "github", actor="ann")
    else:
        desk.link_engineering_issue(problem, "github", reference)
    desk.deliver()
    issue = desk.engineering_issue(problem)
    assert issue is not None
    return issue


def test_escalation_creates_an_issue_carrying_tiers_and_weight(
    desk: SupportDesk, github: tuple[GitHub, str]
) -> None:
    """The outbox creates the issue with the affected customers; each incident linked later
    rewrites that section of its body; a second escalation is refused."""
    server = github[0]
    problem = _open(desk, 0, "gold")
    issue = _escalate(desk, problem)
    assert (f"{REPO}#1", "github", "open") == (issue.key, issue.tracker, issue.state)
    assert f"https://github.com/{REPO}/issues/1" == issue.url
    assert "engineering" == desk.ticket(problem).escalation_level  # counted as escalated
    body = server.issues[1]["body"]
    assert "**Affected customers:** 1 (top tier: 1, weight: 10)" in body
    assert "Crash 0" == server.issues[1]["title"]
    assert [{"name": "support"}] == server.issues[1]["labels"]
    for n, tier in ((1, "silver"), (2, "gold")):
        desk.link_problem(_open(desk, n, tier), problem)
    desk.deliver()
    body = server.issues[1]["body"]
    assert "**Affected customers:** 3 (top tier: 2, weight: 23)" in body
    assert "| gold | 2 |" in body
    assert "| silver | 1 |" in body
    assert body.count("Affected customers") == 1  # the section is replaced, not appended
    notes = [e.data["body"] for e in desk.events(problem) if e.kind == "message"]
    assert f"Engineering issue {REPO}#1 {issue.url}." in notes
    with pytest.raises(TicketStateError, match="already"):
        desk.escalate_to_engineering(problem, "github")


def test_a_github_outage_never_fails_the_agent_and_the_outbox_retries(
    desk: SupportDesk, github: tuple[GitHub, str]
) -> None:
    """While GitHub answers 502 the escalation and the links still succeed (their tracker
    calls wait in the outbox, retried with backoff); once GitHub answers again the issue is
    created once, with the figures as they are then."""
    server = github[0]
    server.fail = 502
    problem = _open(desk, 0, "gold")
    desk.escalate_to_engineering(problem, "github", actor="ann")  # does not raise
    assert "engineering" == desk.ticket(problem).escalation_level
    result = desk.deliver()
    assert 1 == len(result.retried)
    assert "502" in (desk.outbox("pending")[0].last_error or "")
    desk.link_problem(_open(desk, 1, "silver"), problem)  # does not raise either
    assert desk.engineering_issue(problem) is None
    server.fail = None
    clock = desk.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=1))  # past the backoff
    desk.deliver()
    assert [] == [m for m in desk.outbox("pending") if m.topic == "issue_tracker"]
    posts = [m for m, path, _ in server.requests if m == "POST" and path.endswith("/issues")]
    assert (1, [1]) == (len(posts), list(server.issues))  # the 502 answered the look-up
    assert "**Affected customers:** 2 (top tier: 1, weight: 13)" in server.issues[1]["body"]
    assert f"{REPO}#1" == desk.engineering_issue(problem).key  # type: ignore[union-attr]


def test_a_redelivered_request_creates_no_second_issue(
    desk: SupportDesk, github: tuple[GitHub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At least once: a worker that dies after GitHub created the issue but before the outbox
    recorded the delivery leaves the row to be delivered again, which finds the issue linked
    and creates nothing."""
    server = github[0]
    problem = _open(desk, 0)
    desk.escalate_to_engineering(problem, "github")
    settle = desk.store.settle_outbox

    def crash(*args: object, **kwargs: object) -> None:
        raise StoreError("the worker died before recording the delivery")

    monkeypatch.setattr(desk.store, "settle_outbox", crash)
    with pytest.raises(StoreError):
        desk.deliver()
    monkeypatch.setattr(desk.store, "settle_outbox", settle)
    clock = desk.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=10))  # past the lease
    delivered = desk.deliver().delivered
    assert 1 == len([key for key in delivered if key.startswith("issue:")])
    assert 1 == sum(1 for m, path, _ in server.requests if m == "POST" and path.endswith("/issues"))
    assert [1] == list(server.issues)


def test_a_creation_github_made_but_the_desk_never_recorded_is_found(
    desk: SupportDesk, github: tuple[GitHub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idempotent on GitHub's side: a worker dies after GitHub created the issue and before the
    desk recorded the link; the redelivery finds the issue by the marker in its body (among
    the newest issues labelled support) and opens no second one."""
    server = github[0]
    problem = _open(desk, 0)
    desk.escalate_to_engineering(problem, "github")
    state = desk.plugin_state("supportkit.engineering")
    put = type(state).put

    def crash(self: Any, key: str, value: Any, **kw: Any) -> None:
        if key.startswith("problem:"):
            raise StoreError("the worker died before recording the issue")
        put(self, key, value, **kw)

    monkeypatch.setattr(type(state), "put", crash)
    assert 1 == len(desk.deliver().retried)
    monkeypatch.setattr(type(state), "put", put)
    assert [1] == list(server.issues)
    assert f"<!-- supportkit:problem:{problem} -->" in server.issues[1]["body"]
    clock = desk.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=1))
    desk.deliver()
    assert [1] == list(server.issues)
    assert f"{REPO}#1" == desk.engineering_issue(problem).key  # type: ignore[union-attr]
    other = _open(desk, 1)  # another problem still gets its own issue
    desk.escalate_to_engineering(other, "github")
    desk.deliver()
    assert [1, 2] == list(server.issues)


def test_linking_an_existing_issue(desk: SupportDesk, github: tuple[GitHub, str]) -> None:
    """An existing issue is read and gets the figures; a missing one (404) and a reference
    of another repository are dead letters, linking nothing."""
    server = github[0]
    first = _open(desk, 0)
    _escalate(desk, first)
    second = _open(desk, 1, "silver")
    issue = _escalate(desk, second, f"https://github.com/{REPO}/issues/1")
    assert f"{REPO}#1" == issue.key
    assert "(top tier: 0, weight: 3)" in server.issues[1]["body"]
    third = _open(desk, 2)
    desk.link_engineering_issue(third, "github", "#99")
    [dead] = desk.deliver().dead
    assert "404" in desk.outbox("dead")[0].last_error  # type: ignore[operator]
    assert desk.engineering_issue(third) is None
    desk.link_engineering_issue(third, "github", "other/repo#1")
    assert 1 == len(desk.deliver().dead)
    assert desk.engineering_issue(third) is None
    assert dead.startswith("issue:")


def test_a_signed_webhook_solves_the_problem_and_its_incidents(desk: SupportDesk) -> None:
    problem = _open(desk, 0, "gold")
    incident = _open(desk, 1)
    desk.link_problem(incident, problem)
    _escalate(desk, problem)
    body, headers = _delivery("closed", 1, reason="completed")
    [update] = desk.receive_issue_webhook("github", body, headers)
    assert (f"{REPO}#1", "fixed") == (update.key, update.state)
    assert "fixed" == desk.engineering_issue(problem).state  # type: ignore[union-attr]
    assert "solved" == desk.ticket(problem).status
    assert "solved" == desk.ticket(incident).status
    notes = [e.data["body"] for e in desk.events(problem) if e.kind == "message"]
    assert f"Engineering issue {REPO}#1 is now fixed." in notes


def test_wont_fix_is_noted_and_leaves_the_problem_open(desk: SupportDesk) -> None:
    problem = _open(desk, 0)
    _escalate(desk, problem)
    assert [] == desk.receive_issue_webhook("github", *_delivery("closed", 7))  # not ours
    desk.receive_issue_webhook("github", *_delivery("closed", 1, reason="not_planned"))
    assert "new" == desk.ticket(problem).status
    assert "wont_fix" == desk.engineering_issue(problem).state  # type: ignore[union-attr]
    body, headers = _delivery("labeled", 1, label={"name": "released"})
    assert ["released"] == [u.state for u in desk.receive_issue_webhook("github", body, headers)]
    assert "solved" == desk.ticket(problem).status


def test_a_secret_that_is_not_unicode_is_a_configuration_error() -> None:
    """A lone surrogate in the secret is refused when the tracker is made (it raised
    UnicodeEncodeError at the first webhook; found by the full fuzz run)."""
    with pytest.raises(ConfigurationError, match="valid Unicode"):
        GitHubTracker(httpx.Client(), REPO, secret="secret-\ud800")


def test_a_bad_signature_is_refused_and_changes_nothing(desk: SupportDesk) -> None:
    problem = _open(desk, 0)
    _escalate(desk, problem)
    version = desk.store.version(problem)
    body, headers = _delivery("closed", 1)
    for bad in ({**headers, "X-Hub-Signature-256": signature("wrong-secret", body)},
                {**headers, "X-Hub-Signature-256": "sha256=\ud800"},  # UnicodeEncodeError before
                {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}):  # fmt: skip
        with pytest.raises(EventError, match="X-Hub-Signature-256") as refused:
            desk.receive_issue_webhook("github", body, bad)
        assert "X-Hub-Signature-256" == refused.value.field
    with pytest.raises(EventError, match="X-Hub-Signature-256"):
        desk.receive_issue_webhook("github", body + b" ", headers)  # tampered body
    assert version == desk.store.version(problem)
    assert "open" == desk.engineering_issue(problem).state  # type: ignore[union-attr]
