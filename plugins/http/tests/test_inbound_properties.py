"""Hypothesis on POST /inbound/{channel}: whatever arrives, the answer is one of the documented
statuses (never a 5xx), and a refused request changes nothing in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from http_support import AT, NOW, SECRET, client, signed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supportkit_http import create_app

from supportkit import FrozenClock, SqliteStore, SupportDesk

_TEXT = st.text(max_size=20)
_JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=8,
)
_CHAT = st.fixed_dictionaries(
    {},
    optional={
        "conversation_id": st.one_of(st.just("conv-0001-abcdef"), _TEXT),
        "visitor": st.one_of(_TEXT, st.fixed_dictionaries({"id": _TEXT}), _JUNK),
        "text": st.one_of(_TEXT, _JUNK),
        "message_id": st.one_of(_TEXT, st.integers(), _JUNK),
        "sent_at": st.one_of(st.just(AT.isoformat()), _TEXT, _JUNK),
        "subject": st.one_of(_TEXT, _JUNK),
    },
)
_JSON = st.fixed_dictionaries(
    {},
    optional={
        "from": st.one_of(st.just("ada@example.com"), _TEXT, _JUNK),
        "at": st.one_of(st.just(AT.isoformat()), st.integers(), _TEXT, _JUNK),
        "text": st.one_of(_TEXT, _JUNK),
        "ticket_id": st.one_of(_TEXT, _JUNK),
        "priority": st.one_of(st.sampled_from(["low", "urgent"]), _JUNK),
    },
)
BODIES = st.one_of(
    st.binary(max_size=64),
    _JUNK.map(lambda value: json.dumps(value).encode()),
    _CHAT.map(lambda value: json.dumps(value).encode()),
    _JSON.map(lambda value: json.dumps(value).encode()),
)
SIGNING = st.sampled_from(["good", "none", "forged", "stale", "junk"])
CHANNELS = st.sampled_from(["json", "chat", "email", "fax", "%00", "json/../chat"])
DOCUMENTED = {202, 400, 401, 404, 409, 413}


def _headers(how: str, body: bytes, junk: str) -> dict[str, str]:
    if how == "good":
        return signed(body)
    if how == "forged":
        return signed(body, secret="guess")
    if how == "stale":
        return signed(body, at=NOW - 3600)
    if how == "junk":
        return {"X-Supportkit-Timestamp": junk, "X-Supportkit-Signature": junk}
    return {}


def _state(desk: SupportDesk) -> Any:
    return (
        [event.to_dict() for event in desk.store.read_all()],
        [message.key for message in desk.outbox()],
    )


def test_inbound_answers_only_documented_statuses_and_refusals_change_nothing(
    tmp_path: Path,
) -> None:
    """Random channels, bodies and signatures: 202 or a documented refusal, which writes
    nothing."""
    with SupportDesk(store=SqliteStore(tmp_path / "fuzz.sqlite3"), clock=FrozenClock(AT)) as desk:
        app = create_app(desk, secrets={"json": SECRET}, open_channels=["chat"], max_body=512)

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            channel=CHANNELS,
            body=st.one_of(BODIES, st.binary(min_size=513, max_size=600)),
            how=SIGNING,
            junk=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12),
        )
        def check(channel: str, body: bytes, how: str, junk: str) -> None:
            before = _state(desk)

            async def post() -> Any:
                async with client(app) as http:
                    return await http.post(
                        f"/inbound/{channel}", content=body, headers=_headers(how, body, junk)
                    )

            response = anyio.run(post)
            assert response.status_code in DOCUMENTED, response.text
            if response.status_code != 202:
                assert response.headers["content-type"] == "application/problem+json"
                assert _state(desk) == before
            else:
                assert set(response.json()) >= {"ticket_id", "duplicate", "ignored"}

        check()
