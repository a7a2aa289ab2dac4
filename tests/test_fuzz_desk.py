"""Fuzz random sequences of desk operations on a real SQLite store.

Each example opens a desk on a fresh database, seeds two tickets and runs a sequence of
operations with plausible or junk arguments. The rule, per operation: it returns or raises a
``SupportkitError``, and a refused operation leaves the database's full contents unchanged.

Add a desk entry point by adding a builder to ``OPERATIONS`` (name -> strategy of the callable
that runs it on a desk and the known ticket ids).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

from fuzzkit import Target, expect_typed, ident, instants, integers, mostly, naive, run, text
from supportkit import (
    FrozenClock,
    InboundMessage,
    IngestResult,
    SlaPolicy,
    SlaTarget,
    SqliteStore,
    SupportDesk,
    SupportkitError,
)
from supportkit._plugins import PluginHost

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy(
    "std",
    {
        "normal": {"first_reply": SlaTarget(600, False)},
        "high": {"first_reply": SlaTarget(60, False)},
    },
)
STATUSES = st.sampled_from(["open", "pending", "on_hold", "solved", "closed", "new"])
#: An operation: given the desk and the ticket ids it knows, make the call.
Operation = Callable[[SupportDesk, list[str]], object]


def _ticket(pick: Any) -> Callable[[list[str]], Any]:
    """A known ticket id (by index) or the junk itself."""
    return lambda known: known[pick % len(known)] if isinstance(pick, int) and known else pick


TICKETS = mostly(st.integers(0, 3))
#: Plausible names (agents, groups, senders), now and then any id.
NAMES = st.one_of(st.sampled_from(["ann", "bob", "c@example.com", "billing"]), ident())


def op(
    method: str, args: st.SearchStrategy[dict[str, Any]], *, ticket: bool = True
) -> st.SearchStrategy[Operation]:
    """An operation calling ``desk.<method>(ticket_id, **args)`` (without a ticket id if not
    *ticket*)."""

    def build(pick: Any, kwargs: dict[str, Any]) -> Operation:
        def call(desk: SupportDesk, known: list[str]) -> object:
            positional = (_ticket(pick)(known),) if ticket else ()
            return getattr(desk, method)(*positional, **kwargs)

        call.__qualname__ = f"{method}({pick!r}, **{kwargs!r})"
        return call

    return st.builds(build, TICKETS, args)


def kw(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Optional keyword arguments, each plausible or junk."""
    return st.fixed_dictionaries({}, optional={k: mostly(v) for k, v in fields.items()})


def _ingest(fields: dict[str, Any], pick: Any) -> Operation:
    def call(desk: SupportDesk, known: list[str]) -> object:
        message = InboundMessage(**{**fields, "ticket_id": _ticket(pick)(known)})
        result = desk.ingest(message)
        if result.ticket_id not in known:
            known.append(result.ticket_id)
        return result

    return call


def _receive(payload: Any) -> Operation:
    return lambda desk, _known: desk.receive("json", payload)


MESSAGE_FIELDS = st.fixed_dictionaries(
    {
        "message_id": mostly(st.uuids().map(str)),
        "channel": mostly(st.sampled_from(["email", "chat", "api"])),
        "sender": mostly(NAMES),
        "at": mostly(instants()),
    },
    optional={
        "body": mostly(text(max_size=30)),
        "subject": mostly(text()),
        "public": mostly(st.booleans()),
        "priority": mostly(st.sampled_from(["low", "normal", "high", "urgent"])),
        "tags": mostly(st.lists(ident(), max_size=2)),
        "metadata": mostly(st.dictionaries(text(), text(), max_size=2)),
    },
)
INGEST = st.builds(_ingest, MESSAGE_FIELDS, st.one_of(st.none(), TICKETS))


@attrs.frozen
class _Message:
    """A message drawn for ``ingest_many``: its fields and the ticket it names (a pick).
    A class of its own, so no junk item (a tuple, say) is taken for one."""

    fields: dict[str, Any]
    pick: Any


def _ingest_many(items: Any) -> Operation:
    """``ingest_many`` of messages built from :class:`_Message` items and junk items (or
    of junk instead of a list): one entry per item, each an IngestResult or a typed error."""

    def call(desk: SupportDesk, known: list[str]) -> object:
        if not isinstance(items, list):
            return desk.ingest_many(items)
        batch = [
            InboundMessage(**{**item.fields, "ticket_id": _ticket(item.pick)(known)})
            if isinstance(item, _Message)
            else item
            for item in items
        ]
        results = desk.ingest_many(batch)
        assert len(batch) == len(results)
        for result in results:
            assert isinstance(result, IngestResult | SupportkitError), result
            if isinstance(result, IngestResult) and result.ticket_id not in known:
                known.append(result.ticket_id)
        return results

    call.__qualname__ = f"ingest_many({items!r})"
    return call


OPERATIONS: dict[str, st.SearchStrategy[Operation]] = {
    "ingest": INGEST,
    "ingest_many": st.builds(
        _ingest_many,
        mostly(
            st.lists(
                st.one_of(
                    st.builds(_Message, MESSAGE_FIELDS, st.one_of(st.none(), TICKETS)),
                    st.sampled_from([None, "m-1", 7]),
                ),
                max_size=4,
            )
        ),
    ),
    "receive": st.builds(
        _receive,
        mostly(
            st.fixed_dictionaries(
                {"id": ident(), "from": NAMES, "timestamp": instants().map(datetime.isoformat)},
                optional={"text": text(), "ticket_id": ident()},
            )
        ),
    ),
    "reply": op(
        "reply",
        st.fixed_dictionaries(
            {"body": mostly(text(max_size=30))},
            optional={
                "agent": mostly(NAMES),
                "public": mostly(st.booleans()),
                "status": mostly(STATUSES),
            },
        ),
    ),
    "set_status": op(
        "set_status",
        st.fixed_dictionaries(
            {"status": mostly(STATUSES)},
            optional={"by": mostly(st.sampled_from(["agent", "customer", "robot"]))},
        ),
    ),
    "assign": op(
        "assign",
        kw(agent=NAMES, group=NAMES, actor=NAMES, expected_version=st.integers(0, 12)),
    ),
    "claim": op(
        "claim",
        st.fixed_dictionaries(
            {"expected_version": mostly(st.integers(0, 12))},
            optional={"agent": mostly(NAMES), "group": mostly(NAMES)},
        ),
    ),
    "escalate": op(
        "escalate",
        st.fixed_dictionaries(
            {
                "level": mostly(st.sampled_from(["L2", "L3", "engineering", "L9"])),
                "reason": mostly(st.sampled_from(["stuck", "needs R&D"])),
            },
            optional={
                "target": mostly(NAMES),
                "allow_down": mostly(st.booleans()),
            },
        ),
    ),
    "set_priority": op(
        "set_priority",
        st.fixed_dictionaries({"priority": mostly(st.sampled_from(["low", "high", "urgent"]))}),
    ),
    "set_tier": op("set_tier", st.fixed_dictionaries({"tier": mostly(ident())})),
    "tag": op("tag", kw(add=st.lists(ident(), max_size=2), remove=st.lists(ident(), max_size=2))),
    "rate": op(
        "rate",
        kw(
            csat=st.sampled_from(["good", "bad"]),
            score=integers(),
            nps=integers(),
            ces=integers(),
            comment=text(),
        ),
    ),
    "sla": op("sla", kw(at=st.one_of(instants(), naive()))),
    "ticket": op("ticket", st.just({})),
    "events": op("events", st.just({})),
    "tick": op("tick", kw(now=st.one_of(instants(), naive()), limit=integers()), ticket=False),
    "deliver": op("deliver", kw(limit=integers()), ticket=False),
    "dispatch": op("dispatch", st.just({}), ticket=False),
    "next_steps": op("next_steps", kw(at=st.one_of(instants(), naive())), ticket=False),
    "metrics": op(
        "metrics",
        kw(
            groupings=st.lists(st.sampled_from(["all", "tier", "agent", "week", "nope"])),
            at=instants(),
        ),
        ticket=False,
    ),
    "outbox": op("outbox", kw(status=st.sampled_from(["pending", "dead", "x"])), ticket=False),
    "prune_outbox": op("prune_outbox", kw(older_than=st.timedeltas()), ticket=False),
}


def _dump(desk: SupportDesk) -> list[str]:
    store = desk.store
    assert isinstance(store, SqliteStore)
    return list(store._db.iterdump())


def run_sequence(operations: list[tuple[int, Operation]]) -> None:
    """Run *operations* on a fresh desk; each one under the rule (see fuzzkit.expect_typed)."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FrozenClock(T0)
        desk = SupportDesk(
            store=SqliteStore(Path(tmp) / "fuzz.db"),
            plugins=PluginHost(load_entrypoints=False),  # the built-ins: the "api" channel
            clock=clock,
            policies=[POLICY],
        )
        try:
            known = [
                desk.ingest(InboundMessage(f"seed{n}", "email", "c", T0)).ticket_id
                for n in range(2)
            ]
            for seconds, operation in operations:
                clock.advance(timedelta(seconds=seconds))
                expect_typed(lambda: operation(desk, known), lambda: _dump(desk))  # noqa: B023
        finally:
            desk.close()


SEQUENCES = st.lists(
    st.tuples(st.integers(0, 900), st.one_of(*OPERATIONS.values())), min_size=1, max_size=10
)

TARGETS: dict[str, Target] = {
    "SupportDesk operations": Target(SEQUENCES, run_sequence, examples=1_500, inputs=0, fan_out=1)
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_desk_operations_raise_only_supportkit_errors_and_refusals_write_nothing(
    name: str,
) -> None:
    """Random sequences of desk operations: only SupportkitError escapes, refusals change
    nothing in the store."""
    run(name, TARGETS[name])
