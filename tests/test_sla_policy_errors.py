"""SLA policies are validated on construction, and every mistake is explained."""

from __future__ import annotations

from typing import Any

import pytest

from supportkit import PolicyError, SlaPolicy, SlaTarget

TARGET = {"minutes": 60, "business": True}


def policy(**change: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": "gold", "targets": {"urgent": {"first_reply": TARGET}}}
    raw.update(change)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["gold"], "a policy must be an object"),
        (policy(colour="red"), "unknown key 'colour'"),
        ({"targets": {}}, "missing 'name'"),
        (policy(targets=[1]), "targets must map priority -> metric -> target"),
        (policy(targets={"urgent": 5}), "targets['urgent'] must be an object"),
        (policy(targets={"asap": {"first_reply": TARGET}}), "unknown priority 'asap'"),
        (policy(targets={"urgent": {"first_answer": TARGET}}), "unknown metric 'first_answer'"),
        (policy(targets={"urgent": {"first_reply": 60}}), "expected an object like"),
        (policy(targets={"urgent": {"first_reply": {"minutes": 60}}}), 'add "business"'),
        (
            policy(targets={"urgent": {"first_reply": {"minutes": 0, "business": False}}}),
            "must be positive",
        ),
        (
            policy(targets={"urgent": {"first_reply": {"minutes": 1.5, "business": False}}}),
            "minutes must be a whole number",
        ),
        (
            policy(targets={"urgent": {"first_reply": {"weeks": 1, "business": False}}}),
            "unknown key 'weeks'",
        ),
        (policy(targets={}), "has no targets"),
        (policy(name=""), "non-empty name"),
        (policy(conditions={"planet": "mars"}), "unknown condition 'planet'"),
        (policy(conditions={"tier": []}), "lists no values"),
        (policy(conditions={"priority": ["asap"]}), "unknown priority 'asap'"),
        (policy(conditions={"tier": 7}), "must be a string or a list of strings"),
        (policy(warnings=[0.9, 0.5]), "must be increasing"),
        (policy(warnings=[1.5]), "between 0 and 1"),
        (policy(on_priority_change="forget"), "'keep' or 'restart'"),
    ],
)
def test_bad_policy_is_explained(raw: Any, message: str) -> None:
    """Each mistake raises PolicyError (also a ValueError) saying what is wrong."""
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_dict(raw)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("seconds", "business", "message"),
    [(0, True, "must be positive"), (1.0, True, "whole seconds"), (60, "yes", "true or false")],
)
def test_bad_target(seconds: Any, business: Any, message: str) -> None:
    """SlaTarget refuses non-positive, fractional and non-boolean settings."""
    with pytest.raises(PolicyError, match=message):
        SlaTarget(seconds, business)


def test_round_trip() -> None:
    """A valid policy renders to a dict that builds the same policy."""
    built = SlaPolicy.from_dict(policy(conditions={"tier": ["gold"]}, warnings=[0.5, 0.8]))
    assert built == SlaPolicy.from_dict(built.to_dict())
