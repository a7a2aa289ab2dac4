"""The operator's commands on real SQLite files: check, run (a real subprocess stopped with
SIGTERM and SIGINT; agents' shifts during a run), ticket, next-steps, sla show, export/import
round trips (the progress bar of a large import), erasure and what exports carry after it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import FrozenClock, InboundMessage, SessionEvent, SqliteStore, SupportDesk
from supportkit._cli import build_parser, main
from supportkit._operate import PROGRESS_LINES, _loop
from supportkit._plugins import PluginHost
from supportkit._transfer import export_lines

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "supportkit.toml"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET_MAIL = "zed-4711@secret.example"
SECRET_TEXT = "my-password-is-hunter2-xyzzy"

CONFIG = """
title = "Test desk"
[store]
path = "desk.sqlite3"
[calendars.default]
tz = "UTC"
weekly.mon = "09:00-17:00"
weekly.tue = "09:00-17:00"
weekly.wed = "09:00-17:00"
weekly.thu = "09:00-17:00"
weekly.fri = "09:00-17:00"
[[policies]]
name = "standard"
[policies.targets.normal]
first_reply = { hours = 2, business = true }
[retention]
message_bodies = { days = 30 }
"""


@pytest.fixture
def desk_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a supportkit.toml and a desk file holding three tickets."""
    (tmp_path / "supportkit.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with SupportDesk.from_config("supportkit.toml", clock=FrozenClock(NOW)) as desk:
        for n, sender in enumerate([SECRET_MAIL, "ann@example.com", SECRET_MAIL]):
            desk.ingest(
                InboundMessage(
                    f"<m{n}@mail>",
                    "email",
                    sender,
                    NOW + timedelta(minutes=n),
                    subject=f"{SECRET_TEXT if sender == SECRET_MAIL else 'question'} {n}",
                    body=f"{SECRET_TEXT if sender == SECRET_MAIL else 'details'} body {n}",
                )
            )
        first = desk.tickets()[0].id
        desk.reply(first, agent="ana", body="we are on it")
        desk.store.append_sessions(
            [
                SessionEvent(
                    "searched",
                    session_id="s1",
                    at=NOW,
                    customer=customer,
                    data={
                        "query": SECRET_TEXT if customer == SECRET_MAIL else "gift",
                        "results": 0,
                    },
                )
                for customer in (SECRET_MAIL, "ann@example.com")
            ]
        )
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_validates_the_example_and_reports_errors_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped example passes; an unknown key is exit 1 naming its key path."""
    code, out, _ = run_cli(capsys, "check", str(EXAMPLE))
    assert 0 == code
    assert "valid (ACME support)" in out
    assert "enterprise [tier=enterprise]" in out
    bad = tmp_path / "supportkit.toml"
    bad.write_text("[desk]\nmax_attempt = 3\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "check", str(bad))
    assert 1 == code
    assert "desk.max_attempt: unknown key" in err
    assert "Traceback" not in err


def test_commands_without_a_configuration_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --db, no --config and no supportkit.toml here: exit 2 saying what to pass."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "next-steps")
    assert 2 == code
    assert "pass --config FILE (or --db PATH)" in err


def test_read_commands_use_the_recorded_configuration(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ticket, next-steps and sla show read the store with the configuration it records,
    whether reached by --db or by the file; --json prints JSON."""
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        ids = store.ticket_ids()
    code, out, _ = run_cli(capsys, "ticket", ids[1], "--db", "desk.sqlite3", "--json")
    assert 0 == code
    shown = json.loads(out)
    assert (ids[1], "standard") == (shown["id"], shown["sla_policy"])
    assert "assign" == shown["next_step"]["action"]
    code, out, _ = run_cli(capsys, "sla", "show", ids[1], "--db", "desk.sqlite3", "--json")
    assert 0 == code
    assert "2026-03-02T12:01:00+00:00" == json.loads(out)["first_reply"][0]["deadline"]
    code, out, _ = run_cli(capsys, "next-steps", "--json")
    assert 0 == code
    assert set(ids[1:]) <= {step["ticket_id"] for step in json.loads(out)}
    code, _, err = run_cli(capsys, "ticket", "T-nope", "--db", "desk.sqlite3")
    assert 1 == code
    assert "does not exist" in err


def test_a_changed_file_is_refused_until_applied(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run refuses a changed configuration with the diff (exit 1); --apply records it."""
    path = desk_dir / "supportkit.toml"
    path.write_text(
        CONFIG.replace("hours = 2", "hours = 3").replace(
            'name = "standard"', 'name = "standard"\nversion = 2'
        ),
        encoding="utf-8",
    )
    code, _, err = run_cli(capsys, "run", "--once")
    assert 1 == code
    assert '+              "seconds": 10800' in err
    assert "`supportkit run --apply`" in err  # a command that exists, not a bare --apply
    # and how to run on the store as recorded meanwhile: --db with this store's own path
    [hint] = re.findall(r"give the command line --db (\S+) instead of the file", err)
    assert [str(desk_dir / "desk.sqlite3")] == shlex.split(hint)
    assert 0 == run_cli(capsys, "run", "--once", "--db", *shlex.split(hint))[0]
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        assert [1] == [v["version"] for v in store.meta("desk.settings_versions")]
    code, _, _ = run_cli(capsys, "run", "--once", "--apply")
    assert 0 == code
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        assert [1, 2] == [v["version"] for v in store.meta("desk.settings_versions")]


def test_read_commands_with_a_changed_file_read_the_recorded_configuration(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file changed but not applied: ticket, next-steps and sla show (by --config or the
    working directory's file) read the store with its recorded settings (2 h first reply, not
    the file's 3 h), noting the pending difference in one line on stderr; nothing is written."""
    path = desk_dir / "supportkit.toml"
    path.write_text(
        CONFIG.replace("hours = 2", "hours = 3").replace(
            'name = "standard"', 'name = "standard"\nversion = 2'
        ),
        encoding="utf-8",
    )
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        ids = store.ticket_ids()
        before = list(export_lines(store))
    for where in (["--config", str(path)], []):
        code, out, err = run_cli(capsys, "sla", "show", ids[1], *where, "--json")
        assert 0 == code, err
        assert "2026-03-02T12:01:00+00:00" == json.loads(out)["first_reply"][0]["deadline"]
        assert 1 == len(err.splitlines()), err
        assert "differs from the recorded configuration (version 1" in err
        code, out, err = run_cli(capsys, "ticket", ids[1], *where, "--json")
        assert (0, "standard") == (code, json.loads(out)["sla_policy"]), err
        code, out, err = run_cli(capsys, "next-steps", *where, "--json")
        assert 0 == code, err
        assert set(ids[1:]) <= {step["ticket_id"] for step in json.loads(out)}
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        assert before == list(export_lines(store))
    path.write_text(CONFIG, encoding="utf-8")  # the recorded one again: no note
    code, _, err = run_cli(capsys, "next-steps", "--config", str(path))
    assert (0, "") == (code, err)


def test_run_once_logs_structured_rounds(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--once does one round: JSON log lines, outbox delivered, exit 0."""
    code, _, err = run_cli(capsys, "run", "--once")
    assert 0 == code
    events = [json.loads(line) for line in err.splitlines()]
    assert ["started", "round", "stopped"] == [
        e["event"] for e in events if e["logger"] == "supportkit.run" and e["event"] != "retention"
    ]
    round_ = next(e for e in events if e["event"] == "round")
    assert round_["delivered"] > 0
    code, _, err = run_cli(capsys, "run", "--once", "--db", "desk.sqlite3")  # recorded config
    assert 0 == code, err


def test_run_logs_warnings_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning while the worker runs (here a shadowed SLA policy) is one JSON log line like
    the others, not Python's two-line warning text in the middle of the structured log."""
    path = tmp_path / "supportkit.toml"
    path.write_text(
        '[store]\npath = "desk.sqlite3"\n'
        '[[policies]]\nname = "all"\n'
        "[policies.targets.normal]\nfirst_reply = { hours = 1, business = false }\n"
        '[[policies]]\nname = "email"\nconditions = { channel = ["email"] }\n'
        "[policies.targets.normal]\nfirst_reply = { hours = 2, business = false }\n",
        encoding="utf-8",
    )
    code, _, err = run_cli(capsys, "run", "--once", "--config", str(path))
    assert 0 == code, err
    lines = [json.loads(line) for line in err.splitlines()]
    (warning,) = [line for line in lines if line["level"] == "warning"]
    assert "PolicyWarning" == warning["category"]
    assert "policy 'email' never applies" in warning["event"]


def test_check_and_the_desk_do_not_call_a_tiers_policy_shadowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A catch-all first and a policy a tier names after it: the tier's tickets get that
    policy, so neither `check` nor the desk warns that it never applies (with the pytest
    setting, a warning would fail the desk's construction here)."""
    path = tmp_path / "supportkit.toml"
    path.write_text(
        '[store]\npath = "desk.sqlite3"\n'
        '[[policies]]\nname = "all"\n'
        "[policies.targets.normal]\nfirst_reply = { hours = 1, business = false }\n"
        '[[policies]]\nname = "gold"\nconditions = { tier = ["gold"] }\n'
        "[policies.targets.normal]\nfirst_reply = { minutes = 10, business = false }\n"
        '[[tiers]]\nname = "gold"\nweight = 5\nsla_policy = "gold"\nwatchlist = ["vip"]\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, "check", str(path))
    assert 0 == code
    assert "warning" not in out
    with SupportDesk.from_config(path, clock=FrozenClock(NOW)) as desk:
        opened = desk.ingest(InboundMessage("m-1", "email", "vip", NOW))
        assert "gold" == desk.ticket(opened.ticket_id).sla_policy


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf", "soon"])
def test_run_refuses_an_interval_that_is_not_a_positive_number(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--interval 0 or less would turn the worker into a busy loop on the store: usage error."""
    with pytest.raises(SystemExit) as info:
        main(["run", "--once", "--interval", interval])
    assert 2 == info.value.code
    assert "--interval" in capsys.readouterr().err


def _worker(desk_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """A real `supportkit run --interval 0.2` process in *desk_dir* and its log lines up to
    the end of its first round."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "supportkit._cli", "run", "--interval", "0.2"],
        cwd=desk_dir,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if '"event": "round"' in line:
            break
    return process, seen


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_gracefully_on_a_signal(desk_dir: Path, number: signal.Signals) -> None:
    """A real `supportkit run` process finishes its round and exits 0 on SIGTERM and on
    SIGINT (Ctrl-C), logging which signal stopped it, without a traceback."""
    process, seen = _worker(desk_dir)
    process.send_signal(number)
    _, rest = process.communicate(timeout=60)
    lines = [json.loads(line) for line in [*seen, *rest.splitlines()] if line.strip()]
    assert 0 == process.returncode
    names = [line["event"] for line in lines if line["logger"] == "supportkit.run"]
    assert number.name == next(line for line in lines if line["event"] == "stopping")["signal"]
    assert "stopped" == names[-1]


NEWER = CONFIG.replace("hours = 2", "hours = 3").replace(
    'name = "standard"', 'name = "standard"\nversion = 2'
)


class ApplyNewer:
    """The run loop's stop event: after the first round another desk on the same SQLite file
    applies newer settings; never asks the loop to stop."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.waits = folder, 0

    def wait(self, _timeout: float) -> bool:
        self.waits += 1
        if self.waits == 1:
            (self.folder / "newer.toml").write_text(NEWER, encoding="utf-8")
            with SupportDesk.from_config(self.folder / "newer.toml", apply=True):
                pass
        return self.waits > 5


def test_the_run_loop_stops_when_another_desk_applies_newer_settings(
    desk_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two desks on one SQLite file: the worker's loop, seeing the version another desk
    recorded, polls nothing more, logs settings_changed with both versions and returns 3."""
    with SupportDesk.from_config("supportkit.toml", clock=FrozenClock(NOW)) as desk:
        arrivals = Arrivals(desk)
        stop = ApplyNewer(desk_dir)
        with caplog.at_level(logging.INFO, logger="supportkit.run"):
            status = _loop(
                desk, [("arrivals", arrivals)], argparse.Namespace(once=False, interval=0.0), stop
            )
    assert (3, 1, 1) == (status, len(arrivals.tickets), stop.waits)
    changed = [r for r in caplog.records if r.getMessage() == "settings_changed"]
    assert [{"running": 1, "recorded": 2, "action": "restart"}] == [
        r.fields
        for r in changed  # type: ignore[attr-defined]
    ]


def test_a_run_process_exits_3_when_another_process_applies_newer_settings(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real `supportkit run` worker exits 3 (logging settings_changed, versions 1 and 2,
    then stopped) once `supportkit run --once --apply` of a changed file ran elsewhere."""
    process, seen = _worker(desk_dir)
    (desk_dir / "newer.toml").write_text(NEWER, encoding="utf-8")
    code, _, err = run_cli(capsys, "run", "newer.toml", "--once", "--apply", "--note", "3h")
    assert 0 == code, err
    try:
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    lines = [json.loads(line) for line in [*seen, *rest.splitlines()] if line.strip()]
    assert 3 == process.returncode, lines
    changed = next(line for line in lines if line["event"] == "settings_changed")
    assert (1, 2, "warning") == (changed["running"], changed["recorded"], changed["level"])
    assert {"event": "stopped", "status": 3} == {k: lines[-1][k] for k in ("event", "status")}


def test_export_import_export_is_identical(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """export → import into an empty store → export gives the same lines; importing twice
    writes nothing more."""
    code, first, _ = run_cli(capsys, "export", "--db", "desk.sqlite3")
    assert 0 == code
    streams = {json.loads(line)["stream"] for line in first.splitlines()}
    assert {"event", "session", "message", "alert", "due", "outbox", "meta"} - {"alert"} <= streams
    (desk_dir / "backup.jsonl").write_text(first, encoding="utf-8")
    code, _, err = run_cli(capsys, "import", "--db", "copy.sqlite3", "backup.jsonl")
    assert 0 == code
    assert "0 already there" in err
    code, second, _ = run_cli(capsys, "export", "--db", "copy.sqlite3")
    assert first == second
    code, _, err = run_cli(capsys, "import", "--db", "copy.sqlite3", "backup.jsonl")
    assert 0 == code
    assert f"imported 0 records into copy.sqlite3 ({len(first.splitlines())} already there)" in err
    # the copy is a working desk: its recorded configuration opens it
    code, out, _ = run_cli(capsys, "next-steps", "--db", "copy.sqlite3", "--json")
    assert 0 == code
    assert 3 == len(json.loads(out))


def test_a_malformed_line_is_named_and_nothing_is_written(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Line 3 broken: exit 1 naming line 3, and the target store stays empty."""
    _, exported, _ = run_cli(capsys, "export", "--db", "desk.sqlite3")
    lines = exported.splitlines()
    lines[2] = lines[2].replace('"kind":"', '"kind":"bogus_')
    (desk_dir / "broken.jsonl").write_text("\n".join(lines), encoding="utf-8")
    code, _, err = run_cli(capsys, "import", "--db", "empty.sqlite3", "broken.jsonl")
    assert 1 == code
    assert "broken.jsonl:3: not a valid event" in err
    assert "nothing was imported" in err
    with SqliteStore(desk_dir / "empty.sqlite3") as store:
        assert [] == list(export_lines(store))
    (desk_dir / "junk.jsonl").write_text('{"stream": "event"}\nnot json\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "import", "--db", "empty.sqlite3", "junk.jsonl")
    assert 1 == code
    assert "junk.jsonl:1:" in err


@pytest.mark.parametrize(
    "record",
    [
        {"key": "desk.settings_versions", "value": "x"},
        {"key": "desk.settings_versions", "value": [{"version": 1, "settings": "x"}]},
        {"key": "desk", "value": {"policies": "x"}},
        {"key": "desk", "value": {"policies": [], "calendars": {}, "ladder": 3}},
    ],
)
def test_a_malformed_desk_settings_record_is_refused_on_import_and_on_reading(
    desk_dir: Path, capsys: pytest.CaptureFixture[str], record: dict[str, Any]
) -> None:
    """The desk's own meta records must have their shape: import names the line and writes
    nothing; such a record already in a store is exit 1 with a message, never a traceback."""
    line = json.dumps({"stream": "meta", **record})
    (desk_dir / "bad.jsonl").write_text('{"stream":"meta","key":"a","value":1}\n' + line + "\n")
    code, _, err = run_cli(capsys, "import", "--db", "empty.sqlite3", "bad.jsonl")
    assert (1, True) == (code, "bad.jsonl:2:" in err), err
    assert "nothing was imported" in err
    with SqliteStore(desk_dir / "empty.sqlite3") as store:
        assert [] == list(export_lines(store))
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        ticket = store.ticket_ids()[0]
        store.set_meta(record["key"], record["value"])
        if record["key"] == "desk":  # a store from before versions: the mirror is read
            store.set_meta("desk.settings_versions", None)
    for argv in (
        ["next-steps"],
        ["settings"],
        ["run", "--once"],
        ["ticket", ticket],
        ["sla", "show", ticket],
    ):
        code, _, err = run_cli(capsys, *argv, "--db", "desk.sqlite3")
        assert (1, False) == (code, "Traceback" in err), (argv, err)
        assert record["key"] in err, (argv, err)


def test_import_refuses_a_conflicting_history(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An event where the store has another at that ticket version: exit 1, nothing written."""
    _, exported, _ = run_cli(capsys, "export", "--db", "desk.sqlite3")
    lines = exported.splitlines()
    record = json.loads(lines[0])
    record["event"]["id"] = "another-id"
    (desk_dir / "conflict.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    before = list(export_lines(SqliteStore(desk_dir / "desk.sqlite3")))
    code, _, err = run_cli(capsys, "import", "--db", "desk.sqlite3", "conflict.jsonl")
    assert 1 == code
    assert "already has another event at version 1" in err
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        assert before == list(export_lines(store))


def _file_bytes(directory: Path, name: str) -> bytes:
    return b"".join(path.read_bytes() for path in directory.iterdir() if path.name.startswith(name))


def test_erase_leaves_nothing_of_the_customer_in_the_file(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `erase --customer`, neither the address nor the text they wrote is anywhere in
    the SQLite file, its WAL or free pages; the tickets still count and keep their timing."""
    db = desk_dir / "desk.sqlite3"
    assert SECRET_MAIL.encode() in _file_bytes(desk_dir, "desk.sqlite3")
    code, out, _ = run_cli(capsys, "erase", "--customer", SECRET_MAIL)
    assert 0 == code
    assert "2 tickets" in out
    raw = _file_bytes(desk_dir, "desk.sqlite3")
    assert SECRET_MAIL.encode() not in raw
    assert SECRET_TEXT.encode() not in raw
    assert b"details body 1" in raw  # ann's ticket was not erased
    with SqliteStore(db) as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(NOW))
        tickets = desk.tickets()
        assert 3 == len(tickets)
        erased = [t for t in tickets if t.customer != "ann@example.com"]
        assert 2 == len(erased)
        assert {erased[0].customer} == {t.customer for t in erased}
        assert erased[0].customer.startswith("erased-")
        assert NOW == erased[0].created_at
        assert [e["tickets"] for e in store.meta("desk.erasures")] == [2]
        sessions = [(e.customer, e.data["query"]) for e in store.session_events()]
        assert [(erased[0].customer, ""), ("ann@example.com", "gift")] == sessions


def test_retention_purges_bodies_of_long_closed_tickets(desk_dir: Path) -> None:
    """[retention] message_bodies: bodies of tickets closed longer ago go; others stay."""
    later = NOW + timedelta(days=1)
    with SupportDesk.from_config("supportkit.toml", clock=FrozenClock(later)) as desk:
        first, second, _ = (t.id for t in desk.tickets())
        desk.set_status(first, "solved")
        desk.set_status(first, "closed")
        desk.set_status(second, "solved")
    much_later = NOW + timedelta(days=40)
    with SupportDesk.from_config("supportkit.toml", clock=FrozenClock(much_later)) as desk:
        purged = desk.apply_retention()
        bodies = {
            t: [e.data["body"] for e in desk.events(t) if e.kind == "message"]
            for t in (first, second)
        }
    assert 2 == purged  # the customer's message and the agent's reply
    assert {first: ["", ""], second: ["details body 1"]} == bodies
    assert b"body 0" not in _file_bytes(desk_dir, "desk.sqlite3")


def test_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """`supportkit --help` documents the exit codes; each command's help has examples."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert 0 == info.value.code
    out = capsys.readouterr().out
    assert "exit status: 0 success, 1 refused or invalid input" in out
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "supportkit export --db support.sqlite3 > backup.jsonl" in capsys.readouterr().out


def _parsers(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, Any]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}")


def test_every_built_in_command_help_has_examples() -> None:
    """Every built-in command and command group shows examples in its --help, not only the
    operator's commands (the issue asks it of all commands)."""
    parser = build_parser(PluginHost(load_entrypoints=False))
    lacking = [
        name for name, p in _parsers(parser, "supportkit") if "examples:" not in p.format_help()
    ]
    assert [] == lacking


POLLER_PLUGIN = """
from pathlib import Path
from supportkit import hookimpl


class ListPoller:
    def __init__(self, desk, options):
        self.desk, self.waiting, self.log = desk, list(options["payloads"]), options["log"]

    def poll(self):
        batch, self.waiting = self.waiting, []
        for payload in batch:
            self.desk.receive("json", payload)
        return len(batch)

    def close(self):
        Path(self.log).write_text("closed", encoding="utf-8")


@hookimpl
def supportkit_register_pollers(register):
    register("listpoll", ListPoller)


@hookimpl
def supportkit_config_section(register):
    register("listpoll", {"type": "object", "required": ["payloads", "log"]})
"""


def test_run_polls_the_configured_pollers_and_closes_them(
    desk_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A poller whose [plugins.<name>] table is configured is made with that table, polled
    each round (its messages become tickets) and closed at the end."""
    (desk_dir / "sk_listpoll.py").write_text(POLLER_PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(desk_dir))
    config = CONFIG + (
        '[plugins]\nenable = ["sk_listpoll"]\n[plugins.listpoll]\nlog = "poller.log"\n'
        'payloads = [{ id = "evt-1", from = "bob@example.com", at = "2026-03-02T10:30:00Z" }]\n'
    )
    (desk_dir / "supportkit.toml").write_text(config, encoding="utf-8")
    code, _, err = run_cli(capsys, "run", "--once", "--apply")
    assert 0 == code, err
    started = next(json.loads(line) for line in err.splitlines() if '"started"' in line)
    assert ["listpoll"] == started["pollers"]
    round_ = next(json.loads(line) for line in err.splitlines() if '"round"' in line)
    assert 1 == round_["polled"]
    assert "closed" == (desk_dir / "poller.log").read_text(encoding="utf-8")


def test_the_demo_runs_from_its_shipped_configuration_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`supportkit demo` builds its desk from demo.toml (which `supportkit check` passes): the
    store records that file's configuration, agents' shifts included."""
    from supportkit._demo import run_demo

    demo_toml = ROOT / "src" / "supportkit" / "demo.toml"
    code, out, _ = run_cli(capsys, "check", str(demo_toml))
    assert 0 == code
    assert "groups: 3, agents: 12" in out
    run_demo(tickets=20, seed=1, db=tmp_path / "demo.sqlite3")
    with SqliteStore(tmp_path / "demo.sqlite3") as store:
        (version,) = store.meta("desk.settings_versions")
    assert "supportkit demo" == version["config"]["title"]
    assert {"berlin", "new-york"} == {a["shift"] for a in version["config"]["agents"]}


def test_report_judges_the_goals_of_the_recorded_configuration(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`supportkit report` of a desk run from a file shows that file's title and goals."""
    path = desk_dir / "supportkit.toml"
    path.write_text(
        CONFIG.replace('title = "Test desk"', 'title = "Goal desk"')
        + '[[goals]]\nname = "replies within the hour"\nmetric = "first_reply.median"\n'
        "target = 3600\n",
        encoding="utf-8",
    )
    code, _, err = run_cli(capsys, "run", "--once", "--apply")
    assert 0 == code, err
    code, _, err = run_cli(capsys, "report", "--db", "desk.sqlite3", "--html", "r.html")
    assert 0 == code, err
    html = (desk_dir / "r.html").read_text(encoding="utf-8")
    assert "Goal desk" in html
    assert "replies within the hour" in html


def test_report_and_kb_import_find_the_store_by_the_configuration_file(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report` and `kb import` take --config FILE (or the working directory's file) as the
    other commands do; the report reads the recorded configuration even while the file
    differs (its title, not the file's new one)."""
    path = desk_dir / "supportkit.toml"
    path.write_text(CONFIG.replace("Test desk", "Renamed desk"), encoding="utf-8")
    (desk_dir / "kb").mkdir()
    (desk_dir / "kb" / "reset.md").write_text("# Reset a password\nUse the app.\n")
    code, out, err = run_cli(capsys, "kb", "import", "kb", "--config", str(path))
    assert (0, "1 created, 0 updated, 0 unchanged") == (code, out.strip()), err
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        articles = [line for line in export_lines(store) if '"stream":"article"' in line]
    assert 1 == len(articles)
    assert '"reset"' in articles[0]
    code, out, err = run_cli(capsys, "report", "--config", str(path), "--html", "r.html")
    assert (0, "wrote r.html") == (code, out.strip()), err
    html = (desk_dir / "r.html").read_text(encoding="utf-8")
    assert ("Test desk" in html, "Renamed desk" in html) == (True, False)
    code, out, err = run_cli(capsys, "report", "--self-service")  # ./supportkit.toml
    assert 0 == code, err
    assert "Self-service" in out or "self-service" in out


def test_two_run_processes_share_the_work_without_doing_it_twice(desk_dir: Path) -> None:
    """Two `supportkit run --once` processes started together on one store deliver every
    outbox message exactly once between them (claims with leases divide the work)."""
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        pending = len(store.outbox("pending"))
    assert pending > 0
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "supportkit._cli", "run", "--once"],
            cwd=desk_dir,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    delivered = 0
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert 0 == process.returncode, err
        rounds = [json.loads(line) for line in err.splitlines() if '"round"' in line]
        delivered += sum(r["delivered"] for r in rounds)
    with SqliteStore(desk_dir / "desk.sqlite3") as store:
        assert [] == store.outbox("pending")
        # each delivered message was delivered by one process (the ticks added SLA notices)
        assert len(store.outbox("delivered")) == delivered >= pending


def test_output_errors_are_messages_not_tracebacks(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unwritable --output is exit 1 with a message; a reader that goes away early
    (`supportkit export | head -1`) ends the command without a traceback."""
    code, _, err = run_cli(capsys, "export", "--db", "desk.sqlite3", "--output", "no/such/x")
    assert 1 == code
    assert "cannot write no/such/x" in err
    with SupportDesk.from_config("supportkit.toml", clock=FrozenClock(NOW)) as desk:
        for n in range(300):  # an export well past a pipe's buffer (64 KiB)
            desk.ingest(InboundMessage(f"bulk-{n}", "email", f"c{n}@example.com", NOW))
    process = subprocess.Popen(
        [sys.executable, "-m", "supportkit._cli", "export", "--db", "desk.sqlite3"],
        cwd=desk_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # the reader goes away
    _, err_bytes = process.communicate(timeout=60)
    assert b"Traceback" not in err_bytes
    assert 1 == process.returncode  # it did hit the closed pipe


SHIFTS = """
[store]
path = "shifts.sqlite3"
[calendars.default]
tz = "UTC"
weekly.mon = "00:00-00:00"
[calendars.early]
tz = "UTC"
weekly.mon = "08:00-12:00"
[calendars.late]
tz = "UTC"
weekly.mon = "13:00-17:00"
[[groups]]
id = "team"
[[agents]]
id = "early-bird"
groups = ["team"]
capacity = { email = 5 }
shift = "early"
[[agents]]
id = "night-owl"
groups = ["team"]
capacity = { email = 5 }
shift = "late"
[router]
strategy = "least_loaded"
"""


class Hours:
    """The run loop's stop event: each wait moves the frozen clock on an hour, until *rounds*
    rounds are done."""

    def __init__(self, clock: FrozenClock, rounds: int) -> None:
        self.clock, self.left = clock, rounds

    def wait(self, _timeout: float) -> bool:
        self.left -= 1
        self.clock.advance(timedelta(hours=1))
        return self.left <= 0


class Arrivals:
    """A poller handing the desk one new customer message per round (at the clock's now)."""

    def __init__(self, desk: SupportDesk) -> None:
        self.desk = desk
        self.tickets: list[tuple[int, str | None]] = []

    def poll(self) -> int:
        now = self.desk.clock.now()
        message = InboundMessage(f"m-{now.hour}", "email", "c@example.com", now)
        self.tickets.append((now.hour, self.desk.ingest(message).ticket_id))
        return 1

    def close(self) -> None:
        """Nothing to release."""


def test_run_puts_agents_on_and_off_line_as_their_shifts_open_and_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The run loop, hour by hour over a Monday from 10:00 to 14:00 (early shift 08-12, late
    13-17): the late agent goes off line in the first round (agents start online), the early
    one at noon, the late one comes on at 13:00, each change logged once as a `shift` event at
    the start of its round; the ticket a poller brings in each round goes to whoever is on
    shift, and the one that came at noon, with nobody on shift, is assigned (dispatched) in
    the next round to the agent who came on."""
    (tmp_path / "supportkit.toml").write_text(SHIFTS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    clock = FrozenClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # a Monday
    with SupportDesk.from_config("supportkit.toml", clock=clock) as desk:
        arrivals = Arrivals(desk)
        args = argparse.Namespace(once=False, interval=0.0)
        with caplog.at_level(logging.INFO, logger="supportkit.run"):
            _loop(desk, [("arrivals", arrivals)], args, Hours(clock, 5))
        router = desk.router
        assert router is not None
        final = {a: router.agent(a).status.value for a in ("early-bird", "night-owl")}
        taken = [
            (hour, e.data["agent"], e.at.hour)
            for hour, t in arrivals.tickets
            if t is not None
            for e in desk.events(t)
            if e.kind == "assigned"
        ]
    shifts, hour = [], 10  # (hour of the round, agent, status) of each shift change
    for record in caplog.records:
        fields = getattr(record, "fields", {})
        if record.getMessage() == "shift":
            shifts.append((hour, fields["agent"], fields["status"]))
        elif record.getMessage() == "round":
            hour += 1
    assert [
        (10, "night-owl", "offline"),
        (12, "early-bird", "offline"),
        (13, "night-owl", "online"),
    ] == shifts
    assert [
        (10, "early-bird", 10),
        (11, "early-bird", 11),
        (12, "night-owl", 13),  # nobody on shift at noon: it waits for the next round
        (13, "night-owl", 13),
        (14, "night-owl", 14),
    ] == taken
    assert {"early-bird": "offline", "night-owl": "online"} == final


def _big_import(folder: Path, lines: int) -> Path:
    path = folder / "big.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "stream": "plugin_state",
                    "namespace": "n",
                    "key": f"k{n}",
                    "value": n,
                    "expires_at": None,
                }
            )
            + "\n"
            for n in range(lines)
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("env", "flags", "bar"),
    [
        ({"TTY_COMPATIBLE": "1"}, [], True),
        ({"FORCE_COLOR": "1"}, [], True),
        ({"TTY_COMPATIBLE": "1"}, ["--quiet"], False),
        ({}, [], False),
    ],
    ids=["terminal", "forced", "quiet", "pipe"],
)
def test_a_large_import_shows_a_progress_bar_only_on_a_terminal(
    tmp_path: Path, env: dict[str, str], flags: list[str], bar: bool
) -> None:
    """Importing 10,000 lines in a real process: on a terminal (rich told so with
    TTY_COMPATIBLE or FORCE_COLOR, as a terminal would be detected) standard error shows the
    "checking" bar before the summary; with --quiet or into a pipe only the summary line."""
    path = _big_import(tmp_path, PROGRESS_LINES)
    clean = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "supportkit._cli",
            "import",
            "--db",
            "big.sqlite3",
            str(path),
            *flags,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**clean, **env, "COLUMNS": "100"},
        timeout=300,
    )
    assert (0, "") == (done.returncode, done.stdout)
    summary = f"imported {PROGRESS_LINES} records into big.sqlite3 (0 already there)\n"
    assert done.stderr.endswith(summary)
    shown = done.stderr[: -len(summary)]
    assert bar == ("checking" in shown)
    assert bar == ("\x1b[" in shown)  # the terminal's control sequences drawing the bar
    if not bar:
        assert "" == shown


def test_an_export_after_erase_carries_the_redactions_and_an_import_keeps_them(
    desk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `erase`, the export holds nothing of the customer (address, subjects, bodies,
    message ids) but their pseudonym and the erasure record; importing it into a new store
    and exporting again gives the same lines, so the redactions survive a move."""
    _, before, _ = run_cli(capsys, "export", "--db", "desk.sqlite3")
    assert SECRET_MAIL in before
    assert "<m0@mail>" in before
    code, out, _ = run_cli(capsys, "erase", "--customer", SECRET_MAIL, "--db", "desk.sqlite3")
    assert 0 == code
    _, after, _ = run_cli(capsys, "export", "--db", "desk.sqlite3")
    for secret in (SECRET_MAIL, SECRET_TEXT, "<m0@mail>", "<m2@mail>"):
        assert secret not in after
    pseudonym = out.split(" as ")[1].split(":")[0]
    records = [json.loads(line) for line in after.splitlines()]
    erasures = next(r["value"] for r in records if r.get("key") == "desk.erasures")
    assert [(pseudonym, 2)] == [(e["pseudonym"], e["tickets"]) for e in erasures]
    assert ("ann@example.com" in after, "details body 1" in after) == (True, True)
    (desk_dir / "erased.jsonl").write_text(after, encoding="utf-8")
    assert 0 == run_cli(capsys, "import", "--db", "moved.sqlite3", "erased.jsonl")[0]
    _, moved, _ = run_cli(capsys, "export", "--db", "moved.sqlite3")
    assert after == moved
    assert SECRET_MAIL.encode() not in _file_bytes(desk_dir, "moved.sqlite3")
