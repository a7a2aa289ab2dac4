"""Self-service measured: help-centre sessions joined with the tickets customers open.

Nothing here does I/O. :class:`SelfServiceAggregator` folds session events
(:class:`~supportkit.SessionEvent`) and ticket logs into counters; two aggregators over disjoint
customers merge into exactly the one-pass result (so it shards like the metrics aggregators:
every session and ticket of one customer in the same shard). :func:`self_service` runs one over
a desk's streams; :func:`content_gaps` and :func:`session_facts` are its parts on their own.

Definitions (also in docs/concepts/knowledge.md, "Measuring self-service"):

- A **session** is the events of one ``session_id``; it *starts* at its earliest event and
  *ends* at its latest. It belongs to the period its start falls in.
- A session's **ticket** is the one its ``ticket_created`` event names, else the first ticket of
  the session's ``customer`` (the ticket's ``customer`` id) created in ``[start, end + window]``
  (*window*, the deflection window, 1 day by default). A session without a customer has only the
  named one.
- A session that viewed at least one article is a **knowledge-base session**. It is
  **decided** once it has a ticket or ``now >= end + window``, and **undecided** before
  (counted apart, in no rate); a decided one is **deflected** when it has no ticket.
  ``deflection_rate = deflected / knowledge-base sessions``.
- **Per article**: ``views`` (``article_viewed`` events naming it, in decided sessions),
  ``sessions`` (decided sessions that viewed it), ``tickets`` (those of them with a ticket) and
  ``ticket_rate = tickets / sessions`` (the views → tickets ratio: how often reading the
  article still ended in a ticket).
- **Content gaps**: a search is a ``searched`` event; its ``query`` is the sorted set of its
  search terms (:func:`~supportkit._knowledge.query_terms`; a search without terms is left
  out). It had **no result** when its ``data["results"]`` is 0; it had **no click** when it had
  results (or an unknown number) and the session viewed no article at or after it and before
  its next search. Per query: ``searches``, ``no_result``, ``no_click`` and ``gap =
  no_result + no_click``; queries with a gap, largest first.
- **Anticipate needs**: the *week* is ``(now - 7 days, now]``, *last week* the 7 days before.
  Topics are tags (``tag``: the tickets created in the week carrying the tag at the end of
  their log; the desk's own ``follow-up:`` tags left out) and terms (``term``: the search terms,
  of at least 3 letters and not all digits, of the subjects of the tickets created in the week,
  and of the week's searches). Per topic: ``tickets``, ``searches``, ``volume`` (their sum),
  ``last`` (the same sum for last week) and ``trend = volume - last``. A topic is **rising**
  when ``trend > 0`` and listed when no article covers it (the *covers* callable, for a desk:
  some published article carries the tag, or a search for the topic finds an article); rising
  first (trend, then volume, then kind and topic).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from ._knowledge import query_terms
from ._metrics import SessionEvent, SessionFacts, _Stored
from ._model import TicketEvent
from ._ticket import Ticket
from ._time import from_epoch, to_epoch
from .exceptions import ConfigurationError, EventError, StoreError

__all__ = [
    "DEFAULT_DEFLECTION_WINDOW",
    "SelfServiceAggregator",
    "SelfServiceReport",
    "check_sessions",
    "content_gaps",
    "redacted_session",
    "self_service",
    "session_facts",
]

#: How long after a session a ticket from its customer still counts as the session's ticket.
DEFAULT_DEFLECTION_WINDOW = timedelta(days=1)
#: The most rows a report's list may ask for (``top``).
MAX_TOP = 1_000_000
#: The default reporting period (sessions starting in it are counted), as for feedback.
DEFAULT_PERIOD = timedelta(days=28)
_WEEK = 7 * 86400
_FOLLOW_UP = "follow-up:"

Covers = Callable[[str, str], bool]
"""``covers(kind, topic)``: whether an article covers a topic (``kind`` ``"tag"`` or ``"term"``)."""


def check_sessions(events: Iterable[SessionEvent]) -> list[SessionEvent]:
    """The session events a store is asked to append (shared by every store): anything but a
    :class:`~supportkit.SessionEvent` is a :class:`~supportkit.StoreError` and nothing is
    written."""
    if isinstance(events, str | bytes) or not isinstance(events, Iterable):
        raise StoreError(f"append_sessions takes a list of SessionEvent, got {events!r:.80}")
    items = list(events)
    for event in items:
        if not isinstance(event, SessionEvent):
            raise StoreError(
                f"append_sessions takes SessionEvent objects, got {event!r:.80}; nothing was "
                "appended"
            )
    return items


def redacted_session(event: SessionEvent, pseudonym: str) -> SessionEvent:
    """*event* with *pseudonym* for its customer and its search query emptied (erasure)."""
    data = _Stored(event.data)  # as it was accepted (read back with NaN, it stays readable)
    if "query" in data:
        data["query"] = ""
    return attrs.evolve(event, customer=pseudonym, data=data)


def since_epoch(since: Any) -> int | None:
    """A store's ``session_events(since=...)`` bound checked: ``None`` or epoch seconds."""
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise StoreError(
            f"session_events(since=...) takes epoch seconds or None, got {since!r:.80}"
        )
    return since


def _seconds(value: Any, name: str) -> int:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigurationError(f"{name} must be a timedelta of 0 or more, got {value!r:.80}")
    return int(value.total_seconds())


def _topic_terms(text: str) -> set[str]:
    return {t for t in query_terms(text) if len(t) >= 3 and not t.isdigit()}


def _query(event: SessionEvent) -> str:
    query = event.data.get("query")
    return " ".join(sorted(query_terms(query))) if isinstance(query, str) else ""


@attrs.define
class _Session:
    """One session's events in time order, with its start, end and customer."""

    id: str
    events: list[SessionEvent]
    start: int
    end: int
    customer: str | None
    named: str | None  # the ticket its ticket_created event names

    @classmethod
    def of(cls, events: list[SessionEvent]) -> _Session:
        order = sorted(range(len(events)), key=lambda i: (events[i].ts, i))
        ordered = [events[i] for i in order]
        customer = next((e.customer for e in ordered if e.customer), None)
        named = next((e.data["ticket_id"] for e in ordered if e.kind == "ticket_created"), None)
        return cls(ordered[0].session_id, ordered, ordered[0].ts, ordered[-1].ts, customer, named)

    def searches(self) -> list[tuple[SessionEvent, bool]]:
        """Each search with whether an article view followed it (before the next search)."""
        result: list[tuple[SessionEvent, bool]] = []
        for event in self.events:
            if event.kind == "searched":
                result.append((event, False))
            elif event.kind == "article_viewed" and result:
                result[-1] = (result[-1][0], True)
        return result


def _sessions(events: Iterable[SessionEvent]) -> list[_Session]:
    if isinstance(events, str | bytes) or not isinstance(events, Iterable):
        raise EventError(f"expected an iterable of SessionEvent, got {events!r:.80}")
    by_id: dict[str, list[SessionEvent]] = {}
    for event in events:
        if not isinstance(event, SessionEvent):
            raise EventError(f"expected SessionEvent objects, got {event!r:.80}")
        by_id.setdefault(event.session_id, []).append(event)
    return [_Session.of(items) for items in by_id.values()]


def _logs(events: Iterable[TicketEvent]) -> list[list[TicketEvent]]:
    if isinstance(events, str | bytes) or not isinstance(events, Iterable):
        raise EventError(f"expected an iterable of TicketEvent, got {events!r:.80}")
    logs: dict[str, list[TicketEvent]] = {}
    for event in events:
        if not isinstance(event, TicketEvent):
            raise EventError(f"expected TicketEvent objects, got {event!r:.80}")
        logs.setdefault(event.ticket_id, []).append(event)
    return list(logs.values())


class _Opened:
    """When each customer opened tickets: ``ticket(customer, a, b)`` is the first ticket the
    customer created in ``[a, b]``."""

    def __init__(self, tickets: Iterable[Ticket]) -> None:
        by_customer: dict[str, list[tuple[int, str]]] = {}
        for ticket in tickets:
            if ticket.customer is not None:
                by_customer.setdefault(ticket.customer, []).append(
                    (to_epoch(ticket.created_at), ticket.id)
                )
        self.by_customer = {c: sorted(items) for c, items in by_customer.items()}

    def ticket(self, customer: str | None, a: int, b: int) -> str | None:
        items = self.by_customer.get(customer or "") if customer else None
        if not items:
            return None
        i = bisect.bisect_left(items, (a, ""))
        return items[i][1] if i < len(items) and items[i][0] <= b else None


def _classify(session: _Session, opened: _Opened, window: int, now: int) -> str | bool | None:
    """The session's ticket id, ``None`` (decided, no ticket) or ``False`` (undecided)."""
    if session.named is not None:
        return session.named
    found = opened.ticket(session.customer, session.start, session.end + window)
    if found is not None:
        return found
    return None if now >= session.end + window else False


class SelfServiceAggregator:
    """Folds sessions and tickets into the self-service figures; mergeable (see the module).

    *now* ends the reporting *period* (sessions starting in ``(now - period, now]`` count)
    and the two weeks of the needs report; *window* is the deflection window.
    """

    def __init__(
        self,
        *,
        now: datetime,
        period: timedelta = DEFAULT_PERIOD,
        window: timedelta = DEFAULT_DEFLECTION_WINDOW,
    ) -> None:
        self.now = to_epoch(now, "self-service now", ConfigurationError)
        self.period = _seconds(period, "self-service period")
        if self.period == 0:
            raise ConfigurationError("self-service period must be longer than 0")
        try:  # the report names the period's start: it must be a date
            from_epoch(self.now - self.period)
        except (ValueError, OverflowError, OSError):
            raise ConfigurationError(
                f"self-service period {period!r:.80} reaches back before the year 1 from {now}"
            ) from None
        self.window = _seconds(window, "deflection window")
        self.counts = [0, 0, 0]  # knowledge-base sessions, deflected, undecided
        self.articles: dict[str, list[int]] = {}  # article -> [views, sessions, tickets]
        self.queries: dict[str, list[int]] = {}  # query -> [searches, no_result, no_click]
        # (kind, topic) -> [tickets, searches, last week's tickets, last week's searches]
        self.topics: dict[tuple[str, str], list[int]] = {}

    def _week(self, ts: int) -> int | None:
        """0 for this week, 2 for last week (the offset into a topic's row), else None."""
        if self.now - _WEEK < ts <= self.now:
            return 0
        if self.now - 2 * _WEEK < ts <= self.now - _WEEK:
            return 2
        return None

    def _topic(self, kind: str, topic: str, index: int) -> None:
        self.topics.setdefault((kind, topic), [0, 0, 0, 0])[index] += 1

    def update(
        self, sessions: Iterable[SessionEvent], tickets: Iterable[TicketEvent] = ()
    ) -> SelfServiceAggregator:
        """Fold *sessions* (session events, any order) and *tickets* (ticket events, each
        ticket's log in order): the whole streams of a set of customers. Returns ``self``."""
        folded = [Ticket.from_events(log) for log in _logs(tickets)]
        grouped = _sessions(sessions)
        opened = _Opened(folded)
        for ticket in folded:
            week = self._week(to_epoch(ticket.created_at))
            if week is None:
                continue
            for tag in ticket.tags:
                if not tag.startswith(_FOLLOW_UP):
                    self._topic("tag", tag, week)
            for term in _topic_terms(ticket.subject or ""):
                self._topic("term", term, week)
        for session in grouped:
            self._session(session, opened)
        return self

    def _session(self, session: _Session, opened: _Opened) -> None:
        for event, _ in session.searches():
            week = self._week(event.ts)
            if week is not None:
                query = event.data.get("query")
                for term in _topic_terms(query if isinstance(query, str) else ""):
                    self._topic("term", term, week + 1)
        if not self.now - self.period < session.start <= self.now:
            return
        for event, clicked in session.searches():
            query = _query(event)
            if not query:
                continue
            row = self.queries.setdefault(query, [0, 0, 0])
            row[0] += 1
            if event.data.get("results") == 0:
                row[1] += 1
            elif not clicked:
                row[2] += 1
        viewed = [e.data.get("article") for e in session.events if e.kind == "article_viewed"]
        if not viewed:
            return
        ticket = _classify(session, opened, self.window, self.now)
        if ticket is False:
            self.counts[2] += 1
            return
        self.counts[0] += 1
        self.counts[1] += ticket is None
        for article in dict.fromkeys(a for a in viewed if isinstance(a, str)):
            row = self.articles.setdefault(article, [0, 0, 0])
            row[0] += viewed.count(article)
            row[1] += 1
            row[2] += ticket is not None

    def merge(self, other: SelfServiceAggregator) -> SelfServiceAggregator:
        """Add *other*'s figures (other customers, same now/period/window) into this one."""
        if not isinstance(other, SelfServiceAggregator) or (
            other.now,
            other.period,
            other.window,
        ) != (self.now, self.period, self.window):
            raise ConfigurationError("only self-service aggregators with the same settings merge")
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        for mine, theirs in (
            (self.articles, other.articles),
            (self.queries, other.queries),
            (self.topics, other.topics),
        ):
            _add_rows(mine, theirs)
        return self

    def result(self, *, top: int = 10, covers: Covers | None = None) -> SelfServiceReport:
        """The report, each list cut to its *top* rows; *covers* decides which rising topics an
        article covers (``None``: none is covered)."""
        top = check_top(top)
        if covers is not None and not callable(covers):
            raise ConfigurationError(
                f"covers must be a function covers(kind, topic) -> bool or None, got {covers!r:.80}"
            )
        sessions, deflected, undecided = self.counts
        articles: list[dict[str, Any]] = [
            {
                "article": a,
                "views": v,
                "sessions": s,
                "tickets": t,
                "ticket_rate": t / s,
            }
            for a, (v, s, t) in self.articles.items()
        ]
        articles.sort(key=lambda r: (-r["tickets"], -r["sessions"], r["article"]))
        needs: list[dict[str, Any]] = [
            {
                "kind": kind,
                "topic": topic,
                "tickets": t,
                "searches": s,
                "volume": t + s,
                "last": lt + ls,
                "trend": t + s - lt - ls,
            }
            for (kind, topic), (t, s, lt, ls) in self.topics.items()
            if t + s > lt + ls
        ]
        needs.sort(key=lambda r: (-r["trend"], -r["volume"], r["kind"], r["topic"]))
        if covers is not None:  # asked only until the top rows are found (a search each)
            uncovered = (r for r in needs if not covers(r["kind"], r["topic"]))
            needs = list(itertools.islice(uncovered, top))
        return SelfServiceReport(
            start=from_epoch(self.now - self.period),
            end=from_epoch(self.now),
            window=timedelta(seconds=self.window),
            sessions=sessions,
            deflected=deflected,
            undecided=undecided,
            deflection_rate=deflected / sessions if sessions else None,
            articles=articles[:top],
            content_gaps=_gap_rows(self.queries)[:top],
            needs=needs[:top],
        )


def _add_rows(mine: dict[Any, list[int]], theirs: Mapping[Any, list[int]]) -> None:
    for key, row in theirs.items():
        into = mine.setdefault(key, [0] * len(row))
        for i, value in enumerate(row):
            into[i] += value


def _gap_rows(queries: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"query": q, "searches": s, "no_result": n, "no_click": c, "gap": n + c}
        for q, (s, n, c) in queries.items()
        if n + c
    ]
    rows.sort(key=lambda r: (-r["gap"], -r["searches"], r["query"]))
    return rows


def check_top(top: Any, what: str = "top") -> int:
    """*top* (how many rows a report lists), checked: a whole number from 1 to ``MAX_TOP``."""
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise ConfigurationError(
            f"{what} must be a whole number from 1 to {MAX_TOP:,}, got {top!r:.80}"
        )
    return top


@attrs.frozen
class SelfServiceReport:
    """Self-service as plain data (see the module's definitions): the period ``start`` to
    ``end``, the deflection ``window``, the decided knowledge-base ``sessions``, the
    ``deflected`` ones, ``undecided`` knowledge-base sessions, ``deflection_rate`` (``None``
    without sessions), and the lists of dicts ``articles`` (views → tickets),
    ``content_gaps`` and ``needs`` (rising topics no article covers). :meth:`frame` gives one
    list as a pandas DataFrame."""

    start: datetime
    end: datetime
    window: timedelta
    sessions: int
    deflected: int
    undecided: int
    deflection_rate: float | None
    articles: list[dict[str, Any]]
    content_gaps: list[dict[str, Any]]
    needs: list[dict[str, Any]]

    def frame(self, section: str) -> Any:
        """The section (``"articles"``, ``"content_gaps"`` or ``"needs"``) as a
        ``pandas.DataFrame`` (needs pandas)."""
        if section not in ("articles", "content_gaps", "needs"):
            raise ConfigurationError(
                f"self-service frames are articles, content_gaps and needs, got {section!r:.80}"
            )
        try:
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise ConfigurationError("SelfServiceReport.frame needs pandas") from exc
        return pd.DataFrame(getattr(self, section))


def self_service(
    sessions: Iterable[SessionEvent],
    tickets: Iterable[TicketEvent] = (),
    *,
    now: datetime,
    period: timedelta = DEFAULT_PERIOD,
    window: timedelta = DEFAULT_DEFLECTION_WINDOW,
    top: int = 10,
    covers: Covers | None = None,
) -> SelfServiceReport:
    """The self-service report over session events and ticket events (``store.read_all()``)
    for the *period* before *now*, with the deflection *window*. See the module's definitions;
    ``SupportDesk.self_service`` runs it on a desk's store."""
    aggregator = SelfServiceAggregator(now=now, period=period, window=window)
    check_top(top)
    return aggregator.update(sessions, tickets).result(top=top, covers=covers)


def content_gaps(
    sessions: Iterable[SessionEvent],
    *,
    now: datetime,
    period: timedelta = DEFAULT_PERIOD,
    top: int = 10,
) -> list[dict[str, Any]]:
    """The top searches with no result or no click, for sessions starting in the *period*
    before *now*: dicts with ``query``, ``searches``, ``no_result``, ``no_click`` and ``gap``,
    largest gap first (see the module's definitions)."""
    aggregator = SelfServiceAggregator(now=now, period=period)
    top = check_top(top)
    for session in _sessions(sessions):
        if aggregator.now - aggregator.period < session.start <= aggregator.now:
            aggregator._session(session, _Opened(()))
    return _gap_rows(aggregator.queries)[:top]


def session_facts(
    sessions: Iterable[SessionEvent],
    tickets: Iterable[TicketEvent] = (),
    *,
    now: datetime,
    window: timedelta = DEFAULT_DEFLECTION_WINDOW,
) -> list[SessionFacts]:
    """The decided sessions as :class:`~supportkit.SessionFacts` for the metrics, each with
    the ticket the deflection window joins to it (so ``SessionFacts.deflected`` is the
    module's definition); undecided sessions are left out."""
    end = to_epoch(now, "session_facts now", ConfigurationError)
    seconds = _seconds(window, "deflection window")
    opened = _Opened(Ticket.from_events(log) for log in _logs(tickets))
    facts = []
    for session in _sessions(sessions):
        ticket = _classify(session, opened, seconds, end)
        if ticket is False:
            continue
        facts.append(
            SessionFacts(
                session_id=session.id,
                started_at=session.start,
                searches=sum(e.kind == "searched" for e in session.events),
                articles_viewed=sum(e.kind == "article_viewed" for e in session.events),
                ticket_id=ticket if isinstance(ticket, str) else None,
            )
        )
    return facts


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _cell(text: str, width: int = 28) -> str:
    """*text* in a column of *width*: a longer one (a search of one pasted 1,000-character
    word) is cut, ending in an ellipsis."""
    return f"{text:<{width}}" if len(text) <= width else text[: width - 1] + "…"


def render_text(report: SelfServiceReport) -> str:
    """The report as plain text, for ``supportkit report --self-service``."""
    hours = report.window.total_seconds() / 3600
    lines = [
        f"Self-service, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (UTC), deflection "
        f"window {hours:g} h",
        "",
        f"Deflection: {report.deflected} of {report.sessions} knowledge-base sessions "
        f"({_rate(report.deflection_rate)}); {report.undecided} undecided",
        "Articles, most tickets after a view (views, sessions, tickets, ticket rate):",
    ]
    lines.extend(
        f"  {_cell(r['article'])} {r['views']:>5} {r['sessions']:>5} {r['tickets']:>5} "
        f"{_rate(r['ticket_rate']):>6}"
        for r in report.articles
    )
    lines.append("Content gaps (searches, no result, no click):")
    lines.extend(
        f"  {_cell(r['query'])} {r['searches']:>5} {r['no_result']:>5} {r['no_click']:>5}"
        for r in report.content_gaps
    )
    lines.append("Rising topics no article covers (kind, tickets, searches, last week, trend):")
    lines.extend(
        f"  {_cell(r['topic'])} {r['kind']:<5} {r['tickets']:>5} {r['searches']:>5} "
        f"{r['last']:>5} {r['trend']:>+5}"
        for r in report.needs
    )
    return "\n".join(lines) + "\n"


def _texts(row: Mapping[str, Any], *names: str) -> list[str]:
    return [str(row[name]) for name in names]


def render_html_section(report: SelfServiceReport) -> str:
    """The report as a section of the HTML report (escaped, no scripts)."""

    from ._report import _table as table  # the HTML report's tables (escaped)

    hours = report.window.total_seconds() / 3600
    return "".join(
        [
            "<h2>Self-service</h2>",
            f"<p>{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (UTC): "
            f"{report.deflected} of {report.sessions} knowledge-base sessions deflected "
            f"({_rate(report.deflection_rate)}, no ticket within {hours:g} h); "
            f"{report.undecided} undecided. Definitions on the knowledge base page.</p>",
            table(
                ["article", "views", "sessions", "tickets", "ticket rate"],
                [
                    [
                        r["article"],
                        *_texts(r, "views", "sessions", "tickets"),
                        _rate(r["ticket_rate"]),
                    ]
                    for r in report.articles
                ],
                numeric=(1, 2, 3, 4),
            ),
            table(
                ["search with a gap", "searches", "no result", "no click"],
                [
                    [r["query"], *_texts(r, "searches", "no_result", "no_click")]
                    for r in report.content_gaps
                ],
                numeric=(1, 2, 3),
            ),
            table(
                [
                    "rising topic no article covers",
                    "kind",
                    "tickets",
                    "searches",
                    "last week",
                    "trend",
                ],
                [
                    [
                        r["topic"],
                        r["kind"],
                        *_texts(r, "tickets", "searches", "last"),
                        f"{r['trend']:+d}",
                    ]
                    for r in report.needs
                ],
                numeric=(2, 3, 4, 5),
            ),
        ]
    )
