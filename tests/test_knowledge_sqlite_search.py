"""The SQLite store's article search: its shortcuts (kept phrase terms, MaxScore pruning)
give what FTS5's bm25() over the whole query gives, and the kept terms follow the index."""

from __future__ import annotations

import random
import sqlite3
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import supportkit._ftsrank
import supportkit._sqlite
from supportkit import (
    FrozenClock,
    InboundMessage,
    IngestResult,
    SqliteStore,
    StoreError,
    SupportDesk,
)
from supportkit._ftsrank import Phrase, top
from supportkit._knowledge import SNIPPET_CHARACTERS, query_terms, snippet

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _corpus(desk: SupportDesk, rng: random.Random, articles: int) -> list[str]:
    """*articles* published articles over a small skewed vocabulary; returns the words."""
    words = [f"w{n:03d}{'xyz'[n % 3]}" for n in range(60)]
    pool = [word for rank, word in enumerate(words) for _ in range(max(1, 24 // (rank + 1)))]
    for n in range(articles):
        desk.create_article(
            f"a-{n}",
            title=" ".join(rng.choice(pool) for _ in range(rng.randint(2, 5))),
            body=" ".join(rng.choice(pool) for _ in range(rng.randint(10, 40))),
            tags=[f"t{n % 3}"],
            area=f"area{n % 2}",
            status="published",
        )
    return words


def _bm25_top(
    store: SqliteStore, terms: list[str], k: int, filters: dict[str, Any]
) -> list[tuple[str, float]]:
    """The reference: FTS5's bm25() over the whole query, as one statement (the phrases in
    half of the articles or more left out unless no other phrase matches, as documented)."""
    db = store._db
    phrases = [f'"{t}"*' if len(t) >= 3 else f'"{t}"' for t in terms]
    articles = db.execute("SELECT count(*) FROM article_search").fetchone()[0]
    counts = {
        p: db.execute("SELECT count(*) FROM article_fts(?)", (p,)).fetchone()[0] for p in phrases
    }
    used = [p for p in phrases if counts[p] and 2 * counts[p] < articles] or [
        p for p in phrases if counts[p]
    ]
    if not used:
        return []
    tags = filters.get("tags", [])
    return [
        (article_id, score)
        for article_id, score in db.execute(
            "SELECT s.article_id, -bm25(article_fts, 5.0, 1.0) AS score FROM article_fts"
            " JOIN article_search s ON s.id = article_fts.rowid WHERE article_fts MATCH ?"
            " AND (? IS NULL OR s.area = ?)"
            + " AND EXISTS (SELECT 1 FROM json_each(s.tags) WHERE value = ?)" * len(tags)
            + " ORDER BY score DESC, article_fts.rowid LIMIT ?",
            (" OR ".join(used), filters.get("area"), filters.get("area"), *tags, k),
        )
    ]


def test_ranking_equals_bm25_over_the_whole_query(tmp_path: Path) -> None:
    """Each query's hits (ids, scores to the last bit, order, ties by row) with and without
    filters, for several k, equal FTS5's bm25() over the whole query in one statement: the
    kept per-phrase terms, added up with MaxScore pruning, change nothing."""
    rng = random.Random(7)
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    words = _corpus(desk, rng, 300)
    queries = [
        " ".join(rng.choice(words)[: rng.choice([3, 5, 5])] for _ in range(rng.randint(1, 8)))
        for _ in range(150)
    ]
    filters: list[dict[str, Any]] = [{}, {"area": "area1"}, {"tags": ["t2"]}]
    compared = 0
    for query in queries:
        for where in filters:
            for k in (1, 5, 20):
                hits = desk.search_articles(query, k=k, **where)
                expected = _bm25_top(store, query_terms(query), k, where)
                assert expected == [(hit.article_id, hit.score) for hit in hits]
                compared += bool(expected)
    assert compared >= 1000  # of 1,350 searches


@settings(max_examples=300, deadline=None)
@given(
    phrases=st.lists(
        st.dictionaries(
            st.integers(1, 60),
            st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 0.1 + 0.2, 1e-6, 7.125]),
            max_size=40,
        ),
        min_size=1,
        max_size=8,
    ),
    k=st.integers(1, 8),
    allowed=st.none() | st.frozensets(st.integers(1, 60)),
)
def test_top_equals_summing_every_row(
    phrases: list[dict[int, float]], k: int, allowed: frozenset[int] | None
) -> None:
    """MaxScore's top *k* (ties included: the few term values make many) equals summing every
    row's terms in the phrases' order and sorting by score, then row."""
    kept = [
        Phrase(
            len(p),
            array("q", sorted(p)),
            array("d", [p[r] for r in sorted(p)]),
            max(p.values(), default=0.0),
        )
        for p in phrases
    ]
    every: dict[int, float] = {}
    for row in sorted({row for p in phrases for row in p}):
        if allowed is None or row in allowed:
            score = 0.0
            for p in phrases:
                score += p.get(row, 0.0)
            every[row] = score
    expected = sorted(every.items(), key=lambda item: (-item[1], item[0]))[:k]
    assert expected == top(kept, k, allowed)


def test_kept_phrase_counts_follow_every_write(tmp_path: Path) -> None:
    """A search after an article is published, changed or archived, through this store or
    another connection to the same file, sees the index as it is now (the kept phrase
    counts decide which words count)."""
    path = tmp_path / "kb.sqlite3"
    one = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    other = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    one.create_article("a-1", title="Router reset", body="Hold the button.", status="published")
    one.create_article("a-2", title="Billing", body="Invoices monthly.", status="published")
    assert ["a-1"] == [hit.article_id for hit in one.search_articles("router")]
    # Another connection publishes more router articles: "router" is now in half of them
    # and more, so it counts only when nothing else matches, as from a fresh start.
    for n in range(3, 6):
        other.create_article(f"a-{n}", title="Router", body="Lights.", status="published")
    fresh = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    expected = [hit.article_id for hit in fresh.search_articles("router invoices")]
    assert expected == [hit.article_id for hit in one.search_articles("router invoices")]
    # This store's own writes: retiring every router article leaves none to find.
    for n in (1, 3, 4, 5):
        one.retire_article(f"a-{n}")
    assert [] == one.search_articles("router")
    assert ["a-2"] == [hit.article_id for hit in one.search_articles("router invoices")]


def test_kept_phrase_terms_follow_every_write(tmp_path: Path) -> None:
    """The ranking adds up kept terms of each phrase: after articles are published through
    another connection and retired through this store, its hits equal those of a store
    opened afresh on the same file."""
    rng = random.Random(11)
    path = tmp_path / "kb.sqlite3"
    one = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    other = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    words = _corpus(one, rng, 300)
    queries = [" ".join(rng.sample(words, rng.randint(3, 6))) for _ in range(60)]

    def hits(desk: SupportDesk) -> list[object]:
        return [desk.search_articles(q, k=5) for q in queries]

    hits(one)  # keeps the terms of the queries' phrases
    for n, query in enumerate(queries[:30]):  # strong new hits for half of the queries
        other.create_article(f"new-{n}", title=query, body=query, status="published")
    fresh = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    assert hits(fresh) == hits(one)
    for n in range(0, 300, 3):
        one.retire_article(f"a-{n}")
    fresh = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    assert hits(fresh) == hits(one)


def test_searches_inside_a_batch_see_its_article_writes_and_not_a_rolled_back_one(
    tmp_path: Path,
) -> None:
    """Inside ``store.batch()`` the phrase counts are kept for the batch only: a search
    after an article write of the same batch finds the new article, and once a batch that
    published one rolls back, searches no longer find it."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    desk.create_article("a-1", title="Billing", body="Invoices monthly.", status="published")
    with store.batch():
        assert [] == desk.search_articles("router")
        desk.create_article("a-2", title="Router reset", body="Hold it.", status="published")
        assert ["a-2"] == [hit.article_id for hit in desk.search_articles("router")]
    found: list[str] = []

    def publish_then_fail() -> None:
        with store.batch():
            desk.create_article("a-3", title="Modem", body="Blinking.", status="published")
            found.extend(hit.article_id for hit in desk.search_articles("modem"))
            raise RuntimeError("the batch fails")

    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert ["a-3"] == found
    assert [] == desk.search_articles("modem")
    assert ["a-2"] == [hit.article_id for hit in desk.search_articles("router modem")]


def test_a_batch_reads_each_phrase_once(tmp_path: Path) -> None:
    """``ingest_many`` reads a phrase's count and terms from the index once, not once per
    message: ten messages run the statements one does (the index cannot change under the
    batch's write lock but by the batch's own article writes)."""

    def index_reads(messages: int) -> list[str]:
        store = SqliteStore(tmp_path / f"kb-{messages}.sqlite3")
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        desk.create_article("a-1", title="Billing", body="Invoices monthly.", status="published")
        desk.create_article("a-2", title="Router", body="Lights.", status="published")
        desk.create_article("a-3", title="Modem", body="Blinks.", status="published")
        reads: list[str] = []
        store._db.set_trace_callback(  # the statements the batch runs
            lambda sql: reads.append(sql) if "article_fts(" in sql else None
        )
        results = desk.ingest_many(
            [
                InboundMessage(f"m-{n}", "email", f"c-{n}@example.com", T0, body="my invoice")
                for n in range(messages)
            ]
        )
        assert all(isinstance(result, IngestResult) for result in results)
        return reads

    assert 2 == len(index_reads(1)) == len(index_reads(10))  # the count, then the terms


@pytest.mark.parametrize(
    ("body", "terms", "expected"),
    [
        ("Click Reset to start over.", ["start"], "Click Reset to **start** over."),
        ("Reset it!  ", ["res"], "**Reset** it!"),
        ("No match here.", ["zzz"], "No match here."),
        ("", ["a"], ""),
        (
            " ".join(f"w{n}" for n in range(40)) + ".",
            ["w20"],
            "…w16 w17 w18 w19 **w20** w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31…",
        ),
        (
            " ".join(f"w{n}" for n in range(40)) + ".",
            ["w39"],
            "…w24 w25 w26 w27 w28 w29 w30 w31 w32 w33 w34 w35 w36 w37 w38 **w39**.",
        ),
        ("Passwords and PASSWORD", ["password"], "**Passwords** and **PASSWORD**"),
    ],
)
def test_snippet_is_a_window_around_the_first_match(
    body: str, terms: list[str], expected: str
) -> None:
    """A snippet: 16 words around the first word beginning with a term (a quarter of them
    before it), every such word marked, "…" where words are left out, the body's closing
    punctuation when the window reaches its end."""
    assert expected == snippet(body, terms)


def test_a_k_below_one_finds_nothing(tmp_path: Path) -> None:
    """``SqliteStore.search_articles`` with *k* 0 or below returns no hits, as the in-memory
    stores do (MaxScore asked for the k-th best partial sum of none and raised IndexError)."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    _corpus(desk, random.Random(3), 40)
    terms = query_terms("w000x w001y w002z w005z w010y w020z")
    assert store.search_articles(terms, k=3)  # the query finds articles
    assert [[], []] == [store.search_articles(terms, k=k) for k in (0, -1)]


def test_a_search_reads_one_state_of_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search reads the index's state, the phrases' terms and the hits' text in one read
    transaction: an article that another connection retires while the ranking runs is
    still a hit of this search (the text was read in a later statement, without the row:
    KeyError), and the next search no longer finds it."""
    path = tmp_path / "kb.sqlite3"
    store = SqliteStore(path)
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    other = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    desk.create_article("a-1", title="Router reset", body="Hold the button.", status="published")
    desk.create_article("a-2", title="Billing", body="Invoices monthly.", status="published")
    desk.create_article("a-3", title="Modem", body="Blinking lights.", status="published")
    ranked = supportkit._sqlite.top
    retired: list[str] = []

    def retire_while_ranking(*args: Any) -> list[tuple[int, float]]:
        found = ranked(*args)
        if not retired:
            other.retire_article("a-1")
            retired.append("a-1")
        return found

    monkeypatch.setattr(supportkit._sqlite, "top", retire_while_ranking)
    assert ["a-1"] == [hit.article_id for hit in desk.search_articles("router")]
    assert [] == desk.search_articles("router")


def test_a_short_term_marks_only_its_own_word(tmp_path: Path) -> None:
    """On SQLite a one- or two-letter term matches a whole word only, so its snippet marks
    that word and centres on it, not on a longer word that begins with it ("**with**")."""
    desk = SupportDesk(
        store=SqliteStore(tmp_path / "kb.sqlite3"), plugins=None, clock=FrozenClock(T0)
    )
    body = (
        "Start with the Windows settings, find the network list, then look for the tab"
        " named Wi Fi and turn it on."
    )
    desk.create_article("a-1", title="Wireless", body=body, status="published")
    [hit] = desk.search_articles("wi fi")
    expected = "…find the network list, then look for the tab named **Wi** **Fi** and turn it on."
    assert expected == hit.snippet


def test_a_term_with_a_quote_is_text(tmp_path: Path) -> None:
    """A term given to the store directly may hold a double quote (``query_terms`` never
    makes one): it is text inside its FTS5 phrase, not an unterminated string (StoreError)."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    desk.create_article("a-1", title="Say hello", body="Wave.", status="published")
    desk.create_article("a-2", title="Billing", body="Invoices.", status="published")
    desk.create_article("a-3", title="Modem", body="Lights.", status="published")
    assert ["a-1"] == [hit.article_id for hit in store.search_articles(['say"hel'], k=3)]
    assert [] == store.search_articles(['"', '""*'], k=3)


def test_kept_filter_rows_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows kept for the searches' filters count toward ``KEPT_FILTER_ROWS`` (256
    filters of every row each were kept before, about 75 bytes a row): past it the index
    starts the filters again, and the hits stay bm25()'s."""
    monkeypatch.setattr(supportkit._ftsrank, "KEPT_FILTER_ROWS", 150, raising=False)
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    words = _corpus(desk, random.Random(5), 300)  # tags t0, t1, t2, areas area0, area1
    for where in [{"area": "area0"}, {"area": "area1"}, {"tags": ["t0"]}, {"tags": ["t1"]}] * 2:
        hits = desk.search_articles(words[3], k=5, **where)
        expected = _bm25_top(store, query_terms(words[3]), 5, where)
        assert expected == [(hit.article_id, hit.score) for hit in hits]
        kept = sum(map(len, store._index._allowed.values()))
        assert 0 < kept <= 150


def test_a_search_on_a_closed_store_is_a_store_error(tmp_path: Path) -> None:
    """Searching a closed store is a StoreError, as every other read of it is (asking the
    connection whether a transaction is open raised sqlite3.ProgrammingError)."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    store.close()
    with pytest.raises(StoreError, match="article search failed"):
        store.search_articles(["router"], k=3)


def test_many_terms_and_a_large_k_fit_the_statements(tmp_path: Path) -> None:
    """The store may be given more terms, or a larger *k*, than one SQLite statement takes
    variables (999 before SQLite 3.32, 32,766 after, lowered to 40 here): the phrases are
    counted, and the hits' text read, in parts, and the hits are bm25()'s."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    words = _corpus(desk, random.Random(9), 120)
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)
    terms = [*words, *(f"zz{n:03d}" for n in range(60))]  # 120 phrases, 60 found nowhere
    hits = store.search_articles(terms, k=100)
    assert 100 == len(hits)
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 1000)
    assert _bm25_top(store, terms, 100, {}) == [(hit.article_id, hit.score) for hit in hits]


@pytest.mark.parametrize(
    ("body", "terms", "expected"),
    [
        ("a" * 100_000, ["aaa"], "**" + "a" * 40 + "…**"),
        ("a" * 100_000, ["zzz"], "a" * 40 + "…"),
        ("Reset " + "-" * 50_000 + " password.", ["pass"], "Reset " + "-" * 39 + "…**password**."),
        ("Reset it" + "!" * 50_000, ["res"], "**Reset** it…"),
        (
            " ".join(["x" * 60] * 20) + " key",
            ["key"],
            "…" + " ".join(["x" * 40 + "…"] * 9) + " **key**",  # as many as fit
        ),
    ],
)
def test_long_runs_are_cut_in_a_snippet(body: str, terms: list[str], expected: str) -> None:
    """A word or a run between words longer than 40 characters shows its first 40 and "…"
    (a matched word stays marked), so one huge word is no huge snippet."""
    assert expected == snippet(body, terms)


@settings(max_examples=200, deadline=None)
@given(
    runs=st.lists(
        st.tuples(
            st.sampled_from(["a", "é", "b"]),
            st.integers(1, 120),
            st.sampled_from([" ", ".", " - "]),
            st.integers(1, 60),
        ),
        max_size=30,
    ),
    term=st.sampled_from(["a", "aa", "é", "zz"]),
)
def test_a_snippet_stays_short_and_shows_the_first_match(
    runs: list[tuple[str, int, str, int]], term: str
) -> None:
    """However long the body's words and the runs between them, a snippet holds at most
    SNIPPET_CHARACTERS characters besides its ** marks, and marks a word if the body has a
    match."""
    words = [letter * length for letter, length, _, _ in runs]
    body = "".join(word + gap * times for word, (_, _, gap, times) in zip(words, runs, strict=True))
    text = snippet(body, [term])
    assert len(text.replace("**", "")) <= SNIPPET_CHARACTERS
    assert ("**" in text) == any(word.startswith(term) for word in words)
