"""Settings safety: a desk's configuration is versioned in its store and never silently replaced."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import (
    FrozenClock,
    InboundMessage,
    PolicyError,
    SettingsChangedError,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
)

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


def test_open_tickets_replay_under_the_policy_version_they_were_opened_with(
    tmp_path: Path,
) -> None:
    """A ticket opened under version 60 (one hour) keeps its deadline after version 30
    (half an hour) is applied; a new ticket gets the new target."""
    db = tmp_path / "desk.sqlite3"

    def message(n: int) -> InboundMessage:
        return InboundMessage(f"m{n}", "email", f"c{n}@example.com", NOW, body="help")

    with SupportDesk.from_config(config(db), clock=FrozenClock(NOW)) as desk:
        old = desk.ingest(message(1)).ticket_id
    with SupportDesk.from_config(
        config(db, minutes=30), apply=True, clock=FrozenClock(NOW)
    ) as desk:
        new = desk.ingest(message(2)).ticket_id
        deadlines = {t: desk.sla(t)["first_reply"][0].deadline for t in (old, new)}
    assert {old: NOW + timedelta(hours=1), new: NOW + timedelta(minutes=30)} == deadlines
    with SqliteStore(db) as store:  # and so does a desk the read commands build later
        desk = SupportDesk(
            store=store,
            plugins=None,
            policies=[SlaPolicy.from_dict(config(db, minutes=30)["policies"][0])],
            clock=FrozenClock(NOW),
        )
        assert NOW + timedelta(hours=1) == desk.sla(old)["first_reply"][0].deadline
