"""The SQLite store's article ranking: FTS5's BM25, added up in Python from kept phrase terms.

BM25 is a sum over the query's phrases of one term per phrase and row, and FTS5's ``bm25()``
computes each term from that phrase's and row's figures alone (the phrase's row count, the
row's instances and length, the index's mean length). So ``bm25()`` of a one-phrase query
is that phrase's term for each of its rows, to the last bit, and a query's score is the sum of
its phrases' terms in the query's order. A phrase's terms are read once (one FTS5 statement)
and kept until the article index changes; a query adds up its phrases' kept terms, in full
only for the rows that can still reach the top *k* (MaxScore, :func:`top`), and sums its hits'
terms again in query order: its scores are ``bm25()``'s, ties and order included.

``bm25()`` over the whole query scored every row the query matched (about 1 µs a row, 2.5 µs
on a slow machine) and set up each prefix phrase's doclists again per statement.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import TypeVar

import attrs

from ._knowledge import MAX_ARTICLE_TAGS

_T = TypeVar("_T")

KEPT_ROWS = 4_000_000
"""Phrase rows an index keeps at most, in all (16 bytes each; then it starts again)."""
KEPT_PHRASES = 50_000
"""Phrases an index keeps at most (then it starts again)."""
KEPT_FILTERS = 256
"""Filters (locale, area, tags) whose rows an index keeps at most (then it starts again)."""
KEPT_FILTER_ROWS = 1_000_000
"""Rows of those filters an index keeps at most, in all (about 75 bytes each in a frozenset;
then it starts again)."""


@attrs.frozen
class Phrase:
    """One query phrase (FTS5 syntax) in the article index: *count* rows hold it; *rows* are
    those rows, ascending, each with its BM25 term in *terms* (both empty for a phrase in
    half of the rows or more, which :meth:`PhraseIndex.used` leaves out, until a query of
    only such phrases reads them); *best* is the largest term (what the phrase can add to
    any row's score)."""

    count: int
    rows: array[int]
    terms: array[float]
    best: float

    def term(self, row: int) -> float:
        """The phrase's BM25 term for *row* (0.0 if the phrase is not in it)."""
        at = bisect_left(self.rows, row)
        return self.terms[at] if at < len(self.rows) and self.rows[at] == row else 0.0


@attrs.define
class PhraseIndex:
    """Phrases' rows and terms, kept for one state of the article index (:meth:`sync`)."""

    _state: tuple[int, int] | None = None  # (last article event, schema version) kept for
    _rows: int = 0  # indexed rows
    _phrases: dict[str, Phrase] = attrs.Factory(dict)
    _kept: int = 0  # rows in _phrases
    _allowed: dict[tuple[object, ...], frozenset[int]] = attrs.Factory(dict)  # filter -> rows
    _allowed_rows: int = 0  # rows in _allowed

    def forget(self) -> None:
        """Drop everything read from the index (it is about to change)."""
        self._state = None

    def sync(self, db: sqlite3.Connection) -> None:
        """Start again if the index changed since it was read: every article write appends to
        the article log, so its last sequence number (and the schema version) tells."""
        state = db.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM article_events), user_version"
            " FROM pragma_user_version"
        ).fetchone()
        if state == self._state and self._kept <= KEPT_ROWS and len(self._phrases) <= KEPT_PHRASES:
            return
        self._state = state
        self._phrases.clear()
        self._allowed.clear()
        self._kept = self._allowed_rows = 0
        self._rows = db.execute("SELECT count(*) FROM article_search").fetchone()[0]

    def used(self, db: sqlite3.Connection, phrases: Sequence[str]) -> list[tuple[int, Phrase]]:
        """The *phrases* that the ranking counts, each with its position in *phrases*: those in
        some but fewer than half of the rows, or if there are none, every phrase in a row
        (bm25() gives a phrase in half of the rows or more an inverse document frequency of
        10⁻⁶, so it cannot reorder the others' hits)."""
        missing = [phrase for phrase in dict.fromkeys(phrases) if phrase not in self._phrases]
        # Counted first: a phrase's terms are read only if it counts.
        for part in in_parts(db, missing):
            counts = db.execute(
                "SELECT " + ", ".join(["(SELECT count(*) FROM article_fts(?))"] * len(part)),
                part,
            ).fetchone()
            for text, count in zip(part, counts, strict=True):
                self._keep(db, text, count, whole=False)
        found = [self._phrases[phrase] for phrase in phrases]
        used = [(n, p) for n, p in enumerate(found) if p.count and 2 * p.count < self._rows]
        if used:
            return used
        for n, kept in enumerate(found):
            if kept.count and not kept.rows:  # read now after all
                found[n] = self._keep(db, phrases[n], kept.count, whole=True)
        return [(n, p) for n, p in enumerate(found) if p.count]

    def _keep(self, db: sqlite3.Connection, phrase: str, count: int, *, whole: bool) -> Phrase:
        """Read and keep *phrase*'s rows and terms: its bm25() alone (only its count if it
        is in half of the rows or more, unless *whole*)."""
        read = []
        if count and (whole or 2 * count < self._rows):
            read = db.execute(
                "SELECT rowid, -bm25(article_fts, 5.0, 1.0) FROM article_fts(?) ORDER BY rowid",
                (phrase,),
            ).fetchall()
        rows = array("q", map(itemgetter(0), read))
        terms = array("d", map(itemgetter(1), read))
        found = self._phrases[phrase] = Phrase(count, rows, terms, max(terms, default=0.0))
        self._kept += len(rows)
        return found

    def allowed(
        self, db: sqlite3.Connection, locale: str | None, tags: Sequence[str], area: str | None
    ) -> frozenset[int] | None:
        """The rows of the articles in *locale* and *area* with every one of *tags* (``None``:
        no filter, every row)."""
        if locale is None and area is None and not tags:
            return None
        if len(set(tags)) > MAX_ARTICLE_TAGS:  # no article has them all (nor one condition each)
            return frozenset()
        key = (locale, area, *tags)
        rows = self._allowed.get(key)
        if rows is None:
            rows = frozenset(
                row
                for (row,) in db.execute(
                    "SELECT id FROM article_search WHERE (? IS NULL OR locale = ?)"
                    " AND (? IS NULL OR area = ?)"
                    + " AND EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)"
                    * len(tags),
                    (locale, locale, area, area, *tags),
                )
            )
            if (
                len(self._allowed) >= KEPT_FILTERS
                or self._allowed_rows + len(rows) > KEPT_FILTER_ROWS
            ):
                self._allowed.clear()
                self._allowed_rows = 0
            self._allowed[key] = rows
            self._allowed_rows += len(rows)
        return rows


def in_parts(db: sqlite3.Connection, items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """*items* in parts small enough to be one statement's variables (and result columns)."""
    size = min(500, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    for at in range(0, len(items), size):
        yield items[at : at + size]


def top(
    phrases: Sequence[Phrase], k: int, allowed: frozenset[int] | None
) -> list[tuple[int, float]]:
    """The *k* rows with the highest sums of *phrases*' terms (of *allowed* rows, if given),
    best first, ties by lower row, each with its sum in *phrases*' order (as bm25() sums).

    MaxScore, term at a time: the phrases are added rarest first (highest *best*). Once the
    *k*-th best partial sum is above what the phrases still to come can add together, no row
    outside the partial sums can reach the top *k*: the rest only add to the rows kept, and a
    kept row that cannot reach the *k*-th best any more is dropped. Partial sums are added in
    another order than bm25()'s, so they may differ from its by rounding: the margins cover
    that, and the rows left at the end are summed again in *phrases*' order. A *k* below 1
    finds no rows.
    """
    if k < 1:  # the k-th best partial sum below would not exist
        return []
    order = sorted(phrases, key=lambda phrase: -phrase.best)
    # still[n]: what the phrases order[n:] can add to a row together.
    still = [*reversed(list(itertools.accumulate(p.best for p in reversed(order)))), 0.0]
    scores: dict[int, float] = {}
    closed = False
    for n, phrase in enumerate(order):
        # No partial sum is above what the phrases added so far can give: until that is more
        # than what the phrases to come can, the k-th best cannot be either.
        if len(scores) >= k and still[0] - still[n] > still[n]:
            floor = _floor(scores, k, still[0])
            closed = closed or floor > still[n]
            if closed:
                scores = {row: s for row, s in scores.items() if s + still[n] >= floor}
        if closed and 20 * len(scores) < len(phrase.rows):  # few kept rows: look each up
            for row in scores:
                scores[row] += phrase.term(row)
            continue
        # The phrase's rows as a dict and the set operations run in C; Python adds only
        # where the phrase meets the rows summed so far.
        if allowed is None:
            found = dict(zip(phrase.rows, phrase.terms, strict=True))
        else:
            found = {r: t for r, t in zip(phrase.rows, phrase.terms, strict=True) if r in allowed}
        if closed:  # only the kept rows
            for row in scores.keys() & found.keys():
                scores[row] += found[row]
        else:
            for row in scores.keys() & found.keys():
                found[row] += scores[row]
            scores.update(found)
    if len(scores) > k:  # the floor after the last phrase: the rows that can still be in
        floor = _floor(scores, k, still[0])
        scores = {row: s for row, s in scores.items() if s >= floor}
    exact = []
    for row in scores:
        score = 0.0
        for phrase in phrases:
            score += phrase.term(row)
        exact.append((-score, row))
    return [(row, -negated) for negated, row in heapq.nsmallest(k, exact)]


def _floor(scores: dict[int, float], k: int, total: float) -> float:
    """The *k*-th best of *scores* (partial sums of terms adding up to at most *total*), less
    more than their rounding error: a row whose exact sum can reach the top *k* has a partial
    sum at least this, plus what the phrases still to come can add."""
    return heapq.nlargest(k, scores.values())[-1] - 1e-9 * (1.0 + total)
