"""Instants at the API edge: aware datetimes in, integer epoch seconds inside.

Every module converts with these helpers, once, where a datetime enters or leaves the library.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from .exceptions import SupportkitError

__all__ = ["from_epoch", "parse_instant", "seconds", "to_epoch"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch(
    value: datetime, what: str = "instant", error: type[SupportkitError] = SupportkitError
) -> int:
    """Return *value* as whole epoch seconds; refuse naive datetimes.

    *what* names the argument in the error message and *error* is the class raised, so the
    caller's own error category (``CalendarError``, ``EventError``) reaches the user.
    Sub-second parts are truncated: supportkit works to the second.
    """
    if type(value) is datetime and value.tzinfo is UTC:
        shift = 0  # the usual case: UTC's offset is known without asking for it
    else:
        if not isinstance(value, datetime):
            raise error(f"{what} must be an aware datetime, got {type(value).__name__} {value!r}")
        offset = value.utcoffset()
        if offset is None:
            raise error(
                f"naive datetime {value:%Y-%m-%d %H:%M} for {what}: pass an aware datetime "
                "(e.g. tzinfo=ZoneInfo('America/New_York') or datetime.UTC)"
            )
        shift = offset.days * 86400 + offset.seconds
    # Field arithmetic is exact (microseconds are dropped, i.e. floored) and about three times
    # faster than datetime subtraction: this runs once per instant on every hot path.
    return (
        (value.toordinal() - _EPOCH_ORDINAL) * 86400
        + value.hour * 3600
        + value.minute * 60
        + value.second
        - shift
    )


_EPOCH_ORDINAL = _EPOCH.toordinal()


def from_epoch(ts: int, tz: tzinfo = UTC) -> datetime:
    """Return the aware datetime for epoch second *ts* in zone *tz*."""
    return datetime.fromtimestamp(ts, tz)


def seconds(
    value: timedelta, what: str = "duration", error: type[SupportkitError] = SupportkitError
) -> int:
    """Return *value* as whole seconds, refusing anything that is not a :class:`timedelta`."""
    if not isinstance(value, timedelta):
        raise error(f"{what} must be a datetime.timedelta, got {type(value).__name__} {value!r}")
    return value.days * 86400 + value.seconds


def parse_instant(
    text: str, what: str = "instant", error: type[SupportkitError] = SupportkitError
) -> datetime:
    """Parse an ISO 8601 instant that carries an offset (``Z`` accepted)."""
    if not isinstance(text, str):
        raise error(f"{what} must be an ISO 8601 string, got {type(text).__name__} {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise error(
            f"{what} {text!r} is not an ISO 8601 instant (e.g. 2025-03-03T09:00:00+01:00)"
        ) from exc
    if value.utcoffset() is None:
        raise error(f"{what} {text!r} has no UTC offset: add one (e.g. '+01:00' or 'Z')")
    return value
