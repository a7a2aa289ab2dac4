"""Plugin commands and pollers: supportkit_register_commands, supportkit_register_pollers."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from supportkit import (
    ConfigurationError,
    FrozenClock,
    InMemoryStore,
    PluginError,
    SupportDesk,
    hookimpl,
)
from supportkit._cli import build_parser, main
from supportkit._plugins import PluginHost
from supportkit.testing import FakeChannel
from supportkit.typing import Command, Poller

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


class Hello:
    """A supportkit.typing.Command: ``supportkit hello --name NAME``."""

    help = "say hello"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", default="world")

    def run(self, args: argparse.Namespace) -> int:
        if self.fail is not None:
            raise self.fail
        print(f"hello {args.name}")
        return 0


class CommandPlugin:
    def __init__(self, name: str, command: object) -> None:
        self.name, self.command = name, command

    @hookimpl
    def supportkit_register_commands(self, register: Callable[[str, Any], None]) -> None:
        register(self.name, self.command)


def host(*plugins: object) -> PluginHost:
    return PluginHost(plugins=plugins, load_entrypoints=False)


def test_a_plugin_command_is_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """The registered command gets its own arguments and runs with them."""
    plugins = host(CommandPlugin("hello", Hello()))
    assert isinstance(plugins.commands()["hello"], Command)
    assert 0 == main(["hello", "--name", "Ann"], host=plugins)
    assert "hello Ann\n" == capsys.readouterr().out


def test_help_lists_plugin_commands() -> None:
    """``supportkit --help`` shows the plugin's command with its help line."""
    text = build_parser(host(CommandPlugin("hello", Hello()))).format_help()
    assert "hello" in text
    assert "say hello" in text


def test_a_built_in_name_wins(capsys: pytest.CaptureFixture[str]) -> None:
    """A plugin command named like a built-in is left out, with a warning."""
    assert 0 == main(["version"], host=host(CommandPlugin("version", Hello())))
    captured = capsys.readouterr()
    assert captured.out.startswith("supportkit ")
    assert "plugin command 'version' has the name of a built-in command" in captured.err


def test_a_failing_command_exits_1_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A command's foreign exception is reported as a PluginError: exit 1, no traceback."""
    plugins = host(CommandPlugin("hello", Hello(fail=RuntimeError("port taken"))))
    assert 1 == main(["hello"], host=plugins)
    assert "command 'hello' failed: RuntimeError: port taken" in capsys.readouterr().err


def test_a_command_that_cannot_add_its_arguments_reports_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """add_arguments failing leaves the command listed; running it exits 1 saying why, and
    the other commands still work."""

    class Broken(Hello):
        def add_arguments(self, parser: argparse.ArgumentParser) -> None:
            raise ValueError("bad option")

    plugins = host(CommandPlugin("broken", Broken()))
    assert 1 == main(["broken"], host=plugins)
    assert "add_arguments failed: ValueError: bad option" in capsys.readouterr().err
    assert 0 == main(["version"], host=plugins)


def test_registering_a_non_command_is_a_plugin_error() -> None:
    """An object without help/add_arguments/run is refused at registration."""
    with pytest.raises(PluginError, match=r"supportkit\.typing\.Command"):
        host(CommandPlugin("nope", object()))


# --- pollers -------------------------------------------------------------------------------------


class Inbox:
    """A poller feeding a desk from a list of JSON payloads (a stand-in for a mailbox)."""

    def __init__(self, desk: SupportDesk, options: Mapping[str, Any]) -> None:
        self.desk = desk
        self.channel = options["channel"]
        self.waiting = list(options["messages"])
        self.closed = False

    def poll(self) -> int:
        batch, self.waiting = self.waiting, []
        for payload in batch:
            self.desk.receive(self.channel, payload)
        return len(batch)

    def close(self) -> None:
        self.closed = True


class PollerPlugin:
    def __init__(self, factory: Callable[..., Any] = Inbox) -> None:
        self.factory = factory

    @hookimpl
    def supportkit_register_pollers(self, register: Callable[[str, Any], None]) -> None:
        register("inbox", self.factory)


def desk_with(*plugins: object) -> SupportDesk:
    return SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0), plugins=host(*plugins))


def test_a_registered_poller_feeds_its_desk() -> None:
    """new_poller makes the registered poller for a desk; poll() counts what it handled."""
    desk = desk_with(PollerPlugin(), FakeChannel("email"))
    message = {"id": "m-1", "from": "ann@example.com", "at": T0.isoformat()}
    options = {"channel": "email", "messages": [message]}
    poller = desk.plugins.host.new_poller("inbox", desk, options)
    assert isinstance(poller, Poller)
    assert (["inbox"], 1, 0) == (list(desk.plugins.host.pollers()), poller.poll(), poller.poll())
    assert 1 == len(desk.tickets())
    poller.close()
    assert isinstance(poller, Inbox)
    assert poller.closed


def test_an_unknown_poller_is_a_configuration_error() -> None:
    """Asking for a poller nobody registered names the registered ones."""
    desk = desk_with(PollerPlugin())
    with pytest.raises(ConfigurationError, match=r"no poller named 'imap'.*registered: inbox"):
        desk.plugins.host.new_poller("imap", desk, {})


def test_a_failing_poller_factory_is_a_plugin_error() -> None:
    """A factory's own exception is wrapped, naming the poller; bad results are refused."""
    desk = desk_with(PollerPlugin())
    with pytest.raises(PluginError, match="making a poller") as info:
        desk.plugins.host.new_poller("inbox", desk, {})  # KeyError: 'channel'
    assert "poller:inbox" == info.value.plugin
    other = desk_with(PollerPlugin(lambda desk, options: "not a poller"))
    with pytest.raises(PluginError, match=r"supportkit\.typing\.Poller"):
        other.plugins.host.new_poller("inbox", other, {})


def test_a_poller_factory_configuration_error_passes_through() -> None:
    """A SupportkitError from the factory (bad options) reaches the caller unchanged."""

    def strict(desk: SupportDesk, options: Mapping[str, Any]) -> Poller:
        raise ConfigurationError("pollers.inbox: 'host' is required")

    desk = desk_with(PollerPlugin(strict))
    with pytest.raises(ConfigurationError, match="'host' is required"):
        desk.plugins.host.new_poller("inbox", desk, {})


def test_a_poller_factory_must_be_callable() -> None:
    """Registering something that cannot make pollers is refused at registration."""
    with pytest.raises(PluginError, match="poller factory"):
        host(PollerPlugin("inbox"))  # type: ignore[arg-type]
