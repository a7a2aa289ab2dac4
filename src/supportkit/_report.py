"""What a desk's store says about the day: a :class:`Summary`, and a self-contained HTML report.

``summarize`` reads through the desk (metrics, SLA, next steps, outbox); ``render_html`` draws
the summary as one HTML file with inline SVG charts and no external assets. The settings a
report needs beyond the log come from the SQLite file's ``meta`` table: every desk records its
SLA policies, calendars and escalation levels under :attr:`SupportDesk.SETTINGS_KEY` when it
is constructed; goals, a title and the report instant are optional, under :data:`SETTINGS_KEY`
(``supportkit demo`` writes them with :func:`settings`).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from ._calendar import BusinessCalendar
from ._clock import FrozenClock
from ._desk import DEFAULT_LADDER, SupportDesk
from ._escalation import EscalationLadder, EscalationLevel
from ._metrics import Goal, GroupMetrics, MetricsReport
from ._nextstep import NextStep
from ._sla import SlaPolicy
from ._sqlite import SqliteStore
from ._time import from_epoch, parse_instant
from .exceptions import ConfigurationError, StoreError

__all__ = ["SETTINGS_KEY", "Summary", "open_report_desk", "render_html", "settings", "summarize"]

#: The ``meta`` key holding ``{"policies", "calendars", "goals", "title"}`` for reports.
SETTINGS_KEY = "settings"

#: Report columns per tier: (name, short name, metric, unit).
TIER_COLUMNS = (
    ("tickets", "tix", "incoming", ""),
    ("solved", "done", "solved", ""),
    ("backlog", "open", "backlog", ""),
    ("first reply median", "FRT50", "first_reply.median", "min"),
    ("first reply p90", "FRT90", "first_reply.p90", "min"),
    ("resolution median", "res50", "full_resolution.median", "min"),
    ("resolution p90", "res90", "full_resolution.p90", "min"),
    ("SLA attainment", "SLA", "sla_attainment", "%"),
    ("escalated", "esc", "escalated", ""),
    ("CSAT", "CSAT", "csat", "%"),
)


@attrs.frozen
class Summary:
    """The figures of a support day, ready to render.

    ``report`` has the ``all``, ``tier`` and ``channel`` tables and the goal results;
    ``hourly`` is ``(hour, created, solved)`` per UTC hour; ``next_steps`` covers every open
    ticket; ``outbox`` counts messages per status; ``engineering`` counts escalations to
    engineering.
    """

    title: str
    at: datetime
    report: MetricsReport
    hourly: tuple[tuple[str, int, int], ...]
    next_steps: tuple[NextStep, ...]
    outbox: Mapping[str, int]
    engineering: int

    @property
    def overall(self) -> GroupMetrics:
        """The ``all`` row."""
        return self.report.row("all")

    def tiers(self) -> tuple[GroupMetrics, ...]:
        """The per-tier rows, highest volume first."""
        return tuple(sorted(self.report.table("tier"), key=lambda row: -(row["incoming"] or 0)))


def summarize(desk: SupportDesk, *, goals: Iterable[Goal] = (), title: str = "") -> Summary:
    """Read everything the dashboard and the HTML report show, as of the desk's clock."""
    at = desk.clock.now()
    report = desk.metrics(("all", "tier", "channel"), goals=goals, at=at)
    created: Counter[str] = Counter()
    solved: Counter[str] = Counter()
    engineering = 0
    for event in desk.store.read_all():
        hour = event.at.strftime("%Y-%m-%d %H:00")
        if event.kind == "created":
            created[hour] += 1
        elif event.kind == "status_changed" and event.data["to"] == "solved":
            solved[hour] += 1
        elif event.kind == "escalated" and desk.ladder is not None:
            engineering += desk.ladder.is_engineering(event.data["level"])
    hours = sorted(created.keys() | solved.keys())
    outbox = Counter(message.status for message in desk.outbox())
    return Summary(
        title=title or "supportkit report",
        at=at,
        report=report,
        hourly=tuple((h, created[h], solved[h]) for h in hours),
        next_steps=tuple(sorted(desk.next_steps(at), key=_step_order)),
        outbox=dict(outbox),
        engineering=engineering,
    )


def _step_order(step: NextStep) -> tuple[bool, float, bool, str]:
    """Earliest due first (no due last); at equal due, unassigned tickets first."""
    due = step.due.timestamp() if step.due is not None else 0.0
    return (step.due is None, due, step.owned, step.ticket_id)


def tier_name(row: GroupMetrics) -> str:
    """A tier row's label (``no tier`` for tickets without one)."""
    return "no tier" if row.key[0] is None else str(row.key[0])


def settings(
    policies: Sequence[SlaPolicy],
    calendars: Mapping[str, BusinessCalendar],
    goals: Sequence[Goal],
    title: str,
) -> dict[str, Any]:
    """The JSON document a report reads back with :func:`open_report_desk`."""
    return {
        "title": title,
        "policies": [p.to_dict() for p in policies],
        "calendars": {name: cal.to_dict() for name, cal in calendars.items()},
        "goals": [
            {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.asdict(g).items()}
            for g in goals
        ],
    }


def _goal(raw: Mapping[str, Any]) -> Goal:
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return Goal(**fields)


def open_report_desk(path: str | Path) -> tuple[SupportDesk, list[Goal], str]:
    """A read-only-minded desk over an existing SQLite file, its goals and its title.

    The desk's clock stands at the last event (so a report of yesterday stays the same).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(
            f"no supportkit database at {str(path)!r}: pass the file a desk wrote "
            "(e.g. supportkit demo --db PATH)"
        )
    store = SqliteStore(path)
    try:
        raw = store.meta(SETTINGS_KEY) or {}
        # The desk's own record first; a file from before desks kept one has the demo's only.
        kept = store.meta(SupportDesk.SETTINGS_KEY) or raw
        policies = [SlaPolicy.from_dict(p) for p in kept.get("policies", [])]
        calendars = {k: BusinessCalendar.from_dict(v) for k, v in kept.get("calendars", {}).items()}
        levels = kept.get("ladder", [])
        ladder = (
            EscalationLadder([EscalationLevel(**level) for level in levels]) if levels else None
        )
        goals = [_goal(g) for g in raw.get("goals", [])]
        last = max((e.ts for e in store.read_all()), default=None)
        if last is None:
            raise StoreError(f"{str(path)!r} holds no events yet: nothing to report")
        at = raw.get("at")
        clock = FrozenClock(parse_instant(at) if at else from_epoch(last))
        desk = SupportDesk(
            store=store,
            clock=clock,
            policies=policies,
            calendars=calendars,
            plugins=None,
            ladder=ladder if "ladder" in kept else DEFAULT_LADDER,
        )
    except BaseException:
        store.close()
        raise
    return desk, goals, str(raw.get("title", ""))


# --- HTML -----------------------------------------------------------------------------------


def _minutes(value: float | int | None) -> str:
    if value is None:
        return "–"
    minutes = round(value / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d}"


def _percent(value: float | int | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def cell(row: GroupMetrics, metric: str, unit: str, *, compact: bool = False) -> str:
    """One dashboard cell: minutes, a percentage or a count (*compact*: bare numbers)."""
    value = row.metrics.get(metric)
    if value is None:
        return "–"
    if unit == "min":
        return f"{value / 60:.0f}" if compact else _minutes(value)
    if unit == "%":
        return f"{value * 100:.0f}%" if compact else _percent(value)
    return f"{value:g}"


def _number(value: float) -> str:
    """A chart figure, rounded for reading: whole numbers from 10 up, one decimal below."""
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}".removesuffix(".0")


def _bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    unit: str = "",
) -> str:
    """A grouped vertical bar chart as inline SVG (one colour per series)."""
    width, height, pad = 640, 220, 34
    top = max([v for _, _, values in series for v in values] + [1])
    slot = (width - 2 * pad) / max(1, len(labels))
    bar = max(2.0, slot * 0.8 / max(1, len(series)))
    parts = [
        f'<svg viewBox="0 0 {width} {height + 60}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{pad}" y="16" class="title">{html.escape(title)}</text>',
        f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" class="axis"/>',
        f'<text x="4" y="{pad + 4}" class="tick">{_number(top)}{html.escape(unit)}</text>',
    ]
    for i, label in enumerate(labels):
        x0 = pad + i * slot + slot * 0.1
        for j, (_name, colour, values) in enumerate(series):
            h = (height - pad) * values[i] / top
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{height - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{html.escape(label)}: '
                f"{_number(values[i])}{html.escape(unit)}</title></rect>"
            )
        if len(labels) <= 24:
            parts.append(
                f'<text x="{x0 + slot * 0.4:.1f}" y="{height + 14}" class="tick" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    for j, (name, colour, _) in enumerate(series):
        x = pad + j * 160
        parts.append(f'<rect x="{x}" y="{height + 30}" width="10" height="10" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 14}" y="{height + 39}" class="tick">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def step_row(step: NextStep) -> list[str]:
    """A next step as table cells: ticket, who owes what, owner, due."""
    due = "–" if step.due is None else step.due.strftime("%a %H:%M UTC")
    owner = step.owner or (f"group {step.group}" if step.group else "unassigned")
    return [step.ticket_id, step.waiting_on.value, step.action.value, owner, due]


def goal_rows(summary: Summary) -> list[list[str]]:
    """Goal lines: goal, value, target, met or missed."""
    rows = []
    for result in summary.report.goals:
        metric = result.goal.metric
        fmt = _percent if "csat" in metric or "attainment" in metric else _minutes
        verdict = "no data" if result.met is None else "met" if result.met else "missed"
        rows.append([result.goal.label, fmt(result.value), fmt(result.target), verdict])
    return rows


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
.kpis{display:flex;flex-wrap:wrap;gap:1rem}.kpi{border:1px solid #d5dbe3;border-radius:8px;
padding:.6rem 1rem;min-width:8rem}.kpi b{display:block;font-size:1.4rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #e3e7ee;
padding:.3rem .7rem;text-align:right}td:first-child,th:first-child{text-align:left}
svg{max-width:100%;height:auto}.title{font-size:13px;font-weight:600}.tick{font-size:10px;
fill:#55606e}.axis{stroke:#8995a3}
"""


def render_html(summary: Summary) -> str:
    """The summary as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    all_row = summary.overall
    kpis = [
        ("tickets", cell(all_row, "incoming", "")),
        ("solved", cell(all_row, "solved", "")),
        ("backlog", cell(all_row, "backlog", "")),
        ("first reply median", cell(all_row, "first_reply.median", "min")),
        ("SLA attainment", cell(all_row, "sla_attainment", "%")),
        ("CSAT", cell(all_row, "csat", "%")),
        ("escalations", cell(all_row, "escalated", "")),
        ("to engineering", str(summary.engineering)),
        ("reopened", cell(all_row, "reopened", "")),
    ]
    tiers = summary.tiers()
    names = [tier_name(row) for row in tiers]
    hourly = _bars(
        "Incoming and solved per hour (UTC)",
        [h[-5:] for h, _, _ in summary.hourly],  # "HH:00" of "YYYY-MM-DD HH:00"
        [
            ("incoming", "#3b73b9", [c for _, c, _ in summary.hourly]),
            ("solved", "#4caf7d", [s for _, _, s in summary.hourly]),
        ],
    )
    reply = _bars(
        "First reply per tier (minutes)",
        names,
        [
            ("median", "#3b73b9", [(r["first_reply.median"] or 0) / 60 for r in tiers]),
            ("p90", "#e0a030", [(r["first_reply.p90"] or 0) / 60 for r in tiers]),
        ],
        " min",
    )
    sla = _bars(
        "SLA attainment per tier (%)",
        names,
        [("attainment", "#4caf7d", [100 * (r["sla_attainment"] or 0) for r in tiers])],
        " %",
    )
    outbox = ", ".join(f"{n} {status}" for status, n in sorted(summary.outbox.items()))
    return "".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{html.escape(summary.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(summary.title)}</h1>",
            f"<p>As of {summary.at.isoformat()} · outbox: {html.escape(outbox or 'empty')}</p>",
            '<div class="kpis">',
            *(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in kpis),
            "</div>",
            f"<h2>Volume</h2>{hourly}",
            "<h2>Tiers</h2>",
            _table(
                ["tier", *(name for name, _, _, _ in TIER_COLUMNS)],
                [[tier_name(r), *(cell(r, m, u) for _, _, m, u in TIER_COLUMNS)] for r in tiers],
            ),
            reply,
            sla,
            "<h2>Goals</h2>",
            _table(["goal", "value", "target", "result"], goal_rows(summary)),
            f"<h2>Next steps ({len(summary.next_steps)} open tickets)</h2>",
            _table(
                ["ticket", "waiting on", "action", "owner", "due"],
                [step_row(s) for s in summary.next_steps],
            ),
            "</body></html>",
        ]
    )
