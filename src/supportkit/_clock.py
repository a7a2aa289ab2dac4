"""Where the time comes from: nothing in supportkit reads the wall clock directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from ._time import to_epoch
from .exceptions import ConfigurationError

__all__ = ["Clock", "FrozenClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` that returns an aware datetime."""

    def now(self) -> datetime:
        """Return the current instant as an aware datetime."""
        ...


class SystemClock:
    """The real clock: ``datetime.now(UTC)``."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that stands still until told otherwise; for tests, simulations and replays.

    >>> clock = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    >>> clock.advance(minutes=30).now()
    datetime.datetime(2025, 3, 3, 9, 30, tzinfo=datetime.timezone.utc)
    """

    def __init__(self, at: datetime) -> None:
        self._at = _checked(at)

    def now(self) -> datetime:
        """Return the frozen instant."""
        return self._at

    def set(self, at: datetime) -> FrozenClock:
        """Move the clock to *at* (backwards too) and return the clock."""
        self._at = _checked(at)
        return self

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> FrozenClock:
        """Move the clock forward by *delta* or by ``timedelta(**kwargs)``; return the clock."""
        try:
            step = delta if delta is not None else timedelta(**kwargs)
        except TypeError as exc:
            raise ConfigurationError(
                f"advance() takes a timedelta or timedelta keywords: {exc}"
            ) from None
        if not isinstance(step, timedelta):
            raise ConfigurationError(f"advance() takes a timedelta, got {step!r}")
        self._at = self._at + step
        return self

    def __repr__(self) -> str:
        return f"FrozenClock({self._at.isoformat()!r})"


def _checked(at: datetime) -> datetime:
    to_epoch(at, "FrozenClock instant", ConfigurationError)
    return at
