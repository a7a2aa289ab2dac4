"""End to end against a real uvicorn on 127.0.0.1: signed webhooks, the chat round trip over
server-sent events, and a body over the limit cut off while it is still being sent."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from http_support import SECRET, Server, chat, message, signed
from supportkit_http import create_app

from supportkit import SqliteStore, SupportDesk, SystemClock

CONVERSATION = "conv-0001-abcdef"


def test_signed_webhook_and_chat_round_trip(tmp_path: Path) -> None:
    """Over real HTTP: a signed webhook opens a ticket, a replay is refused, a chat visitor's
    message opens a ticket, and the agent's reply arrives on the conversation's SSE stream."""
    clock = SystemClock()  # a real server: real time for the signature window
    with SupportDesk(store=SqliteStore(tmp_path / "e2e.sqlite3"), clock=clock) as desk:
        app = create_app(desk, secrets={"json": SECRET}, open_channels=["chat"])
        with Server(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
            body = message()
            headers = signed(body, at=int(time.time()))
            first = http.post("/inbound/json", content=body, headers=headers)
            replay = http.post("/inbound/json", content=body, headers=headers)
            assert (first.status_code, replay.status_code) == (202, 409)

            ticket = http.post("/inbound/chat", content=chat()).json()["ticket_id"]
            with http.stream("GET", f"/conversations/{CONVERSATION}/stream") as stream:
                lines = stream.iter_lines()
                assert next(lines).startswith(":")  # the stream is open
                reply = http.post(f"/api/tickets/{ticket}/reply", json={"body": "Hello from Grace"})
                assert reply.status_code == 200
                desk.deliver()
                event = list(_event(lines))
            assert event[0] == "id: 1"
            assert event[1] == "event: message"
            assert json.loads(event[2].removeprefix("data: "))["text"] == "Hello from Grace"
        assert [t.id for t in desk.tickets()] == [first.json()["ticket_id"], ticket]


def _event(lines: Iterator[str]) -> Iterator[str]:
    """The lines of the next server-sent event (blank lines before it skipped)."""
    started = False
    for line in lines:
        if not line and started:
            return
        started = started or bool(line)
        if line:
            yield line


def test_oversized_upload_is_cut_off_while_sending(tmp_path: Path) -> None:
    """A client streaming 64 MiB to a 64 KiB limit gets 413 long before it has sent it all."""
    with SupportDesk(store=SqliteStore(tmp_path / "big.sqlite3")) as desk:
        app = create_app(desk, secrets={"json": SECRET}, max_body=65_536)
        with Server(app) as server:
            sent = 0
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
                conn.sendall(
                    b"POST /inbound/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    b"Content-Type: application/json\r\n\r\n"
                )
                chunk = b"x" * 65_536
                framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                conn.settimeout(0.05)
                answer = b""
                while sent < 64 * 1024 * 1024 and not answer:
                    try:
                        conn.sendall(framed)
                        sent += len(chunk)
                    except OSError:
                        break  # the server closed the connection
                    try:
                        answer = conn.recv(4096)
                    except TimeoutError:
                        continue
                if not answer:
                    conn.settimeout(5)
                    answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413")
        assert sent < 8 * 1024 * 1024
        assert desk.tickets() == []
