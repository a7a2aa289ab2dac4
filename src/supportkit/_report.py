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
import math
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import attrs

from . import _settings
from ._calendar import BusinessCalendar
from ._clock import FrozenClock
from ._config import duration
from ._desk import DEFAULT_LADDER, SupportDesk
from ._deskloop import KnowledgeSettings
from ._escalation import EscalationLadder, EscalationLevel
from ._feedback import Feedback, render_html_section
from ._metrics import Goal, GroupMetrics, MetricsReport, _zone
from ._model import Tier
from ._nextstep import NextStep
from ._selfservice import SelfServiceReport
from ._selfservice import render_html_section as self_service_section
from ._sla import SlaPolicy
from ._sqlite import SqliteStore
from ._time import from_epoch, parse_instant
from .exceptions import ConfigurationError, StoreError
from .typing import DeskStore

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
class Breach:
    """One breached SLA cycle: which ticket missed which target, when, and by how much."""

    ticket_id: str
    tier: str | None
    priority: str
    metric: str
    target: timedelta
    breached_at: datetime
    late: timedelta
    """From the deadline to the cycle's stop (a late reply or solve), or to the report instant
    while it still runs."""
    running: bool


@attrs.frozen
class Summary:
    """The figures of a support day, ready to render.

    ``report`` has the ``all``, ``tier``, ``channel``, ``day`` and ``hour`` tables (periods in
    zone ``tz``) and the goal results; ``hourly`` is ``(hour, created, solved)`` for every hour
    in ``tz`` from the first event to the last (hours without events count 0); ``next_steps``
    covers every open ticket, most urgent first; ``breaches`` every breached SLA cycle, oldest
    first; ``outbox`` counts messages per status and ``receivers`` per receiver (a notifier
    ``"notifier:<name>"``, a plugin, or ``"reply"`` for replies to customers);
    ``engineering`` counts escalations to engineering.
    """

    title: str
    at: datetime
    tz: tzinfo
    report: MetricsReport
    hourly: tuple[tuple[datetime, int, int], ...]
    next_steps: tuple[NextStep, ...]
    breaches: tuple[Breach, ...]
    outbox: Mapping[str, int]
    engineering: int
    receivers: Mapping[str, int] = attrs.field(factory=dict)
    feedback: Feedback | None = None
    """The product feedback report (:meth:`SupportDesk.feedback`), shown as its own section."""
    self_service: SelfServiceReport | None = None
    """The self-service report (:meth:`SupportDesk.self_service`), shown as its own section."""

    @property
    def overall(self) -> GroupMetrics:
        """The ``all`` row."""
        return self.report.row("all")

    def tiers(self) -> tuple[GroupMetrics, ...]:
        """The per-tier rows, highest volume first."""
        return tuple(sorted(self.report.table("tier"), key=lambda row: -(row["incoming"] or 0)))

    def days(self) -> tuple[GroupMetrics, ...]:
        """The per-day rows (days in :attr:`tz`), oldest first."""
        return tuple(sorted(self.report.table("day"), key=lambda row: str(row.key[0])))


def report_zone(desk: SupportDesk, tz: str | tzinfo | None = None) -> tzinfo:
    """The zone a report buckets hours and days in: *tz* if given, else the zone of the desk's
    ``default`` calendar (or of its only one), else UTC."""
    if tz is not None:
        return _zone(tz)
    calendars = desk.settings()["calendars"]
    raw = calendars.get("default") or (
        next(iter(calendars.values())) if len(calendars) == 1 else None
    )
    return _zone(raw["tz"]) if raw else UTC


def summarize(
    desk: SupportDesk,
    *,
    goals: Iterable[Goal] = (),
    title: str = "",
    tz: str | tzinfo | None = None,
) -> Summary:
    """Read everything the dashboard and the HTML report show, as of the desk's clock.

    Hours and days are those of zone *tz* (default: :func:`report_zone`): every event is
    placed by its instant, so a message at 14:00+02:00 counts in the 12:00 UTC hour.
    """
    zone = report_zone(desk, tz)
    at = desk.clock.now()
    report = desk.metrics(("all", "tier", "channel", "day", "hour"), goals=goals, at=at, tz=zone)
    engineering = 0
    first = last = None
    for event in desk.store.read_all():
        first = event.ts if first is None else min(first, event.ts)
        last = event.ts if last is None else max(last, event.ts)
        if event.kind == "escalated" and desk.ladder is not None:
            engineering += desk.ladder.is_engineering(event.data["level"])
    messages = desk.outbox()
    outbox = Counter(message.status for message in messages)
    receivers = Counter(m.payload.get("receiver", m.topic) for m in messages)
    return Summary(
        title=title or "supportkit report",
        at=at,
        tz=zone,
        report=report,
        hourly=_hourly(report, zone, first, last),
        next_steps=tuple(desk.next_steps(at)),
        breaches=_breaches(desk, at),
        outbox=dict(outbox),
        engineering=engineering,
        receivers=dict(receivers),
        feedback=desk.feedback(at=at),
        self_service=desk.self_service(at=at),
    )


def _hourly(
    report: MetricsReport, zone: tzinfo, first: int | None, last: int | None
) -> tuple[tuple[datetime, int, int], ...]:
    """Created and solved per hour of *zone*, every hour from *first* to *last* (epochs)."""
    if first is None or last is None:
        return ()
    rows = {row.key[0]: row for row in report.table("hour")}
    hours: list[tuple[datetime, int, int]] = []
    seen = ""
    ts = first - first % 1800
    while ts <= last:
        start = from_epoch(ts, zone).replace(minute=0, second=0)
        label = start.isoformat(timespec="minutes")  # with the offset: DST's repeated hour
        if label != seen:
            seen = label
            row = rows.get(label)
            hours.append(
                (
                    start,
                    0 if row is None else int(row["incoming"] or 0),
                    0 if row is None else int(row["solved"] or 0),
                )
            )
        ts += 1800  # half hours: also reach every hour of a zone 30 minutes off UTC
    return tuple(hours)


def _breaches(desk: SupportDesk, at: datetime) -> tuple[Breach, ...]:
    """Every breached SLA cycle of every ticket as of *at*, oldest breach first."""
    found = []
    for ticket in desk.tickets():
        evaluation = desk.sla(ticket.id, at)
        if evaluation is None:
            continue
        for metric, cycles in evaluation.items():
            for cycle in cycles:
                if cycle.breached_at is None:
                    continue
                end = cycle.stop if cycle.stop is not None else at
                found.append(
                    Breach(
                        ticket_id=ticket.id,
                        tier=ticket.tier,
                        priority=str(ticket.priority),
                        metric=metric,
                        target=cycle.target,
                        breached_at=cycle.breached_at,
                        late=max(timedelta(0), end - cycle.breached_at),
                        running=cycle.stop is None,
                    )
                )
    return tuple(sorted(found, key=lambda b: (b.breached_at, b.ticket_id, b.metric)))


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


def open_report_desk(where: str | Path | DeskStore) -> tuple[SupportDesk, list[Goal], str]:
    """A read-only-minded desk over an existing SQLite file (or an open store: PostgreSQL,
    any :class:`~supportkit.typing.DeskStore`, closed with the desk), its goals and its title.

    The desk's clock stands at the last event, of a ticket or of the help centre's sessions
    (so a report of yesterday stays the same).
    """
    store: Any
    if isinstance(where, DeskStore):
        store = where
    else:
        path = Path(where)
        if not path.is_file():
            raise ConfigurationError(
                f"no supportkit database at {str(path)!r}: pass the file a desk wrote "
                "(e.g. supportkit demo --db PATH)"
            )
        store = SqliteStore(path)
    try:
        raw = store.meta(SETTINGS_KEY) or {}
        # The desk's newest recorded settings first; a file from before desks kept them has
        # the demo's only.
        newest = _settings.latest(store, SupportDesk.SETTINGS_KEY) or {}
        kept = newest.get("settings") or raw
        policies = [SlaPolicy.from_dict(p) for p in kept.get("policies", [])]
        calendars = {k: BusinessCalendar.from_dict(v) for k, v in kept.get("calendars", {}).items()}
        levels = kept.get("ladder", [])
        ladder = (
            EscalationLadder([EscalationLevel(**level) for level in levels]) if levels else None
        )
        # Goals and title: the demo's record, else the configuration file the desk runs with.
        recorded = (_settings.latest(store, SupportDesk.SETTINGS_KEY) or {}).get("config") or {}
        goals = [_goal(g) for g in raw.get("goals") or recorded.get("goals", [])]
        title = raw.get("title") or recorded.get("title", "")
        # The last event of the tickets or of the help centre's sessions (searched after the
        # newest ticket event, or on a desk with no ticket yet).
        ticket_ts = max((e.ts for e in store.read_all()), default=None)
        ticket_last = [] if ticket_ts is None else [from_epoch(ticket_ts)]
        last = max((*ticket_last, *(e.at for e in store.session_events())), default=None)
        if last is None:
            raise StoreError(f"{store!r} holds no events yet: nothing to report")
        at = raw.get("at")
        clock = FrozenClock(parse_instant(at) if at else last)
        # The deflection window of the configuration the desk runs with (links are not needed).
        window = (recorded.get("knowledge") or {}).get("deflection_window")
        # The tiers' weights of the configuration the desk runs with (the feedback report's
        # customer weight); routing and perks play no part in a report.
        tiers = [Tier(t["name"], weight=t["weight"]) for t in recorded.get("tiers", [])]
        desk = SupportDesk(
            store=store,
            clock=clock,
            policies=policies,
            calendars=calendars,
            tiers=tiers,
            plugins=None,
            ladder=ladder if "ladder" in kept else DEFAULT_LADDER,
            knowledge=KnowledgeSettings(deflection_window=duration(window)) if window else None,
        )
    except BaseException:
        store.close()
        raise
    return desk, goals, str(title)


# --- HTML -----------------------------------------------------------------------------------


def _minutes(value: float | int | None) -> str:
    """A duration in seconds for reading: ``45 min``, ``4 h``, ``4 h 30 min``, ``2 d 3 h``."""
    if value is None:
        return "–"
    minutes = round(value / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return f"{days} d" + (f" {hours} h" if hours else "")
    return f"{hours} h" + (f" {rest} min" if rest else "")


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


def axis_ticks(top: float, *, most: int = 6, whole: bool = False) -> list[float]:
    """Tick values from 0 up to at least *top* at a round step (1, 2 or 5 times a power of
    ten), at most *most* steps: the y axis of a chart (*whole*: steps of at least 1, for
    counts)."""
    top = max(top, 1.0)
    magnitude = 10 ** math.floor(math.log10(top / most))
    if whole:
        magnitude = max(magnitude, 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= most)
    count = math.ceil(top / step - 1e-9)
    return [step * i for i in range(count + 1)]


@attrs.frozen
class Series:
    """One data series of a chart: its name, colour and values (``None``: no data)."""

    name: str
    colour: str
    values: Sequence[float | None]


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    percent: bool = False,
    counts: bool = False,
) -> str:
    """A grouped bar chart as inline SVG: a y axis from 0 with round ticks and gridlines (0 to
    100 for *percent*), both axes labelled, a legend; a missing value is marked "no data",
    never drawn as a zero bar. *counts* keeps the y axis on whole numbers."""
    width, height = 680, 300
    left, right, top_pad, bottom = 62, 12, 30, 86
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    base = top_pad + plot_h
    values = [v for s in series for v in s.values if v is not None]
    ticks = (
        [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        if percent
        else axis_ticks(max(values, default=0), whole=counts)
    )
    top = ticks[-1]
    unit = " %" if percent else ""
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" '
        'class="chart">',
        f'<text x="{left}" y="16" class="title">{html.escape(title)}</text>',
    ]
    for tick in ticks:
        y = base - plot_h * tick / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'class="{"axis" if tick == 0 else "grid"}"/>'
            f'<text x="{left - 6}" y="{y + 3.5:.1f}" class="tick" text-anchor="end">'
            f"{_number(tick)}{unit}</text>"
        )
    parts.append(f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}" class="axis"/>')
    slot = plot_w / max(1, len(labels))
    bar = min(40.0, max(2.0, slot * 0.8 / max(1, len(series))))
    longest = max((len(label) for label in labels), default=0)
    every = max(1, math.ceil(len(labels) * (longest * 6 + 10) / plot_w))  # labels never touch
    for i, label in enumerate(labels):
        x0 = left + i * slot + (slot - bar * len(series)) / 2  # the group centred in its slot
        for j, one in enumerate(series):
            value = one.values[i]
            x = x0 + j * bar
            name = html.escape(f"{one.name}, {label}")
            if value is None:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{base - 4}" class="nodata" '
                    f'text-anchor="middle">–<title>{name}: no data</title></text>'
                )
                continue
            h = plot_h * min(value, top) / top
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{max(1.0, bar - 1):.1f}" '
                f'height="{h:.1f}" fill="{one.colour}"><title>{name}: '
                f"{_number(value)}{unit}</title></rect>"
            )
        centre = left + i * slot + slot / 2
        if i % every == 0 and centre + len(label) * 3 <= width:  # never cut at the edge
            parts.append(
                f'<text x="{centre:.1f}" y="{base + 15}" class="tick" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{base + 34}" class="axis-label x" '
        f'text-anchor="middle">{html.escape(x_label)}</text>'
        f'<text x="14" y="{top_pad + plot_h / 2:.1f}" class="axis-label y" text-anchor="middle" '
        f'transform="rotate(-90 14 {top_pad + plot_h / 2:.1f})">{html.escape(y_label)}</text>'
    )
    for j, one in enumerate(series):
        x = left + j * 170
        parts.append(
            f'<rect x="{x}" y="{height - 22}" width="10" height="10" fill="{one.colour}"/>'
            f'<text x="{x + 14}" y="{height - 13}" class="tick">{html.escape(one.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Container[int] = ()) -> str:
    """An HTML table whose *numeric* columns (indexes) are right-aligned figures; a table
    without rows says so."""

    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{' class=num' if i in numeric else ''}>{html.escape(c)}</{tag}>"
            for i, c in enumerate(row)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(head)}" class="note">none</td></tr>'
    return f"<table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody></table>"


def when(instant: datetime, zone: tzinfo) -> str:
    """An instant for a report reader: date, time and zone (``Mon 2025-03-03 14:05 CET``)."""
    return instant.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def step_row(step: NextStep, zone: tzinfo = UTC) -> list[str]:
    """A next step as table cells: ticket, who owes what, owner, due (date and time in
    *zone*)."""
    due = "–" if step.due is None else when(step.due, zone)
    owner = step.owner or (f"group {step.group}" if step.group else "unassigned")
    return [step.ticket_id, step.waiting_on.value, step.action.value, owner, due]


def breach_row(breach: Breach, zone: tzinfo = UTC) -> list[str]:
    """A breach as table cells: when, ticket, tier, priority, metric, target, how late."""
    late = _minutes(breach.late.total_seconds()) + (" and counting" if breach.running else "")
    return [
        when(breach.breached_at, zone),
        breach.ticket_id,
        breach.tier or "no tier",
        breach.priority,
        breach.metric,
        _minutes(breach.target.total_seconds()),
        late,
    ]


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
body{font-family:system-ui,sans-serif;margin:2rem auto;padding:0 1rem;color:#1d2733;
max-width:72rem}h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
.kpis{display:flex;flex-wrap:wrap;gap:1rem}.kpi{border:1px solid #d5dbe3;border-radius:8px;
padding:.6rem 1rem;min-width:8rem}.kpi b{display:block;font-size:1.4rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #e3e7ee;
padding:.3rem .7rem;text-align:left;vertical-align:top}.num{text-align:right;
font-variant-numeric:tabular-nums}td.num,td:first-child{white-space:nowrap}th{font-weight:600}
.chart{width:100%;max-width:680px;height:auto}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.charts .chart{flex:1 1 30rem;max-width:42rem}
.title{font-size:13px;font-weight:600}.tick{font-size:10px;fill:#55606e}
.axis-label{font-size:11px;fill:#1d2733}.axis{stroke:#8995a3}.grid{stroke:#e3e7ee}
.nodata{font-size:12px;fill:#8995a3}.note{color:#55606e}
"""

#: Colours of the charts' series.
BLUE, GREEN, AMBER = "#3b73b9", "#3f9d6d", "#d08a1e"


def _charts(summary: Summary) -> dict[str, str]:
    zone = _zone_name(summary.tz)
    multi_day = len({start.date() for start, _, _ in summary.hourly}) > 1
    hour_format = "%a %H:%M" if multi_day else "%H:%M"
    tiers = summary.tiers()
    names = [tier_name(row) for row in tiers]
    days = summary.days()
    day_labels = [str(row.key[0]) for row in days]

    def minutes(rows: Sequence[GroupMetrics], metric: str) -> list[float | None]:
        return [None if r[metric] is None else float(r[metric] or 0) / 60 for r in rows]

    def percent(rows: Sequence[GroupMetrics], metric: str) -> list[float | None]:
        return [None if r[metric] is None else 100 * float(r[metric] or 0) for r in rows]

    def counts(rows: Sequence[GroupMetrics], metric: str) -> list[float | None]:
        return [float(r[metric] or 0) for r in rows]

    return {
        "hourly": bar_chart(
            f"Incoming and solved per hour ({zone})",
            [start.strftime(hour_format) for start, _, _ in summary.hourly],
            [
                Series("incoming", BLUE, [c for _, c, _ in summary.hourly]),
                Series("solved", GREEN, [s for _, _, s in summary.hourly]),
            ],
            x_label=f"hour starting ({zone})",
            y_label="tickets",
            counts=True,
        ),
        "volume": bar_chart(
            "Tickets per day",
            day_labels,
            [
                Series("incoming", BLUE, counts(days, "incoming")),
                Series("solved", GREEN, counts(days, "solved")),
            ],
            x_label=f"day ({zone})",
            y_label="tickets",
            counts=True,
        ),
        "first_reply_days": bar_chart(
            "Median first reply per day",
            day_labels,
            [Series("median first reply", BLUE, minutes(days, "first_reply.median"))],
            x_label=f"day the ticket was opened ({zone})",
            y_label="minutes",
        ),
        "sla_days": bar_chart(
            "SLA attainment per day",
            day_labels,
            [Series("SLA attainment", GREEN, percent(days, "sla_attainment"))],
            x_label=f"day the ticket was opened ({zone})",
            y_label="SLA cycles met (%)",
            percent=True,
        ),
        "first_reply_tiers": bar_chart(
            "First reply per tier",
            names,
            [
                Series("median", BLUE, minutes(tiers, "first_reply.median")),
                Series("90th percentile", AMBER, minutes(tiers, "first_reply.p90")),
            ],
            x_label="tier",
            y_label="minutes",
        ),
        "sla_tiers": bar_chart(
            "SLA attainment per tier",
            names,
            [Series("SLA attainment", GREEN, percent(tiers, "sla_attainment"))],
            x_label="tier",
            y_label="SLA cycles met (%)",
            percent=True,
        ),
    }


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


#: How many breaches the HTML report lists (the rest are counted).
BREACHES_SHOWN = 200


def render_html(summary: Summary) -> str:
    """The summary as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    all_row = summary.overall
    kpis = [
        ("tickets", cell(all_row, "incoming", "")),
        ("solved", cell(all_row, "solved", "")),
        ("backlog", cell(all_row, "backlog", "")),
        ("first reply median", cell(all_row, "first_reply.median", "min")),
        ("SLA attainment", cell(all_row, "sla_attainment", "%")),
        ("SLA breaches", str(len(summary.breaches))),
        ("CSAT", cell(all_row, "csat", "%")),
        ("escalations", cell(all_row, "escalated", "")),
        ("to engineering", str(summary.engineering)),
        ("reopened", cell(all_row, "reopened", "")),
    ]
    zone = summary.tz
    charts = _charts(summary)
    outbox = ", ".join(f"{n} {status}" for status, n in sorted(summary.outbox.items()))
    breaches = summary.breaches[:BREACHES_SHOWN]
    more = len(summary.breaches) - len(breaches)
    return "".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(summary.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(summary.title)}</h1>",
            f"<p>As of {html.escape(when(summary.at, zone))} · hours and days in "
            f"{html.escape(_zone_name(zone))} · outbox: {html.escape(outbox or 'empty')}</p>",
            '<div class="kpis">',
            *(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in kpis),
            "</div>",
            f"<h2>Volume</h2>{charts['hourly']}",
            "<h2>Trends over days</h2>",
            ""
            if len(summary.days()) > 1
            else '<p class="note">One day of data so far: these trends fill in day by day.</p>',
            '<div class="charts">',
            charts["volume"],
            charts["first_reply_days"],
            charts["sla_days"],
            "</div>",
            "<h2>Tiers</h2>",
            _table(
                ["tier", *(name for name, _, _, _ in TIER_COLUMNS)],
                [
                    [tier_name(r), *(cell(r, m, u) for _, _, m, u in TIER_COLUMNS)]
                    for r in summary.tiers()
                ],
                numeric=range(1, len(TIER_COLUMNS) + 1),
            ),
            '<div class="charts">',
            charts["first_reply_tiers"],
            charts["sla_tiers"],
            "</div>",
            "<h2>Goals</h2>",
            _table(["goal", "value", "target", "result"], goal_rows(summary), numeric=(1, 2)),
            f"<h2>SLA breaches ({len(summary.breaches)})</h2>",
            _table(
                ["breached at", "ticket", "tier", "priority", "metric", "target", "late by"],
                [breach_row(b, zone) for b in breaches],
                numeric=(5, 6),
            ),
            f'<p class="note">and {more} more</p>' if more else "",
            f"<h2>Next steps ({len(summary.next_steps)} open tickets, most urgent first)</h2>",
            _table(
                ["ticket", "waiting on", "action", "owner", "due"],
                [step_row(s, zone) for s in summary.next_steps],
            ),
            "" if summary.feedback is None else render_html_section(summary.feedback),
            "" if summary.self_service is None else self_service_section(summary.self_service),
            "</body></html>",
        ]
    )
