"""PluginHost: registration, lookups, channels, broadcasts and failure isolation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from supportkit import (
    ConfigurationError,
    Customer,
    EventError,
    InboundMessage,
    InMemoryStore,
    IntegrationError,
    JsonChannel,
    LogNotifier,
    OutboundReply,
    PluginError,
    RoundRobin,
    SlaPolicy,
    SqliteStore,
    StatusChanged,
    Ticket,
    TicketEvent,
    Tier,
    hookimpl,
)
from supportkit._plugins import PluginHost
from supportkit.testing import FakeChannel, FakeCrm, RecordingNotifier, registered_plugin

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
MESSAGE = InboundMessage("m-1", "email", "ann@example.com", AT, body="help")


def host(*plugins: object, **options: Any) -> PluginHost:
    """A host without installed plugins, so tests see only what they register."""
    return PluginHost(plugins, load_entrypoints=False, **options)


def status_notice() -> StatusChanged:
    created = TicketEvent("created", ticket_id="T-1", at=AT)
    change = TicketEvent("status_changed", ticket_id="T-1", at=AT, data={"to": "open"})
    return StatusChanged(Ticket.from_events([created, change]), change, "new")


def reply(channel: str = "fake") -> OutboundReply:
    created = TicketEvent("created", ticket_id="T-1", at=AT, data={"channel": channel})
    event = TicketEvent("message", ticket_id="T-1", at=AT, by="agent", data={"body": "hi"})
    return OutboundReply(Ticket.from_events([created]), event, recipient="ann@example.com")


class Named:
    """A plugin object whose hookimpls are attached per test."""

    def __init__(self, **impls: Callable[..., Any]) -> None:
        for name, function in impls.items():
            setattr(self, name, hookimpl(function))


# --- registration -------------------------------------------------------------------------------


def test_builtins_register_stores_json_channel_and_log_notifier() -> None:
    """The built-in plugin registers through the hooks like any other plugin."""
    plugins = host()
    assert ["supportkit.builtins"] == plugins.plugin_names()
    assert {"memory": InMemoryStore, "sqlite": SqliteStore} == dict(plugins.stores())
    assert ["json"] == list(plugins.channels())
    assert isinstance(plugins.channels()["json"], JsonChannel)
    assert isinstance(plugins.notifiers()["log"], LogNotifier)


def test_builtins_can_be_blocked() -> None:
    """A blocked built-in registers nothing."""
    plugins = host(blocked=["supportkit.builtins"])
    assert [] == plugins.plugin_names()
    assert {} == dict(plugins.stores())


def test_misspelled_hookimpl_is_a_plugin_error_with_a_suggestion() -> None:
    """check_pending: a hookimpl without a hookspec is refused at registration, by name."""
    plugins = host()
    with pytest.raises(PluginError, match="did you mean 'supportkit_ticket_created'") as info:
        plugins.register(Named(supportkit_ticket_craeted=lambda notice: None), name="typo")
    assert "typo" == info.value.plugin
    assert ["supportkit.builtins"] == plugins.plugin_names()


def test_misspelled_hookimpl_fails_at_construction() -> None:
    """Plugins handed to the constructor are checked right away."""
    with pytest.raises(PluginError, match="unknown hook 'supportkit_nope'"):
        host(Named(supportkit_nope=lambda: None))


def test_hookimpl_with_an_unknown_argument_is_refused() -> None:
    """An argument the hookspec does not have is a PluginError, and nothing stays registered."""
    plugins = host()
    with pytest.raises(PluginError, match="declares a hook wrongly") as info:
        plugins.register(Named(supportkit_lookup_customer=lambda sender: None), name="bad-arg")
    assert "bad-arg" == info.value.plugin
    assert None is plugins.get_plugin("bad-arg")


def test_hook_wrappers_are_refused() -> None:
    """supportkit calls hookimpls one by one, so wrappers are refused at registration."""

    class Wrapper:
        @hookimpl(wrapper=True)
        def supportkit_status_changed(self, notice: Any) -> Any:
            return (yield)

    with pytest.raises(PluginError, match="hook wrapper"):
        host().register(Wrapper(), name="wrapper")


def test_same_plugin_name_twice_is_refused() -> None:
    """Two plugins may not share a name; the error says how to pick another."""
    plugins = host()
    plugins.register(RecordingNotifier(), name="n")
    with pytest.raises(PluginError, match="pass another name"):
        plugins.register(RecordingNotifier("other"), name="n")


def test_blocked_plugin_cannot_be_registered() -> None:
    """Blocking a name refuses an explicit registration too."""
    with pytest.raises(PluginError, match="blocked"):
        host(blocked=["x"]).register(RecordingNotifier(), name="x")


def test_duplicate_registered_name_names_both_plugins() -> None:
    """Two plugins registering the same channel name is an error naming both."""
    plugins = host(FakeChannel("chat"))
    first = r"channel 'chat' is registered twice, by plugin 'supportkit\._fakes\.FakeChannel'"
    with pytest.raises(PluginError, match=first) as info:
        plugins.register(FakeChannel("chat"), name="second")
    assert "second" == info.value.plugin
    assert ["chat", "json"] == sorted(plugins.channels())
    assert None is plugins.get_plugin("second")


def test_duplicate_name_among_initial_plugins_fails_at_construction() -> None:
    """A clash with a built-in shows when the host is created."""
    with pytest.raises(PluginError, match=r"^notifier 'log' is registered twice") as info:
        host(RecordingNotifier("log"))
    assert "supportkit.builtins" == info.value.plugin


def test_registered_object_must_fit_the_protocol() -> None:
    """Registering something that is not a supportkit.typing.Notifier is refused."""

    class Wrong:
        @hookimpl
        def supportkit_register_notifiers(self, register: Any) -> None:
            register("wrong", object())

    with pytest.raises(PluginError, match=r"not supportkit\.typing\.Notifier"):
        host(Wrong())


def test_registration_hook_is_historic_for_late_plugins() -> None:
    """A plugin registered after the host is in use still gets its registration hook called."""
    plugins = host()
    assert "recording" not in plugins.notifiers()
    notifier = RecordingNotifier()
    plugins.register(notifier)
    assert notifier is plugins.notifiers()["recording"]


def test_unregister_removes_what_the_plugin_registered() -> None:
    """Unregistering a plugin drops its channels, notifiers and the rest."""
    plugins = host()
    name = plugins.register(FakeChannel("chat"))
    plugins.unregister(name)
    assert ["json"] == list(plugins.channels())
    with pytest.raises(ConfigurationError, match="no plugin named"):
        plugins.unregister(name)


def test_hosts_do_not_share_plugins() -> None:
    """Each host owns its own PluginManager."""
    first, second = host(), host()
    first.register(RecordingNotifier())
    assert ["log"] == list(second.notifiers())


def test_store_factory_unknown_name_lists_the_known_ones() -> None:
    """A store name nobody registered is a ConfigurationError listing the registered ones."""
    plugins = host()
    assert InMemoryStore is plugins.store_factory("memory")
    with pytest.raises(ConfigurationError, match=r"no store named 'pg' .*registered: memory"):
        plugins.store_factory("pg")


# --- order and firstresult ----------------------------------------------------------------------


def test_call_order_is_tryfirst_application_builtins_trylast() -> None:
    """Application plugins come before built-ins; tryfirst/trylast work as in pluggy."""

    def plugin(**options: bool) -> object:
        class Plugin:
            @hookimpl(**options)
            def supportkit_status_changed(self, notice: Any) -> None:
                return None

        return Plugin()

    plugins = host()
    plugins.register(plugin(trylast=True), name="last")
    plugins.register(plugin(), name="older")
    plugins.register(plugin(), name="newer")
    plugins.register(plugin(tryfirst=True), name="first")
    expected = ["first", "newer", "older", "last", "notifier:log"]
    assert expected == plugins.receivers("status_changed")
    assert "supportkit.builtins" == plugins.plugin_names()[-1]


def test_lookup_stops_at_first_non_none_result() -> None:
    """firstresult: the first answer wins and later plugins are not asked."""
    asked: list[str] = []

    def answer(name: str, result: Customer | None) -> Named:
        def lookup(message: InboundMessage) -> Customer | None:
            asked.append(name)
            return result

        return Named(supportkit_lookup_customer=lookup)

    plugins = host()
    plugins.register(answer("c", Customer("late")), name="c")
    plugins.register(answer("b", Customer("ann")), name="b")
    plugins.register(answer("a", None), name="a")
    assert Customer("ann") == plugins.lookup_customer(message=MESSAGE)
    assert ["a", "b"] == asked


def test_lookup_falls_back_to_crm_backends() -> None:
    """Without a hookimpl answer, the registered CRM backends are asked."""
    gold = Tier("gold", weight=10)
    crm = FakeCrm({"ann@example.com": Customer("C-1", tier="gold")}, {"gold": gold})
    plugins = host(crm)
    customer = plugins.lookup_customer(message=MESSAGE)
    assert Customer("C-1", tier="gold") == customer
    assert customer is not None
    assert gold == plugins.lookup_tier(customer=customer, message=MESSAGE)
    assert ["ann@example.com"] == crm.lookups


def test_lookup_of_unknown_sender_is_none() -> None:
    """Nobody knowing the sender is not an error."""
    assert None is host(FakeCrm()).lookup_customer(message=MESSAGE)


def test_lookup_returning_the_wrong_type_is_a_plugin_error() -> None:
    """A lookup must return a Customer or None; anything else names the plugin."""
    plugins = host(Named(supportkit_lookup_customer=lambda message: "ann"))
    with pytest.raises(PluginError, match=r"return a supportkit\.Customer or None") as info:
        plugins.lookup_customer(message=MESSAGE)
    assert "tests.test_plugins.Named" == info.value.plugin


def test_hookimpl_may_take_a_subset_of_the_arguments() -> None:
    """A hookimpl declares only the arguments it needs."""
    plugins = host(Named(supportkit_lookup_tier=lambda customer: Tier(customer.id, weight=1)))
    assert Tier("C-1", weight=1) == plugins.lookup_tier(customer=Customer("C-1"))


def test_plugin_exception_in_a_lookup_is_wrapped_with_the_plugin_name() -> None:
    """A plugin's own exception never escapes unwrapped; the original is the cause."""

    def boom(message: InboundMessage) -> None:
        raise KeyError("crm down")

    plugins = host()
    plugins.register(Named(supportkit_lookup_customer=boom), name="crm")
    expected = "plugin 'crm' failed in supportkit_lookup_customer"
    with pytest.raises(PluginError, match=expected) as info:
        plugins.lookup_customer(message=MESSAGE)
    assert isinstance(info.value.__cause__, KeyError)


def policy(name: str) -> SlaPolicy:
    return SlaPolicy.from_dict(
        {"name": name, "targets": {"normal": {"first_reply": {"hours": 1, "business": False}}}}
    )


def test_select_sla_policy_returns_the_plugin_choice() -> None:
    """select_sla_policy: the plugin picks among the configured policies."""
    ticket = status_notice().ticket
    standard, gold = policy("standard"), policy("gold")
    plugins = host(Named(supportkit_select_sla_policy=lambda policies: policies[-1]))
    assert gold == plugins.select_sla_policy(ticket=ticket, policies=[standard, gold])


def test_select_sla_policy_must_return_a_policy() -> None:
    """A policy name instead of a SlaPolicy is refused, naming the plugin."""
    plugins = host(Named(supportkit_select_sla_policy=lambda: "gold"))
    with pytest.raises(PluginError, match=r"return a supportkit\.SlaPolicy or None"):
        plugins.select_sla_policy(ticket=status_notice().ticket, policies=[])


def test_routing_strategy_lookup() -> None:
    """routing_strategy returns a strategy with choose(), or None for the default."""
    chooser = Named(supportkit_routing_strategy=lambda queue: RoundRobin() if queue else None)
    plugins = host(chooser)
    assert RoundRobin() == plugins.routing_strategy(queue="vip")
    assert None is plugins.routing_strategy(queue="")


def test_routing_strategy_without_choose_is_refused() -> None:
    """Something that cannot choose an agent is a PluginError."""
    plugins = host(Named(supportkit_routing_strategy=lambda: 42))
    with pytest.raises(PluginError, match=r"return a supportkit\.SelectionStrategy"):
        plugins.routing_strategy(queue="vip")


def test_sla_policy_sources_are_concatenated_in_registration_order() -> None:
    """sla_policies() asks every registered source."""
    first, second, third = policy("p1"), policy("p2"), policy("p3")

    class Sources:
        @hookimpl
        def supportkit_register_sla_policy_sources(self, register: Any) -> None:
            register("file", lambda: [first, second])
            register("db", lambda: [third])

    assert [first, second, third] == host(Sources()).sla_policies()


def test_failing_sla_policy_source_is_named() -> None:
    """A source that raises is a PluginError naming the source."""

    class Broken:
        @hookimpl
        def supportkit_register_sla_policy_sources(self, register: Any) -> None:
            register("db", lambda: 1 / 0)

    with pytest.raises(PluginError) as info:
        host(Broken()).sla_policies()
    assert "sla_policy_source:db" == info.value.plugin


# --- channels -----------------------------------------------------------------------------------


def test_parse_inbound_through_the_builtin_json_channel() -> None:
    """The built-in "json" channel turns a JSON webhook body into an InboundMessage."""
    payload = b'{"id": "evt-1", "from": "ann@example.com", "at": 1740992400, "text": "hi"}'
    message = host().parse_inbound(channel="json", payload=payload)
    expected = InboundMessage("evt-1", "api", "ann@example.com", AT, body="hi")
    assert expected == message


@pytest.mark.parametrize("at", [10**20, -(10**20)])
def test_json_channel_out_of_range_epoch_is_an_event_error(at: int) -> None:
    """An epoch ``at`` no datetime can hold is a bad payload (EventError naming the field),
    not a failing plugin."""
    payload = {"from": "ann@example.com", "at": at}
    with pytest.raises(EventError, match="out of range") as info:
        host().parse_inbound(channel="json", payload=payload)
    assert "at" == info.value.field


def test_json_channel_stamps_api_unless_the_payload_names_a_channel() -> None:
    """The "json" endpoint's messages come through the API; a payload's channel field wins."""
    channel = host().channels()["json"]
    plain = channel.parse({"from": "ann@example.com", "at": 1740992400}, {})
    chat = channel.parse({"from": "ann@example.com", "at": 1740992400, "channel": "chat"}, {})
    assert ("api", "chat") == (plain.channel, chat.channel)


def test_parse_inbound_hookimpl_answers_before_registered_channels() -> None:
    """A supportkit_parse_inbound hookimpl answers first; None lets the channel answer."""

    def parse(channel: str, payload: Any) -> InboundMessage | None:
        return MESSAGE if payload == "mine" else None

    plugins = host(Named(supportkit_parse_inbound=parse))
    assert MESSAGE == plugins.parse_inbound(channel="json", payload="mine")
    parsed = plugins.parse_inbound(channel="json", payload={"from": "bob", "at": 0})
    assert "bob" == parsed.sender


def test_parse_inbound_invalid_payload_is_an_event_error() -> None:
    """An invalid payload is the caller's problem (EventError), not a plugin failure."""
    with pytest.raises(EventError, match="missing field 'sender'") as info:
        host().parse_inbound(channel="json", payload={"at": 0})
    assert "sender" == info.value.field


def test_parse_inbound_unknown_channel_is_a_configuration_error() -> None:
    """A channel nobody handles says which channels exist."""
    with pytest.raises(ConfigurationError, match=r"channel 'sms' \(registered channels: json\)"):
        host().parse_inbound(channel="sms", payload=b"")


def test_parse_inbound_crash_is_a_plugin_error() -> None:
    """Anything but EventError from a parser is wrapped with the plugin's name."""

    def parse(payload: Any) -> None:
        raise RuntimeError("bug")

    with pytest.raises(PluginError, match="RuntimeError: bug"):
        host(Named(supportkit_parse_inbound=parse)).parse_inbound(channel="x", payload=b"")


def test_send_reply_goes_to_the_channel_of_the_ticket() -> None:
    """send_reply dispatches on reply.channel and returns the channel's message id."""
    channel = FakeChannel("fake")
    outgoing = reply("fake")
    assert "fake-1" == host(channel).send_reply(reply=outgoing)
    assert [outgoing] == channel.sent


def test_send_reply_failure_is_a_plugin_error_caused_by_the_integration_error() -> None:
    """A channel's IntegrationError reaches the caller as the PluginError's cause."""
    channel = FakeChannel("fake", fail=IntegrationError("smtp down"))
    with pytest.raises(PluginError) as info:
        host(channel).send_reply(reply=reply("fake"))
    assert "channel:fake" == info.value.plugin
    assert isinstance(info.value.__cause__, IntegrationError)


def test_send_reply_without_a_sending_channel_is_a_configuration_error() -> None:
    """The JSON channel only receives, so nobody sends on its channel."""
    with pytest.raises(ConfigurationError, match="no plugin sends replies on channel 'json'"):
        host().send_reply(reply=reply("json"))


# --- broadcasts ---------------------------------------------------------------------------------


def test_failing_plugin_does_not_stop_the_others() -> None:
    """Every receiver runs; each failure comes back as a PluginError naming the receiver."""
    seen: list[str] = []

    def fail(notice: StatusChanged) -> None:
        raise ValueError("nope")

    recorder = RecordingNotifier()
    broken = RecordingNotifier("broken", fail=OSError("disk full"))
    plugins = host(recorder, broken)
    plugins.register(Named(supportkit_status_changed=fail), name="fails")
    plugins.register(Named(supportkit_status_changed=lambda notice: seen.append("ok")), name="ok")
    notice = status_notice()
    failures = plugins.status_changed(notice=notice)
    assert ["ok"] == seen
    assert [notice] == recorder.notices
    assert ["fails", "notifier:broken"] == [error.plugin for error in failures]
    assert [ValueError, OSError] == [type(error.__cause__) for error in failures]


def test_notify_only_reaches_the_named_receivers() -> None:
    """An outbox retry reaches just the receivers that failed."""
    first, second = RecordingNotifier("first"), RecordingNotifier("second")
    plugins = host(first, second)
    assert [] == plugins.notify(status_notice(), only={"notifier:second"})
    assert ([], 1) == (first.notices, len(second.notices))


def test_typed_broadcast_refuses_the_wrong_notice() -> None:
    """ticket_created(notice=...) takes a TicketCreated only."""
    with pytest.raises(EventError, match=r"expected a supportkit\.TicketCreated"):
        host().ticket_created(notice=status_notice())  # type: ignore[arg-type]


def test_notify_refuses_what_is_not_a_notice() -> None:
    """notify() dispatches on the notice's class and refuses anything else."""
    with pytest.raises(EventError, match="expected a notice"):
        host().notify("ticket_created")  # type: ignore[arg-type]


def test_receivers_of_an_unknown_kind_is_an_error() -> None:
    """receivers() names the valid kinds."""
    with pytest.raises(EventError, match="unknown notice kind 'sla_brached'"):
        host().receivers("sla_brached")


def test_log_notifier_logs_one_line_per_notice(caplog: pytest.LogCaptureFixture) -> None:
    """The built-in log notifier writes kind, ticket and instant to supportkit.notify."""
    caplog.set_level(logging.INFO, logger="supportkit.notify")
    assert [] == host().notify(status_notice())
    assert ["status_changed T-1 at 2025-03-03T09:00:00+00:00"] == caplog.messages


# --- testing helpers ----------------------------------------------------------------------------


def test_registered_plugin_unregisters_even_when_the_block_fails() -> None:
    """The context manager always unregisters."""
    plugins = host()
    seen: list[str] = []

    def use_and_fail() -> None:
        with registered_plugin(plugins, RecordingNotifier()):
            seen.extend(plugins.notifiers())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        use_and_fail()
    assert ["log", "recording"] == seen
    assert ["log"] == list(plugins.notifiers())


def test_register_plugin_fixture_registers_for_this_test(
    plugin_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    """The fixture registers the plugin (and unregisters it at teardown)."""
    name = register_plugin(plugin_host, RecordingNotifier(), name="rec")
    assert "rec" == name
    assert "recording" in plugin_host.notifiers()


def test_implementers_lists_the_plugins_of_a_hook_in_call_order() -> None:
    """implementers() names who implements a hook; an unknown hook is an error."""
    plugins = host(FakeChannel("chat"))
    plugins.register(Named(supportkit_send_reply=lambda reply: None), name="sender")
    assert ["sender"] == plugins.implementers("supportkit_send_reply")
    with pytest.raises(ConfigurationError, match="unknown hook 'supportkit_send'"):
        plugins.implementers("supportkit_send")
