"""The product feedback report: figures cross-checked against pandas on generated logs, the
aggregator merges into the one-pass result, and the desk's problems show up in it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import (
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    SessionEvent,
    SqliteStore,
    SupportDesk,
    TicketEvent,
    Tier,
)
from supportkit._cli import main
from supportkit._feedback import (
    FeedbackAggregator,
    feedback,
    render_html_section,
    render_text,
)
from supportkit._selfservice import content_gaps

NOW = datetime(2025, 6, 1, tzinfo=UTC)
WINDOW = timedelta(days=28)
WEIGHTS = {"gold": 10, "silver": 3}
TAGS = ["billing", "export", "login", "area:api", "area:web"]


def _logs(seed: int, n: int = 300) -> list[list[TicketEvent]]:
    """*n* tickets over three windows: tags, tiers, problem links, engineering escalations and
    solves at random (problems are the first 10 tickets)."""
    rng = random.Random(seed)
    logs = []
    for i in range(n):
        tid = f"T-{i:04d}"
        at = NOW - timedelta(seconds=rng.randrange(int(3 * WINDOW.total_seconds())))
        tags = rng.sample(TAGS, rng.randrange(3))
        tier = rng.choice(["gold", "silver", "bronze", None])
        data = {"tags": tags, "tier": tier, "subject": f"s{i}"}
        log = [TicketEvent("created", ticket_id=tid, at=at, data=data)]
        if i >= 10 and rng.random() < 0.4:
            log.append(TicketEvent("linked_to_problem", ticket_id=tid, at=at,
                                   data={"problem": f"T-{rng.randrange(10):04d}"}))  # fmt: skip
            if rng.random() < 0.2:
                log.append(TicketEvent("unlinked", ticket_id=tid, at=at,
                                       data={"problem": log[-1].data["problem"]}))  # fmt: skip
        if rng.random() < 0.3:
            at = at + timedelta(hours=rng.randrange(1, 200))
            level = rng.choice(["engineering", "L2"])
            log.append(TicketEvent("escalated", ticket_id=tid, at=at, data={"level": level}))
        if rng.random() < 0.5:
            at = at + timedelta(hours=rng.randrange(1, 400))
            log.append(TicketEvent("status_changed", ticket_id=tid, at=at, data={"to": "solved"}))
        if i < 10:  # the problems' engineering issues: the last recorded state counts
            for state in rng.sample(["open", "fixed", "wont_fix"], rng.randrange(3)):
                data = {"tracker": "t", "key": f"K-{i}", "state": state}
                log.append(
                    TicketEvent("engineering_issue_changed", ticket_id=tid, at=at, data=data)
                )
        logs.append(log)
    return logs


def _tickets(logs: list[list[TicketEvent]]) -> pd.DataFrame:
    """One row per ticket, read straight off the logs (not through the fold)."""
    rows = []
    for log in logs:
        created = log[0]
        problem = None
        escalated = solved = None
        for e in log:
            if e.kind == "linked_to_problem":
                problem = e.data["problem"]
            elif e.kind == "unlinked":
                problem = None
            elif e.kind == "escalated" and e.data["level"] == "engineering" and escalated is None:
                escalated = e.at
            elif e.kind == "status_changed" and escalated is not None and solved is None:
                solved = e.at
        issue = [e.data["state"] for e in log if e.kind == "engineering_issue_changed"]
        rows.append({"id": created.ticket_id, "at": created.at, "tags": list(created.data["tags"]),
                     "wont_fix": issue[-1:] == ["wont_fix"],
                     "tier": created.data["tier"], "problem": problem, "escalated": escalated,
                     "solved": solved,
                     "open": not any(e.kind == "status_changed" for e in log)})  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["weight"] = frame["tier"].map(WEIGHTS).fillna(0).astype(int)
    frame["period"] = None
    frame.loc[(frame["at"] > NOW - WINDOW) & (frame["at"] <= NOW), "period"] = "this"
    frame.loc[(frame["at"] > NOW - 2 * WINDOW) & (frame["at"] <= NOW - WINDOW), "period"] = "last"
    return frame


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_match_pandas(seed: int) -> None:
    logs = _logs(seed)
    events = sorted((e for log in logs for e in log), key=lambda e: e.at)
    report = feedback(events, now=NOW, window=WINDOW, weights=WEIGHTS, top=100)
    frame = _tickets(logs)

    tags = frame.explode("tags").dropna(subset=["tags", "period"])
    volume = tags.groupby(["tags", "period"]).size().unstack(fill_value=0)
    weight = tags[tags["period"] == "this"].groupby("tags")["weight"].sum()
    for row in report.top_tags:
        this = int(volume.loc[row["tag"]].get("this", 0))
        last = int(volume.loc[row["tag"]].get("last", 0))
        assert (this, last, this - last) == (row["volume"], row["last"], row["trend"])
        assert int(weight.get(row["tag"], 0)) == row["weight"]
    assert {r["tag"] for r in report.top_tags} == set(volume.index)
    trends = [r["trend"] for r in report.top_tags]
    assert trends == sorted(trends, reverse=True)  # rising first

    linked = frame.dropna(subset=["problem"])
    for row in report.top_problems:
        mine = linked[linked["problem"] == row["problem"]]
        assert len(mine) == row["incidents"]
        assert int(mine["weight"].sum()) == row["weight"]
        assert int((mine["period"] == "this").sum()) == row["volume"]
        assert int((mine["period"] == "last").sum()) == row["last"]
    assert {r["problem"] for r in report.top_problems} == set(linked["problem"])

    escalated = frame.dropna(subset=["escalated"])
    in_period = escalated[(escalated["escalated"] > NOW - WINDOW) & (escalated["escalated"] <= NOW)]
    areas = in_period["tags"].map(lambda t: min((x[5:] for x in t if x.startswith("area:")),
                                                default="(none)"))  # fmt: skip
    assert areas.value_counts().sort_index().to_dict() == report.escalations

    fixed = escalated.dropna(subset=["solved"])
    fixed = fixed[(fixed["solved"] > NOW - WINDOW) & (fixed["solved"] <= NOW)]
    seconds = (fixed["solved"] - fixed["escalated"]).dt.total_seconds()
    assert len(seconds) == report.fix_seconds["count"]
    if len(seconds):
        assert seconds.quantile(0.5, interpolation="lower") == report.fix_seconds["median"]
        assert seconds.quantile(0.9, interpolation="lower") == report.fix_seconds["p90"]

    wont_fix = set(frame[frame["wont_fix"]]["id"])
    assert wont_fix  # the seeds have some: the exclusion below is tested
    waiting = linked[linked["open"] & ~linked["problem"].isin(wont_fix)]
    assert sorted(waiting["id"]) == sorted(r["ticket"] for r in report.waiting)

    # The rankings by customer weight: heaviest first, then by volume (tags) or incidents and
    # volume (problems), then by name; computed in pandas and compared in order.
    period = tags[tags["period"] == "this"]
    by_tag = period.groupby("tags").agg(weight=("weight", "sum"), volume=("id", "size"))
    by_tag = by_tag.reindex(volume.index, fill_value=0).reset_index()
    by_tag = by_tag.sort_values(["weight", "volume", "tags"], ascending=[False, False, True])
    assert list(by_tag["tags"]) == [r["tag"] for r in report.top_tags_by_weight]
    by_problem = linked.groupby("problem").agg(
        weight=("weight", "sum"),
        incidents=("id", "size"),
        volume=("period", lambda p: int((p == "this").sum())),
    )
    by_problem = by_problem.reset_index().sort_values(
        ["weight", "incidents", "volume", "problem"], ascending=[False, False, False, True]
    )
    assert list(by_problem["problem"]) == [r["problem"] for r in report.top_problems_by_weight]
    assert list(report.frame("top_problems_by_weight")["problem"]) == list(by_problem["problem"])
    top3 = feedback(events, now=NOW, window=WINDOW, weights=WEIGHTS, top=3)
    assert [r["tag"] for r in top3.top_tags_by_weight] == list(by_tag["tags"][:3])
    tiers = waiting["tier"].fillna("none").value_counts().sort_index().to_dict()
    assert tiers == report.waiting_tiers
    assert list(report.frame("waiting")["ticket"]) == [r["ticket"] for r in report.waiting]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(0, 60))
def test_merged_shards_equal_one_pass(seed: int, cut: int) -> None:
    logs = _logs(seed, 60)
    whole = FeedbackAggregator(now=NOW, window=WINDOW, weights=WEIGHTS)
    left = FeedbackAggregator(now=NOW, window=WINDOW, weights=WEIGHTS)
    right = FeedbackAggregator(now=NOW, window=WINDOW, weights=WEIGHTS)
    for i, log in enumerate(logs):
        whole.update(log)
        (left if i < cut else right).update(log)
    assert whole.result(100) == left.merge(right).result(100)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="window"):
        FeedbackAggregator(now=NOW, window=timedelta(0))
    with pytest.raises(ConfigurationError, match="now"):
        FeedbackAggregator(now=datetime(2025, 1, 1), window=WINDOW)
    with pytest.raises(ConfigurationError, match="same settings"):
        FeedbackAggregator(now=NOW, window=WINDOW).merge(
            FeedbackAggregator(now=NOW, window=2 * WINDOW)
        )
    with pytest.raises(ConfigurationError, match="frames"):
        feedback([], now=NOW).frame("nope")


def _desk_with_problems(path: Path) -> str:
    clock = FrozenClock(NOW - timedelta(days=3))
    tiers = [Tier("gold", weight=10), Tier("silver", weight=3)]
    with SupportDesk(store=SqliteStore(path), clock=clock, plugins=None, tiers=tiers) as desk:

        def opened(n: int, tier: str | None, tags: list[str]) -> str:
            message = InboundMessage(f"m-{n}", "email", f"c{n}@x", clock.now(), subject=f"Bug {n}")
            ticket_id = desk.ingest(message).ticket_id
            assert ticket_id is not None
            if tier:
                desk.set_tier(ticket_id, tier)
            desk.tag(ticket_id, tags)
            return ticket_id

        problem = opened(0, None, ["area:api", "export"])
        desk.escalate(problem, "engineering", reason="bug in export")
        for n, tier in ((1, "gold"), (2, "silver"), (3, "gold")):
            desk.link_problem(opened(n, tier, ["export"]), problem)
        clock.advance(hours=30)
        desk.set_status(problem, "solved")  # solves the three incidents too
        desk.link_problem(opened(4, "silver", ["export"]), opened(5, None, ["login"]))
        return problem


def test_the_desk_report_and_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "desk.sqlite3"
    problem = _desk_with_problems(path)
    tiers = [Tier("gold", weight=10), Tier("silver", weight=3)]
    with SupportDesk(
        store=SqliteStore(path), clock=FrozenClock(NOW), plugins=None, tiers=tiers
    ) as desk:
        report = desk.feedback()
    [top, second] = report.top_problems
    assert (problem, 3, 23) == (top["problem"], top["incidents"], top["weight"])
    assert (1, 3) == (second["incidents"], second["weight"])
    assert {"api": 1} == report.escalations
    assert {"count": 1, "median": 30 * 3600.0, "p90": 30 * 3600.0} == report.fix_seconds
    assert {"silver": 1} == report.waiting_tiers
    assert ("export", 5) == (report.top_tags[0]["tag"], report.top_tags[0]["volume"])

    assert 0 == main(["report", "--db", str(path), "--feedback"])
    out = capsys.readouterr().out
    assert "Time from escalation to fix: 1 fixed, median 30.0 h, p90 30.0 h" in out
    assert "Incidents waiting on engineering: 1 (silver 1)" in out
    assert report.top_problems_by_weight[0]["problem"] == problem  # weight 23
    assert [r["tag"] for r in report.top_tags_by_weight][:2] == ["export", "area:api"]
    assert "Top problems by customer weight (weight, incidents, volume):" in out
    assert f"  {problem}  {0:>6} {3:>5} {3:>4}  Bug 0" in out  # no tier weights here
    assert "Top tags by customer weight (weight, volume):" in out
    page = tmp_path / "r.html"
    assert 0 == main(["report", "--db", str(path), "--html", str(page)])
    html_page = page.read_text(encoding="utf-8")
    assert "<h2>Product feedback</h2>" in html_page
    assert "<th>problem (by customer weight)</th>" in html_page
    assert "<th>tag (by customer weight)</th>" in html_page
    assert 2 == main(["report", "--db", str(path)])
    assert "--html FILE, --feedback or --self-service" in capsys.readouterr().err


# --- knowledge-base content gaps ----------------------------------------------------------------


def _sessions(seed: int, n: int = 80) -> list[SessionEvent]:
    """Help-centre sessions over three windows: searches with no result, without a click, and
    with one (an article viewed after the search)."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        at = NOW - timedelta(seconds=rng.randrange(int(3 * WINDOW.total_seconds())))
        for _ in range(rng.randrange(1, 4)):
            at += timedelta(minutes=rng.choice([0, 1, 5]))
            query = rng.choice(["export csv", "reset password", "invoice vat", "sso loop"])
            data = {"query": query, "results": rng.choice([0, 2, 5])}
            events.append(SessionEvent("searched", session_id=f"s{i}", at=at, data=data))
            if rng.random() < 0.4:
                data = {"article": rng.choice(["a1", "a2"])}
                events.append(SessionEvent("article_viewed", session_id=f"s{i}", at=at, data=data))
    rng.shuffle(events)
    return events


def test_content_gaps_appear_with_the_knowledge_layer_only() -> None:
    """Without session events the report has no content gaps (None, no section); with them the
    gaps are content_gaps()'s for the report's period, in the text and the HTML section."""
    events = [e for log in _logs(1) for e in log]
    plain = feedback(events, now=NOW, window=WINDOW)
    assert plain.content_gaps is None
    assert "content gaps" not in render_text(plain)
    assert "knowledge-base search" not in render_html_section(plain)
    assert plain.frame("content_gaps").empty
    sessions = _sessions(1)
    report = feedback(events, now=NOW, window=WINDOW, sessions=sessions, top=3)
    assert content_gaps(sessions, now=NOW, period=WINDOW, top=3) == report.content_gaps
    assert report.content_gaps  # the generated searches do leave gaps
    assert "Knowledge-base content gaps" in render_text(report)
    top = report.content_gaps[0]["query"]
    assert top in render_text(report)
    assert f"<td>{top}</td>" in render_html_section(report)
    assert list(report.frame("content_gaps")["query"]) == [r["query"] for r in report.content_gaps]


def test_a_search_that_found_nothing_is_a_gap() -> None:
    """Golden case: one search with no result and one whose results were not clicked in the
    period; a clicked search and a search before the period are not gaps."""
    at = NOW - timedelta(days=1)
    sessions = [
        SessionEvent("searched", session_id="a", at=at, data={"query": "csv export", "results": 0}),
        SessionEvent("searched", session_id="b", at=at, data={"query": "Export CSV", "results": 3}),
        SessionEvent("searched", session_id="c", at=at, data={"query": "vat", "results": 2}),
        SessionEvent("article_viewed", session_id="c", at=at, data={"article": "a1"}),
        SessionEvent("searched", session_id="d", at=NOW - 2 * WINDOW, data={"query": "old"}),
    ]
    report = feedback([], now=NOW, window=WINDOW, sessions=sessions)
    expected = [{"query": "csv export", "searches": 2, "no_result": 1, "no_click": 1, "gap": 2}]
    assert expected == report.content_gaps


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(0, 80))
def test_sharded_sessions_merge_into_the_one_pass_gaps(seed: int, cut: int) -> None:
    """Sessions split by session across two aggregators (one of them with none) merge into
    the one-pass content gaps."""
    sessions = _sessions(seed)
    whole = FeedbackAggregator(now=NOW, window=WINDOW).update_sessions(sessions)
    left = FeedbackAggregator(now=NOW, window=WINDOW)
    right = FeedbackAggregator(now=NOW, window=WINDOW)
    if cut:
        left.update_sessions([e for e in sessions if int(e.session_id[1:]) < cut])
    right.update_sessions([e for e in sessions if int(e.session_id[1:]) >= cut])
    assert whole.result(100) == left.merge(right).result(100)


def test_the_desk_shows_content_gaps_when_the_knowledge_layer_is_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A desk with neither articles nor sessions has no content-gap section; with an article
    it has one (empty until searches miss); help-centre searches that find nothing become
    gaps in desk.feedback() and in report --feedback; a search after *at* does not count."""
    path = tmp_path / "kb.sqlite3"
    clock = FrozenClock(NOW - timedelta(days=2))
    with SupportDesk(store=SqliteStore(path), clock=clock, plugins=None) as desk:
        assert desk.feedback().content_gaps is None
        desk.create_article("a-1", title="Reset your password", body="Use the link.",
                            status="published")  # fmt: skip
        assert [] == desk.feedback().content_gaps
        for n in range(2):
            desk.self_service_search(f"s{n}", "export to parquet")
        desk.self_service_search("s2", "reset password")  # found, not clicked
        then = clock.now()
        clock.advance(timedelta(hours=1))
        desk.self_service_search("s3", "export to parquet")
        gaps = {row["query"]: row["gap"] for row in desk.feedback(at=then).content_gaps or []}
        message = InboundMessage("m-1", "email", "c@example.com", clock.now(), subject="Parquet?")
        desk.ingest(message)  # the report reads a desk with tickets, as of its last event
    assert {"export parquet": 2, "password reset": 1} == gaps
    assert 0 == main(["report", "--db", str(path), "--feedback"])
    out = capsys.readouterr().out
    assert "Knowledge-base content gaps" in out
    assert "export parquet" in out  # three searches by now, two of them by *then*


def test_the_command_line_weighs_tickets_by_the_recorded_tiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """report --feedback on a desk run from a configuration file weighs tickets by the tiers
    it records (the report used to open the store without tiers: every weight 0)."""
    config = tmp_path / "supportkit.toml"
    config.write_text(
        '[store]\npath = "desk.sqlite3"\n\n'
        '[[tiers]]\nname = "gold"\nweight = 10\n\n[[tiers]]\nname = "silver"\nweight = 3\n'
    )
    clock = FrozenClock(NOW - timedelta(days=1))
    with SupportDesk.from_config(config) as desk:
        desk.clock = clock
        for n, tier in enumerate(["gold", "silver", "gold"]):
            message = InboundMessage(f"m-{n}", "email", f"c{n}@x", clock.now(), subject="Bug")
            ticket_id = desk.ingest(message).ticket_id
            assert ticket_id is not None
            desk.set_tier(ticket_id, tier)
            desk.tag(ticket_id, ["export"])
    assert 0 == main(["report", "--db", str(tmp_path / "desk.sqlite3"), "--feedback"])
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if "export" in line]
    assert [["export", "3", "0", "+3", "23"], ["export", "23", "3"]] == lines  # trend, weight
