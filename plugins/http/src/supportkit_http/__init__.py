"""supportkit-http: the HTTP front door of a support desk, as one ASGI app.

``create_app(desk, secrets=...)`` returns a Starlette app to serve with any ASGI server or to
mount in a FastAPI, Starlette, Litestar or Django (ASGI) application:

- ``POST /inbound/{channel}``: a signed webhook (:class:`SupportkitSignature`, the
  ``supportkit-webhook`` scheme, or a provider's own such as :class:`SlackSignature`) goes
  through ``desk.receive`` (the channel's parsing, then ingest); replays are refused with the
  help of the desk's plugin state, so they are refused across processes too.
- the chat channel (:class:`ChatChannel`, registered as ``"chat"``): a widget's or web form's
  JSON, threaded by conversation; agents' replies come back through
  ``GET /conversations/{id}/messages`` and a server-sent-events stream.
- a JSON API (tickets, queue, next steps, metrics, dead letters; reply, status, assign,
  escalate) with hashed bearer tokens and scopes, described at ``/openapi.json``.
- ``GET /``: a self-contained live dashboard.

``supportkit serve`` (this package's :class:`ServeCommand`) runs it with uvicorn from the
configuration file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from supportkit import hookimpl
from supportkit.typing import Channel, Command

from ._app import create_app
from ._auth import SCOPES, hash_token
from ._chat import ChatChannel, ConversationLog
from ._serve import CONFIG_SCHEMA, ServeCommand
from ._signatures import SignatureScheme, Signed, SlackSignature, SupportkitSignature

__all__ = [
    "CONFIG_SCHEMA",
    "SCOPES",
    "ChatChannel",
    "ConversationLog",
    "ServeCommand",
    "SignatureScheme",
    "Signed",
    "SlackSignature",
    "SupportkitSignature",
    "create_app",
    "hash_token",
]


@hookimpl
def supportkit_register_channels(register: Callable[[str, Channel], None]) -> None:
    """The entry-point plugin: a fresh :class:`ChatChannel` named ``"chat"`` for each desk."""
    register("chat", ChatChannel())


@hookimpl
def supportkit_register_commands(register: Callable[[str, Command], None]) -> None:
    """The entry-point plugin: ``supportkit serve``."""
    register("serve", ServeCommand())


@hookimpl
def supportkit_config_section(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """The entry-point plugin: the ``[plugins.http]`` table (:data:`CONFIG_SCHEMA`)."""
    register("http", CONFIG_SCHEMA)
