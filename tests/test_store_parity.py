"""Store parity: the in-memory store and the SQLite store take the same input alike.

Each test drives a desk on :class:`~supportkit.InMemoryStore` and a desk on a real SQLite file
with the same generated calls of one public write entry point (plausible values and junk: odd
Unicode, lone surrogates, NUL, huge integers, NaN, nested containers, non-string keys, long
strings; see ``fuzzkit``) and checks:

- both succeed, or both raise a :class:`~supportkit.SupportkitError` of the same class (any
  other exception fails the test);
- what is read back afterwards (events, notices, sessions, articles, plugin state, settings)
  is equal between the two stores, and equal to what went in or its documented normal form
  (JSON values come back as ``json.loads(json.dumps(value))`` gives them; instants of
  articles are whole UTC seconds).

Ids the desk generates (event ids, ticket ids it chooses) are left out of the comparison.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzzkit import ident, instants, integers, junk, mostly, text
from supportkit import (
    EscalationLadder,
    EscalationLevel,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SessionEvent,
    SlaPolicy,
    SlaTarget,
    SqliteStore,
    SupportDesk,
    SupportkitError,
)
from supportkit._plugins import PluginHost
from supportkit.testing import RecordingNotifier

#: The desks' clock: sub-second and off the hour, so a store that drops either shows.
T0 = datetime(2025, 3, 3, 9, 30, 15, 250_000, tzinfo=UTC)

#: Text a store might not keep as given: long, NUL, lone surrogates, controls, astral.
ODD_TEXT = st.one_of(
    text(max_size=20),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "\U0001f600", "\u202e"]),
    st.integers(301, 2_000).map(lambda n: "é" * n),
)

#: Text every store can keep (no lone surrogate), NUL and long runs included.
CLEAN_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
    st.sampled_from(["", "\x00", "\U0001f600"]),
    st.integers(301, 2_000).map(lambda n: "é" * n),
)
#: JSON values (huge integers and tuples too), which every store must give back alike.
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        CLEAN_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(CLEAN_TEXT, inner, max_size=3),
    ),
    max_leaves=8,
)
#: Those and the usual suspects mixed in (NaN, sets, int keys, lone surrogates, objects).
VALUES = st.one_of(
    JSON_VALUES,
    st.recursive(
        st.one_of(
            JSON_VALUES,
            st.floats(),
            ODD_TEXT,
            st.sampled_from([object(), b"x", frozenset({1})]),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner, inner),
            st.dictionaries(st.one_of(ODD_TEXT, ident()), inner, max_size=3),
            st.dictionaries(st.one_of(integers(), st.none(), st.booleans()), inner, max_size=2),
        ),
        max_leaves=8,
    ),
)
#: Metadata / session data: mostly a mapping of names to such values.
MAPPINGS = mostly(
    st.one_of(
        st.dictionaries(CLEAN_TEXT, JSON_VALUES, max_size=4),
        st.dictionaries(st.one_of(ident(), ODD_TEXT), VALUES, max_size=4),
    )
)


def json_form(value: Any) -> Any:
    """What a store gives back for an accepted JSON value."""
    return json.loads(json.dumps(value))


@contextmanager
def desks() -> Iterator[tuple[list[SupportDesk], list[RecordingNotifier]]]:
    """An in-memory desk and a SQLite desk (in that order), each with a recording notifier
    (so notices go through the store's outbox), no other plugins and the clock at T0."""
    with tempfile.TemporaryDirectory() as tmp:
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        stores = [InMemoryStore(), SqliteStore(Path(tmp) / "parity.db")]
        made = [
            SupportDesk(
                store=store,
                clock=FrozenClock(T0),
                plugins=PluginHost(
                    plugins=(notifier,), load_entrypoints=False, blocked=["supportkit.builtins"]
                ),
            )
            for store, notifier in zip(stores, notifiers, strict=True)
        ]
        try:
            yield made, notifiers
        finally:
            for desk in made:
                desk.close()


def answer(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", what call returned)`` or ``(SupportkitError class name, None)``."""
    try:
        return "ok", call()
    except SupportkitError as exc:
        return type(exc).__name__, None


def same(desks_: list[SupportDesk], call: Callable[[SupportDesk], object]) -> str:
    """Run *call* on both desks; both must succeed or raise the same SupportkitError class."""
    memory, sqlite = (answer(lambda d=desk: call(d))[0] for desk in desks_)
    assert memory == sqlite, f"in-memory store: {memory}, SQLite store: {sqlite}"
    return memory


def read_same(desks_: list[SupportDesk], read: Callable[[SupportDesk], Any]) -> Any:
    """What *read* gives on both desks, which must be equal."""
    memory, sqlite = (read(desk) for desk in desks_)
    assert memory == sqlite
    return memory


def ticket_events(desk: SupportDesk) -> list[list[dict[str, Any]]]:
    """Every ticket's events as dicts, without the ids the desk generates."""
    return [
        [
            {k: v for k, v in event.to_dict().items() if k not in ("id", "ticket_id")}
            for event in desk.events(ticket.id)
        ]
        for ticket in desk.tickets()
    ]


def delivered(desk: SupportDesk, notifier: RecordingNotifier) -> list[tuple[str, Any]]:
    """Deliver the outbox; each notice's kind and the inbound message it carries."""
    desk.deliver(limit=1_000)
    return [(notice.kind, getattr(notice, "message", None)) for notice in notifier.notices]


# --- ingest / ingest_many ------------------------------------------------------------------------

MESSAGES = st.fixed_dictionaries(
    {
        "message_id": mostly(st.one_of(ident(), ODD_TEXT)),
        "channel": mostly(st.sampled_from(["email", "chat", "api"])),
        "sender": mostly(st.one_of(ident(), ODD_TEXT)),
        "at": mostly(instants()),
    },
    optional={
        "body": mostly(ODD_TEXT),
        "subject": mostly(ODD_TEXT),
        "ticket_id": mostly(st.one_of(st.none(), ident(), ODD_TEXT)),
        "public": mostly(st.booleans()),
        "priority": mostly(st.sampled_from(["low", "normal", "high", "urgent"])),
        "tags": mostly(st.lists(st.one_of(ident(), ODD_TEXT), max_size=3)),
        "language": mostly(st.one_of(st.none(), ident())),
        "metadata": MAPPINGS,
        "references": mostly(st.lists(ident(), max_size=2)),
        "ticket_hint": mostly(st.one_of(st.none(), ident())),
    },
)


def message_or_error(fields: dict[str, Any]) -> InboundMessage | SupportkitError:
    """The message *fields* make, or the SupportkitError that refused them."""
    try:
        return InboundMessage(**fields)
    except SupportkitError as exc:
        return exc


@given(st.lists(MESSAGES, min_size=1, max_size=3))
def test_ingest_is_alike_in_every_store(batch: list[dict[str, Any]]) -> None:
    """``ingest`` of one message after another: the same refusals, the same events and the
    same delivered notices on both stores; an accepted message keeps its body, subject and
    tags as given and its metadata in JSON form, and is the message its notice carries."""
    accepted = []
    with desks() as (both, notifiers):
        for fields in batch:
            if "ok" == same(both, lambda d, f=fields: d.ingest(InboundMessage(**f))):
                accepted.append((fields, InboundMessage(**fields)))
        read_same(both, ticket_events)
        notices = read_same(both, lambda d: delivered(d, notifiers[both.index(d)]))
    for fields, message in accepted:
        assert (
            fields.get("body", ""),
            fields.get("subject", ""),
            tuple(fields.get("tags", ())),
            json_form(fields.get("metadata", {})),
        ) == (message.body, message.subject, message.tags, message.metadata)
    made = [message for _, message in accepted]
    assert all(message in made for _, message in notices if message is not None)


@given(st.lists(st.one_of(MESSAGES.map(message_or_error), junk()), max_size=4))
def test_ingest_many_is_alike_in_every_store(batch: list[Any]) -> None:
    """``ingest_many`` of messages and junk items: per item the same result class (an
    IngestResult or the same SupportkitError class), and the same events and notices."""

    def kinds(desk: SupportDesk) -> list[str]:
        return [type(result).__name__ for result in desk.ingest_many(batch)]

    with desks() as (both, notifiers):
        read_same(both, kinds)
        read_same(both, ticket_events)
        read_same(both, lambda d: delivered(d, notifiers[both.index(d)]))


# --- agent work on a ticket ------------------------------------------------------------------


def _call(
    method: str, required: dict[str, Any], **optional: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """``(method, keyword arguments)``, each argument plausible or junk, optional ones
    sometimes left out."""
    return st.tuples(st.just(method), st.fixed_dictionaries(required, optional=optional))


ODD = mostly(ODD_TEXT)
OPERATIONS = st.one_of(
    _call("reply", {"body": ODD}, agent=ODD, public=mostly(st.booleans())),
    _call("set_tier", {"tier": ODD}),
    _call("tag", {}, add=mostly(st.lists(ODD_TEXT, max_size=2)), remove=st.lists(ODD_TEXT)),
    _call("assign", {}, agent=ODD, group=ODD),
    _call("escalate", {"level": mostly(st.sampled_from(["L2", "engineering"]))}, reason=ODD),
    _call("rate", {}, csat=mostly(st.just("good")), score=integers(), comment=ODD),
    _call("link_problem", {"problem_id": ODD}),
)


@given(st.lists(OPERATIONS, min_size=1, max_size=4))
def test_agent_work_on_a_ticket_is_alike_in_every_store(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    """Replies, tiers, tags, assignments, escalations, ratings and problem links with odd
    text on one ticket: the same refusals and the same events on both stores, and each
    accepted reply's body as given."""
    with desks() as (both, _notifiers):
        for desk in both:
            desk.ingest(InboundMessage("m-1", "email", "ann", T0, ticket_id="T-1"))
        accepted = [
            (method, kwargs)
            for method, kwargs in operations
            if "ok" == same(both, lambda d, m=method, k=kwargs: getattr(d, m)("T-1", **k))
        ]
        events = read_same(both, ticket_events)
    bodies = [e["body"] for e in events[0] if e["kind"] == "message" and e["by"] == "agent"]
    assert [kw["body"] for method, kw in accepted if method == "reply"] == bodies


# --- self-service sessions -------------------------------------------------------------------

SESSION_EVENTS = st.fixed_dictionaries(
    {
        "kind": mostly(st.sampled_from(["started", "ended", "searched", "article_viewed"])),
        "session_id": mostly(st.one_of(ident(), ODD_TEXT)),
        "at": mostly(instants()),
    },
    optional={"customer": mostly(st.one_of(st.none(), ident(), ODD_TEXT)), "data": MAPPINGS},
)


def session_or_error(fields: dict[str, Any]) -> SessionEvent | SupportkitError:
    """The session event *fields* make, or the SupportkitError that refused them."""
    kind = fields.pop("kind")
    try:
        return SessionEvent(kind, **fields)
    except SupportkitError as exc:
        return exc


@given(st.lists(st.lists(SESSION_EVENTS, min_size=1, max_size=2), min_size=1, max_size=3))
def test_record_sessions_is_alike_in_every_store(batches: list[list[dict[str, Any]]]) -> None:
    """``record_sessions`` of batches of session events: the same refusals, the same session
    stream read back, each event's data in its JSON form."""
    made = [[session_or_error(dict(fields)) for fields in batch] for batch in batches]
    with desks() as (both, _notifiers):
        kept = [
            batch for batch in made if "ok" == same(both, lambda d, b=batch: d.record_sessions(b))
        ]
        stream = read_same(both, lambda d: [e.to_dict() for e in d.session_events()])
    expected = [
        {**event.to_dict(), "data": json_form(dict(event.data))}
        for batch in kept
        for event in batch
    ]
    assert expected == stream


# --- plugin state -------------------------------------------------------------------------------

STATE_CALLS = st.one_of(
    st.tuples(st.just("put"), ODD, VALUES),
    st.tuples(st.just("put_new"), ODD, VALUES),
    st.tuples(st.just("get"), ODD, st.none()),
    st.tuples(st.just("delete"), ODD, st.none()),
)


@given(mostly(st.one_of(ident(), ODD_TEXT)), st.lists(STATE_CALLS, min_size=1, max_size=5))
def test_plugin_state_is_alike_in_every_store(
    namespace: Any, calls: list[tuple[str, Any, Any]]
) -> None:
    """``plugin_state(namespace)`` put/put_new/get/delete with odd names and values: the same
    refusals and answers on both stores, and a stored value read back in its JSON form."""
    model: dict[Any, Any] = {}
    with desks() as (both, _notifiers):
        for method, key, value in calls:

            def call(desk: SupportDesk, m: str = method, k: Any = key, v: Any = value) -> Any:
                args = (k,) if m in ("get", "delete") else (k, v)
                return getattr(desk.plugin_state(namespace), m)(*args)

            answers = read_same(both, lambda d, c=call: answer(lambda: c(d)))
            if answers[0] != "ok":
                continue
            if method == "get":
                assert model.get(key) == answers[1]
            elif method == "delete":
                model.pop(key, None)
            elif answers[1] is not False:  # a put, or a put_new that stored
                model[key] = json_form(value)
        for key, value in model.items():
            assert [value, value] == [d.plugin_state(namespace).get(key) for d in both]


# --- knowledge base -------------------------------------------------------------------------

ARTICLE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "title": ODD,
        "body": mostly(st.one_of(ODD_TEXT, st.just("b" * 100_001))),
        "locale": mostly(st.sampled_from(["en", "pt-BR", "EN", "e"])),
        "tags": mostly(st.lists(st.one_of(ident(), ODD_TEXT), max_size=3)),
        "area": mostly(st.one_of(st.none(), ODD_TEXT)),
        "status": mostly(st.sampled_from(["draft", "published", "archived", "gone"])),
        "by": mostly(st.one_of(st.none(), ident(), ODD_TEXT)),
    },
)


@given(
    mostly(st.one_of(ident(), ODD_TEXT)),
    ARTICLE_FIELDS,
    st.lists(st.tuples(st.sampled_from(["update", "retire"]), ARTICLE_FIELDS), max_size=3),
)
def test_articles_are_alike_in_every_store(
    article_id: Any, created: dict[str, Any], changes: list[tuple[str, dict[str, Any]]]
) -> None:
    """``create_article`` then updates and retirements with odd fields: the same refusals,
    the same article and history on both stores; an accepted article has the title and body
    given, its tags as a sorted set, and whole UTC seconds for its instants."""
    created = {"title": "Title", "body": "Body.", **created}
    with desks() as (both, notifiers):
        outcomes = [same(both, lambda d: d.create_article(article_id, **created))]
        for change, fields in changes:
            if change == "update":
                call = lambda d, f=fields: d.update_article(article_id, **f)  # noqa: E731
            else:
                call = lambda d, f=fields: d.retire_article(article_id, by=f.get("by"))  # noqa: E731
            outcomes.append(same(both, call))
        articles = read_same(both, lambda d: d.articles())
        read_same(both, lambda d: [e.to_dict() for e in d.store.article_events()])
        read_same(both, lambda d: delivered(d, notifiers[both.index(d)]))
    if outcomes[0] == "ok":
        first = articles[0]
        assert (article_id, T0.replace(microsecond=0)) == (first.id, first.created_at)
        if outcomes[1:].count("ok") == 0:
            expected_tags = tuple(sorted(set(created.get("tags", ()))))
            assert (created["title"], created["body"], expected_tags) == (
                first.title,
                first.body,
                first.tags,
            )


ARTICLE_FILES = st.dictionaries(
    st.one_of(
        st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=12),
        st.sampled_from(["\udcff", "a\udce9b", ".hidden"]),
    ).map(lambda stem: stem + ".md"),
    st.one_of(
        ODD_TEXT.map(lambda body: f"# Heading\n\n{body}\n"),
        st.builds(
            lambda fields, body: (
                "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n" + body
            ),
            st.dictionaries(
                st.sampled_from(["id", "title", "locale", "tags", "area", "status"]),
                st.one_of(ident(), ODD_TEXT.filter(lambda t: "\n" not in t)),
                max_size=3,
            ),
            ODD_TEXT,
        ),
    ),
    max_size=3,
)


@given(ARTICLE_FILES)
def test_import_articles_is_alike_in_every_store(files: dict[str, str]) -> None:
    """``import_articles`` of a folder of odd Markdown files (names that are not UTF-8, lone
    surrogates and NUL in the text, odd front matter): the same refusal or the same articles
    on both stores."""
    with tempfile.TemporaryDirectory() as folder, desks() as (both, _notifiers):
        for name, content in files.items():
            try:
                (Path(folder) / name).write_text(content, "utf-8", "surrogateescape")
            except (OSError, UnicodeEncodeError):  # not a file this file system can name
                continue
        same(both, lambda d: d.import_articles(folder))
        read_same(both, lambda d: d.articles())


# --- settings and erasure -------------------------------------------------------------------


@given(ODD, ODD, ODD)
def test_desk_settings_are_alike_in_every_store(policy: Any, level: Any, note: Any) -> None:
    """A desk with an odd policy name, escalation level name and settings note: the same
    refusal, or the same recorded settings version on both stores, naming them as given."""

    def build(kind: str, folder: str) -> Any:
        store = InMemoryStore() if kind == "memory" else SqliteStore(Path(folder) / "s.db")
        target = {"normal": {"first_reply": SlaTarget(60, False)}}
        desk = SupportDesk(
            store=store,
            clock=FrozenClock(T0),
            policies=[SlaPolicy(policy, target)],
            ladder=EscalationLadder([EscalationLevel(level)]),
            _note=note,
        )
        with desk:
            return desk.settings_versions()

    with tempfile.TemporaryDirectory() as folder:
        memory, sqlite = (answer(lambda k=kind: build(k, folder)) for kind in ("memory", "sqlite"))
    assert memory == sqlite
    if memory[0] == "ok":
        (version,) = memory[1]
        assert (policy, level, note or "configuration") == (
            version["settings"]["policies"][0]["name"],
            version["settings"]["ladder"][0]["name"],
            version["note"],
        )


@given(mostly(st.one_of(st.just("ann"), ident(), ODD_TEXT)))
def test_erase_customer_is_alike_in_every_store(customer: Any) -> None:
    """``erase_customer`` with an odd id: the same refusal or the same erased log."""
    with desks() as (both, _notifiers):
        for desk in both:
            desk.ingest(InboundMessage("m-1", "email", "ann", T0, body="hello"))
        same(both, lambda d: d.erase_customer(customer))
        read_same(both, ticket_events)
