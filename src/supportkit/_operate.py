"""The operator's ``supportkit`` commands: check, schema, run, ticket, next-steps, sla show,
settings, export, import and erase. :func:`add_commands` adds them to the CLI's parser.

Read and write commands find their desk with ``--db PATH`` (a SQLite store, read with the
configuration recorded in it) or ``--config FILE`` (a ``supportkit.toml``), else the
``supportkit.toml`` (or ``pyproject.toml`` with ``[tool.supportkit]``) of the working directory.
Read commands build the desk from the configuration recorded in the store either way; the file
then only names the store.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import _settings
from ._clock import SystemClock
from ._config import DeskConfig, find_config
from ._configschema import config_schema
from ._desk import SupportDesk
from ._desknotify import DeskPlugins
from ._deskstore import ticket_to_dict
from ._plugins import PluginHost
from ._sla import check_policies
from ._sqlite import SqliteStore
from ._time import from_epoch, to_epoch
from ._transfer import erase, export_lines, import_lines
from .exceptions import CalendarError, ConfigurationError, SupportkitError
from .typing import DeskStore, Poller

__all__ = ["SETTINGS_CHANGED", "UsageError", "add_commands", "open_desk", "open_store"]

log = logging.getLogger("supportkit.run")


class UsageError(SupportkitError):
    """The command line was incomplete (exit status 2)."""


Handler = Callable[[argparse.Namespace], int]


def _config_path(args: argparse.Namespace) -> Path:
    if getattr(args, "config", None):
        return Path(args.config)
    found = find_config()
    if found is None:
        raise UsageError(
            "no configuration: pass --config FILE (or --db PATH), or run where a supportkit.toml is"
        )
    return found


def desk_from_store(store: DeskStore) -> SupportDesk:
    """A desk over *store* (SQLite, PostgreSQL, any :class:`~supportkit.typing.DeskStore`)
    with the configuration recorded in it (nothing is written)."""
    recorded = _settings.latest(store, SupportDesk.SETTINGS_KEY)
    if recorded is None:
        raise ConfigurationError(
            f"{store!r} records no desk settings: pass --config FILE, or point --db at "
            "a store a desk has run on"
        )
    if recorded.get("config") is not None:
        config = DeskConfig.load(recorded["config"])
        return _desk(config, store=store)
    settings = recorded["settings"]
    config = DeskConfig.load(
        {
            "calendars": settings.get("calendars", {}),
            "policies": settings.get("policies", []),
            "escalation": {"enabled": False}
            if settings.get("ladder") is None
            # A level's unset group or next is recorded as null; the file leaves it out.
            else {
                "levels": [
                    {k: v for k, v in level.items() if v is not None}
                    for level in settings["ladder"]
                ]
            },
        }
    )
    return _desk(config, store=store, recorded=recorded)


def _desk(
    config: DeskConfig,
    *,
    store: DeskStore | None = None,
    apply: bool = False,
    recorded: Mapping[str, Any] | None = None,
) -> SupportDesk:
    """The desk *config* describes (on *store* if given); a desk rebuilt from recorded
    settings only (*recorded*) is compared by its settings, as a Python-built desk."""
    arguments = config.desk_arguments(SystemClock())
    if store is not None:
        arguments.update(store=store, store_options={})
    return SupportDesk(
        **arguments,
        config=None if recorded is not None else config,
        _apply=None if recorded is not None else apply,
    )


@contextmanager
def open_desk(
    args: argparse.Namespace,
    *,
    apply: bool = False,
    note: str | None = None,
    recorded: bool = False,
) -> Iterator[SupportDesk]:
    """The desk a command works on (see the module docstring); closed afterwards. *apply*
    (with *note*) records a changed configuration as a new settings version. A *recorded*
    desk (read commands) is built from the configuration recorded in the store the file
    names, whether or not the file differs (a one-line note on stderr says so); a store that
    records none yet is run with the file's."""
    if not getattr(args, "db", None) and not recorded:
        with SupportDesk.from_config(_config_path(args), apply=apply, note=note) as running:
            yield running
        return
    store = _open_store(args)
    from_file = not getattr(args, "db", None)
    try:
        fresh = from_file and _settings.latest(store, SupportDesk.SETTINGS_KEY) is None
        desk: SupportDesk | None = None if fresh else desk_from_store(store)
    except BaseException:
        _close(store)
        raise
    if desk is None:  # no desk has run on the store yet: the file's configuration is recorded
        _close(store)
        desk = SupportDesk.from_config(_config_path(args), apply=apply, note=note)
    with desk:
        if from_file:
            state = _recorded_state(DeskConfig.load(_config_path(args)), desk.store)
            if state.startswith("differs"):
                print(f"supportkit: note: {_config_path(args)} {state}", file=sys.stderr)
        yield desk


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _open_store(args: argparse.Namespace, *, create: bool = False) -> DeskStore:
    if getattr(args, "db", None):
        name, options = "sqlite", {"path": args.db}
        host = PluginHost()
    else:
        config = DeskConfig.load(_config_path(args))
        name, options = config.store or "sqlite", dict(config.store_options)
        host = config.plugin_host or PluginHost()
    if name == "sqlite" and not create and not Path(options.get("path", "")).is_file():
        raise ConfigurationError(f"no supportkit database at {str(options.get('path'))!r}")
    store = DeskPlugins(host).open_store(name, options)
    if not isinstance(store, DeskStore):
        _close(store)
        raise ConfigurationError(
            f"the {name!r} store keeps only the event log ({store!r}): this command needs a "
            "supportkit.typing.DeskStore"
        )
    return store


@contextmanager
def open_store(args: argparse.Namespace, *, create: bool = False) -> Iterator[DeskStore]:
    """The store of ``--db`` (a SQLite file) or of the configuration's ``[store]`` (any
    store, a plugin's too), without building a desk; closed afterwards. Unless *create*, a
    SQLite file must exist."""
    store = _open_store(args, create=create)
    try:
        yield store
    finally:
        _close(store)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


# --- check and schema ----------------------------------------------------------------------------


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _check(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else _config_path(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = DeskConfig.load(path)
        policies = [*config.policies]
        if config.plugin_host is not None:
            given = {p.name for p in policies}
            policies += [p for p in config.plugin_host.sla_policies() if p.name not in given]
        check_policies(policies, named={t.sla_policy for t in config.tiers if t.sla_policy})
    now = SystemClock().now()
    print(f"{path}: valid" + (f" ({config.title})" if config.title else ""))
    where = config.store_options.get("path", "") if config.store == "sqlite" else ""
    print(f"store: {config.store} {where}".rstrip())
    if config.store == "sqlite" and Path(where).is_file():
        with SqliteStore(where) as store:
            print(f"  {_recorded_state(config, store)}")
    print("calendars:")
    for name, calendar in config.calendars.items():
        state = "open" if calendar.is_open(now) else "closed"
        verb = "closes" if state == "open" else "opens"
        try:
            change = calendar.next_close(now) if state == "open" else calendar.next_open(now)
            when = f"{verb} {change.isoformat()}"
        except CalendarError:  # open around the clock (or only in the far past)
            when = f"never {verb} within four years"
        print(f"  {name} ({calendar.tz.key}): {state} now, {when}")
    print("policies (in match order):")
    for policy in policies:
        conditions = ", ".join(f"{k}={'/'.join(sorted(v))}" for k, v in policy.conditions.items())
        print(f"  {policy.name}" + (f" [{conditions}]" if conditions else " [any ticket]"))
        for priority, targets in policy.targets.items():
            shown = ", ".join(
                f"{metric} {_duration(t.seconds)}{' business' if t.business else ''}"
                for metric, t in targets.items()
            )
            print(f"    {priority.value}: {shown}")
    for tier in config.tiers:
        extra = f", policy {tier.sla_policy}" if tier.sla_policy else ""
        print(f"tier {tier.name}: weight {tier.weight}{extra}, {len(tier.watchlist)} watched")
    print(f"groups: {len(config.groups)}, agents: {len(config.agents)}")
    if config.router_options is not None:
        print(f"router: {config.router_options.get('strategy', 'least_loaded')}")
    if config.ladder_configured:
        ladder = config.ladder
        print("escalation: " + ("off" if ladder is None else repr(ladder)))
    print(f"goals: {len(config.goals)}")
    for warning in caught:
        print(f"warning: {warning.message}")
    return 0


def _recorded_state(config: DeskConfig, store: DeskStore) -> str:
    """Whether *config* is the configuration *store* records (a sentence for operators)."""
    recorded = _settings.latest(store, SupportDesk.SETTINGS_KEY)
    if recorded is None:
        return "the store records no configuration yet"
    given = {k: v for k, v in config.document.items() if k != "store"}
    when = f"version {recorded['version']}, recorded {recorded.get('recorded_at')}: "
    when += str(recorded.get("note"))
    if _settings.canonical(recorded.get("config")) == _settings.canonical(given):
        return f"matches the recorded configuration ({when})"
    return f"differs from the recorded configuration ({when}): `supportkit run --apply` records it"


def _schema(_args: argparse.Namespace) -> int:
    sections = PluginHost().config_sections()
    _print_json(config_schema(sections or None))
    return 0


# --- run -----------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per log record: ``ts``, ``level``, ``logger``, ``event`` and the
    record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _emit(event: str, **fields: Any) -> None:
    log.info(event, extra={"fields": fields})


def _pollers(desk: SupportDesk) -> list[tuple[str, Poller]]:
    """The configured pollers: each registered poller (``supportkit_register_pollers``) whose
    ``[plugins.<name>]`` table is in the configuration, made with that table as its options."""
    host = desk.plugins.host
    names = [name for name in host.pollers() if name in desk.config.document.get("plugins", {})]
    return [(name, host.new_poller(name, desk, desk.config.plugin(name))) for name in names]


def _shifts(desk: SupportDesk, now: datetime) -> None:
    """Agents with a shift calendar are online while it is open, offline otherwise."""
    if desk.router is None:
        return
    for agent, calendar in desk.config.shifts.items():
        status = "online" if desk.config.calendars[calendar].is_open(now) else "offline"
        if desk.router.agent(agent).status != status:
            desk.router.set_status(agent, status, at=now)
            _emit("shift", agent=agent, status=status)


def _interval(text: str) -> float:
    """``--interval``: a finite number of seconds above zero (0 would spin on the store)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return seconds


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the worker: a warning is one JSON log line like the rest."""
    log.warning(str(message), extra={"fields": {"category": category.__name__}})


def _run(args: argparse.Namespace) -> int:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("supportkit")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        _emit("stopping", signal=signal.Signals(number).name)
        stop.set()

    if args.file:
        args.config = args.file
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _log_warning
        try:
            return _work(args, stop)
        finally:
            for number, old in previous.items():
                signal.signal(number, old)
            root.removeHandler(handler)


SETTINGS_CHANGED = 3
"""The exit status of a worker that found newer settings recorded by another process (e.g.
``supportkit run --apply`` elsewhere): its supervisor restarts it, and the restarted worker
runs with them (or refuses a file that differs from them)."""


def _settings_version(desk: SupportDesk) -> Any:
    """The number of the newest settings version the desk's store records (``None``: none)."""
    newest = _settings.latest(desk.store, SupportDesk.SETTINGS_KEY)
    return None if newest is None else newest.get("version")


def _work(args: argparse.Namespace, stop: threading.Event) -> int:
    if args.note is not None and not args.apply:
        raise UsageError("--note goes with --apply (it is recorded with the new version)")
    with open_desk(args, apply=args.apply, note=args.note) as desk:
        pollers = _pollers(desk)
        _emit("started", store=repr(desk.store), pollers=[name for name, _ in pollers])
        try:
            status = _loop(desk, pollers, args, stop)
        finally:
            for name, poller in pollers:
                try:
                    poller.close()
                except Exception:  # one poller failing to close must not keep the others
                    log.exception("poller %s failed to close", name)
    _emit("stopped", status=status)
    return status


def _loop(
    desk: SupportDesk, pollers: list[tuple[str, Poller]], args: argparse.Namespace, stop: Any
) -> int:
    """Run rounds until *stop* is set (or one round with ``--once``): 0. A round that finds
    newer settings recorded in the store than the desk runs with does nothing, logs
    ``settings_changed`` (both version numbers) and returns :data:`SETTINGS_CHANGED`."""
    retained = 0.0
    running = _settings_version(desk)
    while True:
        newest = _settings_version(desk)
        if newest != running:
            log.warning(
                "settings_changed",
                extra={"fields": {"running": running, "recorded": newest, "action": "restart"}},
            )
            return SETTINGS_CHANGED
        now = desk.clock.now()
        _shifts(desk, now)
        polled = 0
        for name, poller in pollers:
            try:
                polled += poller.poll()
            except Exception:  # a failing poller is logged; the others and the desk go on
                log.exception("poller %s failed", name)
        assigned = sum(1 for claim in desk.dispatch() if claim)  # agents on shift take work
        ticked = desk.tick()
        delivered = desk.deliver()
        if desk.config.retention is not None and time.monotonic() - retained > 3600:
            _emit("retention", purged=desk.apply_retention())
            retained = time.monotonic()
        _emit(
            "round",
            polled=polled,
            assigned=assigned,
            checked=ticked.checked,
            warnings=len(ticked.warnings),
            breaches=len(ticked.breaches),
            escalations=len(ticked.escalations),
            failed=len(ticked.failed),
            delivered=len(delivered.delivered),
            retried=len(delivered.retried),
            dead=len(delivered.dead),
        )
        if args.once or stop.wait(args.interval):
            return 0


# --- read commands -------------------------------------------------------------------------------


def _ticket(args: argparse.Namespace) -> int:
    with open_desk(args, recorded=True) as desk:
        ticket = desk.ticket(args.id)
        record = ticket_to_dict(ticket)
        for key, value in record.items():
            if key.endswith("_at") and isinstance(value, int):
                record[key] = from_epoch(value).isoformat()
        step = next((s for s in desk.next_steps() if s.ticket_id == args.id), None)
        record["next_step"] = None if step is None else _step(step)
    if args.json:
        _print_json(record)
    else:
        for key, value in record.items():
            if key != "next_step":
                print(f"{key}: {value}")
        if step is not None:
            print(f"next step: {_step_line(step)}")
    return 0


def _step(step: Any) -> dict[str, Any]:
    return {
        "ticket_id": step.ticket_id,
        "action": str(step.action),
        "waiting_on": str(step.waiting_on),
        "owner": step.owner,
        "group": step.group,
        "due": None if step.due is None else step.due.isoformat(),
        "status": str(step.status),
        "level": step.level,
    }


def _step_line(step: Any) -> str:
    who = step.owner or step.group or "unassigned"
    due = step.due.isoformat() if step.due is not None else "no deadline"
    return f"{step.ticket_id}: {step.action} ({who}, waiting on {step.waiting_on}, due {due})"


def _next_steps(args: argparse.Namespace) -> int:
    with open_desk(args, recorded=True) as desk:
        steps = sorted(
            desk.next_steps(),
            key=lambda s: (s.due is None, s.due or datetime.max.replace(tzinfo=UTC), s.ticket_id),
        )
    if args.json:
        _print_json([_step(s) for s in steps])
    else:
        for step in steps:
            print(_step_line(step))
        if not steps:
            print("no open tickets")
    return 0


def _settings_versions(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        found = _settings.versions(store, SupportDesk.SETTINGS_KEY)
    if args.json:
        _print_json(found if args.full else [_version_line(v) for v in found])
    else:
        for version in found:
            line = _version_line(version)
            policies = ", ".join(line["policies"]) or "none"
            print(
                f"version {line['version']}: {line['recorded_at']}  {line['note']}  "
                f"(policies: {policies})"
            )
        if not found:
            print("no settings recorded yet")
    return 0


def _version_line(version: Mapping[str, Any]) -> dict[str, Any]:
    """A settings version without its documents: number, when, note and what it holds."""
    settings = version.get("settings") or {}
    return {
        "version": version.get("version"),
        "recorded_at": version.get("recorded_at"),
        "note": version.get("note"),
        "policies": [f"{p.get('name')} v{p.get('version')}" for p in settings.get("policies", [])],
        "from_config": version.get("config") is not None,
    }


def _sla_show(args: argparse.Namespace) -> int:
    with open_desk(args, recorded=True) as desk:
        evaluation = desk.sla(args.id)
    result = None if evaluation is None else evaluation.to_dict()
    if args.json:
        _print_json(result)
    elif result is None:
        print(f"{args.id}: no SLA policy applies")
    else:
        for metric, cycles in result.items():
            for cycle in cycles:
                print(
                    f"{metric}: {cycle.get('status')} deadline {cycle.get('deadline')} "
                    f"elapsed {cycle.get('elapsed_seconds')}s of {cycle.get('target_seconds')}s"
                )
    return 0


# --- export, import, erase -----------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        try:
            out = (
                sys.stdout
                if args.output in (None, "-")
                else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        try:
            for line in export_lines(store):
                out.write(line + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
    return 0


def _import(args: argparse.Namespace) -> int:
    source = args.file
    try:
        if source == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {source}: {exc}") from None
    with open_store(args, create=True) as store:
        result = import_lines(store, _progress(lines, quiet=args.quiet), source)
        where = args.db or repr(store)
    written = sum(result.written.values())
    skipped = sum(result.skipped.values())
    print(f"imported {written} records into {where} ({skipped} already there)", file=sys.stderr)
    return 0


#: Imports of at least this many lines show a progress bar (on a terminal, with rich).
PROGRESS_LINES = 10_000


def _progress(lines: list[str], *, quiet: bool = False) -> Iterator[str]:
    """The lines, with a progress bar on standard error for large files: shown on a
    terminal (or where rich is told to, ``FORCE_COLOR``/``TTY_COMPATIBLE``), never with
    ``--quiet``, and only when rich (the ``cli`` extra) is installed."""
    if quiet or len(lines) < PROGRESS_LINES:
        yield from lines
        return
    try:
        from rich.console import Console
        from rich.progress import track
    except ImportError:
        yield from lines
        return
    console = Console(stderr=True)
    if not console.is_terminal:
        yield from lines
        return
    yield from track(lines, description="checking", console=console, transient=True)


def _erase(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        result = erase(store, args.customer, to_epoch(SystemClock().now()))
    print(
        f"erased customer as {result.pseudonym}: {len(result.tickets)} tickets, "
        f"{result.events} events, {result.outbox} outbox messages rewritten"
    )
    return 0


# --- the parser ----------------------------------------------------------------------------------


def _store_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db", metavar="PATH", help="a SQLite store (read with its recorded configuration)"
    )
    where.add_argument(
        "--config", metavar="FILE", help="a supportkit.toml (default: ./supportkit.toml)"
    )


def _command(
    commands: Any, name: str, handler: Handler, help: str, examples: str, **kwargs: Any
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    parser.set_defaults(handler=handler)
    return parser


def add_commands(commands: Any, sla: Any) -> None:
    """Add the operator's commands to the CLI's subparsers (*sla*: the ``sla`` group's)."""
    check = _command(
        commands,
        "check",
        _check,
        "validate a configuration file and print a summary",
        "  supportkit check\n  supportkit check examples/supportkit.toml\n",
    )
    check.add_argument("file", nargs="?", metavar="CONFIG", help="default: ./supportkit.toml")
    _command(
        commands,
        "schema",
        _schema,
        "print the JSON Schema of supportkit.toml (with the installed plugins' sections)",
        "  supportkit schema > supportkit.schema.json\n",
    )
    run = _command(
        commands,
        "run",
        _run,
        "run the desk's worker: agents' shifts, the plugins' pollers, routing, SLA ticks and "
        "outbox delivery",
        "  supportkit run\n  supportkit run --config /etc/supportkit.toml --interval 5\n"
        "  supportkit run --once          # one round, e.g. from cron\n"
        "  supportkit run --apply         # record a changed configuration first\n"
        '  supportkit run --apply --note "first reply 30m for gold"\n'
        "\nexit status 3: another process recorded newer settings (restart the worker)\n",
    )
    run.add_argument("file", nargs="?", metavar="CONFIG", help="default: ./supportkit.toml")
    run.add_argument("--once", action="store_true", help="do one round and exit")
    run.add_argument(
        "--interval", type=_interval, default=1.0, help="seconds between rounds (default 1)"
    )
    run.add_argument(
        "--apply",
        action="store_true",
        help="record the file's configuration as a new settings version and move open "
        "tickets onto changed SLA policies",
    )
    run.add_argument(
        "--note", metavar="TEXT", help="with --apply: why, recorded with the new version"
    )
    ticket = _command(
        commands,
        "ticket",
        _ticket,
        "show one ticket and its next step",
        "  supportkit ticket T-1a2b3c --db support.sqlite3\n  supportkit ticket T-1a2b3c --json\n",
    )
    ticket.add_argument("id", metavar="ID")
    next_steps = _command(
        commands,
        "next-steps",
        _next_steps,
        "list who owes what by when, for every open ticket",
        "  supportkit next-steps --db support.sqlite3\n  supportkit next-steps --json\n",
    )
    show = _command(
        sla,
        "show",
        _sla_show,
        "show a ticket's SLA evaluation now",
        "  supportkit sla show T-1a2b3c --db support.sqlite3 --json\n",
    )
    show.add_argument("id", metavar="ID")
    versions = _command(
        commands,
        "settings",
        _settings_versions,
        "list the settings versions recorded in the store: when, the note, the SLA policies",
        "  supportkit settings --db support.sqlite3\n"
        "  supportkit settings --config postgres.toml --json\n"
        "  supportkit settings --json --full   # with the recorded settings and configuration\n",
    )
    versions.add_argument(
        "--full", action="store_true", help="with --json: the whole recorded documents"
    )
    export = _command(
        commands,
        "export",
        _export,
        "write everything a desk's store holds as JSON Lines",
        "  supportkit export --db support.sqlite3 > backup.jsonl\n"
        "  supportkit export --config postgres.toml --output backup.jsonl\n",
    )
    export.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    imported = _command(
        commands,
        "import",
        _import,
        "read JSON Lines from export into a desk's store (created if needed; all or nothing)",
        "  supportkit import --db restored.sqlite3 backup.jsonl\n"
        "  supportkit export --db a.sqlite3 | supportkit import --db b.sqlite3 -\n"
        "  supportkit export --db a.sqlite3 | supportkit import --config postgres.toml -\n",
    )
    imported.add_argument("file", metavar="FILE", help="the JSON Lines file ('-': standard input)")
    imported.add_argument(
        "--quiet", action="store_true", help="no progress bar (it shows on a terminal only)"
    )
    erase = _command(
        commands,
        "erase",
        _erase,
        "erase a customer's personal data from a desk's store",
        "  supportkit erase --customer cus_123 --db support.sqlite3\n"
        "  supportkit erase --customer cus_123 --config postgres.toml\n",
    )
    erase.add_argument("--customer", required=True, metavar="ID", help="the customer id")
    for parser in (ticket, next_steps, show, versions):
        parser.add_argument("--json", action="store_true", help="print JSON")
    for parser in (run, ticket, next_steps, show, versions, export, imported, erase):
        _store_options(parser)
