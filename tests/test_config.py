"""supportkit.toml: every key valid and invalid, all errors at once with key paths, the shipped
JSON Schema agreeing with the loader, plugin sections, and SupportDesk.from_config."""

from __future__ import annotations

import copy
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import supportkit
from supportkit import (
    ConfigFileError,
    DeskConfig,
    EscalationLevel,
    FrozenClock,
    InboundMessage,
    OnReopens,
    Relax,
    SupportDesk,
    hookimpl,
)
from supportkit._configschema import config_schema, validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "supportkit.toml"
SHIPPED = ROOT / "src" / "supportkit" / "supportkit.schema.json"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DELETE = object()


def base() -> dict[str, Any]:
    """The example file in JSON form (dates as strings) with an in-memory store."""
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    document = json.loads(json.dumps(raw, default=str))
    document["store"] = {"kind": "memory"}
    return document


def changed(path: str, value: Any) -> dict[str, Any]:
    """The base document with the value at dotted *path* replaced (or deleted)."""
    document = base()
    parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = document
    for part in parts[:-1]:
        target = target[part]
    if value is DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = copy.deepcopy(value)
    return document


def problems(document: Any) -> list[str]:
    """The key paths the loader names, or [] when the document loads."""
    try:
        DeskConfig.load(document)
    except ConfigFileError as exc:
        return [path for path, _ in exc.problems]
    return []


def schema_accepts(document: Any) -> bool:
    return jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text())).is_valid(document)


# Each key of the file with a valid value (the loader and the JSON Schema accept it).
VALID = [
    ("title", "Support"),
    ("store", {"kind": "memory"}),
    ("desk.max_attempts", 1),
    ("desk.backoff", {"minutes": 1, "seconds": 5}),
    ("desk.max_backoff", {"days": 1}),
    ("desk.lease", {"hours": 1}),
    ("desk.cache_size", 10),
    ("calendars.default.tz", "America/New_York"),
    ("calendars.default.weekly", {"sat": "10:00-14:00", "sun": ["22:00-06:00"]}),
    ("calendars.default.holidays", []),
    ("calendars.default.subdivision", "BW"),
    ("calendars.default.subdivision", DELETE),
    ("calendars.default.overrides", {"2026-01-02": []}),
    ("policies.0.version", "2026-a"),
    ("policies.0.conditions", {"priority": "urgent", "tags": ["vip"], "channel": ["email"]}),
    ("policies.0.warnings", [0.8]),
    ("policies.0.on_priority_change", "restart"),
    ("policies.1.targets.low", {"agent_work": {"days": 1, "business": True}}),
    ("tiers.0.watchlist", []),
    ("tiers.1.dedicated_agent", "ben"),
    ("groups.0.level", DELETE),
    ("agents.0.skills", {}),
    ("agents.1.capacity", {"chat": 0}),
    ("router.strategy", "round_robin"),
    ("router.key", ["priority", "arrival"]),
    ("router.relax", []),
    ("router.counts", ["new", "open", "pending"]),
    ("router.default_capacity", 0),
    ("escalation.enabled", False),
    ("escalation", {"levels": [{"name": "only"}], "triggers": []}),
    ("escalation.triggers", []),
    ("goals.0.period", "month"),
    ("goals.1.direction", ">="),
    ("retention", {}),
    ("plugins", {"block": ["supportkit.builtins"]}),
]

# Each key with an invalid value, and the key path the error names. The JSON Schema rejects
# all of these too, except the checks that need the code (marked semantic).
INVALID = [
    ("title", 5, "title", True),
    ("store.kind", "", "store.kind", True),
    ("store.durability", "eventually", "store.durability", True),
    ("store.env", {"url": "NOT-A-NAME"}, "store.env.url", True),
    ("store.colour", "red", "store.colour", True),
    ("desk.max_attempts", 0, "desk.max_attempts", True),
    ("desk.backoff", {"weeks": 1}, "desk.backoff.weeks", True),
    ("desk.backoff", {"seconds": 0}, "desk.backoff", False),
    ("desk.lease", {}, "desk.lease", True),
    ("desk.cache_size", "big", "desk.cache_size", True),
    ("calendars.default.tz", "Mars/Olympus", "calendars.default", False),
    ("calendars.default.weekly.mon", ["9-17"], "calendars.default.weekly.mon", True),
    ("calendars.default.weekly.someday", ["09:00-17:00"], "calendars.default.weekly.someday", True),
    ("calendars.default.holidays", ["Christmas"], "calendars.default.holidays[0]", True),
    ("calendars.default.country", "XX", "calendars.default", False),
    ("calendars.default.overrides", {"soon": []}, "calendars.default.overrides.soon", True),
    ("calendars.default.opening", "now", "calendars.default.opening", True),
    ("calendars.unused", {"weekly": {"mon": "09:00-17:00"}}, "calendars.unused", False),
    (
        "policies.1.targets.urgent.first_reply",
        {"hours": 1},
        "policies[1].targets.urgent.first_reply.business",
        True,
    ),
    ("policies.1.targets.asap", {}, "policies[1].targets.asap", True),
    ("policies.1.targets.urgent.first_answer", {}, "policies[1].targets.urgent.first_answer", True),
    ("policies.1.name", DELETE, "policies[1].name", True),
    ("policies.1.name", "enterprise", "policies[1].name", False),
    ("policies.0.conditions.planet", "mars", "policies[0].conditions.planet", True),
    ("policies.0.warnings", [1.5], "policies[0].warnings[0]", True),
    ("policies.0.warnings", [0.9, 0.5], "policies[0]", False),
    ("policies.0.on_priority_change", "forget", "policies[0].on_priority_change", True),
    ("policies.0.colour", "red", "policies[0].colour", True),
    ("tiers.0.weight", DELETE, "tiers[0].weight", True),
    ("tiers.0.weight", "high", "tiers[0].weight", True),
    ("tiers.0.sla_policy", "platinum", "tiers[0].sla_policy", False),
    ("tiers.0.dedicated_group", "nobody", "tiers[0].dedicated_group", False),
    ("tiers.1.dedicated_agent", "zoe", "tiers[1].dedicated_agent", False),
    ("tiers.1.name", "enterprise", "tiers[1].name", False),
    ("groups.0.id", "", "groups[0].id", True),
    ("groups.0.lead", "ana", "groups[0].lead", True),
    ("agents.0.skills", {"billing": -1}, "agents[0].skills.billing", True),
    ("agents.0.skills", {"cooking": 1}, "router", False),
    ("agents.0.groups", ["nowhere"], "agents[0].groups", False),
    ("agents.1.shift", "night", "agents[1].shift", False),
    ("agents.1.id", "ana", "agents[1].id", False),
    ("router.strategy", "random", "router.strategy", True),
    ("router.key", ["mood"], "router.key[0]", True),
    ("router.relax", [{"lower_by": 1}], "router.relax[0].after", True),
    ("router.relax", [{"after": {"hours": 1}, "lower_by": 0}], "router.relax[0].lower_by", True),
    ("router.counts", ["busy"], "router.counts[0]", True),
    ("router.default_capacity", -1, "router.default_capacity", True),
    ("escalation.levels", [], "escalation.levels", True),
    ("escalation.levels", [{"name": "A", "next": "B"}], "escalation", False),
    ("escalation.levels.0.group", "nobody", "escalation.levels[0].group", False),
    ("escalation.triggers", [{"on": "moon"}], "escalation.triggers[0]", True),
    ("escalation.triggers", [{"on": "reopens", "to": "L2"}], "escalation.triggers[0].count", True),
    (
        "escalation.triggers",
        [{"on": "tier", "tiers": [], "to": "L2"}],
        "escalation.triggers[0].tiers",
        True,
    ),
    ("escalation.triggers", [{"on": "reopens", "count": 1, "to": "L9"}], "escalation", False),
    ("goals.0.metric", "happiness", "goals[0]", False),
    ("goals.0.period", "decade", "goals[0].period", True),
    ("goals.0.target", "fast", "goals[0].target", True),
    ("retention.message_bodies", {"years": 1}, "retention.message_bodies.years", True),
    ("plugins.enable", ["no_such_module_here"], "plugins.enable[0]", False),
    ("plugins.unknown", {"x": 1}, "plugins.unknown", False),
    ("colour", "red", "colour", True),
]


def test_example_file_loads_and_builds_every_object() -> None:
    """The shipped example is complete: every section builds, and the desk starts from it."""
    config = DeskConfig.load(EXAMPLE)
    assert "ACME support" == config.title
    assert ("enterprise", "standard") == tuple(p.name for p in config.policies)
    assert {"default", "enterprise", "late-shift"} == set(config.calendars)
    assert {"default", "enterprise"} == set(config.desk_calendars())
    assert {"ben": "late-shift"} == config.shifts
    assert ["L1", "L2", "engineering"] == [level.name for level in config.ladder.levels]
    assert OnReopens(2, "L2") in config.ladder.triggers
    assert EscalationLevel("engineering", group="eng", engineering=True) in config.ladder.levels
    assert timedelta(days=365) == config.retention
    assert [Relax(timedelta(minutes=30), 1), Relax(timedelta(hours=2), None)] == list(
        config.router_options["relax"]
    )
    assert str(EXAMPLE.parent / "acme-support.sqlite3") == config.store_options["path"]
    berlin = config.calendars["default"]
    assert not berlin.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))  # Christmas (DE)
    assert not berlin.is_open(datetime(2026, 1, 6, 10, 0, tzinfo=UTC))  # Epiphany (Bavaria)
    assert not berlin.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))  # a dated holiday
    assert berlin.is_open(datetime(2026, 12, 23, 9, 30, tzinfo=UTC))  # an override, 10:30 local
    assert not berlin.is_open(datetime(2026, 12, 23, 12, 30, tzinfo=UTC))


def test_example_file_sets_every_section_of_the_schema() -> None:
    """The example is complete: every top-level table the schema knows is in it."""
    sections = set(json.loads(SHIPPED.read_text(encoding="utf-8"))["properties"])
    assert [] == sorted(sections - set(base()))


@pytest.mark.parametrize(("path", "value"), VALID, ids=[p for p, _ in VALID])
def test_each_key_accepts_a_valid_value(path: str, value: Any) -> None:
    """The loader and the shipped JSON Schema both accept every key's valid form."""
    document = changed(path, value)
    assert [] == problems(document)
    assert schema_accepts(document)


@pytest.mark.parametrize(
    ("path", "value", "where", "shape"), INVALID, ids=[f"{p}-{w}" for p, _, w, _ in INVALID]
)
def test_each_key_refuses_an_invalid_value(path: str, value: Any, where: str, shape: bool) -> None:
    """An invalid value is a ConfigFileError naming its key path; the JSON Schema refuses every
    shape error too (the semantic ones need the code: zones, references, duplicates)."""
    document = changed(path, value)
    assert where in problems(document)
    if shape:
        assert not schema_accepts(document)


def test_all_errors_are_reported_at_once_with_the_file_name(tmp_path: Path) -> None:
    """Three mistakes in three sections: one error listing all three, naming the file."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("max_attempts = 6", "max_attempts = 0")
    text = text.replace('strategy = "least_loaded"', 'strategy = "coin"')
    text = text.replace("{ hours = 8, business = true }", "{ hours = 8 }")
    path = tmp_path / "supportkit.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(path)
    error = info.value
    assert str(path) == error.file
    assert [
        "desk.max_attempts",
        "policies[1].targets.normal.first_reply.business",
        "router.strategy",
    ] == sorted(p for p, _ in error.problems)
    assert str(error).startswith(f"{path}: 3 errors:")
    assert "policies[1].targets.normal.first_reply.business: is required" in str(error)


def test_unreadable_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    """A missing file and broken TOML are ConfigFileErrors naming the file, not tracebacks."""
    with pytest.raises(ConfigFileError, match="cannot read"):
        DeskConfig.load(tmp_path / "missing.toml")
    bad = tmp_path / "supportkit.toml"
    bad.write_text("title = \n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        DeskConfig.load(bad)


def test_toml_datetimes_are_refused_where_dates_are_expected(tmp_path: Path) -> None:
    """A holiday written as a date-time names its key path."""
    path = tmp_path / "supportkit.toml"
    path.write_text(
        '[calendars.default]\nweekly = { mon = "09:00-17:00" }\nholidays = [2026-12-24T10:00:00]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(path)
    assert ["calendars.default.holidays[0]"] == [p for p, _ in info.value.problems]


def test_pyproject_tool_table_is_read_with_prefixed_paths(tmp_path: Path) -> None:
    """``[tool.supportkit]`` in a pyproject.toml works; its errors carry the table's path."""
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "host"\n[tool.supportkit]\ntitle = "Host desk"\n'
        "[tool.supportkit.desk]\nmax_attempts = 3\n",
        encoding="utf-8",
    )
    config = DeskConfig.load(path)
    assert ("Host desk", 3) == (config.title, config.desk_options["max_attempts"])
    path.write_text('[tool.supportkit]\ntitle = ""\n', encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(path)
    assert ["tool.supportkit.title"] == [p for p, _ in info.value.problems]
    path.write_text('[project]\nname = "host"\n', encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"no \[tool.supportkit\] table"):
        DeskConfig.load(path)


def test_store_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``env`` maps an option to an environment variable; an unset or empty one is an
    error naming it."""
    document = {"store": {"kind": "memory", "env": {"token": "SK_TEST_TOKEN"}}}
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(document)
    assert [("store.env.token", "environment variable SK_TEST_TOKEN is not set")] == list(
        info.value.problems
    )
    monkeypatch.setenv("SK_TEST_TOKEN", "")  # an empty line in a .env file, say
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(document)
    assert [("store.env.token", "environment variable SK_TEST_TOKEN is set but empty")] == list(
        info.value.problems
    )
    monkeypatch.setenv("SK_TEST_TOKEN", "s3cret")
    assert {"token": "s3cret"} == dict(DeskConfig.load(document).store_options)


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"url": "postgresql://app:hunter2@db.example/support"}, "store.options.url"),
        ({"password": "hunter2"}, "store.options.password"),
        ({"api_token": "abc"}, "store.options.api_token"),
    ],
)
def test_literal_secrets_in_store_options_are_refused(options: dict[str, str], where: str) -> None:
    """A password in a URL, or an option named like a secret, must come from ``env``."""
    assert [where] == problems({"store": {"kind": "memory", "options": options}})
    assert [] == problems({"store": {"kind": "memory", "options": {"url": "postgresql://db/x"}}})


def test_sqlite_only_keys_are_refused_for_other_stores() -> None:
    """``path`` and ``durability`` belong to the SQLite store."""
    assert ["store.path"] == problems({"store": {"kind": "memory", "path": "x.db"}})


class SlackLike:
    """A plugin declaring its settings table."""

    @hookimpl
    def supportkit_config_section(self, register: Any) -> None:
        register(
            "slacklike",
            {
                "type": "object",
                "properties": {"channel": {"type": "string", "pattern": "^#"}},
                "required": ["channel"],
                "additionalProperties": False,
            },
        )


def test_plugin_sections_are_validated_with_the_plugins_schema() -> None:
    """A plugin's table is checked with its fragment; the desk hands it the settings."""
    good = {"store": {"kind": "memory"}, "plugins": {"slacklike": {"channel": "#support"}}}
    desk = SupportDesk.from_config(good, plugins=[SlackLike()])
    assert {"channel": "#support"} == dict(desk.config.plugin("slacklike"))
    assert {} == dict(desk.config.plugin("absent"))
    bad = {"plugins": {"slacklike": {"channel": "support", "colour": "red"}}}
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load(bad, plugins=[SlackLike()])
    assert ["plugins.slacklike.channel", "plugins.slacklike.colour"] == [
        p for p, _ in info.value.problems
    ]
    with pytest.raises(ConfigFileError) as info:
        DeskConfig.load({"plugins": {"slacklike": {}}})  # the plugin is not installed
    assert "no installed plugin has a [plugins.slacklike] section" in str(info.value)


def test_plugins_enable_imports_and_registers_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``enable`` imports modules with hookimpls and registers them; ``block`` leaves out."""
    (tmp_path / "sk_enabled_plugin.py").write_text(
        "from supportkit import hookimpl\n"
        "@hookimpl\n"
        "def supportkit_config_section(register):\n"
        "    register('enabled', {'type': 'object'})\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    document = {"plugins": {"enable": ["sk_enabled_plugin"], "enabled": {"any": 1}}}
    config = DeskConfig.load(document)
    assert {"any": 1} == dict(config.plugin("enabled"))
    blocked = {"plugins": {**document["plugins"], "block": ["sk_enabled_plugin"]}}
    assert ["plugins.enabled"] == problems(blocked)


def test_from_config_builds_a_working_desk(tmp_path: Path) -> None:
    """A desk from the example ingests, applies the tier's policy and routes to an agent."""
    path = tmp_path / "supportkit.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    with SupportDesk.from_config(path, clock=FrozenClock(NOW)) as desk:
        assert (tmp_path / "acme-support.sqlite3").is_file()
        result = desk.ingest(
            InboundMessage(
                message_id="m1", channel="email", sender="acme-corp", at=NOW, body="help"
            )
        )
        ticket = desk.ticket(result.ticket_id)
        assert "enterprise" == ticket.sla_policy
        assert ["L1", "L2", "engineering"] == [level.name for level in desk.ladder.levels]
        assert desk.router is not None
        assert {"ana", "ben"} == {state.id for state in desk.router.agents}


def test_shipped_schema_is_generated_from_the_code() -> None:
    """``src/supportkit/supportkit.schema.json`` is what config_schema() builds (regenerate with
    ``supportkit schema > src/supportkit/supportkit.schema.json``) and a valid 2020-12 schema."""
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert config_schema() == shipped
    jsonschema.Draft202012Validator.check_schema(shipped)
    assert schema_accepts(base())


@pytest.mark.parametrize(
    "value",
    [1, 1.5, True, None, "x", [], {}, [1, "a"], {"a": 1}, {"type": "x"}],
)
def test_validator_agrees_with_jsonschema_on_fragments(value: Any) -> None:
    """The built-in validator and jsonschema agree on the keywords plugin fragments use."""
    schemas = [
        {"type": "integer", "minimum": 1},
        {"type": "number", "exclusiveMaximum": 1.5},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"anyOf": [{"type": "string"}, {"type": "boolean"}]},
        {"type": "object", "required": ["type"], "additionalProperties": {"const": "x"}},
        {"enum": [None, 1, "x"]},
    ]
    for schema in schemas:
        expected = jsonschema.Draft202012Validator(schema).is_valid(value)
        assert expected == (validate(value, schema) == []), (schema, value)


def test_public_names() -> None:
    """The configuration names are exported from supportkit."""
    assert supportkit.ConfigFileError is supportkit.exceptions.ConfigFileError
    assert supportkit.SettingsChangedError is supportkit.exceptions.SettingsChangedError
    assert "supportkit" == supportkit.DeskConfig.__module__
