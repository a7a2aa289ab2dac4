"""Fuzz the problem and incident entry points: only SupportkitError escapes, and a refused
link, unlink or lookup changes neither the event log nor the problem index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import Target, junk, kwargs_of, run, text
from supportkit import FrozenClock, InboundMessage, InMemoryStore, ProblemSettings, SupportDesk
from supportkit._problems import NAMESPACE, known_problems, listed_incidents

CLOCK = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
DESK = SupportDesk(store=InMemoryStore(), clock=CLOCK, plugins=None)
IDS = [
    DESK.ingest(
        InboundMessage(f"m-{n}", "chat", f"v{n}@x", CLOCK.now(), subject=f"s {n}")
    ).ticket_id
    for n in range(4)
]
DESK.link_problem(IDS[1], IDS[0])
DESK.set_status(IDS[3], "solved")
TICKETS = st.one_of(st.sampled_from(IDS), text(), junk())


def _contents(_kw: Any) -> object:
    state = DESK.plugin_state(NAMESPACE)
    index = {p: listed_incidents(state, p) for p in known_problems(state)}
    return [e.to_dict() for e in DESK.store.read_all()], index


TARGETS: dict[str, Target] = {
    "SupportDesk.link_problem": Target(
        kwargs_of({"ticket_id": TICKETS, "problem_id": TICKETS}, {"actor": junk()}),
        lambda kw: DESK.link_problem(kw.pop("ticket_id"), kw.pop("problem_id"), **kw),
        state=_contents,
        examples=200,
    ),
    "SupportDesk.unlink_problem": Target(
        kwargs_of({"ticket_id": TICKETS}, {"actor": junk()}),
        lambda kw: DESK.unlink_problem(kw.pop("ticket_id"), **kw),
        state=_contents,
        examples=100,
    ),
    "SupportDesk.incidents": Target(TICKETS, DESK.incidents, state=_contents, examples=100),
    "SupportDesk.problem_suggestions": Target(
        TICKETS, DESK.problem_suggestions, state=_contents, examples=100
    ),
    "ProblemSettings": Target(
        kwargs_of(
            {}, {"on_solve": junk(), "solved": junk(), "notified": junk(), "similarity": junk()}
        ),
        lambda kw: ProblemSettings(**kw),
        examples=200,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Junk in, a typed error (or a result) out, for each entry point."""
    run(name, TARGETS[name])
