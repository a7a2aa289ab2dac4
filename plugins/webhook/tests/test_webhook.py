"""supportkit-webhook: signing, verification, retries, error mapping, and the plugin wiring."""

from __future__ import annotations

import importlib.metadata
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import supportkit_webhook
from hypothesis import given, settings
from hypothesis import strategies as st
from supportkit_webhook import WebhookNotifier, sign, verify_signature

from supportkit import (
    ConfigurationError,
    FrozenClock,
    IntegrationHTTPError,
    IntegrationTimeout,
    PluginError,
    Ticket,
    TicketCreated,
    TicketEvent,
)
from supportkit.typing import Notifier

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
NOW = int(AT.timestamp())
URL = "https://hooks.example.com/support"
SECRET = "s3cret"


def notice() -> TicketCreated:
    created = TicketEvent("created", ticket_id="T-1", at=AT)
    return TicketCreated(Ticket.from_events([created]), created)


def mock(
    *statuses: int | Exception,
) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport answers *statuses* in turn (an exception is raised instead)."""
    requests: list[httpx.Request] = []
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    return httpx.Client(transport=httpx.MockTransport(handle)), requests


def notifier(client: httpx.Client, sleeps: list[float] | None = None, **options: Any) -> Any:
    waits = [] if sleeps is None else sleeps
    return WebhookNotifier(
        URL, SECRET, client=client, sleep=waits.append, clock=FrozenClock(AT), **options
    )


# --- signing ------------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """The signature follows the documented recipe; the golden value comes from
    ``printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key``."""
    expected = "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
    assert expected == sign("key", 1700000000, b'{"a":1}')


@settings(max_examples=60, deadline=None)
@given(secret=st.binary(min_size=1, max_size=32), body=st.binary(max_size=200))
def test_signed_requests_verify(secret: bytes, body: bytes) -> None:
    """Whatever the secret and body, a fresh signed request verifies."""
    assert verify_signature(secret, str(NOW), body, sign(secret, NOW, body), NOW)


@settings(max_examples=60, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), position=st.integers(0, 199))
def test_any_tampered_byte_fails_verification(body: bytes, position: int) -> None:
    """Changing one byte of the body invalidates the signature."""
    index = position % len(body)
    tampered = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
    assert not verify_signature(SECRET, NOW, tampered, sign(SECRET, NOW, body), NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "expected"),
    [
        (NOW, sign(SECRET, NOW, b"{}"), NOW + 300, True),
        (NOW, sign(SECRET, NOW, b"{}"), NOW + 301, False),
        (NOW, sign(SECRET, NOW, b"{}"), NOW - 301, False),
        (NOW, sign("other", NOW, b"{}"), NOW, False),
        (NOW, sign(SECRET, NOW, b"{}").removeprefix("sha256="), NOW, False),
        ("soon", sign(SECRET, NOW, b"{}"), NOW, False),
        (NOW + 1, sign(SECRET, NOW, b"{}"), NOW, False),
    ],
    ids=["edge", "stale", "future", "wrong-secret", "no-prefix", "not-a-number", "other-time"],
)
def test_verify_signature_cases(
    timestamp: int | str, signature: str, now: int, expected: bool
) -> None:
    """Stale, future, foreign or malformed signatures are refused; five minutes is allowed."""
    assert expected == verify_signature(SECRET, timestamp, b"{}", signature, now)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (NOW, None),
        (None, sign(SECRET, NOW, b"{}")),
        (NOW, b"sha256=00"),
        (float(NOW), sign(SECRET, NOW, b"{}")),
    ],
    ids=["no-signature", "no-timestamp", "bytes-signature", "float-timestamp"],
)
def test_verify_signature_is_false_for_missing_or_mistyped_headers(
    timestamp: Any, signature: Any
) -> None:
    """A missing or mistyped header value is refused (False), never an exception."""
    assert False is verify_signature(SECRET, timestamp, b"{}", signature, NOW)


# --- delivery -----------------------------------------------------------------------------------


def test_notice_is_posted_as_signed_json() -> None:
    """The body is notice.to_dict() and the headers carry a verifiable signature."""
    client, requests = mock(204)
    sent = notice()
    notifier(client).notify(sent)
    (request,) = requests
    assert sent.to_dict() == json.loads(request.content)
    headers = request.headers
    assert (str(NOW), "ticket_created", "application/json") == (
        headers["X-Supportkit-Timestamp"],
        headers["X-Supportkit-Kind"],
        headers["Content-Type"],
    )
    assert verify_signature(
        SECRET,
        headers["X-Supportkit-Timestamp"],
        request.content,
        headers["X-Supportkit-Signature"],
        NOW,
    )


def test_server_errors_are_retried_with_backoff() -> None:
    """5xx answers are retried after 0.25 s, 0.5 s; success ends the retries."""
    client, requests = mock(503, 502, 200)
    sleeps: list[float] = []
    notifier(client, sleeps).notify(notice())
    assert 3 == len(requests)
    assert [0.25, 0.5] == sleeps


def test_persistent_server_error_is_an_http_error_with_request_and_response() -> None:
    """After the last retry, a 5xx becomes IntegrationHTTPError carrying both ends."""
    client, requests = mock(500, 500, 500)
    with pytest.raises(IntegrationHTTPError, match="answered 500") as info:
        notifier(client).notify(notice())
    assert 3 == len(requests)
    assert 500 == info.value.response.status_code
    assert requests[-1] is info.value.request


def test_client_errors_are_not_retried() -> None:
    """A 4xx needs a fix on one side: one try, then IntegrationHTTPError."""
    client, requests = mock(410)
    sleeps: list[float] = []
    with pytest.raises(IntegrationHTTPError, match="not retried"):
        notifier(client, sleeps).notify(notice())
    assert (1, []) == (len(requests), sleeps)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_deliveries(status: int) -> None:
    """A 3xx did not deliver the notice: one try, then IntegrationHTTPError naming the status."""
    client, requests = mock(status)
    with pytest.raises(IntegrationHTTPError, match=f"answered {status} .*redirect"):
        notifier(client, []).notify(notice())
    assert 1 == len(requests)


def test_connect_errors_are_retried_then_a_timeout() -> None:
    """No connection: retried, then IntegrationTimeout (the outbox takes over)."""
    client, requests = mock(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), 204)
    notifier(client).notify(notice())
    assert 3 == len(requests)
    failing, _ = mock(*[httpx.ConnectError("refused")] * 2)
    with pytest.raises(IntegrationTimeout, match="could not connect after 2 tries"):
        notifier(failing, retries=1).notify(notice())


def test_read_timeout_is_not_retried() -> None:
    """A request that may have arrived is not sent twice: IntegrationTimeout at once."""
    client, requests = mock(httpx.ReadTimeout("no answer"))
    with pytest.raises(IntegrationTimeout, match=r"no answer within 5\.0 s"):
        notifier(client).notify(notice())
    assert 1 == len(requests)


def test_kinds_filters_notices() -> None:
    """With kinds, other notices are not posted."""
    client, requests = mock()
    notifier(client, kinds={"sla_breached"}).notify(notice())
    assert [] == requests


@pytest.mark.parametrize(
    ("url", "secret", "options", "match"),
    [
        ("ftp://x", SECRET, {}, "must start with http"),
        (URL, "", {}, "secret is empty"),
        (URL, SECRET, {"retries": -1}, "must be >= 0"),
        (URL, SECRET, {"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_are_configuration_errors(
    url: str, secret: str, options: dict[str, Any], match: str
) -> None:
    """Misconfiguration fails at construction, saying what to fix."""
    with pytest.raises(ConfigurationError, match=match):
        WebhookNotifier(url, secret, **options)


# --- a real loopback server ---------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]], list[int]]]:
    """A loopback HTTP server answering the queued statuses (204 when none is queued)."""
    received: list[tuple[dict[str, str], bytes]] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(statuses.pop(0) if statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received, statuses
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_loopback_server_receives_a_verifiable_request(server: Any) -> None:
    """Over real HTTP, the receiver verifies the signature with verify_signature."""
    url, received, statuses = server
    statuses.extend([500])
    with httpx.Client() as client:
        WebhookNotifier(url, SECRET, client=client, sleep=lambda _: None).notify(notice())
    assert 2 == len(received)
    headers, body = received[-1]
    assert verify_signature(
        SECRET,
        headers["X-Supportkit-Timestamp"],
        body,
        headers["X-Supportkit-Signature"],
        int(headers["X-Supportkit-Timestamp"]),
    )
    assert "ticket_created" == json.loads(body)["kind"]


def test_closed_port_is_an_integration_timeout() -> None:
    """Nobody listening: connect errors are retried, then IntegrationTimeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with httpx.Client() as client:
        hook = WebhookNotifier(
            f"http://127.0.0.1:{port}/", SECRET, client=client, sleep=sleeps.append, timeout=2
        )
        with pytest.raises(IntegrationTimeout):
            hook.notify(notice())
    assert [0.25, 0.5] == sleeps


# --- plugin wiring ------------------------------------------------------------------------------


def test_webhook_notifier_is_a_notifier_and_a_plugin(
    plugin_host: Any, register_plugin: Any
) -> None:
    """Handed to a host, it registers itself as notifier "webhook"; failures are named."""
    client, _ = mock(404)
    hook = notifier(client)
    assert isinstance(hook, Notifier)
    register_plugin(plugin_host, hook)
    assert hook is plugin_host.notifiers()["webhook"]
    (failure,) = plugin_host.notify(notice())
    assert isinstance(failure, PluginError)
    assert "notifier:webhook" == failure.plugin
    assert isinstance(failure.__cause__, IntegrationHTTPError)


def registered(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("SUPPORTKIT_WEBHOOK_URL", "SUPPORTKIT_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found: dict[str, Any] = {}
    supportkit_webhook.supportkit_register_notifiers(register=found.__setitem__)
    return found


def test_module_plugin_registers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With URL and secret set, the entry-point plugin registers notifier "webhook"."""
    found = registered(monkeypatch, SUPPORTKIT_WEBHOOK_URL=URL, SUPPORTKIT_WEBHOOK_SECRET=SECRET)
    assert [URL] == [n.url for n in found.values()]
    assert ["webhook"] == list(found)


def test_module_plugin_is_off_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed but not configured: nothing is registered."""
    assert {} == registered(monkeypatch)


def test_module_plugin_half_configured_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one of the two variables set is a clear error."""
    with pytest.raises(ConfigurationError, match="set both"):
        registered(monkeypatch, SUPPORTKIT_WEBHOOK_URL=URL)


def test_installed_package_advertises_its_entry_point() -> None:
    """pip-installed, the package is the "webhook" plugin of the supportkit group."""
    found = importlib.metadata.entry_points(group="supportkit", name="webhook")
    if not found:
        pytest.skip("supportkit-webhook is not installed (run through `nox -s plugins`)")
    (entry_point,) = found
    assert supportkit_webhook is entry_point.load()
