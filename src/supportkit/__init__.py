"""supportkit: embeddable customer-support workflows.

Ticket lifecycles, tier-aware routing and escalation, SLA clocks on business calendars and
support metrics, with pluggy hooks for channels, CRM backends and notifiers.
"""

from __future__ import annotations

from typing import Any

from ._calendar import BusinessCalendar
from ._clock import Clock, FrozenClock, SystemClock
from ._lifecycle import TicketLifecycle
from ._model import (
    Agent,
    Channel,
    Customer,
    Group,
    InboundMessage,
    Priority,
    Role,
    Status,
    TicketEvent,
    Tier,
)
from ._store import InMemoryStore
from ._ticket import Satisfaction, Ticket
from .exceptions import (
    CalendarError,
    ConcurrencyError,
    ConfigurationError,
    EventError,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    PluginError,
    PolicyError,
    StoreError,
    SupportkitError,
    TicketStateError,
)

__all__ = [
    "Agent",
    "BusinessCalendar",
    "CalendarError",
    "Channel",
    "Clock",
    "ConcurrencyError",
    "ConfigurationError",
    "Customer",
    "EventError",
    "FrozenClock",
    "Group",
    "InMemoryStore",
    "InboundMessage",
    "IntegrationError",
    "IntegrationHTTPError",
    "IntegrationTimeout",
    "PluginError",
    "PolicyError",
    "Priority",
    "Role",
    "Satisfaction",
    "Status",
    "StoreError",
    "SupportkitError",
    "SystemClock",
    "Ticket",
    "TicketEvent",
    "TicketLifecycle",
    "TicketStateError",
    "Tier",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("supportkit")
    raise AttributeError(f"module 'supportkit' has no attribute {name!r}")


# Public objects report the public path (``supportkit.Ticket``, not ``supportkit._ticket.Ticket``).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("supportkit."):
        _obj.__module__ = "supportkit"
del _name, _obj
