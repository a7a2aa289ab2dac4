"""What-if on history: replay stored tickets under a proposed SLA configuration.

SLA state is a pure fold of the log, so "had the enterprise first-reply target been 30 minutes,
or our hours 8-18, what would attainment have been last quarter?" is a replay: every ticket
created in the window is evaluated at the window's end under the configuration it actually had
and under the proposed one, and the met and breached cycles are counted per group. Nothing is
written. :class:`WhatIfTally` is streaming and mergeable (tally shards of the history apart,
e.g. on Dask, and :meth:`WhatIfTally.merge` them), like the rest of metrics.

Which proposed policy a ticket gets: each ``sla_policy_applied`` event in its log is replayed
as applying the proposed policy of the same name if there is one (an edited policy), else the
first proposed policy the ticket matched at that event (as the desk selects), else none from
then on. The actual side replays the policy version the event recorded (by name alone when the
actual configuration no longer holds that version) on the calendar it recorded; the proposed
side counts on the calendar the desk would pick for the proposed policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ._calendar import BusinessCalendar
from ._desk import SupportDesk
from ._metrics import Goal
from ._model import TicketEvent
from ._sla import SLA_METRICS, SlaPolicy, SlaStatus, SlaTracker, select_policy
from ._ticket import Ticket
from ._time import to_epoch
from .exceptions import ConfigurationError, EventError
from .typing import EventStore

__all__ = ["SlaConfig", "WhatIf", "WhatIfTally", "whatif"]

_GROUPINGS = ("all", "tier", "priority", "channel", "group")
_JUDGED = {SlaStatus.MET: "met", SlaStatus.BREACHED: "breached"}


def _policies(value: Iterable[SlaPolicy]) -> tuple[SlaPolicy, ...]:
    if isinstance(value, SlaPolicy | str) or not isinstance(value, Iterable):
        raise ConfigurationError(f"policies must be a list of SlaPolicy objects, got {value!r}")
    policies = tuple(value)
    for i, policy in enumerate(policies):
        if not isinstance(policy, SlaPolicy):
            raise ConfigurationError(f"policies[{i}] must be a SlaPolicy, got {policy!r}")
    return policies


@attrs.frozen
class SlaConfig:
    """SLA policies (in match order) and calendars by policy name (``"default"`` for the rest),
    as a desk is configured with them."""

    policies: tuple[SlaPolicy, ...] = attrs.field(converter=_policies)
    calendars: Mapping[str, BusinessCalendar] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.calendars, Mapping):
            raise ConfigurationError(
                f"calendars must map a policy name or 'default' to a calendar, "
                f"got {self.calendars!r}"
            )
        for name, calendar in self.calendars.items():
            if not isinstance(calendar, BusinessCalendar):
                raise ConfigurationError(f"calendars[{name!r}] must be a BusinessCalendar")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SlaConfig:
        """The configuration a desk recorded in its store (:meth:`SupportDesk.settings`)."""
        try:
            return cls(
                [SlaPolicy.from_dict(p) for p in settings.get("policies", ())],
                {
                    name: BusinessCalendar.from_dict(c)
                    for name, c in (settings.get("calendars") or {}).items()
                },
            )
        except (AttributeError, TypeError) as exc:
            raise ConfigurationError(f"not a desk's recorded settings: {exc}") from exc

    def to_settings(self) -> dict[str, Any]:
        """The JSON-compatible form :meth:`from_settings` reads."""
        return {
            "policies": [p.to_dict() for p in self.policies],
            "calendars": {name: c.to_dict() for name, c in self.calendars.items()},
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Policies hold read-only mappings that pickle refuses; their dict form travels
        # (tallies move between Dask workers).
        return (SlaConfig.from_settings, (self.to_settings(),))

    def chosen(self, events: Sequence[TicketEvent], i: int) -> SlaPolicy | None:
        """The policy this configuration gives a ticket at its ``sla_policy_applied`` event
        ``events[i]``: the policy of the name the event records, else the first whose
        conditions the ticket met then (as the desk selects), else ``None``."""
        name = events[i].data["policy"]
        same = next((p for p in self.policies if p.name == name), None)
        return same or select_policy(self.policies, Ticket.from_events(events[: i + 1]))

    def calendar(self, policy: SlaPolicy, recorded: str | None = None) -> BusinessCalendar | None:
        """The calendar *policy*'s business targets count on, as the desk picks it: the one
        the ticket's ``sla_policy_applied`` event *recorded* when this configuration has it,
        else the policy's ``calendar``, else the one named after the policy, else
        ``default``."""
        for name in (recorded, policy.calendar, policy.name, "default"):
            if name is not None and name in self.calendars:
                return self.calendars[name]
        return None


@attrs.frozen
class WhatIf:
    """Actual and proposed SLA outcomes side by side.

    ``actual`` and ``proposed`` map ``(grouping, group)`` (``("all", None)``,
    ``("tier", "enterprise")``, ...) to ``{metric: (met, breached)}`` counts of judged cycles;
    ``tickets`` is how many tickets were replayed.
    """

    tickets: int
    actual: Mapping[tuple[str, str | None], Mapping[str, tuple[int, int]]]
    proposed: Mapping[tuple[str, str | None], Mapping[str, tuple[int, int]]]
    goals: tuple[Goal, ...] = ()

    def rows(self) -> list[dict[str, Any]]:
        """One row per group and metric: attainment and breaches, actual and proposed."""
        out = []
        for key in sorted(set(self.actual) | set(self.proposed), key=_order):
            metrics = {**self.actual.get(key, {}), **self.proposed.get(key, {})}
            for metric in [m for m in SLA_METRICS if m in metrics]:
                a = self.actual.get(key, {}).get(metric, (0, 0))
                p = self.proposed.get(key, {}).get(metric, (0, 0))
                out.append(
                    {
                        "grouping": key[0],
                        "group": key[1],
                        "metric": metric,
                        "actual_attainment": _ratio(*a),
                        "proposed_attainment": _ratio(*p),
                        "actual_breaches": a[1],
                        "proposed_breaches": p[1],
                    }
                )
        return out

    def goal_results(self) -> list[dict[str, Any]]:
        """Each goal's value and whether it is met, actual and proposed."""
        return [
            {
                "goal": goal.name or goal.metric,
                "target": goal.target,
                **{
                    f"{side}_{field}": value
                    for side, counts in (("actual", self.actual), ("proposed", self.proposed))
                    for field, value in zip(("value", "met"), _judge(goal, counts), strict=True)
                },
            }
            for goal in self.goals
        ]


def _order(key: tuple[str, str | None]) -> tuple[int, str]:
    return (_GROUPINGS.index(key[0]), "" if key[1] is None else key[1])


def _ratio(met: int, breached: int) -> float | None:
    return None if met + breached == 0 else met / (met + breached)


def _judge(
    goal: Goal, counts: Mapping[tuple[str, str | None], Mapping[str, tuple[int, int]]]
) -> tuple[float | None, bool | None]:
    group = goal.group if isinstance(goal.group, str) or goal.group is None else goal.group[0]
    row = counts.get((str(goal.grouping), group), {})
    if goal.metric == "sla_attainment":
        value = _ratio(sum(m for m, _ in row.values()), sum(b for _, b in row.values()))
    else:
        value = _ratio(*row.get(goal.metric.split(".")[1], (0, 0)))
    if value is None:
        return None, None
    met = value >= goal.target if goal.direction == "at_least" else value <= goal.target
    return value, met


def _check_goal(goal: object, groupings: Sequence[str]) -> Goal:
    if not isinstance(goal, Goal):
        raise ConfigurationError(f"goals must be supportkit.Goal objects, got {goal!r}")
    parts = goal.metric.split(".")
    sla_metric = len(parts) == 3 and parts[0] == "sla" and parts[1] in SLA_METRICS
    if goal.metric != "sla_attainment" and not (sla_metric and parts[2] == "attainment"):
        raise ConfigurationError(
            f"goal {goal.metric!r}: what-if replays SLA clocks only; use 'sla_attainment' or "
            "'sla.<metric>.attainment'"
        )
    if goal.grouping not in groupings or goal.period is not None:
        raise ConfigurationError(
            f"goal {goal.metric!r}: its grouping must be one of {', '.join(groupings)} and it "
            "may have no period"
        )
    return goal


@attrs.define
class WhatIfTally:
    """The streaming, mergeable accumulator behind :func:`whatif`.

    Feed ticket logs with :meth:`update` (in any order, in any number of tallies), combine
    tallies with :meth:`merge`, read the outcome with :meth:`result`.
    """

    actual: SlaConfig
    proposed: SlaConfig
    start: datetime
    end: datetime
    groupings: tuple[str, ...] = ("all", "tier")
    goals: tuple[Goal, ...] = ()
    tickets: int = 0
    counts: Counter[tuple[str, str, str | None, str, str]] = attrs.field(factory=Counter)
    _lo: int = attrs.field(init=False, default=0)
    _hi: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._lo = to_epoch(self.start, "start", ConfigurationError)
        self._hi = to_epoch(self.end, "end", ConfigurationError)
        if self._hi <= self._lo:
            raise ConfigurationError("what-if: end must be after start")
        if isinstance(self.groupings, str) or any(g not in _GROUPINGS for g in self.groupings):
            raise ConfigurationError(
                f"groupings must be a list of {', '.join(_GROUPINGS)}, got {self.groupings!r}"
            )
        self.groupings = tuple(self.groupings)
        self.goals = tuple(_check_goal(g, self.groupings) for g in self.goals)

    def update(self, logs: Iterable[Sequence[Any]]) -> WhatIfTally:
        """Replay each ticket log created in the window under both configurations."""
        if isinstance(logs, str | bytes) or not isinstance(logs, Iterable):
            raise EventError(f"what-if: logs must be an iterable of ticket logs, got {logs!r}")
        for events in logs:
            if (
                isinstance(events, str | bytes)
                or not isinstance(events, Sequence)
                or not all(isinstance(e, TicketEvent) for e in events)
            ):
                raise EventError(
                    f"what-if: a ticket log must be a list of TicketEvent objects, got {events!r}"
                )
            if not events or not self._lo <= events[0].ts < self._hi:
                continue
            created = events[0].data
            keys = [(g, None if g == "all" else _value(created, g)) for g in self.groupings]
            self.tickets += 1
            for side, tracker in (
                ("actual", self._actual(events)),
                ("proposed", self._proposed(events)),
            ):
                if tracker is None:
                    continue
                for metric, cycles in tracker.evaluate(self.end).items():
                    for cycle in cycles:
                        judged = _JUDGED.get(cycle.status)
                        if judged is not None:
                            for grouping, group in keys:
                                self.counts[side, grouping, group, metric, judged] += 1
        return self

    def _actual(self, events: Sequence[Any]) -> SlaTracker | None:
        applied = next((e for e in events if e.kind == "sla_policy_applied"), None)
        if applied is None:
            return None
        name, version = applied.data["policy"], str(applied.data["version"])
        named = [p for p in self.actual.policies if p.name == name]
        # The version the ticket recorded, else (settings changed since) the policy by name.
        policy = next((p for p in named if str(p.version) == version), named[0] if named else None)
        if policy is None:
            raise ConfigurationError(
                f"ticket {events[0].ticket_id} had SLA policy {name!r}, which the actual "
                "configuration does not hold: pass the policies the desk ran with"
            )
        calendar = self.actual.calendar(policy, applied.data.get("calendar"))
        return _replay(events, (policy, *self.actual.policies), calendar, self._hi)

    def _proposed(self, events: Sequence[Any]) -> SlaTracker | None:
        rewritten = []
        book: list[SlaPolicy] = []
        for i, event in enumerate(events):
            if event.kind == "sla_policy_applied":
                chosen = self.proposed.chosen(events, i)
                if chosen is None:
                    continue  # no proposed policy matches: its clocks keep the last one's
                book.append(chosen)
                data = {**event.data, "policy": chosen.name, "version": chosen.version}
                event = attrs.evolve(event, data=data)
            rewritten.append(event)
        if not book:
            return None
        calendar = self.proposed.calendar(book[0])
        return _replay(rewritten, (book[0], *self.proposed.policies), calendar, self._hi)

    def merge(self, other: WhatIfTally) -> WhatIfTally:
        """Add *other*'s counts (a tally of another shard with the same settings)."""
        if (other.start, other.end, other.groupings) != (self.start, self.end, self.groupings):
            raise ConfigurationError("can only merge what-if tallies of the same window")
        self.tickets += other.tickets
        self.counts.update(other.counts)
        return self

    def result(self) -> WhatIf:
        """The outcome so far."""
        sides: dict[str, dict[tuple[str, str | None], dict[str, list[int]]]] = {
            "actual": {},
            "proposed": {},
        }
        for (side, grouping, group, metric, judged), n in self.counts.items():
            cell = sides[side].setdefault((grouping, group), {}).setdefault(metric, [0, 0])
            cell[judged == "breached"] += n

        def frozen(
            side: dict[tuple[str, str | None], dict[str, list[int]]],
        ) -> dict[tuple[str, str | None], dict[str, tuple[int, int]]]:
            return {k: {m: (c[0], c[1]) for m, c in v.items()} for k, v in side.items()}

        return WhatIf(self.tickets, frozen(sides["actual"]), frozen(sides["proposed"]), self.goals)


def _value(created: Mapping[str, Any], grouping: str) -> str | None:
    value = created.get(grouping)
    return None if value is None else str(getattr(value, "value", value))


def _replay(
    events: Sequence[Any],
    book: tuple[SlaPolicy, ...],
    calendar: BusinessCalendar | None,
    until: int,
) -> SlaTracker:
    tracker = SlaTracker(book, calendar)
    for event in events:
        if event.ts > until:
            break
        tracker.apply(event)
    return tracker


def whatif(
    store: EventStore,
    *,
    policies: Sequence[SlaPolicy] | None = None,
    calendars: Mapping[str, BusinessCalendar] | None = None,
    start: datetime,
    end: datetime,
    actual: SlaConfig | None = None,
    groupings: Sequence[str] = ("all", "tier"),
    goals: Iterable[Goal] = (),
) -> WhatIf:
    """Replay the tickets of *store* created in [*start*, *end*) under proposed *policies* and
    *calendars*, beside what actually applied; nothing is written.

    *actual* is the configuration the desk ran with; by default the one recorded in the store
    (a :class:`~supportkit.SqliteStore` keeps the desk's settings). Leaving out *policies* or
    *calendars* keeps the actual ones (propose new hours alone, or new targets alone).
    Every ticket is evaluated at *end* under both. *goals* (SLA attainment goals) are judged on
    both sides.
    """
    if actual is not None and not isinstance(actual, SlaConfig):
        raise ConfigurationError(f"actual must be a supportkit.SlaConfig, got {actual!r}")
    if actual is None:
        meta = getattr(store, "meta", None)
        settings = None if meta is None else meta(SupportDesk.SETTINGS_KEY)
        if settings is None:
            raise ConfigurationError(
                "the store has no recorded desk settings: pass actual=SlaConfig(policies, "
                "calendars) with the configuration the desk ran with"
            )
        actual = SlaConfig.from_settings(settings)
    for name, value in (("groupings", groupings), ("goals", goals)):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise ConfigurationError(f"{name} must be a list, got {value!r}")
    proposed = SlaConfig(
        actual.policies if policies is None else policies,
        actual.calendars if calendars is None else calendars,
    )
    tally = WhatIfTally(
        actual,
        proposed,
        start,
        end,
        tuple(groupings),
        tuple(goals),
    )
    return tally.update(store.read(tid) for tid in store.ticket_ids()).result()
