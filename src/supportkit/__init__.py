"""supportkit: embeddable customer-support workflows.

Ticket lifecycles, tier-aware routing and escalation, SLA clocks on business calendars and
support metrics, with pluggy hooks for channels, CRM backends and notifiers.
"""

from __future__ import annotations

from typing import Any

from ._builtins import JsonChannel, LogNotifier
from ._calendar import BusinessCalendar
from ._clock import Clock, FrozenClock, SystemClock
from ._commit import Commit, OutboxMessage
from ._config import DeskConfig
from ._coverage import CombinedCalendar, Coverage, CoverageSpan, FollowTheSun, coverage
from ._desk import DeliveryResult, IngestResult, SupportDesk, TickResult
from ._deskloop import ArticleLink, KnowledgeSettings
from ._engineering import AffectedCustomers, EngineeringIssue, IssueUpdate
from ._escalation import (
    Escalation,
    EscalationLadder,
    EscalationLevel,
    OnReopens,
    OnSlaAlert,
    OnTier,
)
from ._feedback import Feedback, FeedbackAggregator, feedback
from ._hookargs import (
    ArticleChanged,
    EventAppended,
    OutboundReply,
    SatisfactionReceived,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
)
from ._kbhtml import article_html, article_text, snippet_html, text_html
from ._kbimport import ArticleImport
from ._knowledge import (
    MAX_ARTICLE_BODY,
    Article,
    ArticleEvent,
    ArticleHit,
    ArticleStats,
    SuggestionReport,
)
from ._lifecycle import allowed_transitions
from ._metrics import (
    Goal,
    GoalResult,
    GroupMetrics,
    MetricsAggregator,
    MetricsReport,
    PresenceEvent,
    PresenceSpan,
    PresenceState,
    SessionEvent,
    SessionFacts,
    TicketFacts,
    facts_to_columns,
    metrics_report,
    presence_spans,
)
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
from ._nextstep import NextStep, Party, StepAction, audit_next_steps, next_step, sla_deadline
from ._plan import StaffingPlan, StaffingRow, backlog_agents, handling_time, staffing_plan
from ._problems import ProblemSettings, ProblemSuggestion
from ._retry import retry_after
from ._routing import (
    AgentState,
    AgentStatus,
    Assignment,
    Claim,
    LeastLoaded,
    MostIdle,
    Relax,
    Requirements,
    RoundRobin,
    RoutedTicket,
    Router,
    RoutingQueue,
    Sticky,
    claim,
)
from ._selfservice import (
    SelfServiceAggregator,
    SelfServiceReport,
    content_gaps,
    self_service,
    session_facts,
)
from ._sketch import ExactQuantiles, QuantileSketch
from ._sla import (
    SLA_METRICS,
    PolicyWarning,
    SlaAlert,
    SlaCycle,
    SlaEvaluation,
    SlaMetricEvent,
    SlaPolicy,
    SlaStatus,
    SlaTarget,
    SlaTracker,
    check_policies,
    evaluate_sla,
    select_policy,
    sla_metric_events,
)
from ._sqlite import SqliteStore
from ._store import InMemoryStore
from ._ticket import Satisfaction, Ticket
from ._whatif import SlaConfig, WhatIf, WhatIfTally, whatif
from .exceptions import (
    CalendarError,
    ConcurrencyError,
    ConfigFileError,
    ConfigurationError,
    EventError,
    Ignored,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    PluginError,
    PolicyError,
    SettingsChangedError,
    StoreError,
    SupportkitError,
    TicketStateError,
)
from .hookspecs import hookimpl

__all__ = [  # noqa: RUF022 - plain sorted() order, as tests/test_exported_members.py pins it
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
