"""``supportkit demo`` and ``supportkit report``: the main job, end to end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from supportkit._cli import main
from supportkit._demo import run_demo
from supportkit._sqlite import SqliteStore


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo day kept on disk, shared by the report tests."""
    path = tmp_path_factory.mktemp("demo") / "day.sqlite3"
    assert 0 == main(["demo", "--tickets", "60", "--seed", "3", "--db", str(path)])
    return path


def test_demo_prints_the_dashboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo simulates a day and prints tiers, goals and next steps."""
    assert 0 == main(["demo", "--tickets", "40", "--db", str(tmp_path / "d.sqlite3")])
    out = capsys.readouterr().out
    assert [True] * 5 == [
        word in out for word in ("40 tickets", "enterprise", "Goals", "Next steps", "store kept")
    ]


def test_demo_keeps_a_real_store(demo_db: Path) -> None:
    """--db keeps the SQLite store with the day's tickets, outbox and settings."""
    with SqliteStore(demo_db) as store:
        kinds = {e.kind for e in store.read_all()}
        assert (60, True, True) == (
            len(store.ticket_ids()),
            {"created", "message", "assigned", "escalated", "satisfaction_rated"} <= kinds,
            store.meta("settings") is not None,
        )


def test_demo_drives_sla_escalations_and_a_recovering_outbox(tmp_path: Path) -> None:
    """The day has warnings, breaches, escalations and pager retries that end delivered."""
    summary, stats = run_demo(tickets=80, seed=5, db=tmp_path / "x.sqlite3")
    assert (True, True, True, 0, 0) == (
        stats.warnings > 0 and stats.breaches > 0,
        stats.retried > 0 and stats.pages > 0,
        summary.engineering > 0,
        summary.outbox.get("pending", 0),
        summary.outbox.get("dead", 0),
    )


def test_demo_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    """The same seed gives the same day."""
    first, _ = run_demo(tickets=30, seed=11, db=tmp_path / "a.sqlite3")
    second, _ = run_demo(tickets=30, seed=11, db=tmp_path / "b.sqlite3")
    assert first.overall.metrics == second.overall.metrics


def test_demo_refuses_an_existing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--db must name a new file, so an earlier day is never mixed in."""
    path = tmp_path / "old.sqlite3"
    path.write_bytes(b"")
    assert 1 == main(["demo", "--db", str(path)])
    assert "exists" in capsys.readouterr().err


def test_demo_without_rich_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the cli extra the demo says what to install and exits 1."""
    monkeypatch.setitem(sys.modules, "rich", None)
    assert 1 == main(["demo"])
    assert (
        "supportkit demo needs the 'cli' extra: pip install -e '.[cli]' in a checkout of "
        "supportkit (pip install 'supportkit[cli]' once it is on an index)\n"
    ) == capsys.readouterr().err


def test_report_writes_self_contained_html(demo_db: Path, tmp_path: Path) -> None:
    """The HTML report has inline SVG charts and no external assets or scripts."""
    out = tmp_path / "report.html"
    assert 0 == main(["report", "--db", str(demo_db), "--html", str(out)])
    page = out.read_text(encoding="utf-8")
    assert (6, [], [], True) == (
        page.count("<svg"),
        re.findall(r"(?:src|href)=", page),
        re.findall(r"<script", page),
        "enterprise" in page and "Next steps" in page,
    )


def test_report_of_a_missing_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that is not a database exits 1 with advice."""
    assert 1 == main(["report", "--db", str(tmp_path / "nope.db"), "--html", "x.html"])
    assert "no supportkit database" in capsys.readouterr().err


def test_report_to_an_unwritable_path_is_a_clear_error(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--html in a missing directory exits 1 with 'cannot write', not a traceback."""
    out = tmp_path / "missing" / "x.html"
    assert 1 == main(["report", "--db", str(demo_db), "--html", str(out)])
    assert f"supportkit: error: cannot write {out}: No such file or directory" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--tickets", "abc", "must be a positive whole number, got 'abc'"),
        ("--tickets", "0", "must be a positive whole number, got '0'"),
        ("--speed", "-5", "must be a number of zero or more, got '-5'"),
    ],
)
def test_demo_refuses_bad_numbers_with_a_clear_message(
    option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad --tickets/--speed values are usage errors (exit 2) that say what is allowed."""
    with pytest.raises(SystemExit) as stopped:
        main(["demo", option, value])
    assert (2, True) == (stopped.value.code, expected in capsys.readouterr().err)


def test_console_script_runs_the_demo() -> None:
    """The installed `supportkit` script (the README's main-job command) runs the demo."""
    script = shutil.which("supportkit", path=str(Path(sys.executable).parent))
    script = script or shutil.which("supportkit")
    if script is None:
        pytest.skip("the supportkit console script is not installed")
    result = subprocess.run(
        [script, "demo", "--tickets", "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (0, True) == (result.returncode, "20 tickets" in result.stdout)


def test_demo_assigns_work_only_during_the_agents_shifts(demo_db: Path) -> None:
    """Every ``assigned`` event of the demo day falls inside the assignee's shift."""
    from supportkit._demo import _people

    _, _, shifts = _people()
    with SqliteStore(demo_db) as store:
        assigned = [e for e in store.read_all() if e.kind == "assigned"]
    outside = [
        (e.ticket_id, e.data["agent"], e.at)
        for e in assigned
        if e.data.get("agent") in shifts and not shifts[e.data["agent"]].is_open(e.at)
    ]
    assert (True, []) == (len(assigned) > 0, outside)


def test_report_reads_any_desks_policies_and_ladder(tmp_path: Path) -> None:
    """A database a host application's desk wrote (not the demo) reports SLA attainment and
    its own engineering levels: the desk records its settings in the store."""
    from datetime import UTC, datetime, timedelta

    from supportkit import (
        EscalationLadder,
        EscalationLevel,
        FrozenClock,
        InboundMessage,
        SlaPolicy,
        SupportDesk,
    )
    from supportkit._report import open_report_desk, summarize

    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    policy = SlaPolicy.from_dict(
        {
            "name": "standard",
            "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}},
        }
    )
    ladder = EscalationLadder([EscalationLevel("L1"), EscalationLevel("rnd", engineering=True)])
    clock = FrozenClock(start)
    path = tmp_path / "host.sqlite3"
    with SupportDesk(
        store=SqliteStore(path), clock=clock, plugins=None, policies=[policy], ladder=ladder
    ) as desk:
        ticket_id = desk.ingest(InboundMessage("m-1", "email", "ann@example.com", start)).ticket_id
        clock.set(start + timedelta(minutes=10))
        desk.reply(ticket_id, "Looking into it.", agent="a-1")
        desk.escalate(ticket_id, "rnd", reason="a bug")
    report_desk, _, _ = open_report_desk(path)
    with report_desk:
        summary = summarize(report_desk)
    assert (1.0, 1) == (summary.overall["sla_attainment"], summary.engineering)


def test_report_lists_next_steps_by_due_time(demo_db: Path) -> None:
    """The summary's next steps run from the earliest due to the latest, undated ones last."""
    from supportkit._report import open_report_desk, summarize

    desk, goals, title = open_report_desk(demo_db)
    with desk:
        steps = summarize(desk, goals=goals, title=title).next_steps
    dated = [step.due for step in steps if step.due is not None]
    assert (True, sorted(dated), []) == (
        len(dated) > 1,
        dated,
        [s.ticket_id for s in steps[len(dated) :] if s.due is not None],
    )


def test_report_charts_keep_labels_whole_and_round_figures() -> None:
    """A chart shows 'enterprise' whole and rounds its axis and values."""
    from supportkit._report import Series, bar_chart

    svg = bar_chart(
        "t", ["enterprise"], [Series("median", "#000", [12.345678])], x_label="x", y_label="min"
    )
    assert (True, True, False) == (">enterprise<" in svg, ": 12</title>" in svg, "12.3456" in svg)


def test_report_names_tickets_without_a_tier(tmp_path: Path) -> None:
    """Tickets without a tier show as 'no tier' in the HTML report, never 'None'."""
    from datetime import UTC, datetime

    from supportkit import FrozenClock, InboundMessage, SupportDesk
    from supportkit._report import render_html, summarize

    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    with SupportDesk(store=SqliteStore(tmp_path / "t.db"), clock=FrozenClock(start)) as desk:
        desk.ingest(InboundMessage("m-1", "email", "ann@example.com", start))
        page = render_html(summarize(desk))
    assert (True, False) == ("<td>no tier</td>" in page, "<td>None</td>" in page)


def test_demo_progress_reports_the_simulated_clock_and_running_counts(tmp_path: Path) -> None:
    """on_step sees every step with the simulated instant and the counters so far, which
    only grow, ending at the end of the day."""
    from supportkit._demo import END, START

    seen: list[tuple[int, int, object, int, int]] = []

    def step(done: int, total: int, now: object, stats: object) -> None:
        seen.append((done, total, now, stats.messages, stats.replies))  # type: ignore[attr-defined]

    run_demo(tickets=20, seed=2, db=tmp_path / "p.sqlite3", on_step=step)
    total = seen[0][1]
    assert (list(range(1, total + 1)), START, END) == (
        [s[0] for s in seen],
        seen[0][2],
        seen[-1][2],
    )
    messages = [s[3] for s in seen]
    replies = [s[4] for s in seen]
    assert (sorted(messages), sorted(replies), True) == (messages, replies, replies[-1] > 0)


def test_plural_words() -> None:
    """Counts agree with their nouns: 1 page, 2 pages, 1 redelivery, 0 retries."""
    from supportkit._demo import plural

    assert ["[b]1[/b] page", "[b]2[/b] pages", "[b]1[/b] redelivery", "[b]0[/b] retries"] == [
        plural(1, "page"),
        plural(2, "page"),
        plural(1, "redelivery", "redeliveries"),
        plural(0, "retry", "retries"),
    ]


def test_dashboard_never_says_one_of_a_plural(tmp_path: Path) -> None:
    """No '1 escalations' or '1 pages' anywhere on the dashboard, whatever the seed."""
    from rich.console import Console

    from supportkit._demo import render_dashboard

    wrong = []
    for seed in range(4):
        summary, stats = run_demo(tickets=8, seed=seed, db=tmp_path / f"{seed}.sqlite3")
        console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
        render_dashboard(summary, stats, console)
        console.file.close()
        wrong += re.findall(r"(?<![\d.])1 [a-z ]*?(?:s|ies)\b", console.export_text())
    assert [] == wrong


def test_the_pager_is_sent_only_the_notices_it_takes(tmp_path: Path) -> None:
    """The outbox holds one row per notice a notifier takes: the pager, which declares
    notice_kinds = {sla_breached, ticket_escalated}, gets exactly its pages (retries reuse the
    row), not a row for every event of the day."""
    summary, stats = run_demo(tickets=60, seed=4, db=tmp_path / "o.sqlite3")
    assert (stats.pages, True) == (
        summary.receivers["notifier:pager"],
        summary.receivers["notifier:log"] > 10 * stats.pages,
    )


def test_demo_over_days_gives_the_report_its_trends(tmp_path: Path) -> None:
    """--days 3 simulates Monday to Wednesday: three day rows, tickets every day, and the
    report and the store's title say so."""
    path = tmp_path / "week.sqlite3"
    assert 0 == main(["demo", "--days", "3", "--tickets", "15", "--db", str(path)])
    from supportkit._report import open_report_desk, summarize

    desk, goals, title = open_report_desk(path)
    with desk:
        summary = summarize(desk, goals=goals, title=title)
    days = [(row.key[0], (row["incoming"] or 0) > 0) for row in summary.days()]
    assert (
        [("2025-03-03", True), ("2025-03-04", True), ("2025-03-05", True)],
        "supportkit demo — 3 support days (seed 7)",
    ) == (days, summary.title)


def test_demo_refuses_more_days_than_a_working_week(capsys: pytest.CaptureFixture[str]) -> None:
    """--days counts working days from Monday: 6 is a clear error, exit 1."""
    assert 1 == main(["demo", "--days", "6"])
    assert "days must be 1 to 5 (Monday on), got 6" in capsys.readouterr().err
