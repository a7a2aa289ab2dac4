"""supportkit staffing and supportkit whatif on a real desk file, as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportkit import FrozenClock, InboundMessage, SupportDesk, staffing
from supportkit._cli import main

CONFIG = """
[store]
path = "desk.sqlite3"

[calendars.default]
tz = "Europe/Berlin"
weekly = {{ mon = ["09:00-17:00"], tue = ["09:00-17:00"] }}

[calendars.day-shift]
tz = "Europe/Berlin"
weekly = {{ mon = ["09:00-17:00"] }}

[[groups]]
id = "chat"

[[agents]]
id = "ann"
groups = ["chat"]
shift = "day-shift"
capacity = {{ chat = 5 }}

[[policies]]
name = "standard"
[policies.targets.normal]
first_reply = {{ minutes = {minutes}, business = true }}
"""

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin


@pytest.fixture
def desk_file(tmp_path: Path) -> Path:
    """A desk built from a config file: 12 chats on Monday morning, answered 20-75 min later."""
    config = tmp_path / "supportkit.toml"
    config.write_text(CONFIG.format(minutes=60))
    clock = FrozenClock(START)
    with SupportDesk.from_config(config) as desk:
        desk.clock = clock  # the demo's trick: a frozen clock for a scripted history
        for n in range(12):
            clock.set(START + timedelta(minutes=5 * n))
            opened = desk.ingest(InboundMessage(f"m-{n}", "chat", f"v{n}@x", clock.now()))
            clock.set(clock.now() + timedelta(minutes=20 + 5 * n))
            desk.reply(opened.ticket_id, "Hello!", agent="ann")
    return tmp_path


def test_staffing_prints_the_plan_and_writes_html(
    desk_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan for Monday 10:00 Berlin: 12 arrivals, ann scheduled; an HTML page with charts."""
    page = desk_file / "plan.html"
    code = main(
        ["staffing", "--db", str(desk_file / "desk.sqlite3"), "--since", "2025-03-03",
         "--until", "2025-03-10", "--aht", "300", "--within", "60", "--tz", "Europe/Berlin",
         "--html", str(page)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert 0 == code
    [line] = [line for line in out.splitlines() if line.startswith("mon 10:00")]
    needed = staffing.agents_needed(12 / 3600, 300, 0.8, 60)
    assert line.split()[2:5] == ["12.00", str(needed), "1.0"]
    text = page.read_text()
    assert "<svg" in text
    assert "Agents per hour of the week" in text


def test_staffing_json(desk_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the 168 hours."""
    main(["staffing", "--db", str(desk_file / "desk.sqlite3"), "--since", "2025-03-03",
          "--until", "2025-03-10", "--aht", "300", "--json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert 168 == len(rows)
    assert 12 == sum(r["arrivals"] for r in rows)


def test_whatif_compares_a_proposed_file(
    desk_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replies came 20, 25, ..., 75 minutes after each chat. The 60-minute target that ran
    breached the last three (65, 70, 75; a reply at the deadline meets it); a proposed
    30-minute target would have breached nine."""
    proposed = desk_file / "proposed.toml"
    proposed.write_text(CONFIG.format(minutes=30))
    code = main(
        ["whatif", "--config", str(proposed), "--db", str(desk_file / "desk.sqlite3"),
         "--since", "2025-03-03", "--until", "2025-03-04", "--json", "--html",
         str(desk_file / "whatif.html")]
    )  # fmt: skip
    assert 0 == code
    result = json.loads(capsys.readouterr().out)
    [row] = [r for r in result["rows"] if r["grouping"] == "all"]
    assert (12, 3, 9) == (result["tickets"], row["actual_breaches"], row["proposed_breaches"])
    assert "SLA attainment, actual and proposed" in (desk_file / "whatif.html").read_text()


def test_bad_window_is_exit_1(desk_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable or empty window is refused with exit status 1 and no traceback."""
    db = str(desk_file / "desk.sqlite3")
    assert 1 == main(["staffing", "--db", db, "--since", "yesterday", "--aht", "300"])
    assert 1 == main(["staffing", "--db", db, "--since", "2025-03-05", "--until", "2025-03-04",
                      "--aht", "300"])  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "--since" in err


@pytest.mark.parametrize("command", ["staffing", "whatif"])
def test_an_unwritable_html_page_is_exit_1(
    desk_file: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--html into a missing directory: exit status 1 naming the file, no traceback."""
    proposed = desk_file / "proposed.toml"
    proposed.write_text(CONFIG.format(minutes=30))
    page = desk_file / "missing" / "page.html"
    extra = ["--config", str(proposed)] if command == "whatif" else ["--aht", "300"]
    code = main([command, "--db", str(desk_file / "desk.sqlite3"), "--since", "2025-03-03",
                 "--until", "2025-03-04", *extra, "--html", str(page)])  # fmt: skip
    err = capsys.readouterr().err
    assert 1 == code
    assert "Traceback" not in err
    assert f"cannot write {page}" in err


GOALS = """
[[goals]]
name = "most first replies in time"
metric = "sla.first_reply.attainment"
target = 0.5
direction = "at_least"

[[goals]]
name = "fast first replies"
metric = "first_reply.median"
target = 1800
"""


def test_whatif_judges_the_proposed_files_sla_goals(
    desk_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The proposal's SLA attainment goals are judged on both sides (9 of 12 first replies met
    now, 3 proposed, against "at least half"); a goal what-if cannot replay is left out."""
    proposed = desk_file / "proposed.toml"
    proposed.write_text(CONFIG.format(minutes=30) + GOALS)
    args = ["whatif", "--config", str(proposed), "--db", str(desk_file / "desk.sqlite3"),
            "--since", "2025-03-03", "--until", "2025-03-04"]  # fmt: skip
    assert 0 == main([*args, "--json"])
    [goal] = json.loads(capsys.readouterr().out)["goals"]
    assert ("most first replies in time", 0.75, True, 0.25, False) == (
        goal["goal"], goal["actual_value"], goal["actual_met"],
        goal["proposed_value"], goal["proposed_met"],
    )  # fmt: skip
    page = desk_file / "whatif.html"
    assert 0 == main([*args, "--html", str(page)])
    [line] = [line for line in capsys.readouterr().out.splitlines() if "in time" in line]
    assert line.split()[-4:] == ["75.0%", "met", "25.0%", "missed"]
    assert "<td>most first replies in time</td>" in page.read_text(encoding="utf-8")
