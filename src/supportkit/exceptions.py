"""Every error supportkit raises, in one tree.

Catch :class:`SupportkitError` to handle anything the library raises; catch a branch to handle
one category. Where a builtin exception shares the meaning, the class subclasses it too, so
``except ValueError`` keeps working for code that does not know supportkit.

::

    SupportkitError
    ├── ConfigurationError (ValueError)     bad settings: tiers, agents, routers, ladders
    │   ├── PolicyError                     an SLA policy that cannot work
    │   ├── ConfigFileError                 a configuration file with errors (.file, .problems)
    │   └── SettingsChangedError            the store records other settings (.diff)
    ├── CalendarError (ValueError)          bad schedule or instant handed to a calendar
    ├── EventError (ValueError)             an event or event dict that is not valid (.kind, .field)
    ├── TicketStateError (ValueError)       a forbidden transition (.ticket_id, .status, .event)
    ├── PluginError                         a plugin failed or is misdeclared (.plugin)
    ├── Ignored                             noise a channel skips (.reason, .message, .record)
    ├── IntegrationError                    outside system failed (.request, .retry_at, .permanent)
    │   ├── IntegrationTimeout
    │   └── IntegrationHTTPError            the system answered with an error status (.response)
    └── StoreError                          the event store failed (wraps sqlite3 and friends)
        └── ConcurrencyError                a stale append (.ticket_id, .expected, .actual)

Foreign exceptions (``httpx``, ``statemachine``, ``sqlite3``, a plugin's own) are translated at
the boundary with ``raise ... from exc``, so the original stays reachable as ``__cause__``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._model import InboundMessage

__all__ = [
    "CalendarError",
    "ConcurrencyError",
    "ConfigFileError",
    "ConfigurationError",
    "EventError",
    "Ignored",
    "IntegrationError",
    "IntegrationHTTPError",
    "IntegrationTimeout",
    "PluginError",
    "PolicyError",
    "SettingsChangedError",
    "StoreError",
    "SupportkitError",
    "TicketStateError",
]


class SupportkitError(Exception):
    """Base class of every error supportkit raises."""


class ConfigurationError(SupportkitError, ValueError):
    """A setting (tier, agent, router, escalation ladder, desk option) is invalid."""


class PolicyError(ConfigurationError):
    """An SLA policy is invalid: unknown metric, non-positive target, no targets at all."""


class ConfigFileError(ConfigurationError):
    """A configuration file (``supportkit.toml``) has errors; all of them are reported at once.

    ``file`` is the file's path (``None`` for a mapping) and ``problems`` the
    ``(key path, message)`` pairs, e.g. ``("policies[2].targets.urgent.first_reply",
    "'business' is required")``, in file order.
    """

    def __init__(
        self, message: str, *, file: str | None, problems: tuple[tuple[str, str], ...]
    ) -> None:
        super().__init__(message)
        self.file = file
        self.problems = problems


class SettingsChangedError(ConfigurationError):
    """The store records another configuration than the one given, and it was not applied.

    ``diff`` shows the difference (recorded → given) line by line; pass ``apply=True``
    (``--apply``) to record the given configuration as a new version.
    """

    def __init__(self, message: str, *, diff: str) -> None:
        super().__init__(message)
        self.diff = diff


class CalendarError(SupportkitError, ValueError):
    """A business calendar was given a bad schedule, zone or instant."""


class EventError(SupportkitError, ValueError):
    """An event (or its dict form) is invalid.

    ``kind`` is the event kind when known and ``field`` the offending field, if any.
    """

    def __init__(self, message: str, *, kind: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


class TicketStateError(SupportkitError, ValueError):
    """An event is not allowed in the ticket's current state.

    ``ticket_id``, ``status`` (the status before the event) and ``event`` (the rejected
    :class:`~supportkit.TicketEvent`, or ``None``) say what was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        ticket_id: str | None = None,
        status: str | None = None,
        event: Any = None,
    ) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id
        self.status = status
        self.event = event


class PluginError(SupportkitError):
    """A plugin raised, returned something invalid, or declared a hook wrongly.

    ``plugin`` is the plugin's registered name.
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class Ignored(SupportkitError):
    """Raised by a channel's ``parse`` for a payload that is noise, not a customer message.

    Auto-replies ("out of office"), bounces, bulk mail and the desk's own outgoing mail coming
    back are noise: :meth:`SupportDesk.receive <supportkit.SupportDesk.receive>` turns this
    error into an :class:`~supportkit.IngestResult` whose ``ignored`` is ``reason`` instead of
    opening or threading a ticket. ``message`` is the parsed message when the channel got that
    far (its ``references`` and ``ticket_hint`` name the ticket it belongs to, if any); with
    ``record=True`` and a known ticket the desk appends it to that ticket as an internal system
    note (a bounce an agent should see), which touches no SLA clock.

    A *reason* that is not a non-empty string, a *message* that is not an
    :class:`~supportkit.InboundMessage`, or ``record=True`` without a *message* is a
    :class:`ConfigurationError` (a bug in the channel).
    """

    def __init__(
        self, reason: str, *, message: InboundMessage | None = None, record: bool = False
    ) -> None:
        from ._model import InboundMessage  # here: _model imports this module

        if not isinstance(reason, str) or not reason:
            raise ConfigurationError(f"Ignored(reason) must be a non-empty string, got {reason!r}")
        if message is not None and not isinstance(message, InboundMessage):
            raise ConfigurationError(
                f"Ignored(message=...) must be a supportkit.InboundMessage or None, got {message!r}"
            )
        if record and message is None:
            raise ConfigurationError(
                "Ignored(record=True) needs the parsed message (Ignored(reason, message=..., "
                "record=True)): there is nothing to record without it"
            )
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.record = bool(record)


class IntegrationError(SupportkitError):
    """Talking to an outside system (webhook, CRM, mail server) failed.

    ``request`` is the :class:`httpx.Request` when the integration speaks HTTP.

    Two hints tell the desk's outbox how to retry a delivery that raised this error:
    ``retry_at`` (an aware datetime) is when the system asked to be tried again (an HTTP 429's
    ``Retry-After``, a greylisting mail server): the outbox waits until then without spending
    one of its attempts. ``permanent=True`` says retrying cannot help (the address does not
    exist, the request is refused for good): the outbox dead-letters the message at once, with
    this error as the reason. Without either, the outbox retries with its usual backoff.
    A naive ``retry_at``, a ``retry_at`` that is not a datetime, or both hints at once is a
    :class:`ConfigurationError` (a bug in the integration).
    """

    def __init__(
        self,
        message: str,
        *,
        request: Any = None,
        retry_at: datetime | None = None,
        permanent: bool = False,
    ) -> None:
        if retry_at is not None and (
            not isinstance(retry_at, datetime) or retry_at.utcoffset() is None
        ):
            raise ConfigurationError(
                f"IntegrationError(retry_at=...) must be an aware datetime, got {retry_at!r} "
                "(e.g. clock.now() + timedelta(seconds=retry_after))"
            )
        if retry_at is not None and permanent:
            raise ConfigurationError(
                "IntegrationError: pass retry_at (try again then) or permanent=True (never "
                "retry), not both"
            )
        super().__init__(message)
        self.request = request
        self.retry_at = retry_at
        self.permanent = bool(permanent)


class IntegrationTimeout(IntegrationError):
    """The outside system did not answer in time (or could not be reached)."""


class IntegrationHTTPError(IntegrationError):
    """The outside system answered with an error status; ``response`` holds the answer."""

    def __init__(
        self,
        message: str,
        *,
        request: Any = None,
        response: Any = None,
        retry_at: datetime | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, request=request, retry_at=retry_at, permanent=permanent)
        self.response = response


class StoreError(SupportkitError):
    """The event store failed to read or write."""


class ConcurrencyError(StoreError):
    """An append used a stale per-ticket version: someone else appended first.

    Re-read the ticket and retry. ``expected`` is the version the caller assumed and ``actual``
    the version found in the store.
    """

    def __init__(self, message: str, *, ticket_id: str, expected: int, actual: int) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id
        self.expected = expected
        self.actual = actual
