"""Fake plugins for tests (re-exported by :mod:`supportkit.testing`).

Each fake is both the object a registration hook registers and a plugin that registers itself,
so ``PluginHost(plugins=[FakeChannel()])`` (or ``SupportDesk(plugins=[...])``) is all it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ._builtins import JsonChannel
from ._hookargs import Notice, OutboundReply
from ._model import Customer, InboundMessage, Tier
from ._plugins import PluginHost
from .exceptions import ConfigurationError
from .hookspecs import hookimpl
from .typing import Channel, CrmBackend, Notifier

__all__ = ["FakeChannel", "FakeCrm", "RecordingNotifier", "registered_plugin"]


class FakeChannel(JsonChannel):
    """A :class:`supportkit.typing.Channel` named *name* that records what it sends.

    It parses payloads like :class:`~supportkit.JsonChannel` (a dict of
    :class:`~supportkit.InboundMessage` fields), stamping them with channel *name*; ``sent``
    holds every :class:`~supportkit.OutboundReply` it was asked to send, and ``send`` returns
    ``"<name>-<n>"``. With *fail*, ``send`` raises that exception instead (after recording).
    """

    can_send = True
    """It sends (unlike the :class:`~supportkit.JsonChannel` it parses like)."""

    def __init__(self, name: str = "fake", *, fail: Exception | None = None) -> None:
        super().__init__(channel=name)
        self.name = name
        self.fail = fail
        self.received: list[InboundMessage] = []
        self.sent: list[OutboundReply] = []

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        """Parse *payload* as the JSON channel does and remember the message."""
        message = super().parse(payload, headers)
        self.received.append(message)
        return message

    def send(self, reply: OutboundReply) -> str | None:
        """Record *reply*; return its id or raise ``fail``."""
        self.sent.append(reply)
        if self.fail is not None:
            raise self.fail
        return f"{self.name}-{len(self.sent)}"

    @hookimpl
    def supportkit_register_channels(self, register: Callable[[str, Channel], None]) -> None:
        """Register this channel under its name."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<FakeChannel {self.name!r} received={len(self.received)} sent={len(self.sent)}>"


class FakeCrm:
    """A :class:`supportkit.typing.CrmBackend` answering from dicts.

    *customers* maps a sender address to its :class:`~supportkit.Customer`; *tiers* maps a
    tier name to its :class:`~supportkit.Tier` (found through ``customer.tier``). ``lookups``
    records every sender asked about.
    """

    def __init__(
        self,
        customers: Mapping[str, Customer] | None = None,
        tiers: Mapping[str, Tier] | None = None,
        *,
        name: str = "fake-crm",
    ) -> None:
        self.name = name
        self.customers = dict(customers or {})
        self.tiers = dict(tiers or {})
        self.lookups: list[str] = []

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        """The customer registered for ``message.sender``, if any."""
        self.lookups.append(message.sender)
        return self.customers.get(message.sender)

    def lookup_tier(self, customer: Customer) -> Tier | None:
        """The tier named by ``customer.tier``, if known."""
        return None if customer.tier is None else self.tiers.get(customer.tier)

    @hookimpl
    def supportkit_register_crm_backends(self, register: Callable[[str, CrmBackend], None]) -> None:
        """Register this backend under its name."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<FakeCrm {self.name!r} customers={len(self.customers)}>"


class RecordingNotifier:
    """A :class:`supportkit.typing.Notifier` that keeps every notice in ``notices``.

    With *fail*, ``notify`` raises that exception after recording (to test failure handling).
    """

    def __init__(self, name: str = "recording", *, fail: Exception | None = None) -> None:
        self.name = name
        self.fail = fail
        self.notices: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        """Record *notice*, then raise ``fail`` if set."""
        self.notices.append(notice)
        if self.fail is not None:
            raise self.fail

    @property
    def kinds(self) -> list[str]:
        """The kinds of the recorded notices, in order."""
        return [notice.kind for notice in self.notices]

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Notifier], None]) -> None:
        """Register this notifier under its name."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<RecordingNotifier {self.name!r} notices={len(self.notices)}>"


@contextmanager
def registered_plugin(host: object, plugin: object, *, name: str | None = None) -> Iterator[str]:
    """Register *plugin* on *host* for the ``with`` block and always unregister it after.

    Yields the plugin's registered name. *host* is a plugin host or a desk
    (``registered_plugin(desk, plugin)``; ``desk.plugins`` works too), which registers on the
    desk's host. Anything else is a :class:`~supportkit.ConfigurationError`.
    """
    host = _plugin_host(host)
    registered = host.register(plugin, name=name)
    try:
        yield registered
    finally:
        if host.get_plugin(registered) is plugin:
            host.unregister(registered)


def _plugin_host(target: object) -> PluginHost:
    """The :class:`PluginHost` of a host, a desk (``desk.plugins.host``) or a desk's plugins."""
    for attribute in ("plugins", "host"):  # SupportDesk -> DeskPlugins -> PluginHost
        if not isinstance(target, PluginHost):
            target = getattr(target, attribute, target)
    if not isinstance(target, PluginHost):
        raise ConfigurationError(
            f"registered_plugin needs a SupportDesk or its plugin host, got {target!r}"
        )
    return target
