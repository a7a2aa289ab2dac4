"""The JSON Schema of ``supportkit.toml``, built from the code's own names, and a small validator.

The schema is the single description of the file's shape: :func:`config_schema` builds it from
the constants the objects themselves check against (priorities, SLA metrics, routing strategies,
queue order components, statuses), ``supportkit schema`` prints it and the package ships it as
``supportkit.schema.json`` for editors. :func:`validate` checks a document against it (or a
plugin's fragment) and returns *every* problem with its key path, so a file with five mistakes
is reported once, with five lines.

The validator understands the keywords the schema uses (``type``, ``properties``, ``required``,
``additionalProperties``, ``propertyNames``, ``items``, ``enum``, ``const``, ``pattern``,
``minLength``, ``minItems``, ``minProperties``, ``uniqueItems``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``oneOf``, ``anyOf``), which is all a plugin's
fragment may use too; the test suite checks it agrees with the ``jsonschema`` package.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._model import Priority, Status
from ._routing import ORDER_COMPONENTS, STRATEGY_NAMES
from ._sla._policy import CONDITION_KEYS, SLA_METRICS

__all__ = ["SCHEMA_ID", "Problem", "config_schema", "format_path", "validate"]

SCHEMA_ID = "https://supportkit.readthedocs.io/en/latest/supportkit.schema.json"

Problem = tuple[tuple[str | int, ...], str]
"""A key path (names and list indexes) and what is wrong there."""

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_TEXTS: dict[str, Any] = {"type": "array", "items": _TEXT}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_PERIODS = ("hour", "day", "week", "month")


def _object(
    properties: Mapping[str, Any],
    *,
    required: Sequence[str] = (),
    description: str | None = None,
    extra: Any = False,
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": extra,
    }
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def _duration(description: str) -> dict[str, Any]:
    units = dict.fromkeys(("days", "hours", "minutes", "seconds"), _COUNT)
    return {**_object(units, description=description), "minProperties": 1}


def _intervals() -> dict[str, Any]:
    interval = {"type": "string", "pattern": _INTERVAL}
    return {"anyOf": [interval, {"type": "array", "items": interval}]}


def _calendar() -> dict[str, Any]:
    return _object(
        {
            "tz": {**_TEXT, "description": "IANA zone name, e.g. 'Europe/Berlin' (default UTC)"},
            "weekly": _object(
                {day: _intervals() for day in _DAYS},
                description="weekday -> local 'HH:MM-HH:MM' intervals (a missing day is closed)",
            ),
            "holidays": {
                "type": "array",
                "items": {"type": "string", "pattern": _DATE},
                "description": "closed dates (YYYY-MM-DD)",
            },
            "country": {
                **_TEXT,
                "description": "add the public holidays of this country (the 'holidays' "
                "package, ISO 3166 code such as 'DE'; the 'holidays' extra)",
            },
            "subdivision": {**_TEXT, "description": "the country's subdivision, e.g. 'BY'"},
            "overrides": {
                "type": "object",
                "propertyNames": {"pattern": _DATE},
                "additionalProperties": _intervals(),
                "description": "date -> intervals replacing that date's hours ([] closes it)",
            },
        }
    )


def _policy() -> dict[str, Any]:
    target = _object(
        {
            **dict.fromkeys(("days", "hours", "minutes", "seconds"), _COUNT),
            "business": {"type": "boolean"},
        },
        required=["business"],
    )
    metrics = _object(dict.fromkeys(SLA_METRICS, target))
    condition = {"anyOf": [_TEXT, {**_TEXTS, "minItems": 1}]}
    priority = {"enum": [p.value for p in Priority]}
    conditions = _object(
        {
            key: (
                {"anyOf": [priority, {"type": "array", "items": priority, "minItems": 1}]}
                if key == "priority"
                else condition
            )
            for key in CONDITION_KEYS
        }
    )
    return _object(
        {
            "name": _TEXT,
            "version": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "conditions": conditions,
            "targets": {
                **_object({p.value: metrics for p in Priority}),
                "minProperties": 1,
            },
            "warnings": {
                "type": "array",
                "items": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "uniqueItems": True,
            },
            "on_priority_change": {"enum": ["keep", "restart"]},
            "calendar": _TEXT,
        },
        required=["name", "targets"],
        description="an SLA policy, in SlaPolicy.from_dict's form",
    )


def _trigger(on: str, properties: Mapping[str, Any], required: Sequence[str]) -> dict[str, Any]:
    return _object({"on": {"const": on}, **properties, "to": _TEXT}, required=["on", *required])


def _escalation() -> dict[str, Any]:
    level = _object(
        {"name": _TEXT, "group": _TEXT, "next": _TEXT, "engineering": {"type": "boolean"}},
        required=["name"],
    )
    triggers = {
        "type": "array",
        "items": {
            "oneOf": [
                _trigger(
                    "sla_alert",
                    {
                        "kind": {"enum": ["warning", "breach"]},
                        "metrics": {"type": "array", "items": {"enum": list(SLA_METRICS)}},
                        "min_level": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    (),
                ),
                _trigger("reopens", {"count": {"type": "integer", "minimum": 1}}, ("count", "to")),
                _trigger("tier", {"tiers": {**_TEXTS, "minItems": 1}}, ("tiers", "to")),
            ]
        },
    }
    return _object(
        {
            "enabled": {"type": "boolean", "description": "false: never escalate automatically"},
            "levels": {"type": "array", "items": level, "minItems": 1},
            "triggers": triggers,
        },
        description="the escalation ladder (default: L1 → L2 → L3 → engineering on a breach)",
    )


def _router() -> dict[str, Any]:
    relax = _object(
        {
            "after": _duration("how long a ticket waits before asking for less"),
            "lower_by": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "all"}]},
        },
        required=["after"],
    )
    return _object(
        {
            "strategy": {"enum": list(STRATEGY_NAMES)},
            "key": {
                "type": "array",
                "items": {"enum": list(ORDER_COMPONENTS)},
                "minItems": 1,
                "uniqueItems": True,
            },
            "relax": {"type": "array", "items": relax},
            "skills": {**_TEXTS, "uniqueItems": True},
            "counts": {"type": "array", "items": {"enum": [s.value for s in Status]}},
            "default_capacity": _COUNT,
        },
        description="routing of new tickets to the agents",
    )


def config_schema(plugin_sections: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``supportkit.toml``.

    *plugin_sections* maps a ``[plugins.<section>]`` name to the schema fragment its plugin
    registered (``supportkit_config_section``); without them any plugin table is accepted by
    the schema (the loader still refuses a section no installed plugin registered).
    """
    names = {"type": "array", "items": _TEXT, "uniqueItems": True}
    plugins = _object(
        {
            "enable": {**names, "description": "plugin modules to import and register"},
            "block": {**names, "description": "plugin names never to register"},
            **(plugin_sections or {}),
        },
        extra=False if plugin_sections is not None else {"type": "object"},
        description="plugins to enable or block, and each plugin's settings table",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "supportkit.toml",
        "description": "The declarative configuration of a supportkit desk.",
        **_object(
            {
                "title": {**_TEXT, "description": "the desk's name, shown in reports"},
                "store": _object(
                    {
                        "kind": {**_TEXT, "description": "'sqlite' (default) or a plugin store"},
                        "path": {**_TEXT, "description": "the SQLite file"},
                        "durability": {"enum": ["normal", "full"]},
                        "options": {"type": "object", "description": "a plugin store's options"},
                        "env": {
                            "type": "object",
                            "additionalProperties": {"type": "string", "pattern": _ENV_NAME},
                            "description": "option -> environment variable holding its value "
                            "(secrets such as a database URL never go in the file)",
                        },
                    }
                ),
                "desk": _object(
                    {
                        "max_attempts": {"type": "integer", "minimum": 1},
                        "backoff": _duration("first retry delay of the outbox"),
                        "max_backoff": _duration("longest retry delay of the outbox"),
                        "lease": _duration("how long a claimed outbox message stays hidden"),
                        "cache_size": {"type": "integer", "minimum": 1},
                    }
                ),
                "calendars": {
                    "type": "object",
                    "additionalProperties": _calendar(),
                    "description": "business calendars by name: a policy's name (its calendar),"
                    " 'default' (the other policies'), a name a policy's calendar key gives, or"
                    " any name agents' shifts use",
                },
                "policies": {"type": "array", "items": _policy()},
                "tiers": {
                    "type": "array",
                    "items": _object(
                        {
                            "name": _TEXT,
                            "weight": {"type": "integer"},
                            "dedicated_group": _TEXT,
                            "dedicated_agent": _TEXT,
                            "sla_policy": _TEXT,
                            "watchlist": {
                                **_TEXTS,
                                "description": "customer or organisation ids in this tier",
                            },
                        },
                        required=["name", "weight"],
                    ),
                },
                "groups": {
                    "type": "array",
                    "items": _object({"id": _TEXT, "name": _TEXT, "level": _TEXT}, required=["id"]),
                },
                "agents": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": _TEXT,
                            "name": _TEXT,
                            "skills": {"type": "object", "additionalProperties": _COUNT},
                            "languages": _TEXTS,
                            "groups": _TEXTS,
                            "capacity": {"type": "object", "additionalProperties": _COUNT},
                            "shift": {**_TEXT, "description": "the calendar of working hours"},
                        },
                        required=["id"],
                    ),
                },
                "router": _router(),
                "escalation": _escalation(),
                "goals": {
                    "type": "array",
                    "items": _object(
                        {
                            "metric": _TEXT,
                            "target": {"type": "number"},
                            "direction": {"enum": ["at_most", "at_least", "<=", ">="]},
                            "grouping": {"anyOf": [_TEXT, _TEXTS]},
                            "group": {"anyOf": [_TEXT, _TEXTS]},
                            "period": {"enum": list(_PERIODS)},
                            "name": _TEXT,
                        },
                        required=["metric", "target"],
                    ),
                },
                "knowledge": _object(
                    {
                        "answer_channels": {
                            **_TEXTS,
                            "uniqueItems": True,
                            "description": "channels whose new tickets get a first automatic "
                            "response listing the suggested articles with tracked links",
                        },
                        "link_url": {
                            **_TEXT,
                            "pattern": r"\{token\}",
                            "description": "the tracked link's URL, {token} where the token "
                            "goes (required with answer_channels)",
                        },
                        "deflection_window": _duration(
                            "how long after a self-service session a ticket from the same "
                            "customer still counts against it (default 1 day)"
                        ),
                        "intro": {"type": "string", "description": "text before the list"},
                        "outro": {"type": "string", "description": "text after the list"},
                    },
                    description="suggested articles in the first automatic response, and "
                    "deflection",
                ),
                "retention": _object(
                    {
                        "message_bodies": _duration(
                            "purge message bodies of tickets closed longer ago than this"
                        )
                    }
                ),
                "plugins": plugins,
            }
        ),
    }


# --- the validator -------------------------------------------------------------------------------

_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind not in ("boolean",):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[kind])


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python's ``True == 1`` is)."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choose_branch(schema: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
    """The ``oneOf`` branch whose ``const`` discriminator the value names, if any."""
    if not isinstance(value, dict):
        return None
    for branch in schema["oneOf"]:
        for key, sub in branch.get("properties", {}).items():
            if "const" in sub and value.get(key) == sub["const"]:
                return branch  # type: ignore[no-any-return]
    return None


def _walk(value: Any, schema: Mapping[str, Any], path: tuple[str | int, ...]) -> Iterator[Problem]:
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, kind) for kind in kinds):
            yield path, f"expected {' or '.join(kinds)}, got {_show(value)}"
            return
    if "const" in schema and not _equal(value, schema["const"]):
        yield path, f"expected {schema['const']!r}, got {_show(value)}"
        return
    if "enum" in schema and not any(_equal(value, v) for v in schema["enum"]):
        yield path, f"expected one of {', '.join(map(repr, schema['enum']))}, got {_show(value)}"
        return
    for keyword in ("anyOf", "oneOf"):
        if keyword not in schema:
            continue
        matches = [b for b in schema[keyword] if not any(_walk(value, b, path))]
        if (keyword == "anyOf" and matches) or (keyword == "oneOf" and len(matches) == 1):
            continue
        chosen = _choose_branch(schema, value) if keyword == "oneOf" else None
        if chosen is not None:
            yield from _walk(value, chosen, path)
        elif keyword == "oneOf" and matches:
            yield path, f"matches {len(matches)} alternatives, expected exactly one"
        else:
            yield path, f"{_show(value)} matches none of the allowed forms"
        return
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            yield path, "expected a non-empty string"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield path, f"{value!r} does not have the expected form ({schema['pattern']})"
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield from _bounds(value, schema, path)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield path, f"expected at least {schema['minItems']} item(s)"
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            yield path, "items must be unique"
        if "items" in schema:
            for index, item in enumerate(value):
                yield from _walk(item, schema["items"], (*path, index))
    if isinstance(value, dict):
        yield from _walk_object(value, schema, path)


def _bounds(
    value: float, schema: Mapping[str, Any], path: tuple[str | int, ...]
) -> Iterator[Problem]:
    if "minimum" in schema and value < schema["minimum"]:
        yield path, f"expected at least {schema['minimum']}, got {value!r}"
    if "maximum" in schema and value > schema["maximum"]:
        yield path, f"expected at most {schema['maximum']}, got {value!r}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        yield path, f"expected more than {schema['exclusiveMinimum']}, got {value!r}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        yield path, f"expected less than {schema['exclusiveMaximum']}, got {value!r}"


def _walk_object(
    value: dict[str, Any], schema: Mapping[str, Any], path: tuple[str | int, ...]
) -> Iterator[Problem]:
    if len(value) < schema.get("minProperties", 0):
        yield path, "expected at least one key"
    for key in schema.get("required", ()):
        if key not in value:
            yield (*path, key), "is required"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, item in value.items():
        if names is not None and any(_walk(key, names, (*path, key))):
            yield (*path, key), f"key {key!r} does not have the expected form"
            continue
        if key in properties:
            yield from _walk(item, properties[key], (*path, key))
        elif extra is False:
            known = ", ".join(properties) or "none"
            yield (*path, key), f"unknown key (allowed here: {known})"
        elif isinstance(extra, Mapping):
            yield from _walk(item, extra, (*path, key))


def validate(document: Any, schema: Mapping[str, Any]) -> list[Problem]:
    """Every place *document* breaks *schema*, in document order (empty: it conforms)."""
    return list(_walk(document, schema, ()))


def format_path(path: Sequence[str | int]) -> str:
    """``("policies", 2, "targets", "urgent")`` → ``policies[2].targets.urgent``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or "(the file)"
