"""A loopback HTTP server for testing integrations against real HTTP, never the internet.

::

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            send(self, 200, b'{"id": "51"}', {"Content-Type": "application/json"})

    with serve(Answer) as base_url:  # "http://127.0.0.1:<free port>"
        httpx.get(f"{base_url}/contacts/ann@example.com")

The server runs in a daemon thread (each request in a thread of its own) and is shut down when
the ``with`` block ends, even if a handler is still sleeping to simulate a slow answer.
Handlers speak HTTP/1.1, send without Nagle's delay and write no log lines to stderr.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["send", "serve"]


class _Quiet(BaseHTTPRequestHandler):
    """What every served handler gets: HTTP/1.1, no Nagle delay, no log lines on stderr."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stall)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve *handler* on a free port of 127.0.0.1; yield the base URL (no trailing slash)."""
    quiet = type(handler.__name__, (_Quiet, handler), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), quiet)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="supportkit-test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    delay: float = 0.0,
) -> None:
    """Answer *handler*'s request with *status*, *headers* and *body* (``Content-Length`` is
    added), after *delay* seconds (a slow server). A client that gave up waiting (a timeout
    test) is not an error."""
    if delay:
        time.sleep(delay)
    try:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        pass
