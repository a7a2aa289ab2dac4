"""The SQLite store's article search: its shortcuts (kept phrase counts and rowids, pruned
ranking, one snippet statement) give what scoring every matching row gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

import supportkit._sqlite as sqlite_store
from supportkit import FrozenClock, InboundMessage, IngestResult, SqliteStore, SupportDesk

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


def test_pruned_ranking_equals_scoring_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pruning tried on every query (and the pair candidates on any number of rare
    phrases), each query's hits (ids, scores, order and snippets), with and without filters,
    equal those of the full ranking; the pruning took effect on a good share of them."""
    rng = random.Random(7)
    desk = SupportDesk(
        store=SqliteStore(tmp_path / "kb.sqlite3"), plugins=None, clock=FrozenClock(T0)
    )
    words = _corpus(desk, rng, 300)
    queries = [
        " ".join(rng.choice(words)[: rng.choice([3, 5, 5])] for _ in range(rng.randint(2, 8)))
        for _ in range(150)
    ]
    filters: list[dict[str, object]] = [{}, {"area": "area1"}, {"tags": ["t2"]}]
    monkeypatch.setattr(sqlite_store, "_PRUNE_FROM", 0)
    monkeypatch.setattr(sqlite_store, "_PAIR_PHRASES", 32)
    pruned_runs = 0
    original = SqliteStore._ranked_pruned

    def counted(self: SqliteStore, *args: object) -> object:
        nonlocal pruned_runs
        ranked = original(self, *args)  # type: ignore[arg-type]
        pruned_runs += ranked is not None
        return ranked

    monkeypatch.setattr(SqliteStore, "_ranked_pruned", counted)
    pruned = [desk.search_articles(q, k=5, **f) for q in queries for f in filters]  # type: ignore[arg-type]
    monkeypatch.setattr(SqliteStore, "_ranked_pruned", lambda self, *args: None)
    full = [desk.search_articles(q, k=5, **f) for q in queries for f in filters]  # type: ignore[arg-type]
    assert full == pruned
    assert pruned_runs >= 100  # of 450 searches


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


def test_kept_phrase_rowids_follow_every_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pruned ranking's candidates come from kept rowids of each rare phrase: after
    articles are published through another connection and retired through this store, its
    hits equal those of a store opened afresh on the same file."""
    rng = random.Random(11)
    path = tmp_path / "kb.sqlite3"
    one = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    other = SupportDesk(store=SqliteStore(path), plugins=None, clock=FrozenClock(T0))
    words = _corpus(one, rng, 300)
    queries = [" ".join(rng.sample(words, rng.randint(3, 6))) for _ in range(60)]
    monkeypatch.setattr(sqlite_store, "_PRUNE_FROM", 0)
    monkeypatch.setattr(sqlite_store, "_PAIR_PHRASES", 32)

    def hits(desk: SupportDesk) -> list[object]:
        return [desk.search_articles(q, k=5) for q in queries]

    hits(one)  # keeps the rowids of the queries' rare phrases
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


def test_a_batch_counts_each_phrase_once(tmp_path: Path) -> None:
    """``ingest_many`` asks the index how many articles a phrase matches once per batch,
    not once per message (the counts cannot change under the batch's write lock but by the
    batch's own article writes)."""
    store = SqliteStore(tmp_path / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    desk.create_article("a-1", title="Billing", body="Invoices monthly.", status="published")
    counts: list[str] = []
    store._db.set_trace_callback(  # the statements the batch runs
        lambda sql: counts.append(sql) if "count(*)" in sql else None
    )
    messages = [
        InboundMessage(f"m-{n}", "email", f"c-{n}@example.com", T0, body="where is my invoice")
        for n in range(10)
    ]
    results = desk.ingest_many(messages)
    assert all(isinstance(result, IngestResult) for result in results)
    assert 1 == len(counts)
