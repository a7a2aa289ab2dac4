"""Bad input at every public boundary: a typed SupportkitError naming the field, nothing stored.

Each case here was seen escaping as a raw TypeError, ValueError, AttributeError, OverflowError or
UnicodeEncodeError (issue 14); the fuzz suite (tests/test_fuzz*.py) looks for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supportkit import (
    Agent,
    BusinessCalendar,
    ConfigurationError,
    EscalationLadder,
    EscalationLevel,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PolicyError,
    Router,
    SlaPolicy,
    SlaTarget,
    SqliteStore,
    SupportDesk,
    SupportkitError,
    TicketEvent,
    Tier,
)
from supportkit._deskstore import MemorySidecar
from supportkit._model import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from supportkit._settings import VERSIONS_KEY
from supportkit._sla._policy import MAX_TARGET_SECONDS

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
POLICY = SlaPolicy("std", {"normal": {"first_reply": SlaTarget(3600, True)}})


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[SupportDesk]:
    with SupportDesk(
        store=SqliteStore(tmp_path / "desk.db"),
        plugins=None,
        clock=FrozenClock(T0),
        policies=[POLICY],
    ) as desk:
        yield desk


def dump(desk: SupportDesk) -> list[str]:
    store = desk.store
    assert isinstance(store, SqliteStore)
    return list(store._db.iterdump())


def message(**fields: Any) -> InboundMessage:
    return InboundMessage(
        **{"message_id": "m1", "channel": "email", "sender": "c", "at": T0, **fields}
    )


@pytest.mark.parametrize(
    "metadata", [5, "abc", [1, 2], {"a": object()}, {"a": float("nan")}, {1: "x"}]
)
def test_inbound_metadata_must_be_a_json_object(metadata: object) -> None:
    """Metadata that is not a mapping of names to JSON values is an EventError on construction
    (it used to be a TypeError/ValueError, or fail only inside the store's commit)."""
    with pytest.raises(EventError) as caught:
        message(metadata=metadata)
    assert caught.value.field == "metadata"


def test_inbound_metadata_is_copied_into_its_json_form() -> None:
    """Metadata is kept as every store gives it back (a tuple becomes a list, a fresh copy the
    caller's later changes do not reach), and a non-string key at any depth is an EventError:
    the in-memory store kept ``{"n": {1: "x"}}`` and the caller's own lists, SQLite gave back
    ``{"n": {"1": "x"}}`` and copies."""
    ids = ["a"]
    kept = message(metadata={"ids": ids, "path": ("a", ("b",))})
    ids.append("b")
    assert {"ids": ["a"], "path": ["a", ["b"]]} == kept.metadata
    with pytest.raises(EventError, match="the key 1: keys must be strings") as caught:
        message(metadata={"n": {1: "x"}})
    assert caught.value.field == "metadata"


@pytest.mark.parametrize(
    "fields",
    [
        {"body": "\ud800"},
        {"subject": "a\udfffb"},
        {"tags": ["ok", "\ud800"]},
        {"message_id": "\ud800"},
        {"sender": "x\ud800"},
        {"ticket_id": "\ud800"},
        {"metadata": {"k": "\ud800"}},
    ],
)
def test_lone_surrogates_are_refused(fields: dict[str, Any]) -> None:
    """A lone surrogate (not encodable, so sqlite3 raised UnicodeEncodeError) is an EventError."""
    with pytest.raises(EventError) as caught:
        message(**fields)
    assert caught.value.field == next(iter(fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"tags": ["ok", "a\x00"]},
        {"message_id": "m\x00"},
        {"sender": "x\x00@example.com"},
        {"ticket_id": "\x00"},
        {"metadata": {"k": "v\x00"}},
        {"metadata": {"k\x00": "v"}},
    ],
)
def test_nul_in_an_id_or_metadata_is_refused(fields: dict[str, Any]) -> None:
    """A NUL character, which no PostgreSQL text can hold (the PostgreSQL store raised
    StoreError on every commit of such a message, so a channel retried it for ever), is an
    EventError naming the field in an id, a tag or metadata."""
    with pytest.raises(EventError, match="NUL") as caught:
        message(**fields)
    assert caught.value.field == next(iter(fields))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_nul_in_a_body_or_subject_becomes_a_replacement_character(
    store: str, tmp_path: Path
) -> None:
    """A NUL in free text is kept as U+FFFD, on every store alike, so the mail is not lost:
    in the message, in the logged event, in an agent's reply."""
    desk = SupportDesk(
        store=InMemoryStore() if store == "memory" else SqliteStore(tmp_path / "n.db"),
        clock=FrozenClock(T0),
        plugins=[],
    )
    sent = message(body="bad\x00byte", subject="é\x00")
    assert ("bad\ufffdbyte", "é\ufffd") == (sent.body, sent.subject)
    ticket = desk.ingest(sent).ticket_id
    desk.reply(ticket, "got\x00it", agent="ana")
    bodies = [e.data["body"] for e in desk.events(ticket) if e.kind == "message"]
    assert ["bad\ufffdbyte", "got\ufffdit"] == bodies
    assert "é\ufffd" == desk.ticket(ticket).subject
    desk.close()


def test_limits_are_enforced_and_named() -> None:
    """Ids longer than MAX_ID_LENGTH and bodies longer than MAX_TEXT_LENGTH are refused."""
    message(message_id="m" * MAX_ID_LENGTH, body="b" * MAX_TEXT_LENGTH)
    with pytest.raises(EventError, match=f"longer than {MAX_ID_LENGTH}"):
        message(message_id="m" * (MAX_ID_LENGTH + 1))
    with pytest.raises(EventError, match="longer than 1,000,000 characters"):
        message(body="b" * (MAX_TEXT_LENGTH + 1))


def test_a_target_past_the_limit_is_refused() -> None:
    """days=3_000_000 was accepted and failed later with 'year 10238 is out of range'."""
    assert SlaTarget(MAX_TARGET_SECONDS, False).seconds == MAX_TARGET_SECONDS
    with pytest.raises(PolicyError, match="at most 3660 days"):
        SlaTarget.from_dict({"days": 3_000_000, "business": False})


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"warnings": 5}, "warnings must be a list"),
        ({"conditions": ["tier"]}, "conditions must map"),
    ],
)
def test_policy_from_dict_names_the_bad_field(raw: dict[str, Any], words: str) -> None:
    """warnings=5 was a TypeError, conditions=['tier'] an AttributeError."""
    base = {"name": "p", "targets": {"normal": {"first_reply": {"minutes": 5, "business": False}}}}
    with pytest.raises(PolicyError, match=words):
        SlaPolicy.from_dict({**base, **raw})


@pytest.mark.parametrize(
    "kwargs", [{"policies": ["std"]}, {"policies": [None]}, {"calendars": 5}, {"tiers": [5]}]
)
def test_desk_configuration_is_checked(kwargs: dict[str, Any], tmp_path: Path) -> None:
    """Junk policies, calendars or tiers are a ConfigurationError (AttributeError/TypeError)."""
    with pytest.raises(ConfigurationError):
        SupportDesk(store=SqliteStore(tmp_path / "x.db"), plugins=None, **kwargs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tier("gold", weight=1, watchlist=5),
        lambda: Agent("a", languages=None),
        lambda: Agent("a", groups=[{}]),
        lambda: EscalationLadder([None]),  # type: ignore[list-item]
        lambda: Router(relax=[5]),  # type: ignore[list-item]
        lambda: Router(key=None),  # type: ignore[arg-type]
        lambda: BusinessCalendar(weekly={"mon": "09:00-17:00"}, holidays=["0001-01-01"]),
    ],
)
def test_constructors_refuse_junk_with_a_typed_error(make: Callable[[], object]) -> None:
    """Constructors found by the fuzz suite raising TypeError/AttributeError/OverflowError."""
    with pytest.raises(SupportkitError):
        make()


def test_desk_calls_refuse_junk_and_store_nothing(desk: SupportDesk) -> None:
    """Each refused call is typed and leaves the store's full contents as they were."""
    ticket_id = desk.ingest(message(body="hi")).ticket_id
    before = dump(desk)
    calls: list[Callable[[], object]] = [
        lambda: desk.deliver(limit=2**64),  # OverflowError from sqlite3
        lambda: desk.tick(T0, limit=2**63),
        lambda: desk.tag(ticket_id, add=5),  # type: ignore[arg-type]
        lambda: desk.reply(["x"], "body"),  # type: ignore[arg-type]
        lambda: desk.reply(ticket_id, "\ud800"),
        lambda: desk.sla(ticket_id, at=datetime(2025, 3, 4)),
        lambda: desk.next_steps(at=datetime(2025, 3, 4)),
        lambda: desk.events("\ud800"),
        lambda: desk.metrics(groupings=5),  # type: ignore[arg-type]
        lambda: desk.ingest(message(message_id="m2", body="x" * (MAX_TEXT_LENGTH + 1))),
    ]
    for call in calls:
        with pytest.raises(SupportkitError):
            call()
        assert dump(desk) == before


def test_event_ids_are_checked_like_message_ids() -> None:
    """A TicketEvent's id, actor and ticket id get the same checks (surrogates, length)."""
    for field in ("id", "actor", "ticket_id"):
        with pytest.raises(EventError) as caught:
            TicketEvent("created", **{"ticket_id": "T", "at": T0, field: "\ud800"})
        assert caught.value.field == field


@pytest.mark.parametrize(
    "make",
    [
        lambda: SlaPolicy("std\ud800", POLICY.targets),
        lambda: SlaPolicy("std", POLICY.targets, version="v\udfff"),
        lambda: SlaPolicy("std", POLICY.targets, calendar="apac\ud800"),
        lambda: SlaPolicy("std", POLICY.targets, conditions={"tier": ["gold\ud800"]}),
    ],
    ids=["name", "version", "calendar", "condition"],
)
def test_a_policy_no_store_can_record_is_a_policy_error(make: Callable[[], object]) -> None:
    """The desk records its policies in its store: a lone surrogate in a policy's name,
    version, calendar or condition values is a PolicyError when the policy is made (the
    in-memory store recorded it, SqliteStore raised UnicodeEncodeError building the desk)."""
    with pytest.raises(PolicyError, match="lone surrogate"):
        make()


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_settings_no_store_can_record_are_refused_by_every_store(
    store: str, tmp_path: Path
) -> None:
    """A desk whose settings (here its escalation ladder) hold a lone surrogate is a
    ConfigurationError on every store, and nothing is recorded (the in-memory store recorded
    them, SqliteStore raised UnicodeEncodeError)."""
    chosen: Any = (
        MemorySidecar(InMemoryStore()) if store == "memory" else SqliteStore(tmp_path / "d.db")
    )
    ladder = EscalationLadder([EscalationLevel("L1"), EscalationLevel("L\ud800")])
    with pytest.raises(ConfigurationError, match="no store can record these desk settings"):
        SupportDesk(store=chosen, clock=FrozenClock(T0), ladder=ladder)
    assert (None, None) == (chosen.meta(VERSIONS_KEY), chosen.meta(SupportDesk.SETTINGS_KEY))


def test_a_settings_note_no_store_can_record_is_refused(tmp_path: Path) -> None:
    """``from_config(note=...)`` with a lone surrogate is a ConfigurationError and records
    nothing (SqliteStore raised UnicodeEncodeError)."""
    path = tmp_path / "d.db"
    with pytest.raises(ConfigurationError, match="settings, configuration or note holds a lone"):
        SupportDesk.from_config({"store": {"path": str(path)}}, note="from \udfff")
    with SqliteStore(path) as store:
        assert None is store.meta(VERSIONS_KEY)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_erasing_a_customer_id_with_a_lone_surrogate_is_a_configuration_error(
    store: str, tmp_path: Path
) -> None:
    """No ticket can carry such a customer id, and hashing it for the pseudonym raised
    UnicodeEncodeError on every store: now a ConfigurationError naming it, nothing erased."""
    chosen = InMemoryStore() if store == "memory" else SqliteStore(tmp_path / "d.db")
    with SupportDesk(store=chosen, clock=FrozenClock(T0)) as desk:
        desk.ingest(message(sender="ann", body="hello"))
        with pytest.raises(ConfigurationError, match="customer id 'ann\\\\udfff' holds a lone"):
            desk.erase_customer("ann\udfff")
        assert ["hello"] == [e.data.get("body") for e in desk.store.read_all()][1:]
