"""The domain model: enums, value objects and the immutable ``TicketEvent``.

Events carry their kind-specific fields in ``data``; :data:`EVENT_FIELDS` is the one place that
says which fields each kind has, which are required and how each is checked. Events serialise to
plain JSON-compatible dicts (``to_dict``/``from_dict``) with a schema version.
"""

from __future__ import annotations

import collections
import enum
import functools
import math
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from ._time import parse_instant, to_epoch
from .exceptions import ConfigurationError, EventError

__all__ = [
    "EVENT_FIELDS",
    "SCHEMA_VERSION",
    "Agent",
    "Channel",
    "Customer",
    "Group",
    "InboundMessage",
    "Priority",
    "Role",
    "Status",
    "TicketEvent",
    "Tier",
]

SCHEMA_VERSION = 1


class Status(enum.StrEnum):
    """A ticket's status (Zendesk's categories, which the SLA pause rules depend on)."""

    NEW = "new"
    """Just opened: nobody has acted on it yet."""
    OPEN = "open"
    """An agent is working on it."""
    PENDING = "pending"
    """Waiting on the customer."""
    ON_HOLD = "on_hold"
    """Waiting on a third party or engineering."""
    SOLVED = "solved"
    """Answered; a customer message reopens it."""
    CLOSED = "closed"
    """Final: a follow-up message opens a new, linked ticket."""


class Priority(enum.StrEnum):
    """A ticket's priority, lowest first (``Priority.rank`` orders them)."""

    LOW = "low"
    """Rank 0."""
    NORMAL = "normal"
    """Rank 1, the default of a new ticket."""
    HIGH = "high"
    """Rank 2."""
    URGENT = "urgent"
    """Rank 3, the most urgent."""

    @property
    def rank(self) -> int:
        """0 for ``low`` up to 3 for ``urgent``."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}


class Channel(enum.StrEnum):
    """The channel a message came through.

    Events store the channel as a plain string, so plugins may add channels of their own names;
    these are the well-known ones. (The plugin protocol that talks to a channel is
    :class:`supportkit.typing.Channel`.)
    """

    EMAIL = "email"
    """E-mail."""
    CHAT = "chat"
    """Live chat."""
    WEB = "web"
    """A web form or help-centre request."""
    PHONE = "phone"
    """A phone call."""
    API = "api"
    """Created by another system through an API."""
    SOCIAL = "social"
    """A social-media message."""


class Role(enum.StrEnum):
    """Who did something: the customer, an agent, the system (automation) or a bot."""

    CUSTOMER = "customer"
    """The customer (requester)."""
    AGENT = "agent"
    """A support agent."""
    SYSTEM = "system"
    """The desk's own automation (routing, escalation, SLA)."""
    BOT = "bot"
    """A bot answering for the desk; its messages are not agent replies."""


#: The longest id (a ticket, event, message or actor id, a tag or a channel name), in characters.
MAX_ID_LENGTH = 1000
#: The longest message body or subject, in characters (longer ones are refused, not cut).
MAX_TEXT_LENGTH = 1_000_000


def listed(value: Any, what: str, error: type[Exception] = ConfigurationError) -> tuple[Any, ...]:
    """*value* (a list, tuple, set or other iterable, but not a string or a mapping) as a tuple,
    else *error* naming *what*."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise error(f"{what} must be a list, got {type(value).__name__} {value!r:.80}")
    return tuple(value)


def _encodable(value: str) -> str:
    """*value* unless it holds a lone surrogate (which no store or channel can encode) or a
    NUL character (which no PostgreSQL text can hold)."""
    if "\x00" in value:
        raise ValueError("holds a NUL character (no PostgreSQL text can hold one)")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("holds a lone surrogate (not valid Unicode text)") from None
    return value


def _text_set(value: Iterable[str], what: str) -> frozenset[str]:
    items = listed(value, what)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigurationError(f"{what}: every entry must be a non-empty string")
    return frozenset(items)


def _watchlist(value: Iterable[str]) -> frozenset[str]:
    return _text_set(value, "Tier.watchlist")


def _languages(value: Iterable[str]) -> frozenset[str]:
    return _text_set(value, "Agent.languages")


def _groups(value: Iterable[str]) -> frozenset[str]:
    return _text_set(value, "Agent.groups")


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is not None and not isinstance(value, Mapping):
        raise ConfigurationError(
            f"expected a mapping like {{'plan': 'pro'}}, got {type(value).__name__} {value!r:.80}"
        )
    return MappingProxyType(dict(value or {}))


def _non_negative_map(value: Mapping[str, int] | None) -> Mapping[str, int]:
    if value is not None and not isinstance(value, Mapping):
        raise ConfigurationError(
            f"expected a mapping like {{'billing': 2}}, got {type(value).__name__} {value!r}"
        )
    result = dict(value or {})
    for key, number in result.items():
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ConfigurationError(
                f"{key!r}: {number!r} is not a whole number >= 0 (skill levels and capacities "
                "are counts)"
            )
    return MappingProxyType(result)


def _required_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{attribute.name} must be a non-empty string, got {value!r}")


_NO_WEIGHT: Any = object()
"""The default that makes a missing tier weight a ConfigurationError rather than a TypeError."""


@attrs.frozen
class Tier:
    """A customer tier: a name, a routing weight (higher goes first) and its perks.

    ``dedicated_group``/``dedicated_agent`` route the tier's tickets to a named team or person,
    ``sla_policy`` names a tighter SLA policy, and ``watchlist`` holds the ids of top accounts
    (customers or organisations) that always get this tier's treatment.
    """

    name: str = attrs.field(validator=_required_text)
    weight: int = attrs.field(kw_only=True, default=_NO_WEIGHT)  # required: checked below
    dedicated_group: str | None = attrs.field(default=None, kw_only=True)
    dedicated_agent: str | None = attrs.field(default=None, kw_only=True)
    sla_policy: str | None = attrs.field(default=None, kw_only=True)
    watchlist: frozenset[str] = attrs.field(default=frozenset(), converter=_watchlist, kw_only=True)

    @weight.validator
    def _check_weight(self, _attribute: attrs.Attribute[int], value: object) -> None:
        if value is _NO_WEIGHT:
            raise ConfigurationError(
                f"tier {self.name!r} has no weight: give every tier an int weight "
                f"(higher routes first), e.g. Tier({self.name!r}, weight=10)"
            )
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigurationError(f"tier {self.name!r}: weight must be an int, got {value!r}")


@attrs.frozen
class Customer:
    """A customer (requester): id, tier name, organisation and free-form attributes."""

    id: str = attrs.field(validator=_required_text)
    tier: str | None = None
    organisation: str | None = None
    name: str | None = None
    email: str | None = None
    language: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_map)


@attrs.frozen
class Group:
    """A team of agents that tickets can be assigned to (``level`` places it on a ladder)."""

    id: str = attrs.field(validator=_required_text)
    name: str | None = None
    level: str | None = None


@attrs.frozen
class Agent:
    """A support agent.

    ``skills`` maps a skill to its level (higher is better), ``capacity`` maps a channel name to
    how many active tickets the agent takes on that channel at once.
    """

    id: str = attrs.field(validator=_required_text)
    name: str | None = None
    skills: Mapping[str, int] = attrs.field(factory=dict, converter=_non_negative_map)
    languages: frozenset[str] = attrs.field(default=frozenset(), converter=_languages)
    groups: frozenset[str] = attrs.field(default=frozenset(), converter=_groups)
    capacity: Mapping[str, int] = attrs.field(factory=dict, converter=_non_negative_map)


# --- events -------------------------------------------------------------------------------------

_Check = Callable[[Any], Any]


def _text(value: Any) -> str:
    # The common case first (a plain ASCII id of a sane length): this runs several times for
    # every event built or read.
    if (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and "\x00" not in value
    ):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"is longer than {MAX_ID_LENGTH} characters")
    return _encodable(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _any_text(value: Any) -> str:
    """Free text (a body, a subject): a NUL character in it becomes U+FFFD, as in text
    decoded with errors replaced, so a mail holding one is kept on every store (PostgreSQL
    text cannot hold a NUL) rather than refused."""
    if (
        type(value) is str
        and value.isascii()
        and len(value) <= MAX_TEXT_LENGTH
        and "\x00" not in value
    ):
        return value  # the common case (see _text)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"is longer than {MAX_TEXT_LENGTH:,} characters")
    return _encodable(str.__str__(value).replace("\x00", "\ufffd"))


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _choice(*values: str) -> _Check:
    def check(value: Any) -> str:
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return str(value)

    return check


def _enum(kind: type[enum.StrEnum]) -> _Check:
    names = ", ".join(member.value for member in kind)

    def check(value: Any) -> Any:
        if type(value) is kind:
            return value
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"must be one of {names}") from None

    return check


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError("must be a list of strings")
    return tuple(_text(tag) for tag in value)


def _int_between(low: int, high: int) -> _Check:
    def check(value: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _csat(value: Any) -> str | None:
    if value is None or value in ("good", "bad"):
        return value  # type: ignore[no-any-return]
    raise ValueError("must be 'good', 'bad' or null")


def _version(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ValueError("must be an int or a non-empty string")
    return value


@attrs.frozen
class _Field:
    check: _Check
    required: bool = False
    default: Any = None


_priority = _enum(Priority)

#: Per event kind, its data fields: name -> (check/convert, required, default).
EVENT_FIELDS: Mapping[str, Mapping[str, _Field]] = MappingProxyType(
    {
        "created": {
            "channel": _Field(_text, default="web"),
            "priority": _Field(_priority, default=Priority.NORMAL),
            "subject": _Field(_any_text, default=""),
            "customer": _Field(_optional_text),
            "organisation": _Field(_optional_text),
            "tier": _Field(_optional_text),
            "group": _Field(_optional_text),
            "language": _Field(_optional_text),
            "tags": _Field(_tags, default=()),
        },
        "message": {
            "public": _Field(_flag, default=True),
            "message_id": _Field(_optional_text),
            "body": _Field(_any_text, default=""),
            "channel": _Field(_optional_text),
        },
        "status_changed": {"to": _Field(_enum(Status), required=True)},
        "assigned": {"agent": _Field(_optional_text), "group": _Field(_optional_text)},
        "priority_changed": {"to": _Field(_priority, required=True)},
        "tier_changed": {"to": _Field(_optional_text)},
        "escalated": {
            "level": _Field(_text, required=True),
            "target": _Field(_optional_text),
            "reason": _Field(_any_text, default=""),
            "engineering": _Field(_flag, default=False),  # counts as engineering in metrics
        },
        "tagged": {"add": _Field(_tags, default=()), "remove": _Field(_tags, default=())},
        "handed_off": {
            "from": _Field(_optional_text),
            "to": _Field(_text, required=True),
            "note": _Field(_any_text, default=""),
        },
        "merged": {"into": _Field(_text, required=True)},
        "linked_to_problem": {"problem": _Field(_text, required=True)},
        "unlinked": {"problem": _Field(_text, required=True)},
        # The state of the problem's engineering issue changed (a tracker's webhook): the
        # next-step engine reads the last one (``wont_fix`` hands the incidents back).
        "engineering_issue_changed": {
            "tracker": _Field(_text, required=True),
            "key": _Field(_text, required=True),
            "state": _Field(_choice("open", "fixed", "released", "wont_fix"), required=True),
        },
        "satisfaction_rated": {
            "csat": _Field(_csat),
            "score": _Field(_int_between(1, 5)),
            "nps": _Field(_int_between(0, 10)),
            "ces": _Field(_int_between(1, 7)),
            "comment": _Field(_any_text, default=""),
        },
        "kb_article_viewed": {"article": _Field(_text, required=True)},
        # Knowledge-base articles suggested for a customer message (best first), and the
        # customer's verdict on one of them.
        "articles_suggested": {
            "articles": _Field(_tags, required=True),
            "message_id": _Field(_optional_text),
        },
        "article_helped": {"article": _Field(_text, required=True)},
        "article_not_helped": {"article": _Field(_text, required=True)},
        "deflected": {"article": _Field(_optional_text)},
        # The policy a ticket's SLA clocks follow from now on, and the name of the business
        # calendar they count on (recorded when first applied, so replay never depends on
        # how the desk is configured later).
        "sla_policy_applied": {
            "policy": _Field(_text, required=True),
            "version": _Field(_version, default=1),
            "calendar": _Field(_optional_text),
        },
    }
)


#: The same table, flattened for the hot path: kind -> ((name, check, required, default), ...).
_SPECS: Mapping[str, tuple[tuple[str, _Check, bool, Any], ...]] = {
    kind: tuple((name, f.check, f.required, f.default) for name, f in fields.items())
    for kind, fields in EVENT_FIELDS.items()
}


def _check_data(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    specs = _SPECS.get(kind)
    if specs is None:
        raise EventError(
            f"unknown event kind {kind!r}: use one of {', '.join(EVENT_FIELDS)}",
            kind=kind,
            field="kind",
        )
    result: dict[str, Any] = {}
    found = 0
    for name, check, required, default in specs:
        if name in data:
            found += 1
            try:
                result[name] = check(data[name])
            except ValueError as exc:
                raise EventError(
                    f"{kind} event: field {name!r} {exc} (got {data[name]!r})",
                    kind=kind,
                    field=name,
                ) from None
        elif required:
            raise EventError(f"{kind} event: missing field {name!r}", kind=kind, field=name)
        else:
            result[name] = default
    if found != len(data):
        name = sorted(data.keys() - result.keys(), key=repr)[0]
        raise EventError(
            f"{kind} event: unknown field {name!r} (allowed: {', '.join(result) or 'none'})",
            kind=kind,
            field=name,
        )
    if kind == "assigned" and result["agent"] is None and result["group"] is None:
        raise EventError(
            "assigned event: give an 'agent', a 'group' or both", kind=kind, field="agent"
        )
    return result


_IDS: collections.deque[str] = collections.deque()
"""Event ids drawn ahead: one ``os.urandom`` call for many ids (a system call per event was
5 % of the desk's ingest CPU). ``popleft`` is atomic, so threads never share one; a forked
child empties its copy (``_fork_safe``), so it never repeats its parent's."""


def _new_id() -> str:
    # 128 random bits as 32 hex digits, like uuid4().hex at a fraction of the cost.
    try:
        return _IDS.popleft()
    except IndexError:
        _fork_safe()
        block = os.urandom(16 * 256).hex()
        _IDS.extend(block[i : i + 32] for i in range(32, len(block), 32))
        return block[:32]


@functools.cache
def _fork_safe() -> None:
    """Empty the ids drawn ahead in a forked child (registered once, on first use)."""
    os.register_at_fork(after_in_child=_IDS.clear)


#: The checks of an event's ids (its kind's data fields are checked by EVENT_FIELDS).
_ENVELOPE_CHECKS: tuple[tuple[str, _Check], ...] = (
    ("id", _text),
    ("actor", _optional_text),
    ("ticket_id", _text),
)


@attrs.frozen
class TicketEvent:
    """One immutable fact in a ticket's log.

    ``kind`` is one of :data:`EVENT_FIELDS`; ``data`` holds that kind's fields, checked and
    completed with defaults on construction (so ``event.data["public"]`` always exists on a
    message). ``by`` is the actor's :class:`Role` and ``actor`` the actor's id, if known.
    ``ts`` is ``at`` as integer epoch seconds, for the hot paths.

    >>> from datetime import UTC
    >>> e = TicketEvent("message", ticket_id="T-1", at=datetime(2025, 3, 3, 9, tzinfo=UTC),
    ...                 by="agent", data={"public": False})
    >>> e.data["public"], e.by
    (False, <Role.AGENT: 'agent'>)
    """

    kind: str
    ticket_id: str = attrs.field(kw_only=True)
    at: datetime = attrs.field(kw_only=True)
    by: Role = attrs.field(default=Role.SYSTEM, kw_only=True)
    actor: str | None = attrs.field(default=None, kw_only=True)
    data: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, hash=False)
    id: str = attrs.field(factory=_new_id, kw_only=True)
    ts: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, str):
            raise EventError(f"event kind must be a string, got {self.kind!r}", field="kind")
        # type() first: isinstance against the Mapping ABC is slow, and a dict is the rule.
        if type(self.data) is not dict and not isinstance(self.data, Mapping):
            raise EventError(
                f"{self.kind} event: data must be a mapping of field names to values, got "
                f"{type(self.data).__name__}",
                kind=self.kind,
                field="data",
            )
        for name, check in _ENVELOPE_CHECKS:
            value = getattr(self, name)
            try:
                check(value)
            except ValueError as exc:
                raise EventError(
                    f"{self.kind} event: {name} {exc}, got {value!r:.80}",
                    kind=self.kind,
                    field=name,
                ) from None
        object.__setattr__(self, "data", MappingProxyType(_check_data(self.kind, self.data)))
        if type(self.by) is not Role:
            try:
                object.__setattr__(self, "by", Role(self.by))
            except ValueError:
                raise EventError(
                    f"{self.kind} event: 'by' must be one of {', '.join(Role)}, got {self.by!r}",
                    kind=self.kind,
                    field="by",
                ) from None
        try:
            ts = to_epoch(self.at, "event field 'at'", EventError)
        except EventError as exc:
            raise EventError(f"{self.kind} {exc}", kind=self.kind, field="at") from None
        object.__setattr__(self, "ts", ts)

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-compatible dict (with ``"v"``, the schema version)."""
        result = {
            "v": SCHEMA_VERSION,
            "id": self.id,
            "ticket_id": self.ticket_id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "by": self.by.value,
            "actor": self.actor,
        }
        for name, value in self.data.items():  # one pass: every stored event comes here
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            result[name] = value
        return result

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TicketEvent:
        """Build an event from its dict form, checking every field.

        Raises :class:`~supportkit.EventError` naming the field for an unknown kind, a missing or
        malformed field, a naive or unparseable ``at``, or an unsupported schema version.
        """
        if not isinstance(raw, Mapping):
            raise EventError(f"an event must be a dict, got {type(raw).__name__}")
        fields = dict(raw)
        version = fields.pop("v", SCHEMA_VERSION)
        kind = fields.pop("kind", None)
        if version != SCHEMA_VERSION:
            raise EventError(
                f"event schema version {version!r} is not supported (this supportkit reads "
                f"version {SCHEMA_VERSION})",
                kind=kind,
                field="v",
            )
        if kind is None:
            raise EventError("event: missing field 'kind'", field="kind")
        envelope: dict[str, Any] = {}
        for name in ("ticket_id", "at"):
            if name not in fields:
                raise EventError(f"{kind} event: missing field {name!r}", kind=kind, field=name)
            envelope[name] = fields.pop(name)
        at = envelope["at"]
        if isinstance(at, str):
            try:
                at = parse_instant(at, f"{kind} event field 'at'", EventError)
            except EventError as exc:
                exc.kind, exc.field = kind, "at"
                raise
        for name in ("by", "actor", "id"):
            if name in fields:
                envelope[name] = fields.pop(name)
        if envelope.get("id") is None:
            envelope.pop("id", None)
        return cls(
            kind,
            ticket_id=envelope["ticket_id"],
            at=at,
            data=fields,
            **{k: v for k, v in envelope.items() if k in ("by", "actor", "id")},
        )


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        to_epoch(value, f"inbound message field {attribute.name!r}", EventError)  # type: ignore[arg-type]
    except EventError as exc:
        exc.field = attribute.name
        raise


def _message_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        _text(value)
    except ValueError as exc:
        raise EventError(
            f"inbound message field {attribute.name!r} {exc}, got {value!r:.80}",
            field=attribute.name,
        ) from None


def json_value(value: Any, *, stored: bool = False) -> Any:
    """*value* as the JSON value every store gives back: a fresh copy made of dicts, lists,
    ``str``, ``int``, finite ``float``, ``bool`` and ``None`` (a tuple becomes a list, a
    subclass its base type), else a ValueError naming what no store can keep: a set, an
    object, NaN, a non-string key or a lone surrogate at any depth (a store's JSON would turn
    a key ``1`` into ``"1"``, and SQLite cannot encode a lone surrogate). With *stored*,
    NaN, infinities and NUL are kept: data that SQLite wrote before they were refused, read
    back."""
    try:
        return _json_copy(value, stored)
    except RecursionError:
        raise ValueError("is nested too deeply (or refers to itself)") from None


def _json_text(value: str, stored: bool) -> str:
    """*value* as :func:`_encodable` checks it, a NUL kept in *stored* data (read back)."""
    if stored and "\x00" in value:
        _encodable(value.replace("\x00", ""))
        return value
    return _encodable(value)


def _json_copy(value: Any, stored: bool) -> Any:
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _json_text(str.__str__(value), stored)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not (stored or math.isfinite(value)):
            raise ValueError(f"holds {value!r}, which is not a JSON number")
        return float(value)
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"holds the key {key!r:.40}: keys must be strings")
            result[_json_text(str.__str__(key), stored)] = _json_copy(item, stored)
        return result
    if isinstance(value, list | tuple):
        return [_json_copy(item, stored) for item in value]
    raise ValueError(f"holds {value!r:.40} of type {type(value).__name__}, not a JSON value")


def _metadata(value: Any, *, stored: bool = False) -> Mapping[str, Any]:
    """*value*'s JSON form (:func:`json_value`), read-only, if it is a mapping, else a
    ValueError saying what is wrong."""
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of names to JSON values")
    if not value:
        return MappingProxyType({})
    try:
        return MappingProxyType(json_value(value, stored=stored))
    except ValueError as exc:
        raise ValueError(f"must hold only JSON values (text, numbers, lists, ...): {exc}") from None


def _optional_priority(value: Any) -> Priority | None:
    return None if value is None else _priority(value)


#: Field checks of InboundMessage (the same ones events use), run in order on construction.
_INBOUND_CHECKS: tuple[tuple[str, _Check], ...] = (
    ("body", _any_text),
    ("subject", _any_text),
    ("ticket_id", _optional_text),
    ("public", _flag),
    ("priority", _optional_priority),
    ("tags", _tags),
    ("language", _optional_text),
    ("references", _tags),
    ("ticket_hint", _optional_text),
    ("metadata", _metadata),
)


@attrs.frozen
class InboundMessage:
    """A validated message from a channel, ready for :meth:`SupportDesk.ingest`.

    ``message_id`` is the channel's stable id for the message (an email's ``Message-ID``, a chat
    platform's event id): ingest is idempotent on ``(channel, message_id)``. ``sender`` is the
    address or handle the CRM lookup resolves to a customer; ``ticket_id`` threads the message
    into that ticket if it exists, and otherwise opens a new ticket with that id (a
    host-chosen id, e.g. the channel's conversation id, so only a trusted source may set it);
    ``None`` opens a new ticket with a generated id. A message naming a closed ticket opens a
    follow-up with a generated id.

    What the *sender* claims threads only into tickets that exist: ``references`` are the
    channel message ids this message answers, newest last (an email's ``In-Reply-To`` and
    ``References``), looked up in the desk's index of every message it received or sent on
    that channel; ``ticket_hint`` is a ticket id the sender names (a subject token such as
    ``[#T-1a2b3c]``). Neither ever opens a ticket under the id it names. The desk threads by
    the first of ``references`` (newest first) it knows, else ``ticket_hint``, else
    ``ticket_id``.
    """

    message_id: str = attrs.field(validator=_message_text)
    channel: str = attrs.field(validator=_message_text)
    sender: str = attrs.field(validator=_message_text)
    at: datetime = attrs.field(validator=_aware)
    body: str = ""
    subject: str = ""
    ticket_id: str | None = None
    public: bool = True
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    references: tuple[str, ...] = ()
    ticket_hint: str | None = None

    def __attrs_post_init__(self) -> None:
        for name, check in _INBOUND_CHECKS:
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, check(value))
            except ValueError as exc:
                raise EventError(
                    f"inbound message field {name!r} {exc} (got {value!r:.80})", field=name
                ) from None
