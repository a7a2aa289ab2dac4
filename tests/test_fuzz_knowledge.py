"""Fuzz targets of the knowledge base: ``ArticleEvent`` and its ``from_dict``,
``SupportDesk.create_article``/``update_article``/``retire_article`` and
``SupportDesk.search_articles`` on a SQLite desk (FTS5 query syntax, oversized and binary
text), ``SupportDesk.article_feedback``, the Markdown front matter parser of ``kb import`` and
the article notice ``ArticleChanged``. The one rule of tests/fuzzkit.py: only a
``SupportkitError`` escapes, and a refused desk call changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import Target, instants, integers, junk, kwargs_of, raw_dicts, run, text
from supportkit import (
    ArticleChanged,
    ArticleEvent,
    FrozenClock,
    InboundMessage,
    KnowledgeSettings,
    SessionEvent,
    SqliteStore,
    SupportDesk,
    TicketEvent,
    content_gaps,
    self_service,
    session_facts,
)
from supportkit._kbimport import parse_article
from supportkit._knowledge import apply_article

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
KINDS = st.sampled_from(["created", "updated", "retired", "deleted", ""])
IDS = st.sampled_from(["a", "b", "missing", "", "x" * 400])
STATUSES = st.sampled_from(["draft", "published", "archived", "live"])
LOCALES = st.sampled_from(["en", "de", "pt-BR", "EN", "", "english"])
TAGS = st.lists(st.sampled_from(["billing", "login", "", "x" * 301]), max_size=4)
QUERIES = st.one_of(
    text(max_size=40),
    st.sampled_from(['"', "NEAR(", 'NEAR("a" b', "a OR", "*", "title:x", "^", "a:* | b", "-x"]),
    st.just("password " * 200),
)
FIELDS = {
    "title": text(),
    "body": st.one_of(text(max_size=40), st.just("x" * 100_001)),
    "locale": LOCALES,
    "tags": TAGS,
    "area": text(),
    "status": STATUSES,
    "by": text(),
}

_DESK: dict[str, SupportDesk] = {}


def _desk() -> SupportDesk:
    """One SQLite desk with articles a (published) and b (draft), made once."""
    if not _DESK:
        desk = SupportDesk(store=SqliteStore(":memory:"), plugins=None, clock=FrozenClock(AT))
        desk.create_article("a", title="Reset password", body="Forgot it?", status="published")
        desk.create_article("b", title="Invoices", body="PDF", tags=["billing"])
        _DESK["desk"] = desk
    return _DESK["desk"]


def _state(_kw: Any) -> object:
    return [event.to_dict() for event in _desk().store.article_events()]


def _create(kw: dict[str, Any]) -> None:
    _desk().create_article(kw.pop("article_id", "a"), **kw)


def _update(kw: dict[str, Any]) -> None:
    _desk().update_article(kw.pop("article_id", "a"), **kw)


def _retire(kw: dict[str, Any]) -> None:
    _desk().retire_article(kw.get("article_id", "b"), by=kw.get("by"))


_ACCEPTED = [0]


def renewing(call: Callable[[Any], object]) -> Callable[[Any], None]:
    """*call*, after which every 50th accepted call starts a new desk: accepted calls grow
    the store, and the state read before and after each call with it, so without a new desk
    now and then a full run would take quadratic time."""

    def wrapped(kw: Any) -> None:
        call(kw)
        _ACCEPTED[0] += 1
        if _ACCEPTED[0] % 50 == 0:
            _DESK.clear()

    return wrapped


def _feedback(kw: dict[str, Any]) -> None:
    ticket_id = kw.get("ticket_id", _ticket())
    _desk().article_feedback(ticket_id, kw.get("article_id"), helped=kw.get("helped"))


def _ticket_state(_kw: Any) -> object:
    """Which tickets exist and the whole log of the one feedback goes to."""
    ticket_id = _ticket()  # first: it may make the ticket
    store = _desk().store
    return list(store.ticket_ids()), [(e.kind, e.data) for e in store.read(ticket_id)]


def _search(kw: dict[str, Any]) -> None:
    _desk().search_articles(kw.pop("query", ""), **kw)


SESSION_EVENTS = st.lists(
    st.one_of(
        st.builds(
            lambda kind, sid, at, customer, data: SessionEvent(
                kind, session_id=sid, at=at, customer=customer, data=data
            ),
            st.sampled_from(["started", "searched", "article_viewed", "ended"]),
            st.sampled_from(["s1", "s2"]),
            instants(),
            st.sampled_from([None, "ana", ""]),
            st.fixed_dictionaries(
                {}, optional={"query": QUERIES, "results": st.integers(0, 3), "article": IDS}
            ).filter(lambda d: d.get("article") != ""),
        ),
        junk(),
    ),
    max_size=6,
)
TICKET_EVENTS = st.lists(
    st.one_of(
        st.builds(
            lambda tid, at, customer, subject: TicketEvent(
                "created",
                ticket_id=tid,
                at=at,
                data={"customer": customer, "subject": subject, "tags": ["billing"]},
            ),
            st.sampled_from(["T-1", "T-2"]),
            instants(),
            st.sampled_from(["ana", None]),
            text(),
        ),
        junk(),
    ),
    max_size=4,
)
DURATIONS = st.sampled_from(
    [timedelta(0), timedelta(hours=-1), timedelta(days=1), timedelta(days=9999)]
)
REPORT_OPTIONS = {"window": DURATIONS, "period": DURATIONS, "top": st.integers(-1, 3)}


def _ticket() -> str:
    desk = _desk()
    if "ticket" not in _DESK:
        message_id = f"m-{len(list(desk.store.ticket_ids())) + 1}"
        message = InboundMessage(message_id, "email", "c@x.example", AT, body="reset password")
        _DESK["ticket"] = desk.ingest(message).ticket_id  # type: ignore[assignment]
    return str(_DESK["ticket"])


def _token(kind: str) -> Any:
    """A real token, one with its tag or payload altered, or junk text."""
    real = _desk().article_link(_ticket(), "a")
    payload, tag = real.split(".")
    return {
        "real": real,
        "tag": f"{payload}.{tag[::-1]}",
        "payload": f"{payload[:-2]}.{tag}",
        "other": _desk().article_link(_ticket(), "b").split(".")[0] + "." + tag,
    }.get(kind, kind)


def _sessions_state(_kw: Any) -> object:
    return [e.to_dict() for e in _desk().store.session_events()]


_CREATED = ArticleEvent(
    "created",
    "a",
    datetime(2025, 3, 3, tzinfo=UTC),
    title="T",
    body="b",
    locale="en",
    status="draft",
)
_OTHER = ArticleEvent("retired", "b", datetime(2025, 3, 3, tzinfo=UTC))
_ARTICLE = apply_article(None, _CREATED)
ARTICLES = st.one_of(st.just(_ARTICLE), junk())

TARGETS: dict[str, Target] = {
    "ArticleChanged": Target(
        kwargs_of(
            {"article": ARTICLES, "event": st.one_of(st.sampled_from([_CREATED, _OTHER]), junk())},
            {"previous": st.one_of(st.none(), ARTICLES)},
        ),
        lambda kw: ArticleChanged(**kw),
    ),
    "ArticleEvent": Target(
        kwargs_of(
            {"kind": KINDS, "article_id": IDS, "at": instants()},
            FIELDS,
        ),
        lambda kw: ArticleEvent(**kw),
    ),
    "ArticleEvent.from_dict": Target(
        raw_dicts(
            {"kind": KINDS, "article_id": IDS, "at": integers(), **FIELDS},
            required=("kind", "article_id", "at"),
        ),
        ArticleEvent.from_dict,
    ),
    "SupportDesk.create_article": Target(
        kwargs_of(
            {"article_id": IDS, "title": text(), "body": FIELDS["body"]},
            {k: v for k, v in FIELDS.items() if k not in ("title", "body")},
        ),
        renewing(_create),
        _state,
    ),
    "SupportDesk.update_article": Target(
        kwargs_of({"article_id": IDS}, {**FIELDS, "version": st.integers(-1, 5)}),
        renewing(_update),
        _state,
    ),
    "SupportDesk.retire_article": Target(
        kwargs_of({"article_id": IDS}, {"by": text()}), renewing(_retire), _state
    ),
    "SupportDesk.article_feedback": Target(
        kwargs_of(
            {"article_id": IDS, "helped": st.booleans()},
            {"ticket_id": st.sampled_from(["T-missing", ""])},
        ),
        renewing(_feedback),
        _ticket_state,
    ),
    "parse_article": Target(
        kwargs_of(
            {
                "text": st.one_of(
                    text(max_size=60),
                    st.builds(
                        lambda a, b: f"---\n{a}\n---\n{b}", text(max_size=30), text(max_size=30)
                    ),
                ),
                "name": text(),
            }
        ),
        lambda kw: parse_article(kw["text"], kw["name"]),
    ),
    "self_service": Target(
        kwargs_of(
            {"sessions": SESSION_EVENTS, "now": instants()},
            {
                "tickets": TICKET_EVENTS,
                **REPORT_OPTIONS,
                "covers": st.sampled_from([None, lambda kind, topic: kind == "tag"]),
            },
        ),
        lambda kw: self_service(kw.pop("sessions"), **kw),
    ),
    "content_gaps": Target(
        kwargs_of(
            {"sessions": SESSION_EVENTS, "now": instants()},
            {k: v for k, v in REPORT_OPTIONS.items() if k != "window"},
        ),
        lambda kw: content_gaps(kw.pop("sessions"), **kw),
    ),
    "session_facts": Target(
        kwargs_of(
            {"sessions": SESSION_EVENTS, "now": instants()},
            {"tickets": TICKET_EVENTS, "window": DURATIONS},
        ),
        lambda kw: session_facts(kw.pop("sessions"), **kw),
    ),
    "SupportDesk.article_link": Target(
        kwargs_of({"ticket_id": IDS, "article_id": IDS}),
        lambda kw: _desk().article_link(kw["ticket_id"], kw["article_id"]),
    ),
    "SupportDesk.article_link_followed": Target(
        kwargs_of(
            {
                "token": st.one_of(
                    st.sampled_from(
                        ["real", "tag", "payload", "other", "", ".", "a.b", "x" * 3000]
                    ),
                    text(max_size=40),
                )
            }
        ),
        renewing(
            lambda kw: _desk().article_link_followed(
                _token(kw["token"]) if isinstance(kw["token"], str) else kw["token"]
            )
        ),
        _ticket_state,
    ),
    "SupportDesk.record_sessions": Target(
        kwargs_of({"events": st.one_of(SESSION_EVENTS, junk())}),
        renewing(lambda kw: _desk().record_sessions(kw["events"])),
        None,
    ),
    "SupportDesk.self_service_search": Target(
        kwargs_of(
            {"session_id": IDS, "query": QUERIES},
            {
                "customer": st.sampled_from([None, "ana", ""]),
                "k": st.integers(-1, 120),
                "locale": LOCALES,
                "tags": TAGS,
                "area": text(),
            },
        ),
        renewing(
            lambda kw: _desk().self_service_search(kw.pop("session_id"), kw.pop("query"), **kw)
        ),
        _sessions_state,
    ),
    "SupportDesk.article_viewed": Target(
        kwargs_of({"session_id": IDS, "article_id": IDS}, {"customer": text()}),
        renewing(
            lambda kw: _desk().article_viewed(kw.pop("session_id"), kw.pop("article_id"), **kw)
        ),
        _sessions_state,
    ),
    "SupportDesk.session_events": Target(
        kwargs_of({}, {"since": instants()}), lambda kw: _desk().session_events(**kw)
    ),
    "SupportDesk.self_service": Target(
        kwargs_of({}, {"period": DURATIONS, "at": instants(), "top": st.integers(-1, 3)}),
        lambda kw: _desk().self_service(**kw),
    ),
    "SupportDesk.content_gaps": Target(
        kwargs_of({}, {"period": DURATIONS, "at": instants(), "top": st.integers(-1, 3)}),
        lambda kw: _desk().content_gaps(**kw),
    ),
    "KnowledgeSettings": Target(
        kwargs_of(
            {},
            {
                "answer_channels": st.lists(st.sampled_from(["email", "web", ""]), max_size=3),
                "link_url": st.sampled_from([None, "https://h/{token}", "https://h/", ""]),
                "deflection_window": DURATIONS,
                "intro": text(),
                "outro": text(),
            },
        ),
        lambda kw: KnowledgeSettings(**kw),
    ),
    "SupportDesk.search_articles": Target(
        kwargs_of(
            {"query": QUERIES},
            {
                "k": st.integers(-1, 120),
                "locale": LOCALES,
                "tags": st.one_of(TAGS, junk()),
                "area": text(),
            },
        ),
        _search,
        _state,
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Calling the entry point with anything raises nothing or a SupportkitError."""
    run(name, TARGETS[name])
