"""Settings safety: a desk's configuration is versioned in its store and never silently replaced."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import (
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PolicyError,
    SettingsChangedError,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
)
from supportkit._cli import main
from supportkit._config import DeskConfig
from supportkit._operate import desk_from_store
from supportkit.storekit import MemorySidecar
from supportkit.testing import service_missing

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def config(
    db: Path, minutes: int = 60, title: str = "desk", version: int | None = None
) -> dict[str, Any]:
    """A desk on *db* whose policy promises a first reply in *minutes* (version: by default
    the minutes, so another target is another version)."""
    return {
        "title": title,
        "store": {"kind": "sqlite", "path": str(db)},
        "policies": [
            {
                "name": "standard",
                "version": minutes if version is None else version,
                "targets": {"normal": {"first_reply": {"minutes": minutes, "business": False}}},
            }
        ],
    }


def versions(db: Path) -> list[dict[str, Any]]:
    """The versions recorded in the file (read without starting a desk, which may record)."""
    with SqliteStore(db) as store:
        return list(store.meta("desk.settings_versions") or [])


def test_first_start_records_version_one_with_the_file(tmp_path: Path) -> None:
    """A new store gets version 1: the settings, the configuration (without [store]), the note."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    with SqliteStore(db) as store:
        recorded = store.meta("desk.settings_versions")
    assert 1 == len(recorded)
    assert {"version": 1, "recorded_at": "2026-03-02T10:00:00+00:00", "note": "configuration"} == {
        k: recorded[0][k] for k in ("version", "recorded_at", "note")
    }
    assert "store" not in recorded[0]["config"]
    assert "desk" == recorded[0]["config"]["title"]
    policy = recorded[0]["settings"]["policies"][0]
    assert 3600 == policy["targets"]["normal"]["first_reply"]["seconds"]


def test_same_configuration_starts_without_a_new_version(tmp_path: Path) -> None:
    """Starting again with the same file records nothing."""
    db = tmp_path / "desk.sqlite3"
    for _ in range(3):
        SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    assert [1] == [v["version"] for v in versions(db)]


def test_changed_configuration_is_refused_with_the_difference(tmp_path: Path) -> None:
    """Another target: SettingsChangedError showing recorded → given; nothing is recorded."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    with pytest.raises(SettingsChangedError) as info:
        SupportDesk.from_config(config(db, minutes=30), clock=FrozenClock(NOW))
    diff = info.value.diff
    changes = [line.replace(" ", "") for line in diff.splitlines()]
    assert '-"seconds":3600' in changes
    assert '+"seconds":1800' in changes
    assert "--- recorded (version 1)" in diff
    assert "apply=True" in str(info.value)
    assert [1] == [v["version"] for v in versions(db)]


def test_a_change_outside_the_settings_is_refused_too(tmp_path: Path) -> None:
    """Any key of the file counts (here the title), not only what SLA replay needs."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    with pytest.raises(SettingsChangedError) as info:
        SupportDesk.from_config(config(db, title="renamed"), clock=FrozenClock(NOW))
    assert '+    "title": "renamed"' in info.value.diff.splitlines()


def test_apply_records_a_new_version(tmp_path: Path) -> None:
    """apply=True records version 2, with when and a note, and mirrors the settings."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    later = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    with SupportDesk.from_config(config(db, minutes=30), apply=True, clock=FrozenClock(later)):
        pass
    recorded = versions(db)
    assert [1, 2] == [v["version"] for v in recorded]
    assert "2026-03-03T09:00:00+00:00" == recorded[1]["recorded_at"]
    with SqliteStore(db) as store:
        assert recorded[1]["settings"] == store.meta(SupportDesk.SETTINGS_KEY)
    # and the applied version is now the one a plain start must match
    SupportDesk.from_config(config(db, minutes=30), clock=FrozenClock(later)).close()
    assert 2 == len(versions(db))


def test_python_constructor_records_a_version_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A desk built in Python with other settings records a new version (never overwrites) and
    logs a warning with the difference; with the recorded settings it records nothing."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    policy = SlaPolicy.from_dict(config(db, minutes=10)["policies"][0])
    with (
        caplog.at_level(logging.WARNING, logger="supportkit.desk"),
        SqliteStore(db) as store,
    ):
        SupportDesk(store=store, plugins=None, policies=[policy], clock=FrozenClock(NOW))
    assert [1, 2] == [v["version"] for v in versions(db)]
    assert versions(db)[0]["config"]["title"] == "desk"  # the old version is kept as it was
    warning = [r for r in caplog.records if "recorded this desk's as version 2" in r.getMessage()]
    assert 1 == len(warning)
    assert '"seconds": 600' in warning[0].getMessage()
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="supportkit.desk"),
        SqliteStore(db) as store,
    ):
        SupportDesk(store=store, plugins=None, policies=[policy], clock=FrozenClock(NOW))
    assert [] == caplog.records
    assert 2 == len(versions(db))


def test_the_refusal_names_db_for_sqlite_files_only(tmp_path: Path) -> None:
    """On a store that is not a SQLite file (a shared in-memory desk store here, as PostgreSQL
    on the command line), a file that differs from the version a desk built in Python recorded is
    refused with a message that says so and names the read commands with the file, never
    --db (which opens SQLite files only); on a SQLite file it names --db and that file."""
    db = tmp_path / "desk.sqlite3"
    policy = SlaPolicy.from_dict(config(db)["policies"][0])
    loaded = DeskConfig.load(config(db))
    for store in (MemorySidecar(InMemoryStore()), SqliteStore(db)):
        with SupportDesk(store=store, plugins=None, policies=[policy], clock=FrozenClock(NOW)):
            arguments = {**loaded.desk_arguments(FrozenClock(NOW)), "store": store}
            with pytest.raises(SettingsChangedError) as info:
                SupportDesk(**arguments, config=loaded, _apply=False)
        message = str(info.value)
        assert "recorded by a desk built in Python, so any file differs from it" in message
        if isinstance(store, SqliteStore):
            assert f"give the command line --db {db} instead of the file" in message
        else:
            assert "--db" not in message
            assert "`supportkit settings --config FILE` prints the recorded versions" in message


def test_a_store_from_before_versions_counts_its_record_as_version_one(tmp_path: Path) -> None:
    """A file with only the old single record reads as version 1 and is compared with it."""
    db = tmp_path / "desk.sqlite3"
    with SqliteStore(db) as store:
        store.set_meta(SupportDesk.SETTINGS_KEY, {"policies": [], "calendars": {}, "ladder": None})
    with SqliteStore(db) as store:
        desk = SupportDesk(store=store, plugins=None, ladder=None, clock=FrozenClock(NOW))
        recorded = desk.settings_versions()
    assert [1] == [v["version"] for v in recorded]
    assert "recorded before settings were versioned" == recorded[0]["note"]
    assert [] == versions(db)  # the same settings: nothing new was written


def test_the_refusal_closes_the_store_the_desk_opened(tmp_path: Path) -> None:
    """A refused start leaves no open connection behind (the file can be removed on Windows
    too, and a later start works)."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    with pytest.raises(SettingsChangedError):
        SupportDesk.from_config(config(db, minutes=5), clock=FrozenClock(NOW))
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()


def test_a_policy_edited_without_a_new_version_is_not_applied(tmp_path: Path) -> None:
    """Other targets under the same policy version: apply refuses (PolicyError), since open
    tickets could no longer replay exactly."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    with pytest.raises(PolicyError, match="'standard' changed but kept its version"):
        SupportDesk.from_config(config(db, minutes=30, version=60), apply=True)
    with pytest.raises(SettingsChangedError, match="give SLA policy 'standard' a new version"):
        SupportDesk.from_config(config(db, minutes=30, version=60))
    assert [1] == [v["version"] for v in versions(db)]


def _message(n: int, at: datetime = NOW) -> InboundMessage:
    return InboundMessage(f"m{n}", "email", f"c{n}@example.com", at, body="help")


def test_applying_moves_open_tickets_through_sla_policy_applied_and_replay_is_exact(
    tmp_path: Path,
) -> None:
    """Applying version 30 (half an hour) 45 minutes in: each unsolved ticket opened under
    version 60 gets one sla_policy_applied event (the solved one none), its clock keeps the
    45 minutes and so is breached at the apply instant; a new ticket gets 30 minutes; desks
    that replay the log later (the same file, the read commands' desk, a worker started
    before the apply with the old file) compute exactly what the applying desk computed;
    applying again moves nothing."""
    db = tmp_path / "desk.sqlite3"
    with SupportDesk.from_config(config(db), clock=FrozenClock(NOW)) as desk:
        first, second, solved = (desk.ingest(_message(n)).ticket_id for n in (1, 2, 3))
        desk.reply(solved, "done", agent="a-1", status="solved")
    applied_at = NOW + timedelta(minutes=45)
    later = [applied_at, NOW + timedelta(minutes=50), NOW + timedelta(hours=3)]
    # A worker still running the old file, started before the apply (it learns the new
    # policy version from the store when it meets a ticket moved onto it).
    worker = SupportDesk.from_config(config(db), clock=FrozenClock(applied_at))
    with SupportDesk.from_config(
        config(db, minutes=30), apply=True, clock=FrozenClock(applied_at)
    ) as desk:
        new = desk.ingest(_message(4, applied_at)).ticket_id
        tickets = (first, second, solved, new)
        moves = {t: [e for e in desk.events(t) if e.kind == "sla_policy_applied"] for t in tickets}
        live = {(t, at): desk.sla(t, at).to_dict() for t in tickets for at in later}
        deadline = desk.sla(first)["first_reply"][0].deadline
        assert [] == desk.reapply_policies()
    assert [2, 2, 1, 1] == [len(moves[t]) for t in tickets]
    assert {"policy": "standard", "version": 30, "calendar": None} == dict(moves[first][1].data)
    assert (applied_at, applied_at) == (moves[first][1].at, deadline)
    with SupportDesk.from_config(config(db, minutes=30), clock=FrozenClock(applied_at)) as desk:
        assert live == {(t, at): desk.sla(t, at).to_dict() for t in tickets for at in later}
    with worker:
        assert live == {(t, at): worker.sla(t, at).to_dict() for t in tickets for at in later}
    with SqliteStore(db) as store:  # the desk the read commands build from the record
        desk = desk_from_store(store)
        assert live == {(t, at): desk.sla(t, at).to_dict() for t in tickets for at in later}
        assert [1, 2] == [v["version"] for v in versions(db)]


def test_a_move_cut_short_is_finished_by_the_next_apply_and_then_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apply recorded version 2 but died before moving the tickets: the next apply of the
    same file (no new version) moves them; once done, later applies read no ticket."""
    db = tmp_path / "desk.sqlite3"
    with SupportDesk.from_config(config(db), clock=FrozenClock(NOW)) as desk:
        ticket = desk.ingest(_message(1)).ticket_id
    real = SupportDesk.reapply_policies

    def dies(_desk: SupportDesk) -> list[str]:
        raise KeyboardInterrupt  # the process was stopped half-way

    monkeypatch.setattr(SupportDesk, "reapply_policies", dies)
    with pytest.raises(KeyboardInterrupt):
        SupportDesk.from_config(config(db, minutes=30), apply=True, clock=FrozenClock(NOW))
    monkeypatch.setattr(SupportDesk, "reapply_policies", real)
    with SupportDesk.from_config(
        config(db, minutes=30), apply=True, clock=FrozenClock(NOW)
    ) as desk:
        applied = [e.data["version"] for e in desk.events(ticket) if e.kind == "sla_policy_applied"]
        marker = desk.store.meta(SupportDesk.MOVED_KEY)
    monkeypatch.setattr(SupportDesk, "reapply_policies", dies)
    SupportDesk.from_config(config(db, minutes=30), apply=True, clock=FrozenClock(NOW)).close()
    assert ([60, 30], 2, [1, 2]) == (applied, marker, [v["version"] for v in versions(db)])


def test_apply_records_the_note_and_supportkit_settings_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """note= is recorded with the applied version (with when); `supportkit settings` lists
    each version's number, instant, note and policies; `run --note` without --apply is a usage
    error."""
    db = tmp_path / "desk.sqlite3"
    SupportDesk.from_config(config(db), clock=FrozenClock(NOW)).close()
    later = NOW + timedelta(days=1)
    SupportDesk.from_config(
        config(db, minutes=30), apply=True, note="gold promise: 30 min", clock=FrozenClock(later)
    ).close()
    assert ["configuration", "gold promise: 30 min"] == [v["note"] for v in versions(db)]
    assert 0 == main(["settings", "--db", str(db)])
    out = capsys.readouterr().out.splitlines()
    assert [
        "version 1: 2026-03-02T10:00:00+00:00  configuration  (policies: standard v60)",
        "version 2: 2026-03-03T10:00:00+00:00  gold promise: 30 min  (policies: standard v30)",
    ] == out
    assert 0 == main(["settings", "--db", str(db), "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert {
        "version": 2,
        "recorded_at": "2026-03-03T10:00:00+00:00",
        "note": "gold promise: 30 min",
        "policies": ["standard v30"],
        "from_config": True,
    } == listed[1]
    assert 2 == main(["run", "--once", "--note", "why", "--db", str(db)])
    assert "--note goes with --apply" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="note must be a string"):
        SupportDesk.from_config(config(db, minutes=30), apply=True, note=5)  # type: ignore[arg-type]


class Interleaved:
    """A store that lets another desk apply its own settings (through its own connection)
    just before this desk's compare-and-set of the settings versions: two desks applying
    different settings at the same moment, made deterministic."""

    def __init__(self, store: Any, other: Callable[[], None]) -> None:
        self.store = store
        self.other: Callable[[], None] | None = other

    def set_meta_if(self, key: str, value: Any, *, expected: Any) -> bool:
        if self.other is not None:
            other, self.other = self.other, None
            other()
        return bool(self.store.set_meta_if(key, value, expected=expected))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def race(make_store: Callable[[], Any], source: Callable[[int], Any]) -> None:
    """Desk A applies policy version 30 while desk B applies version 45 on the same store:
    A's compare-and-set wins, B is refused with SettingsChangedError naming A's version and
    writes nothing (no version, no settings mirror, no ticket moved)."""
    with SupportDesk.from_config(source(60), clock=FrozenClock(NOW)) as desk:
        ticket = desk.ingest(_message(1)).ticket_id

    def desk_a() -> None:
        SupportDesk.from_config(source(30), apply=True, note="A", clock=FrozenClock(NOW)).close()

    store = make_store()
    contested = Interleaved(store, desk_a)
    arguments = DeskConfig.load(source(45)).desk_arguments(FrozenClock(NOW))
    arguments.update(store=contested, store_options={})
    with pytest.raises(SettingsChangedError, match="recorded settings version 2 while"):
        SupportDesk(**arguments, config=DeskConfig.load(source(45)), _apply=True, _note="B")
    store.close()
    with SupportDesk.from_config(source(30), clock=FrozenClock(NOW)) as desk:
        recorded = desk.settings_versions()
        applied = [e.data["version"] for e in desk.events(ticket) if e.kind == "sla_policy_applied"]
        mirror = desk.store.meta(SupportDesk.SETTINGS_KEY)
    assert ([1, 2], ["configuration", "A"]) == (
        [v["version"] for v in recorded],
        [v["note"] for v in recorded],
    )
    assert ([60, 30], 30) == (applied, mirror["policies"][0]["version"])


def test_two_desks_recording_the_same_settings_at_once_both_start(tmp_path: Path) -> None:
    """Two desks with one configuration start at the same moment on a fresh store (workers
    started together): the loser of the compare-and-set finds its very settings recorded and
    starts too; one version is recorded."""
    db = tmp_path / "desk.sqlite3"

    def desk_a() -> None:
        SupportDesk.from_config(config(db, minutes=30), clock=FrozenClock(NOW)).close()

    store = SqliteStore(db)
    arguments = DeskConfig.load(config(db, minutes=30)).desk_arguments(FrozenClock(NOW))
    arguments.update(store=Interleaved(store, desk_a), store_options={})
    SupportDesk(**arguments, config=DeskConfig.load(config(db, minutes=30))).close()
    store.close()
    with SupportDesk.from_config(config(db, minutes=30), clock=FrozenClock(NOW)) as desk:
        assert [1] == [v["version"] for v in desk.settings_versions()]


def test_two_desks_applying_at_once_on_one_sqlite_file_one_wins(tmp_path: Path) -> None:
    """Two desks on one SQLite file (two connections) apply different settings at the same
    moment: exactly one version is recorded, the other desk is told and wrote nothing."""
    db = tmp_path / "desk.sqlite3"
    race(lambda: SqliteStore(db), lambda minutes: config(db, minutes=minutes))


def test_two_desks_applying_at_once_on_postgres_one_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same race on one PostgreSQL schema (two connection pools): one version wins.
    Needs supportkit-postgres and a server (SUPPORTKIT_POSTGRES_URL; skipped without, failed
    under CI=true)."""
    postgres = pytest.importorskip("supportkit_postgres", reason="pip install -e plugins/postgres")
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get("SUPPORTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        service_missing(
            f"PostgreSQL at {url} is not reachable ({exc}); set SUPPORTKIT_POSTGRES_URL"
        )
    monkeypatch.setenv("SK_TEST_PG_URL", url)
    schema = f"sk_test_{uuid.uuid4().hex[:12]}"

    def source(minutes: int) -> dict[str, Any]:
        document = config(Path("unused"), minutes=minutes)
        document["store"] = {
            "kind": "postgres",
            "env": {"url": "SK_TEST_PG_URL"},
            "options": {"schema": schema},
        }
        return document

    try:
        race(lambda: postgres.PostgresStore(url, schema=schema), source)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
