"""Helpers of the supportkit-http tests: signed requests, an httpx client over
``ASGITransport`` and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from supportkit_webhook import sign

from supportkit import SlaPolicy, SlaTarget

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
NOW = int(AT.timestamp())
SECRET = "s3cret-for-json"
POLICY = SlaPolicy(
    "standard",
    {
        "normal": {"first_reply": SlaTarget(3600, business=False)},
        "urgent": {"first_reply": SlaTarget(900, business=False)},
    },
)


def message(text: str = "My order is late", **extra: Any) -> bytes:
    """A JSON-channel payload (the built-in ``json`` channel) as bytes."""
    payload = {"from": "ada@example.com", "at": AT.isoformat(), "text": text, **extra}
    return json.dumps(payload).encode()


def signed(body: bytes, *, secret: str = SECRET, at: int = NOW) -> dict[str, str]:
    """The supportkit signature headers for *body* sent at unix time *at*."""
    return {
        "Content-Type": "application/json",
        "X-Supportkit-Timestamp": str(at),
        "X-Supportkit-Signature": sign(secret, at, body),
    }


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk")


def chat(conversation: str = "conv-0001-abcdef", text: str = "Hello?", **extra: Any) -> bytes:
    payload = {"conversation_id": conversation, "visitor": {"id": "v-42"}, "text": text, **extra}
    return json.dumps(payload).encode()


class Server:
    """The app under a real uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
