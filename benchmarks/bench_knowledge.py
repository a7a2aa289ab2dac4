"""Knowledge-base search on SQLite FTS5: query latency and the cost of suggestions per ingest.

10,000 published articles (titles of 4-8 words, bodies of 80-160 words, drawn from a
3,000-word vocabulary with a Zipf-like skew, so some words are common and most are rare),
then 100,000 queries of 2-8 words (a share of them prefixes, some engine syntax such as
``"`` or ``NEAR(``) through ``SupportDesk.search_articles`` (k=5, with snippets). Reported:
p50/p99/max latency per query, and as the baseline in the same run the bare FTS5 statement
(``MATCH`` ordered by ``rank``, no snippet, no filters) on the same index, with the ratio.

Suggestion cost per ingest: the same 2,000 new-ticket messages ingested by a desk with
``suggestions = 3`` and by one with ``suggestions = 0`` (same store kind, fresh files).

Target (issue 21): p99 <= 5 ms per query. The machine's load is printed beside the figures.

Where the time goes (each statement timed per query over 10,000 of these queries, CPU ms,
load 3-5 on 2 cores; mean, then the queries around p99). Before (main of 2026-12-07): mean
3.42 = phrase counts 0.49 + BM25 ranking 1.97 + snippets 0.89; p99 9.1 = 0.95 + 5.86 + 2.16.
Ranking costs ~0.94 µs per matching row (bm25() per row: its phrase instances and the row's
size) plus ~0.07 µs per phrase row to count each phrase (once for the term filter, once inside
bm25()); every term is a prefix phrase, so each statement merges each phrase's doclists again.
The p99 queries are 6-8 words of the long tail (each in ~300 articles: the vocabulary's
uniform half) matching 2,500-8,000 rows; 0.12 % of queries have only words in half of the
articles or more and score every row (12-19 ms; too few to set p99). Snippets took one
statement per hit. After: mean 2.25 = counts 0.04 (kept until the index changes) + ranking
1.66 + snippets 0.46 (one statement for all hits); p99 5.5 = 0.1 + 4.25 + 0.98. The ranking
of a query matching many rows scores only the rows that can reach the top k (exact MaxScore,
see ``SqliteStore._ranked_pruned``; top 5 identical to scoring every row on all 20,000
queries compared); what is left per such query is FTS5 walking the full OR once, bm25()'s
own phrase counts, and the candidate test (~1 ms: its expression repeats the prefix phrases).
Full runs (100,000 queries; main at load 6.4, after at load 3.5): wall p50 4.93 -> 2.14 ms,
p99 26.0 -> 9.0 ms; CPU p50 3.11 -> 2.05 ms, p99 9.03 -> 5.56 ms; suggestions per ingest
39.6 -> 15.5 ms wall, 18.8 -> 14.1 ms CPU (a message's 30-odd words: too many rare phrases
for the pruning, so most of its rows are still scored).
Then the candidate rows are built in Python from each rare phrase's kept rowids (an FTS5
expression of the rare phrases merged each prefix phrase's doclists again, ~1.3 ms on the
heaviest queries; the set operations and passing the rowids cost ~0.4 ms). Same hits. The
1,000 heaviest of 20,000 queries, interleaved: CPU mean 4.8-5.1 -> 4.35-4.42 ms; 20,000
queries, cold start: CPU mean 2.13 -> 1.99, p50 1.98 -> 1.85, p99 5.33 -> 5.19 ms. Full runs
side by side (load 3.2): CPU p50 1.99 -> 1.87 ms, p99 5.18 -> 5.21 ms (noise: p99 is not met);
wall p50 2.16 -> 2.00 ms, p99 9.96 -> 9.69 ms. What is left at p99 (~5 ms CPU): FTS5
setting up the prefix phrases twice (ranking and snippets, ~0.35 ms each), walking the full
OR (~1 ms), bm25() of the ~1,500 candidates (~1.4 ms) and the snippet statement's walk.

    python benchmarks/bench_knowledge.py [--quick]     # --quick: 10,000 queries
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures import add_options, finish, load_line

from supportkit import FrozenClock, InboundMessage, SqliteStore, SupportDesk
from supportkit._knowledge import query_terms

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Pronounceable made-up words (so Porter stemming has something to chew on)."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    endings = ["", "", "s", "ing", "ed", "ion", "er"]
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.randint(2, 4)
        stem = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        words.add(stem + rng.choice(endings))
    return sorted(words)


def zipf_sampler(rng: random.Random, words: list[str]) -> list[str]:
    """A list to sample from where word i appears about 1/(i+1) as often as word 0."""
    pool = []
    for rank, word in enumerate(words):
        pool.extend([word] * max(1, int(200 / (rank + 1))))
    return pool


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "10,000 queries instead of 100,000")
    args = parser.parse_args()
    articles, queries, ingests = 10_000, (10_000 if args.quick else 100_000), 2_000
    rng = random.Random(21)
    words = vocabulary(rng)
    pool = zipf_sampler(rng, words)
    tmp = Path(tempfile.mkdtemp())

    store = SqliteStore(tmp / "kb.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
    start = time.perf_counter()
    for n in range(articles):
        title = " ".join(rng.choice(pool) for _ in range(rng.randint(4, 8))).capitalize()
        body = " ".join(rng.choice(pool) for _ in range(rng.randint(80, 160))) + "."
        desk.create_article(
            f"a-{n}",
            title=title,
            body=body,
            tags=[f"t{n % 7}"],
            area=f"area{n % 5}",
            status="published",
        )
    load_s = time.perf_counter() - start

    syntax = ['"', "NEAR(", "*", "a OR", "^"]
    texts = []
    for _ in range(queries):
        chosen = [
            rng.choice(words if rng.random() < 0.5 else pool) for _ in range(rng.randint(2, 8))
        ]
        if rng.random() < 0.3:  # a word typed halfway
            chosen[-1] = chosen[-1][: max(3, len(chosen[-1]) // 2)]
        if rng.random() < 0.02:
            chosen.append(rng.choice(syntax))
        texts.append(" ".join(chosen))

    latencies, cpu = [], []
    hits = 0
    for text in texts:
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        hits += len(desk.search_articles(text, k=5))
        cpu.append(time.thread_time() - begin_cpu)
        latencies.append(time.perf_counter() - begin)
    latencies.sort()
    cpu.sort()

    # Baseline: the bare FTS5 statement on the same index (no snippet, filters or objects).
    db = store._db  # the benchmark measures the engine under the store
    bare, bare_cpu = [], []
    for text in texts[: len(texts) // 10]:
        match = " OR ".join(f'"{t}"*' for t in query_terms(text))
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        if match:
            db.execute(
                "SELECT rowid FROM article_fts WHERE article_fts MATCH ? ORDER BY rank LIMIT 5",
                (match,),
            ).fetchall()
        bare_cpu.append(time.thread_time() - begin_cpu)
        bare.append(time.perf_counter() - begin)
    bare.sort()
    bare_cpu.sort()

    # Suggestion cost per ingest: the same messages into a desk with and without suggestions.
    messages = [
        InboundMessage(
            f"m-{n}",
            "email",
            f"c{n}@x.example",
            T0 + timedelta(seconds=n),
            subject=" ".join(rng.choice(pool) for _ in range(4)),
            body=" ".join(rng.choice(pool) for _ in range(30)),
        )
        for n in range(ingests)
    ]
    per_ingest, per_ingest_cpu = {}, {}
    for k in (3, 0):
        with SqliteStore(tmp / f"ingest-{k}.sqlite3") as other:
            target = SupportDesk(store=other, plugins=None, clock=FrozenClock(T0), ladder=None)
            if k:  # the same 10,000 articles, copied by event
                for event in store.article_events():
                    other.append_article(event.article_id, [event], expected_version=0)
            target.suggestions = k
            begin, begin_cpu = time.perf_counter(), time.thread_time()
            for message in messages:
                target.ingest(message)
            per_ingest_cpu[k] = (time.thread_time() - begin_cpu) / ingests
            per_ingest[k] = (time.perf_counter() - begin) / ingests
    store.close()

    ms = 1000
    print(
        f"bench_knowledge: {articles:,} articles (loaded in {load_s:.1f} s), "
        f"{queries:,} queries, {load_line()}"
    )
    print(
        f"  search_articles  p50 {percentile(latencies, 0.5) * ms:.3f} ms  "
        f"p99 {percentile(latencies, 0.99) * ms:.3f} ms  max {latencies[-1] * ms:.1f} ms  "
        f"({hits / queries:.2f} hits per query; target p99 <= 5 ms)"
    )
    print(
        f"    CPU time       p50 {percentile(cpu, 0.5) * ms:.3f} ms  "
        f"p99 {percentile(cpu, 0.99) * ms:.3f} ms"
    )
    print(
        f"  bare FTS5 MATCH  p50 {percentile(bare, 0.5) * ms:.3f} ms  "
        f"p99 {percentile(bare, 0.99) * ms:.3f} ms  (baseline, {len(bare):,} queries)"
    )
    print(
        f"    CPU time       p50 {percentile(bare_cpu, 0.5) * ms:.3f} ms  "
        f"p99 {percentile(bare_cpu, 0.99) * ms:.3f} ms"
    )
    print(
        f"  ratio search/bare at p50 {percentile(latencies, 0.5) / percentile(bare, 0.5):.2f}x,"
        f" at p99 {percentile(latencies, 0.99) / percentile(bare, 0.99):.2f}x"
    )
    print(
        f"  ingest with 3 suggestions {per_ingest[3] * ms:.3f} ms, without "
        f"{per_ingest[0] * ms:.3f} ms: suggestions cost {(per_ingest[3] - per_ingest[0]) * ms:.3f}"
        f" ms per ingest ({ingests:,} new tickets each)"
    )
    print(
        f"    CPU time: with {per_ingest_cpu[3] * ms:.3f} ms, without {per_ingest_cpu[0] * ms:.3f}"
        f" ms: {(per_ingest_cpu[3] - per_ingest_cpu[0]) * ms:.3f} ms per ingest"
    )
    finish(
        args,
        {
            "kb_search_p50_ms": percentile(latencies, 0.5) * ms,
            "kb_search_p99_ms": percentile(latencies, 0.99) * ms,
            "kb_search_cpu_p99_ms": percentile(cpu, 0.99) * ms,
            "kb_bare_fts_p99_ms": percentile(bare, 0.99) * ms,
            "kb_suggestion_cost_per_ingest_ms": (per_ingest[3] - per_ingest[0]) * ms,
            "kb_suggestion_cpu_per_ingest_ms": (per_ingest_cpu[3] - per_ingest_cpu[0]) * ms,
        },
    )


if __name__ == "__main__":
    main()
