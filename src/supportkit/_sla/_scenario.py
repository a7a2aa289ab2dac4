"""SLA scenario files: a calendar, a policy, an event log and an instant, as JSON.

The shape is a contract shared with other tools (see docs/concepts/sla.md)::

    {"calendar": {...},            optional; BusinessCalendar.from_dict shape (24x7 without it)
     "policy": {...},              SlaPolicy.from_dict shape
     "policies": [{...}],          optional; further versions sla_policy_applied events may name
     "ticket_id": "T-1",           optional; given to events that have none
     "events": [{"at", "kind", "by", ...fields}],
     "at": "2025-03-04T12:00:00+01:00",
     "comment": "...",             optional; what the case proves
     "expected": {...}}            optional; the evaluation assert_sla compares with
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from supportkit._model import TicketEvent
from supportkit._sla._engine import SlaEvaluation, evaluate_sla
from supportkit._sla._policy import SlaPolicy
from supportkit._time import parse_instant
from supportkit.exceptions import ConfigurationError, SupportkitError

if TYPE_CHECKING:
    from supportkit._calendar import BusinessCalendar

__all__ = ["SlaScenario", "load_scenario", "parse_scenario"]

_KEYS = ("calendar", "policy", "policies", "ticket_id", "events", "at", "comment", "expected")


class ScenarioError(ConfigurationError):
    """A scenario file that cannot be read: the message names the file and the entry."""


@attrs.frozen
class SlaScenario:
    """A parsed scenario: evaluate it with :meth:`evaluate`; ``expected`` is the recorded answer."""

    policies: tuple[SlaPolicy, ...]
    events: tuple[TicketEvent, ...]
    at: datetime
    calendar: BusinessCalendar | None = None
    comment: str = ""
    expected: Mapping[str, Any] | None = None
    source: str = "<scenario>"

    @property
    def policy(self) -> SlaPolicy:
        """The policy in force from creation."""
        return self.policies[0]

    def evaluate(self) -> SlaEvaluation:
        """Evaluate the scenario's log at its instant."""
        policy: SlaPolicy | Sequence[SlaPolicy] = (
            self.policies[0] if len(self.policies) == 1 else self.policies
        )
        return evaluate_sla(self.events, policy, at=self.at, calendar=self.calendar)


def _fail(source: str, message: str, exc: BaseException | None = None) -> ScenarioError:
    error = ScenarioError(f"{source}: {message}")
    if exc is not None:
        error.__cause__ = exc
    return error


def parse_scenario(raw: Mapping[str, Any], source: str = "<scenario>") -> SlaScenario:
    """Build a :class:`SlaScenario` from its dict form, naming the bad entry on any mistake."""
    from supportkit._calendar import BusinessCalendar

    if not isinstance(raw, Mapping):
        raise _fail(source, f"a scenario must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(raw.keys() - set(_KEYS), key=repr)
    if unknown:
        raise _fail(source, f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})")
    for key in ("policy", "events", "at"):
        if key not in raw:
            raise _fail(source, f"missing {key!r}")
    try:
        calendar = (
            None if raw.get("calendar") is None else BusinessCalendar.from_dict(raw["calendar"])
        )
    except SupportkitError as exc:
        raise _fail(source, f"calendar: {exc}", exc) from exc
    try:
        policies = [SlaPolicy.from_dict(raw["policy"])]
        extra = raw.get("policies", [])
        if not isinstance(extra, list):
            raise ScenarioError("'policies' must be a list of policies")
        policies += [SlaPolicy.from_dict(p) for p in extra]
    except SupportkitError as exc:
        raise _fail(source, str(exc), exc) from exc
    events_raw = raw["events"]
    if not isinstance(events_raw, list) or not events_raw:
        raise _fail(source, "'events' must be a non-empty list (the first one is 'created')")
    ticket_id = raw.get("ticket_id", "T-1")
    events = []
    for number, item in enumerate(events_raw, 1):
        if not isinstance(item, Mapping):
            raise _fail(source, f"events[{number - 1}] must be an object")
        fields = {"ticket_id": ticket_id, "id": f"e{number}", **item}
        try:
            events.append(TicketEvent.from_dict(fields))
        except SupportkitError as exc:
            raise _fail(source, f"events[{number - 1}]: {exc}", exc) from exc
    try:
        at = parse_instant(raw["at"], "'at'", ScenarioError)
    except SupportkitError as exc:
        raise _fail(source, str(exc), exc) from exc
    comment = raw.get("comment", "")
    expected = raw.get("expected")
    if expected is not None and not isinstance(expected, Mapping):
        raise _fail(source, "'expected' must be an object: metric -> list of cycles")
    return SlaScenario(
        tuple(policies),
        tuple(events),
        at,
        calendar,
        comment if isinstance(comment, str) else str(comment),
        expected,
        source,
    )


def load_scenario(path: str | Path) -> SlaScenario:
    """Read a scenario JSON file; raise :class:`~supportkit.ConfigurationError` (naming the file
    and the entry) if it cannot be read or is not a valid scenario."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(source, f"cannot read the scenario file ({exc.strerror or exc})", exc) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            source, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", exc
        ) from exc
    return parse_scenario(raw, source)
