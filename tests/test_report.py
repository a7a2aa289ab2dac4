"""The HTML report a manager reads: hours by instant in a stated zone, charts with honest axes,
trends over days, the breach list, next steps with dates."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    BusinessCalendar,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SlaPolicy,
    Status,
    SupportDesk,
)
from supportkit._cli import main
from supportkit._report import (
    Series,
    axis_ticks,
    bar_chart,
    render_html,
    report_zone,
    step_row,
    summarize,
)
from supportkit.testing import service_missing

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
POLICY = SlaPolicy.from_dict(
    {
        "name": "standard",
        "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}},
    }
)


def _desk(clock: FrozenClock, **options: object) -> SupportDesk:
    return SupportDesk(
        store=InMemoryStore(),
        clock=clock,
        plugins=None,
        policies=[POLICY],
        **options,  # type: ignore[arg-type]
    )


def _message(number: int, at: datetime) -> InboundMessage:
    return InboundMessage(f"m-{number}", "email", f"c{number}@example.com", at)


def test_hours_are_buckets_of_instants_in_the_stated_zone() -> None:
    """A ticket at 14:00+02:00 counts in the 12:00 UTC hour, and 09:00 in Berlin and 09:00 in
    New York are different hours (they shared a bar when events were bucketed by their own
    wall clock)."""
    clock = FrozenClock(datetime(2025, 6, 2, 18, tzinfo=UTC))
    desk = _desk(clock)
    at = [
        datetime(2025, 6, 2, 14, tzinfo=timezone(timedelta(hours=2))),  # 12:00 UTC
        datetime(2025, 6, 2, 12, 30, tzinfo=UTC),
        datetime(2025, 6, 2, 9, 15, tzinfo=BERLIN),  # 07:15 UTC
        datetime(2025, 6, 2, 9, 15, tzinfo=NEW_YORK),  # 13:15 UTC
    ]
    for number, instant in enumerate(at):
        desk.ingest(_message(number, instant))
    utc = {start.strftime("%H:%M"): created for start, created, _ in summarize(desk).hourly}
    berlin = summarize(desk, tz="Europe/Berlin")
    assert ({"07:00": 1, "12:00": 2, "13:00": 1}, "Europe/Berlin") == (
        {hour: n for hour, n in utc.items() if n},
        str(berlin.tz),
    )
    assert {"09:00": 1, "14:00": 2, "15:00": 1} == {
        start.strftime("%H:%M"): n for start, n, _ in berlin.hourly if n
    }


def test_every_hour_between_the_first_and_last_event_is_listed() -> None:
    """Quiet hours are real zeros: the hourly series has no gaps."""
    clock = FrozenClock(T0 + timedelta(hours=5))
    desk = _desk(clock)
    desk.ingest(_message(1, T0))
    desk.ingest(_message(2, T0 + timedelta(hours=3, minutes=5)))
    hourly = summarize(desk).hourly
    assert [(9, 1), (10, 0), (11, 0), (12, 1)] == [(s.hour, n) for s, n, _ in hourly]


def test_the_report_zone_defaults_to_the_desks_default_calendar() -> None:
    """Without --tz the report uses the zone of the desk's default calendar, else UTC."""
    calendar = BusinessCalendar(tz="America/New_York", weekly={"mon": ["09:00-17:00"]})
    clock = FrozenClock(T0)
    assert ("America/New_York", "UTC", "Asia/Tokyo") == (
        str(report_zone(_desk(clock, calendars=calendar))),
        str(report_zone(_desk(clock))),
        str(report_zone(_desk(clock, calendars=calendar), "Asia/Tokyo")),
    )


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_axis_ticks_start_at_zero_and_cover_the_top_in_round_steps(top: float) -> None:
    """Ticks run from 0 to at least the largest value, evenly, in 1/2/5 x 10^k steps."""
    ticks = axis_ticks(top)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert (0.0, True, True, True) == (
        ticks[0],
        ticks[-1] >= top and ticks[-2] < max(top, 1.0),
        len(ticks) <= 7,
        any(abs(mantissa - m) < 1e-9 for m in (1, 2, 5)),
    )


def test_durations_read_as_minutes_hours_and_days() -> None:
    """Targets and times read '4 h', not '4 h 00'; minutes below two hours; days from 48 h."""
    from supportkit._report import _minutes

    assert ["–", "45 min", "119 min", "4 h", "4 h 30 min", "47 h", "2 d", "2 d 3 h"] == [
        _minutes(value)
        for value in (None, 2700, 7140, 14400, 16200, 47 * 3600, 48 * 3600, 51 * 3600)
    ]


def test_count_axes_tick_whole_numbers() -> None:
    """Two tickets are ticked 0, 1, 2, never 0.5 or 1.5."""
    assert ([0, 1, 2], [0, 0.5, 1, 1.5, 2]) == (axis_ticks(2, whole=True), axis_ticks(2))


def _rect_heights(svg: str) -> list[float]:
    """The heights of the data bars (rects with a title) of a chart."""
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"[^>]*><title>', svg)]


def test_percent_charts_run_from_0_to_100() -> None:
    """97 % and 100 % are drawn as 97 and 100 of the same 0-100 axis, and a lone 67 % does
    not fill the chart."""
    chart = bar_chart(
        "SLA",
        ["a", "b", "c"],
        [Series("attainment", "#000", [97.0, 100.0, 67.0])],
        x_label="tier",
        y_label="%",
        percent=True,
    )
    heights = _rect_heights(chart)
    ticks = re.findall(r'class="tick" text-anchor="end">([^<]+)<', chart)
    assert (["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"], 0.97, 0.67) == (
        ticks,
        round(heights[0] / heights[1], 2),
        round(heights[2] / heights[1], 2),
    )


def test_missing_data_is_marked_not_drawn_as_zero() -> None:
    """A None value draws no bar but a 'no data' mark; a real zero draws a zero-height bar."""
    chart = bar_chart(
        "FRT",
        ["gold", "silver"],
        [Series("median", "#000", [None, 0.0])],
        x_label="tier",
        y_label="minutes",
    )
    assert (["0.0"], ["median, gold: no data"]) == (
        [f"{h:.1f}" for h in _rect_heights(chart)],
        re.findall(r"<title>([^<]*no data)</title>", chart),
    )


def test_every_chart_labels_both_axes_and_has_a_zero_tick() -> None:
    """Each chart of the page names its x and y axes and shows the 0 of its y axis."""
    page = render_html(_three_days())
    charts = re.findall(r"<svg.*?</svg>", page)
    labelled = [
        (
            bool(re.search(r'class="axis-label x"[^>]*>[^<]+<', svg)),
            bool(re.search(r'class="axis-label y"[^>]*>[^<]+<', svg)),
            bool(re.search(r'text-anchor="end">0( %)?<', svg)),
        )
        for svg in charts
    ]
    assert [(True, True, True)] * 6 == labelled


def _three_days() -> object:
    """A desk over three days: tickets every day, one first reply breached on day two."""
    clock = FrozenClock(T0)
    desk = _desk(clock)
    for day in range(3):
        for n in range(2 + day):
            clock.set(T0 + timedelta(days=day, hours=n))
            ticket = desk.ingest(_message(10 * day + n, clock.now())).ticket_id
            late = day == 1 and n == 0
            clock.advance(minutes=90 if late else 20 + 10 * day)
            desk.reply(ticket, "Done", agent="ann", status=Status.SOLVED)
    clock.set(T0 + timedelta(days=3))
    return summarize(desk, tz="Europe/Berlin")


def test_trends_over_days_and_the_breach_list() -> None:
    """Days in the report zone with their volume, first reply median and SLA attainment, and
    one breach row naming the ticket, metric, target and how late it was."""
    summary = _three_days()
    days = [
        (row.key[0], row["incoming"], row["first_reply.median"], row["sla_attainment"])
        for row in summary.days()  # type: ignore[attr-defined]
    ]
    [breach] = summary.breaches  # type: ignore[attr-defined]
    assert [
        ("2025-03-03", 2, 1200.0, 1.0),
        ("2025-03-04", 3, 1800.0, 2 / 3),
        ("2025-03-05", 4, 2400.0, 1.0),
    ] == days
    assert ("first_reply", timedelta(hours=1), timedelta(minutes=30), False) == (
        breach.metric,
        breach.target,
        breach.late,
        breach.running,
    )
    page = render_html(summary)  # type: ignore[arg-type]
    assert "<td>Tue 2025-03-04 11:00 CET</td><td>" in page
    assert "Trends over days" in page
    assert "SLA breaches (1)" in page


def test_next_step_due_times_carry_the_date_and_zone() -> None:
    """A due time on another day must say which day: date, time and zone."""
    clock = FrozenClock(T0)
    desk = _desk(clock)
    desk.ingest(_message(1, T0 + timedelta(hours=13)))  # due 23:00 UTC
    [step] = desk.next_steps()
    assert "Mon 2025-03-03 23:00 UTC" == step_row(step)[-1]
    assert "Tue 2025-03-04 00:00 CET" == step_row(step, BERLIN)[-1]


def test_text_columns_are_left_and_figures_right_aligned() -> None:
    """Only figure cells carry the right-aligned class; text cells take the table's left."""
    page = render_html(_three_days())  # type: ignore[arg-type]
    tier_row = re.search(r"<tr><td>no tier</td>.*?</tr>", page)
    assert tier_row is not None
    cells = re.findall(r"<td( class=num)?>", tier_row.group(0))
    assert ["", *[" class=num"] * 10] == cells
    breach = re.search(r"<tr><td>Tue 2025-03-04.*?</tr>", page)
    assert breach is not None
    assert ["", "", "", "", "", " class=num", " class=num"] == re.findall(
        r"<td( class=num)?>", breach.group(0)
    )
    assert "td,th{" in page
    assert "text-align:left" in page


def test_report_cli_takes_a_zone_and_refuses_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tz names the report's zone; a zone that does not exist is a clear error (exit 1)."""
    from supportkit import SqliteStore

    db = tmp_path / "desk.sqlite3"
    clock = FrozenClock(T0)
    with SupportDesk(store=SqliteStore(db), clock=clock, plugins=None, policies=[POLICY]) as desk:
        desk.ingest(_message(1, T0))
    out = tmp_path / "r.html"
    assert 0 == main(["report", "--db", str(db), "--html", str(out), "--tz", "Asia/Tokyo"])
    assert "hours and days in Asia/Tokyo" in out.read_text(encoding="utf-8")
    assert 1 == main(["report", "--db", str(db), "--html", str(out), "--tz", "Mars/Base"])
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err


# --- in a real browser ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _artefacts() -> Path:
    """Where screenshots are kept for people to look at: $SUPPORTKIT_ARTEFACTS or
    .artefacts/ in the checkout."""
    folder = Path(os.environ.get("SUPPORTKIT_ARTEFACTS") or ROOT / ".artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the browser tests need Playwright for Python: pip install playwright")
    if not CHROMIUM.exists():
        service_missing(
            "the browser tests need Debian's chromium at /usr/bin/chromium: "
            "apt-get install -y chromium"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _open(browser: Any, page_file: Path, shot: str) -> tuple[Any, list[str]]:
    """Load *page_file* at 1280x900, collect console errors and keep a full-page screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(page_file.as_uri())
    page.screenshot(path=str(_artefacts() / shot), full_page=True)
    return page, errors


#: Per chart: its title, its axis labels (text, rendered width) and whether it fits the page.
_CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const label = cls => { const t = svg.querySelector('text.axis-label.' + cls);
    return t ? [t.textContent, t.getBoundingClientRect().width] : ['', 0]; };
  return [svg.getAttribute('aria-label'), label('x'), label('y'),
          svg.getBoundingClientRect().right <= document.documentElement.clientWidth];
})"""


@pytest.mark.parametrize("days", [1, 3], ids=["demo day", "three demo days"])
def test_report_renders_in_chromium_with_labelled_axes(
    browser: Any, tmp_path: Path, days: int
) -> None:
    """The report loads in headless Chromium without errors or failed requests, every chart
    shows labelled x and y axes within the page, nothing overflows sideways, and a
    screenshot is kept in the artefacts folder."""
    from supportkit._demo import run_demo

    summary, _ = run_demo(tickets=60 // days, days=days, seed=3, db=tmp_path / "demo.sqlite3")
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(summary), encoding="utf-8")
    shot = f"report-{days}-day{'s' if days > 1 else ''}.png"
    page, errors = _open(browser, page_file, shot)
    charts = page.evaluate(_CHARTS)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.close()
    assert ([], 6, 0) == (errors, len(charts), overflow)
    assert [] == [
        title
        for title, (x_text, x_width), (y_text, y_width), fits in charts
        if not (x_text and y_text and x_width > 0 and y_width > 0 and fits)
    ]
    assert (_artefacts() / shot).stat().st_size > 10_000


def test_demo_dashboard_screenshot(browser: Any, tmp_path: Path) -> None:
    """The demo's terminal dashboard, recorded by rich as HTML, renders in Chromium; its
    screenshot is kept beside the report's."""
    from rich.console import Console

    from supportkit._demo import render_dashboard, run_demo

    summary, stats = run_demo(tickets=60, seed=3, db=tmp_path / "demo.sqlite3")
    console = Console(record=True, width=110, file=open(os.devnull, "w"))  # noqa: SIM115
    render_dashboard(summary, stats, console)
    console.file.close()
    page_file = tmp_path / "dashboard.html"  # (rich's SVG export loads a font from the web)
    page_file.write_text(console.export_html(inline_styles=True), encoding="utf-8")
    page, errors = _open(browser, page_file, "demo-dashboard.png")
    text = page.evaluate("document.documentElement.textContent")
    page.close()
    assert ([], True, True) == (errors, "Next steps" in text, "Goals" in text)
