"""The knowledge base as data: article events, the article fold, query terms and an in-memory
search index. Nothing here does I/O; the stores keep the article log and the search index.

An article's log is its :class:`ArticleEvent` list (``created`` first, then ``updated`` and
``retired``), its version the number of events. :func:`apply_article` folds one event into the
article; every store indexes the *published* articles for :meth:`SupportDesk.search_articles
<supportkit.SupportDesk.search_articles>`.

A query is reduced to :func:`query_terms` (lower-case words, at most :data:`MAX_QUERY_TERMS`,
from the first :data:`MAX_QUERY_LENGTH` characters), so any text is a valid query and no engine
syntax (``"``, ``NEAR(``, ``:*``) ever reaches a search engine. Every term matches as a prefix.
Words are what SQLite FTS5's unicode61 tokenizer reads as words (:mod:`supportkit._unicode61`),
so the in-memory index (:func:`search_words`) and the SQLite store split and fold text alike.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ._kbhtml import article_text
from ._model import _encodable
from ._time import from_epoch, to_epoch
from ._unicode61 import BEYOND_BMP, BMP_WORD, CASE, FOLD, WORD
from .exceptions import ConcurrencyError, EventError, StoreError

__all__ = [
    "ARTICLE_EVENT_KINDS",
    "ARTICLE_STATUSES",
    "MAX_ARTICLE_BODY",
    "MAX_QUERY_LENGTH",
    "MAX_QUERY_TERMS",
    "Article",
    "ArticleEvent",
    "ArticleHit",
    "ArticleStats",
    "MemoryArticleIndex",
    "SearchEvaluation",
    "SuggestionReport",
    "apply_article",
    "article_id_of",
    "check_article_append",
    "check_search",
    "evaluate_search",
    "fold_article",
    "query_terms",
    "search_words",
    "suggestion_report",
]

#: The article event kinds, in the order an article's life uses them.
ARTICLE_EVENT_KINDS = ("created", "updated", "retired")
#: An article's statuses: only ``published`` articles are found by search.
ARTICLE_STATUSES = ("draft", "published", "archived")
#: The longest article body accepted, in characters (a longer one is an :class:`EventError`).
MAX_ARTICLE_BODY = 100_000
#: The longest title, tag, area or locale accepted, in characters.
MAX_ARTICLE_LABEL = 300
#: The most tags an article carries.
MAX_ARTICLE_TAGS = 32
#: A longer query is cut to its first this-many characters (never refused).
MAX_QUERY_LENGTH = 1000
#: The most distinct terms a query keeps (the first ones, after dropping stop words).
MAX_QUERY_TERMS = 32
#: The longest snippet, in words (matched words are wrapped in ``**``).
SNIPPET_WORDS = 16
#: The most characters a snippet holds besides its ``**`` marks.
SNIPPET_CHARACTERS = 400
#: A longer word or run between words shows in a snippet as its first this-many characters
#: and "…".
SNIPPET_RUN = 40

_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_FIELDS = ("title", "body", "locale", "tags", "area", "status")

# Words that carry no topic in a support question; dropping them keeps a many-word question
# from matching every article on "how" and "do" (BM25 would weigh them low anyway).
_STOP_TEXT = (
    "a an and are as at be but by can could do does for from had has have how i if in into is "
    "it its me my no not of on or our so that the their then there these they this to was we "
    "what when where which who why will with would you your"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())


# Case as SQLite's unicode61 folds it without removing accents (an engine that keeps accents,
# such as PostgreSQL's, gets them), and "İ" as "i": unicode61 folds it only when it removes
# accents, and Python's lower() makes it "i" and a combining dot.
_QUERY_CASE = {**CASE, ord("İ"): ord("i")}


def query_terms(query: str) -> list[str]:
    """The search terms of *query*: its distinct lower-case words, stop words dropped.

    A word is what SQLite FTS5's unicode61 tokenizer reads as one, its case folded as that
    tokenizer folds it ("Σ" and "ς" are "σ"; "ß", "ı" and "ﬁ" stay) and its accents kept.
    The query is cut to :data:`MAX_QUERY_LENGTH` characters and at most
    :data:`MAX_QUERY_TERMS` terms are kept. A query of only stop words keeps them (so
    "how to" still finds something). Anything that is not a string is an :class:`EventError`.
    """
    if not isinstance(query, str):
        raise EventError(f"a query must be a string, got {type(query).__name__}", field="query")
    text = query[:MAX_QUERY_LENGTH]
    if text.isascii():  # most queries, in C: lower() folds them and no word is only accents
        words = list(dict.fromkeys(BMP_WORD.findall(text.lower())))
    else:
        text = text.translate(_QUERY_CASE)
        found = _words(text).findall(text)
        words = [word for word in dict.fromkeys(found) if _fold(word)]  # not only accents
    kept = [word for word in words if word not in _STOP_WORDS] or words
    return kept[:MAX_QUERY_TERMS]


def _fold(text: str) -> str:
    """*text* with case and accents folded as the SQLite index folds them."""
    return text.lower() if text.isascii() else text.translate(FOLD)


def _words(text: str) -> re.Pattern[str]:
    """The pattern of *text*'s words: the faster one unless it has a character beyond the BMP."""
    return WORD if not text.isascii() and BEYOND_BMP.search(text) else BMP_WORD


def search_words(text: str) -> list[str]:
    """The words of *text* as the SQLite store indexes them before stemming: SQLite FTS5's
    unicode61 tokens (``remove_diacritics 2``), case and accents folded ("İstanbul" and
    "Café" are "istanbul" and "cafe")."""
    folded = _fold(text)
    return _words(folded).findall(folded)


def _fail(kind: str, field: str, problem: str) -> EventError:
    return EventError(f"article event {kind!r}: {field} {problem}", kind=kind, field=field)


def _label(kind: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(kind, field, f"must be a non-empty string, got {value!r:.80}")
    if len(value) > MAX_ARTICLE_LABEL:
        raise _fail(kind, field, f"is longer than {MAX_ARTICLE_LABEL} characters")
    return _clean(kind, field, value)


def _clean(kind: str, field: str, value: str) -> str:
    if "\x00" in value:
        raise _fail(kind, field, "holds a NUL character")
    try:
        return _encodable(value)
    except ValueError as exc:
        raise _fail(kind, field, str(exc)) from None


def article_id_of(value: object) -> str:
    """*value* if it can name an article in every store (a non-empty string of at most
    :data:`MAX_ARTICLE_LABEL` characters and no lone surrogate, which no store can look up),
    else an :class:`EventError` (``field="article_id"``)."""
    if not isinstance(value, str) or not value or len(value) > MAX_ARTICLE_LABEL:
        raise EventError(
            f"an article id must be a non-empty string of at most {MAX_ARTICLE_LABEL} "
            f"characters, got {value!r:.80}",
            field="article_id",
        )
    try:
        return _encodable(value)
    except ValueError as exc:
        raise EventError(f"article id {value!r:.80} {exc}", field="article_id") from None


def _body(kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(kind, "body", f"must be a string (Markdown), got {type(value).__name__}")
    if len(value) > MAX_ARTICLE_BODY:
        raise _fail(
            kind,
            "body",
            f"is {len(value):,} characters, more than the limit of {MAX_ARTICLE_BODY:,}: split "
            "the article",
        )
    return _clean(kind, "body", value)


def _tags(value: Any) -> tuple[str, ...]:
    # Converted before the event's kind is checked, so the message names the tags alone.
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise EventError(f"article tags must be a list of strings, got {value!r:.80}", field="tags")
    tags: set[str] = set()
    for tag in value:
        try:
            tags.add(_label("", "a tag", tag))
        except EventError as exc:
            problem = str(exc).removeprefix("article event '': ")
            raise EventError(f"article tags: {problem}", field="tags") from None
    if len(tags) > MAX_ARTICLE_TAGS:
        raise EventError(
            f"article tags: {len(tags)} tags, more than {MAX_ARTICLE_TAGS}", field="tags"
        )
    return tuple(sorted(tags))


def _check(event: ArticleEvent) -> None:
    kind = event.kind
    if kind not in ARTICLE_EVENT_KINDS:
        raise EventError(
            f"unknown article event kind {kind!r}: use one of {', '.join(ARTICLE_EVENT_KINDS)}",
            kind=str(kind)[:80],
            field="kind",
        )
    _label(kind, "article_id", event.article_id)
    to_epoch(event.at, f"article event {kind!r} at", EventError)
    values = {name: getattr(event, name) for name in _FIELDS}
    if kind == "created":
        for name in ("title", "body", "locale", "status"):
            if values[name] is None:
                raise _fail(kind, name, "is required")
    elif kind == "updated" and all(value is None for value in values.values()):
        raise _fail(kind, "fields", "change nothing: give at least one field")
    elif kind == "retired" and any(value is not None for value in values.values()):
        raise _fail(kind, "fields", "must be empty (retiring archives the article)")
    for name in ("title", "area"):
        if values[name] is not None:
            _label(kind, name, values[name])
    if values["body"] is not None:
        _body(kind, values["body"])
    if values["locale"] is not None and not (
        isinstance(values["locale"], str) and _LOCALE.fullmatch(values["locale"])
    ):
        raise _fail(
            kind,
            "locale",
            f"must be a language tag like 'en' or 'pt-BR', got {values['locale']!r:.80}",
        )
    if values["status"] is not None and values["status"] not in ARTICLE_STATUSES:
        raise _fail(
            kind,
            "status",
            f"must be one of {', '.join(ARTICLE_STATUSES)}, got {values['status']!r:.80}",
        )
    if event.by is not None:
        _label(kind, "by", event.by)


def _tag_tuple(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return _tags(value)


@attrs.frozen
class ArticleEvent:
    """One change to a knowledge-base article, validated on construction.

    ``kind`` is ``"created"`` (``title``, ``body``, ``locale`` and ``status`` required),
    ``"updated"`` (the fields given change, ``None`` ones stay) or ``"retired"`` (no fields:
    the article becomes ``archived``). ``body`` is Markdown up to :data:`MAX_ARTICLE_BODY`
    characters; ``tags`` a set of labels (kept sorted); ``area`` the product area;
    ``locale`` a language tag (``"en"``, ``"pt-BR"``); ``at`` is kept as whole seconds in
    UTC, as every store gives it back. Anything invalid raises
    :class:`~supportkit.EventError` naming the field.
    """

    kind: str
    article_id: str
    at: datetime
    title: str | None = None
    body: str | None = None
    locale: str | None = None
    tags: tuple[str, ...] | None = attrs.field(default=None, converter=_tag_tuple)
    area: str | None = None
    status: str | None = None
    by: str | None = None

    def __attrs_post_init__(self) -> None:
        _check(self)
        # Kept as every store gives it back: whole seconds in UTC (the stores write epoch
        # seconds; the in-memory store kept the microseconds and the zone).
        try:
            object.__setattr__(self, "at", from_epoch(to_epoch(self.at)))
        except (OverflowError, ValueError, OSError) as exc:
            raise _fail(self.kind, "at", f"is out of range: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (``at`` in epoch seconds, ``None`` fields left out)."""
        result: dict[str, Any] = {
            "kind": self.kind,
            "article_id": self.article_id,
            "at": to_epoch(self.at),
        }
        for name in (*_FIELDS, "by"):
            value = getattr(self, name)
            if value is not None:
                result[name] = list(value) if name == "tags" else value
        return result

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ArticleEvent:
        """The event :meth:`to_dict` wrote; a malformed dict is an :class:`EventError`."""
        if not isinstance(raw, Mapping):
            raise EventError(f"an article event must be a mapping, got {type(raw).__name__}")
        unknown = set(raw) - {"kind", "article_id", "at", *_FIELDS, "by"}
        if unknown:
            raise EventError(
                f"article event has unknown fields {sorted(map(str, unknown))}",
                field=str(sorted(map(str, unknown))[0]),
            )
        values = dict(raw)
        at = values.get("at")
        if isinstance(at, bool) or not isinstance(at, int):
            raise EventError(
                f"article event 'at' must be epoch seconds, got {at!r:.80}", field="at"
            )
        try:
            values["at"] = from_epoch(at)
        except (OverflowError, ValueError, OSError) as exc:
            raise EventError(f"article event 'at' is out of range: {exc}", field="at") from None
        return cls(**{"kind": None, "article_id": None, **values})


@attrs.frozen
class Article:
    """An article as its log folds it: the current fields, ``version`` (events so far) and
    when it was created and last changed."""

    id: str
    title: str
    body: str
    locale: str
    tags: tuple[str, ...]
    area: str | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


def apply_article(article: Article | None, event: ArticleEvent) -> Article:
    """The article after *event*; an event that does not fit is an :class:`EventError`
    (``created`` for an existing article, any other kind for a missing one)."""
    if event.kind == "created":
        if article is not None:
            raise EventError(
                f"article {event.article_id!r} already exists", kind="created", field="article_id"
            )
        return Article(
            id=event.article_id,
            title=event.title or "",
            body=event.body or "",
            locale=event.locale or "en",
            tags=event.tags or (),
            area=event.area,
            status=event.status or "draft",
            version=1,
            created_at=event.at,
            updated_at=event.at,
        )
    if article is None:
        raise EventError(
            f"article {event.article_id!r} does not exist", kind=event.kind, field="article_id"
        )
    if article.id != event.article_id:
        raise EventError(
            f"event of article {event.article_id!r} in the log of {article.id!r}",
            kind=event.kind,
            field="article_id",
        )
    changes: dict[str, Any] = {
        name: getattr(event, name) for name in _FIELDS if getattr(event, name) is not None
    }
    if event.kind == "retired":
        changes["status"] = "archived"
    return attrs.evolve(article, **changes, version=article.version + 1, updated_at=event.at)


def fold_article(events: Iterable[ArticleEvent]) -> Article | None:
    """The article an event log describes (``None`` for an empty log)."""
    article: Article | None = None
    for event in events:
        article = apply_article(article, event)
    return article


@attrs.frozen
class ArticleHit:
    """A search result: the article's id and title, its ``score`` (higher is better; scores
    compare within one result list only) and a plain-text ``snippet`` of the body with the
    matched words wrapped in ``**`` (:func:`~supportkit.snippet_html` makes it safe HTML)."""

    article_id: str
    title: str
    score: float
    snippet: str


def snippet(
    body: str, terms: Sequence[str], words: int = SNIPPET_WORDS, *, whole: Sequence[str] = ()
) -> str:
    """A window of *words* words of *body* around its first word beginning with one of
    *terms* or equal to one of *whole*, matched words in ``**``; ``…`` where words are left
    out, and the body's closing punctuation when the window reaches its end. Words and terms
    compare with case and accents folded (:func:`search_words`).

    At most :data:`SNIPPET_CHARACTERS` characters besides the ``**`` marks: a word or a run
    between words longer than :data:`SNIPPET_RUN` characters shows as its first ones and
    ``…``; a window still too long leaves out words before the match (down to a quarter of
    the window) and then the words past the limit, so the first match always shows.
    """
    prefixes = tuple(term for term in map(_fold, terms) if term)
    exact = frozenset(map(_fold, whole))
    starts = (*prefixes, *exact)  # every match begins with one of these

    def matches(word: str) -> bool:
        folded = _fold(word)
        return folded.startswith(prefixes) or folded in exact

    # The folded words, in C for an ASCII body (folding keeps its words where they are).
    pattern = _words(body)
    every = (
        pattern.findall(body.lower()) if body.isascii() else list(map(_fold, pattern.findall(body)))
    )
    total = len(every)
    # One C call a word up to the first match (this runs for every word before it), and
    # matches() only for the words beginning with a whole-word term.
    found = (n for n, word in enumerate(every) if word.startswith(starts))
    first = next((n for n in found if not exact or matches(every[n])), 0)
    start = max(0, min(first - words // 4, total - words))
    spans = [m.span() for m in itertools.islice(pattern.finditer(body), start, start + words)]
    if not spans:
        return ""
    shown = [_cut(body[a:b]) for a, b in spans]
    gaps = ["", *(_cut(body[b:a]) for (_, b), (a, _) in itertools.pairwise(spans))]
    size, skip = sum(map(len, shown)) + sum(map(len, gaps)), 0
    while skip < first - start - words // 4 and size > SNIPPET_CHARACTERS - 2:
        size -= len(shown[skip]) + len(gaps[skip + 1])  # the next word's gap goes too
        skip += 1
    prefix = "…" if start + skip > 0 else ""
    room = SNIPPET_CHARACTERS - len(prefix)
    parts: list[str] = []
    for n in range(skip, len(spans)):
        gap, word = gaps[n] if n > skip else "", shown[n]
        room -= len(gap) + len(word)
        if room < 1:  # one left for the closing "…"
            return prefix + "".join(parts) + "…"
        parts.append(gap + (f"**{word}**" if matches(body[slice(*spans[n])]) else word))
    rest = body[spans[-1][1] :].rstrip()
    ended = start + words >= total and len(rest) <= room
    return prefix + "".join(parts) + (rest if ended else "…")


def _cut(run: str) -> str:
    """*run* cut to :data:`SNIPPET_RUN` characters and "…" if it is longer."""
    return run if len(run) <= SNIPPET_RUN else run[:SNIPPET_RUN] + "…"


@attrs.define
class MemoryArticleIndex:
    """BM25 over the published articles' titles (weight 5) and bodies, in process memory.

    The in-memory stores' search: prefix matching, no stemming, over the body's plain text
    (:func:`~supportkit.article_text`), its words and the terms folded as the SQLite index
    folds them (:func:`search_words`). ``put`` (re)indexes an article (an unpublished one is
    dropped), ``search`` ranks. An inverted index (word -> article -> title and body counts)
    over a sorted vocabulary: a query term's words are a range of the vocabulary, and only
    the articles they occur in are scored.
    """

    K1 = 1.2
    B = 0.75
    TITLE_WEIGHT = 5.0

    # article id -> (article, its words with their title and body counts, title and body length)
    _docs: dict[str, tuple[Article, dict[str, tuple[int, int]], int, int]] = attrs.Factory(dict)
    _postings: dict[str, dict[str, tuple[int, int]]] = attrs.Factory(dict)
    _vocabulary: list[str] = attrs.Factory(list)  # sorted
    _lengths: list[int] = attrs.Factory(lambda: [0, 0])  # all titles', all bodies' words
    _texts: dict[str, str] = attrs.Factory(dict)  # article id -> article_text of its body

    def put(self, article: Article) -> None:
        """Index *article* if it is published, else drop it from the index."""
        old = self._docs.pop(article.id, None)
        if old is not None:
            self._lengths[0] -= old[2]
            self._lengths[1] -= old[3]
            for word in old[1]:
                postings = self._postings[word]
                del postings[article.id]
                if not postings:
                    del self._postings[word]
                    del self._vocabulary[bisect.bisect_left(self._vocabulary, word)]
        self._texts.pop(article.id, None)
        if article.status != "published":
            return
        text = self._texts[article.id] = article_text(article.body)
        title = search_words(article.title)
        body = search_words(text)
        in_title, in_body = Counter(title), Counter(body)
        counts = {word: (in_title[word], in_body[word]) for word in in_title.keys() | in_body}
        self._docs[article.id] = (article, counts, len(title), len(body))
        self._lengths[0] += len(title)
        self._lengths[1] += len(body)
        for word, pair in counts.items():
            if word not in self._postings:
                self._postings[word] = {}
                bisect.insort(self._vocabulary, word)
            self._postings[word][article.id] = pair

    def _term_counts(self, term: str) -> dict[str, list[int]]:
        """Article id -> [title count, body count] of the words starting with *term*."""
        found: dict[str, list[int]] = {}
        vocabulary = self._vocabulary
        at = bisect.bisect_left(vocabulary, term)
        while at < len(vocabulary) and vocabulary[at].startswith(term):
            for article_id, (in_title, in_body) in self._postings[vocabulary[at]].items():
                pair = found.setdefault(article_id, [0, 0])
                pair[0] += in_title
                pair[1] += in_body
            at += 1
        return found

    def search(
        self,
        terms: Sequence[str],
        *,
        k: int,
        locale: str | None = None,
        tags: Sequence[str] = (),
        area: str | None = None,
    ) -> list[ArticleHit]:
        """The best *k* published articles for *terms* matching the filters, best first."""
        terms = [term for term in map(_fold, terms) if term]
        if not terms or not self._docs:
            return []
        n = len(self._docs)
        means = (max(1.0, self._lengths[0] / n), max(1.0, self._lengths[1] / n))
        weights = (self.TITLE_WEIGHT, 1.0)
        scores: dict[str, float] = {}
        wanted = set(tags)
        for term in terms:
            counts = self._term_counts(term)
            df = len(counts)  # an article matches a term by any word's prefix
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for article_id, pair in counts.items():
                article, _, *lengths = self._docs[article_id]
                if (
                    (locale is not None and article.locale != locale)
                    or (area is not None and article.area != area)
                    or not wanted <= set(article.tags)
                ):
                    continue
                score = scores.get(article_id, 0.0)
                for weight, tf, length, mean in zip(weights, pair, lengths, means, strict=True):
                    if tf:
                        norm = tf + self.K1 * (1 - self.B + self.B * length / mean)
                        score += weight * idf * tf * (self.K1 + 1) / norm
                scores[article_id] = score
        best = heapq.nsmallest(
            k, ((-score, article_id) for article_id, score in scores.items() if score > 0)
        )
        return [
            ArticleHit(a, self._docs[a][0].title, -negated, snippet(self._texts[a], terms))
            for negated, a in best
        ]


def check_article_append(
    article_id: str,
    log: Sequence[ArticleEvent],
    events: Sequence[ArticleEvent],
    expected_version: int,
) -> Article | None:
    """The article after appending *events* to its *log* (shared by every store).

    A stale *expected_version* is a :class:`~supportkit.ConcurrencyError` (its ``ticket_id``
    holds the article id), an event of another article or one that does not fit a
    :class:`~supportkit.EventError`: nothing is written in either case.
    """
    if type(expected_version) is not int or expected_version < 0:
        raise StoreError(
            f"article {article_id}: expected_version must be a whole number >= 0, "
            f"got {expected_version!r}"
        )
    if expected_version != len(log):
        raise ConcurrencyError(
            f"article {article_id}: expected version {expected_version} but the store is at "
            f"{len(log)}; someone changed it first, so re-read the article and retry",
            ticket_id=article_id,
            expected=expected_version,
            actual=len(log),
        )
    article = fold_article(log)
    for event in events:
        if not isinstance(event, ArticleEvent) or event.article_id != article_id:
            raise StoreError(
                f"article {article_id}: can only append its own ArticleEvent objects, got "
                f"{event!r:.120}; nothing was appended"
            )
        article = apply_article(article, event)
    return article


def check_search(terms: Any, k: Any) -> list[str]:
    """The *terms* of a store's ``search_articles`` as a list, after checking them and *k*
    (shared by every store, so each refuses the same calls): *terms* must be a list (any
    iterable but a string) of strings, *k* a whole number (one below 1 finds nothing), or
    it is a :class:`~supportkit.StoreError`."""
    found = None if isinstance(terms, str) or not isinstance(terms, Iterable) else list(terms)
    if found is None or not all(isinstance(term, str) for term in found):
        raise StoreError(
            "search_articles: terms must be a list of strings (query_terms(query) makes them),"
            f" got {terms!r:.80}"
        )
    if type(k) is not int:
        raise StoreError(f"search_articles: k must be a whole number, got {k!r:.80}")
    return found


@attrs.frozen
class SearchEvaluation:
    """How well a search answers a labelled question set (:func:`evaluate_search`).

    ``recall`` is the share of answerable questions whose article is among the first ``k``
    hits (recall@k), ``mrr`` the mean reciprocal rank of that article in the first
    :data:`EVALUATION_DEPTH` hits (0 when absent), both over the ``answerable`` questions.
    ``unanswerable`` questions (no article answers them) are not scored; ``false_hits`` counts
    those for which the search still returned something. ``misses`` lists the answerable
    ``(question, expected article, ids found in the first k)`` that failed recall@k.
    """

    k: int
    recall: float
    mrr: float
    answerable: int
    unanswerable: int
    false_hits: int
    misses: tuple[tuple[str, str, tuple[str, ...]], ...]

    def __str__(self) -> str:
        return (
            f"recall@{self.k} {self.recall:.3f}, MRR {self.mrr:.3f} over {self.answerable} "
            f"answerable questions; {self.false_hits} of {self.unanswerable} unanswerable "
            "questions got hits"
        )


#: How deep :func:`evaluate_search` looks for the reciprocal rank.
EVALUATION_DEPTH = 10


def evaluate_search(
    search: Callable[..., Sequence[ArticleHit]],
    cases: Iterable[tuple[str, str | None]],
    *,
    k: int = 3,
) -> SearchEvaluation:
    """Measure *search* (``desk.search_articles`` or any function ``search(query, k=n)``
    returning hits best first) on labelled *cases*: ``(question, article id)`` pairs, the id
    ``None`` for a question no article answers.

    A host evaluates its own knowledge base by writing such pairs from real tickets and
    checking the result, e.g. ``assert evaluate_search(desk.search_articles, cases).recall
    >= 0.8``.
    """
    depth = max(k, EVALUATION_DEPTH)
    found = 0
    reciprocal = 0.0
    answerable = unanswerable = false_hits = 0
    misses = []
    for question, expected in cases:
        ids = tuple(hit.article_id for hit in search(question, k=depth))
        if expected is None:
            unanswerable += 1
            false_hits += bool(ids)
            continue
        answerable += 1
        if expected in ids:
            rank = ids.index(expected) + 1
            reciprocal += 1 / rank
            found += rank <= k
            if rank <= k:
                continue
        misses.append((question, expected, ids[:k]))
    return SearchEvaluation(
        k=k,
        recall=found / answerable if answerable else 0.0,
        mrr=reciprocal / answerable if answerable else 0.0,
        answerable=answerable,
        unanswerable=unanswerable,
        false_hits=false_hits,
        misses=tuple(misses),
    )


@attrs.frozen
class ArticleStats:
    """One article's suggestion record: on how many tickets it was ``suggested`` and how
    many verdicts said it ``helped`` or ``not_helped``."""

    article_id: str
    suggested: int
    helped: int
    not_helped: int


@attrs.frozen
class SuggestionReport:
    """How suggestions did over a ticket log (:func:`suggestion_report`).

    ``tickets`` counts every ticket, ``suggested`` those with at least one
    ``articles_suggested`` event, ``helped`` those with at least one ``article_helped`` or
    ``deflected`` event (a "solved" reply that named no article);
    ``acceptance`` is ``helped / suggested`` (``None`` without suggestions). ``articles`` holds
    each article's :class:`ArticleStats`, most suggested first.
    """

    tickets: int
    suggested: int
    helped: int
    acceptance: float | None
    articles: tuple[ArticleStats, ...]


def suggestion_report(events: Iterable[Any]) -> SuggestionReport:
    """Fold ticket events (any order of tickets, e.g. ``store.read_all()``) into a
    :class:`SuggestionReport`."""
    tickets: set[str] = set()
    helped: set[str] = set()
    suggested_on: dict[str, set[str]] = {}  # article -> tickets it was suggested on
    verdicts: dict[str, Counter[str]] = {}  # article -> kind -> count
    suggested: set[str] = set()
    for event in events:
        tickets.add(event.ticket_id)
        if event.kind == "articles_suggested":
            suggested.add(event.ticket_id)
            for article in event.data["articles"]:
                suggested_on.setdefault(article, set()).add(event.ticket_id)
        elif event.kind in ("article_helped", "article_not_helped"):
            verdicts.setdefault(event.data["article"], Counter())[event.kind] += 1
            if event.kind == "article_helped":
                helped.add(event.ticket_id)
        elif event.kind == "deflected":
            helped.add(event.ticket_id)
    stats = sorted(
        (
            ArticleStats(
                article,
                len(suggested_on.get(article, ())),
                verdicts.get(article, Counter())["article_helped"],
                verdicts.get(article, Counter())["article_not_helped"],
            )
            for article in suggested_on.keys() | verdicts.keys()
        ),
        key=lambda s: (-s.suggested, s.article_id),
    )
    return SuggestionReport(
        tickets=len(tickets),
        suggested=len(suggested),
        helped=len(helped),
        acceptance=len(helped) / len(suggested) if suggested else None,
        articles=tuple(stats),
    )
