"""Bad scenario files are refused with a message naming the file and the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import supportkit
from supportkit._cli import main
from supportkit.testing import load_scenario

GOOD = {
    "policy": {
        "name": "p",
        "targets": {"normal": {"first_reply": {"minutes": 60, "business": False}}},
    },
    "events": [{"at": "2025-03-03T09:00:00Z", "kind": "created", "by": "customer"}],
    "at": "2025-03-03T12:00:00Z",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"policy": None}, "policy"),
        ({"calendar": {"tz": "Mars/Olympus"}}, "calendar: "),
        ({"policies": {"name": "x"}}, "'policies' must be a list"),
        ({"events": []}, "'events' must be a non-empty list"),
        ({"events": ["created"]}, "events[0] must be an object"),
        (
            {"events": [{"at": "2025-03-03T09:00:00Z", "kind": "opened"}]},
            "events[0]: unknown event",
        ),
        ({"at": "2025-03-03T12:00:00"}, "no UTC offset"),
        ({"expected": [1, 2]}, "'expected' must be an object"),
    ],
)
def test_bad_scenario_names_the_entry(
    change: dict[str, object], message: str, tmp_path: Path
) -> None:
    """Each malformed scenario raises a SupportkitError whose message names the bad entry."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**GOOD, **change}), encoding="utf-8")
    with pytest.raises(supportkit.SupportkitError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_key(tmp_path: Path) -> None:
    """A scenario without 'at' says which key is missing."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "at"}), encoding="utf-8")
    with pytest.raises(supportkit.SupportkitError, match="missing 'at'"):
        load_scenario(path)


def test_not_json_and_not_found(tmp_path: Path) -> None:
    """Unreadable files and invalid JSON are clear errors, not tracebacks."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(supportkit.SupportkitError, match="not valid JSON"):
        load_scenario(broken)
    with pytest.raises(supportkit.SupportkitError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "missing.json")


def test_cli_reports_bad_file_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``supportkit sla evaluate`` on a bad file prints the error on stderr and exits 1."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**GOOD, "events": []}), encoding="utf-8")
    assert 1 == main(["sla", "evaluate", str(path)])
    captured = capsys.readouterr()
    assert "" == captured.out
    assert "'events' must be a non-empty list" in captured.err


def test_cli_version_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """``supportkit version`` prints the version; no command prints help and exits 2."""
    assert 0 == main(["version"])
    assert f"supportkit {supportkit.__version__}\n" == capsys.readouterr().out
    assert 2 == main([])
    assert "usage: supportkit" in capsys.readouterr().out


def test_log_going_back_in_time_after_at_is_refused(tmp_path: Path) -> None:
    """An out-of-order log is refused even when the disorder lies after the evaluation instant
    (it used to be cut short silently at the first event after ``at``)."""
    events = [
        {"at": "2025-03-03T10:00:00Z", "kind": "created", "by": "customer"},
        {"at": "2025-03-03T13:00:00Z", "kind": "message", "by": "customer"},
        {"at": "2025-03-03T10:30:00Z", "kind": "message", "by": "agent"},
    ]
    path = tmp_path / "ooo.json"
    path.write_text(
        json.dumps({**GOOD, "events": events, "at": "2025-03-03T12:00:00Z"}), encoding="utf-8"
    )
    with pytest.raises(supportkit.TicketStateError, match="earlier than the previous event"):
        load_scenario(path).evaluate()
