"""Fuzz targets of the integrations: ``retry_after``, ``SupportDesk.set_tier``,
``SupportDesk.receive`` (raw payloads), ``IntegrationError`` and ``Ignored``, and the Slack and
CRM plugins' constructors and parsers (skipped where those plugins are not installed; ``nox -s
plugins`` installs them). The one rule of tests/fuzzkit.py: only a ``SupportkitError`` escapes,
and a refused desk call changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from fuzzkit import Target, ident, instants, integers, junk, kwargs_of, raw_dicts, run, text
from supportkit import (
    Customer,
    Ignored,
    InboundMessage,
    InMemoryStore,
    IntegrationError,
    IntegrationHTTPError,
    SupportDesk,
    Tier,
    retry_after,
)
from supportkit.testing import FakeChannel

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
NAMES = st.lists(
    st.sampled_from(["gold", "sla_breached", "ticket_escalated", "L2", ""]), max_size=3
)


def _retry_after(kw: dict[str, Any]) -> None:
    retry_after(**kw)


_DESK: dict[str, Any] = {}


def _desk() -> tuple[SupportDesk, str]:
    """One desk with one ticket, made once (set_tier is refused or changes the tier only)."""
    if not _DESK:
        desk = SupportDesk(
            store=InMemoryStore(), plugins=None, tiers=[Tier("gold", weight=1)], ladder=None
        )
        _DESK["desk"] = desk
        _DESK["ticket"] = desk.ingest(InboundMessage("m-1", "email", "a@x.example", AT)).ticket_id
    return _DESK["desk"], _DESK["ticket"]


def _set_tier(kw: dict[str, Any]) -> None:
    desk, ticket_id = _desk()
    desk.set_tier(kw.get("ticket_id", ticket_id), kw.get("tier"), actor=kw.get("actor"))


def _desk_state(_kw: Any) -> object:
    desk, _ = _desk()
    return [(e.kind, e.data) for t in desk.store.ticket_ids() for e in desk.store.read(t)]


_RECEIVING: dict[str, Any] = {}


def _receiving_desk() -> SupportDesk:
    """One desk with an "email" channel and one ticket, made once; receive() may add tickets
    (that is not a refusal), and a refused call must change nothing."""
    if not _RECEIVING:
        desk = SupportDesk(
            store=InMemoryStore(),
            plugins=[FakeChannel("email")],
            blocked_plugins=["email"],  # supportkit-email's channel, where it is installed
            ladder=None,
        )
        desk.receive("email", {"id": "m-1", "from": "a@x.example", "at": AT.isoformat()})
        _RECEIVING["desk"] = desk
    desk: SupportDesk = _RECEIVING["desk"]
    return desk


def _receive(kw: dict[str, Any]) -> None:
    _receiving_desk().receive(kw.get("channel", "email"), kw.get("payload"), kw.get("headers"))


def _receiving_state(_kw: Any) -> object:
    """Every ticket's version and the outbox (the log is append-only, so equal versions mean
    an equal log; cheap enough for a desk that grows with each accepted payload)."""
    desk = _receiving_desk()
    return [(t, desk.store.version(t)) for t in desk.store.ticket_ids()], len(desk.outbox())


#: A JSON channel payload: the InboundMessage fields (threading ones too), plausible or junk.
RECEIVED = raw_dicts(
    {
        "id": ident(),
        "from": ident(),
        "at": st.one_of(instants().map(lambda at: at.isoformat()), integers(), text()),
        "body": text(),
        "references": st.lists(st.sampled_from(["m-1", "m-2", "", "x"]), max_size=3),
        "ticket_hint": st.sampled_from(["T-1", "T-nope", ""]),
        "ticket_id": ident(),
        "public": st.booleans(),
        "tags": st.lists(text(), max_size=2),
    },
    required=("from", "at"),
)


def _integration_error(kw: dict[str, Any]) -> None:
    IntegrationHTTPError("x", **kw) if kw.pop("http", False) else IntegrationError("x", **kw)


def _ignored(kw: dict[str, Any]) -> None:
    Ignored(kw.pop("reason", "noise"), **kw)


def _route(raw: Any) -> None:
    slack = pytest.importorskip("supportkit_slack")
    slack.Route.from_dict(raw)


def _slack_notifier(kw: dict[str, Any]) -> None:
    slack = pytest.importorskip("supportkit_slack")
    slack.SlackNotifier(**kw)


def _crm_mapping(raw: Any) -> None:
    crm = pytest.importorskip("supportkit_crm_http")
    crm.CrmMapping.from_dict(raw)


_CLIENT = httpx.Client(base_url="http://127.0.0.1:9")  # never used: construction only


def _http_crm(kw: dict[str, Any]) -> None:
    crm = pytest.importorskip("supportkit_crm_http")
    crm.HttpCrm(kw.pop("client", _CLIENT), {"customer": {"url": "/c/{email}"}}, **kw)


def _crm_value(customer: Any) -> None:
    crm = pytest.importorskip("supportkit_crm_http")
    mapping = {"customer": {"url": "/c/{email}", "value": "revenue"}}
    crm.HttpCrm(_CLIENT, mapping, retries=0, failures=1).lookup_value(customer)


def _field_path(kw: dict[str, Any]) -> None:
    crm = pytest.importorskip("supportkit_crm_http")
    crm.field_path(**kw)


LOOKUP = raw_dicts(
    {
        "url": st.sampled_from(["/c/{email}", "/o/{domain}", "/x/{other}", ""]),
        "tier": text(),
        "value": text(),
    },
    required=("url",),
)

TARGETS: dict[str, Target] = {
    "retry_after": Target(
        kwargs_of(
            {
                "value": st.one_of(
                    text(), integers().map(str), st.just("Wed, 21 Oct 2015 07:28:00 GMT")
                ),
                "now": instants(),
            }
        ),
        _retry_after,
    ),
    "SupportDesk.set_tier": Target(
        kwargs_of(
            {}, {"ticket_id": ident(), "tier": st.one_of(ident(), st.none()), "actor": ident()}
        ),
        _set_tier,
        state=_desk_state,
        examples=300,
    ),
    "SupportDesk.receive": Target(
        kwargs_of(
            {"payload": st.one_of(RECEIVED, st.binary(max_size=16))},
            {
                "channel": st.sampled_from(["email", "json", "nope", ""]),
                "headers": st.dictionaries(text(), text(), max_size=2),
            },
        ),
        _receive,
        state=_receiving_state,
        examples=300,
    ),
    "IntegrationError": Target(
        kwargs_of(
            {},
            {
                "retry_at": instants(),
                "permanent": st.booleans(),
                "request": junk(),
                "http": st.booleans(),
            },
        ),
        _integration_error,
    ),
    "Ignored": Target(
        kwargs_of(
            {},
            {
                "reason": text(),
                "message": st.just(InboundMessage("m-9", "email", "a@x.example", AT)),
                "record": st.booleans(),
            },
        ),
        _ignored,
    ),
    "slack.Route.from_dict": Target(
        raw_dicts(
            {"channel": ident(), "kinds": NAMES, "tiers": NAMES, "levels": NAMES},
            required=("channel",),
        ),
        _route,
    ),
    "slack.SlackNotifier": Target(
        kwargs_of(
            {"token": ident(), "channel": ident()},
            {
                "routes": st.lists(st.fixed_dictionaries({"channel": ident()}), max_size=2),
                "timeout": st.floats(),
                "retries": integers(),
                "backoff": st.floats(),
                "kinds": NAMES,
                "top_tiers": NAMES,
                "zone": st.sampled_from(["UTC", "Europe/Berlin", "Nowhere/Land", ""]),
                "zones": st.dictionaries(ident(), st.sampled_from(["UTC", "x"]), max_size=2),
                "link": st.sampled_from(["https://x/{ticket_id}", "https://x/{id}", "{0}", "{"]),
                "name": ident(),
            },
        ),
        _slack_notifier,
    ),
    "crm_http.CrmMapping.from_dict": Target(
        raw_dicts(
            {
                "customer": LOOKUP,
                "organisation": LOOKUP,
                "tiers": st.dictionaries(text(), text(), max_size=2),
                "default_tier": st.one_of(ident(), st.none()),
            },
            required=("customer",),
        ),
        _crm_mapping,
    ),
    "crm_http.HttpCrm.lookup_value": Target(
        st.one_of(
            st.builds(Customer, ident(), email=st.one_of(st.none(), text())),
            junk(),
        ),
        _crm_value,
    ),
    "crm_http.HttpCrm": Target(
        kwargs_of(
            {},
            {
                "client": junk(),
                "timeout": st.floats(),
                "ttl": st.floats(),
                "negative_ttl": integers(),
                "cache_size": integers(),
                "retries": integers(),
                "backoff": st.floats(),
                "failures": integers(),
                "cooldown": st.floats(),
                "max_cooldown": st.floats(),
                "free_mail": st.lists(text(), max_size=2),
                "name": ident(),
            },
        ),
        _http_crm,
    ),
    "crm_http.field_path": Target(
        kwargs_of(
            {"document": junk(), "path": st.one_of(text(), st.sampled_from(["a.0.b", "0.²"]))}
        ),
        _field_path,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with anything raises nothing or a SupportkitError."""
    run(name, TARGETS[name])
