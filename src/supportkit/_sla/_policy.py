"""SLA policies: targets per priority and metric, conditions, validation and selection.

A policy is plain data, checked on construction: every mistake (an unknown metric or priority, a
non-positive target, no targets at all, a bad warning level) raises :class:`PolicyError` naming
the policy and the offending entry. Overlapping conditions between policies are legal (the first
match wins) but usually a mistake, so :func:`check_policies` reports them as warnings.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from supportkit._model import Priority, _encodable, listed
from supportkit.exceptions import PolicyError

if TYPE_CHECKING:
    from supportkit._ticket import Ticket

__all__ = [
    "CONDITION_KEYS",
    "SLA_METRICS",
    "PolicyWarning",
    "SlaPolicy",
    "SlaTarget",
    "check_policies",
    "select_policy",
]

#: The seven metrics, in the order evaluations list them (Zendesk's model).
SLA_METRICS = (
    "first_reply",
    "next_reply",
    "periodic_update",
    "pausable_update",
    "requester_wait",
    "agent_work",
    "total_resolution",
)

#: The ticket attributes a policy's conditions may test.
CONDITION_KEYS = ("tier", "priority", "channel", "tags", "group")

_DURATION_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class PolicyWarning(UserWarning):
    """A policy set that works but is probably not what was meant (overlapping conditions)."""


#: The longest SLA target: ten years of 366 days (a target is a promise, and deadlines must stay
#: inside the dates a datetime can hold).
MAX_TARGET_SECONDS = 3660 * 86400


@attrs.frozen
class SlaTarget:
    """One promise: *seconds* of elapsed time, counted in business hours or around the clock.

    ``business=True`` counts on the evaluation's :class:`~supportkit.BusinessCalendar` (24x7 when
    the evaluation has none); ``business=False`` always counts calendar time.
    """

    seconds: int
    business: bool

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.seconds, int) or isinstance(self.seconds, bool):
            raise PolicyError(f"an SLA target needs whole seconds, got {self.seconds!r}")
        if self.seconds <= 0:
            raise PolicyError(f"an SLA target must be positive, got {self.seconds} seconds")
        if self.seconds > MAX_TARGET_SECONDS:
            raise PolicyError(
                f"an SLA target may be at most {MAX_TARGET_SECONDS // 86400} days "
                f"({MAX_TARGET_SECONDS} seconds), got {self.seconds} seconds"
            )
        if not isinstance(self.business, bool):
            raise PolicyError(f"'business' must be true or false, got {self.business!r}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], what: str = "target") -> SlaTarget:
        """Build a target from ``{"minutes": 60, "business": true}``.

        The units ``days``, ``hours``, ``minutes`` and ``seconds`` may be combined (they add up);
        ``business`` is required, so a policy never silently counts the wrong kind of time.
        """
        if not isinstance(raw, Mapping):
            raise PolicyError(
                f"{what}: expected an object like {{'minutes': 60, 'business': true}}"
            )
        unknown = raw.keys() - _DURATION_UNITS.keys() - {"business"}
        if unknown:
            raise PolicyError(
                f"{what}: unknown key {sorted(unknown, key=repr)[0]!r} (use days, hours, minutes, "
                "seconds and business)"
            )
        if "business" not in raw:
            raise PolicyError(
                f'{what}: say whether the target counts business hours: add "business": true '
                "or false"
            )
        total = 0
        for unit, factor in _DURATION_UNITS.items():
            amount = raw.get(unit, 0)
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise PolicyError(f"{what}: {unit} must be a whole number, got {amount!r}")
            total += amount * factor
        if total <= 0:
            raise PolicyError(
                f"{what}: the target must be positive (got {total} seconds); give e.g. "
                "{'minutes': 60}"
            )
        try:
            return cls(total, raw["business"])
        except PolicyError as exc:
            raise PolicyError(f"{what}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Return the target in its dict form (``{"seconds": ..., "business": ...}``)."""
        return {"seconds": self.seconds, "business": self.business}


def _targets(
    value: Mapping[Any, Mapping[str, SlaTarget]],
) -> Mapping[Priority, Mapping[str, SlaTarget]]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"targets must map priority -> metric -> SlaTarget, got {value!r}")
    result: dict[Priority, Mapping[str, SlaTarget]] = {}
    for key, metrics in value.items():
        try:
            priority = Priority(key)
        except ValueError:
            raise PolicyError(
                f"unknown priority {key!r} in targets (use {', '.join(Priority)})"
            ) from None
        if not isinstance(metrics, Mapping):
            raise PolicyError(f"targets[{priority.value!r}] must map metric -> SlaTarget")
        for metric, target in metrics.items():
            if metric not in SLA_METRICS:
                raise PolicyError(
                    f"unknown metric {metric!r} for priority {priority.value!r} "
                    f"(use {', '.join(SLA_METRICS)})"
                )
            if not isinstance(target, SlaTarget):
                raise PolicyError(
                    f"targets[{priority.value!r}][{metric!r}] must be an SlaTarget, got {target!r}"
                )
        result[priority] = MappingProxyType(dict(metrics))
    return MappingProxyType(result)


def _policy_text(what: str, value: str) -> None:
    """Refuse a name no store can write (a lone surrogate): the desk records its policies."""
    try:
        _encodable(value)
    except ValueError as exc:
        raise PolicyError(f"{what} {exc}") from None


def _conditions(value: Mapping[str, Any] | None) -> Mapping[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    if value is not None and not isinstance(value, Mapping):
        raise PolicyError(
            f"conditions must map a condition to its values, like {{'tier': ['gold']}}, got "
            f"{value!r:.80}"
        )
    for key, accepted in (value or {}).items():
        if key not in CONDITION_KEYS:
            raise PolicyError(f"unknown condition {key!r} (use {', '.join(CONDITION_KEYS)})")
        values = [accepted] if isinstance(accepted, str) else accepted
        if (
            not isinstance(values, Iterable)
            or isinstance(values, Mapping | bytes)
            or not all(isinstance(v, str) for v in values)
        ):
            raise PolicyError(f"condition {key!r} must be a string or a list of strings")
        if key == "priority":
            for v in values:
                if v not in Priority.__members__.values():
                    raise PolicyError(
                        f"condition 'priority': unknown priority {v!r} (use {', '.join(Priority)})"
                    )
        chosen = frozenset(values)
        for v in chosen:
            _policy_text(f"condition {key!r}: the value {v!r:.80}", v)
        if not chosen:
            raise PolicyError(f"condition {key!r} lists no values, so it can never match")
        result[key] = chosen
    return MappingProxyType(result)


def _levels(value: Iterable[float]) -> tuple[float, ...]:
    levels = listed(value, "warnings", PolicyError)
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
            raise PolicyError(
                f"warning level {level!r} must be a fraction of the target between 0 and 1 "
                "(e.g. 0.75)"
            )
    if list(levels) != sorted(set(levels)):
        raise PolicyError(f"warning levels {list(levels)} must be increasing and distinct")
    return levels


@attrs.frozen
class SlaPolicy:
    """A named, versioned SLA policy: which tickets it covers and the targets it promises.

    ``targets`` maps a priority to ``{metric: SlaTarget}``; a metric without a target for the
    ticket's priority is not measured. ``conditions`` map ``tier``, ``priority``, ``channel``,
    ``group`` to the accepted values and ``tags`` to tags of which the ticket needs at least
    one; a missing condition accepts anything. ``warnings`` are the fractions of a target at
    which a warning is raised. ``on_priority_change`` is ``"keep"`` (the cycle keeps its elapsed
    time and takes the new target) or ``"restart"`` (the cycle ends and a new one starts).
    ``calendar`` names the business calendar its business targets count on: one of the desk's
    ``calendars`` or a follow-the-sun team's (a group id); without it the desk's calendar for
    the policy's name, else its ``"default"``. A ticket's calendar is fixed when the policy is
    first applied to it (recorded in its ``sla_policy_applied`` event).
    """

    name: str
    targets: Mapping[Priority, Mapping[str, SlaTarget]] = attrs.field(converter=_targets)
    conditions: Mapping[str, frozenset[str]] = attrs.field(
        factory=dict, converter=_conditions, kw_only=True
    )
    version: int | str = attrs.field(default=1, kw_only=True)
    warnings: tuple[float, ...] = attrs.field(
        default=(0.5, 0.75, 0.9), converter=_levels, kw_only=True
    )
    on_priority_change: str = attrs.field(default="keep", kw_only=True)
    calendar: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise PolicyError(f"a policy needs a non-empty name, got {self.name!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int | str):
            raise PolicyError(f"policy {self.name!r}: version must be an int or a string")
        if not any(self.targets.values()):
            raise PolicyError(
                f"policy {self.name!r} has no targets: give at least one, e.g. "
                "{'urgent': {'first_reply': {'minutes': 60, 'business': true}}}"
            )
        if self.on_priority_change not in ("keep", "restart"):
            raise PolicyError(
                f"policy {self.name!r}: on_priority_change must be 'keep' or 'restart', got "
                f"{self.on_priority_change!r}"
            )
        if self.calendar is not None and (
            not isinstance(self.calendar, str) or not self.calendar.strip()
        ):
            raise PolicyError(
                f"policy {self.name!r}: calendar must name a business calendar (a non-empty "
                f"string) or be left out, got {self.calendar!r}"
            )
        _policy_text("a policy name", self.name)
        for name, value in (("version", self.version), ("calendar", self.calendar)):
            if isinstance(value, str):
                _policy_text(f"policy {self.name!r}: {name} {value!r:.80}", value)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SlaPolicy:
        """Build a policy from its scenario-file form.

        ``{"name": "gold", "version": 2, "conditions": {"tier": ["gold"]},
        "targets": {"urgent": {"first_reply": {"minutes": 60, "business": true}}},
        "warnings": [0.5, 0.75, 0.9], "on_priority_change": "keep", "calendar": "apac"}``;
        only ``name`` and ``targets`` are required.
        """
        if not isinstance(raw, Mapping):
            raise PolicyError(f"a policy must be an object, got {type(raw).__name__}")
        allowed = {
            "name",
            "targets",
            "conditions",
            "version",
            "warnings",
            "on_priority_change",
            "calendar",
        }
        unknown = raw.keys() - allowed
        if unknown:
            raise PolicyError(
                f"policy: unknown key {sorted(unknown, key=repr)[0]!r} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        for key in ("name", "targets"):
            if key not in raw:
                raise PolicyError(f"policy: missing {key!r}")
        name = raw["name"]
        targets_raw = raw["targets"]
        if not isinstance(targets_raw, Mapping):
            raise PolicyError(f"policy {name!r}: targets must map priority -> metric -> target")
        targets: dict[str, dict[str, SlaTarget]] = {}
        for priority, metrics in targets_raw.items():
            if not isinstance(metrics, Mapping):
                raise PolicyError(f"policy {name!r}: targets[{priority!r}] must be an object")
            for metric in metrics:
                if metric not in SLA_METRICS:
                    raise PolicyError(
                        f"policy {name!r}: unknown metric {metric!r} for priority {priority!r} "
                        f"(use {', '.join(SLA_METRICS)})"
                    )
            targets[priority] = {
                metric: SlaTarget.from_dict(
                    target, f"policy {name!r}: targets[{priority!r}][{metric!r}]"
                )
                for metric, target in metrics.items()
            }
        options = {
            k: raw[k]
            for k in ("conditions", "version", "on_priority_change", "calendar")
            if k in raw
        }
        if "warnings" in raw:
            options["warnings"] = listed(raw["warnings"], "policy: warnings", PolicyError)
        try:
            return cls(name, targets, **options)
        except PolicyError as exc:
            if str(exc).startswith("policy "):
                raise
            raise PolicyError(f"policy {name!r}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Return the policy in its scenario-file form (``from_dict`` reads it back)."""
        return {
            "name": self.name,
            "version": self.version,
            "conditions": {k: sorted(v) for k, v in self.conditions.items()},
            "targets": {
                p.value: {m: t.to_dict() for m, t in metrics.items()}
                for p, metrics in self.targets.items()
            },
            "warnings": list(self.warnings),
            "on_priority_change": self.on_priority_change,
            **({} if self.calendar is None else {"calendar": self.calendar}),
        }

    def matches(self, ticket: Ticket) -> bool:
        """Whether *ticket* meets every condition of this policy."""
        for key, accepted in self.conditions.items():
            if key == "tags":
                if not accepted & ticket.tags:
                    return False
            elif getattr(ticket, key) not in accepted:
                return False
        return True

    def target(self, priority: Priority | str, metric: str) -> SlaTarget | None:
        """The target for *metric* at *priority*, or ``None`` if the metric is not measured."""
        return self.targets.get(Priority(priority), {}).get(metric)

    def thresholds(self, seconds: int) -> tuple[int, ...]:
        """Elapsed seconds at which each warning level is reached for a *seconds* target."""
        return tuple(math.ceil(Fraction(str(level)) * seconds) for level in self.warnings)


def select_policy(policies: Iterable[SlaPolicy], ticket: Ticket) -> SlaPolicy | None:
    """The first of *policies* (in the given order) whose conditions *ticket* meets."""
    for policy in policies:
        if policy.matches(ticket):
            return policy
    return None


def _disjoint(a: SlaPolicy, b: SlaPolicy) -> bool:
    # Tags need only one shared tag, and a ticket may carry any set of tags, so only the
    # single-valued attributes can keep two policies apart.
    for key in ("tier", "priority", "channel", "group"):
        if (
            key in a.conditions
            and key in b.conditions
            and not a.conditions[key] & b.conditions[key]
        ):
            return True
    return False


def _covers(general: SlaPolicy, specific: SlaPolicy) -> bool:
    """Whether every ticket *specific* matches is also matched by *general*."""
    for key, accepted in general.conditions.items():
        narrower = specific.conditions.get(key)
        if narrower is None or not narrower <= accepted:
            return False
    return True


def check_policies(policies: Sequence[SlaPolicy], *, named: Collection[str] = ()) -> list[str]:
    """Check a list of policies meant for :func:`select_policy`; return what looks wrong.

    The usual layout, specific policies first and broader ones (a catch-all) after them, is
    fine. Reported, both in the returned list and as a :class:`PolicyWarning`: a policy that can
    never apply because an earlier one matches every ticket it matches, and two policies that
    partly overlap (some ticket matches both, and neither contains the other), where the
    declared order silently decides. *named*: the policies tiers name (``Tier.sla_policy``),
    which their tiers' tickets get whatever the order, so they are never reported as
    shadowed.
    """
    messages: list[str] = []
    for i, first in enumerate(policies):
        for later in policies[i + 1 :]:
            if _disjoint(first, later) or _covers(later, first):
                continue
            if _covers(first, later):
                if later.name in named:
                    continue
                messages.append(
                    f"policy {later.name!r} never applies: every ticket it matches also matches "
                    f"{first.name!r}, which comes first; move {later.name!r} before "
                    f"{first.name!r} or drop it"
                )
            else:
                messages.append(
                    f"policies {first.name!r} and {later.name!r} overlap: a ticket matching "
                    f"both gets {first.name!r} (the first match wins); narrow the conditions "
                    "or reorder them if that is not meant"
                )
    for message in messages:
        warnings.warn(message, PolicyWarning, stacklevel=2)
    return messages
