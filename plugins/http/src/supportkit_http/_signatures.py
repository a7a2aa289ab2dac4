"""Who may post to ``/inbound/{channel}``: signature schemes and the replay key they yield.

A :class:`SignatureScheme` checks one request (its headers, raw body and the receiver's clock)
against a channel's secret and returns a :class:`Signed` (the key that identifies the request
for replay protection and the instant until which that key must be remembered), or ``None``
when the request is not authentic or not fresh. :class:`SupportkitSignature` is the scheme the
``supportkit-webhook`` notifier signs with (its :func:`~supportkit_webhook.verify_signature` does
the check); :class:`SlackSignature` shows a provider's own scheme (Slack's ``v0=``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs
from supportkit_webhook import TOLERANCE, verify_signature

from supportkit import ConfigurationError

__all__ = ["SignatureScheme", "Signed", "SlackSignature", "SupportkitSignature"]


@attrs.frozen
class Signed:
    """An authentic, fresh request: ``key`` identifies it (a second request with the same key
    within the window is a replay) and ``until`` (unix seconds) is when the key may be
    forgotten, because the signature has gone stale by then."""

    key: str
    until: int


@runtime_checkable
class SignatureScheme(Protocol):
    """How one provider signs its webhooks.

    *headers* has lower-case names; *body* is the raw request body and *now* the receiver's
    unix time. Return ``None`` for a request that is unsigned, forged or stale (the app
    answers 401), else a :class:`Signed`. Compare signatures in constant time.
    """

    def verify(
        self, secret: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> Signed | None:
        """Check one request; ``None`` refuses it."""
        ...


@attrs.frozen
class SupportkitSignature:
    """supportkit's own scheme, as the webhook notifier signs: ``X-Supportkit-Timestamp`` (unix
    seconds) and ``X-Supportkit-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>``,
    refused more than *tolerance* seconds (five minutes) away from the receiver's clock."""

    tolerance: int = TOLERANCE

    def verify(
        self, secret: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> Signed | None:
        """Check the request with :func:`supportkit_webhook.verify_signature`."""
        timestamp = _header(headers, "x-supportkit-timestamp")
        signature = _header(headers, "x-supportkit-signature")
        if not verify_signature(secret, timestamp, body, signature, now, tolerance=self.tolerance):
            return None
        assert timestamp is not None
        assert signature is not None
        return Signed(key=signature, until=int(timestamp) + self.tolerance)


@attrs.frozen
class SlackSignature:
    """Slack's request signing: ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature:
    v0=<hex HMAC-SHA256(signing secret, "v0:<ts>:<body>")>``, refused more than *tolerance*
    seconds (five minutes, as Slack advises) away from the receiver's clock."""

    tolerance: int = TOLERANCE

    def verify(
        self, secret: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> Signed | None:
        """Check the request as Slack documents it."""
        timestamp = _header(headers, "x-slack-request-timestamp") or ""
        signature = _header(headers, "x-slack-signature") or ""
        if not (
            isinstance(secret, str)
            and isinstance(body, bytes)
            and isinstance(now, int | float)
            and timestamp.isascii()
            and timestamp.isdigit()
            and signature.isascii()
            and abs(now - int(timestamp)) <= self.tolerance  # (a NaN now is never fresh)
        ):
            return None
        expected = "v0=" + slack_digest(secret, timestamp, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        return Signed(key=signature, until=int(timestamp) + self.tolerance)


def slack_digest(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 Slack signs a request with (without the ``v0=`` prefix)."""
    message = f"v0:{timestamp}:".encode() + body
    try:
        key = secret.encode()
    except UnicodeEncodeError:  # a lone surrogate: no secret anybody could have signed with
        raise ConfigurationError("a Slack signing secret must be valid Unicode text") from None
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value, ``None`` if it is missing or *headers* is not a mapping of text."""
    value = headers.get(name) if isinstance(headers, Mapping) else None
    return value if isinstance(value, str) else None
