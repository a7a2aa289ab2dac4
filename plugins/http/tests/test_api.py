"""The JSON API: read and write endpoints, bearer tokens with scopes, the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from http_support import SECRET, client, message, signed
from openapi_spec_validator import validate
from supportkit_http import create_app, hash_token

from supportkit import ConfigurationError, FrozenClock, InboundMessage, SupportDesk

pytestmark = pytest.mark.anyio

READ, ACT, ADMIN, CHAT = "read-token", "act-token", "admin-token", "chat-token"
TOKENS = {
    hash_token(READ): ["read"],
    hash_token(ACT): ["act"],
    hash_token(ADMIN): ["admin"],
    hash_token(CHAT): ["chat"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed(desk: SupportDesk, clock: FrozenClock) -> list[str]:
    """Three tickets: a normal one, an urgent one (due first) and one an agent answered."""
    ids = []
    for n, priority in enumerate(["normal", "urgent", "normal"]):
        result = desk.ingest(
            InboundMessage(
                message_id=f"m-{n}",
                channel="email",
                sender=f"c{n}@example.com",
                at=clock.now(),
                subject=f"question {n}",
                priority=priority,
            )
        )
        ids.append(result.ticket_id)
        clock.advance(minutes=1)
    desk.reply(ids[2], "Done, see attached", agent="grace", status="solved")
    return ids


async def test_ticket_with_events_and_sla(desk: SupportDesk, clock: FrozenClock) -> None:
    """GET /api/tickets/{id}: the ticket, its events and its SLA evaluation now."""
    ids = seed(desk, clock)
    async with client(create_app(desk, secrets={})) as http:
        response = await http.get(f"/api/tickets/{ids[0]}")
        missing = await http.get("/api/tickets/T-nope")
    assert response.status_code == 200
    data = response.json()
    assert data["ticket"]["id"] == ids[0]
    assert [e["kind"] for e in data["events"]] == ["created", "sla_policy_applied", "message"]
    assert data["sla"] == desk.sla(ids[0]).to_dict()
    assert missing.status_code == 404


async def test_queue_and_next_steps_are_ordered_by_due(
    desk: SupportDesk, clock: FrozenClock
) -> None:
    """The urgent ticket (15 min target) is due before the normal one (1 h); the solved one is
    not in the queue."""
    ids = seed(desk, clock)
    async with client(create_app(desk, secrets={})) as http:
        queue = (await http.get("/api/queue")).json()["tickets"]
        steps = (await http.get("/api/next-steps")).json()["next_steps"]
    assert [row["id"] for row in queue] == [ids[1], ids[0]]
    assert [step["ticket_id"] for step in steps] == [ids[1], ids[0]]
    assert queue[0]["due"] == (desk.ticket(ids[1]).created_at + timedelta(minutes=15)).isoformat()
    assert queue[0]["breached"] is False


async def test_breach_shows_in_the_queue(desk: SupportDesk, clock: FrozenClock) -> None:
    """After the urgent ticket's 15 minutes pass unanswered, its row says breached."""
    ids = seed(desk, clock)
    clock.advance(minutes=30)
    async with client(create_app(desk, secrets={})) as http:
        queue = (await http.get("/api/queue")).json()["tickets"]
    assert {row["id"]: row["breached"] for row in queue} == {ids[1]: True, ids[0]: False}


async def test_metrics_for_a_grouping_and_instant(desk: SupportDesk, clock: FrozenClock) -> None:
    """GET /api/metrics?group=priority,day: the desk's report for that grouping."""
    seed(desk, clock)
    at = clock.now().isoformat()
    async with client(create_app(desk, secrets={})) as http:
        response = await http.get("/api/metrics", params={"group": "priority,day", "at": at})
        bad = await http.get("/api/metrics", params={"group": "planet"})
        naive = await http.get("/api/metrics", params={"at": "2025-03-03T09:00:00"})
    assert response.status_code == 200
    expected = desk.metrics((("priority", "day"),), at=clock.now()).to_dict()
    assert response.json() == expected
    assert bad.status_code == 400
    assert naive.status_code == 400
    assert naive.json()["field"] == "at"


async def test_agent_actions(desk: SupportDesk, clock: FrozenClock) -> None:
    """reply, assign, escalate and status change through the API land in the ticket's log."""
    ids = seed(desk, clock)
    app = create_app(desk, secrets={}, tokens=TOKENS)
    async with client(app) as http:
        reply = await http.post(
            f"/api/tickets/{ids[0]}/reply",
            json={"body": "Looking into it", "agent": "grace", "status": "pending"},
            headers=bearer(ACT),
        )
        assign = await http.post(
            f"/api/tickets/{ids[1]}/assign", json={"agent": "alan"}, headers=bearer(ACT)
        )
        escalate = await http.post(
            f"/api/tickets/{ids[1]}/escalate",
            json={"level": "L2", "reason": "needs a specialist"},
            headers=bearer(ADMIN),
        )
        status = await http.post(
            f"/api/tickets/{ids[1]}/status", json={"status": "on_hold"}, headers=bearer(ACT)
        )
    assert [r.status_code for r in (reply, assign, escalate, status)] == [200] * 4
    assert reply.json()["ticket"]["status"] == "pending"
    assert desk.ticket(ids[0]).first_agent_reply_at is not None
    assert desk.ticket(ids[1]).assignee == "alan"
    assert desk.ticket(ids[1]).escalation_level == "L2"
    assert desk.ticket(ids[1]).status.value == "on_hold"


async def test_refused_actions_change_nothing(desk: SupportDesk, clock: FrozenClock) -> None:
    """A missing field (400 naming it), a bad status (400), a forbidden transition (409), an
    unknown ticket (404), a body that is not JSON (400): each leaves the logs as they were."""
    ids = seed(desk, clock)
    before = {t: desk.events(t) for t in ids}
    async with client(create_app(desk, secrets={})) as http:
        no_body = await http.post(f"/api/tickets/{ids[0]}/reply", json={})
        bad_type = await http.post(f"/api/tickets/{ids[0]}/reply", json={"body": 7})
        bad_status = await http.post(f"/api/tickets/{ids[0]}/status", json={"status": "gone"})
        back = await http.post(f"/api/tickets/{ids[2]}/status", json={"status": "new"})
        unknown = await http.post("/api/tickets/T-none/reply", json={"body": "hi"})
        garbage = await http.post(f"/api/tickets/{ids[0]}/reply", content=b"{nope")
        no_reason = await http.post(f"/api/tickets/{ids[0]}/escalate", json={"level": "L2"})
    assert (no_body.status_code, no_body.json()["field"]) == (400, "body")
    assert (bad_type.status_code, bad_type.json()["field"]) == (400, "body")
    assert bad_status.status_code == 400
    assert back.status_code == 409
    assert unknown.status_code == 404
    assert garbage.status_code == 400
    assert (no_reason.status_code, no_reason.json()["field"]) == (400, "reason")
    assert {t: desk.events(t) for t in ids} == before


async def test_dead_letters_need_admin(desk: SupportDesk, clock: FrozenClock) -> None:
    """GET /api/outbox/dead lists dead letters, for admin tokens only."""
    seed(desk, clock)
    app = create_app(desk, secrets={}, tokens=TOKENS)
    async with client(app) as http:
        act = await http.get("/api/outbox/dead", headers=bearer(ACT))
        admin = await http.get("/api/outbox/dead", headers=bearer(ADMIN))
    assert act.status_code == 403
    assert admin.status_code == 200
    assert admin.json() == {"dead": []}


# --- tokens --------------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/", "read"),
    ("GET", "/openapi.json", "read"),
    ("GET", "/api/dashboard", "read"),
    ("GET", "/api/queue", "read"),
    ("GET", "/api/next-steps", "read"),
    ("GET", "/api/metrics", "read"),
    ("GET", "/api/tickets/T-x", "read"),
    ("GET", "/api/outbox/dead", "admin"),
    ("GET", "/conversations/conv-0001-abcdef/messages", "chat"),
    ("POST", "/api/tickets/T-x/reply", "act"),
    ("POST", "/api/tickets/T-x/status", "act"),
    ("POST", "/api/tickets/T-x/assign", "act"),
    ("POST", "/api/tickets/T-x/escalate", "act"),
]
LEVEL = {"chat": CHAT, "read": READ, "act": ACT, "admin": ADMIN}
WEAKER = {"read": CHAT, "act": READ, "admin": ACT}


@pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
async def test_every_endpoint_needs_a_token(
    desk: SupportDesk, clock: FrozenClock, method: str, path: str, scope: str
) -> None:
    """With tokens: none or an unknown one is 401, a weaker scope 403, the scope itself passes;
    a refused write changes nothing."""
    ids = seed(desk, clock)
    before = [desk.events(t) for t in ids]
    app = create_app(desk, secrets={}, tokens=TOKENS)
    body = {"body": "x", "status": "solved", "agent": "a", "level": "L2", "reason": "r"}

    async def call(headers: dict[str, str]) -> httpx.Response:
        real = path.replace("T-x", ids[0])
        return await http.request(
            method, real, headers=headers, json=body if method == "POST" else None
        )

    async with client(app) as http:
        assert (await call({})).status_code == 401
        assert (await call(bearer("not-a-token"))).status_code == 401
        assert (await call({"Authorization": "Basic " + READ})).status_code == 401
        if scope in WEAKER:
            weak = await call(bearer(WEAKER[scope]))
            assert weak.status_code == 403
            assert weak.headers["content-type"] == "application/problem+json"
        assert [desk.events(t) for t in ids] == before
        assert (await call(bearer(LEVEL[scope]))).status_code in (200, 201)


async def test_without_tokens_reads_are_open(desk: SupportDesk, clock: FrozenClock) -> None:
    """No tokens configured: a local tool, the reads and the dashboard need no token."""
    seed(desk, clock)
    async with client(create_app(desk, secrets={})) as http:
        assert (await http.get("/api/queue")).status_code == 200
        assert (await http.get("/")).status_code == 200


async def test_inbound_needs_no_token(desk: SupportDesk) -> None:
    """The webhook endpoint authenticates by signature, not by token."""
    app = create_app(desk, secrets={"json": SECRET}, tokens=TOKENS)
    body = message()
    async with client(app) as http:
        response = await http.post("/inbound/json", content=body, headers=signed(body))
    assert response.status_code == 202


async def test_dashboard_token_in_the_query(desk: SupportDesk) -> None:
    """A browser cannot send a header for the page itself: ``?access_token=`` works for GET."""
    app = create_app(desk, secrets={}, tokens=TOKENS)
    async with client(app) as http:
        page = await http.get("/", params={"access_token": READ})
        weak = await http.get("/", params={"access_token": CHAT})
    assert page.status_code == 200
    assert weak.status_code == 403


def test_tokens_must_be_hashes(desk: SupportDesk) -> None:
    """A raw token or an unknown scope in the configuration is refused."""
    with pytest.raises(ConfigurationError, match="hash_token"):
        create_app(desk, secrets={}, tokens={"my-token": ["read"]})
    with pytest.raises(ConfigurationError, match="scopes"):
        create_app(desk, secrets={}, tokens={hash_token("t"): ["write"]})


# --- OpenAPI -------------------------------------------------------------------------------


async def test_openapi_document_is_valid_and_complete(desk: SupportDesk) -> None:
    """/openapi.json is a valid OpenAPI 3.1 document that lists every route with its method."""
    app = create_app(desk, secrets={})
    async with client(app) as http:
        document = (await http.get("/openapi.json")).json()
    validate(document)
    routes = {(route.path, method.lower()) for route in app.routes for method in route.methods}
    routes -= {(path, "head") for path, _ in routes}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == routes


async def test_responses_match_the_openapi_schemas(desk: SupportDesk, clock: FrozenClock) -> None:
    """Real responses validate against the document's response schemas."""
    ids = seed(desk, clock)
    app = create_app(desk, secrets={"json": SECRET})
    body = message()
    async with client(app) as http:
        document = (await http.get("/openapi.json")).json()
        calls: list[tuple[str, str, httpx.Response]] = [
            ("/api/queue", "get", await http.get("/api/queue")),
            ("/api/next-steps", "get", await http.get("/api/next-steps")),
            ("/api/dashboard", "get", await http.get("/api/dashboard")),
            ("/api/tickets/{ticket_id}", "get", await http.get(f"/api/tickets/{ids[0]}")),
            ("/api/metrics", "get", await http.get("/api/metrics")),
            ("/api/outbox/dead", "get", await http.get("/api/outbox/dead")),
            (
                "/inbound/{channel}",
                "post",
                await http.post("/inbound/json", content=body, headers=signed(body)),
            ),
            (
                "/api/tickets/{ticket_id}/reply",
                "post",
                await http.post(f"/api/tickets/{ids[0]}/reply", json={"body": "hi"}),
            ),
            (
                "/api/tickets/{ticket_id}/reply",
                "post",
                await http.post(f"/api/tickets/{ids[0]}/reply", json={}),
            ),
        ]
    for path, method, response in calls:
        declared = document["paths"][path][method]["responses"][str(response.status_code)]
        media = response.headers["content-type"].split(";")[0]
        schema: dict[str, Any] = {
            **declared["content"][media]["schema"],
            "components": document["components"],
        }
        jsonschema.validate(response.json(), schema)
