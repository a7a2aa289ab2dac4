"""The product feedback report: what support learns for the product, from the event log.

:class:`FeedbackAggregator` folds whole ticket logs one at a time and merges with another over a
disjoint set of tickets into exactly the one-pass result (so it shards, say on Dask, like the
metrics aggregators); :func:`feedback` runs one over a log. Definitions (also in
docs/concepts/problems.md):

- The **period** is ``(now - window, now]`` (so it includes *now*), the **last period** the
  window before it. A ticket belongs to the period its ``created`` event falls in.
- A ticket's **weight** is its tier's weight in *weights* (0 for no tier or an unknown one).
- **Top tags**: per tag (a ticket's tags at the end of its log), the tickets of the period
  (``volume``), of the last period (``last``), ``trend = volume - last`` and the summed
  ``weight`` of the period's tickets; rising first (trend, then volume, then name).
- **Top problems**: per problem ticket, the incidents linked at the end of their logs
  (``incidents``), those created in the period (``volume``) and the last (``last``), ``trend``
  and the incidents' summed ``weight``; by volume, then weight, then trend.
- **By customer weight**: the same tag and problem rows ranked heaviest first: tags by
  ``weight``, then volume, then name (``top_tags_by_weight``); problems by ``weight``, then
  incidents, then volume, then id (``top_problems_by_weight``).
- **Escalations to engineering** per product area: tickets whose first escalation to
  engineering (level ``"engineering"`` or flagged ``engineering``) falls in the period, by the
  ticket's ``area:<name>`` tag (the first in sorted order; ``"(none)"`` without one).
- **Time from escalation to fix**: for tickets solved in the period after an escalation to
  engineering, the seconds from the first such escalation to that solve (count, median, p90).
- **Waiting on engineering**: incidents linked to a problem and not solved or closed at the end
  of their logs, with their tiers, and their count per tier; not those of a problem whose
  engineering issue's last recorded state (``engineering_issue_changed``) is ``wont_fix``.
- **Knowledge-base content gaps** (when the knowledge layer is present: help-centre session
  events were given): the top searches of the sessions starting in the period that found no
  article or whose results were not clicked, as :func:`supportkit.content_gaps` defines them
  (``query``, ``searches``, ``no_result``, ``no_click``, ``gap``; largest gap first). ``None``
  without the knowledge layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ._metrics import SessionEvent
from ._model import Status, TicketEvent
from ._nextstep import WONT_FIX, issue_state
from ._selfservice import SelfServiceAggregator, check_top
from ._sketch import ExactQuantiles
from ._ticket import Ticket
from ._time import from_epoch, to_epoch
from .exceptions import ConfigurationError, EventError

__all__ = ["Feedback", "FeedbackAggregator", "feedback"]

_DONE = frozenset({Status.SOLVED, Status.CLOSED})
_FRAMES = (
    "top_tags",
    "top_problems",
    "top_tags_by_weight",
    "top_problems_by_weight",
    "waiting",
    "content_gaps",
)


@attrs.frozen
class Feedback:
    """The product feedback report as plain data (lists of dicts, see the module's definitions);
    :meth:`frame` gives one section as a pandas DataFrame."""

    start: datetime
    end: datetime
    top_tags: list[dict[str, Any]]
    top_problems: list[dict[str, Any]]
    escalations: dict[str, int]
    fix_seconds: dict[str, float | int | None]
    waiting: list[dict[str, Any]]
    waiting_tiers: dict[str, int]
    content_gaps: list[dict[str, Any]] | None = None
    top_tags_by_weight: list[dict[str, Any]] = attrs.field(factory=list)
    top_problems_by_weight: list[dict[str, Any]] = attrs.field(factory=list)

    def frame(self, section: str) -> Any:
        """The section *section* (``"top_tags"``, ``"top_problems"``,
        ``"top_tags_by_weight"``, ``"top_problems_by_weight"``, ``"waiting"`` or
        ``"content_gaps"``, empty without the knowledge layer) as a ``pandas.DataFrame``
        (needs pandas)."""
        if section not in _FRAMES:
            raise ConfigurationError(
                f"feedback frames are {', '.join(_FRAMES)}, got {section!r:.80}"
            )
        try:
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise ConfigurationError("Feedback.frame needs pandas: pip install pandas") from exc
        return pd.DataFrame(getattr(self, section) or [])


class FeedbackAggregator:
    """Folds ticket logs (:meth:`update`) and help-centre session events
    (:meth:`update_sessions`, the knowledge layer's) into the feedback report's figures;
    mergeable (see the module doc): shards hold whole ticket logs and whole sessions."""

    def __init__(
        self, *, now: datetime, window: timedelta, weights: Mapping[str, int] | None = None
    ) -> None:
        self.end = to_epoch(now, "feedback(now=...)", ConfigurationError)
        if not isinstance(window, timedelta) or window <= timedelta(0):
            raise ConfigurationError(
                f"feedback window must be a positive timedelta, got {window!r}"
            )
        self.window = int(window.total_seconds())
        if weights is not None and not (
            isinstance(weights, Mapping)
            and all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in weights.items()
            )
        ):
            raise ConfigurationError(
                f"feedback weights map tier names to whole numbers, got {weights!r:.80}"
            )
        self.weights = dict(weights or {})
        self.tags: dict[str, list[int]] = {}  # tag -> [volume, last, weight]
        self.problems: dict[str, list[int]] = {}  # problem -> [incidents, volume, last, weight]
        self.subjects: dict[str, str] = {}
        self.escalations: dict[str, int] = {}
        self.fix = ExactQuantiles()
        self.waiting: list[dict[str, Any]] = []
        self.wont_fix: set[str] = set()  # problems whose issue engineering won't fix
        self.knowledge: SelfServiceAggregator | None = None  # content gaps, once sessions come

    def _period(self, ts: int) -> int | None:
        """0 for the period, 1 for the last period, None otherwise."""
        if self.end - self.window < ts <= self.end:
            return 0
        if self.end - 2 * self.window < ts <= self.end - self.window:
            return 1
        return None

    def update(self, log: Sequence[TicketEvent]) -> None:
        """Fold one ticket's whole log (in order, starting with ``created``)."""
        ticket = Ticket.from_events(log)
        created = to_epoch(ticket.created_at)
        period = self._period(created)
        weight = self.weights.get(ticket.tier or "", 0)
        self.subjects[ticket.id] = ticket.subject
        if issue_state(log) == WONT_FIX:
            self.wont_fix.add(ticket.id)
        if period is not None:
            for tag in ticket.tags:
                row = self.tags.setdefault(tag, [0, 0, 0])
                row[period] += 1
                if period == 0:
                    row[2] += weight
        if ticket.problem is not None:
            row = self.problems.setdefault(ticket.problem, [0, 0, 0, 0])
            row[0] += 1
            row[3] += weight
            if period is not None:
                row[1 + period] += 1
            if ticket.status not in _DONE:
                self.waiting.append(
                    {"ticket": ticket.id, "problem": ticket.problem, "tier": ticket.tier}
                )
        escalated = next(
            (
                e.ts
                for e in log
                if e.kind == "escalated"
                and (e.data["level"] == "engineering" or e.data["engineering"])
            ),
            None,
        )
        if escalated is None:
            return
        if self._period(escalated) == 0:
            areas = sorted(t for t in ticket.tags if t.startswith("area:"))
            area = areas[0][5:] if areas else "(none)"
            self.escalations[area] = self.escalations.get(area, 0) + 1
        solved = next(
            (
                e.ts
                for e in log
                if e.ts >= escalated
                and e.kind == "status_changed"
                and e.data["to"] is Status.SOLVED
            ),
            None,
        )
        if solved is not None and self._period(solved) == 0:
            self.fix.add(solved - escalated)

    def update_sessions(self, sessions: Iterable[SessionEvent]) -> FeedbackAggregator:
        """Fold help-centre session events (whole sessions, any order) for the content gaps;
        from the first call on, the report has the knowledge layer's section. Returns
        ``self``."""
        if self.knowledge is None:
            period = timedelta(seconds=self.window)
            self.knowledge = SelfServiceAggregator(now=from_epoch(self.end), period=period)
        self.knowledge.update(sessions)
        return self

    def merge(self, other: FeedbackAggregator) -> FeedbackAggregator:
        """Add *other*'s figures (over other tickets, same now/window/weights) into this one."""
        if (other.end, other.window, other.weights) != (self.end, self.window, self.weights):
            raise ConfigurationError("only feedback aggregators with the same settings merge")
        for mine, theirs in ((self.tags, other.tags), (self.problems, other.problems)):
            for key, row in theirs.items():
                into = mine.setdefault(key, [0] * len(row))
                for i, value in enumerate(row):
                    into[i] += value
        self.subjects.update(other.subjects)
        for area, count in other.escalations.items():
            self.escalations[area] = self.escalations.get(area, 0) + count
        self.fix.merge(other.fix)
        self.waiting.extend(other.waiting)
        self.wont_fix |= other.wont_fix
        if other.knowledge is not None:
            self.knowledge = (
                other.knowledge if self.knowledge is None else self.knowledge.merge(other.knowledge)
            )
        return self

    def result(self, top: int = 10) -> Feedback:
        """The report, with the *top* tags and problems."""
        tags: list[dict[str, Any]] = [
            {"tag": t, "volume": v, "last": last, "trend": v - last, "weight": w}
            for t, (v, last, w) in self.tags.items()
        ]
        tags.sort(key=lambda r: (-r["trend"], -r["volume"], r["tag"]))
        problems: list[dict[str, Any]] = [
            {
                "problem": p,
                "subject": self.subjects.get(p, ""),
                "incidents": n,
                "volume": v,
                "last": last,
                "trend": v - last,
                "weight": w,
            }
            for p, (n, v, last, w) in self.problems.items()
        ]
        heavy_tags = sorted(tags, key=lambda r: (-r["weight"], -r["volume"], r["tag"]))
        heavy_problems = sorted(
            problems, key=lambda r: (-r["weight"], -r["incidents"], -r["volume"], r["problem"])
        )
        problems.sort(key=lambda r: (-r["volume"], -r["weight"], -r["trend"], r["problem"]))
        waiting = sorted(
            (r for r in self.waiting if r["problem"] not in self.wont_fix),
            key=lambda r: (r["problem"], r["ticket"]),
        )
        tiers: dict[str, int] = {}
        for row in waiting:
            tiers[row["tier"] or "none"] = tiers.get(row["tier"] or "none", 0) + 1
        return Feedback(
            start=from_epoch(self.end - self.window),
            end=from_epoch(self.end),
            top_tags=tags[:top],
            top_problems=problems[:top],
            escalations=dict(sorted(self.escalations.items())),
            fix_seconds={
                "count": self.fix.count,
                "median": self.fix.quantile(0.5),
                "p90": self.fix.quantile(0.9),
            },
            waiting=waiting,
            waiting_tiers=dict(sorted(tiers.items())),
            content_gaps=None
            if self.knowledge is None
            else self.knowledge.result(top=top).content_gaps,
            top_tags_by_weight=heavy_tags[:top],
            top_problems_by_weight=heavy_problems[:top],
        )


def feedback(
    events: Iterable[TicketEvent],
    *,
    now: datetime,
    window: timedelta = timedelta(days=28),
    weights: Mapping[str, int] | None = None,
    top: int = 10,
    sessions: Iterable[SessionEvent] | None = None,
) -> Feedback:
    """The product feedback report over *events* (an interleaved log, ``store.read_all()``),
    for the *window* before *now*, with tier *weights* (tier name -> weight; a desk's are
    ``{t.name: t.weight for t in desk.tiers.values()}``) and, with the knowledge layer's
    help-centre *sessions* (session events), its content gaps. See the module's
    definitions."""
    aggregator = FeedbackAggregator(now=now, window=window, weights=weights)
    check_top(top, "feedback top")
    if isinstance(events, str | bytes) or not isinstance(events, Iterable):
        raise EventError(f"feedback reads an iterable of TicketEvent, got {events!r:.80}")
    logs: dict[str, list[TicketEvent]] = {}
    for event in events:
        if not isinstance(event, TicketEvent):
            raise EventError(f"feedback reads TicketEvent objects, got {event!r:.80}")
        logs.setdefault(event.ticket_id, []).append(event)
    for log in logs.values():
        aggregator.update(log)
    if sessions is not None:
        aggregator.update_sessions(sessions)
    return aggregator.result(top)


def _hours(seconds: float | int | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def render_text(report: Feedback) -> str:
    """The report as plain text, for ``supportkit report --feedback``."""
    lines = [f"Product feedback, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (UTC)", ""]
    lines.append("Top problems (volume this period, last, trend, incidents, weight):")
    for r in report.top_problems:
        lines.append(
            f"  {r['problem']}  {r['volume']:>4} {r['last']:>4} {r['trend']:>+5} "
            f"{r['incidents']:>5} {r['weight']:>6}  {r['subject']}"
        )
    lines.append("Top problems by customer weight (weight, incidents, volume):")
    lines.extend(
        f"  {r['problem']}  {r['weight']:>6} {r['incidents']:>5} {r['volume']:>4}  {r['subject']}"
        for r in report.top_problems_by_weight
    )
    lines.append("Top tags, rising first (volume, last, trend, weight):")
    for r in report.top_tags:
        lines.append(
            f"  {r['tag']:<24} {r['volume']:>4} {r['last']:>4} {r['trend']:>+5} {r['weight']:>6}"
        )
    lines.append("Top tags by customer weight (weight, volume):")
    lines.extend(
        f"  {r['tag']:<24} {r['weight']:>6} {r['volume']:>4}" for r in report.top_tags_by_weight
    )
    lines.append("Escalations to engineering per product area:")
    lines.extend(f"  {area:<24} {n:>4}" for area, n in report.escalations.items())
    fix = report.fix_seconds
    lines.append(
        f"Time from escalation to fix: {fix['count']} fixed, median {_hours(fix['median'])}, "
        f"p90 {_hours(fix['p90'])}"
    )
    tiers = ", ".join(f"{t} {n}" for t, n in report.waiting_tiers.items()) or "none"
    lines.append(f"Incidents waiting on engineering: {len(report.waiting)} ({tiers})")
    lines.extend(
        f"  {r['ticket']} -> {r['problem']} ({r['tier'] or 'no tier'})" for r in report.waiting
    )
    if report.content_gaps is not None:
        lines.append("Knowledge-base content gaps (searches, no result, no click):")
        lines.extend(
            f"  {r['query']:<32} {r['searches']:>5} {r['no_result']:>5} {r['no_click']:>5}"
            for r in report.content_gaps
        )
    return "\n".join(lines) + "\n"


def render_html_section(report: Feedback) -> str:
    """The report as a section of the HTML report (escaped, no scripts)."""
    import html

    def table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"

    fix = report.fix_seconds
    return "".join(
        [
            "<h2>Product feedback</h2>",
            f"<p>{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (UTC) against the period "
            "before; definitions in the problems and incidents docs.</p>",
            table(
                ["problem", "subject", "volume", "last", "trend", "incidents", "weight"],
                [
                    [
                        r["problem"],
                        r["subject"],
                        r["volume"],
                        r["last"],
                        f"{r['trend']:+d}",
                        r["incidents"],
                        r["weight"],
                    ]
                    for r in report.top_problems
                ],
            ),
            table(
                ["tag", "volume", "last", "trend", "weight"],
                [
                    [r["tag"], r["volume"], r["last"], f"{r['trend']:+d}", r["weight"]]
                    for r in report.top_tags
                ],
            ),
            table(
                ["problem (by customer weight)", "subject", "weight", "incidents", "volume"],
                [
                    [r["problem"], r["subject"], r["weight"], r["incidents"], r["volume"]]
                    for r in report.top_problems_by_weight
                ],
            ),
            table(
                ["tag (by customer weight)", "weight", "volume"],
                [[r["tag"], r["weight"], r["volume"]] for r in report.top_tags_by_weight],
            ),
            table(["product area", "escalations to engineering"], report.escalations.items()),
            f"<p>Escalation to fix: {fix['count']} fixed, median {_hours(fix['median'])}, "
            f"p90 {_hours(fix['p90'])}.</p>",
            table(
                ["waiting incident", "problem", "tier"],
                [[r["ticket"], r["problem"], r["tier"] or "-"] for r in report.waiting],
            ),
            ""
            if report.content_gaps is None
            else table(
                ["knowledge-base search", "searches", "no result", "no click"],
                [
                    [r["query"], r["searches"], r["no_result"], r["no_click"]]
                    for r in report.content_gaps
                ],
            ),
        ]
    )
