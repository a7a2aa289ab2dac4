"""The public surface is exactly what we mean to export."""

import supportkit

EXPECTED = [
    "AffectedCustomers",
    "Agent",
    "AgentState",
    "AgentStatus",
    "Article",
    "ArticleChanged",
    "ArticleEvent",
    "ArticleHit",
    "ArticleImport",
    "ArticleLink",
    "ArticleStats",
    "Assignment",
    "BusinessCalendar",
    "CalendarError",
    "Channel",
    "Claim",
    "Clock",
    "CombinedCalendar",
    "Commit",
    "ConcurrencyError",
    "ConfigFileError",
    "ConfigurationError",
    "Coverage",
    "CoverageSpan",
    "Customer",
    "DeliveryResult",
    "DeskConfig",
    "EngineeringIssue",
    "Escalation",
    "EscalationLadder",
    "EscalationLevel",
    "EventAppended",
    "EventError",
    "ExactQuantiles",
    "Feedback",
    "FeedbackAggregator",
    "FollowTheSun",
    "FrozenClock",
    "Goal",
    "GoalResult",
    "Group",
    "GroupMetrics",
    "Ignored",
    "InMemoryStore",
    "InboundMessage",
    "IngestResult",
    "IntegrationError",
    "IntegrationHTTPError",
    "IntegrationTimeout",
    "IssueUpdate",
    "JsonChannel",
    "KnowledgeSettings",
    "LeastLoaded",
    "LogNotifier",
    "MAX_ARTICLE_BODY",
    "MetricsAggregator",
    "MetricsReport",
    "MostIdle",
    "NextStep",
    "OnReopens",
    "OnSlaAlert",
    "OnTier",
    "OutboundReply",
    "OutboxMessage",
    "Party",
    "PluginError",
    "PolicyError",
    "PolicyWarning",
    "PresenceEvent",
    "PresenceSpan",
    "PresenceState",
    "Priority",
    "ProblemSettings",
    "ProblemSuggestion",
    "QuantileSketch",
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
    "SelfServiceAggregator",
    "SelfServiceReport",
    "SessionEvent",
    "SessionFacts",
    "SettingsChangedError",
    "SlaAlert",
    "SlaBreached",
    "SlaConfig",
    "SlaCycle",
    "SlaEvaluation",
    "SlaMetricEvent",
    "SlaPolicy",
    "SlaStatus",
    "SlaTarget",
    "SlaTracker",
    "SlaWarning",
    "SqliteStore",
    "StaffingPlan",
    "StaffingRow",
    "Status",
    "StatusChanged",
    "StepAction",
    "Sticky",
    "StoreError",
    "SuggestionReport",
    "SupportDesk",
    "SupportkitError",
    "SystemClock",
    "TickResult",
    "Ticket",
    "TicketAssigned",
    "TicketCreated",
    "TicketEscalated",
    "TicketEvent",
    "TicketFacts",
    "TicketStateError",
    "Tier",
    "WhatIf",
    "WhatIfTally",
    "allowed_transitions",
    "article_html",
    "article_text",
    "audit_next_steps",
    "backlog_agents",
    "check_policies",
    "claim",
    "content_gaps",
    "coverage",
    "evaluate_sla",
    "facts_to_columns",
    "feedback",
    "handling_time",
    "hookimpl",
    "metrics_report",
    "next_step",
    "presence_spans",
    "retry_after",
    "select_policy",
    "self_service",
    "session_facts",
    "sla_deadline",
    "sla_metric_events",
    "snippet_html",
    "staffing_plan",
    "text_html",
    "whatif",
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


def test_storekit_is_public_documented_and_enough_for_the_postgres_plugin() -> None:
    """``supportkit.storekit`` lists names it has, each function and class documented,
    and the PostgreSQL plugin (a store written outside the core) imports no private module
    of supportkit: what it needs is in the public surface."""
    import inspect
    import re
    from pathlib import Path

    import supportkit.storekit as storekit

    assert [] == [name for name in storekit.__all__ if not hasattr(storekit, name)]
    undocumented = [
        name
        for name in storekit.__all__
        if callable(getattr(storekit, name)) and not inspect.getdoc(getattr(storekit, name))
    ]
    assert [] == undocumented
    plugin = Path(__file__).resolve().parents[1] / "plugins" / "postgres" / "src"
    private = [
        f"{path.name}: {line.strip()}"
        for path in sorted(plugin.rglob("*.py"))
        for line in path.read_text().splitlines()
        if re.match(r"\s*(from|import)\s+supportkit\._", line)
    ]
    assert [] == private
