"""supportkit.testing.http: the loopback server plugin tests use."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from supportkit.testing.http import send, serve


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            send(self, 200, b"late", delay=1.0)
        else:
            send(self, 201, self.path.encode(), {"X-Seen": "yes"})


def test_serve_answers_on_loopback_and_stops() -> None:
    """The handler answers on 127.0.0.1 with status, headers and body; after the block the
    port is closed."""
    with serve(Echo) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/hello", timeout=5) as answer:
            assert (201, "yes", b"/hello") == (
                answer.status,
                answer.headers["X-Seen"],
                answer.read(),
            )
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_a_client_that_gives_up_is_not_a_server_error() -> None:
    """A slow answer to a client that timed out: the client sees its timeout, the server
    goes on (the next request is answered)."""
    with serve(Echo) as url:
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(f"{url}/slow", timeout=0.2)
        with urllib.request.urlopen(f"{url}/next", timeout=5) as answer:
            assert b"/next" == answer.read()
