"""The knowledge base: article events and their fold, the desk's article methods, search on the
in-memory and SQLite stores (the store contract covers PostgreSQL too), and the measured
quality of the default search on the labelled Tallyo question set (tests/kb_corpus.py)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb_corpus import ARTICLES, QUESTIONS
from supportkit import (
    MAX_ARTICLE_BODY,
    ArticleChanged,
    ArticleEvent,
    ArticleHit,
    ConcurrencyError,
    EventError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SqliteStore,
    StoreError,
    SupportDesk,
    hookimpl,
)
from supportkit._knowledge import (
    MAX_QUERY_LENGTH,
    Article,
    MemoryArticleIndex,
    fold_article,
    query_terms,
)
from supportkit.testing import RecordingNotifier, evaluate_search

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _desk(kind: str, tmp_path: Path) -> SupportDesk:
    store = InMemoryStore() if kind == "memory" else SqliteStore(tmp_path / "kb.sqlite3")
    return SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))


@pytest.fixture(params=["memory", "sqlite"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SupportDesk]:
    """A desk on each built-in store."""
    desk = _desk(request.param, tmp_path)
    yield desk
    close = getattr(desk.store, "close", None)
    if close is not None:
        close()


def _tallyo(desk: SupportDesk) -> SupportDesk:
    for article_id, area, tags, title, body in ARTICLES:
        desk.create_article(
            article_id, title=title, body=body, tags=tags, area=area, status="published"
        )
    return desk


# --- events and the fold ------------------------------------------------------------------------


def test_events_fold_into_the_article_with_versions() -> None:
    """created, updated and retired fold into the current article; None fields stay."""
    later = T0 + timedelta(hours=1)
    log = [
        ArticleEvent("created", "a", T0, title="T", body="b", locale="en", status="draft"),
        ArticleEvent("updated", "a", later, status="published", tags=("z", "y", "z")),
        ArticleEvent("retired", "a", later, by="ana"),
    ]
    article = fold_article(log)
    assert article is not None
    assert ("T", "b", ("y", "z"), "archived", 3, T0, later) == (
        article.title,
        article.body,
        article.tags,
        article.status,
        article.version,
        article.created_at,
        article.updated_at,
    )


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["x" * 301], "article tags: a tag is longer than 300 characters"),
        ([""], "article tags: a tag must be a non-empty string, got ''"),
        ([str(n) for n in range(33)], "article tags: 33 tags, more than 32"),
        ("one", "article tags must be a list of strings, got 'one'"),
    ],
)
def test_bad_tags_say_so_plainly(tags: object, message: str) -> None:
    """A bad tag is named as a tag (not as an event of a kind 'article', or as the whole list
    being too long)."""
    with pytest.raises(EventError) as caught:
        ArticleEvent("created", "a", T0, title="T", body="b", tags=tags)  # type: ignore[arg-type]
    assert (message, "tags") == (str(caught.value), caught.value.field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "deleted"}, "kind"),
        ({"article_id": ""}, "article_id"),
        ({"title": None}, "title"),
        ({"title": "  "}, "title"),
        ({"body": 5}, "body"),
        ({"body": "x" * (MAX_ARTICLE_BODY + 1)}, "body"),
        ({"body": "nul \x00"}, "body"),
        ({"locale": "English"}, "locale"),
        ({"status": "live"}, "status"),
        ({"tags": "one"}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"at": datetime(2025, 1, 1)}, None),
    ],
)
def test_invalid_events_name_the_field(fields: dict[str, object], field: str | None) -> None:
    """A bad event is an EventError naming what was wrong (an oversized body included)."""
    values: dict[str, object] = {
        "kind": "created",
        "article_id": "a",
        "at": T0,
        "title": "T",
        "body": "b",
        "locale": "en",
        "status": "draft",
    }
    values.update(fields)
    with pytest.raises(EventError) as caught:
        ArticleEvent(**values)  # type: ignore[arg-type]
    assert field == caught.value.field


def test_the_body_limit_is_inclusive() -> None:
    """A body of exactly MAX_ARTICLE_BODY characters is accepted."""
    event = ArticleEvent(
        "created", "a", T0, title="T", body="x" * MAX_ARTICLE_BODY, locale="en", status="draft"
    )
    assert MAX_ARTICLE_BODY == len(event.body or "")


@given(
    title=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and "\x00" not in s),
    body=st.text(max_size=200).filter(lambda s: "\x00" not in s),
    tags=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
    locale=st.sampled_from(["en", "de", "pt-BR"]),
)
def test_events_round_trip_through_dicts(
    title: str, body: str, tags: list[str], locale: str
) -> None:
    """from_dict(to_dict(event)) is the event."""
    event = ArticleEvent(
        "created", "a", T0, title=title, body=body, tags=tags, locale=locale, status="published"
    )
    assert event == ArticleEvent.from_dict(event.to_dict())


def test_query_terms_are_words_cut_to_the_limits() -> None:
    """Queries become lower-case words without engine syntax or stop words, from the first
    1,000 characters; only stop words are kept when nothing else is left."""
    assert ["near", "reset", "passw"] == query_terms('NEAR( "reset" my passw*: how')
    assert ["how", "to"] == query_terms("how to")
    assert [] == query_terms('" ( * : ^')
    long = "a" * (MAX_QUERY_LENGTH - 5) + " password"
    assert ["a" * (MAX_QUERY_LENGTH - 5), "pass"] == query_terms(long)


# --- the desk -----------------------------------------------------------------------------------


def test_desk_creates_updates_and_retires_articles(desk: SupportDesk) -> None:
    """The desk's article methods append to the log and return the folded article."""
    created = desk.create_article("a", title="T", body="b", tags=["x"], by="ana")
    updated = desk.update_article("a", status="published", area="billing")
    retired = desk.retire_article("a")
    assert (1, "draft", 2, "published", "billing", 3, "archived") == (
        created.version,
        created.status,
        updated.version,
        updated.status,
        updated.area,
        retired.version,
        retired.status,
    )
    assert (retired, ["created", "updated", "retired"], [retired]) == (
        desk.article("a"),
        [event.kind for event in desk.article_history("a")],
        desk.articles(),
    )


def test_desk_refuses_what_does_not_fit(desk: SupportDesk) -> None:
    """A second create, an update of a missing article and a stale version are refused and
    change nothing."""
    desk.create_article("a", title="T", body="b")
    with pytest.raises(EventError):
        desk.create_article("a", title="T2", body="b")
    with pytest.raises(EventError):
        desk.update_article("missing", title="x")
    with pytest.raises(EventError):
        desk.update_article("a")
    with pytest.raises(ConcurrencyError):
        desk.update_article("a", title="x", version=0)
    assert (1, None) == (len(desk.article_history("a")), desk.article("missing"))


def test_search_finds_published_articles_with_snippets(desk: SupportDesk) -> None:
    """A question finds the article answering it first, with a highlighted snippet; drafts
    and archived articles are not found; filters narrow the result."""
    _tallyo(desk)
    desk.create_article("draft", title="Reset everything", body="reset password", status="draft")
    hits = desk.search_articles("how do I reset my password?")
    assert "reset-password" == hits[0].article_id
    assert "**password**" in hits[0].snippet.lower()
    assert all(hit.article_id != "draft" for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert 2 == len(desk.search_articles("invoice", k=2))
    assert {"billing"} == {
        a.area
        for a in map(
            desk.article, (h.article_id for h in desk.search_articles("plan", area="billing", k=10))
        )
        if a is not None
    }
    tagged = desk.search_articles("invoice", tags=["automation"], k=10)
    assert {"recurring-invoices", "payment-reminders"} == {hit.article_id for hit in tagged}
    assert [] == desk.search_articles("password", locale="de")
    desk.retire_article("reset-password")
    assert "reset-password" not in [h.article_id for h in desk.search_articles("reset password")]


def test_snippets_are_plain_text(desk: SupportDesk) -> None:
    """Search indexes the body's plain text: a snippet shows "Reset", not the body's
    "**Reset**" (which would look like a match), and link text without its URL; the only
    ``**`` are around matched words, and a word only in a link's URL finds nothing."""
    body = (
        "## Start over\n\n1. Click **Reset** to _start_ over.\n"
        "2. Open [Settings](https://help.example.com/settings) and `Sync`."
    )
    desk.create_article("reset", title="Start again", body=body, status="published")
    [hit] = desk.search_articles("start sync")
    marked = re.findall(r"\*\*(.+?)\*\*", hit.snippet)
    assert {"start", "sync"} == {word.lower() for word in marked}
    assert "Click Reset to" in hit.snippet
    assert "Open Settings and" in hit.snippet
    assert not {"#", "[", "](", "`", "_start_"} & set(re.findall(r"\S+|\]\(", hit.snippet))
    assert [] == desk.search_articles("https")


def test_prefixes_match_words(desk: SupportDesk) -> None:
    """A word prefix finds the word ("passw" finds "password", "invo" finds "invoices")."""
    _tallyo(desk)
    assert "reset-password" == desk.search_articles("passw reset")[0].article_id
    assert desk.search_articles("invo")


def test_sqlite_search_leaves_out_terms_in_most_articles(tmp_path: Path) -> None:
    """On SQLite a term found in more than half of the articles does not widen the result
    (FTS5's BM25 gives it no weight); a query of only such terms still finds them."""
    with SqliteStore(tmp_path / "kb.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        for n, extra in enumerate(["refund policy", "login help", "export data"]):
            desk.create_article(
                f"a{n}",
                title=f"Account {extra}",
                body=f"Your account and {extra}.",
                status="published",
            )
        assert ["a0"] == [hit.article_id for hit in desk.search_articles("account refund")]
        assert {"a0", "a1", "a2"} == {hit.article_id for hit in desk.search_articles("account")}
        assert "**refund**" in desk.search_articles("account refund")[0].snippet


def test_sqlite_short_terms_match_whole_words(tmp_path: Path) -> None:
    """On SQLite a term of one or two characters matches whole words only (a prefix that
    short would match a large part of the vocabulary); from three characters on, prefixes."""
    with SqliteStore(tmp_path / "kb.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        desk.create_article("tv", title="TV setup", body="Connect the tv.", status="published")
        desk.create_article("tw", title="Twitter", body="Post updates.", status="published")
        assert ["tv"] == [hit.article_id for hit in desk.search_articles("tv")]
        assert [] == desk.search_articles("t")
        assert ["tw"] == [hit.article_id for hit in desk.search_articles("twi")]


_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda"]


@settings(max_examples=40, deadline=None)
@given(
    bodies=st.lists(
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12), min_size=1, max_size=12
    ),
    query=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5),
)
def test_sqlite_search_ranks_as_bm25_over_every_term(
    bodies: list[list[str]], query: list[str]
) -> None:
    """Leaving terms out of the FTS5 query keeps BM25's ranking: the hits' scores are the
    top scores of the query with every term (to 1e-5), and any article left out scores
    below 1e-5 there."""
    with SqliteStore(":memory:") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        for n, body in enumerate(bodies):
            desk.create_article(f"a{n}", title="Note", body=" ".join(body), status="published")
        hits = desk.search_articles(" ".join(query), k=5)
        match = " OR ".join(f'"{term}"*' for term in query_terms(" ".join(query)))
        every = [
            -score
            for (score,) in store._db.execute(
                "SELECT bm25(article_fts, 5.0, 1.0) AS s FROM article_fts"
                " WHERE article_fts MATCH ? ORDER BY s LIMIT 5",
                (match,),
            )
        ]
        assert len(hits) <= len(every)
        for hit, score in zip(hits, every, strict=False):
            assert abs(hit.score - score) < 1e-5
        assert all(score < 1e-5 for score in every[len(hits) :])


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "NEAR(",
        "NEAR(a b",
        "a OR",
        "*",
        "title:x",
        "^a",
        "a AND NOT",
        "",
        "   ",
        "x" * 5000,
        "'; DROP TABLE article_events; --",
        "a:* | b",
        "\x00",
    ],
)
def test_engine_syntax_in_a_query_never_raises(desk: SupportDesk, query: str) -> None:
    """FTS syntax and oversized text are plain text: any string is a valid query."""
    _tallyo(desk)
    assert isinstance(desk.search_articles(query), list)


@settings(max_examples=50, deadline=None)
@given(query=st.text(max_size=60))
def test_any_text_is_a_valid_query(query: str) -> None:
    """search_articles accepts any text on the SQLite store and returns at most k hits."""
    with SqliteStore(":memory:") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        desk.create_article("a", title="Reset password", body="Forgot it?", status="published")
        assert len(desk.search_articles(query, k=3)) <= 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"k": True}, "k"),
        ({"locale": 5}, "locale"),
        ({"tags": "billing"}, "tags"),
        ({"area": ["x"]}, "area"),
        ({"query": None}, "query"),
        ({"locale": "en\ud800"}, "locale"),  # a lone surrogate: no store can look it up
        ({"area": "\udc00"}, "area"),
        ({"tags": ["ok", "\ud800x"]}, "tags"),
    ],
)
def test_bad_search_arguments_are_event_errors(
    desk: SupportDesk, kwargs: dict[str, object], field: str
) -> None:
    """Bad search arguments raise EventError naming the argument."""
    arguments: dict[str, object] = {"query": "password", **kwargs}
    query = arguments.pop("query")
    with pytest.raises(EventError) as caught:
        desk.search_articles(query, **arguments)  # type: ignore[arg-type]
    assert field == caught.value.field


# --- measured quality ---------------------------------------------------------------------------


def test_the_evaluation_set_is_large_enough() -> None:
    """At least 150 labelled questions over at least 40 articles, several per article, and
    some without an answer."""
    answered = [article for _, article in QUESTIONS if article is not None]
    ids = {article_id for article_id, *_ in ARTICLES}
    assert set(answered) <= ids
    assert len(QUESTIONS) >= 150
    assert len(ids) >= 40
    assert min(answered.count(article_id) for article_id in ids) >= 3
    assert len(QUESTIONS) - len(answered) >= 5


# Measured on 2026-12-07: SQLite FTS5 recall@3 0.964, MRR 0.926; in-memory BM25 recall@3
# 0.905, MRR 0.810 (PostgreSQL: plugins/postgres/tests). The floors sit just below.
FLOORS = {"sqlite": (0.95, 0.90), "memory": (0.88, 0.78)}


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_search_quality_on_the_labelled_set(kind: str, tmp_path: Path) -> None:
    """The default search answers the labelled Tallyo questions above the measured floors
    (recall@3 and mean reciprocal rank)."""
    desk = _tallyo(_desk(kind, tmp_path))
    result = evaluate_search(desk.search_articles, QUESTIONS, k=3)
    recall, mrr = FLOORS[kind]
    assert (168, 10) == (result.answerable, result.unanswerable)
    assert result.recall >= recall, str(result)
    assert result.mrr >= mrr, str(result)


def test_evaluate_search_scores_ranks() -> None:
    """recall@k counts hits in the first k, MRR averages 1/rank, misses list the failures."""
    ranked = {"q1": ["a", "b"], "q2": ["x", "y", "z", "b"], "q3": [], "q4": ["a"]}

    def search(query: str, *, k: int) -> list[ArticleHit]:
        return [ArticleHit(i, i, 1.0, "") for i in ranked[query][:k]]

    result = evaluate_search(search, [("q1", "b"), ("q2", "b"), ("q3", None), ("q4", None)], k=3)
    assert (0.5, (1 / 2 + 1 / 4) / 2, 2, 2, 1, (("q2", "b", ("x", "y", "z")),)) == (
        result.recall,
        result.mrr,
        result.answerable,
        result.unanswerable,
        result.false_hits,
        result.misses,
    )


# --- suggestions on ingest ----------------------------------------------------------------------


def _message(message_id: str, body: str, **extra: object) -> InboundMessage:
    return InboundMessage(message_id, "email", "c@x.example", T0, body=body, **extra)  # type: ignore[arg-type]


def test_ingest_suggests_articles_for_customer_messages(desk: SupportDesk) -> None:
    """A new customer message gets the top articles for its subject and body recorded on the
    ticket (articles_suggested), without changing the ticket or its SLA clocks."""
    _tallyo(desk)
    plain = SupportDesk(store=InMemoryStore(), plugins=None, clock=FrozenClock(T0))
    plain.suggestions = 0
    result = desk.ingest(_message("m-1", "I forgot it and the link expired", subject="Password"))
    baseline = plain.ingest(_message("m-1", "I forgot it and the link expired", subject="Password"))
    assert result.ticket_id is not None
    suggested = desk.suggested_articles(result.ticket_id)
    assert "reset-password" == suggested[0]
    assert 3 == len(suggested)
    assert ["created", "message", "articles_suggested"] == [e.kind for e in result.events]
    assert baseline.ticket_id is not None
    ticket, other = desk.ticket(result.ticket_id), plain.ticket(baseline.ticket_id)
    assert (ticket.status, ticket.first_customer_message_at) == (
        other.status,
        other.first_customer_message_at,
    )


def test_no_suggestion_without_a_match_or_when_turned_off(desk: SupportDesk) -> None:
    """No article matches, internal notes and suggestions = 0 record nothing."""
    _tallyo(desk)
    nothing = desk.ingest(_message("m-1", "zzzqqq"))
    note = desk.ingest(_message("m-2", "password reset", public=False))
    desk.suggestions = 0
    off = desk.ingest(_message("m-3", "password reset"))
    assert [[], [], []] == [
        [e.kind for e in r.events if e.kind == "articles_suggested"] for r in (nothing, note, off)
    ]


class _VectorSearch:
    """A host's own suggestion source (a stand-in for vector search)."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    def supportkit_suggest_articles(self, query: str, message: InboundMessage, k: int) -> object:
        self.calls.append((query, k))
        return self.answer


def test_a_plugin_can_answer_suggestions(tmp_path: Path) -> None:
    """supportkit_suggest_articles answers first; None falls back to the desk's search and a
    broken answer is logged and skipped (the message is still ingested)."""
    hit = ArticleHit("from-plugin", "Vector hit", 0.9, "")
    for answer, expected in ((hit, ["from-plugin"]), (None, ["reset-password"]), ("junk", [])):
        plugin = _VectorSearch([hit] if answer is hit else answer)
        desk = _tallyo(SupportDesk(store=InMemoryStore(), plugins=[plugin], clock=FrozenClock(T0)))
        desk.suggestions = 1
        result = desk.ingest(_message("m-1", "reset my password", subject="Login"))
        assert result.ticket_id is not None
        assert expected == desk.suggested_articles(result.ticket_id)
        assert [("Login\nreset my password", 1)] == plugin.calls


def test_a_plugin_naming_an_article_twice_suggests_it_once() -> None:
    """A plugin's answer naming one article more than once (chunks of one article from a
    vector index) suggests it once, at its best place, and still up to k articles."""
    a, b, c = (ArticleHit(i, i.upper(), 1.0, "") for i in ("a", "b", "c"))
    desk = SupportDesk(
        store=InMemoryStore(), plugins=[_VectorSearch([a, a, b, a, c])], clock=FrozenClock(T0)
    )
    result = desk.ingest(_message("m-1", "reset my password"))
    assert result.ticket_id is not None
    assert ["a", "b", "c"] == desk.suggested_articles(result.ticket_id)


def test_article_feedback_is_recorded_even_after_closing(desk: SupportDesk) -> None:
    """article_helped / article_not_helped go on the ticket, also once it is closed."""
    _tallyo(desk)
    ticket_id = desk.ingest(_message("m-1", "reset password")).ticket_id
    assert ticket_id is not None
    desk.article_feedback(ticket_id, "two-factor", helped=False)
    desk.set_status(ticket_id, "solved")
    desk.set_status(ticket_id, "closed")
    desk.article_feedback(ticket_id, "reset-password", helped=True)
    kinds = [(e.kind, e.data.get("article")) for e in desk.events(ticket_id)]
    assert [("article_not_helped", "two-factor"), ("article_helped", "reset-password")] == [
        k for k in kinds if k[0].startswith("article_")
    ]
    with pytest.raises(EventError):
        desk.article_feedback(ticket_id, "x", helped="yes")  # type: ignore[arg-type]


def test_suggestion_report_counts_acceptance_per_article(desk: SupportDesk) -> None:
    """The report counts tickets with suggestions and with a helped verdict, and each
    article's suggestions and verdicts."""
    _tallyo(desk)
    desk.suggestions = 2
    first = desk.ingest(_message("m-1", "reset my password")).ticket_id
    second = desk.ingest(_message("m-2", "cancel my subscription")).ticket_id
    desk.ingest(_message("m-3", "zzzqqq"))
    assert first is not None
    assert second is not None
    desk.article_feedback(first, "reset-password", helped=True)
    desk.article_feedback(second, "cancel-subscription", helped=False)
    report = desk.suggestion_report()
    assert (3, 2, 1, 0.5) == (report.tickets, report.suggested, report.helped, report.acceptance)
    stats = {s.article_id: s for s in report.articles}
    assert (1, 1, 0) == (
        stats["reset-password"].suggested,
        stats["reset-password"].helped,
        stats["reset-password"].not_helped,
    )
    assert 1 == stats["cancel-subscription"].not_helped
    assert 4 == sum(s.suggested for s in report.articles)


# --- lifecycle notices ----------------------------------------------------------------------------


def test_article_changes_notify_notifiers_through_the_outbox(desk: SupportDesk) -> None:
    """create, update and retire each queue an article_changed notice for a notifier; deliver
    hands them over with the article after and before the change."""
    notifier = RecordingNotifier()
    desk.plugins.host.register(notifier)
    desk.create_article("a", title="Reset", body="Use the link.")
    desk.update_article("a", status="published")
    desk.retire_article("a", by="ana")
    assert 3 == len(desk.outbox("pending"))
    assert 3 == len(desk.deliver().delivered)
    assert [
        ("created", None, 1, "draft"),
        ("updated", 1, 2, "published"),
        ("retired", 2, 3, "archived"),
    ] == [
        (
            n.event.kind,
            None if n.previous is None else n.previous.version,
            n.article.version,
            n.article.status,
        )
        for n in notifier.notices
        if isinstance(n, ArticleChanged)
    ]
    assert {None} == {n.ticket_id for n in notifier.notices}
    posted = json.loads(json.dumps(notifier.notices[1].to_dict()))  # what a webhook posts
    assert ("article_changed", "a", "updated", "draft", "published") == (
        posted["kind"],
        posted["article_id"],
        posted["event"]["kind"],
        posted["previous"]["status"],
        posted["article"]["status"],
    )


class _ArticleWatcher:
    """An in-process receiver of article notices that fails its first call."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @hookimpl
    def supportkit_article_changed(self, notice: ArticleChanged) -> None:
        self.seen.append((notice.event.kind, notice.article.version))
        if len(self.seen) == 1:
            raise RuntimeError("help centre down")


def test_article_notices_reach_hookimpls_at_once_and_retry(tmp_path: Path) -> None:
    """A hookimpl gets the notice right after the write; a failing one is retried by deliver
    from the article log (the same notice again)."""
    watcher = _ArticleWatcher()
    clock = FrozenClock(T0)
    with SqliteStore(tmp_path / "kb.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=[watcher], clock=clock)
        desk.create_article("a", title="Reset", body="Use the link.", status="published")
        assert [("created", 1)] == watcher.seen
        mine = [
            m for m in desk.outbox("pending") if not m.payload["receiver"].startswith("notifier:")
        ]
        (retry,) = mine
        assert ("article_changed", 1) == (retry.topic, retry.attempts)
        clock.advance(timedelta(hours=1))
        assert retry.key in desk.deliver().delivered
        assert [("created", 1), ("created", 1)] == watcher.seen
        desk.update_article("a", title="Reset your password")
        assert ("updated", 2) == watcher.seen[-1]
        desk.deliver()
        assert [] == desk.outbox("pending")


def test_refused_article_changes_queue_no_notice(desk: SupportDesk) -> None:
    """A create of an existing id, a stale version or a bad field queues nothing."""
    notifier = RecordingNotifier()
    desk.plugins.host.register(notifier)
    desk.create_article("a", title="T", body="b")
    with pytest.raises(EventError):
        desk.create_article("a", title="T", body="b")
    with pytest.raises(ConcurrencyError):
        desk.update_article("a", title="x", version=0)
    with pytest.raises(EventError):
        desk.update_article("a", status="gone")
    assert 1 == len(desk.outbox())


def test_imported_articles_notify(desk: SupportDesk, tmp_path: Path) -> None:
    """import_articles queues a notice per created or changed article, none for unchanged."""
    notifier = RecordingNotifier()
    desk.plugins.host.register(notifier)
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "reset.md").write_text("# Reset\n\nUse the link.\n", encoding="utf-8")
    (folder / "cancel.md").write_text("# Cancel\n\nGo to billing.\n", encoding="utf-8")
    desk.import_articles(folder)
    (folder / "reset.md").write_text("# Reset\n\nUse the new link.\n", encoding="utf-8")
    desk.import_articles(folder)
    desk.deliver()
    assert [("cancel", "created"), ("reset", "created"), ("reset", "updated")] == [
        (n.article_id, n.event.kind) for n in notifier.notices if isinstance(n, ArticleChanged)
    ]


def _bm25_by_scan(articles: list[Article], terms: list[str]) -> dict[str, float]:
    """The in-memory index's BM25, computed the slow way: every article, every word."""
    index = MemoryArticleIndex
    docs = [
        (a, [w.lower() for w in a.title.split()], [w.lower() for w in a.body.split()])
        for a in articles
        if a.status == "published"
    ]
    n = len(docs)
    if not n:
        return {}
    means = (max(1.0, sum(len(d[1]) for d in docs) / n), max(1.0, sum(len(d[2]) for d in docs) / n))
    scores: dict[str, float] = {}
    for term in terms:
        df = sum(1 for _, title, body in docs if any(w.startswith(term) for w in title + body))
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for article, title, body in docs:
            for weight, words, mean in (
                (index.TITLE_WEIGHT, title, means[0]),
                (1.0, body, means[1]),
            ):
                tf = sum(1 for w in words if w.startswith(term))
                if tf:
                    norm = tf + index.K1 * (1 - index.B + index.B * len(words) / mean)
                    scores[article.id] = scores.get(article.id, 0.0) + (
                        weight * idf * tf * (index.K1 + 1) / norm
                    )
    return scores


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(
        st.tuples(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4),
            st.lists(st.sampled_from(_WORDS), max_size=10),
            st.booleans(),
        ),
        min_size=1,
        max_size=10,
    ),
    query=st.lists(st.sampled_from([*_WORDS, "al", "ka", "s", "x"]), min_size=1, max_size=4),
)
def test_memory_index_scores_as_bm25_over_every_article(
    docs: list[tuple[list[str], list[str], bool]], query: list[str]
) -> None:
    """The in-memory inverted index scores as BM25 computed by scanning every article, also
    after articles are re-indexed with new text or unpublished."""
    index = MemoryArticleIndex()
    articles = []
    for n, (title, body, published) in enumerate(docs):
        first = fold_article(
            [
                ArticleEvent(
                    "created",
                    f"a{n}",
                    T0,
                    title="Old words",
                    body="alpha " * n,
                    locale="en",
                    status="published",
                )
            ]
        )
        assert first is not None
        index.put(first)  # indexed once with other text, then replaced
        article = attrs.evolve(
            first,
            title=" ".join(title),
            body=" ".join(body),
            status="published" if published else "draft",
        )
        index.put(article)
        articles.append(article)
    terms = list(dict.fromkeys(query))
    expected = _bm25_by_scan(articles, terms)
    hits = index.search(terms, k=100)
    assert sorted(expected) == sorted(hit.article_id for hit in hits)
    for hit in hits:
        assert abs(hit.score - expected[hit.article_id]) < 1e-9
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# --- bad input at the search entry points ---------------------------------------------------------


def test_more_tags_than_an_article_can_carry_find_nothing(desk: SupportDesk) -> None:
    """A search for more tags than an article can carry finds nothing on every store (SQLite
    built one condition a tag: 2,000 were a StoreError, "Expression tree is too large")."""
    desk.create_article("a", title="Reset", body="Reset it.", tags=["t0"], status="published")
    assert [] == desk.search_articles("reset", tags=[f"t{n}" for n in range(2000)])
    assert [] == desk.store.search_articles(["reset"], k=3, tags=[f"t{n}" for n in range(2000)])
    assert ["a"] == [hit.article_id for hit in desk.search_articles("reset", tags=["t0"])]


@pytest.mark.parametrize(
    ("terms", "k"),
    [
        ("reset", 3),  # a string: searched letter by letter
        (None, 3),
        ([1, 2], 3),
        ([b"reset"], 3),
        (["reset"], 2.5),
        (["reset"], "3"),
        (["reset"], None),
        (["reset"], True),
    ],
)
def test_bad_store_search_arguments_are_store_errors(
    desk: SupportDesk, terms: object, k: object
) -> None:
    """A store's search_articles called directly refuses terms that are not a list of strings
    and a k that is not a whole number with a StoreError (not a TypeError or AttributeError,
    nor a search for each letter of a string)."""
    desk.create_article("a", title="Reset", body="Reset it.", status="published")
    with pytest.raises(StoreError, match="search_articles"):
        desk.store.search_articles(terms, k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("term", ["rese\x00", "rese\ud800"])
def test_store_terms_with_nul_or_lone_surrogates_search(desk: SupportDesk, term: str) -> None:
    """A term given to a store directly may hold NUL or a lone surrogate (``query_terms`` never
    makes one): a search, not a StoreError or UnicodeEncodeError; on SQLite such a character
    separates words, as its tokenizer reads it."""
    desk.create_article("a", title="Reset", body="Reset it.", status="published")
    hits = desk.store.search_articles([term], k=3)
    # In memory a term is a prefix of one word: a term with a separator in it matches none.
    expected = ["a"] if isinstance(desk.store, SqliteStore) else []
    assert expected == [hit.article_id for hit in hits]


@pytest.mark.parametrize(
    "call",
    [
        lambda d, _tmp: d.article("a\ud800"),
        lambda d, _tmp: d.article_history("\udfff"),
        lambda d, _tmp: d.update_article("a\ud800", title="New"),
        lambda d, _tmp: d.retire_article("a\ud800"),
        lambda d, _tmp: d.article_viewed("s1", "a\ud800"),
        lambda d, tmp: d.import_articles(tmp),
    ],
    ids=["article", "history", "update", "retire", "viewed", "import"],
)
def test_an_article_id_with_a_lone_surrogate_is_an_event_error_in_every_store(
    desk: SupportDesk, tmp_path: Path, call: Any
) -> None:
    """No store can look up an article id holding a lone surrogate: SqliteStore raised
    UnicodeEncodeError where the in-memory store found no article (a file name that is not
    UTF-8, ``\\xff.md``, gives such an id on import). Every store refuses it alike, and
    nothing is written."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / os.fsdecode(b"\xff.md")).write_text("# Title\n\nbody\n")
    with pytest.raises(EventError, match="lone surrogate") as caught:
        call(desk, folder)
    assert "article_id" == caught.value.field
    assert [] == desk.store.article_events()


def test_article_instants_are_whole_utc_seconds_in_every_store(tmp_path: Path) -> None:
    """An article event's ``at`` is kept as whole seconds in UTC, as every store gives it
    back: the in-memory store kept the clock's microseconds and zone where SqliteStore gave
    back whole UTC seconds. An instant with no epoch second in range is refused when the
    event is made (SQLite wrote it and then could not read it back)."""
    at = datetime(2025, 3, 3, 10, 0, 0, 987654, tzinfo=timezone(timedelta(hours=1)))
    stores = [InMemoryStore(), SqliteStore(tmp_path / "kb.sqlite3")]
    found = []
    for store in stores:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(at))
        desk.create_article("a1", title="T", body="b")
        article = desk.article("a1")
        assert article is not None
        found.append((article.created_at, [e.at for e in desk.article_history("a1")]))
        desk.close()
    assert [(T0, [T0])] * 2 == found
    assert all(when.tzinfo is UTC for when, _ in found)
    with pytest.raises(EventError, match="at is out of range") as caught:
        ArticleEvent("retired", "a1", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
    assert "at" == caught.value.field
