"""The desk's knowledge-base methods (a mixin of :class:`~supportkit.SupportDesk`).

Articles live in the desk's store as event logs (:class:`~supportkit.ArticleEvent`); these
methods validate, append with optimistic versions and search the store's index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._kbimport import ArticleImport, import_articles
from ._knowledge import (
    Article,
    ArticleEvent,
    ArticleHit,
    SuggestionReport,
    apply_article,
    article_id_of,
    fold_article,
    query_terms,
    suggestion_report,
)
from ._model import InboundMessage, TicketEvent, _encodable
from ._time import to_epoch
from .exceptions import EventError, PluginError

if TYPE_CHECKING:
    from ._clock import Clock
    from ._commit import OutboxMessage
    from ._desknotify import DeskPlugins
    from .typing import DeskStore

__all__ = ["KnowledgeBase"]

log = logging.getLogger("supportkit.desk")

#: The most results one search returns.
MAX_K = 100


class KnowledgeBase:
    """Knowledge-base methods for a desk with a ``store`` and a ``clock``."""

    store: DeskStore
    clock: Clock
    plugins: DeskPlugins
    _lease: int

    if TYPE_CHECKING:  # SupportDesk's

        def _fire(self, now: int, pending: Sequence[Any]) -> None: ...

    suggestions: int = 3
    """How many articles :meth:`ingest` suggests for each public customer message (recorded
    in an ``articles_suggested`` event when any is found); set ``desk.suggestions = 0`` to
    suggest none. A ``supportkit_suggest_articles`` hookimpl may answer instead of
    :meth:`search_articles`; a failing one is logged and the message is ingested without
    suggestions."""

    def suggested_articles(self, ticket_id: str) -> list[str]:
        """The ids of the articles last suggested on the ticket, best first (empty if none)."""
        for event in reversed(self.store.read(ticket_id)):
            if event.kind == "articles_suggested":
                return list(event.data["articles"])
        return []

    def suggestion_report(self) -> SuggestionReport:
        """How suggestions did on every ticket in the store: tickets with suggestions, with an
        ``article_helped`` verdict, the acceptance rate and each article's record."""
        return suggestion_report(self.store.read_all())

    def _suggest(
        self, ticket_id: str, message: InboundMessage, at: datetime
    ) -> tuple[list[TicketEvent], list[ArticleHit]]:
        """The ``articles_suggested`` event for a new public customer *message*, if any, and
        the hits it names (for the first automatic response)."""
        if self.suggestions <= 0:
            return [], []
        k = min(self.suggestions, MAX_K)
        query = f"{message.subject or ''}\n{message.body}"
        try:
            hits = self.plugins.suggest_articles(query, message, k)
        except PluginError as exc:  # suggestions are a courtesy: never lose the message
            log.warning("no article suggestions for ticket %s: %s", ticket_id, exc)
            return [], []
        if hits is None:
            hits = self.store.search_articles(query_terms(query), k=k)
        if not hits:
            return [], []
        data = {"articles": [hit.article_id for hit in hits], "message_id": message.message_id}
        return [TicketEvent("articles_suggested", ticket_id=ticket_id, at=at, data=data)], hits

    def create_article(
        self,
        article_id: str,
        *,
        title: str,
        body: str,
        locale: str = "en",
        tags: Iterable[str] = (),
        area: str | None = None,
        status: str = "draft",
        by: str | None = None,
    ) -> Article:
        """Create an article (``status`` ``"draft"``, ``"published"`` or ``"archived"``).

        *body* is Markdown of at most :data:`~supportkit.MAX_ARTICLE_BODY` characters. An
        existing id or an invalid field is an :class:`~supportkit.EventError`.
        """
        fields = {"title": title, "body": body, "locale": locale, "tags": tags, "area": area}
        return self._write_article("created", article_id, None, status=status, by=by, **fields)

    def update_article(
        self,
        article_id: str,
        *,
        title: str | None = None,
        body: str | None = None,
        locale: str | None = None,
        tags: Iterable[str] | None = None,
        area: str | None = None,
        status: str | None = None,
        by: str | None = None,
        version: int | None = None,
    ) -> Article:
        """Change the given fields of an article (``None`` keeps a field) and return it.

        ``status="published"`` publishes it. *version*, if given, is the version the caller
        read: a newer article is a :class:`~supportkit.ConcurrencyError`.
        """
        fields = {"title": title, "body": body, "locale": locale, "tags": tags, "area": area}
        return self._write_article("updated", article_id, version, status=status, by=by, **fields)

    def retire_article(self, article_id: str, *, by: str | None = None) -> Article:
        """Archive an article (search no longer finds it; its log stays)."""
        return self._write_article("retired", article_id, None, by=by)

    def import_articles(self, directory: str | Path, *, status: str = "published") -> ArticleImport:
        """Create or update one article per Markdown file of *directory* (what ``supportkit kb
        import`` does): front matter ``id``, ``title``, ``locale``, ``tags``, ``area``,
        ``status`` (else the file name and the first heading); unchanged articles are left
        alone. See the knowledge base page for the format."""
        return import_articles(
            self.store, directory, at=self.clock.now(), status=status, append=self._append_article
        )

    def article(self, article_id: str) -> Article | None:
        """The article as its log folds it, or ``None`` if there is none."""
        return fold_article(self.store.article_events(article_id_of(article_id)))

    def article_history(self, article_id: str) -> list[ArticleEvent]:
        """The article's events, oldest first (empty for an unknown article)."""
        return self.store.article_events(article_id_of(article_id))

    def articles(self) -> list[Article]:
        """Every article (any status), in order of creation."""
        logs: dict[str, list[ArticleEvent]] = {}
        for event in self.store.article_events():
            logs.setdefault(event.article_id, []).append(event)
        return [article for log in logs.values() if (article := fold_article(log)) is not None]

    def search_articles(
        self,
        query: str,
        *,
        k: int = 5,
        locale: str | None = None,
        tags: Iterable[str] | None = None,
        area: str | None = None,
    ) -> list[ArticleHit]:
        """The published articles best matching *query*, best first (at most *k*).

        Any text is a valid query: it is cut to 1,000 characters and reduced to words, each
        matched as a word prefix (so "passw" finds "password"); engine syntax such as ``"`` or
        ``NEAR(`` is plain text here. Results are ranked by BM25 (SQLite FTS5 with English
        stemming, PostgreSQL full-text search with the locale's stemming, or an in-memory
        BM25 without stemming); ``locale``, ``area`` and ``tags`` (every one required)
        filter. Bad arguments are an :class:`~supportkit.EventError`.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise EventError(
                f"k must be a whole number from 1 to {MAX_K}, got {k!r:.80}", field="k"
            )
        for name, value in (("locale", locale), ("area", area)):
            if value is not None and not isinstance(value, str):
                raise EventError(f"{name} must be a string or None, got {value!r:.80}", field=name)
        wanted: tuple[str, ...] = ()
        if tags is not None:
            if not _iterable(tags) or not all(isinstance(tag, str) for tag in tags):
                raise EventError(f"tags must be a list of strings, got {tags!r:.80}", field="tags")
            wanted = tuple(sorted(set(tags)))
        for name, text in (("locale", locale), ("area", area), *(("tags", tag) for tag in wanted)):
            try:
                _encodable(text or "")  # no store can look up a lone surrogate
            except ValueError as exc:
                raise EventError(f"{name} {exc}: {text!r:.80}", field=name) from None
        terms = query_terms(query)
        return self.store.search_articles(terms, k=k, locale=locale, tags=wanted, area=area)

    def _article_version(self, article_id: str, version: int | None) -> int:
        current = len(self.store.article_events(article_id_of(article_id)))
        if current == 0:
            raise EventError(f"article {article_id!r} does not exist", field="article_id")
        return current if version is None else version

    def _write_article(
        self, kind: str, article_id: str, version: int | None, **fields: Any
    ) -> Article:
        """Append a *kind* event with *fields* at the clock's now to the article's log and return
        the article: ``"created"`` to an empty log, else after *version* (the version the caller
        read; ``None``: the current one). The event is checked first (a bad field is an
        :class:`~supportkit.EventError`), then the log."""
        event = ArticleEvent(kind, article_id, self.clock.now(), **fields)
        if kind != "created":
            expected = self._article_version(article_id, version)
        elif self.store.article_events(article_id):
            raise EventError(f"article {article_id!r} already exists", field="article_id")
        else:
            expected = 0
        return self._append_article(event, expected)

    def _append_article(self, event: ArticleEvent, expected: int) -> Article:
        """Append *event* after version *expected* of its article, with the outbox rows of its
        ``article_changed`` notice in the same write; then fire the in-process receivers.
        Returns the article after it."""
        log = self.store.article_events(event.article_id)
        now = to_epoch(self.clock.now())
        article: Article | None = None
        rows: list[OutboxMessage] = []
        pending: list[Any] = []
        if expected == len(log):  # else the store refuses the stale version
            previous = fold_article(log)
            article = apply_article(previous, event)
            rows, pending = self.plugins.article_rows(
                previous, event, article, now=now, lease=self._lease
            )
        self.store.append_article(event.article_id, [event], expected_version=expected, outbox=rows)
        assert article is not None  # the store wrote the event after version *expected*
        if pending:
            self._fire(now, pending)
        return article


def _iterable(value: Any) -> bool:
    return not isinstance(value, str | bytes) and isinstance(value, Iterable)
