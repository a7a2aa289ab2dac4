"""Reading a server's "try again later": the HTTP ``Retry-After`` header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from ._time import to_epoch
from .exceptions import ConfigurationError

__all__ = ["retry_after"]


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """The instant an HTTP ``Retry-After`` header *value* names, as seen at *now*.

    The header is either delay-seconds (``"120"``: *now* + 120 s) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``; a date already past gives *now*). A missing, empty or
    unreadable value gives ``None``, so the caller falls back to its own backoff. A *now* that
    is not an aware datetime is a :class:`~supportkit.ConfigurationError`. Integrations
    pass the result as ``IntegrationError(retry_at=...)``, and the desk's outbox waits until
    then without spending an attempt.
    """
    to_epoch(now, "retry_after(now=...)", ConfigurationError)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return now + timedelta(seconds=min(int(value), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(now, when if when.tzinfo is not None else when.replace(tzinfo=UTC))
