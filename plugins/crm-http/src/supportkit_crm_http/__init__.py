"""supportkit-crm-http: customers and tiers from any JSON HTTP API, mapped declaratively.

:class:`HttpCrm` is a :class:`supportkit.typing.CrmBackend` over an injected ``httpx.Client``.
It looks a sender up by e-mail address (and, if that gives no tier, their organisation by the
address's domain) and turns the JSON answer into a :class:`supportkit.Customer` with a
:class:`CrmMapping`: request URL templates, dotted field paths into the answer and a table from
the CRM's values to your tier names. So HubSpot-, Salesforce- or home-made APIs fit without code.

Ingest is never blocked or failed by the CRM: a lookup makes one request (with a timeout),
answers are cached (bounded, with a TTL; "not found" is cached for a shorter time), and a
circuit breaker stops asking while the CRM is down (after a few failures, with a growing
cooldown) or rate limited (until its ``Retry-After``). When the CRM cannot answer, the ticket
opens with the default tier and is re-looked-up later: :class:`HttpCrm` is also a notifier, and
on each customer message it checks the customer's tier again, appending ``tier_changed`` (via
``SupportDesk.set_tier``) when the CRM's answer changed. While the CRM is down that check fails
with ``retry_at`` (the outbox retries it then) and the ticket carries the tag ``crm-relookup``.
:meth:`HttpCrm.resync` does the same on demand.

The entry-point plugin (this module, ``crm-http`` in the ``supportkit`` group) registers
``"crm-http"`` when ``SUPPORTKIT_CRM_HTTP_URL`` and ``SUPPORTKIT_CRM_HTTP_MAPPING`` (a JSON
file holding a mapping) are set; ``SUPPORTKIT_CRM_HTTP_TOKEN`` is sent as a bearer token.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import httpx

from supportkit import (
    Clock,
    ConfigurationError,
    Customer,
    EventAppended,
    InboundMessage,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    Role,
    SystemClock,
    Ticket,
    Tier,
    hookimpl,
    retry_after,
)
from supportkit.typing import CrmBackend, Notice, Notifier

__all__ = [
    "FREE_MAIL_DOMAINS",
    "RELOOKUP_TAG",
    "CrmError",
    "CrmHTTPError",
    "CrmMapping",
    "CrmTimeout",
    "CrmUnavailable",
    "HttpCrm",
    "Lookup",
    "field_path",
]

log = logging.getLogger(__name__)

#: The tag a ticket carries while its customer still has to be looked up again.
RELOOKUP_TAG = "crm-relookup"

#: Domains of public mail services: never looked up as an organisation.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "web.de",
    }
)


class CrmError(IntegrationError):
    """The CRM could not answer. ``plugin`` is ``"crm-http"``."""

    plugin: ClassVar[str] = "crm-http"


class CrmTimeout(CrmError, IntegrationTimeout):
    """The CRM did not answer in time, or could not be reached."""


class CrmHTTPError(CrmError, IntegrationHTTPError):
    """The CRM answered with an error status, or with something that is not the JSON asked
    for; ``response`` is the ``httpx.Response``."""


class CrmUnavailable(CrmError):
    """The circuit breaker is open: the CRM is not asked again before ``retry_at``."""


_MISSING = object()


_INDEX = re.compile(r"[0-9]{1,9}")
"""A list index in a field path: ASCII digits (``str.isdigit`` also takes ``"²"``, which
``int`` refuses)."""


def field_path(document: Any, path: str) -> Any:
    """The value at dotted *path* in a decoded JSON *document* (``None`` if absent).

    Segments are object keys; a segment of digits indexes a list (``"results.0.id"``). The
    empty path is the document itself.
    """
    if not isinstance(path, str):
        raise ConfigurationError(f"crm-http: a field path is a dotted string, got {path!r}")
    value = document
    for segment in path.split(".") if path else ():
        if isinstance(value, Mapping):
            value = value.get(segment, _MISSING)
        elif isinstance(value, list) and _INDEX.fullmatch(segment) and int(segment) < len(value):
            value = value[int(segment)]
        else:
            value = _MISSING
        if value is _MISSING or value is None:
            return None
    return value


def _template(url: object, placeholder: str, what: str) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"crm-http: {what} url must be a non-empty string, got {url!r}")
    try:
        url.format(**{placeholder: "x"})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigurationError(
            f"crm-http: {what} url {url!r} may only use {{{placeholder}}}: {exc!r}"
        ) from None
    if f"{{{placeholder}}}" not in url:
        raise ConfigurationError(f"crm-http: {what} url {url!r} must contain {{{placeholder}}}")
    return url


def _paths(value: object, what: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"crm-http: {what} must map names to field paths, got {value!r}")
    return dict(value)


def _real(value: object, *, integral: bool = False) -> float:
    """*value* if it is a real number (an int if *integral*), else NaN (fails every test)."""
    if isinstance(value, bool) or not isinstance(value, int if integral else int | float):
        return math.nan
    return value


def _plain(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class Lookup:
    """One kind of request: *url* (a template with ``{email}`` or ``{domain}``, relative to the
    client's ``base_url``), *record* (the path to the record in the answer: ``""`` for the
    whole answer, ``"results.0"`` for the first search hit; no record there means "not
    found", as does HTTP 404) and *fields*: ``Customer`` field name → path inside the record.
    Customer lookups know ``id``, ``name``, ``organisation``, ``language``, ``tier`` and
    ``value``; organisation lookups ``name``, ``tier`` and ``value``. ``value`` is a number
    (or a numeric string, as HubSpot sends properties) that says what the customer is worth:
    annual revenue, seats; engineering issues show the affected customers' sum of it.
    """

    url: str
    fields: Mapping[str, str] = attrs.field(converter=_plain)
    record: str = ""

    KNOWN: ClassVar[frozenset[str]] = frozenset(
        {"id", "name", "organisation", "language", "tier", "value"}
    )

    def __attrs_post_init__(self) -> None:
        unknown = sorted(set(self.fields) - self.KNOWN)
        if unknown:
            raise ConfigurationError(
                f"crm-http: unknown fields {unknown} in a lookup; use {sorted(self.KNOWN)}"
            )

    def read(self, answer: Any) -> dict[str, Any] | None:
        """The mapped fields of *answer*'s record (``None`` when there is no record)."""
        record = field_path(answer, self.record)
        if not isinstance(record, Mapping):
            return None
        return {name: field_path(record, path) for name, path in self.fields.items()}


@attrs.frozen
class CrmMapping:
    """How a CRM's JSON answers become customers and tiers.

    *customer* looks a sender up by ``{email}``; *organisation* (optional) looks their
    organisation up by the address's ``{domain}`` and is asked when the customer has no tier
    (addresses at :data:`FREE_MAIL_DOMAINS` never are). *tiers* maps the CRM's tier values to
    your tier names (an empty table uses the values as names); a value not in the table, or no
    value at all, gives *default_tier* (``None``: the desk decides, as without a CRM).
    """

    customer: Lookup
    organisation: Lookup | None = None
    tiers: Mapping[str, str] = attrs.field(factory=dict, converter=_plain)
    default_tier: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrmMapping:
        """A mapping from its data form (the docs show a HubSpot-shaped example)::

        {"customer": {"url": "/contacts/{email}", "record": "", "id": "id",
                      "name": "properties.firstname", "tier": "properties.plan"},
         "organisation": {"url": "/companies/{domain}", "name": "properties.name",
                          "tier": "properties.plan"},
         "tiers": {"enterprise": "gold"}, "default_tier": "standard"}
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"crm-http mapping must be a table, got {data!r}")
        unknown = sorted(
            set(data) - {"customer", "organisation", "tiers", "default_tier"}, key=repr
        )
        if unknown or "customer" not in data:
            raise ConfigurationError(
                "crm-http mapping needs a 'customer' table"
                + (f"; unknown keys {unknown}" if unknown else "")
                + " (allowed: customer, organisation, tiers, default_tier)"
            )
        tiers = _paths(data.get("tiers", {}), "tiers")
        default = data.get("default_tier")
        if default is not None and (not isinstance(default, str) or not default):
            raise ConfigurationError(f"crm-http: default_tier must be a tier name, got {default!r}")
        organisation = data.get("organisation")
        return cls(
            _lookup(data["customer"], "email", "customer"),
            None if organisation is None else _lookup(organisation, "domain", "organisation"),
            tiers,
            default,
        )

    def tier(self, value: Any) -> str | None:
        """Your tier name for the CRM's tier *value* (``None`` if it maps to none)."""
        if value is None or isinstance(value, Mapping | list):
            return None
        text = str(value)
        if not self.tiers:
            return text or None
        return self.tiers.get(text)


def _lookup(data: Any, placeholder: str, what: str) -> Lookup:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"crm-http: {what} must be a table, got {data!r}")
    fields = {k: v for k, v in data.items() if k not in ("url", "record")}
    record = data.get("record", "")
    if not isinstance(record, str):
        raise ConfigurationError(f"crm-http: {what} record must be a field path, got {record!r}")
    return Lookup(_template(data.get("url"), placeholder, what), _paths(fields, what), record)


class _Cache:
    """A bounded cache with a TTL per entry; the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            self._entries.pop(key, None)
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: str, value: Any, expires: float) -> None:
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class HttpCrm:
    """A :class:`supportkit.typing.CrmBackend` (and notifier) over a JSON HTTP API.

    *client* is the ``httpx.Client`` to use (its ``base_url``, auth headers and transport are
    yours; its headers are never logged). *mapping* is a :class:`CrmMapping` or its dict form.
    Each request waits at most *timeout* seconds. Answers are cached for *ttl* seconds
    ("not found" for *negative_ttl*), *cache_size* entries at most.

    Lookups during ingest make one request. Re-lookups (:meth:`resync`, and the notifier
    checking a ticket on each customer message) retry 5xx answers and connection errors
    *retries* more times after *backoff*, twice that, ... seconds (*sleep* waits).
    After *failures* failed lookups in a row the breaker opens for *cooldown* seconds (doubling
    while failures go on, up to *max_cooldown*); an HTTP 429 opens it until its
    ``Retry-After``. While it is open no request is made at all. *clock* gives "now".
    """

    def __init__(
        self,
        client: httpx.Client,
        mapping: CrmMapping | Mapping[str, Any],
        *,
        name: str = "crm-http",
        timeout: float = 2.0,
        ttl: float = 300.0,
        negative_ttl: float = 60.0,
        cache_size: int = 10_000,
        retries: int = 2,
        backoff: float = 0.2,
        failures: int = 3,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
        free_mail: Collection[str] = FREE_MAIL_DOMAINS,
    ) -> None:
        if not isinstance(client, httpx.Client):
            raise ConfigurationError(f"crm-http needs an httpx.Client, got {client!r}")
        positive = {"timeout": timeout, "ttl": ttl, "negative_ttl": negative_ttl}
        positive |= {"cooldown": cooldown, "max_cooldown": max_cooldown}
        bad = [f"{k}={v!r}" for k, v in positive.items() if not _real(v) > 0]
        bad += [
            f"{k}={v!r}"
            for k, v in {"retries": retries, "backoff": backoff}.items()
            if not _real(v, integral=k == "retries") >= 0
        ]
        bad += [
            f"{k}={v!r}"
            for k, v in {"cache_size": cache_size, "failures": failures}.items()
            if not _real(v, integral=True) >= 1
        ]
        if not isinstance(name, str) or not name:
            bad.append(f"name={name!r}")
        if (
            isinstance(free_mail, str | bytes)
            or not isinstance(free_mail, Collection)
            or not all(isinstance(d, str) for d in free_mail)
        ):
            bad.append(f"free_mail={free_mail!r}")
        if bad:
            raise ConfigurationError(
                f"crm-http: {', '.join(bad)}: timeouts, TTLs and cooldowns must be > 0, retries "
                "and backoff >= 0, cache_size and failures >= 1 (retries, cache_size and "
                "failures are ints), name a non-empty string, free_mail a list of domains"
            )
        self.mapping = mapping if isinstance(mapping, CrmMapping) else CrmMapping.from_dict(mapping)
        self.client = client
        self.name = name
        self.timeout = timeout
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.retries = retries
        self.backoff = backoff
        self.failures = failures
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.free_mail = frozenset(d.lower() for d in free_mail)
        self.cache = _Cache(cache_size)
        self._sleep = sleep
        self._clock: Clock = clock or SystemClock()
        self._failed = 0
        self._open_until: datetime | None = None
        self._desk: Any = None

    def attach(self, desk: Any) -> None:
        """Remember *desk*: re-lookups append ``tier_changed`` to its tickets. Called once by
        each desk that loads this plugin."""
        self._desk = desk

    # --- the CrmBackend protocol ------------------------------------------------------------

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        """The sender of *message* as the CRM knows them; never raises for CRM trouble.

        When the CRM cannot answer (down, slow, rate limited, breaker open, a malformed answer)
        this logs a warning and returns a customer with the default tier (``None`` without
        one), and the ticket's first customer message triggers a re-lookup later.
        """
        try:
            return self.find(message.sender, retries=0)
        except CrmError as exc:
            # An open breaker was logged when it opened; real failures are logged each time.
            level = logging.DEBUG if isinstance(exc, CrmUnavailable) else logging.WARNING
            log.log(level, "crm-http: lookup of a sender failed, default tier used: %s", exc)
            return self._fallback(message.sender)

    def lookup_tier(self, customer: Customer) -> Tier | None:
        """Always ``None``: the tier *name* is on the customer (``Customer.tier``), and the
        desk resolves it against its configured tiers (watchlists first)."""
        return None

    # --- lookups ----------------------------------------------------------------------------

    def find(
        self, address: str, *, fresh: bool = False, retries: int | None = None
    ) -> Customer | None:
        """The customer with e-mail *address* (their organisation's tier if they have none),
        or ``None`` if the CRM knows neither them nor the organisation and there is no default
        tier. *fresh* skips the cache. Raises a :class:`CrmError` when the CRM cannot answer.
        """
        email = address.strip().lower()
        domain = email.rpartition("@")[2] if "@" in email else ""
        person = self._get("customer", email, fresh, retries)
        organisation = None
        tier = None if person is None else self.mapping.tier(person.get("tier"))
        value = None if person is None else _number(person.get("value"))
        asks = self.mapping.organisation
        if (
            (tier is None or (value is None and asks is not None and "value" in asks.fields))
            and domain
            and domain not in self.free_mail
            and asks
        ):
            organisation = self._get("organisation", domain, fresh, retries)
            if organisation is not None:
                tier = tier or self.mapping.tier(organisation.get("tier"))
                value = _number(organisation.get("value")) if value is None else value
        if person is None and organisation is None and self.mapping.default_tier is None:
            return None
        person = person or {}
        crm_id = person.get("id")
        attributes: dict[str, Any] = {} if crm_id is None else {"crm_id": str(crm_id)}
        if value is not None:
            attributes["value"] = value
        return Customer(
            email,
            tier=tier or self.mapping.default_tier,
            organisation=_text(person.get("organisation"))
            or _text(None if organisation is None else organisation.get("name")),
            name=_text(person.get("name")),
            email=email,
            language=_text(person.get("language")),
            attributes=attributes,
        )

    def lookup_value(self, customer: Customer) -> float | None:
        """The customer's ``value`` field (the contact's, else their organisation's), for
        ``supportkit_lookup_value``: ``None`` when the mapping reads none or the CRM has none.
        Through the cache; a :class:`CrmError` when the CRM cannot answer (the desk's outbox
        retries the issue update then)."""
        if not isinstance(customer, Customer):
            raise ConfigurationError(
                f"crm-http: lookup_value takes a Customer, got {customer!r:.80}"
            )
        address = customer.email or customer.id
        if "@" not in address:
            return None
        found = self.find(address)
        value = None if found is None else found.attributes.get("value")
        return value if isinstance(value, float) else None

    def _fallback(self, address: str) -> Customer | None:
        email = address.strip().lower()
        default = self.mapping.default_tier
        return None if default is None else Customer(email, tier=default, email=email)

    def _get(
        self, kind: str, value: str, fresh: bool, retries: int | None
    ) -> dict[str, Any] | None:
        """The mapped record of *kind* for *value*, through the cache and the breaker."""
        now = self._clock.now()
        key = f"{kind}:{value}"
        if not fresh:
            hit, cached = self.cache.get(key, now.timestamp())
            if hit:
                return cached  # type: ignore[no-any-return]
        lookup = self.mapping.customer if kind == "customer" else self.mapping.organisation
        assert lookup is not None
        try:
            placeholder = "email" if kind == "customer" else "domain"
            url = lookup.url.format(**{placeholder: quote(value, safe="@")})
            answer = self._request(url, kind, retries)
            record = None if answer is None else lookup.read(answer)
        except CrmError as exc:
            self._trip(exc)
            raise
        self._failed, self._open_until = 0, None
        ttl = self.ttl if record is not None else self.negative_ttl
        self.cache.put(key, record, now.timestamp() + ttl)
        return record

    def _trip(self, exc: CrmError) -> None:
        """Count a failure; open the breaker after enough of them, or until a 429's retry-at."""
        now = self._clock.now()
        retry_at = exc.retry_at
        if isinstance(exc, CrmUnavailable):
            return
        self._failed += 1
        if retry_at is None and self._failed >= self.failures:
            extra = self._failed - self.failures
            wait = min(self.max_cooldown, self.cooldown * 2 ** min(extra, 32))
            retry_at = now + timedelta(seconds=wait)
        if retry_at is not None:
            self._open_until = retry_at
            log.warning("crm-http: circuit open until %s", retry_at.isoformat())

    def _request(self, url: str, kind: str, retries: int | None) -> Any | None:
        """GET *url*: the decoded JSON, or ``None`` for 404; raise a :class:`CrmError`."""
        if self._open_until is not None and self._clock.now() < self._open_until:
            raise CrmUnavailable(
                f"crm-http: the CRM is not asked before {self._open_until.isoformat()} "
                "(circuit open after failures or a rate limit)",
                retry_at=self._open_until,
            )
        tries = (self.retries if retries is None else retries) + 1
        for attempt in range(tries):
            last = attempt == tries - 1
            try:
                response = self.client.get(url, timeout=self.timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise CrmTimeout(
                        f"crm-http: {kind} lookup could not connect after {tries} tries "
                        f"({type(exc).__name__})"
                    ) from exc
            except httpx.TimeoutException as exc:
                raise CrmTimeout(
                    f"crm-http: {kind} lookup had no answer within {self.timeout} s"
                ) from exc
            except httpx.HTTPError as exc:
                raise CrmTimeout(f"crm-http: {kind} lookup failed: {type(exc).__name__}") from exc
            else:
                status = response.status_code
                if status == 404:
                    return None
                if status == 429:
                    now = self._clock.now()
                    raise CrmHTTPError(
                        f"crm-http: {kind} lookup rate limited (429)",
                        response=response,
                        retry_at=retry_after(response.headers.get("Retry-After"), now)
                        or now + timedelta(seconds=self.cooldown),
                    )
                if 200 <= status < 300:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise CrmHTTPError(
                            f"crm-http: {kind} lookup answered {status} with malformed JSON",
                            response=response,
                        ) from exc
                if status < 500 or last:
                    raise CrmHTTPError(
                        f"crm-http: {kind} lookup answered {status}",
                        response=response,
                        permanent=status in (400, 401, 403),
                    )
            self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- re-lookups -------------------------------------------------------------------------

    def resync(self, ticket_id: str) -> Ticket:
        """Look the ticket's customer up again (not from the cache) and, if the tier the desk
        gives them now (``SupportDesk.tier_for``: watchlists first) differs from the ticket's,
        append ``tier_changed`` through the attached desk (``SupportDesk.set_tier``); clear the
        ``crm-relookup`` tag. Returns the ticket. Raises :class:`CrmError` when the CRM cannot
        answer (the ticket is then tagged ``crm-relookup``)."""
        return self._check(self._need_desk().ticket(ticket_id), fresh=True)

    def _need_desk(self) -> Any:
        if self._desk is None:
            raise ConfigurationError(
                "crm-http: no desk attached; load the plugin into a SupportDesk (which calls "
                "attach(desk)) before re-syncing tickets"
            )
        return self._desk

    def _check(self, ticket: Ticket, *, fresh: bool) -> Ticket:
        desk = self._need_desk()
        if ticket.customer is None:
            return ticket
        try:
            customer = self.find(ticket.customer, fresh=fresh)
        except CrmError:
            if RELOOKUP_TAG not in ticket.tags:
                desk.tag(ticket.id, [RELOOKUP_TAG])
            raise
        # The desk's own rule (watchlists first), as when the ticket opened.
        known = desk.tier_for(
            customer or Customer(ticket.customer, organisation=ticket.organisation)
        )
        tier = None if known is None else known.name
        if tier != ticket.tier:
            ticket = desk.set_tier(ticket.id, tier)
        if RELOOKUP_TAG in ticket.tags:
            ticket = desk.tag(ticket.id, remove=[RELOOKUP_TAG])
        return ticket

    def notify(self, notice: Notice) -> None:
        """On each customer message, check the customer's tier (a ticket tagged
        ``crm-relookup`` skips the cache); other notices are ignored. Raises
        :class:`CrmError` (with ``retry_at`` while the breaker is open) so the outbox retries."""
        if not isinstance(notice, EventAppended) or self._desk is None:
            return
        event = notice.event
        if event.kind != "message" or event.by is not Role.CUSTOMER:
            return
        ticket = self._desk.ticket(notice.ticket_id)
        self._check(ticket, fresh=RELOOKUP_TAG in ticket.tags)

    # --- plugin wiring ----------------------------------------------------------------------

    @hookimpl
    def supportkit_register_crm_backends(self, register: Callable[[str, CrmBackend], None]) -> None:
        """Register this backend under its name (``"crm-http"``)."""
        register(self.name, self)

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Notifier], None]) -> None:
        """Register the re-lookup on customer messages as notifier ``"crm-http"``."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<HttpCrm {self.name!r} base_url={str(self.client.base_url)!r}>"


def _number(value: Any) -> float | None:
    """*value* as a finite number of zero or more (numeric strings too), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    return str(value) or None


def _from_environment() -> HttpCrm | None:
    """The backend the environment configures (``None`` if it configures none)."""
    url = os.environ.get("SUPPORTKIT_CRM_HTTP_URL")
    path = os.environ.get("SUPPORTKIT_CRM_HTTP_MAPPING")
    if url is None and path is None:
        return None
    if not url or not path:
        raise ConfigurationError(
            "supportkit-crm-http: set both SUPPORTKIT_CRM_HTTP_URL and "
            "SUPPORTKIT_CRM_HTTP_MAPPING (or neither, to leave the CRM off)"
        )
    return _configured(url, path, os.environ.get("SUPPORTKIT_CRM_HTTP_TOKEN"))


@functools.lru_cache(maxsize=4)
def _configured(url: str, path: str, token: str | None) -> HttpCrm:
    """One backend per configuration, so both registration hooks hand out the same object."""
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"supportkit-crm-http: cannot read the mapping {path!r} (JSON): {exc}"
        ) from None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return HttpCrm(httpx.Client(base_url=url, headers=headers), mapping)


@hookimpl
def supportkit_register_crm_backends(register: Callable[[str, CrmBackend], None]) -> None:
    """The entry-point plugin: a backend configured from the environment, if it is set."""
    crm = _from_environment()
    if crm is not None:
        register("crm-http", crm)


@hookimpl
def supportkit_register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """The entry-point plugin's re-lookup on customer messages (the same backend object)."""
    crm = _from_environment()
    if crm is not None:
        register("crm-http", crm)
