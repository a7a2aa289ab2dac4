"""Fuzz the entry points a new user meets first: the desk's constructor arguments,
``reply(take=...)``, ``metrics(exact=...)`` and ``next_steps``. One rule: only a
SupportkitError escapes, and a refused call changes nothing."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    BusinessCalendar,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SlaPolicy,
    SupportDesk,
    SupportkitError,
    Tier,
)

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy.from_dict(
    {"name": "standard", "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}}}
)
CALENDAR = BusinessCalendar(tz="Europe/Berlin", weekly={"mon": ["09:00-17:00"]})

#: Plausible mistakes and plain junk for any argument.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["Europe/Berlin", "standard", "default", "gold"]),
    st.just(T0),
    st.just(POLICY),
    st.just(CALENDAR),
    st.just(Tier("gold", weight=1)),
    st.lists(st.sampled_from([POLICY, "standard", 3, None]), max_size=3),
    st.dictionaries(
        st.sampled_from(["default", "standard", "x"]),
        st.sampled_from([CALENDAR, "x", 1]),
        max_size=2,
    ),
    st.just({"name": "standard", "targets": {}}),
)
ARGUMENTS = (
    "policies",
    "tiers",
    "calendars",
    "clock",
    "router",
    "ladder",
    "max_attempts",
    "cache_size",
)


@given(st.dictionaries(st.sampled_from(ARGUMENTS), junk, max_size=3))
def test_the_constructor_raises_only_supportkit_errors(options: dict[str, Any]) -> None:
    """Any mix of wrong-type arguments gives a desk or a SupportkitError, nothing else."""
    with contextlib.suppress(SupportkitError):
        SupportDesk(store=InMemoryStore(), plugins=None, **options).close()


@given(
    agent=junk,
    status=st.one_of(junk, st.sampled_from(["open", "pending", "solved", "closed", "new"])),
    take=junk,
    exact=junk,
)
def test_reply_take_and_metrics_refuse_cleanly(
    agent: Any, status: Any, take: Any, exact: Any
) -> None:
    """reply(take=...) and metrics(exact=...) with any arguments: a SupportkitError that
    leaves the log as it was, or a success; next_steps always answers."""
    clock = FrozenClock(T0)
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=None, policies=[POLICY])
    ticket_id = desk.ingest(InboundMessage("m-1", "email", "a@example.com", T0)).ticket_id
    clock.advance(minutes=5)
    before = desk.events(ticket_id)
    try:
        desk.reply(ticket_id, "Hello", agent=agent, status=status, take=take)
    except SupportkitError:
        assert before == desk.events(ticket_id)
    with contextlib.suppress(SupportkitError):
        desk.metrics(exact=exact)
    steps = desk.next_steps(T0 + timedelta(hours=1))
    assert len(steps) <= 1
