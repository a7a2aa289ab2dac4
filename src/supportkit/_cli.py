"""The ``supportkit`` command (argparse; ``supportkit sla evaluate`` needs no extra).

Each subcommand is a function ``_<name>(args) -> int`` registered in :func:`build_parser`;
plugins add theirs through ``supportkit_register_commands`` (:func:`_add_plugin_commands`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ._analysis import add_analysis_commands
from ._kbimport import add_kb_commands
from ._operate import UsageError, _store_options, add_commands
from .exceptions import PluginError, SupportkitError

if TYPE_CHECKING:
    from ._plugins import PluginHost
    from .typing import Command

__all__ = ["build_parser", "main"]


def _version(_args: argparse.Namespace) -> int:
    import supportkit

    print(f"supportkit {supportkit.__version__}")
    return 0


def _sla_evaluate(args: argparse.Namespace) -> int:
    import json

    from ._sla._scenario import load_scenario
    from ._sla._testing import sla_differences

    scenario = load_scenario(args.file)
    result = scenario.evaluate().to_dict()
    print(json.dumps(result, indent=2))
    if args.check:
        if scenario.expected is None:
            print(f"supportkit: error: {args.file}: no 'expected' entry to check", file=sys.stderr)
            return 1
        lines = sla_differences(result, scenario.expected)
        if lines:
            print(
                f"{args.file}: differs from 'expected':\n  " + "\n  ".join(lines), file=sys.stderr
            )
            return 1
    return 0


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return number


def _not_negative(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not number >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of zero or more, got {text!r}")
    return number


def _needs_rich(command: str) -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        print(
            f"supportkit {command} needs the 'cli' extra: pip install -e '.[cli]' in a checkout "
            "of supportkit (pip install 'supportkit[cli]' once it is on an index)",
            file=sys.stderr,
        )
        return False
    return True


def _demo(args: argparse.Namespace) -> int:
    if not _needs_rich("demo"):
        return 1
    import tempfile
    from datetime import datetime
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from ._demo import DemoStats, render_dashboard, run_demo

    if args.db is not None and Path(args.db).exists():
        print(f"supportkit: error: {args.db} exists; pass a new --db path", file=sys.stderr)
        return 1
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db is not None else Path(tmp) / "demo.sqlite3"
        columns = (  # within 80 columns
            TextColumn("simulating"),
            BarColumn(bar_width=12),
            TextColumn("{task.fields[clock]}"),
            TextColumn("{task.fields[counts]}"),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("demo", total=None, clock="", counts="")

            def step(done: int, total: int, now: datetime, stats: DemoStats) -> None:
                counts = (
                    f"{stats.messages} messages, {stats.replies} replies, "
                    f"{stats.breaches} SLA breaches"
                )
                clock = now.strftime("%a %H:%M UTC")
                progress.update(task, completed=done, total=total, clock=clock, counts=counts)

            summary, stats = run_demo(
                tickets=args.tickets,
                days=args.days,
                seed=args.seed,
                speed=args.speed,
                db=db,
                on_step=step,
            )
        render_dashboard(summary, stats, console)
        if args.db is not None:
            console.print(f"store kept at {db} (supportkit report --db {db} --html report.html)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._operate import _open_store as open_store_of
    from ._report import open_report_desk, render_html, summarize

    if not (args.html or args.feedback or args.self_service):
        print(
            "supportkit: error: report needs --html FILE, --feedback or --self-service",
            file=sys.stderr,
        )
        return 2
    if args.db:
        desk, goals, title = open_report_desk(args.db)
    else:
        desk, goals, title = open_report_desk(open_store_of(args))
    with desk:
        if args.feedback:
            from ._feedback import render_text

            print(render_text(desk.feedback()), end="")
        if args.self_service:
            from ._selfservice import render_text as self_service_text

            print(self_service_text(desk.self_service()), end="")
        if not args.html:
            return 0
        summary = summarize(desk, goals=goals, title=title, tz=args.tz)
    try:
        Path(args.html).write_text(render_html(summary), encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"supportkit: error: cannot write {args.html}: {reason}", file=sys.stderr)
        return 1
    print(f"wrote {args.html}")
    return 0


def _plugin_command(name: str, command: Command) -> Callable[[argparse.Namespace], int]:
    """The handler running a plugin's *command*: a foreign exception becomes a PluginError
    naming it (the command line prints it and exits 1)."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return int(command.run(args))
        except SupportkitError:
            raise
        except Exception as exc:
            raise PluginError(
                f"command {name!r} failed: {type(exc).__name__}: {exc}", plugin=f"command:{name}"
            ) from exc

    return handler


def _registered_commands(host: PluginHost) -> Mapping[str, Command]:
    """The plugins' commands; each plugin that failed to load is reported on stderr (the host
    raises its error once, then leaves it out)."""
    while True:
        try:
            return host.commands()
        except PluginError as exc:
            print(f"supportkit: warning: {exc}", file=sys.stderr)


def _add_plugin_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], host: PluginHost
) -> None:
    """Add every command registered through ``supportkit_register_commands``. One broken
    plugin must not take the whole command line down: a command with a built-in command's
    name is left out with a warning, and one whose ``add_arguments`` fails stays listed but
    running it reports the failure."""
    for name, command in _registered_commands(host).items():
        if name in commands.choices:
            print(
                f"supportkit: warning: plugin command {name!r} has the name of a built-in "
                "command and is left out",
                file=sys.stderr,
            )
            continue
        parser = commands.add_parser(name, help=command.help, description=command.help)
        handler = _plugin_command(name, command)
        try:
            command.add_arguments(parser)
        except Exception as exc:
            handler = _broken_command(name, exc)
        parser.set_defaults(handler=handler)


def _broken_command(name: str, exc: Exception) -> Callable[[argparse.Namespace], int]:
    def handler(_args: argparse.Namespace) -> int:
        raise PluginError(
            f"command {name!r} cannot run: its add_arguments failed: {type(exc).__name__}: {exc}",
            plugin=f"command:{name}",
        ) from exc

    return handler


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand, the plugins' too (those of *host*, by
    default a plugin host with the installed plugins)."""
    parser = argparse.ArgumentParser(
        prog="supportkit",
        description="Customer-support workflows: SLA evaluation, a demo support day, reports.",
        epilog="examples:\n"
        "  supportkit check                     # validate ./supportkit.toml\n"
        "  supportkit run --once                # one worker round\n"
        "  supportkit next-steps --db support.sqlite3\n"
        "  supportkit export --db support.sqlite3 > backup.jsonl\n\n"
        "exit status: 0 success, 1 refused or invalid input (the error is printed, no\n"
        "traceback), 2 usage error, 3 a run worker found newer settings recorded (restart\n"
        "it). 'supportkit COMMAND --help' shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "version",
        help="print the installed version",
        epilog="examples:\n  supportkit version",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).set_defaults(handler=_version)
    sla = commands.add_parser(
        "sla",
        help="SLA tools",
        epilog="examples:\n"
        "  supportkit sla evaluate scenario.json --check\n"
        "  supportkit sla show T-1a2b3c --db support.sqlite3 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="sla_command", metavar="SLA_COMMAND", required=True)
    evaluate = sla.add_parser(
        "evaluate",
        help="evaluate an SLA scenario file and print the result as JSON",
        description="Evaluate a scenario (calendar, policy, events, at) and print the "
        "evaluation as JSON. Its 'comment' and 'expected' entries are ignored unless --check.",
        epilog="examples:\n"
        "  supportkit sla evaluate scenario.json\n"
        "  supportkit sla evaluate scenario.json --check   # exit 1 if it differs from 'expected'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("file", metavar="FILE", help="the scenario JSON file")
    evaluate.add_argument(
        "--check", action="store_true", help="also compare with 'expected'; exit 1 if they differ"
    )
    evaluate.set_defaults(handler=_sla_evaluate)
    add_commands(commands, sla)
    add_analysis_commands(commands)
    add_kb_commands(commands)
    demo = commands.add_parser(
        "demo",
        help="simulate a support day on the real desk and print a dashboard (needs [cli])",
        description="Simulate a support day (tiers, channels, agents in two time zones, SLA "
        "clocks, escalations, an outbox with a flaky pager) on an embedded SQLite store.",
        epilog="examples:\n"
        "  supportkit demo\n"
        "  supportkit demo --days 5 --tickets 500 --db demo.sqlite3   # keep the store\n"
        "  supportkit report --db demo.sqlite3 --html demo.html      # then report on it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--tickets", type=_positive, default=300, help="tickets opened a day (default 300)"
    )
    demo.add_argument(
        "--days",
        type=_positive,
        default=1,
        help="working days to simulate from Monday, 1 to 5 (default 1; the report shows "
        "trends over days)",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument(
        "--speed",
        type=_not_negative,
        default=0.0,
        help="simulated seconds per real second (default 0: as fast as possible)",
    )
    demo.add_argument(
        "--db", default=None, help="keep the SQLite store at this new path (default: a temp file)"
    )
    demo.set_defaults(handler=_demo)
    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a desk's store",
        description="Read a desk's store (--db PATH: a SQLite file; --config FILE: its [store], "
        "SQLite or a plugin's such as PostgreSQL) and write one HTML file with inline SVG "
        "charts. "
        "SLA policies, calendars and escalation levels come from the record every desk keeps "
        "in the store (SupportDesk.SETTINGS_KEY); goals and a title from the demo's "
        "'settings' record, else from the configuration file the desk runs with ([[goals]], "
        "title).",
        epilog="examples:\n"
        "  supportkit report --db support.sqlite3 --html report.html\n"
        "  supportkit report --db support.sqlite3 --html report.html --tz Europe/Berlin\n"
        "  supportkit report --db support.sqlite3 --feedback\n"
        "  supportkit report --db support.sqlite3 --self-service\n"
        "  supportkit report --config postgres.toml --html report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _store_options(report)
    report.add_argument("--html", help="the HTML file to write")
    report.add_argument(
        "--feedback",
        action="store_true",
        help="print the product feedback report (top problems and tags, escalations to "
        "engineering, time to fix, incidents waiting) to standard output",
    )
    report.add_argument(
        "--self-service",
        action="store_true",
        help="print the self-service report (deflection, articles' views -> tickets, content "
        "gaps, rising topics no article covers) to standard output",
    )
    report.add_argument(
        "--tz",
        default=None,
        help="the IANA zone of the report's hours and days, e.g. Europe/Berlin (default: the "
        "zone of the desk's default calendar, else UTC)",
    )
    report.set_defaults(handler=_report)
    if host is None:
        from ._plugins import PluginHost

        host = PluginHost()
    _add_plugin_commands(commands, host)
    return parser


def main(argv: Sequence[str] | None = None, *, host: PluginHost | None = None) -> int:
    """Run the command line; return the exit status (2 for usage errors, 1 for failures).

    *host* supplies the plugin commands (default: the installed plugins).
    """
    parser = build_parser(host)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except BrokenPipeError:  # the reader went away (`supportkit export | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail
        return 1
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"supportkit: error: {exc}", file=sys.stderr)
        return 2
    except SupportkitError as exc:
        print(f"supportkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
