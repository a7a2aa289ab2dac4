"""The manager's ``supportkit`` commands: ``staffing`` (agents needed per hour of the week from
a desk's history) and ``whatif`` (the history replayed under a proposed configuration).

Both read a desk with ``--db PATH`` or ``--config FILE`` (as the operator's commands do), write
nothing to it, print a table and, with ``--html FILE``, a self-contained page with the report's
charts.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._config import DeskConfig
from ._metrics import Goal
from ._operate import _command, _store_options, open_desk
from ._plan import StaffingPlan, staffing_plan
from ._report import _STYLE, Series, _table, bar_chart
from ._whatif import SlaConfig, WhatIf, _check_goal, whatif
from .exceptions import ConfigurationError

__all__ = ["add_analysis_commands"]


def _window(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    start = _instant(args.since, "--since")
    end = now if args.until is None else _instant(args.until, "--until")
    if end <= start:
        raise ConfigurationError(f"--until ({end.isoformat()}) must be after --since")
    return start, end


def _instant(text: str, option: str) -> datetime:
    """An ISO date (midnight UTC) or instant; a bare date or naive time is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(f"{option}: {text!r} is not an ISO date or instant") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _page(title: str, body: list[str]) -> str:
    return "".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            *body,
            "</body></html>",
        ]
    )


def _write(path: str, page: str) -> None:
    """Write the --html *page* to *path*; a path that cannot be written is a
    ConfigurationError naming it (exit status 1, no traceback)."""
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}") from None


def _staffing(args: argparse.Namespace) -> int:
    with open_desk(args) as desk:
        start, end = _window(args, desk.clock.now())
        config = desk.config
        # Agents with a shift calendar, counted under their first group (or "agents").
        shifts = {
            agent.id: (min(agent.groups, default="agents"), config.calendars[name])
            for agent in config.agents
            for name in [config.shifts.get(agent.id, "")]
            if name in config.calendars
        }
        goal = None
        if args.goal is not None:
            goal = next((g for g in config.goals if args.goal in (g.name, g.metric)), None)
            if goal is None:
                raise ConfigurationError(
                    f"--goal {args.goal!r}: the configuration has no goal of that name or "
                    f"metric (its goals: {', '.join(g.name or g.metric for g in config.goals)})"
                )
        sla = SlaConfig.from_settings(desk.settings()) if args.sla else None
        hours = None
        if args.hours is not None:
            hours = config.calendars.get(args.hours)
            if hours is None:
                raise ConfigurationError(
                    f"--hours {args.hours!r}: the configuration has no calendar of that name "
                    f"(its calendars: {', '.join(config.calendars) or 'none'})"
                )
        plan = staffing_plan(
            desk.store,
            start=start,
            end=end,
            aht=args.aht,
            goal=goal,
            sla=sla,
            target=None if goal else args.target if args.target is not None else 0.8,
            within=None if goal or sla else args.within if args.within is not None else 20,
            tz=args.tz,
            shifts=shifts or None,
            shrinkage=args.shrinkage,
            concurrency=args.concurrency,
            model=args.model,
            hours=hours,
        )
    if args.json:
        print(json.dumps([_row(r) for r in plan.rows], indent=2))
    else:
        print(plan.to_text())
    if args.html:
        _write(args.html, _staffing_html(plan, args.tz))
    return 0


def _row(row: Any) -> dict[str, Any]:
    return {
        "weekday": row.weekday,
        "hour": row.hour,
        "arrivals": row.arrivals,
        "required": row.required,
        "scheduled": row.scheduled,
    }


def _staffing_html(plan: StaffingPlan, tz: str) -> str:
    labels = [f"{r.weekday} {r.hour:02d}" for r in plan.rows]
    series = [Series("required", "#3b6fb6", [float(r.required) for r in plan.rows])]
    if any(r.scheduled is not None for r in plan.rows):
        series.append(Series("scheduled", "#8aa", [r.scheduled for r in plan.rows]))
    chart = bar_chart(
        "Agents per hour of the week",
        labels,
        series,
        x_label=f"hour of the week ({tz})",
        y_label="agents",
    )
    arrivals = bar_chart(
        "Arrivals per hour",
        labels,
        [Series("arrivals", "#b67a3b", [r.arrivals for r in plan.rows])],
        x_label=f"hour of the week ({tz})",
        y_label="contacts per hour",
    )
    rows = [
        [
            label,
            f"{r.arrivals:.2f}",
            str(r.required),
            "–" if r.scheduled is None else f"{r.scheduled:.1f}",
        ]
        for label, r in zip(labels, plan.rows, strict=True)
        if r.arrivals or r.scheduled
    ]
    return _page(
        "Staffing plan",
        [
            f"<p>{html.escape(plan.summary)}.</p>",
            chart,
            arrivals,
            _table(["hour", "arrivals/h", "required", "scheduled"], rows, numeric=(1, 2, 3)),
        ],
    )


def _whatif(args: argparse.Namespace) -> int:
    proposed = DeskConfig.load(Path(args.proposal))
    db_args = argparse.Namespace(db=args.db, config=None)
    with open_desk(db_args) as desk:
        start, end = _window(args, desk.clock.now())
        actual = SlaConfig.from_settings(desk.settings())
        result = whatif(
            desk.store,
            policies=proposed.policies,
            calendars=proposed.desk_calendars(),
            start=start,
            end=end,
            actual=actual,
            groupings=args.by,
            goals=_replayable(proposed.goals, args.by),
        )
        plans = None
        if args.staffing_target is not None:  # how many more agents the proposal needs
            plans = [
                staffing_plan(
                    desk.store,
                    start=start,
                    end=end,
                    aht=args.aht,
                    target=args.staffing_target,
                    sla=side,
                    tz=args.tz,
                )
                for side in (actual, SlaConfig(proposed.policies, proposed.desk_calendars()))
            ]
    staffing = None if plans is None else _agents_compared(*plans)
    if args.json:
        out: dict[str, Any] = {
            "tickets": result.tickets,
            "rows": result.rows(),
            "goals": result.goal_results(),
        }
        if staffing is not None:
            out["staffing"] = staffing
        print(json.dumps(out, indent=2))
    else:
        print(_whatif_text(result))
        if staffing is not None:
            print(
                f"Agent-hours a week for {staffing['target']:.0%} of first replies within their "
                f"targets (handling time {staffing['aht']:g} s): {staffing['actual']} now, "
                f"{staffing['proposed']} proposed ({staffing['more']:+d}); peak hour "
                f"{staffing['actual_peak']} -> {staffing['proposed_peak']} agents"
            )
    if args.html:
        _write(args.html, _whatif_html(result, staffing))
    return 0


def _replayable(goals: Sequence[Goal], groupings: Sequence[str]) -> list[Goal]:
    """The goals what-if can judge (SLA attainment of one of *groupings*, no period)."""
    kept = []
    for goal in goals:
        try:
            _check_goal(goal, groupings)
        except ConfigurationError:
            continue
        kept.append(goal)
    return kept


def _agents_compared(actual: StaffingPlan, proposed: StaffingPlan) -> dict[str, Any]:
    return {
        "target": actual.target,
        "aht": actual.aht,
        "actual": actual.agent_hours,
        "proposed": proposed.agent_hours,
        "more": proposed.agent_hours - actual.agent_hours,
        "actual_peak": max(r.required for r in actual.rows),
        "proposed_peak": max(r.required for r in proposed.rows),
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _whatif_cells(result: WhatIf) -> list[list[str]]:
    return [
        [
            row["grouping"] if row["group"] is None else f"{row['grouping']}={row['group']}",
            row["metric"],
            _percent(row["actual_attainment"]),
            _percent(row["proposed_attainment"]),
            str(row["actual_breaches"]),
            str(row["proposed_breaches"]),
        ]
        for row in result.rows()
    ]


_HEAD = ["group", "metric", "attainment now", "proposed", "breaches now", "proposed"]


def _whatif_text(result: WhatIf) -> str:
    cells = [_HEAD, *_whatif_cells(result)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEAD))]
    lines = [f"{result.tickets} tickets replayed"]
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))))  # fmt: skip
    goals = _goal_cells(result)
    if goals:
        lines.append("Goals of the proposal (now, proposed):")
        widths = [max(len(row[i]) for row in goals) for i in range(len(_GOAL_HEAD))]
        for row in goals:
            padded = (c.ljust(w) if i in (0, 2, 4) else c.rjust(w) for i, (c, w) in
                      enumerate(zip(row, widths, strict=True)))  # fmt: skip
            lines.append(("  " + "  ".join(padded)).rstrip())
    return "\n".join(lines)


_GOAL_HEAD = ["goal", "now", "", "proposed", ""]


def _goal_cells(result: WhatIf) -> list[list[str]]:
    """Each goal of the proposal that what-if judged: its value and verdict on both sides."""
    return [
        [
            goal["goal"],
            _percent(goal["actual_value"]),
            _verdict(goal["actual_met"]),
            _percent(goal["proposed_value"]),
            _verdict(goal["proposed_met"]),
        ]
        for goal in result.goal_results()
    ]


def _verdict(met: bool | None) -> str:
    return "–" if met is None else "met" if met else "missed"


def _whatif_html(result: WhatIf, staffing: dict[str, Any] | None) -> str:
    rows = result.rows()
    goals = _goal_cells(result)
    labels = [f"{r['group'] or r['grouping']} {r['metric']}" for r in rows]

    def values(key: str) -> list[float | None]:
        return [None if r[key] is None else 100 * r[key] for r in rows]

    chart = bar_chart(
        "SLA attainment, actual and proposed",
        labels,
        [
            Series("actual", "#8aa", values("actual_attainment")),
            Series("proposed", "#3b6fb6", values("proposed_attainment")),
        ],
        x_label="group and metric",
        y_label="attainment",
        percent=True,
    )
    return _page(
        "What-if",
        [
            f"<p>{result.tickets} tickets replayed; nothing was written.</p>",
            chart,
            _table(_HEAD, _whatif_cells(result), numeric=(2, 3, 4, 5)),
            *([_table(_GOAL_HEAD, goals, numeric=(1, 3))] if goals else []),
            *_staffing_lines(staffing),
        ],
    )


def _staffing_lines(staffing: dict[str, Any] | None) -> list[str]:
    if staffing is None:
        return []
    return [
        "<h2>Agents needed</h2>",
        _table(
            ["", "agent-hours a week", "peak hour"],
            [
                ["now", str(staffing["actual"]), str(staffing["actual_peak"])],
                ["proposed", str(staffing["proposed"]), str(staffing["proposed_peak"])],
            ],
            numeric=(1, 2),
        ),
        f"<p>For {staffing['target']:.0%} of first replies within their targets, handling "
        f"time {staffing['aht']:g} s.</p>",
    ]


def add_analysis_commands(commands: Any) -> None:
    """Add ``staffing`` and ``whatif`` to the CLI's subparsers."""
    staffing = _command(
        commands,
        "staffing",
        _staffing,
        "print the agents needed per hour of the week, from a desk's history",
        "  supportkit staffing --db support.sqlite3 --since 2025-01-01 --aht 300 \\\n"
        "      --target 0.8 --within 20 --tz Europe/Berlin --html plan.html\n",
    )
    _store_options(staffing)
    staffing.add_argument("--target", type=float, help="share answered in time (default 0.8)")
    staffing.add_argument("--within", type=float, help="seconds (default 20)")
    staffing.add_argument(
        "--goal", metavar="NAME", help="a configured goal on first replies (name or metric)"
    )
    staffing.add_argument(
        "--model",
        choices=["erlang", "backlog"],
        default="erlang",
        help="erlang (answered as they come) or backlog (email worked in --hours)",
    )
    staffing.add_argument(
        "--hours", metavar="CALENDAR", help="the configured calendar agents work in (backlog)"
    )
    staffing.add_argument(
        "--sla",
        action="store_true",
        help="each ticket within its own first-reply target (the recorded policies)",
    )
    staffing.add_argument("--shrinkage", type=float, default=0.0, help="default 0")
    staffing.add_argument(
        "--concurrency", type=int, default=1, help="contacts an agent works at once (default 1)"
    )
    proposal = _command(
        commands,
        "whatif",
        _whatif,
        "replay a desk's history under a proposed configuration, beside what ran",
        "  supportkit whatif --config proposed.toml --db support.sqlite3 --since 2025-01-01\n",
    )
    proposal.add_argument("--db", required=True, metavar="PATH", help="the desk's SQLite store")
    proposal.add_argument(
        "--config", dest="proposal", required=True, metavar="FILE", help="the proposed toml"
    )
    proposal.add_argument(
        "--by", nargs="+", default=["all", "tier"], help="groupings (default: all tier)"
    )
    proposal.add_argument(
        "--staffing-target",
        type=float,
        metavar="SHARE",
        help="also compare the agents needed for SHARE of first replies within their targets",
    )
    for parser in (staffing, proposal):
        parser.add_argument(
            "--aht", type=float, help="handling time, seconds (default: measured from the log)"
        )
        parser.add_argument("--tz", default="UTC", help="the zone of the hours (default UTC)")
        parser.add_argument("--since", required=True, help="ISO date or instant (UTC if bare)")
        parser.add_argument("--until", help="ISO date or instant (default: now)")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--html", metavar="FILE", help="also write an HTML page")
