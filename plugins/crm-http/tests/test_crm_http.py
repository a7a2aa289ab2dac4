"""supportkit-crm-http against a loopback server shaped like HubSpot's CRM API."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import supportkit_crm_http
from hypothesis import given, settings
from hypothesis import strategies as st
from supportkit_crm_http import (
    RELOOKUP_TAG,
    CrmError,
    CrmHTTPError,
    CrmMapping,
    CrmTimeout,
    CrmUnavailable,
    HttpCrm,
    field_path,
)

from supportkit import (
    ConfigurationError,
    Customer,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    IntegrationError,
    SlaPolicy,
    SupportDesk,
    Tier,
)
from supportkit.testing import doc_examples, run_doc_examples
from supportkit.typing import CrmBackend, Notifier

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)

HUBSPOT = {
    "customer": {
        "url": "/crm/v3/objects/contacts/{email}?idProperty=email"
        "&properties=firstname,company,hs_language,support_tier",
        "id": "id",
        "name": "properties.firstname",
        "organisation": "properties.company",
        "language": "properties.hs_language",
        "tier": "properties.support_tier",
    },
    "organisation": {
        "url": "/crm/v3/objects/companies/{domain}?idProperty=domain&properties=name,support_tier",
        "name": "properties.name",
        "tier": "properties.support_tier",
    },
    "tiers": {"enterprise": "gold", "professional": "silver"},
    "default_tier": "standard",
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(AT)


@pytest.fixture
def client(crm_server: Any) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {crm_server.token}"}
    with httpx.Client(base_url=crm_server.base_url, headers=headers) as made:
        yield made


def make(
    client: httpx.Client, clock: FrozenClock, sleeps: list[float] | None = None, **options: Any
) -> HttpCrm:
    waits = [] if sleeps is None else sleeps
    return HttpCrm(
        client, options.pop("mapping", HUBSPOT), clock=clock, sleep=waits.append, **options
    )


def message(
    sender: str = "ann@big.example",
    mid: str = "m-1",
    minutes: int = 0,
    ticket_id: str | None = None,
) -> InboundMessage:
    at = AT + timedelta(minutes=minutes)
    return InboundMessage(mid, "email", sender, at, subject="Help", ticket_id=ticket_id)


# --- mapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", {"results": [{"id": 7, "p": {"tier": "gold"}}]}),
        ("results.0.id", 7),
        ("results.0.p.tier", "gold"),
        ("results.1.id", None),
        ("results.x", None),
        ("results.0.id.deeper", None),
        ("missing", None),
        ("results.²", None),  # a digit to str.isdigit, not to int(): was a ValueError
        ("results.٠", None),  # only ASCII digits index a list
    ],
)
def test_field_paths_walk_objects_and_lists(path: str, expected: Any) -> None:
    """Dotted paths: keys for objects, digits for list items, None for anything absent."""
    assert expected == field_path({"results": [{"id": 7, "p": {"tier": "gold"}}]}, path)


@settings(max_examples=80, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    ),
    path=st.text(alphabet="ab0²٣.", max_size=8),
)
def test_field_path_never_raises(document: Any, path: str) -> None:
    """Whatever JSON the CRM answers and whatever the path, field_path answers (no exception)."""
    field_path(document, path)


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({}, "needs a 'customer' table"),
        ({"customer": {"url": "/c/{email}"}, "tier": {}}, r"unknown keys \['tier'\]"),
        ({"customer": {"url": "/c/{mail}"}}, "may only use {email}"),
        ({"customer": {"url": "/c/all"}}, "must contain {email}"),
        ({"customer": {"url": "/c/{email}", "plan": "p.plan"}}, r"unknown fields \['plan'\]"),
        ({"customer": {"url": "/c/{email}", "tier": 3}}, "must map names to field paths"),
        ({"customer": {"url": "/c/{email}"}, "organisation": {"url": "/o/{email}"}}, "{domain}"),
        ({"customer": {"url": "/c/{email}"}, "default_tier": ""}, "default_tier"),
        ({"customer": {"url": "/c/{email}"}, "tiers": ["gold"]}, "tiers must map"),
        ("customer", "must be a table"),
    ],
)
def test_bad_mappings_are_configuration_errors(mapping: Any, match: str) -> None:
    """A mapping with a typo fails at construction, naming the problem."""
    with pytest.raises(ConfigurationError, match=match):
        CrmMapping.from_dict(mapping)


def test_tier_table() -> None:
    """Values map through the table; unknown values map to none; no table uses the values."""
    mapping = CrmMapping.from_dict(HUBSPOT)
    assert ["gold", None, None] == [mapping.tier(v) for v in ("enterprise", "free", None)]
    bare = CrmMapping.from_dict({"customer": {"url": "/c/{email}"}})
    assert ["free", None] == [bare.tier(v) for v in ("free", {"a": 1})]


# --- lookups over HTTP --------------------------------------------------------------------------


def test_hubspot_contact_becomes_a_customer(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """A HubSpot-shaped contact maps to a Customer (id = the address, CRM id kept)."""
    crm_server.contact(
        "ann@big.example",
        "51",
        firstname="Ann",
        company="Big Corp",
        hs_language="de",
        support_tier="enterprise",
    )
    expected = Customer(
        "ann@big.example",
        tier="gold",
        organisation="Big Corp",
        name="Ann",
        email="ann@big.example",
        language="de",
        attributes={"crm_id": "51"},
    )
    assert expected == make(client, clock).lookup_customer(message("Ann@Big.example"))
    assert ["/crm/v3/objects/contacts/ann@big.example"] == [
        r.split("?")[0] for r in crm_server.requests
    ]


def test_no_tier_on_the_contact_asks_the_organisation(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """A contact without a tier gets their company's (looked up by the address's domain)."""
    crm_server.contact("bob@big.example", firstname="Bob")
    crm_server.company("big.example", name="Big Corp", support_tier="professional")
    customer = make(client, clock).lookup_customer(message("bob@big.example"))
    assert customer is not None
    assert ("silver", "Big Corp") == (customer.tier, customer.organisation)


def test_unknown_sender_of_a_known_organisation(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """Not a contact, but the domain is a customer company: its tier and name."""
    crm_server.company("big.example", name="Big Corp", support_tier="enterprise")
    customer = make(client, clock).lookup_customer(message("new@big.example"))
    assert customer is not None
    assert ("new@big.example", "gold", "Big Corp") == (
        customer.id,
        customer.tier,
        customer.organisation,
    )


def test_free_mail_domains_are_not_organisations(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """gmail.com is nobody's company: only the contact is asked, the default tier applies."""
    customer = make(client, clock).lookup_customer(message("someone@gmail.com"))
    assert customer is not None
    assert "standard" == customer.tier
    assert 1 == len(crm_server.requests)


def test_nobody_known_and_no_default_is_none(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """Without a default tier an unknown sender is None: the desk decides, as without a CRM."""
    crm = make(client, clock, mapping={**HUBSPOT, "default_tier": None})
    assert crm.lookup_customer(message("x@nowhere.example")) is None
    assert crm.lookup_tier(Customer("x@nowhere.example")) is None


# --- value -------------------------------------------------------------------------------------

VALUED = {
    **HUBSPOT,
    "customer": {**HUBSPOT["customer"], "value": "properties.annual_revenue"},  # type: ignore[dict-item]
    "organisation": {**HUBSPOT["organisation"], "value": "properties.annualrevenue"},  # type: ignore[dict-item]
}


def test_the_value_field_reads_a_number_from_the_contact_or_its_company(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """A mapping's ``value`` path reads numbers and HubSpot's numeric strings; a contact
    without one gets their company's; anything else is no value."""
    crm_server.contact("ann@big.example", support_tier="enterprise", annual_revenue="125000.50")
    crm_server.contact("bob@big.example", support_tier="enterprise")
    crm_server.company("big.example", name="Big Corp", annualrevenue=2_000_000)
    crm_server.contact("eve@odd.example", support_tier="enterprise", annual_revenue="lots")
    crm = make(client, clock, mapping=VALUED)
    found = crm.lookup_customer(message("ann@big.example"))
    assert found is not None
    assert 125000.5 == found.attributes["value"]
    assert 125000.5 == crm.lookup_value(Customer("ann@big.example", email="ann@big.example"))
    assert 2_000_000.0 == crm.lookup_value(Customer("bob@big.example"))
    assert crm.lookup_value(Customer("eve@odd.example")) is None
    assert crm.lookup_value(Customer("C-42")) is None  # not an address: nothing to ask
    assert make(client, clock).lookup_value(Customer("ann@big.example")) is None  # unmapped


def test_an_engineering_issue_carries_the_crm_value(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """Through the desk: the affected customers' value is the sum of the CRM's figures."""
    crm_server.contact("ann@big.example", support_tier="enterprise", annual_revenue="100")
    crm_server.contact("bob@small.example", annual_revenue=25)
    desk = SupportDesk(
        store=InMemoryStore(), clock=clock, plugins=[make(client, clock, mapping=VALUED)]
    )
    problem = desk.ingest(message("ann@big.example")).ticket_id
    incident = desk.ingest(message("bob@small.example", mid="m-2")).ticket_id
    assert problem is not None
    assert incident is not None
    desk.link_problem(incident, problem)
    affected = desk.affected_customers(problem)
    assert (125.0, 2) == (affected.value, affected.valued)


# --- cache --------------------------------------------------------------------------------------


def test_answers_are_cached_and_not_found_for_less_long(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """A found contact is served from the cache for ttl; "not found" only for negative_ttl."""
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm = make(client, clock, ttl=300, negative_ttl=60, mapping={**HUBSPOT, "organisation": None})
    for _ in range(3):
        crm.lookup_customer(message("ann@big.example"))
        crm.lookup_customer(message("nobody@big.example"))
    assert 2 == len(crm_server.requests)
    clock.advance(seconds=61)
    crm.lookup_customer(message("ann@big.example"))
    crm.lookup_customer(message("nobody@big.example"))
    assert 3 == len(crm_server.requests)  # only the negative answer expired
    clock.advance(seconds=240)
    crm.lookup_customer(message("ann@big.example"))
    assert 4 == len(crm_server.requests)


def test_the_cache_is_bounded(crm_server: Any, client: httpx.Client, clock: FrozenClock) -> None:
    """With cache_size=2 the least recently used answer is dropped first."""
    crm = make(client, clock, cache_size=2, mapping={**HUBSPOT, "organisation": None})
    for sender in (
        "a@x.example",
        "b@x.example",
        "a@x.example",
        "c@x.example",
        "a@x.example",
        "b@x.example",
    ):
        crm.lookup_customer(message(sender))
    assert 2 == len(crm.cache)
    asked = [r.split("?")[0].rsplit("/", 1)[1] for r in crm_server.requests]
    assert ["a@x.example", "b@x.example", "c@x.example", "b@x.example"] == asked


# --- failures: ingest never blocks --------------------------------------------------------------


def test_slow_crm_is_a_timeout_and_ingest_gets_the_default(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """An answer slower than the timeout: lookup_customer gives the default tier, no retry,
    no sleep; find raises CrmTimeout."""
    crm_server.queue(200, b"{}", delay=1.5)
    sleeps: list[float] = []
    crm = make(client, clock, sleeps, timeout=0.5)
    customer = crm.lookup_customer(message())
    assert (Customer("ann@big.example", tier="standard", email="ann@big.example"), 1, []) == (
        customer,
        len(crm_server.requests),
        sleeps,
    )
    crm_server.queue(200, b"{}", delay=1.5)
    with pytest.raises(CrmTimeout, match=r"no answer within 0\.5 s"):
        crm.find("ann@big.example", retries=0)


def test_server_errors_are_retried_with_backoff_off_the_ingest_path(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """find() (re-lookups) retries 5xx after 0.2 s, 0.4 s; ingest's lookup tries once."""
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm_server.queue(503, b"busy")
    crm_server.queue(502, b"<html>bad gateway</html>")
    sleeps: list[float] = []
    crm = make(client, clock, sleeps)
    customer = crm.find("ann@big.example")
    assert customer is not None
    assert ("gold", [0.2, 0.4], 3) == (customer.tier, sleeps, len(crm_server.requests))
    crm_server.queue(500)
    assert "standard" == crm.lookup_customer(message("eve@big.example")).tier  # type: ignore[union-attr]
    assert [0.2, 0.4] == sleeps


def test_persistent_server_error_is_a_crm_http_error(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """After the retries a 5xx raises CrmHTTPError naming the plugin and the status."""
    for _ in range(3):
        crm_server.queue(500, b"oops")
    with pytest.raises(CrmHTTPError, match="customer lookup answered 500") as info:
        make(client, clock).find("ann@big.example")
    assert isinstance(info.value, IntegrationError)
    assert ("crm-http", 500) == (info.value.plugin, info.value.response.status_code)


def test_connection_refused_is_retried_then_a_timeout(clock: FrozenClock) -> None:
    """Nobody listening: connect errors are retried with backoff, then CrmTimeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        crm = make(client, clock, sleeps)
        with pytest.raises(CrmTimeout, match="could not connect after 3 tries"):
            crm.find("ann@big.example")
    assert [0.2, 0.4] == sleeps


@pytest.mark.parametrize("body", [b'{"id": "5", "propert', b"<html>login</html>"])
def test_malformed_json_is_an_error_and_ingest_goes_on(
    crm_server: Any, client: httpx.Client, clock: FrozenClock, body: bytes
) -> None:
    """A 200 that is not JSON: find raises CrmHTTPError; ingest's lookup gets the default."""
    crm = make(client, clock)
    crm_server.queue(200, body, headers={"Content-Type": "application/json"})
    with pytest.raises(CrmHTTPError, match="malformed JSON"):
        crm.find("ann@big.example", retries=0)
    crm_server.queue(200, body)
    assert "standard" == crm.lookup_customer(message()).tier  # type: ignore[union-attr]


def test_rate_limit_opens_the_breaker_until_retry_after(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """A 429 with Retry-After: 120 opens the circuit: no request before then, nothing sleeps,
    the error carries retry_at; after it, the CRM is asked again."""
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm_server.queue_json({"status": "error"}, 429, {"Retry-After": "120"})
    sleeps: list[float] = []
    crm = make(client, clock, sleeps)
    with pytest.raises(CrmHTTPError, match="rate limited") as info:
        crm.find("ann@big.example")
    assert AT + timedelta(seconds=120) == info.value.retry_at
    assert "standard" == crm.lookup_customer(message()).tier  # type: ignore[union-attr]
    with pytest.raises(CrmUnavailable) as unavailable:
        crm.find("ann@big.example")
    assert (AT + timedelta(seconds=120), 1, []) == (
        unavailable.value.retry_at,
        len(crm_server.requests),
        sleeps,
    )
    clock.advance(seconds=120)
    assert "gold" == crm.lookup_customer(message()).tier  # type: ignore[union-attr]


def test_repeated_failures_open_the_breaker_with_growing_cooldown(
    crm_server: Any, client: httpx.Client, clock: FrozenClock
) -> None:
    """Three failed lookups in a row open the circuit for 30 s; failing again doubles it."""
    crm = make(client, clock, retries=0, failures=3, cooldown=30)
    for n in range(3):
        crm_server.queue(503)
        crm.lookup_customer(message(f"u{n}@x.example"))
    with pytest.raises(CrmUnavailable) as info:
        crm.find("u9@x.example")
    assert (3, AT + timedelta(seconds=30)) == (len(crm_server.requests), info.value.retry_at)
    clock.advance(seconds=30)
    crm_server.queue(503)
    crm.lookup_customer(message("u4@x.example"))
    with pytest.raises(CrmUnavailable) as again:
        crm.find("u9@x.example")
    assert AT + timedelta(seconds=90) == again.value.retry_at  # 30 s later, open for 60 s


def test_client_errors_are_permanent(crm_server: Any, clock: FrozenClock) -> None:
    """A wrong token (401) cannot be fixed by retrying: permanent, and the token is not in it."""
    with (
        httpx.Client(
            base_url=crm_server.base_url, headers={"Authorization": "Bearer wrong-secret"}
        ) as client,
        pytest.raises(CrmHTTPError, match="answered 401") as info,
    ):
        make(client, clock).find("ann@big.example")
    assert info.value.permanent
    assert "wrong-secret" not in str(info.value)


def test_secrets_are_never_logged(
    crm_server: Any, client: httpx.Client, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG, lookups, failures and the breaker log no token."""
    caplog.set_level(logging.DEBUG)
    crm = make(client, clock, retries=0, failures=1)
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm.lookup_customer(message())
    crm_server.queue(500)
    crm.lookup_customer(message("bob@big.example"))
    crm.lookup_customer(message("eve@big.example"))
    assert any("circuit open" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if crm_server.token in r.getMessage()]
    assert crm_server.token not in repr(crm)


# --- the desk: default tier, re-lookup, tier_changed --------------------------------------------

POLICIES = [
    SlaPolicy.from_dict(
        {
            "name": "standard",
            "targets": {"normal": {"first_reply": {"hours": 8, "business": False}}},
        }
    ),
    SlaPolicy.from_dict(
        {"name": "gold", "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
    ),
]
TIERS = [
    Tier("gold", weight=10, sla_policy="gold"),
    Tier("silver", weight=5),
    Tier("standard", weight=0),
]


@pytest.fixture
def desk_and_crm(client: httpx.Client, clock: FrozenClock) -> Iterator[tuple[SupportDesk, HttpCrm]]:
    crm = make(client, clock, retries=0)
    with SupportDesk(
        store=InMemoryStore(),
        plugins=[crm],
        clock=clock,
        policies=POLICIES,
        tiers=TIERS,
        ladder=None,
    ) as desk:
        yield desk, crm


def test_crm_down_at_ingest_opens_with_the_default_and_relooks_up_later(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm], clock: FrozenClock
) -> None:
    """The CRM is down: the ticket opens at once with the default tier; the re-lookup fails
    and tags it crm-relookup; once the CRM answers, the outbox retry appends tier_changed
    (bringing the gold SLA policy) and the tag goes."""
    desk, _ = desk_and_crm
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm_server.queue(503)
    ticket_id = desk.ingest(message()).ticket_id
    assert ("standard", "standard") == (
        desk.ticket(ticket_id).tier,
        desk.ticket(ticket_id).sla_policy,
    )
    crm_server.queue(503)
    result = desk.deliver()
    assert result.retried
    assert RELOOKUP_TAG in desk.ticket(ticket_id).tags
    clock.advance(minutes=5)
    desk.deliver()
    ticket = desk.ticket(ticket_id)
    assert ("gold", "gold", False) == (ticket.tier, ticket.sla_policy, RELOOKUP_TAG in ticket.tags)
    assert ["tier_changed", "sla_policy_applied"] == [
        e.kind for e in desk.events(ticket_id) if e.kind in ("tier_changed", "sla_policy_applied")
    ][-2:]


def test_a_rate_limited_relookup_waits_for_retry_after_without_spending_attempts(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm], clock: FrozenClock
) -> None:
    """A 429 (Retry-After: 120) during ingest opens the breaker: the ticket opens with the
    default tier, its re-lookup is deferred to exactly then (no attempt spent, no request
    made), and then it gets the CRM's tier."""
    desk, _ = desk_and_crm
    crm_server.contact("ann@big.example", support_tier="enterprise")
    crm_server.queue_json({"status": "error"}, 429, {"Retry-After": "120"})
    ticket_id = desk.ingest(message()).ticket_id
    result = desk.deliver()
    assert result.deferred
    rows = [m for m in desk.outbox("pending") if m.key in result.deferred]
    until = int((AT + timedelta(seconds=120)).timestamp())
    assert [(0, until)] == sorted({(m.attempts, m.next_attempt_at) for m in rows})
    assert (1, "standard") == (len(crm_server.requests), desk.ticket(ticket_id).tier)
    assert RELOOKUP_TAG in desk.ticket(ticket_id).tags
    clock.advance(seconds=120)
    desk.deliver()
    ticket = desk.ticket(ticket_id)
    assert ("gold", False) == (ticket.tier, RELOOKUP_TAG in ticket.tags)


def test_a_tier_change_in_the_crm_arrives_with_the_next_message(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm], clock: FrozenClock
) -> None:
    """The customer is upgraded in the CRM; the next message (once the cached answer has
    expired) gives the ticket a tier_changed event."""
    desk, _ = desk_and_crm
    crm_server.contact("ann@big.example", support_tier="professional")
    ticket_id = desk.ingest(message()).ticket_id
    desk.deliver()
    assert "silver" == desk.ticket(ticket_id).tier
    crm_server.contact("ann@big.example", support_tier="enterprise")
    clock.advance(minutes=10)
    assert ticket_id == desk.ingest(message(mid="m-2", minutes=10, ticket_id=ticket_id)).ticket_id
    desk.deliver()
    tiers = [e.data["to"] for e in desk.events(ticket_id) if e.kind == "tier_changed"]
    assert (["gold"], "gold") == (tiers, desk.ticket(ticket_id).sla_policy)


def test_watchlists_keep_winning_over_the_crm(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm]
) -> None:
    """A watchlisted customer opens in the watchlist's tier; re-lookups keep it there."""
    desk, crm = desk_and_crm
    desk.tiers["top"] = Tier("top", weight=99, watchlist={"ann@big.example"})
    crm_server.contact("ann@big.example", support_tier="professional")
    ticket_id = desk.ingest(message()).ticket_id
    desk.deliver()
    assert ("top", "top") == (desk.ticket(ticket_id).tier, crm.resync(ticket_id).tier)
    assert not [e for e in desk.events(ticket_id) if e.kind == "tier_changed"]


def test_resync_on_demand_skips_the_cache(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm]
) -> None:
    """resync(ticket_id) asks the CRM now (not the cache) and applies a changed tier."""
    desk, crm = desk_and_crm
    crm_server.contact("ann@big.example", support_tier="professional")
    ticket_id = desk.ingest(message()).ticket_id
    crm_server.contact("ann@big.example", support_tier="enterprise")
    assert "gold" == crm.resync(ticket_id).tier
    assert "gold" == crm.resync(ticket_id).tier  # unchanged: nothing more appended
    assert 1 == sum(e.kind == "tier_changed" for e in desk.events(ticket_id))


def test_resync_while_down_raises_and_marks(
    crm_server: Any, desk_and_crm: tuple[SupportDesk, HttpCrm]
) -> None:
    """An explicit resync while the CRM fails raises a CrmError and tags the ticket."""
    desk, crm = desk_and_crm
    crm_server.contact("ann@big.example", support_tier="professional")
    ticket_id = desk.ingest(message()).ticket_id
    crm_server.queue(500)
    with pytest.raises(CrmError):
        crm.resync(ticket_id)
    assert RELOOKUP_TAG in desk.ticket(ticket_id).tags


def test_resync_needs_a_desk(client: httpx.Client, clock: FrozenClock) -> None:
    """Without a desk there is no ticket to re-sync: a clear ConfigurationError."""
    with pytest.raises(ConfigurationError, match="no desk attached"):
        make(client, clock).resync("T-1")


# --- plugin wiring ------------------------------------------------------------------------------


def test_http_crm_is_a_crm_backend_and_a_notifier(
    client: httpx.Client, clock: FrozenClock, plugin_host: Any, register_plugin: Any
) -> None:
    """Handed to a host it registers as CRM backend and notifier "crm-http"."""
    crm = make(client, clock)
    assert isinstance(crm, CrmBackend)
    assert isinstance(crm, Notifier)
    register_plugin(plugin_host, crm)
    assert (crm, crm) == (
        plugin_host.crm_backends()["crm-http"],
        plugin_host.notifiers()["crm-http"],
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"timeout": 0}, "timeout=0"),
        ({"retries": -1}, "retries=-1"),
        ({"cache_size": 0}, "cache_size=0"),
    ],
)
def test_bad_settings_are_configuration_errors(
    client: httpx.Client, options: dict[str, Any], match: str
) -> None:
    """Misconfiguration fails at construction, saying what to fix."""
    with pytest.raises(ConfigurationError, match=match):
        HttpCrm(client, HUBSPOT, **options)


def test_client_must_be_an_httpx_client() -> None:
    """The client is injected; anything else is refused."""
    with pytest.raises(ConfigurationError, match=r"needs an httpx\.Client"):
        HttpCrm("https://crm.example", HUBSPOT)  # type: ignore[arg-type]


def registered(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("URL", "MAPPING", "TOKEN"):
        monkeypatch.delenv(f"SUPPORTKIT_CRM_HTTP_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"SUPPORTKIT_CRM_HTTP_{name}", value)
    backends: dict[str, Any] = {}
    notifiers: dict[str, Any] = {}
    supportkit_crm_http.supportkit_register_crm_backends(register=backends.__setitem__)
    supportkit_crm_http.supportkit_register_notifiers(register=notifiers.__setitem__)
    return {"crm": backends, "notifier": notifiers}


def test_module_plugin_registers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """URL and mapping file set: one backend object, registered as CRM and notifier."""
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(HUBSPOT))
    found = registered(monkeypatch, URL="https://api.example.com", MAPPING=str(path), TOKEN="t0k")
    crm = found["crm"]["crm-http"]
    assert crm is found["notifier"]["crm-http"]
    assert "Bearer t0k" == crm.client.headers["Authorization"]
    assert "t0k" not in repr(crm)


def test_module_plugin_is_off_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed but not configured: nothing is registered."""
    assert {"crm": {}, "notifier": {}} == registered(monkeypatch)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"URL": "https://x"}, "set both"),
        ({"URL": "https://x", "MAPPING": "/nonexistent.json"}, "cannot read"),
    ],
)
def test_module_plugin_misconfigured_is_an_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], match: str
) -> None:
    """Half the settings, or a mapping file that cannot be read, is a clear error."""
    with pytest.raises(ConfigurationError, match=match):
        registered(monkeypatch, **env)


def test_installed_package_advertises_its_entry_point() -> None:
    """pip-installed, the package is the "crm-http" plugin of the supportkit group."""
    found = importlib.metadata.entry_points(group="supportkit", name="crm-http")
    if not found:
        pytest.skip("supportkit-crm-http is not installed (run through `nox -s plugins`)")
    (entry_point,) = found
    assert supportkit_crm_http is entry_point.load()


# --- the docs page ------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "crm-http.md"
TITLE = "needs supportkit-crm-http"
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.S | re.M)


def test_docs_examples_run_against_the_local_crm(
    crm_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/plugins/crm-http.md's examples run against the loopback HubSpot-shaped CRM."""
    crm_server.contact(
        "ann@big.example", firstname="Ann", company="Big Corp", support_tier="enterprise"
    )
    monkeypatch.setenv("CRM_URL", crm_server.base_url)
    monkeypatch.setenv("CRM_TOKEN", crm_server.token)
    assert 2 == len(doc_examples(DOCS, TITLE))
    run_doc_examples(DOCS, TITLE)["client"].close()


def test_docs_json_mapping_is_the_tested_one() -> None:
    """The HubSpot-shaped JSON mapping on the docs page is the one these tests use."""
    (shown,) = JSON_BLOCK.findall(DOCS.read_text(encoding="utf-8"))
    assert CrmMapping.from_dict(HUBSPOT) == CrmMapping.from_dict(json.loads(shown))


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 4),
    steps=st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 50)), max_size=40),
)
def test_cache_is_bounded_and_serves_what_it_holds(size: int, steps: list[tuple[str, int]]) -> None:
    """Whatever is put, the cache never holds more than its size, and the entry just put is
    served until its TTL runs out (and never after)."""
    cache = supportkit_crm_http._Cache(size)
    now = 0.0
    for key, ttl in steps:
        now += 1
        cache.put(key, ttl, now + ttl)
        assert len(cache) <= size
        assert ((True, ttl) if ttl > 0 else (False, None)) == cache.get(key, now)
        assert (False, None) == cache.get(key, now + ttl)
