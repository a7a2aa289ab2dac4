"""The public surface is exactly what we mean to export."""

import supportkit

EXPECTED = [
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


def test_all_is_pinned_and_sorted() -> None:
    """``supportkit.__all__`` is exactly the pinned list, sorted."""
    assert EXPECTED == supportkit.__all__
    assert sorted(supportkit.__all__) == supportkit.__all__


def test_exported_classes_report_public_module() -> None:
    """Exported classes say ``supportkit``, not the private module they live in."""
    for name in supportkit.__all__:
        obj = getattr(supportkit, name)
        if isinstance(obj, type):
            assert obj.__module__ == "supportkit", name
