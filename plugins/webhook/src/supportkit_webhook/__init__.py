"""supportkit-webhook: POST every lifecycle notice as signed JSON to a URL.

The plugin (this module, found through the ``supportkit`` entry-point group as ``webhook``)
registers a :class:`WebhookNotifier` named ``"webhook"`` when the environment variables
``SUPPORTKIT_WEBHOOK_URL`` and ``SUPPORTKIT_WEBHOOK_SECRET`` are set. A
:class:`WebhookNotifier` object is a plugin too: ``SupportDesk(plugins=[WebhookNotifier(...)])``.

Signing: ``X-Supportkit-Timestamp`` is the unix time of the attempt and
``X-Supportkit-Signature`` is ``sha256=`` + the hex HMAC-SHA256 of ``"<timestamp>.<body>"``
under the shared secret; :func:`verify_signature` checks both on the receiving side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Collection, Mapping

import httpx

from supportkit import (
    Clock,
    ConfigurationError,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    SystemClock,
    hookimpl,
)
from supportkit.typing import Notice, Notifier

__all__ = ["TOLERANCE", "WebhookNotifier", "sign", "verify_signature"]

#: How far (seconds) a signed timestamp may be from the receiver's clock: five minutes.
TOLERANCE = 300


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if not isinstance(secret, str):
        raise ConfigurationError(f"a webhook secret is a str or bytes, got {type(secret).__name__}")
    try:
        return secret.encode()
    except UnicodeEncodeError:
        raise ConfigurationError("a webhook secret must be valid Unicode text") from None


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Supportkit-Signature`` value for *body* sent at *timestamp* (unix seconds)."""
    digest = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | int | None,
    body: bytes,
    signature: str | None,
    now: float,
    *,
    tolerance: int = TOLERANCE,
) -> bool:
    """Whether a webhook request is authentic and fresh.

    *timestamp* and *signature* are the ``X-Supportkit-Timestamp`` and
    ``X-Supportkit-Signature`` header values, *body* the raw request body and *now* the
    receiver's unix time. The signature is compared in constant time; a timestamp more than
    *tolerance* seconds (five minutes) before or after *now* is refused, so a captured request
    cannot be replayed later. A missing header (``None``), a signature that is not a string or
    a timestamp that is neither a string nor an int is ``False``, not an error; a *secret*
    that is not text or bytes, a *body* that is not bytes or a *now* or *tolerance* that is not
    a number is the receiver's own mistake and raises :class:`~supportkit.ConfigurationError`.
    """
    key = _key(secret)  # a bad secret is the receiver's mistake: ConfigurationError
    for name, number in (("now", now), ("tolerance", tolerance)):
        if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
            raise ConfigurationError(f"verify_signature: {name} must be a number, got {number!r}")
    if not isinstance(body, bytes):
        raise ConfigurationError(
            f"verify_signature: body must be the raw request bytes, got {type(body).__name__}"
        )
    if not isinstance(signature, str) or not isinstance(timestamp, str | int):
        return False  # a missing header (None) or a value of another type
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if not -(2**53) < sent < 2**53 or abs(now - sent) > tolerance or not signature.isascii():
        return False
    return hmac.compare_digest(sign(key, sent, body).encode(), signature.encode())


class WebhookNotifier:
    """A :class:`supportkit.typing.Notifier` that POSTs each notice as signed JSON to *url*.

    The body is ``notice.to_dict()`` as compact JSON. Requests go through *client* (an
    ``httpx.Client``; a private one is created if none is given) with *timeout* seconds.
    Connection failures and 5xx answers are retried *retries* times after *backoff*, then
    twice that, ... seconds (*sleep* waits; inject one in tests); a 4xx answer is not retried.
    Only a 2xx answer is a delivery: a 3xx (redirects are not followed) is not retried either.
    Failures raise :class:`~supportkit.IntegrationTimeout` (no answer in time or no
    connection) or :class:`~supportkit.IntegrationHTTPError` (with ``request`` and
    ``response``); the desk's outbox retries later. *kinds* limits the notices sent (all by
    default); *clock* stamps the timestamp header.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        client: httpx.Client | None = None,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
        kinds: Collection[str] | None = None,
        name: str = "webhook",
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"webhook url {url!r} must start with http:// or https://")
        if not secret:
            raise ConfigurationError("webhook secret is empty: set a shared secret to sign with")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ConfigurationError(
                f"webhook: retries ({retries}) and backoff ({backoff}) must be >= 0 and "
                f"timeout ({timeout}) > 0"
            )
        self.url = url
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.kinds = None if kinds is None else frozenset(kinds)
        self._secret = secret
        self._client = client
        self._owns_client = client is None
        self._sleep = sleep
        self._clock = clock or SystemClock()

    def notify(self, notice: Notice) -> None:
        """POST *notice* (unless *kinds* excludes it); raise an ``IntegrationError`` on failure."""
        if self.kinds is None or notice.kind in self.kinds:
            body = json.dumps(notice.to_dict(), separators=(",", ":")).encode()
            self.post(body, {"X-Supportkit-Kind": notice.kind})

    def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """POST *body*, signed, with bounded retries; return the (2xx/3xx) response."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            timestamp = int(self._clock.now().timestamp())
            request = self.client.build_request(
                "POST",
                self.url,
                content=body,
                timeout=self.timeout,
                headers={
                    **(headers or {}),
                    "Content-Type": "application/json",
                    "X-Supportkit-Timestamp": str(timestamp),
                    "X-Supportkit-Signature": sign(self._secret, timestamp, body),
                },
            )
            try:
                response = self.client.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise IntegrationTimeout(
                        f"webhook {self.url}: could not connect after {attempt + 1} tries "
                        f"({exc}); the outbox retries later",
                        request=request,
                    ) from exc
            except httpx.TimeoutException as exc:  # sent, but no answer: do not send twice
                raise IntegrationTimeout(
                    f"webhook {self.url}: no answer within {self.timeout} s ({exc})",
                    request=request,
                ) from exc
            except httpx.HTTPError as exc:
                raise IntegrationError(
                    f"webhook {self.url}: {type(exc).__name__}: {exc}", request=request
                ) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status < 500 or last:
                    why = (
                        ""
                        if status >= 500
                        else " (not retried: a redirect is not a delivery, use the final URL)"
                        if status < 400
                        else " (not retried: fix the request)"
                    )
                    raise IntegrationHTTPError(
                        f"webhook {self.url} answered {response.status_code} "
                        f"{response.reason_phrase} after {attempt + 1} tries{why}",
                        request=request,
                        response=response,
                    )
            self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def client(self) -> httpx.Client:
        """The HTTP client (the injected one, or a private one made on first use)."""
        if self._client is None:
            self._client = httpx.Client()
        return self._client

    def close(self) -> None:
        """Close the private client, if this notifier made one."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Notifier], None]) -> None:
        """Register this notifier under its name (``"webhook"``)."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.name!r} url={self.url!r}>"


@hookimpl
def supportkit_register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """The entry-point plugin: a notifier configured from the environment, if it is set."""
    url = os.environ.get("SUPPORTKIT_WEBHOOK_URL")
    secret = os.environ.get("SUPPORTKIT_WEBHOOK_SECRET")
    if url is None and secret is None:
        return
    if not url or not secret:
        raise ConfigurationError(
            "supportkit-webhook: set both SUPPORTKIT_WEBHOOK_URL and SUPPORTKIT_WEBHOOK_SECRET "
            "(or neither, to leave the webhook off)"
        )
    register("webhook", WebhookNotifier(url, secret))
