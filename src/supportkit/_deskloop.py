"""The desk's self-service loop (a mixin of :class:`~supportkit.SupportDesk`).

Suggestions go out in the first automatic response on the channels that opt in
(:class:`KnowledgeSettings`), each with a tracked link: a token signed with HMAC-SHA256 under a
secret the store keeps, which :meth:`SelfServiceLoop.article_link_followed` turns into an
``article_helped`` event. A customer reply "solved" (or "solved 2", "That solved it, thanks":
:func:`solved_reply`) closes the loop. The help centre's searches and views are recorded in the
store's session stream, and the desk reports self-service (:func:`~supportkit.self_service`)
from that stream and its tickets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ._deskkb import KnowledgeBase
from ._knowledge import MAX_QUERY_LENGTH, Article, ArticleHit, query_terms
from ._metrics import SessionEvent, SessionFacts
from ._model import InboundMessage, Role, TicketEvent
from ._selfservice import (
    DEFAULT_DEFLECTION_WINDOW,
    DEFAULT_PERIOD,
    SelfServiceReport,
    check_sessions,
    content_gaps,
    self_service,
    session_facts,
)
from ._time import to_epoch
from .exceptions import ConfigurationError, EventError

if TYPE_CHECKING:
    from ._ticket import Ticket, _Fold

__all__ = ["ArticleLink", "KnowledgeSettings", "SelfServiceLoop"]

#: The store's state namespace holding the secret that signs article links.
LINKS = "supportkit.article-links"
#: The longest token :meth:`SelfServiceLoop.article_link_followed` reads.
MAX_TOKEN = 2048
_TAG = 16  # bytes of the HMAC-SHA256 kept in a token (128 bits)
#: The words that make a reply's first line a "solved" reply (see :func:`solved_reply`).
SOLVED_WORDS = frozenset({"solved", "resolved"})
#: Words that keep a first line saying "solved" an ordinary message: negations and hedges
#: ("not solved", "solved the login but not the invoices", "I hope this will be solved").
#: Any word ending in "n't" counts too ("hasn't solved it").
NOT_SOLVED_WORDS = frozenset(
    # A list literal of these 46 words would take 48 lines.
    """
    not no nope never nothing none without cannot dont doesnt didnt isnt wasnt arent werent
    hasnt havent hadnt cant couldnt wont wouldnt shouldnt aint but however though although
    except yet still almost partly partially half if when whether unless until will would hope
    hopefully maybe perhaps
    """.split()  # noqa: SIM905
)
#: A longer first line is a message of its own, not an answer to the suggestions.
MAX_SOLVED_WORDS = 10
_WORDS = re.compile(r"#?\w+(?:'\w+)*")
_NUMBER = re.compile(r"#?(\d+)")

INTRO = "Thank you for your message: we will answer soon. These articles may answer your question:"
OUTRO = (
    'If one of them answers it, reply "solved" (or "solved 2" for the second article) and we '
    "will close your request."
)


def solved_reply(body: str) -> tuple[bool, int | None]:
    """Whether a customer's reply *body* says the suggestions solved the question, and the
    article's number in the list if it names one: ``(True, 2)`` for "solved 2".

    The rule reads the first non-empty line only (quoted text below does not matter), in any
    case, as words (punctuation dropped, apostrophes kept). It is a "solved" reply when it holds
    one of :data:`SOLVED_WORDS`, at most :data:`MAX_SOLVED_WORDS` words, no question mark and
    none of :data:`NOT_SOLVED_WORDS` nor a word ending in "n't": "Solved, thanks!", "That
    solved it" and "yes, this solved my problem" are; "not solved", "this hasn't solved it",
    "unsolved" and "solved?" are not. A number right after the solved word (``2``, ``#2``) is
    the article's place in the list (``0``, naming none, when it has more than three digits).
    """
    first = next((line for line in body.splitlines() if line.strip()), "")
    words = _WORDS.findall(first.casefold().replace("\u2019", "'"))
    at = next((n for n, word in enumerate(words) if word in SOLVED_WORDS), None)
    if (
        at is None
        or len(words) > MAX_SOLVED_WORDS
        or "?" in first
        or any(word in NOT_SOLVED_WORDS or word.endswith("n't") for word in words)
    ):
        return False, None
    number = _NUMBER.fullmatch(words[at + 1]) if at + 1 < len(words) else None
    if number is None:
        return True, None
    digits = number.group(1)
    return True, int(digits) if len(digits) <= 3 else 0


def _channels(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"answer_channels must be a list of channel names, got {value!r:.80}"
        )
    items = list(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ConfigurationError(f"answer_channels must be channel names, got {items!r:.80}")
    return frozenset(items)


@attrs.frozen
class KnowledgeSettings:
    """How the desk closes the self-service loop.

    ``answer_channels``: the channels (``"email"``, ``"web"``...) whose new tickets get a first
    automatic response listing the suggested articles ("these may answer your question"),
    each with a tracked link; none by default (opt in per channel). ``link_url``: the URL of
    a tracked link, with ``{token}`` where the token goes (required with ``answer_channels``);
    the host serves it by calling :meth:`SupportDesk.article_link_followed
    <supportkit.SupportDesk.article_link_followed>` and redirecting to the article.
    ``deflection_window``: how long after a self-service session a ticket from the same
    customer still counts against it (see the knowledge base page). ``intro`` and ``outro``:
    the response's text before and after the list (for another language).
    """

    answer_channels: frozenset[str] = attrs.field(default=frozenset(), converter=_channels)
    link_url: str | None = None
    deflection_window: timedelta = DEFAULT_DEFLECTION_WINDOW
    intro: str = INTRO
    outro: str = OUTRO

    def __attrs_post_init__(self) -> None:
        if self.link_url is not None and (
            not isinstance(self.link_url, str) or "{token}" not in self.link_url
        ):
            raise ConfigurationError(
                f"link_url must be a URL with {{token}} where the token goes, e.g. "
                f"'https://help.example.com/kb/follow?t={{token}}', got {self.link_url!r:.80}"
            )
        if self.answer_channels and self.link_url is None:
            raise ConfigurationError(
                "answer_channels sends tracked links to articles: give link_url too"
            )
        if not isinstance(self.deflection_window, timedelta) or self.deflection_window < timedelta(
            0
        ):
            raise ConfigurationError(
                f"deflection_window must be a timedelta of 0 or more, got "
                f"{self.deflection_window!r:.80}"
            )
        for name in ("intro", "outro"):
            if not isinstance(getattr(self, name), str):
                raise ConfigurationError(f"{name} must be text, got {getattr(self, name)!r:.80}")


@attrs.frozen
class ArticleLink:
    """A followed article link: the ticket and article it names, and whether following it
    ``recorded`` an ``article_helped`` event (``False`` when the ticket already had one for
    that article)."""

    ticket_id: str
    article_id: str
    recorded: bool


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad_token(token: object) -> EventError:
    return EventError(
        f"not a valid article link token: {token!r:.60} (a link the desk did not make, or "
        "one that was changed)",
        field="token",
    )


class SelfServiceLoop(KnowledgeBase):
    """Self-service loop methods for a desk with a ``store``, a ``clock`` and ``knowledge``."""

    knowledge: KnowledgeSettings

    if TYPE_CHECKING:

        def _act(self, ticket_id: str, build: Any) -> Ticket: ...

    # --- tracked links ---------------------------------------------------------------------

    def _link_secret(self) -> bytes:
        """The store's link secret, made once by whichever process first needs it. Read from
        the store each time (a point read): one made in an ingest_many batch that then failed
        was never written, so a copy kept here could sign links no other desk can read."""
        now = to_epoch(self.clock.now())
        secret = self.store.state_get(LINKS, "secret", now=now)
        if secret is None:
            self.store.state_put_new(
                LINKS, "secret", secrets.token_hex(32), expires_at=None, now=now
            )
            secret = self.store.state_get(LINKS, "secret", now=now)
        return bytes.fromhex(str(secret))

    def _sign(self, payload: str, key: bytes) -> str:
        digest = hmac.new(key, b"supportkit article link\x00" + payload.encode(), hashlib.sha256)
        return _b64(digest.digest()[:_TAG])

    def _token(self, ticket_id: str, article_id: str, key: bytes) -> str:
        payload = _b64(json.dumps([ticket_id, article_id], separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload, key)}"

    def article_link(self, ticket_id: str, article_id: str) -> str:
        """The token of a tracked link to *article_id* suggested on *ticket_id*: URL-safe
        text, signed with HMAC-SHA256 under a secret kept in the store (so every desk on the
        store makes and reads the same tokens, and nobody without the store can forge one)."""
        for name, value in (("ticket_id", ticket_id), ("article_id", article_id)):
            if not isinstance(value, str) or not value or len(value) > 300:
                raise EventError(
                    f"{name} must be a non-empty string of at most 300 characters, got "
                    f"{value!r:.80}",
                    field=name,
                )
        return self._token(ticket_id, article_id, self._link_secret())

    def article_link_followed(self, token: str) -> ArticleLink:
        """Record that the customer followed a tracked link: an ``article_helped`` event on the
        ticket for the article, unless the ticket already has one for it (following a link
        twice records it once). Returns the ticket and article (redirect the customer to the
        article). A token the desk did not make, or a changed one, is an
        :class:`~supportkit.EventError` (``field="token"``) and records nothing."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
            raise _bad_token(token)
        payload, tag = token.split(".")
        expected = self._sign(payload, self._link_secret())
        if not hmac.compare_digest(tag.encode("ascii", "replace"), expected.encode()):
            raise _bad_token(token)
        try:
            ticket_id, article_id = json.loads(_unb64(payload))
        except (binascii.Error, ValueError, TypeError):
            raise _bad_token(token) from None

        recorded = [False]

        def build(ticket: _Fold, at: datetime) -> list[TicketEvent]:
            # Read in the append's retry loop: a click another process recorded first is seen.
            recorded[0] = False
            for event in self.store.read(ticket.id):
                if event.kind == "article_helped" and event.data["article"] == article_id:
                    return []
            recorded[0] = True
            data = {"article": article_id}
            return [TicketEvent("article_helped", ticket_id=ticket.id, at=at, by=Role.CUSTOMER,
                                actor=ticket.customer, data=data)]  # fmt: skip

        self._act(ticket_id, build)
        return ArticleLink(ticket_id, article_id, recorded=recorded[0])

    # --- the first automatic response and the "solved" reply --------------------------------

    def _answer(
        self, ticket_id: str, message: InboundMessage, at: datetime, hits: Sequence[ArticleHit]
    ) -> list[TicketEvent]:
        """The first automatic response listing the suggested articles (*hits*) with tracked
        links, if the message's channel opted in and any article was suggested."""
        settings = self.knowledge
        if not hits or message.channel not in settings.answer_channels:
            return []
        assert settings.link_url is not None  # KnowledgeSettings requires it with channels
        key = self._link_secret()
        lines = [settings.intro, ""]
        for n, hit in enumerate(hits, 1):
            token = self._token(ticket_id, hit.article_id, key)
            lines += [f"{n}. {hit.title}", f"   {settings.link_url.replace('{token}', token)}"]
        lines += ["", settings.outro]
        data = {"public": True, "body": "\n".join(lines), "channel": message.channel}
        return [TicketEvent("message", ticket_id=ticket_id, at=at, by=Role.SYSTEM, data=data)]

    def _solved(self, ticket_id: str, message: InboundMessage) -> list[str] | None:
        """The articles a customer's "solved" reply names (an empty list: the reply named
        none of several), or ``None`` if *message* is not such a reply to a ticket whose
        suggestions were sent to the customer."""
        if not message.public:
            return None
        solved, number = solved_reply(message.body)
        if not solved:
            return None
        log = self.store.read(ticket_id)
        sent: list[str] | None = None
        for event, after in itertools.pairwise(log):
            if (
                event.kind == "articles_suggested"
                and after.kind == "message"
                and after.by == Role.SYSTEM
                and after.data["public"]
            ):
                sent = list(event.data["articles"])
        if sent is None:
            return None
        if number is not None:
            return [sent[number - 1]] if 1 <= number <= len(sent) else []
        return sent if len(sent) == 1 else []

    def _close_loop(
        self, ticket: _Fold, articles: list[str], at: datetime, actor: str | None
    ) -> list[TicketEvent]:
        """The events of a "solved" reply: ``article_helped`` for the article it names, else
        ``deflected`` (self-service answered, article unknown), then the ticket solved."""
        from ._model import Status

        events = [
            TicketEvent(
                "article_helped" if articles else "deflected",
                ticket_id=ticket.id,
                at=at,
                by=Role.CUSTOMER,
                actor=actor,
                data={"article": articles[0] if articles else None},
            )
        ]
        if ticket.status is not Status.SOLVED:
            events.append(
                TicketEvent(
                    "status_changed",
                    ticket_id=ticket.id,
                    at=at,
                    by=Role.CUSTOMER,
                    actor=actor,
                    data={"to": Status.SOLVED},
                )
            )
        return events

    # --- the help centre's sessions ----------------------------------------------------------

    def record_sessions(self, events: SessionEvent | Iterable[SessionEvent]) -> None:
        """Append self-service session events (:class:`~supportkit.SessionEvent`) to the
        store's session stream, all or none (anything else is a
        :class:`~supportkit.StoreError`)."""
        if isinstance(events, SessionEvent):
            events = [events]
        self.store.append_sessions(check_sessions(events))

    def session_events(self, since: datetime | None = None) -> list[SessionEvent]:
        """The store's session stream in append order (events at or after *since*)."""
        bound = None if since is None else to_epoch(since, "since", ConfigurationError)
        return self.store.session_events(since=bound)

    def self_service_search(
        self,
        session_id: str,
        query: str,
        *,
        customer: str | None = None,
        k: int = 5,
        locale: str | None = None,
        tags: Iterable[str] | None = None,
        area: str | None = None,
    ) -> list[ArticleHit]:
        """Search the articles for the help centre (as :meth:`search_articles`) and record
        the search in session *session_id* (a ``searched`` event with the query, the number
        of hits and their ids), so content gaps and deflection are measured."""
        hits = self.search_articles(query, k=k, locale=locale, tags=tags, area=area)
        data = {
            "query": query[:MAX_QUERY_LENGTH],
            "results": len(hits),
            "articles": [hit.article_id for hit in hits],
        }
        self.record_sessions(self._session_event("searched", session_id, customer, data))
        return hits

    def article_viewed(
        self, session_id: str, article_id: str, *, customer: str | None = None
    ) -> Article:
        """Record that session *session_id* viewed a published article (an ``article_viewed``
        event) and return the article to show. An unknown or unpublished article is an
        :class:`~supportkit.EventError` and records nothing."""
        article = self.article(article_id)
        if article is None or article.status != "published":
            raise EventError(f"no published article {article_id!r}", field="article_id")
        event = self._session_event("article_viewed", session_id, customer, {"article": article_id})
        self.record_sessions(event)
        return article

    def _session_event(
        self, kind: str, session_id: str, customer: str | None, data: dict[str, Any]
    ) -> SessionEvent:
        for name, value in (("session_id", session_id), ("customer", customer)):
            if (value is not None or name == "session_id") and (
                not isinstance(value, str) or not value or len(value) > 300
            ):
                raise EventError(
                    f"{name} must be a non-empty string of at most 300 characters, got "
                    f"{value!r:.80}",
                    field=name,
                )
        return SessionEvent(
            kind, session_id=session_id, at=self.clock.now(), customer=customer, data=data
        )

    # --- reports -------------------------------------------------------------------------------

    def _covers(self) -> Any:
        """``covers(kind, topic)`` for the needs report: a published article carries the tag,
        or a search for the topic finds an article."""
        tags = {tag for a in self.articles() if a.status == "published" for tag in a.tags}

        def covers(kind: str, topic: str) -> bool:
            if kind == "tag" and topic in tags:
                return True
            return bool(self.store.search_articles(query_terms(topic), k=1))

        return covers

    def self_service(
        self, *, period: timedelta = DEFAULT_PERIOD, at: datetime | None = None, top: int = 10
    ) -> SelfServiceReport:
        """The self-service report (:func:`supportkit.self_service`) of the store's sessions and
        tickets for the *period* before *at* (the clock's now), with this desk's deflection
        window; a rising topic is covered when a published article carries the tag or a
        search for it finds an article."""
        when = at if at is not None else self.clock.now()
        return self_service(
            self.store.session_events(),
            self.store.read_all(),
            now=when,
            period=period,
            window=self.knowledge.deflection_window,
            top=top,
            covers=self._covers(),
        )

    def content_gaps(
        self, *, period: timedelta = DEFAULT_PERIOD, at: datetime | None = None, top: int = 10
    ) -> list[dict[str, Any]]:
        """The top help-centre searches with no result or no click in the *period* before *at*
        (:func:`supportkit.content_gaps` over the store's session stream)."""
        when = at if at is not None else self.clock.now()
        return content_gaps(self.store.session_events(), now=when, period=period, top=top)

    def _session_facts(self, at: datetime, cutoff: int | None) -> list[SessionFacts]:
        """The decided sessions (up to *cutoff*) as metrics facts, joined to tickets with the
        desk's deflection window."""
        events = [e for e in self.store.session_events() if cutoff is None or e.ts <= cutoff]
        if not events:
            return []
        tickets = [e for e in self.store.read_all() if cutoff is None or e.ts <= cutoff]
        return session_facts(events, tickets, now=at, window=self.knowledge.deflection_window)
