"""SupportDesk with real plugin objects: policy sources, routing strategies, stores by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkit import (
    Agent,
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    PluginError,
    PolicyError,
    SlaPolicy,
    SqliteStore,
    Tier,
    hookimpl,
)
from supportkit._desk import SupportDesk
from supportkit._plugins import PluginHost
from supportkit._routing import AgentState, RoutedTicket, Router
from supportkit.testing import RecordingNotifier, registered_plugin
from supportkit.typing import EventStore

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
SOURCED = SlaPolicy.from_dict(
    {
        "name": "sourced",
        "targets": {"normal": {"first_reply": {"minutes": 30, "business": False}}},
    }
)


def message(number: int = 1, **fields: Any) -> InboundMessage:
    return InboundMessage(f"m-{number}", "email", f"c{number}@example.com", T0, **fields)


class PolicySource:
    """A plugin registering one SLA policy source."""

    def __init__(self, *policies: SlaPolicy) -> None:
        self.policies = policies

    @hookimpl
    def supportkit_register_sla_policy_sources(
        self, register: Callable[[str, Callable[[], Iterable[SlaPolicy]]], None]
    ) -> None:
        register("file", lambda: self.policies)


class Last:
    """A strategy that picks the last candidate (the default, least loaded, picks the first)."""

    def choose(self, ticket: RoutedTicket, candidates: Sequence[AgentState]) -> AgentState:
        return candidates[-1]


class Strategies:
    """A plugin registering the strategy ``last`` and choosing it (by name) for queue *queue*."""

    def __init__(self, queue: str, answer: object = "last") -> None:
        self.queue = queue
        self.answer = answer
        self.asked: list[str] = []

    @hookimpl
    def supportkit_register_routing_strategies(
        self, register: Callable[[str, Callable[[], Last]], None]
    ) -> None:
        register("last", Last)

    @hookimpl
    def supportkit_routing_strategy(self, queue: str) -> object:
        self.asked.append(queue)
        return self.answer if queue == self.queue else None


class Stores:
    """A plugin registering a store factory that records its options."""

    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def open(self, **options: Any) -> EventStore:
        self.options.append(options)
        return InMemoryStore()

    @hookimpl
    def supportkit_register_stores(self, register: Callable[[str, Any], None]) -> None:
        register("recorded", self.open)


#: Customer c2's tickets go to the group "billing" (the queue of that name).
BILLING = Tier("gold", weight=10, dedicated_group="billing", watchlist={"c2@example.com"})


def routed_desk(*plugins: object) -> SupportDesk:
    agents = [Agent(f"a{n}", capacity={"email": 5}, groups={"billing"}) for n in (1, 2)]
    router = Router(agents, tiers=[BILLING], clock=FrozenClock(T0))
    return SupportDesk(
        store=InMemoryStore(),
        plugins=plugins,
        clock=FrozenClock(T0),
        router=router,
        tiers=[BILLING],
    )


def test_a_policy_sources_policies_join_the_desks_policies() -> None:
    """A plugin's policy source adds its policies after the explicit ones."""
    explicit = SlaPolicy.from_dict(
        {
            "name": "explicit",
            "targets": SOURCED.to_dict()["targets"],
            "conditions": {"tags": ["vip"]},
        }
    )
    desk = SupportDesk(store=InMemoryStore(), plugins=[PolicySource(SOURCED)], policies=[explicit])
    assert (explicit, SOURCED) == desk.policies


def test_an_ingested_ticket_gets_a_sourced_policy() -> None:
    """With no explicit policies, a ticket gets the policy a plugin's source provides."""
    desk = SupportDesk(
        store=InMemoryStore(), plugins=[PolicySource(SOURCED)], clock=FrozenClock(T0)
    )
    ticket_id = desk.ingest(message()).ticket_id
    assert "sourced" == desk.ticket(ticket_id).sla_policy


def test_an_explicit_policy_replaces_a_sourced_one_of_the_same_name() -> None:
    """Policy names stay unique: the explicit policy wins over a source's of that name."""
    explicit = SlaPolicy.from_dict({**SOURCED.to_dict(), "version": "2"})
    desk = SupportDesk(store=InMemoryStore(), plugins=[PolicySource(SOURCED)], policies=[explicit])
    assert (explicit,) == desk.policies


def test_the_routing_strategy_hook_chooses_a_registered_strategy_by_name() -> None:
    """The hook's answer for the ticket's queue (its tier's group) picks the agent."""
    desk = routed_desk(Strategies("billing"))
    ticket_id = desk.ingest(message(2)).ticket_id
    assert "a2" == desk.ticket(ticket_id).assignee


def test_other_queues_keep_the_routers_default_strategy() -> None:
    """A ``None`` answer (another queue) falls back to the router's strategy (least loaded)."""
    plugin = Strategies("billing")
    desk = routed_desk(plugin)
    ticket_id = desk.ingest(message()).ticket_id
    assert ("a1", ["default"]) == (desk.ticket(ticket_id).assignee, plugin.asked)


def test_the_routing_strategy_hook_may_return_a_strategy_object() -> None:
    """A strategy object answered by the hook is used as is."""
    desk = routed_desk(Strategies("default", answer=Last()))
    ticket_id = desk.ingest(message()).ticket_id
    assert "a2" == desk.ticket(ticket_id).assignee


def test_an_unknown_strategy_name_is_a_configuration_error() -> None:
    """A hook naming no registered or built-in strategy is refused, naming it."""
    desk = routed_desk(Strategies("default", answer="fastest"))
    with pytest.raises(ConfigurationError, match="'fastest'"):
        desk.ingest(message())


def test_a_store_is_opened_by_registered_name_with_its_options() -> None:
    """``store=<name>`` opens the plugin's store, passing ``store_options`` as arguments."""
    plugin = Stores()
    desk = SupportDesk(store="recorded", store_options={"size": 3}, plugins=[plugin])
    desk.ingest(message())
    assert ([{"size": 3}], 1) == (plugin.options, len(desk.store.ticket_ids()))


def test_store_sqlite_by_name_takes_its_path_as_an_option(tmp_path: Path) -> None:
    """``store="sqlite"`` opens the built-in SQLite store at ``store_options["path"]``."""
    path = tmp_path / "desk.sqlite3"
    with SupportDesk(store="sqlite", store_options={"path": path}) as desk:
        desk.ingest(message())
        assert isinstance(desk.store, SqliteStore)
    assert 1 == len(SqliteStore(path).ticket_ids())


def test_store_sqlite_by_name_defaults_to_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, ``store="sqlite"`` opens ``supportkit.sqlite3`` in the current directory."""
    monkeypatch.chdir(tmp_path)
    with SupportDesk(store="sqlite"):
        pass
    assert (tmp_path / "supportkit.sqlite3").exists()


def test_an_unknown_store_name_is_a_configuration_error() -> None:
    """A store name nobody registered is refused, naming the registered ones."""
    with pytest.raises(ConfigurationError, match=r"'nosuch'.*memory, sqlite"):
        SupportDesk(store="nosuch")


def test_a_store_refusing_its_options_names_them_without_their_values() -> None:
    """A store factory that fails on its options is a PluginError naming the options given,
    never their values (a URL holds a password); a name looked up with plugins=None says that
    no entry points were loaded."""

    class Strict(Stores):
        def open(self, **options: Any) -> EventStore:
            raise TypeError(f"unexpected keyword argument {sorted(options)[0]!r}")

    with pytest.raises(PluginError) as caught:
        SupportDesk(
            store="recorded",
            store_options={"url": "postgresql://u:s3cret@db/x", "bogus": 1},
            plugins=[Strict()],
        )
    assert "s3cret" not in str(caught.value)
    assert "options bogus, url" in str(caught.value)
    with pytest.raises(
        ConfigurationError, match=r"loads no entry points \(a desk made with plugins=None\)"
    ):
        SupportDesk(store="postgres", store_options={"url": "x"}, plugins=None)


class OwnPolicy:
    """A plugin that chooses its own policy (one the desk was not given) for every ticket."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer

    @hookimpl
    def supportkit_select_sla_policy(self, ticket: Any, policies: Any) -> SlaPolicy | None:
        return SOURCED if self.answer else None


def test_a_plugins_own_policy_applies_when_the_desk_has_no_policies() -> None:
    """The select hook is asked even when the desk was given no policies."""
    desk = SupportDesk(store=InMemoryStore(), plugins=[OwnPolicy()], clock=FrozenClock(T0))
    ticket_id = desk.ingest(message()).ticket_id
    assert "sourced" == desk.ticket(ticket_id).sla_policy


def test_a_plugins_own_policy_survives_a_restart(tmp_path: Path) -> None:
    """A new desk on the same store asks the plugin again and still reports the breach."""
    path = tmp_path / "desk.sqlite3"
    clock = FrozenClock(T0)
    with SupportDesk(store=SqliteStore(path), plugins=[OwnPolicy()], clock=clock) as desk:
        ticket_id = desk.ingest(message()).ticket_id
    clock.advance(timedelta(hours=1))
    with SupportDesk(store=SqliteStore(path), plugins=[OwnPolicy()], clock=clock) as desk:
        evaluation = desk.sla(ticket_id)
        assert evaluation is not None
        breaches = [(a.kind, a.metric) for a in evaluation.alerts() if a.kind != "warning"]
        assert [("breach", "first_reply")] == breaches


def test_an_unknown_recorded_policy_is_a_policy_error(tmp_path: Path) -> None:
    """After a restart without the plugin's answer, the ticket's policy is named, not skipped."""
    path = tmp_path / "desk.sqlite3"
    with SupportDesk(store=SqliteStore(path), plugins=[OwnPolicy()], clock=FrozenClock(T0)) as desk:
        ticket_id = desk.ingest(message()).ticket_id
    desk = SupportDesk(store=SqliteStore(path), plugins=[OwnPolicy(answer=False)])
    with desk, pytest.raises(PolicyError, match="'sourced'"):
        desk.sla(ticket_id)


class Blockable:
    """A plugin that registers a policy source, to see whether it was registered at all."""

    __name__ = "blockable"  # its plugin name

    @hookimpl
    def supportkit_register_sla_policy_sources(self, register: Callable[[str, Any], None]) -> None:
        register("blockable", lambda: [SOURCED])


def test_blocked_plugins_are_never_registered() -> None:
    """``blocked_plugins`` keeps a named plugin (here one given in ``plugins``) off the host."""
    desk = SupportDesk(store=InMemoryStore(), plugins=[Blockable()], blocked_plugins=["blockable"])
    assert ((), None) == (desk.policies, desk.plugins.host.get_plugin("blockable"))


def test_blocked_plugins_can_block_the_builtins() -> None:
    """The built-ins are the plugin ``supportkit.builtins``: blocked, its channel is gone."""
    desk = SupportDesk(store=InMemoryStore(), blocked_plugins=["supportkit.builtins"])
    assert "json" not in desk.plugins.host.channels()


def test_blocked_plugins_with_a_ready_host_is_refused() -> None:
    """A ready host's plugins are already registered: blocking them there is an error."""
    with pytest.raises(ConfigurationError, match="ready PluginHost"):
        SupportDesk(
            store=InMemoryStore(), plugins=PluginHost(), blocked_plugins=["supportkit.builtins"]
        )


@pytest.mark.parametrize(
    "target",
    [lambda desk: desk, lambda desk: desk.plugins, lambda desk: desk.plugins.host],
    ids=["desk", "desk.plugins", "desk.plugins.host"],
)
def test_registered_plugin_accepts_a_desk_its_plugins_or_its_host(
    target: Callable[[SupportDesk], object],
) -> None:
    """``registered_plugin`` registers on the desk's host however the desk is named, and
    unregisters after the block."""
    desk = SupportDesk(store=InMemoryStore(), plugins=None)
    notifier = RecordingNotifier("recorder")
    with registered_plugin(target(desk), notifier) as name:
        inside = list(desk.plugins.host.notifiers())
    assert (["recorder"], None) == (inside, desk.plugins.host.get_plugin(name))


def test_registered_plugin_refuses_other_objects() -> None:
    """Something without a plugin host is a ConfigurationError, not an AttributeError."""
    with pytest.raises(ConfigurationError, match="registered_plugin needs"):
        registered_plugin(object(), RecordingNotifier()).__enter__()
