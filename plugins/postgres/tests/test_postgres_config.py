"""A desk described by a supportkit.toml on PostgreSQL: the URL comes from the environment,
settings versions live in the database, a changed file is refused until applied, and the
read commands work with --config."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from supportkit_postgres import PostgresStore

from supportkit import (
    FrozenClock,
    InboundMessage,
    SettingsChangedError,
    SlaPolicy,
    SupportDesk,
)
from supportkit._cli import main

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def write_config(folder: Path, schema: str, minutes: int) -> Path:
    path = folder / "supportkit.toml"
    path.write_text(
        f"""
[store]
kind = "postgres"
env = {{ url = "SK_TEST_PG_URL" }}
options = {{ schema = "{schema}" }}

[[policies]]
name = "standard"
version = {minutes}
[policies.targets.normal]
first_reply = {{ minutes = {minutes}, business = false }}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def schema(pg_url: str, new_schema: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A new schema, the server's URL in the environment variable the files name."""
    monkeypatch.setenv("SK_TEST_PG_URL", pg_url)
    return new_schema()


def test_a_configured_postgres_desk_versions_its_settings(
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """from_config opens PostgreSQL with the URL from the environment; the settings version is
    recorded there; another target is refused, then applied; next-steps reads it back."""
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, schema, 60)
    with SupportDesk.from_config(path, clock=FrozenClock(NOW)) as desk:
        ticket = desk.ingest(InboundMessage("m-1", "email", "ann@example.com", NOW)).ticket_id
        assert [1] == [v["version"] for v in desk.settings_versions()]
    path = write_config(tmp_path, schema, 30)
    with pytest.raises(SettingsChangedError):
        SupportDesk.from_config(path, clock=FrozenClock(NOW))
    with SupportDesk.from_config(path, apply=True, clock=FrozenClock(NOW)) as desk:
        assert [1, 2] == [v["version"] for v in desk.settings_versions()]
        # applying moved the open ticket onto version 30 (sla_policy_applied): half an hour
        deadline = desk.sla(ticket)["first_reply"][0].deadline
        assert "2026-03-02T10:30:00+00:00" == deadline.isoformat()
        assert [60, 30] == [
            e.data["version"] for e in desk.events(ticket) if e.kind == "sla_policy_applied"
        ]
    assert 0 == main(["next-steps", "--json"])
    steps = json.loads(capsys.readouterr().out)
    assert [ticket] == [step["ticket_id"] for step in steps]


def test_a_file_refused_on_postgres_is_not_told_to_use_db(
    pg_url: str, schema: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A desk built in Python on PostgreSQL (as one moved there from SQLite) recorded its
    settings without a file, so `supportkit run --config` refuses the file until --apply; the
    message says why and names the read commands with the file, not --db (SQLite files only);
    `supportkit settings --config` then prints the recorded version, and --apply records it."""
    path = write_config(tmp_path, schema, 60)
    first_reply = {"minutes": 60, "business": False}
    policy = SlaPolicy.from_dict(
        {"name": "standard", "version": 60, "targets": {"normal": {"first_reply": first_reply}}}
    )
    with PostgresStore(pg_url, schema=schema) as store:
        SupportDesk(store=store, plugins=None, policies=[policy], clock=FrozenClock(NOW)).close()
    assert 1 == main(["run", "--once", "--config", str(path)])
    err = capsys.readouterr().err
    assert "recorded by a desk built in Python, so any file differs from it" in err
    assert "`supportkit settings --config FILE` prints the recorded versions" in err
    assert "--db" not in err
    assert 0 == main(["settings", "--config", str(path)])
    assert "version 1" in capsys.readouterr().out
    assert 0 == main(["run", "--once", "--apply", "--config", str(path)])
    with PostgresStore(pg_url, schema=schema) as store:
        assert [1, 2] == [v["version"] for v in store.meta("desk.settings_versions")]
