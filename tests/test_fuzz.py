"""Fuzz the public constructors, ``from_dict`` forms, the scenario loader, channel ``parse``,
the webhook plugin's ``verify_signature`` and the email channel's parser: only a
``SupportkitError`` may escape.

Add an entry point by adding a :class:`fuzzkit.Target` to ``TARGETS`` (see tests/fuzzkit.py);
desk operations live in tests/test_fuzz_desk.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import (
    Target,
    either,
    ident,
    instants,
    integers,
    junk,
    kwargs_of,
    naive,
    raw_dicts,
    run,
    text,
)
from supportkit import (
    Agent,
    BusinessCalendar,
    Customer,
    EscalationLadder,
    EscalationLevel,
    Goal,
    Group,
    InboundMessage,
    InMemoryStore,
    JsonChannel,
    MetricsAggregator,
    PresenceEvent,
    Relax,
    Router,
    SessionEvent,
    SlaPolicy,
    SlaTarget,
    SupportDesk,
    TicketEvent,
    TicketFacts,
    Tier,
)
from supportkit._sla._scenario import parse_scenario

PRIORITIES = st.sampled_from(["low", "normal", "high", "urgent"])
STATUSES = st.sampled_from(["new", "open", "pending", "on_hold", "solved", "closed"])
ROLES = st.sampled_from(["customer", "agent", "system", "bot"])
KINDS = st.sampled_from(
    [
        "created",
        "message",
        "status_changed",
        "assigned",
        "priority_changed",
        "tier_changed",
        "escalated",
        "tagged",
        "merged",
        "satisfaction_rated",
        "kb_article_viewed",
        "deflected",
        "sla_policy_applied",
    ]
)
METRICS = st.sampled_from(
    [
        "first_reply",
        "next_reply",
        "periodic_update",
        "pausable_update",
        "requester_wait",
        "agent_work",
        "total_resolution",
    ]
)
TAGS = st.lists(ident(), max_size=3)
METADATA = st.dictionaries(text(), st.one_of(text(), integers(), st.booleans()), max_size=3)
INTERVALS = st.sampled_from(["09:00-17:00", "22:00-06:00", "00:00-00:00", "25:00-26:00", "9-5"])
WEEKLY = st.dictionaries(
    st.sampled_from(["mon", "tue", "wed", "sun", "Mon", "xyz"]),
    st.one_of(INTERVALS, st.lists(INTERVALS, max_size=2)),
    max_size=3,
)
DATES = st.one_of(st.dates(), st.dates().map(str), text())
TARGET_DICTS = st.fixed_dictionaries(
    {"business": st.booleans()},
    optional={
        "days": integers(),
        "hours": integers(),
        "minutes": integers(),
        "seconds": integers(),
    },
)
POLICY_FIELDS = {
    "name": ident(),
    "targets": st.dictionaries(
        PRIORITIES, st.dictionaries(METRICS, either(TARGET_DICTS), max_size=2), max_size=2
    ),
    "conditions": st.dictionaries(
        st.sampled_from(["tier", "priority", "channel", "group", "tags", "colour"]),
        st.lists(ident(), max_size=2),
        max_size=2,
    ),
    "version": st.one_of(integers(), ident()),
    "warnings": st.lists(st.floats(), max_size=3),
    "on_priority_change": st.sampled_from(["keep", "restart", "never"]),
}
POLICY_DICTS = raw_dicts(POLICY_FIELDS, required=("name", "targets"))


def event_dicts() -> st.SearchStrategy[Any]:
    """A ``TicketEvent.from_dict`` input: an envelope and fields of any kind."""
    return raw_dicts(
        {
            "v": st.just(1),
            "kind": KINDS,
            "ticket_id": ident(),
            "at": st.one_of(instants().map(datetime.isoformat), instants()),
            "by": ROLES,
            "actor": ident(),
            "id": ident(),
            "channel": ident(),
            "priority": PRIORITIES,
            "subject": text(),
            "public": st.booleans(),
            "message_id": ident(),
            "body": text(),
            "to": st.one_of(STATUSES, PRIORITIES),
            "agent": ident(),
            "level": ident(),
            "add": TAGS,
            "csat": st.sampled_from(["good", "bad"]),
            "score": integers(),
            "policy": ident(),
        },
        required=("kind", "ticket_id", "at"),
    )


def _scenario(raw: Any) -> None:
    parse_scenario(raw)


def _event_from_dict(raw: Any) -> None:
    TicketEvent.from_dict(raw)


def _calendar(kw: dict[str, Any]) -> None:
    calendar = BusinessCalendar(**{k: v for k, v in kw.items() if k not in ("t", "d")})
    calendar.add(kw.get("t"), kw.get("d"))
    calendar.elapsed(kw.get("t"), kw.get("t"))


def _json_parse(payload: Any) -> None:
    JsonChannel().parse(payload, {})


def _json_payload() -> st.SearchStrategy[Any]:
    fields = raw_dicts(
        {
            "id": ident(),
            "from": ident(),
            "timestamp": st.one_of(instants().map(datetime.isoformat), integers()),
            "text": text(max_size=40),
            "subject": text(),
            "ticket_id": ident(),
            "public": st.booleans(),
            "priority": PRIORITIES,
            "tags": TAGS,
            "metadata": METADATA,
        },
        required=("from", "timestamp"),
    )
    return st.one_of(fields, fields.map(lambda v: json.dumps(v, default=str)), st.binary())


def _email_parse(payload: Any) -> None:
    email = pytest.importorskip("supportkit_email")
    email.EmailChannel().parse(payload, {})


#: Pieces of mail that broke parsers before: folded and encoded headers, bad charsets and
#: encodings, boundaries that never close, attachments, noise headers.
_MAIL_LINES = st.sampled_from(
    [
        b"From: Jane <jane@example.com>\n",
        b'From: "unbalanced <x@y.example>\n',
        b"From: =?utf-8?q?J=C3=BC?= <j@example.com>\n",
        b"Subject: =?utf-8?b?w6Q=?= =?x-bad?Q?zz?=\n",
        b"Subject: Re: [#T-1]\n",
        b"Message-ID: <m@example.com>\n",
        b"References: <a@b> <c@d\n",
        b"In-Reply-To: no-brackets@x\n",
        b"Content-Type: multipart/mixed; boundary=zz\n",
        b'Content-Type: text/html; charset="no-such\n',
        b"Content-Type: message/rfc822\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Disposition: attachment; filename*=bad''%ZZ\n",
        b"Auto-Submitted: auto-replied\n",
        b"Return-Path: <>\n",
        b" folded\n",
        b"\n",
        b"--zz\n",
        b"--zz--\n",
        b"> quoted\n",
        b"=E4=ZZ=\n",
        b"\xff\xfe\x00\n",
    ]
)


def _mail() -> st.SearchStrategy[Any]:
    raw = st.lists(_MAIL_LINES, max_size=24).map(b"".join)
    return either(st.one_of(raw, raw.map(lambda b: b.decode("latin-1")), st.binary(max_size=64)))


def _verify_signature(kw: dict[str, Any]) -> None:
    webhook = pytest.importorskip("supportkit_webhook")
    webhook.verify_signature(**kw)


def _desk(kw: dict[str, Any]) -> None:
    SupportDesk(store=InMemoryStore(), plugins=None, **kw).close()


_STATE: dict[str, Any] = {}


def _plugin_state() -> Any:
    """One desk's plugin state (in the memory sidecar), made once."""
    if not _STATE:
        _STATE["desk"] = SupportDesk(store=InMemoryStore(), plugins=None, ladder=None)
    return _STATE["desk"].plugin_state("fuzz")


def _plugin_state_contents(_kw: Any) -> object:
    _plugin_state()
    return dict(_STATE["desk"].store._state)


def _state_call(method: str) -> Any:
    def call(kw: dict[str, Any]) -> None:
        getattr(_plugin_state(), method)(**kw)

    return call


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | integers() | st.floats() | text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text(), inner, max_size=3),
    max_leaves=6,
)
STATE_WRITE = kwargs_of(
    {"key": ident(), "value": either(JSON_VALUES)}, {"expires_at": either(instants())}
)


TARGETS: dict[str, Target] = {
    "InboundMessage": Target(
        kwargs_of(
            {"message_id": ident(), "channel": ident(), "sender": ident(), "at": instants()},
            {
                "body": text(max_size=40),
                "subject": text(),
                "ticket_id": ident(),
                "public": st.booleans(),
                "priority": PRIORITIES,
                "tags": TAGS,
                "language": ident(),
                "metadata": METADATA,
            },
        ),
        lambda kw: InboundMessage(**kw),
    ),
    "TicketEvent": Target(
        kwargs_of(
            {"kind": KINDS, "ticket_id": ident(), "at": instants()},
            {
                "by": ROLES,
                "actor": ident(),
                "id": ident(),
                "data": st.dictionaries(
                    st.sampled_from(["to", "public", "body", "add", "agent", "level", "into"]),
                    st.one_of(STATUSES, text(), st.booleans(), TAGS),
                    max_size=3,
                ),
            },
        ),
        lambda kw: TicketEvent(**kw),
    ),
    "TicketEvent.from_dict": Target(event_dicts(), _event_from_dict),
    "Tier": Target(
        kwargs_of(
            {"name": ident(), "weight": integers()},
            {
                "dedicated_group": ident(),
                "dedicated_agent": ident(),
                "sla_policy": ident(),
                "watchlist": st.frozensets(ident(), max_size=2),
            },
        ),
        lambda kw: Tier(kw.pop("name"), **kw),
    ),
    "Customer": Target(
        kwargs_of(
            {"id": ident()},
            {
                "tier": ident(),
                "organisation": ident(),
                "name": text(),
                "email": text(),
                "language": ident(),
                "attributes": METADATA,
            },
        ),
        lambda kw: Customer(**kw),
    ),
    "Agent": Target(
        kwargs_of(
            {"id": ident()},
            {
                "name": text(),
                "skills": st.dictionaries(ident(), integers(), max_size=2),
                "languages": st.frozensets(ident(), max_size=2),
                "groups": st.frozensets(ident(), max_size=2),
                "capacity": st.dictionaries(ident(), integers(), max_size=2),
            },
        ),
        lambda kw: Agent(**kw),
    ),
    "Group": Target(
        kwargs_of({"id": ident()}, {"name": text(), "level": ident()}), lambda kw: Group(**kw)
    ),
    "SlaTarget": Target(
        kwargs_of({"seconds": integers(), "business": st.booleans()}),
        lambda kw: SlaTarget(**kw),
    ),
    "SlaTarget.from_dict": Target(either(TARGET_DICTS), lambda raw: SlaTarget.from_dict(raw)),
    "SlaPolicy.from_dict": Target(POLICY_DICTS, lambda raw: SlaPolicy.from_dict(raw)),
    "SlaPolicy": Target(
        kwargs_of(
            {
                "name": ident(),
                "targets": st.dictionaries(
                    PRIORITIES,
                    st.dictionaries(
                        METRICS,
                        either(st.builds(SlaTarget, st.integers(1, 10**6), st.booleans())),
                        max_size=2,
                    ),
                    max_size=2,
                ),
            },
            {
                "conditions": POLICY_FIELDS["conditions"],
                "version": POLICY_FIELDS["version"],
                "warnings": POLICY_FIELDS["warnings"],
                "on_priority_change": POLICY_FIELDS["on_priority_change"],
            },
        ),
        lambda kw: SlaPolicy(**kw),
    ),
    "BusinessCalendar": Target(
        kwargs_of(
            {},
            {
                "tz": st.sampled_from(["UTC", "Europe/Berlin", "Mars/Base", "", "../etc"]),
                "weekly": WEEKLY,
                "holidays": st.lists(DATES, max_size=2),
                "overrides": st.dictionaries(DATES, INTERVALS, max_size=2),
                "t": st.one_of(instants(), naive()),
                "d": st.one_of(
                    st.timedeltas(), st.integers(-(10**12), 10**12).map(lambda s: timedelta(0, s))
                ),
            },
        ),
        _calendar,
        examples=500,
    ),
    "BusinessCalendar.from_dict": Target(
        raw_dicts(
            {"tz": st.sampled_from(["UTC", "Asia/Tokyo", "nowhere"]), "weekly": WEEKLY},
            required=("weekly",),
        ),
        lambda raw: BusinessCalendar.from_dict(raw),
    ),
    "EscalationLevel": Target(
        kwargs_of(
            {"name": ident()}, {"group": ident(), "next": ident(), "engineering": st.booleans()}
        ),
        lambda kw: EscalationLevel(**kw),
    ),
    "EscalationLadder": Target(
        st.lists(
            either(st.builds(EscalationLevel, st.sampled_from(["L1", "L2", "L3"]))), max_size=4
        ),
        lambda levels: EscalationLadder(levels),
    ),
    "Relax": Target(
        kwargs_of({"after": st.timedeltas()}, {"lower_by": integers()}),
        lambda kw: Relax(**kw),
    ),
    "Router": Target(
        kwargs_of(
            {},
            {
                "agents": st.lists(st.builds(Agent, ident()), max_size=2),
                "strategy": st.sampled_from(["round_robin", "least_loaded", "bogus"]),
                "key": st.lists(st.sampled_from(["tier", "priority", "deadline", "nope"])),
                "relax": st.lists(st.builds(Relax, st.timedeltas()), max_size=2),
                "skills": st.lists(ident(), max_size=2),
                "counts": st.lists(STATUSES, max_size=2),
                "default_capacity": integers(),
            },
        ),
        lambda kw: Router(**kw),
    ),
    "Goal": Target(
        kwargs_of(
            {"metric": st.sampled_from(["first_reply_business.median", "csat", "x.y"])},
            {
                "target": st.one_of(integers(), st.floats()),
                "direction": st.sampled_from(["at_most", "at_least", "<=", "~"]),
                "grouping": st.sampled_from(["all", "tier", "agent", "nope"]),
                "group": ident(),
                "period": st.sampled_from(["hour", "day", "week", "month", "year"]),
                "name": text(),
            },
        ),
        lambda kw: Goal(kw.pop("metric"), kw.pop("target", 1), **kw),
    ),
    "TicketFacts.from_dict": Target(
        raw_dicts(
            {
                "ticket_id": ident(),
                "channel": ident(),
                "priority": PRIORITIES,
                "tier": ident(),
                "created_at": instants().map(datetime.isoformat),
                "solved_at": instants().map(datetime.isoformat),
                "first_reply_seconds": integers(),
            },
            required=("ticket_id",),
        ),
        lambda raw: TicketFacts.from_dict(raw),
    ),
    "SessionEvent.from_dict": Target(
        raw_dicts(
            {
                "kind": st.sampled_from(
                    ["started", "kb_article_viewed", "deflected", "ticket_created", "x"]
                ),
                "session_id": ident(),
                "at": instants().map(datetime.isoformat),
                "customer": ident(),
                "data": st.dictionaries(st.sampled_from(["ticket_id", "article"]), ident()),
            },
            required=("kind", "session_id", "at"),
        ),
        lambda raw: SessionEvent.from_dict(raw),
    ),
    "PresenceEvent.from_dict": Target(
        raw_dicts(
            {
                "agent": ident(),
                "at": instants().map(datetime.isoformat),
                "state": st.sampled_from(["online", "away", "offline", "asleep"]),
            },
            required=("agent", "at", "state"),
        ),
        lambda raw: PresenceEvent.from_dict(raw),
    ),
    "MetricsAggregator.from_dict": Target(
        raw_dicts(
            {
                "groupings": st.lists(st.lists(st.sampled_from(["tier", "agent"])), max_size=2),
                "tz": st.sampled_from(["UTC", "nowhere"]),
                "exact": st.booleans(),
                "goals": st.lists(junk(), max_size=1),
                "state": st.lists(junk(), max_size=2),
            },
            required=("groupings", "tz", "exact", "goals", "state"),
        ),
        lambda raw: MetricsAggregator.from_dict(raw),
        examples=500,
    ),
    "parse_scenario": Target(
        raw_dicts(
            {
                "policy": POLICY_DICTS,
                "events": st.lists(event_dicts(), max_size=3),
                "at": instants().map(datetime.isoformat),
                "calendar": raw_dicts({"weekly": WEEKLY, "tz": st.just("UTC")}),
                "ticket_id": ident(),
                "comment": text(),
            },
            required=("policy", "events", "at"),
        ),
        _scenario,
    ),
    "JsonChannel.parse": Target(_json_payload(), _json_parse),
    "email.EmailChannel.parse": Target(_mail(), _email_parse),
    "webhook.verify_signature": Target(
        kwargs_of(
            {
                "secret": st.one_of(text(), st.binary(max_size=8)),
                "timestamp": st.one_of(integers(), integers().map(str), st.none()),
                "body": st.binary(max_size=32),
                "signature": st.one_of(text(), st.just("sha256=" + "0" * 64), st.none()),
                "now": st.one_of(st.floats(), integers()),
            },
            {"tolerance": integers()},
        ),
        _verify_signature,
    ),
    "SupportDesk": Target(
        kwargs_of(
            {},
            {
                "policies": st.lists(
                    either(
                        st.builds(
                            SlaPolicy,
                            ident(),
                            st.just({"normal": {"first_reply": SlaTarget(3600, False)}}),
                        )
                    ),
                    max_size=2,
                ),
                "calendars": either(st.just(BusinessCalendar(weekly={"mon": "09:00-17:00"}))),
                "tiers": st.lists(st.builds(Tier, ident(), weight=integers()), max_size=2),
                "max_attempts": integers(),
                "backoff": st.timedeltas(),
                "max_backoff": st.timedeltas(),
                "lease": st.timedeltas(),
                "cache_size": integers(),
            },
        ),
        _desk,
        examples=300,
    ),
    "SupportDesk.plugin_state": Target(
        kwargs_of({"namespace": ident()}),
        lambda kw: SupportDesk(store=InMemoryStore(), plugins=None).plugin_state(**kw),
        examples=100,
    ),
    "PluginState.put": Target(STATE_WRITE, _state_call("put"), state=_plugin_state_contents),
    "PluginState.put_new": Target(
        STATE_WRITE, _state_call("put_new"), state=_plugin_state_contents
    ),
    "PluginState.get": Target(kwargs_of({"key": ident()}), _state_call("get")),
    "PluginState.delete": Target(
        kwargs_of({"key": ident()}), _state_call("delete"), state=_plugin_state_contents
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with anything raises nothing or a SupportkitError."""
    run(name, TARGETS[name])


def test_rule_catches_an_untyped_exception() -> None:
    """The rule itself fails on an untyped exception (so a green fuzz run means something)."""
    from fuzzkit import COUNTS, UNTYPED, expect_typed

    counts, untyped = dict(COUNTS), list(UNTYPED)
    with pytest.raises(AssertionError, match="untyped exception KeyError"):
        expect_typed(lambda: {}["missing"])
    COUNTS.update(counts)  # a planted failure, not one of the library's
    UNTYPED[:] = untyped


def test_naive_instant_refused_everywhere() -> None:
    """Regression cases the fuzz suite covers, pinned: a naive instant is an EventError."""
    from supportkit import EventError

    with pytest.raises(EventError):
        InboundMessage("m", "email", "c", datetime(2025, 1, 1))
    assert InboundMessage("m", "email", "c", datetime(2025, 1, 1, tzinfo=UTC)).sender == "c"
