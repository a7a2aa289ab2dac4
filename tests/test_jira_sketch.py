"""The Jira sketch of docs/plugins/jira.md against a loopback server speaking Jira Cloud's REST
API v3 JSON: creation through the outbox while Jira answers 503, no second issue after a
crash, links and their 404, figure updates as incidents link, and signed webhooks."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from supportkit import (
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SupportDesk,
    Tier,
    hookimpl,
)
from supportkit.testing.http import send, serve

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TOKEN, SECRET = "jira-api-token", "jira-webhook-secret"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "jira.md"

SKETCH: dict[str, Any] = {"__name__": "jira_sketch"}
_CODE = re.compile(r"^```python\n(.*?)^```", re.S | re.M).findall(PAGE.read_text("utf-8"))[0]
exec(compile(_CODE, f"{PAGE.name}[block 1]", "exec"), SKETCH)  # the page's sketch, as printed


class Jira:
    """The issues of one Jira Cloud project, answering as its REST API v3 does."""

    def __init__(self) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail: int | None = None
        self.lose_answer = False  # create the next issue, then answer 504 (the answer is lost)
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        jira = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                with jira.lock:
                    jira.requests.append((self.command, self.path))
                    status, body = jira.route(self.command, self.path, payload, self.headers)
                data = b"" if body is None else json.dumps(body).encode()
                send(self, status, data, {"Content-Type": "application/json"})

            do_GET = do_POST = do_PUT = _answer

        return Handler

    def route(self, method: str, target: str, payload: Any, headers: Any) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"errorMessages": ["You are not authenticated."]}
        if self.fail is not None:
            return self.fail, {"errorMessages": ["Service unavailable"]}
        url = urlsplit(target)
        query = parse_qs(url.query)
        if url.path == "/rest/api/3/search/jql" and method == "GET":
            label = query["jql"][0].rsplit('"', 2)[-2]
            found = [{"id": i["id"], "key": k} for k, i in self.issues.items()
                     if label in i["fields"]["labels"]]  # fmt: skip
            return 200, {"issues": found, "isLast": True}
        if url.path == "/rest/api/3/issue" and method == "POST":
            fields = payload["fields"]
            if not fields.get("summary") or fields["project"] != {"key": "ACME"}:
                return 400, {"errors": {"summary": "You must specify a summary of the issue."}}
            key = f"ACME-{len(self.issues) + 1}"
            ident = str(10000 + len(self.issues))
            fields = {"resolution": None, "fixVersions": [], **fields}
            self.issues[key] = {"id": ident, "key": key, "fields": fields}
            if self.lose_answer:
                self.lose_answer = False
                return 504, {"errorMessages": ["Gateway timeout"]}
            return 201, {"id": ident, "key": key, "self": f"/rest/api/3/issue/{ident}"}
        issue = self.issues.get(url.path.rsplit("/", 1)[-1])
        if not url.path.startswith("/rest/api/3/issue/") or issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission."]}
        if method == "PUT":
            issue["fields"].update(payload["fields"])
            return 204, None
        wanted = query.get("fields", [""])[0].split(",")
        return 200, {**issue, "fields": {k: v for k, v in issue["fields"].items() if k in wanted}}


class Revenue:
    """Customers' yearly revenue, for the value field."""

    @hookimpl
    def supportkit_lookup_value(self, customer: Any) -> float | None:
        return {"c0@example.com": 90_000.0, "c1@example.com": 10_000.0}.get(customer.id)


@pytest.fixture
def jira() -> Iterator[tuple[Jira, str]]:
    server = Jira()
    with serve(server.handler()) as url:
        yield server, url


@pytest.fixture
def desk(jira: tuple[Jira, str]) -> Iterator[SupportDesk]:
    client = httpx.Client(base_url=jira[1], headers={"Authorization": f"Bearer {TOKEN}"})
    clock = FrozenClock(T0)
    tracker = SKETCH["JiraTracker"](client, "ACME", secret=SECRET, clock=clock,
                                    weight_field="customfield_10050",
                                    value_field="customfield_10051")  # fmt: skip
    tiers = [Tier("gold", weight=10), Tier("silver", weight=3)]
    plugins = [tracker, Revenue()]
    with SupportDesk(store=InMemoryStore(), clock=clock, plugins=plugins, tiers=tiers) as made:
        yield made
    client.close()


def _open(desk: SupportDesk, n: int, tier: str | None = None) -> str:
    message = InboundMessage(f"m-{n}", "email", f"c{n}@example.com", T0, subject=f"Crash {n}")
    ticket_id = desk.ingest(message).ticket_id
    assert ticket_id is not None
    if tier is not None:
        desk.set_tier(ticket_id, tier)
    return ticket_id


def _later(desk: SupportDesk, minutes: int = 60) -> None:
    assert isinstance(desk.clock, FrozenClock)
    desk.clock.advance(timedelta(minutes=minutes))


def _webhook(key: str, fields: dict[str, Any], changed: str) -> tuple[bytes, dict[str, str]]:
    event = {"webhookEvent": "jira:issue_updated", "issue": {"key": key, "fields": fields},
             "changelog": {"items": [{"field": changed}]}}  # fmt: skip
    body = json.dumps(event).encode()
    return body, {"X-Hub-Signature": SKETCH["jira_signature"](SECRET, body)}


def test_an_issue_is_created_once_jira_answers_again(
    desk: SupportDesk, jira: tuple[Jira, str]
) -> None:
    """While Jira answers 503 the escalation goes through and the outbox retries; then one
    issue is created in ACME with the labels, the description and the number fields."""
    server = jira[0]
    server.fail = 503
    problem = _open(desk, 0, "gold")
    desk.escalate_to_engineering(problem, "jira")
    assert 1 == len(desk.deliver().retried)
    server.fail = None
    _later(desk)
    desk.deliver()
    issue = desk.engineering_issue(problem)
    assert issue is not None
    assert ("ACME-1", f"{jira[1]}/browse/ACME-1", "open") == (issue.key, issue.url, issue.state)
    fields = server.issues["ACME-1"]["fields"]
    assert (["support", f"supportkit-{problem}"], "Crash 0") == (
        fields["labels"],
        fields["summary"],
    )
    assert (10, 90_000.0) == (fields["customfield_10050"], fields["customfield_10051"])
    text = fields["description"]["content"][0]["content"][0]["text"]
    assert "Affected customers: 1 customers (1 top tier), weight 10, value 90000" in text


def test_a_creation_whose_answer_was_lost_is_found_by_its_label(
    desk: SupportDesk, jira: tuple[Jira, str]
) -> None:
    """Jira created the issue but its answer was lost (504): the outbox retries, and the
    retry finds the issue by its supportkit label instead of creating a second one."""
    server = jira[0]
    server.lose_answer = True
    problem = _open(desk, 0)
    desk.escalate_to_engineering(problem, "jira")
    assert 1 == len(desk.deliver().retried)
    assert (["ACME-1"], None) == (list(server.issues), desk.engineering_issue(problem))
    _later(desk)
    desk.deliver()
    assert ["ACME-1"] == list(server.issues)
    assert "ACME-1" == desk.engineering_issue(problem).key  # type: ignore[union-attr]
    assert 1 == sum(1 for method, _ in server.requests if method == "POST")


def test_links_updates_and_a_missing_issue(desk: SupportDesk, jira: tuple[Jira, str]) -> None:
    """An existing issue is linked by its URL and gets the figures, updated as incidents
    link; an unknown key is Jira's 404, a dead letter that links nothing."""
    server = jira[0]
    first = _open(desk, 0)
    desk.escalate_to_engineering(first, "jira")
    desk.deliver()
    second = _open(desk, 1, "silver")
    desk.link_engineering_issue(second, "jira", f"{jira[1]}/browse/ACME-1")
    desk.deliver()
    assert "ACME-1" == desk.engineering_issue(second).key  # type: ignore[union-attr]
    desk.link_problem(_open(desk, 2, "gold"), second)
    desk.deliver()
    fields = server.issues["ACME-1"]["fields"]
    assert (13, 10_000.0) == (fields["customfield_10050"], fields["customfield_10051"])
    third = _open(desk, 3)
    desk.link_engineering_issue(third, "jira", "ACME-99")
    assert 1 == len(desk.deliver().dead)
    assert desk.engineering_issue(third) is None


def test_signed_webhooks_move_the_problem(desk: SupportDesk) -> None:
    """Resolved as Done solves the problem and its incident; a released fix version is
    'released'; Won't Do leaves it open; other edits and bad signatures change nothing."""
    problem, incident = _open(desk, 0), _open(desk, 1)
    desk.link_problem(incident, problem)
    desk.escalate_to_engineering(problem, "jira")
    desk.deliver()
    edit = _webhook("ACME-1", {"resolution": None}, "description")
    assert [] == desk.receive_issue_webhook("jira", *edit)
    body, headers = _webhook("ACME-1", {"resolution": {"name": "Won't Do"}}, "resolution")
    for bad in ({"X-Hub-Signature": SKETCH["jira_signature"]("guess", body)}, {}):
        with pytest.raises(EventError, match="X-Hub-Signature") as refused:
            desk.receive_issue_webhook("jira", body, bad)
        assert "X-Hub-Signature" == refused.value.field
    assert ["wont_fix"] == [u.state for u in desk.receive_issue_webhook("jira", body, headers)]
    assert "new" == desk.ticket(problem).status
    released = {"resolution": {"name": "Done"}, "fixVersions": [{"name": "4.2", "released": True}]}
    updates = desk.receive_issue_webhook("jira", *_webhook("ACME-1", released, "Fix Version"))
    assert ["released"] == [u.state for u in updates]
    assert ("solved", "solved") == (desk.ticket(problem).status, desk.ticket(incident).status)
