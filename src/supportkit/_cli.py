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
