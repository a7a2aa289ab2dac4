"""POST /inbound/{channel}: ingest through desk.receive, and every refusal that ingests nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from http_support import AT, NOW, POLICY, SECRET, chat, client, message, signed
from supportkit_http import SlackSignature, SupportkitSignature, create_app
from supportkit_http._signatures import slack_digest

from supportkit import ConfigurationError, FrozenClock, SqliteStore, SupportDesk, hookimpl
from supportkit.exceptions import Ignored

pytestmark = pytest.mark.anyio


def app_for(desk: SupportDesk, **options: Any) -> Any:
    options.setdefault("secrets", {"json": SECRET})
    return create_app(desk, **options)


async def test_signed_webhook_is_ingested(desk: SupportDesk) -> None:
    """A correctly signed JSON message opens a ticket: 202 with its id."""
    body = message()
    async with client(app_for(desk)) as http:
        response = await http.post("/inbound/json", content=body, headers=signed(body))
    assert response.status_code == 202
    data = response.json()
    assert data["duplicate"] is False
    assert data["ignored"] is None
    assert data["created"] is True
    assert [t.id for t in desk.tickets()] == [data["ticket_id"]]
    assert desk.ticket(data["ticket_id"]).customer == "ada@example.com"


async def test_redelivery_is_a_duplicate_not_a_replay(
    desk: SupportDesk, clock: FrozenClock
) -> None:
    """The provider re-sends the same payload with a fresh signature: 202, duplicate, one
    ticket."""
    body = message()
    async with client(app_for(desk)) as http:
        first = await http.post("/inbound/json", content=body, headers=signed(body))
        clock.advance(seconds=5)
        again = await http.post("/inbound/json", content=body, headers=signed(body, at=NOW + 5))
    assert again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True, "created": False}
    assert len(desk.tickets()) == 1


async def test_invalid_payload_is_a_problem_naming_the_field(desk: SupportDesk) -> None:
    """A payload the channel cannot parse: 400, an RFC 9457 problem with ``field``."""
    body = json.dumps({"at": AT.isoformat(), "text": "no sender"}).encode()
    async with client(app_for(desk)) as http:
        response = await http.post("/inbound/json", content=body, headers=signed(body))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["field"]) == (400, "sender")
    assert problem["type"] == "about:blank"
    assert "sender" in problem["detail"]
    assert desk.tickets() == []


async def test_unknown_channel_is_404(desk: SupportDesk) -> None:
    """A channel the desk does not have: 404."""
    body = message()
    async with client(app_for(desk)) as http:
        response = await http.post("/inbound/fax", content=body, headers=signed(body))
    assert response.status_code == 404
    assert desk.tickets() == []


@pytest.mark.parametrize("path", ["/inbound/json/", "/inbound/json%2F", "/api/queue/"])
async def test_no_redirect_to_another_path(desk: SupportDesk, path: str) -> None:
    """A path with a trailing slash is a 404, not a 307 redirect to the path without it (a
    webhook sender would follow it with its body; found by the full fuzz run)."""
    body = message()
    async with client(app_for(desk)) as http:
        response = await http.post(path, content=body, headers=signed(body))
    assert response.status_code == 404
    assert desk.tickets() == []


# --- security: each refused with the right status, nothing ingested -----------------------


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing"),
        (signed(message(), secret="not-the-secret"), "forged"),
        (signed(message(), at=NOW - 301), "stale"),
        (signed(message(), at=NOW + 301), "from the future"),
        (signed(message("another body")), "signature of another body"),
        ({"X-Supportkit-Timestamp": str(NOW), "X-Supportkit-Signature": "sha256=00"}, "short"),
        ({"X-Supportkit-Timestamp": "soon", "X-Supportkit-Signature": "sha256=00"}, "bad ts"),
    ],
)
async def test_bad_signatures_are_401(desk: SupportDesk, headers: dict[str, str], why: str) -> None:
    """Unsigned, forged, stale or mismatched requests are refused with 401 ({why})."""
    async with client(app_for(desk)) as http:
        response = await http.post("/inbound/json", content=message(), headers=headers)
    assert response.status_code == 401, why
    assert response.headers["content-type"] == "application/problem+json"
    assert desk.tickets() == []


async def test_signature_inside_the_window_is_accepted(desk: SupportDesk) -> None:
    """Five minutes exactly is still fresh (the window is inclusive)."""
    body = message()
    async with client(app_for(desk)) as http:
        response = await http.post(
            "/inbound/json", content=body, headers=signed(body, at=NOW - 300)
        )
    assert response.status_code == 202


async def test_replayed_request_is_409_and_ingests_nothing_more(desk: SupportDesk) -> None:
    """The same signed request twice: the second is a replay (409)."""
    body = message()
    async with client(app_for(desk)) as http:
        first = await http.post("/inbound/json", content=body, headers=signed(body))
        log = desk.events(first.json()["ticket_id"])
        replay = await http.post("/inbound/json", content=body, headers=signed(body))
    assert (first.status_code, replay.status_code) == (202, 409)
    assert replay.json()["title"] == "Conflict"
    assert desk.events(first.json()["ticket_id"]) == log


async def test_replay_is_refused_by_another_process_on_the_same_store(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Seen signatures live in the desk's store: a second desk (another worker process) on the
    same SQLite file refuses the replay too, and ingests nothing."""
    path = tmp_path / "shared.sqlite3"
    body = message()
    with (
        SupportDesk(store=SqliteStore(path), clock=clock, policies=[POLICY]) as one,
        SupportDesk(store=SqliteStore(path), clock=clock, policies=[POLICY]) as two,
    ):
        async with client(app_for(one)) as a, client(app_for(two)) as b:
            first = await a.post("/inbound/json", content=body, headers=signed(body))
            log = two.events(first.json()["ticket_id"])
            replay = await b.post("/inbound/json", content=body, headers=signed(body))
        assert (first.status_code, replay.status_code) == (202, 409)
        assert [t.id for t in two.tickets()] == [first.json()["ticket_id"]]
        assert two.events(first.json()["ticket_id"]) == log


async def test_replay_window_ends_with_the_signature(desk: SupportDesk, clock: FrozenClock) -> None:
    """Once a signature is stale it is refused as stale (401), not remembered forever."""
    body = message()
    async with client(app_for(desk)) as http:
        assert (
            await http.post("/inbound/json", content=body, headers=signed(body))
        ).status_code == 202
        clock.advance(seconds=301)
        late = await http.post("/inbound/json", content=body, headers=signed(body))
    assert late.status_code == 401


async def test_unsigned_requests_refused_unless_the_channel_is_open(desk: SupportDesk) -> None:
    """A channel with no secret refuses unsigned requests; one listed open takes them."""
    async with client(app_for(desk)) as http:
        refused = await http.post("/inbound/chat", content=chat())
    async with client(app_for(desk, open_channels=["chat"])) as http:
        taken = await http.post("/inbound/chat", content=chat())
    assert refused.status_code == 401
    assert "open_channels" in refused.json()["detail"]
    assert taken.status_code == 202


async def test_oversized_body_is_413(desk: SupportDesk) -> None:
    """A body over the channel's limit is refused (here by its declared length)."""
    body = message("x" * 2000)
    async with client(app_for(desk, max_body={"json": 1000})) as http:
        response = await http.post("/inbound/json", content=body, headers=signed(body))
        small = message()
        fits = await http.post("/inbound/json", content=small, headers=signed(small))
    assert response.status_code == 413
    assert fits.status_code == 202
    assert len(desk.tickets()) == 1


async def test_413_is_enforced_while_reading(desk: SupportDesk) -> None:
    """Without a Content-Length the body is streamed: the app stops reading as soon as it is
    over the limit (here after 2 chunks of 1 KiB of a 1 MiB stream), not after the whole."""
    app = app_for(desk, max_body=1500)
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": pulled < 1024}

    sent: list[dict[str, Any]] = []

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/inbound/json",
        "raw_path": b"/inbound/json",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"desk"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("desk", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert pulled == 2
    assert desk.tickets() == []


async def test_per_channel_limit_and_default(desk: SupportDesk) -> None:
    """``max_body`` per channel: a channel without its own limit gets ``"*"``."""
    app = app_for(desk, open_channels=["chat"], max_body={"json": 100_000, "*": 200})
    body = chat(text="y" * 300)
    async with client(app) as http:
        response = await http.post("/inbound/chat", content=body)
    assert response.status_code == 413


# --- pluggable schemes ---------------------------------------------------------------------


def slack_headers(secret: str, body: bytes, at: int = NOW) -> dict[str, str]:
    return {
        "X-Slack-Request-Timestamp": str(at),
        "X-Slack-Signature": "v0=" + slack_digest(secret, str(at), body),
    }


def test_slack_digest_matches_slacks_documented_example() -> None:
    """Slack's documentation example (api.slack.com/authentication/verifying-requests-from-slack):
    that secret, timestamp and body give that signature."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F39"
        b"7700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a1"
        b"4d10d2c447fce8b6703c"
    )
    assert "v0=" + slack_digest(secret, "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_a_slack_secret_that_is_not_unicode_is_a_configuration_error() -> None:
    """A lone surrogate in the signing secret: ConfigurationError, as for the supportkit scheme
    (it raised UnicodeEncodeError; found by the full fuzz run)."""
    headers = {
        "x-slack-request-timestamp": str(NOW),
        "x-slack-signature": "v0=ab",
        "x-supportkit-timestamp": str(NOW),
        "x-supportkit-signature": "sha256=ab",
    }
    for scheme in (SlackSignature(), SupportkitSignature()):
        with pytest.raises(ConfigurationError, match="valid Unicode"):
            scheme.verify("\ud800", headers, b"", NOW)


async def test_slack_style_channel(desk: SupportDesk) -> None:
    """A channel configured with :class:`SlackSignature` takes Slack's ``v0=`` signatures and
    refuses the supportkit scheme's headers."""
    app = app_for(desk, secrets={"json": "slack-secret"}, schemes={"json": SlackSignature()})
    body = message()
    async with client(app) as http:
        ours = await http.post(
            "/inbound/json", content=body, headers=signed(body, secret="slack-secret")
        )
        forged = await http.post("/inbound/json", content=body, headers=slack_headers("nope", body))
        stale = await http.post(
            "/inbound/json", content=body, headers=slack_headers("slack-secret", body, NOW - 400)
        )
        good = await http.post(
            "/inbound/json", content=body, headers=slack_headers("slack-secret", body)
        )
        replay = await http.post(
            "/inbound/json", content=body, headers=slack_headers("slack-secret", body)
        )
    assert [r.status_code for r in (ours, forged, stale, good, replay)] == [401, 401, 401, 202, 409]


def test_configuration_errors(desk: SupportDesk) -> None:
    """Unknown channels, a channel both signed and open, empty secrets and bad limits are
    refused when the app is made."""
    cases: list[dict[str, Any]] = [
        {"secrets": {"fax": "s"}},
        {"secrets": {}, "open_channels": ["fax"]},
        {"secrets": {"chat": "s"}, "open_channels": ["chat"]},
        {"secrets": {"json": ""}},
        {"secrets": {"json": "s"}, "max_body": 0},
        {"secrets": {"json": "s"}, "max_body": {"json": -1}},
        {"secrets": {"json": "s"}, "open_channels": "chat"},
    ]
    for options in cases:
        with pytest.raises(ConfigurationError):
            create_app(desk, **options)


def test_supportkit_scheme_is_the_webhook_plugins() -> None:
    """The default scheme accepts exactly what supportkit-webhook's notifier signs."""
    from supportkit_webhook import sign

    body = b'{"kind":"ticket_created"}'
    headers = {"x-supportkit-timestamp": str(NOW), "x-supportkit-signature": sign("k", NOW, body)}
    signed_request = SupportkitSignature().verify("k", headers, body, NOW)
    assert signed_request is not None
    assert signed_request.until == NOW + 300
    assert SupportkitSignature().verify("other", headers, body, NOW) is None


class NoiseChannel:
    """A channel that calls every payload an auto-reply (``Ignored``)."""

    def parse(self, payload: Any, headers: Any) -> Any:
        raise Ignored("auto-reply")

    def send(self, reply: Any) -> str | None:
        return None

    @hookimpl
    def supportkit_register_channels(self, register: Any) -> None:
        register("noise", self)


async def test_ignored_noise_is_202_with_the_reason(tmp_path: Path, clock: FrozenClock) -> None:
    """A payload the channel ignores (an auto-reply) is accepted, says why, and opens nothing."""
    with SupportDesk(
        store=SqliteStore(tmp_path / "noise.sqlite3"), clock=clock, plugins=[NoiseChannel()]
    ) as desk:
        body = b"Out of office"
        async with client(create_app(desk, secrets={"noise": SECRET})) as http:
            response = await http.post("/inbound/noise", content=body, headers=signed(body))
        assert response.status_code == 202
        assert response.json() == {
            "ticket_id": None,
            "duplicate": False,
            "created": False,
            "ignored": "auto-reply",
        }
        assert desk.tickets() == []
