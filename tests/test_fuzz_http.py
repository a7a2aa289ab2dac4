"""Fuzz targets of supportkit-http (skipped where the plugin is not installed; its own suite,
run by ``nox -s plugins``, has a Hypothesis property of the same endpoint): the inbound
endpoint ``POST /inbound/{channel}``, the chat channel's ``parse``, the signature schemes and
``create_app``. The one rule of tests/fuzzkit.py: only a ``SupportkitError`` escapes, and a
refused request changes nothing (here an HTTP refusal counts as the refusal).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import strategies as st

from fuzzkit import Target, ident, integers, junk, kwargs_of, run, text
from supportkit import FrozenClock, InboundMessage, InMemoryStore, SupportDesk, SupportkitError

http = pytest.importorskip("supportkit_http")
webhook = pytest.importorskip("supportkit_webhook")

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
NOW = int(AT.timestamp())
SECRET = "fuzz-secret"
#: The statuses the endpoint documents (anything else, or an exception, breaks the rule).
DOCUMENTED = {202, 400, 401, 404, 409, 413}


class Refused(SupportkitError):
    """The endpoint answered with a documented refusal (so the store must be unchanged)."""


_APP: dict[str, Any] = {}


def _app() -> tuple[Any, SupportDesk]:
    """One desk and app for the whole run (refusals must leave the desk as it was)."""
    if not _APP:
        desk = SupportDesk(store=InMemoryStore(), clock=FrozenClock(AT))
        _APP["desk"] = desk
        _APP["app"] = http.create_app(
            desk, secrets={"json": SECRET}, open_channels=["chat"], max_body=2048
        )
    return _APP["app"], _APP["desk"]


def _headers(how: str, body: bytes, junk_value: str) -> dict[str, str]:
    if how == "signed":
        return {
            "X-Supportkit-Timestamp": str(NOW),
            "X-Supportkit-Signature": webhook.sign(SECRET, NOW, body),
        }
    if how == "junk":
        return {"X-Supportkit-Timestamp": junk_value, "X-Supportkit-Signature": junk_value}
    return {}


def _inbound(value: dict[str, Any]) -> None:
    app, _ = _app()
    body = value["body"]
    headers = _headers(value["how"], body, value["junk"])
    # A lone surrogate in a channel name cannot be sent as UTF-8: its bytes go as they are
    # (invalid UTF-8, percent-encoded), as a hostile client would send them.
    # Dots are percent-encoded too, so the client sends "." and ".." rather than resolving them.
    path = quote(value["channel"].encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E")

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
            return await client.post(f"/inbound/{path}", content=body, headers=headers)

    response = asyncio.run(post())
    if response.status_code not in DOCUMENTED:
        raise AssertionError(f"undocumented status {response.status_code}: {response.text}")
    if response.status_code != 202:
        raise Refused(f"{response.status_code}")


def _follow(value: Any) -> None:
    """GET /kb/follow/{token}: a real token (recorded, 200), or a changed or made-up one
    (404, nothing recorded); any other status breaks the rule."""
    app, desk = _app()
    if "ticket" not in _APP:
        message = InboundMessage("m-1", "email", "c@x.example", AT, body="hello")
        _APP["ticket"] = desk.ingest(message).ticket_id
    token = desk.article_link(_APP["ticket"], "a") if value == "real" else value

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
            return await client.get(f"/kb/follow/{quote(token, safe='')}")

    response = asyncio.run(get())
    if response.status_code not in {200, 404}:
        raise AssertionError(f"undocumented status {response.status_code}: {response.text}")
    if response.status_code != 200:
        raise Refused(f"{response.status_code}")


def _desk_state(_value: Any) -> object:
    _, desk = _app()
    return (
        [event.to_dict() for event in desk.store.read_all()],
        [message.key for message in desk.outbox()],
    )


_CHAT = st.fixed_dictionaries(
    {},
    optional={
        "conversation_id": st.one_of(st.just("conv-0001-abcdef"), ident(), junk()),
        "visitor": st.one_of(ident(), st.fixed_dictionaries({"id": ident()}), junk()),
        "text": st.one_of(text(), junk()),
        "message_id": st.one_of(ident(), integers(), junk()),
        "sent_at": st.one_of(st.just(AT.isoformat()), text(), junk()),
        "subject": st.one_of(text(), junk()),
        "email": st.one_of(ident(), junk()),
    },
)
_BODIES = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=2049, max_size=2100),
    _CHAT.map(lambda v: json.dumps(v, default=str).encode()),
    st.fixed_dictionaries(
        {"from": st.one_of(ident(), junk()), "at": st.just(AT.isoformat()), "text": text()}
    ).map(lambda v: json.dumps(v, default=str).encode()),
)


def _parse(value: Any) -> None:
    http.ChatChannel(clock=FrozenClock(AT)).parse(value, {})


def _verify(scheme: Any) -> Any:
    def call(kw: dict[str, Any]) -> None:
        scheme.verify(**kw)

    return call


def _create_app(kw: dict[str, Any]) -> None:
    _, desk = _app()
    http.create_app(desk, **kw)


_VERIFY = kwargs_of(
    {
        "secret": ident(),
        "headers": st.dictionaries(
            st.sampled_from(
                [
                    "x-supportkit-timestamp",
                    "x-supportkit-signature",
                    "x-slack-request-timestamp",
                    "x-slack-signature",
                ]
            ),
            st.one_of(text(), integers().map(str), st.just(str(NOW))),
        ),
        "body": st.binary(max_size=32),
        "now": st.one_of(st.just(NOW), integers()),
    }
)

TARGETS: dict[str, Target] = {
    "http.inbound": Target(
        st.fixed_dictionaries(
            {
                "channel": st.one_of(st.sampled_from(["json", "chat", "fax"]), ident()),
                "body": _BODIES,
                "how": st.sampled_from(["signed", "none", "junk"]),
                "junk": st.text(st.characters(codec="ascii", exclude_categories=["Cc"])),
            }
        ),
        _inbound,
        state=_desk_state,
        examples=300,
    ),
    "http.follow": Target(
        st.one_of(st.just("real"), text(max_size=40), st.sampled_from(["a.b", ".", "x" * 3000])),
        _follow,
        state=_desk_state,
        examples=100,
    ),
    "http.ChatChannel.parse": Target(
        st.one_of(_CHAT, _CHAT.map(lambda v: json.dumps(v, default=str)), st.binary(), junk()),
        _parse,
    ),
    "http.SupportkitSignature.verify": Target(_VERIFY, _verify(http.SupportkitSignature())),
    "http.SlackSignature.verify": Target(_VERIFY, _verify(http.SlackSignature())),
    "http.create_app": Target(
        kwargs_of(
            {"secrets": st.dictionaries(st.sampled_from(["json", "chat", "fax"]), ident())},
            {
                "open_channels": st.lists(st.sampled_from(["json", "chat", "fax"])),
                "max_body": st.one_of(integers(), st.dictionaries(ident(), integers())),
                "tokens": st.dictionaries(
                    st.one_of(st.just(http.hash_token("t")), ident()),
                    st.lists(st.sampled_from(["read", "act", "admin", "chat", "root"])),
                ),
                "schemes": st.dictionaries(
                    st.sampled_from(["json", "chat"]), st.just(http.SlackSignature())
                ),
                "title": text(),
                "refresh": st.one_of(st.floats(), integers()),
                "article_url": st.sampled_from(["https://h/{article}", "https://h/", ""]),
            },
        ),
        _create_app,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with anything raises nothing or a SupportkitError; a refused
    inbound request changes nothing in the desk."""
    run(name, TARGETS[name])
