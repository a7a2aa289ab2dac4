"""The SLA engine: policies, the metric fold, evaluations and scenario files."""

from ._engine import (
    SlaAlert,
    SlaCycle,
    SlaEvaluation,
    SlaMetricEvent,
    SlaStatus,
    SlaTracker,
    evaluate_sla,
    sla_metric_events,
)
from ._policy import (
    SLA_METRICS,
    PolicyWarning,
    SlaPolicy,
    SlaTarget,
    check_policies,
    select_policy,
)

__all__ = [
    "SLA_METRICS",
    "PolicyWarning",
    "SlaAlert",
    "SlaCycle",
    "SlaEvaluation",
    "SlaMetricEvent",
    "SlaPolicy",
    "SlaStatus",
    "SlaTarget",
    "SlaTracker",
    "check_policies",
    "evaluate_sla",
    "select_policy",
    "sla_metric_events",
]
