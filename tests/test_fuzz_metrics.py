"""Fuzz the metrics' fact constructor and an aggregator's update (both paths), merge and
add_presence on a state whose sums are near 2**64 - 1: only a ``SupportkitError`` escapes, and
a refused call leaves the aggregator's state as it was."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import Target, ident, integers, kwargs_of, run
from supportkit import MetricsAggregator, PresenceSpan, TicketFacts

pytest.importorskip("numpy")  # the vectorised path

#: Seconds and epoch instants: small ones, the far ends of what a datetime holds, and past them.
SECONDS = st.one_of(
    integers(),
    st.sampled_from([253_402_300_799, 315_537_897_599, 315_537_897_600, -62_135_596_800]),
)
FACTS = kwargs_of(
    {
        "ticket_id": ident(),
        "created_at": SECONDS,
        "as_of": SECONDS,
        "status": st.sampled_from(["new", "open", "pending", "solved", "closed", "x"]),
    },
    {
        "solved_at": SECONDS,
        "channel": st.sampled_from(["web", "email"]),
        "agent": st.sampled_from(["ann", "bob", None]),
        "first_reply": SECONDS,
        "next_reply": st.lists(SECONDS, max_size=3),
        "full_resolution": SECONDS,
        "requester_wait": SECONDS,
        "agent_replies": integers(),
        "reopens": integers(),
        "ever_solved": st.booleans(),
        "csat": st.sampled_from(["good", "bad", None, "meh"]),
        "nps": integers(),
        "ces": integers(),
        "merged": st.booleans(),
    },
)
GROUPINGS = ["all", "channel", "agent"]


def _near_full() -> MetricsAggregator:
    """An aggregator whose counters and sums in the ``web`` groups are 2**40 below 2**64 - 1."""
    facts = TicketFacts(ticket_id="T-0", created_at=0, as_of=60, status="open", channel="web")
    state = MetricsAggregator(GROUPINGS, exact=True).update([facts]).to_dict()
    for grouping in state["state"]:
        for _key, acc in grouping:
            acc["counts"] = [2**64 - 1 - 2**40] * len(acc["counts"])
            acc["sums"] = [2**64 - 1 - 2**40] * len(acc["sums"])
    return MetricsAggregator.from_dict(state)


AGG = _near_full()


def _update(kw: dict[str, Any]) -> object:
    vectorise = bool(kw.pop("vectorise", False))
    facts = TicketFacts(**kw)
    return AGG.update([facts, facts], vectorise=vectorise)


def _merge(kw: dict[str, Any]) -> object:
    kw.pop("vectorise", None)
    return AGG.merge(MetricsAggregator(GROUPINGS, exact=True).update([TicketFacts(**kw)]))


def _presence(kw: dict[str, Any]) -> object:
    return AGG.add_presence(PresenceSpan(**kw))


def _state(_value: object) -> object:
    return AGG.to_dict()


UPDATES = FACTS.map(lambda kw: {**kw, "vectorise": kw.get("agent_replies") == 1})

TARGETS: dict[str, Target] = {
    "TicketFacts": Target(FACTS, lambda kw: TicketFacts(**kw)),
    "MetricsAggregator.update": Target(UPDATES, lambda kw: _update(dict(kw)), _state, 300),
    "MetricsAggregator.merge": Target(FACTS, lambda kw: _merge(dict(kw)), _state, 300),
    "MetricsAggregator.add_presence": Target(
        kwargs_of(
            {
                "agent": st.sampled_from(["ann", "bob"]),
                "state": st.sampled_from(["online", "busy", "away", "offline"]),
                "start": SECONDS,
                "stop": SECONDS,
            }
        ),
        _presence,
        _state,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with generated arguments raises nothing but SupportkitError,
    and a refused update, merge or presence span leaves the aggregator as it was."""
    run(name, TARGETS[name])
