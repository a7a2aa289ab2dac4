"""``supportkit.toml``: one declarative file → the objects a desk is built from.

:meth:`DeskConfig.load` reads the file (or ``[tool.supportkit]`` of a ``pyproject.toml``, or a
mapping), checks it against :func:`~supportkit._configschema.config_schema` and the plugins'
``supportkit_config_section`` fragments, then builds every object with the classes' own
constructors, collecting every problem with its key path; any problem raises one
:class:`~supportkit.exceptions.ConfigFileError` listing them all. Every object built here is
also constructible in Python exactly as before: the file is a second way in, not a second model.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from ._calendar import BusinessCalendar
from ._clock import Clock
from ._configschema import Problem, config_schema, format_path, validate
from ._deskloop import KnowledgeSettings
from ._escalation import EscalationLadder, EscalationLevel, OnReopens, OnSlaAlert, OnTier, Trigger
from ._metrics import Goal
from ._model import Agent, Group, Tier
from ._plugins import PluginHost
from ._routing import Relax, Router
from ._sla import SlaPolicy
from ._sqlite import DEFAULT_DATABASE
from .exceptions import ConfigFileError, ConfigurationError, SupportkitError

__all__ = ["CONFIG_NAMES", "DeskConfig", "find_config"]

_T = TypeVar("_T")

#: The files ``supportkit`` commands look for in the working directory, in this order.
CONFIG_NAMES = ("supportkit.toml", "pyproject.toml")
_PLUGIN_KEYS = frozenset({"enable", "block"})
_UNITS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def find_config(directory: str | os.PathLike[str] = ".") -> Path | None:
    """The configuration in *directory*: ``supportkit.toml``, else a ``pyproject.toml`` with a
    ``[tool.supportkit]`` table, else ``None``."""
    folder = Path(directory)
    if (folder / CONFIG_NAMES[0]).is_file():
        return folder / CONFIG_NAMES[0]
    pyproject = folder / CONFIG_NAMES[1]
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if "supportkit" in data.get("tool", {}):
            return pyproject
    return None


def _read(path: Path) -> tuple[dict[str, Any], str]:
    """The configuration table of *path* and the key prefix of its paths."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigFileError(
            f"{path}: cannot read the configuration: {reason}", file=str(path), problems=()
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(
            f"{path}: not valid TOML: {exc}", file=str(path), problems=(("(the file)", str(exc)),)
        ) from None
    if path.name != "pyproject.toml":
        return data, ""
    table = data.get("tool", {}).get("supportkit")
    if not isinstance(table, dict):
        raise ConfigFileError(
            f"{path}: no [tool.supportkit] table: add one, or use a supportkit.toml",
            file=str(path),
            problems=(("tool.supportkit", "is required"),),
        )
    return table, "tool.supportkit"


def _jsonable(value: Any, path: tuple[str | int, ...], problems: list[Problem]) -> Any:
    """The document in JSON form: TOML dates become ISO strings, tables dicts, arrays lists."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(((*path, str(key)), "keys must be strings"))
                continue
            out[key] = _jsonable(item, (*path, key), problems)
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, (*path, i), problems) for i, item in enumerate(value)]
    if isinstance(value, dt.datetime | dt.time):
        problems.append((path, f"expected a date (YYYY-MM-DD) or a string, got {value!r}"))
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN never equals a recorded document
        problems.append((path, "NaN is not a number a setting can take"))
        return None
    return value


def duration(raw: Mapping[str, int]) -> dt.timedelta:
    """``{"hours": 1, "minutes": 30}`` → ``timedelta(hours=1, minutes=30)`` (must be > 0)."""
    total = sum(raw.get(unit, 0) * factor for unit, factor in _UNITS.items())
    if total <= 0:
        raise ConfigurationError("a duration must be positive, e.g. {minutes = 30}")
    return dt.timedelta(seconds=total)


class _Builder:
    """Builds objects one by one, keeping each failure as a problem at its key path."""

    def __init__(self, prefix: str) -> None:
        self.prefix: tuple[str | int, ...] = tuple(prefix.split(".")) if prefix else ()
        self.problems: list[Problem] = []

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(((*self.prefix, *path), message))

    def build(self, path: tuple[str | int, ...], make: Callable[[], _T]) -> _T | None:
        try:
            return make()
        except SupportkitError as exc:
            self.fail(path, str(exc))
        except (TypeError, ValueError) as exc:  # a constructor's own check on a value
            self.fail(path, str(exc))
        return None

    def each(
        self, path: tuple[str | int, ...], items: Sequence[Any], make: Callable[[Any], _T]
    ) -> list[_T]:
        """``make(item)`` for each item that builds (the others are problems at their index)."""
        built = (
            self.build((*path, index), partial(make, item)) for index, item in enumerate(items)
        )
        return [made for made in built if made is not None]

    def unique(self, section: str, items: Sequence[Mapping[str, Any]], key: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item[key] in seen:
                self.fail((section, index, key), f"{item[key]!r} is given twice")
            seen.add(item[key])


def _calendar(raw: Mapping[str, Any]) -> BusinessCalendar:
    holidays: Any = list(raw.get("holidays", ()))
    if "country" in raw:
        try:
            import holidays as holidays_package
        except ImportError:
            raise ConfigurationError(
                "country holidays need the 'holidays' package (supportkit's 'holidays' extra)"
            ) from None
        try:
            country = holidays_package.country_holidays(
                raw["country"], subdiv=raw.get("subdivision")
            )
        except NotImplementedError as exc:
            raise ConfigurationError(f"the holidays package does not know it: {exc}") from None
        country.update(dict.fromkeys(holidays, "holiday"))
        holidays = country
    elif "subdivision" in raw:
        raise ConfigurationError("subdivision needs a country")
    return BusinessCalendar(
        tz=raw.get("tz", "UTC"),
        weekly=raw.get("weekly", {}),
        holidays=holidays,
        overrides=raw.get("overrides", {}),
    )


_SECRET_NAMES = ("password", "passwd", "secret", "token", "api_key", "apikey")


def _secret(option: str, value: Any) -> bool:
    """Whether a literal store option looks like a secret: a URL with a password in it, or an
    option named like a password, secret, token or API key."""
    if not isinstance(value, str):
        return False
    try:
        with_password = urlsplit(value).password is not None
    except ValueError:  # not a URL (a bad port, brackets): not this kind of secret
        with_password = False
    return with_password or any(word in option.lower() for word in _SECRET_NAMES)


def _trigger(raw: Mapping[str, Any]) -> Trigger:
    fields = {k: v for k, v in raw.items() if k != "on"}
    if raw["on"] == "reopens":
        return OnReopens(**fields)
    if raw["on"] == "tier":
        return OnTier(**fields)
    return OnSlaAlert(**fields)


#: The default ladder's levels and triggers, in the file's form.
DEFAULT_LEVELS = (
    {"name": "L1"},
    {"name": "L2"},
    {"name": "L3"},
    {"name": "engineering", "engineering": True},
)
DEFAULT_TRIGGERS = ({"on": "sla_alert", "kind": "breach"},)


def _goal(raw: Mapping[str, Any]) -> Goal:
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return Goal(**fields)


@attrs.frozen
class DeskConfig:
    """A loaded, checked configuration: the document and the objects built from it.

    ``document`` is the file's table in JSON form (dates as ISO strings), which a desk records
    in its store; ``source`` the file it came from (``None`` for a mapping). The other
    attributes are the built objects. A desk built in Python has an empty configuration
    (:meth:`empty`), whose :meth:`plugin` sections are all empty.
    """

    document: Mapping[str, Any] = attrs.field(factory=dict)
    source: str | None = None
    title: str = ""
    store: str | None = None
    store_options: Mapping[str, Any] = attrs.field(factory=dict)
    desk_options: Mapping[str, Any] = attrs.field(factory=dict)
    calendars: Mapping[str, BusinessCalendar] = attrs.field(factory=dict)
    policies: tuple[SlaPolicy, ...] = ()
    tiers: tuple[Tier, ...] = ()
    groups: tuple[Group, ...] = ()
    agents: tuple[Agent, ...] = ()
    shifts: Mapping[str, str] = attrs.field(factory=dict)
    """Agent id → the name of the calendar of its working hours."""
    router_options: Mapping[str, Any] | None = None
    ladder: EscalationLadder | None = attrs.field(default=None, eq=False)
    ladder_configured: bool = False
    goals: tuple[Goal, ...] = ()
    retention: dt.timedelta | None = None
    """Message bodies of tickets closed longer ago than this are purged (``None``: kept)."""
    knowledge: KnowledgeSettings | None = None
    """The ``[knowledge]`` table: suggestions in the first automatic response, deflection."""
    plugin_host: PluginHost | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def empty(cls) -> DeskConfig:
        """The configuration of a desk built in Python: nothing from a file."""
        return cls()

    def plugin(self, section: str) -> Mapping[str, Any]:
        """The settings table ``[plugins.<section>]`` (an empty mapping when absent)."""
        table = self.document.get("plugins", {}).get(section)
        return MappingProxyType(dict(table)) if isinstance(table, Mapping) else MappingProxyType({})

    def desk_calendars(self) -> dict[str, BusinessCalendar]:
        """The calendars a desk takes: those named after a policy or by a policy's
        ``calendar``, and ``default``."""
        names = {p.name for p in self.policies} | {p.calendar for p in self.policies} | {"default"}
        return {name: cal for name, cal in self.calendars.items() if name in names}

    def make_router(self, clock: Clock | None = None) -> Router | None:
        """A new :class:`~supportkit.Router` for the configured agents (``None`` without a
        ``[router]`` table and without agents)."""
        if self.router_options is None:
            return None
        return Router(self.agents, tiers=self.tiers, clock=clock, **self.router_options)

    def desk_arguments(self, clock: Clock) -> dict[str, Any]:
        """The keyword arguments of :class:`~supportkit.SupportDesk` this configuration
        describes (without ``config``), its router on *clock*."""
        arguments: dict[str, Any] = {
            "store": self.store,
            "store_options": self.store_options,
            "plugins": self.plugin_host,
            "clock": clock,
            "policies": self.policies,
            "calendars": self.desk_calendars(),
            "tiers": self.tiers,
            "router": self.make_router(clock),
            **self.desk_options,
        }
        if self.ladder_configured:
            arguments["ladder"] = self.ladder
        if self.knowledge is not None:
            arguments["knowledge"] = self.knowledge
        return arguments

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        plugins: Sequence[object] = (),
    ) -> DeskConfig:
        """Read and check *source* (a ``supportkit.toml`` or ``pyproject.toml`` path, or a
        mapping of the same shape) and build its objects.

        *plugins* are plugin objects registered beside the file's ``[plugins] enable`` list
        (their ``supportkit_config_section`` schemas validate their tables). A relative
        SQLite ``path`` is taken from the file's directory (from the working directory for a
        mapping).

        Raises:
            ConfigFileError: listing every problem with its key path.
        """
        if isinstance(source, Mapping):
            raw, prefix, file, base = dict(source), "", None, Path()
        elif not isinstance(source, str | os.PathLike):
            raise ConfigFileError(
                f"a configuration is a file path or a mapping, got {type(source).__name__}",
                file=None,
                problems=(("(the file)", "expected a path or a mapping"),),
            )
        else:
            path = Path(source)
            raw, prefix = _read(path)
            file, base = str(path), path.parent
        builder = _Builder(prefix)
        problems: list[Problem] = []
        document = _jsonable(raw, (), problems)
        flagged = {path_ for path_, _ in problems}
        problems.extend(p for p in validate(document, config_schema()) if p[0] not in flagged)
        for path_, message in problems:
            builder.fail(path_, message)
        broken = {p[0] for p, _ in problems if p}
        config = _Loader(builder, document, broken, base, list(plugins)).run(file)
        if builder.problems:
            lines = [f"  {format_path(p)}: {m}" for p, m in builder.problems]
            count = len(builder.problems)
            where = file or "configuration"
            raise ConfigFileError(
                f"{where}: {count} error{'s' if count > 1 else ''}:\n" + "\n".join(lines),
                file=file,
                problems=tuple((format_path(p), m) for p, m in builder.problems),
            )
        return config


class _Loader:
    """Builds each clean section of a schema-checked document."""

    def __init__(
        self,
        builder: _Builder,
        document: dict[str, Any],
        broken: set[str | int],
        base: Path,
        plugins: list[object],
    ) -> None:
        self.b = builder
        self.doc = document
        self.broken = broken
        self.base = base
        self.plugins = plugins

    def section(self, name: str, default: Any) -> Any:
        """The section's value, or *default* when absent or already reported broken."""
        return default if name in self.broken else self.doc.get(name, default)

    def run(self, file: str | None) -> DeskConfig:
        host = self.plugin_host()
        policies = self.policies()
        groups = self.built("groups", Group)
        agents_raw = self.section("agents", [])
        agents = self.built("agents", Agent, drop=("shift",))
        calendars = self.calendars(agents_raw, policies)
        tiers = self.built("tiers", Tier)
        self.references(groups, agents, tiers, calendars, policies, host)
        ladder, configured = self.ladder(groups)
        goals = self.b.each(("goals",), self.section("goals", []), _goal)
        store, store_options = self.store()
        desk = self.section("desk", {})
        desk_options = {
            k: self.duration(("desk", k), v) if isinstance(v, dict) else v for k, v in desk.items()
        }
        retention = self.section("retention", {}).get("message_bodies")
        knowledge = self.knowledge()
        return DeskConfig(
            document=self.doc,
            source=file,
            title=self.section("title", ""),
            store=store,
            store_options=store_options,
            desk_options=desk_options,
            calendars=calendars,
            policies=tuple(policies),
            tiers=tuple(tiers),
            groups=tuple(groups),
            agents=tuple(agents),
            shifts={a["id"]: a["shift"] for a in agents_raw if "shift" in a},
            router_options=self.router(agents, tiers),
            ladder=ladder,
            ladder_configured=configured,
            goals=tuple(goals),
            retention=None if retention is None else self.duration(("retention",), retention),
            knowledge=knowledge,
            plugin_host=host,
        )

    def knowledge(self) -> KnowledgeSettings | None:
        raw = self.section("knowledge", None)
        if raw is None:
            return None
        options = dict(raw)
        if "deflection_window" in options:
            window = self.duration(("knowledge", "deflection_window"), options["deflection_window"])
            if window is None:
                return None
            options["deflection_window"] = window
        return self.b.build(("knowledge",), lambda: KnowledgeSettings(**options))

    def duration(self, path: tuple[str | int, ...], raw: Mapping[str, int]) -> dt.timedelta | None:
        return self.b.build(path, lambda: duration(raw))

    def built(self, section: str, make: Callable[..., _T], drop: Sequence[str] = ()) -> list[_T]:
        items = self.section(section, [])
        self.b.unique(section, items, "name" if section == "tiers" else "id")
        return self.b.each(
            (section,), items, lambda raw: make(**{k: v for k, v in raw.items() if k not in drop})
        )

    def plugin_host(self) -> PluginHost | None:
        table = self.section("plugins", {})
        modules: list[object] = list(self.plugins)
        for index, name in enumerate(table.get("enable", [])):
            try:
                modules.append(importlib.import_module(name))
            except Exception as exc:  # any import failure is the file's problem to report
                self.b.fail(("plugins", "enable", index), f"cannot import {name!r}: {exc}")
        host = self.b.build(("plugins",), lambda: PluginHost(modules, table.get("block", [])))
        if host is None:
            return None
        sections = self.b.build(("plugins",), host.config_sections)
        if sections is None:
            return host
        for name, value in table.items():
            if name in _PLUGIN_KEYS:
                continue
            schema = sections.get(name)
            if schema is None:
                known = ", ".join(sorted(sections)) or "none"
                self.b.fail(
                    ("plugins", name),
                    f"no installed plugin has a [plugins.{name}] section (sections: {known}); "
                    "install or enable the plugin, or remove the table",
                )
                continue
            for path_, message in validate(value, schema):
                self.b.fail(("plugins", name, *path_), message)
        return host

    def policies(self) -> list[SlaPolicy]:
        items = self.section("policies", [])
        self.b.unique("policies", items, "name")
        return self.b.each(("policies",), items, SlaPolicy.from_dict)

    def calendars(
        self, agents: Sequence[Mapping[str, Any]], policies: Sequence[SlaPolicy]
    ) -> dict[str, BusinessCalendar]:
        out = {}
        used = {p.name for p in policies} | {"default"} | {a.get("shift") for a in agents}
        used |= {p.calendar for p in policies}
        for name, raw in self.section("calendars", {}).items():
            made = self.b.build(("calendars", name), partial(_calendar, raw))
            if made is not None:
                out[name] = made
            if name not in used and "policies" not in self.broken and "agents" not in self.broken:
                self.b.fail(
                    ("calendars", name),
                    "unused: name a calendar after the SLA policy it serves (or in a policy's "
                    "calendar key), 'default' for the other policies, or use it as an agent's "
                    "shift",
                )
        return out

    def references(
        self,
        groups: Sequence[Group],
        agents: Sequence[Agent],
        tiers: Sequence[Tier],
        calendars: Mapping[str, BusinessCalendar],
        policies: Sequence[SlaPolicy],
        host: PluginHost | None,
    ) -> None:
        """Names that must name something configured (checked only against given lists that
        were built whole, so one mistake is not reported again as a dangling reference)."""
        group_ids = self.complete("groups", {g.id for g in groups})
        agent_ids = self.complete("agents", {a.id for a in agents})
        policy_names = self.complete("policies", {p.name for p in policies})
        if host is not None and policy_names is not None and self.doc.get("tiers"):
            sourced = self.b.build(("plugins",), host.sla_policies) or []
            policy_names |= {p.name for p in sourced}
        for index, raw in enumerate(self.section("agents", [])):
            for group in raw.get("groups", []) if group_ids else []:
                if group_ids is not None and group not in group_ids:
                    self.b.fail(("agents", index, "groups"), f"unknown group {group!r}")
            if "shift" in raw and raw["shift"] not in calendars and "calendars" not in self.broken:
                self.b.fail(("agents", index, "shift"), f"no calendar named {raw['shift']!r}")
        for index, raw in enumerate(self.section("policies", [])):
            named = raw.get("calendar") if isinstance(raw, Mapping) else None
            if isinstance(named, str) and named not in calendars and "calendars" not in self.broken:
                self.b.fail(("policies", index, "calendar"), f"no calendar named {named!r}")
        for index, raw in enumerate(self.section("tiers", [])):
            checks = (
                ("dedicated_group", group_ids, "group"),
                ("dedicated_agent", agent_ids, "agent"),
                ("sla_policy", policy_names, "SLA policy"),
            )
            for key, known, what in checks:
                if key in raw and known is not None and raw[key] not in known:
                    self.b.fail(("tiers", index, key), f"no {what} named {raw[key]!r}")

    def complete(self, section: str, names: set[str]) -> set[str] | None:
        """*names* if every item of *section* was built, else ``None`` (don't check against
        it); an absent section counts as complete and empty."""
        if section in self.broken or len(names) != len(self.doc.get(section, [])):
            return None
        return names

    def ladder(self, groups: Sequence[Group]) -> tuple[EscalationLadder | None, bool]:
        raw = self.section("escalation", None)
        if raw is None or "escalation" in self.broken:
            return None, False
        if not raw.get("enabled", True):
            return None, True
        levels_raw = raw.get("levels", DEFAULT_LEVELS)
        group_ids = self.complete("groups", {g.id for g in groups})
        for index, level in enumerate(levels_raw):
            if group_ids and "group" in level and level["group"] not in group_ids:
                where = ("escalation", "levels", index, "group")
                self.b.fail(where, f"no group {level['group']!r}")
        levels = self.b.each(
            ("escalation", "levels"), levels_raw, lambda level: EscalationLevel(**level)
        )
        triggers = self.b.each(
            ("escalation", "triggers"), raw.get("triggers", DEFAULT_TRIGGERS), _trigger
        )
        if len(levels) != len(levels_raw):
            return None, True
        ladder = self.b.build(("escalation",), partial(EscalationLadder, levels, triggers=triggers))
        return ladder, True

    def router(self, agents: Sequence[Agent], tiers: Sequence[Tier]) -> dict[str, Any] | None:
        raw = self.section("router", None)
        if raw is None and not agents:
            return None
        options: dict[str, Any] = {k: v for k, v in (raw or {}).items() if k != "relax"}

        def relax(step: Mapping[str, Any]) -> Relax:
            lower = step.get("lower_by", 1)
            return Relax(duration(step["after"]), None if lower == "all" else lower)

        options["relax"] = self.b.each(("router", "relax"), (raw or {}).get("relax", []), relax)
        # Build one now, so a problem (an agent's unknown skill, ...) is reported with the rest.
        self.b.build(("router",), lambda: Router(agents, tiers=tiers, **options))
        return options

    def store(self) -> tuple[str | None, dict[str, Any]]:
        raw = self.section("store", {})
        kind = raw.get("kind", "sqlite")
        options = dict(raw.get("options", {}))
        if kind == "sqlite":
            if "path" in raw:
                options["path"] = str(self.base / raw["path"])
            if "durability" in raw:
                options["durability"] = raw["durability"]
        else:
            for key in ("path", "durability"):
                if key in raw:
                    self.b.fail(("store", key), "only for kind = 'sqlite' (use options here)")
        for option, value in raw.get("options", {}).items():
            if _secret(option, value):
                self.b.fail(
                    ("store", "options", option),
                    "a secret written into the file: put it in an environment variable and "
                    f'name that here instead (env = {{ {option} = "VARIABLE" }})',
                )
        for option, variable in raw.get("env", {}).items():
            value = os.environ.get(variable)
            if value is None:
                self.b.fail(("store", "env", option), f"environment variable {variable} is not set")
            elif not value:  # e.g. VARIABLE= in a .env file: the option would be missing
                self.b.fail(
                    ("store", "env", option), f"environment variable {variable} is set but empty"
                )
            else:
                options[option] = value
        if kind == "sqlite":
            options.setdefault("path", str(self.base / DEFAULT_DATABASE))
        return kind, options
