"""The ``supportkit`` command (argparse; ``supportkit sla evaluate`` needs no extra).

Each subcommand is a function ``_<name>(args) -> int`` registered in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .exceptions import SupportkitError

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="supportkit",
        description="Customer-support workflows: SLA evaluation, a demo support day, reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the installed version").set_defaults(
        handler=_version
    )
    sla = commands.add_parser("sla", help="SLA tools").add_subparsers(
        dest="sla_command", metavar="SLA_COMMAND", required=True
    )
    evaluate = sla.add_parser(
        "evaluate",
        help="evaluate an SLA scenario file and print the result as JSON",
        description="Evaluate a scenario (calendar, policy, events, at) and print the "
        "evaluation as JSON. Its 'comment' and 'expected' entries are ignored unless --check.",
    )
    evaluate.add_argument("file", metavar="FILE", help="the scenario JSON file")
    evaluate.add_argument(
        "--check", action="store_true", help="also compare with 'expected'; exit 1 if they differ"
    )
    evaluate.set_defaults(handler=_sla_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for usage errors, 1 for failures)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except SupportkitError as exc:
        print(f"supportkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
