"""Versioned desk settings kept in the store, so a desk never silently replaces another's.

Each version is a JSON document ``{"version": n, "recorded_at": ISO instant, "note": text,
"settings": SupportDesk.settings(), "config": the configuration file's table without its
[store] section, or null}``; the list lives under the store's ``meta`` key
:data:`VERSIONS_KEY` (any :class:`~supportkit.typing.DeskStore` has ``meta``) and is only ever
replaced by a compare-and-set (``set_meta_if``), so of two desks recording at once exactly one
wins. The newest ``settings`` are mirrored under ``SupportDesk.SETTINGS_KEY`` for readers that
predate versions (supportkit reads the version list).
"""

from __future__ import annotations

import difflib
import json
import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._calendar import BusinessCalendar
from ._model import json_value
from ._sla import SlaPolicy
from .exceptions import ConfigurationError, PolicyError, SettingsChangedError, SupportkitError

__all__ = [
    "SETTINGS_KEY",
    "VERSIONS_KEY",
    "check_meta",
    "latest",
    "record",
    "settings_diff",
    "versions",
]

VERSIONS_KEY = "desk.settings_versions"
"""The store ``meta`` key holding the list of recorded settings versions, oldest first."""

SETTINGS_KEY = "desk"
"""The store ``meta`` key mirroring the newest settings (``SupportDesk.SETTINGS_KEY``)."""


def _shape(value: Any, kind: type | tuple[type, ...], what: str, expected: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigurationError(f"{what} must be {expected}, got {value!r}")


def check_settings(value: Any, what: str = SETTINGS_KEY) -> None:
    """Raise :class:`ConfigurationError` unless *value* has the shape of
    ``SupportDesk.settings()``: an object whose ``policies`` is a list of objects,
    ``calendars`` an object of objects and ``ladder`` null or a list of objects."""
    _shape(value, dict, what, "an object (policies, calendars, ladder)")
    policies = value.get("policies", [])
    _shape(policies, list, f"{what}.policies", "a list of SLA policy objects")
    for number, policy in enumerate(policies):
        _shape(policy, dict, f"{what}.policies[{number}]", "an SLA policy object")
    calendars = value.get("calendars", {})
    _shape(calendars, dict, f"{what}.calendars", "an object of calendars by name")
    for name, calendar in calendars.items():
        _shape(calendar, dict, f"{what}.calendars.{name}", "a calendar object")
    ladder = value.get("ladder")
    if ladder is not None:
        _shape(ladder, list, f"{what}.ladder", "null or a list of escalation levels")
        for number, level in enumerate(ladder):
            _shape(level, dict, f"{what}.ladder[{number}]", "an escalation level object")


def check_versions(value: Any, what: str = VERSIONS_KEY) -> None:
    """Raise :class:`ConfigurationError` unless *value* is a list of settings versions:
    objects with a whole ``version`` >= 1, ``settings`` (:func:`check_settings`), ``config``
    null or an object, ``recorded_at`` and ``note`` null or text."""
    _shape(value, list, what, "a list of settings versions")
    for number, version in enumerate(value):
        where = f"{what}[{number}]"
        _shape(version, dict, where, "a settings version object")
        _shape(version.get("version"), int, f"{where}.version", "a whole number >= 1")
        if version["version"] < 1:
            raise ConfigurationError(
                f"{where}.version must be a whole number >= 1, got {version['version']!r}"
            )
        check_settings(version.get("settings"), f"{where}.settings")
        if version.get("config") is not None:
            _shape(version["config"], dict, f"{where}.config", "null or an object")
        for name in ("recorded_at", "note"):
            if version.get(name) is not None:
                _shape(version[name], str, f"{where}.{name}", "null or text")


def check_meta(key: str, value: Any) -> None:
    """Check a desk settings record (``meta`` *key* :data:`VERSIONS_KEY` or
    :data:`SETTINGS_KEY`) before it is written; other keys are not the desk's."""
    if key == VERSIONS_KEY:
        check_versions(value)
    elif key == SETTINGS_KEY:
        check_settings(value)


def versions(store: Any, legacy_key: str, raw: Any = None) -> list[dict[str, Any]]:
    """The recorded versions, oldest first (a store from before versions has its one record
    as version 1; a store without ``meta`` has none). *raw* is the version list already read
    (``store.meta(VERSIONS_KEY)``), if it was. A malformed record (edited or imported by
    hand) is a :class:`ConfigurationError` naming it, never a crash further on."""
    meta = getattr(store, "meta", None)
    if meta is None:
        return []
    found = raw if raw is not None else meta(VERSIONS_KEY)
    if found is not None:
        check_versions(found, f"the store's {VERSIONS_KEY}")
    if found:
        return list(found)
    legacy = meta(legacy_key)
    if legacy is None:
        return []
    check_settings(legacy, f"the store's {legacy_key}")
    return [
        {
            "version": 1,
            "recorded_at": None,
            "note": "recorded before settings were versioned",
            "settings": legacy,
            "config": None,
        }
    ]


def latest(store: Any, legacy_key: str) -> dict[str, Any] | None:
    """The newest recorded version, or ``None``."""
    found = versions(store, legacy_key)
    return found[-1] if found else None


def canonical(document: Any) -> Any:
    return json.loads(json.dumps(document, sort_keys=True))


def same(recorded: Mapping[str, Any], settings: Any, config: Any) -> bool:
    """Whether the given settings (and config, when the desk was built from one) are the
    recorded ones."""
    if canonical(recorded.get("settings")) != canonical(settings):
        return False
    return config is None or canonical(recorded.get("config")) == canonical(config)


def settings_diff(recorded: Mapping[str, Any], settings: Any, config: Any) -> str:
    """A unified diff, recorded → given, of the settings (and the configuration)."""

    def lines(document: Any) -> list[str]:
        return json.dumps(document, indent=2, sort_keys=True).splitlines()

    old = {"settings": recorded.get("settings"), "config": recorded.get("config")}
    new = {"settings": settings, "config": config}
    if config is None:
        old.pop("config")
        new.pop("config")
    version = recorded.get("version")
    return "\n".join(
        difflib.unified_diff(
            lines(canonical(old)),
            lines(canonical(new)),
            f"recorded (version {version})",
            "given",
            lineterm="",
        )
    )


def record(
    store: Any,
    legacy_key: str,
    settings: Any,
    config: Any,
    *,
    at: datetime,
    note: str,
    expected: Any,
) -> int:
    """Append a version and mirror its settings under *legacy_key*; return its number.

    The append is a compare-and-set of the version list against *expected* (the list as the
    caller read it, ``store.meta(VERSIONS_KEY)``): if another desk recorded a version since,
    nothing is written and :class:`SettingsChangedError` says which (with the difference to
    it), unless that version holds these very settings (then its number is returned). The
    mirror follows only a successful append.
    """
    found = versions(store, legacy_key, expected)
    number = (found[-1]["version"] if found else 0) + 1
    entry = {
        "version": number,
        "recorded_at": at.isoformat(timespec="seconds"),
        "note": note,
        "settings": canonical(settings),
        "config": None if config is None else canonical(config),
    }
    try:
        json_value(entry)
    except ValueError as exc:  # a lone surrogate in a name or the note, say
        raise ConfigurationError(
            f"no store can record these desk settings: the settings, configuration or note "
            f"{exc}; nothing was written"
        ) from None
    if not store.set_meta_if(VERSIONS_KEY, [*found, entry], expected=expected):
        winner = latest(store, legacy_key) or {}
        if winner and same(winner, settings, config):
            return int(winner["version"])  # desks with one configuration started together
        diff = settings_diff(winner, settings, config)
        raise SettingsChangedError(
            f"another desk recorded settings version {winner.get('version')} while this one "
            f"was recording its own; nothing was written. Compare with it and apply again if "
            f"this configuration should replace it:\n{diff}",
            diff=diff,
        )
    store.set_meta(legacy_key, entry["settings"])
    return number


def _policies(version: Mapping[str, Any]) -> list[dict[str, Any]]:
    settings = version.get("settings") or {}
    return list(settings.get("policies") or [])


def recorded_policies(store: Any, legacy_key: str) -> list[SlaPolicy]:
    """Every SLA policy version the store's settings versions name, oldest first, each
    ``(name, version)`` once (its newest recorded form)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for version in versions(store, legacy_key):
        for raw in _policies(version):
            key = (str(raw.get("name")), str(raw.get("version")))
            found.pop(key, None)
            found[key] = raw
    policies = []
    for raw in found.values():
        try:
            policies.append(SlaPolicy.from_dict(raw))
        except PolicyError:  # a hand-edited record; the desk's own policies still work
            continue
    return policies


def recorded_calendars(store: Any, legacy_key: str) -> dict[str, BusinessCalendar]:
    """The business calendars the store's settings versions name, each name in its newest
    recorded form (a record that does not read as a calendar is skipped)."""
    found: dict[str, BusinessCalendar] = {}
    for version in versions(store, legacy_key):
        calendars = (version.get("settings") or {}).get("calendars") or {}
        for name, raw in calendars.items() if isinstance(calendars, Mapping) else ():
            try:
                found[name] = BusinessCalendar.from_dict(raw)
            except SupportkitError:  # a hand-edited record; the desk's own calendars still work
                continue
    return found


def edited_in_place(recorded: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """Names of policies whose targets or conditions changed while their version stayed."""
    before = {(p["name"], str(p.get("version"))): p for p in _policies(recorded)}
    return [
        p["name"]
        for p in settings.get("policies", [])
        if canonical(before.get((p["name"], str(p.get("version"))), p)) != canonical(p)
    ]


def refuse(
    recorded: Mapping[str, Any],
    settings: Any,
    config: Any,
    where: str,
    edited: list[str],
    *,
    db: str | None = None,
) -> None:
    """Raise :class:`SettingsChangedError` showing how *settings* differ from *recorded*.

    *db* is the path of a SQLite store: the message then tells to run the command line with
    ``--db`` that path to use the recorded configuration. ``--db`` opens only SQLite files, so
    for any other store (``None``) it names the read commands, which read the store with the
    recorded configuration when given the file."""
    diff = settings_diff(recorded, settings, config)
    bump = (
        f" (and give SLA policy {edited[0]!r} a new version: its targets changed)" if edited else ""
    )
    origin = ""
    if recorded.get("config") is None and config is not None:
        origin = " (it was recorded by a desk built in Python, so any file differs from it)"
    if db is not None:
        keep = f"give the command line --db {shlex.quote(db)} instead of the file"
    else:
        keep = (
            "use the read commands with the file (`supportkit settings --config FILE` "
            "prints the recorded versions)"
        )
    raise SettingsChangedError(
        f"{where} records settings version {recorded.get('version')}, which differs from the "
        f"given configuration{origin}; to record it as a new version{bump}, pass apply=True "
        f"(on the command line: `supportkit run --apply`); to read the store with the "
        f"recorded one, {keep}:\n{diff}",
        diff=diff,
    )
