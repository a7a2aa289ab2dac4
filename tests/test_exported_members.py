"""The public surface is exactly what we mean to export."""

import supportkit

EXPECTED = [
    "Agent",
    "AgentState",
    "AgentStatus",
    "Assignment",
    "BusinessCalendar",
    "CalendarError",
    "Channel",
    "Claim",
    "Clock",
    "ConcurrencyError",
    "ConfigurationError",
    "Customer",
    "Escalation",
    "EscalationLadder",
    "EscalationLevel",
    "EventAppended",
    "EventError",
    "FrozenClock",
    "Group",
    "InMemoryStore",
    "InboundMessage",
    "IntegrationError",
    "IntegrationHTTPError",
    "IntegrationTimeout",
    "JsonChannel",
    "LeastLoaded",
    "LogNotifier",
    "MostIdle",
    "NextStep",
    "OnReopens",
    "OnSlaAlert",
    "OnTier",
    "OutboundReply",
    "Party",
    "PluginError",
    "PolicyError",
    "PolicyWarning",
    "Priority",
    "Relax",
    "Requirements",
    "Role",
    "RoundRobin",
    "RoutedTicket",
    "Router",
    "RoutingQueue",
    "SLA_METRICS",
    "Satisfaction",
    "SatisfactionReceived",
    "SlaAlert",
    "SlaBreached",
    "SlaCycle",
    "SlaEvaluation",
    "SlaMetricEvent",
    "SlaPolicy",
    "SlaStatus",
    "SlaTarget",
    "SlaTracker",
    "SlaWarning",
    "Status",
    "StatusChanged",
    "StepAction",
    "Sticky",
    "StoreError",
    "SupportkitError",
    "SystemClock",
    "Ticket",
    "TicketAssigned",
    "TicketCreated",
    "TicketEscalated",
    "TicketEvent",
    "TicketLifecycle",
    "TicketStateError",
    "Tier",
    "audit_next_steps",
    "check_policies",
    "claim",
    "evaluate_sla",
    "hookimpl",
    "next_step",
    "select_policy",
    "sla_metric_events",
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
