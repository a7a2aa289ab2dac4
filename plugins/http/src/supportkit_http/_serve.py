"""``supportkit serve``: the app under uvicorn, configured from the configuration file.

The desk comes from ``SupportDesk.from_config(PATH)``; the app's settings from the file's
``[plugins.http]`` table (see :data:`CONFIG_SCHEMA`). A secret written as ``"env:NAME"`` is
read from the environment variable ``NAME``, so the file itself need not hold it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from supportkit import ConfigurationError, SupportDesk

from ._app import create_app

__all__ = ["CONFIG_SCHEMA", "ServeCommand", "app_options"]

#: The JSON Schema of the ``[plugins.http]`` table.
CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "secrets": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "open_channels": {"type": "array", "items": {"type": "string"}},
        "max_body": {
            "oneOf": [
                {"type": "integer", "minimum": 1},
                {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
            ]
        },
        "tokens": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "schemes": {
            "type": "object",
            "additionalProperties": {"enum": ["supportkit", "slack"]},
        },
        "title": {"type": "string"},
        "article_url": {"type": "string", "pattern": "\\{article\\}"},
        "worker_interval": {"type": "number", "exclusiveMinimum": 0},
    },
}


def _secret(channel: str, value: str) -> str:
    if not value.startswith("env:"):
        return value
    name = value.removeprefix("env:")
    secret = os.environ.get(name)
    if not secret:
        raise ConfigurationError(
            f"[plugins.http] secrets.{channel} reads the environment variable {name}, which is "
            "not set"
        )
    return secret


def app_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`create_app` keyword arguments a ``[plugins.http]`` table gives."""
    from ._signatures import SlackSignature, SupportkitSignature

    known = {"supportkit": SupportkitSignature(), "slack": SlackSignature()}
    options: dict[str, Any] = {
        "secrets": {k: _secret(k, v) for k, v in settings.get("secrets", {}).items()},
        "open_channels": tuple(settings.get("open_channels", ())),
        "schemes": {k: known[v] for k, v in settings.get("schemes", {}).items()},
        "tokens": settings.get("tokens"),
    }
    for key in ("max_body", "title", "article_url"):
        if key in settings:
            options[key] = settings[key]
    return options


class ServeCommand:
    """``supportkit serve``: run the HTTP front door with uvicorn."""

    help = "serve the HTTP front door (webhooks, chat, JSON API, live dashboard) with uvicorn"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """``--config``, ``--host``, ``--port``."""
        parser.add_argument(
            "--config",
            default="supportkit.toml",
            help="the configuration file (default: supportkit.toml; [tool.supportkit] of a "
            "pyproject.toml works too)",
        )
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="port to listen on (default 8000)")

    def run(self, args: argparse.Namespace) -> int:
        """Build the desk and the app from the file, start the desk's worker, serve."""
        import uvicorn

        desk = SupportDesk.from_config(args.config)
        try:
            settings = desk.config.plugin("http")
            app = create_app(desk, **app_options(settings))
            desk.start(float(settings.get("worker_interval", 1.0)))
            host = args.host or settings.get("host", "127.0.0.1")
            port = args.port or settings.get("port", 8000)
            print(f"supportkit serve: http://{host}:{port}/", file=sys.stderr)
            uvicorn.run(app, host=host, port=port, log_level="warning")
        finally:
            desk.close()
        return 0
