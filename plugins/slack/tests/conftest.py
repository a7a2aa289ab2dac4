"""A loopback HTTP server that speaks the Slack Web API's ``chat.postMessage`` JSON shapes.

It checks the bearer token (``invalid_auth`` otherwise), knows a set of channels
(``channel_not_found`` otherwise) and answers like Slack: ``{"ok": true, "channel": <id>,
"ts": ...}``. Tests queue scripted answers (status, headers, raw body, delay) that replace the
normal one for the next requests.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs
import pytest

from supportkit.testing.http import send, serve

TOKEN = "xoxb-test-0123456789-secret"


@attrs.frozen
class Answer:
    """A scripted answer: *status*, extra *headers*, a raw *body* and a *delay* before it."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = attrs.Factory(dict)
    delay: float = 0.0


@attrs.define
class FakeSlack:
    """What the server saw and what it will answer."""

    base_url: str = ""
    channels: dict[str, str] = attrs.Factory(lambda: {"#support": "C0SUPPORT", "#eng": "C0ENG"})
    requests: list[dict[str, Any]] = attrs.Factory(list)
    script: list[Answer] = attrs.Factory(list)
    _ts: Iterator[int] = attrs.Factory(lambda: itertools.count(1))

    token: str = TOKEN

    def queue(
        self,
        status: int = 200,
        body: bytes = b"",
        *,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next request with a raw *body* (after *delay* seconds)."""
        self.script.append(Answer(status, body, headers or {}, delay))

    def queue_json(
        self, data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request with JSON *data*."""
        self.script.append(_json(data, status, **(headers or {})))

    def posts(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat.postMessage received."""
        return [r["json"] for r in self.requests if r["path"].endswith("chat.postMessage")]

    def answer(self, headers: dict[str, str], body: bytes) -> Answer:
        if self.script:
            return self.script.pop(0)
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json({"ok": False, "error": "invalid_auth"})
        payload = json.loads(body)
        channel = payload.get("channel", "")
        ident = self.channels.get(channel, channel if channel in self.channels.values() else None)
        if ident is None:
            return _json({"ok": False, "error": "channel_not_found"})
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "text": payload.get("text"), "ts": ts}
        if payload.get("thread_ts"):
            message["thread_ts"] = payload["thread_ts"]
        return _json({"ok": True, "channel": ident, "ts": ts, "message": message})


def _json(data: dict[str, Any], status: int = 200, **headers: str) -> Answer:
    return Answer(
        status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
    )


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """Run a :class:`FakeSlack` on 127.0.0.1 (its ``base_url`` ends in ``/api/``)."""
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = dict(self.headers)
            try:
                decoded = json.loads(body) if body else {}
            except ValueError:
                decoded = None
            fake.requests.append({"path": self.path, "headers": headers, "json": decoded})
            answer = fake.answer(headers, body)
            send(self, answer.status, answer.body, answer.headers, delay=answer.delay)

    with serve(Handler) as url:
        fake.base_url = f"{url}/api/"
        yield fake
