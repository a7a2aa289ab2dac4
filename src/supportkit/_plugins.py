"""``PluginHost``: the one typed facade over a ``pluggy.PluginManager``.

Each host owns its own manager, so two desks in one process never share plugins. The host
registers the built-in plugins and the plugins it is given when it is created, and loads the
``supportkit`` entry-point group lazily (on first use) and once. Every hook has one typed
method here, called with keyword arguments.

Supportkit calls each hookimpl itself, one at a time (pluggy's own loop would stop at the first
exception and could not say whose it was), in pluggy's order with one refinement: ``tryfirst``
impls, then plugins the application registered (newest first), then entry-point plugins, then
built-ins, then ``trylast`` impls. Any exception a plugin raises is wrapped in a
:class:`~supportkit.PluginError` whose ``plugin`` names it (``"<registry>:<name>"`` for an object
registered through a ``register`` callable, such as ``"notifier:webhook"``), with the original as
``__cause__``. Broadcasts never raise for a plugin's failure: they run every receiver and return
the failures, so the caller (the desk's outbox) can log them and retry just those receivers.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import math
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, runtime_checkable

import pluggy

from . import hookspecs
from ._hookargs import (
    NOTICE_TYPES,
    ArticleChanged,
    EventAppended,
    Notice,
    OutboundReply,
    SatisfactionReceived,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
)
from ._knowledge import ArticleHit
from ._model import Customer, InboundMessage, Tier
from ._problems import ProblemSuggestion
from ._routing import STRATEGY_NAMES, SelectionStrategy
from ._sla import SlaPolicy
from ._ticket import Ticket
from .exceptions import ConfigurationError, EventError, Ignored, PluginError, SupportkitError
from .hookspecs import PROJECT_NAME
from .typing import (
    Channel,
    Command,
    CrmBackend,
    IssueTracker,
    Notifier,
    Poller,
    PollerFactory,
    RoutingStrategyFactory,
    SlaPolicySource,
    StoreFactory,
)

__all__ = ["BUILTIN_PLUGINS", "PluginHost"]

#: Built-in plugins: registered name -> module. Each registers through the same hooks as any
#: other plugin; add a module here to make its hookimpls built in (the desk's SQLite store).
BUILTIN_PLUGINS: Mapping[str, str] = {"supportkit.builtins": "supportkit._builtins"}

# Where a plugin came from; lower ranks are called first (the application's choice wins).
_APPLICATION, _ENTRY_POINT, _BUILTIN = 0, 1, 2

#: Registry name -> (registration hook, what registered objects must be, its description).
_REGISTRIES: Mapping[str, tuple[str, type | None, str]] = {
    "channel": ("supportkit_register_channels", Channel, "supportkit.typing.Channel"),
    "crm": ("supportkit_register_crm_backends", CrmBackend, "supportkit.typing.CrmBackend"),
    "notifier": ("supportkit_register_notifiers", Notifier, "supportkit.typing.Notifier"),
    "store": ("supportkit_register_stores", None, "a store factory (callable)"),
    "routing_strategy": (
        "supportkit_register_routing_strategies",
        None,
        "a routing strategy factory (callable)",
    ),
    "sla_policy_source": (
        "supportkit_register_sla_policy_sources",
        None,
        "an SLA policy source (callable)",
    ),
    "command": ("supportkit_register_commands", Command, "supportkit.typing.Command"),
    "poller": ("supportkit_register_pollers", None, "a poller factory (callable)"),
    "issue_tracker": (
        "supportkit_register_issue_trackers",
        IssueTracker,
        "supportkit.typing.IssueTracker",
    ),
    "config_section": (
        "supportkit_config_section",
        Mapping,
        "a JSON Schema fragment (a mapping) for the plugin's [plugins.<section>] table",
    ),
}

_T = TypeVar("_T")


def _wants(notifier: object, kind: str) -> bool:
    """Whether *notifier* takes notices of *kind*: the kinds in its optional ``notices``
    attribute, else every kind."""
    notices = getattr(notifier, "notice_kinds", None)
    return notices is None or kind in notices


def _check_notices(owner: str, name: str, notifier: object) -> None:
    """A notifier's ``notice_kinds`` must be a collection of notice kinds (a typo would silently
    starve it), else :class:`PluginError`."""
    notices = getattr(notifier, "notice_kinds", None)
    if notices is None:
        return
    if isinstance(notices, str) or not isinstance(notices, Collection):
        bad: object = notices
    else:
        bad = next((kind for kind in notices if kind not in NOTICE_TYPES), None)
        if bad is None:
            return
    raise PluginError(
        f"plugin {owner!r} registered notifier {name!r} whose notice_kinds include {bad!r}: "
        f"notice_kinds is a collection of notice kinds ({', '.join(NOTICE_TYPES)}), or leave it "
        "out for every kind",
        plugin=owner,
    )


@runtime_checkable
class _Strategy(SelectionStrategy, Protocol):
    """``SelectionStrategy``, checkable at run time (a result must have ``choose``)."""


_Strategy.__module__, _Strategy.__qualname__ = "supportkit", "SelectionStrategy"


def _wrap(exc: Exception, plugin: str, what: str) -> PluginError:
    """A :class:`PluginError` for *exc* raised by *plugin* while doing *what*."""
    error = PluginError(
        f"plugin {plugin!r} failed in {what}: {type(exc).__name__}: {exc}", plugin=plugin
    )
    error.__cause__ = exc
    return error


def _plugin_name(plugin: object, taken: Collection[str]) -> str:
    """A readable default name: a module's or class's ``__name__``, else the object's class
    (``#2``, ``#3``, ... appended for further objects of one class)."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and name:
        return name
    name = base = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
    number = 1
    while name in taken:
        number += 1
        name = f"{base}#{number}"
    return name


class PluginHost:
    """Owns one ``pluggy.PluginManager`` and calls every hook through a typed method.

    *plugins* are modules or objects with ``@supportkit.hookimpl`` functions, registered now
    (a misdeclared plugin is a :class:`~supportkit.PluginError` here); *blocked* names plugins
    never to register (an entry point's name, ``"supportkit.builtins"``, ...); with
    *load_entrypoints* the ``supportkit`` entry-point group is loaded on first use, once. An
    entry point that fails to load (or declares a hook wrongly) is left out and reported once:
    the next registry or lookup call raises its :class:`~supportkit.PluginError`, or the next
    broadcast returns it among its failures.
    """

    def __init__(
        self,
        plugins: Iterable[object] = (),
        blocked: Iterable[str] = (),
        load_entrypoints: bool = True,
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._lock = threading.RLock()
        self._origin: dict[str, int] = {}
        # What plugin_names() and _impls() answer until the registrations change: the desk
        # asks for every message (sorting each time was ~2 % of its ingest CPU).
        self._names: tuple[str, ...] | None = None
        self._sorted: dict[str, tuple[pluggy.HookImpl, ...]] = {}
        self._entrypoints_pending = load_entrypoints
        self._entrypoints = load_entrypoints  # whether installed plugins are loaded at all
        # Entry points that failed to load, not reported yet (each is reported once).
        self._broken: list[PluginError] = []
        # kind -> name -> (owning plugin, object), in registration order.
        self._registries: dict[str, dict[str, tuple[str, Any]]] = {k: {} for k in _REGISTRIES}
        for name in blocked:
            self._pm.set_blocked(name)
        for plugin in plugins:
            self._add(plugin, None, _APPLICATION)
        for name, module in BUILTIN_PLUGINS.items():
            if not self._pm.is_blocked(name):
                self._add(importlib.import_module(module), name, _BUILTIN)

    def __repr__(self) -> str:
        return f"<PluginHost plugins={self.plugin_names()}>"

    # --- registration ------------------------------------------------------------------------

    def register(self, plugin: object, *, name: str | None = None) -> str:
        """Register *plugin* (a module or an object with hookimpls) and return its name.

        *name* defaults to the module's (or class's) ``__name__``, else the object's class
        (``#2``, ``#3``, ... appended for further objects of the same class). Its registration
        hookimpls run at once; an installed entry-point plugin of the same name is then
        skipped. Raises :class:`~supportkit.PluginError` (and registers nothing) for a name
        already taken, a blocked name, a misspelled or misdeclared hookimpl, or a failing
        registration hook.
        """
        name = name or _plugin_name(plugin, self._origin)
        if self._pm.is_blocked(name):
            raise PluginError(f"plugin {name!r} is blocked on this host", plugin=name)
        self._add(plugin, name, _APPLICATION)
        return name

    def unregister(self, name: str) -> None:
        """Remove plugin *name* and everything it registered.

        Raises :class:`~supportkit.ConfigurationError` if no plugin of that name is registered.
        """
        with self._lock:
            if name not in self._origin:
                raise ConfigurationError(
                    f"no plugin named {name!r} is registered (registered: "
                    f"{', '.join(self.plugin_names()) or 'none'})"
                )
            self._drop(name)

    def plugin_names(self) -> list[str]:
        """The registered plugins' names: the application's, then entry points', then the
        built-ins, each group in registration order."""
        if self._names is None:
            self._names = tuple(sorted(self._origin, key=self._origin.__getitem__))
        return list(self._names)

    def get_plugin(self, name: str) -> object | None:
        """The plugin registered as *name*, or ``None``."""
        return self._pm.get_plugin(name) if name in self._origin else None

    def _add(self, plugin: object, name: str | None, origin: int) -> None:
        with self._lock:
            name = name or _plugin_name(plugin, self._origin)
            try:
                registered = self._pm.register(plugin, name=name)
            except ValueError as exc:  # pluggy: name or object already registered
                raise PluginError(
                    f"cannot register plugin {name!r}: that name or object is already "
                    "registered; pass another name (PluginHost.register(plugin, name=...))",
                    plugin=name,
                ) from exc
            except pluggy.PluginValidationError as exc:
                self._pm.unregister(name=name)
                raise PluginError(
                    f"plugin {name!r} declares a hook wrongly: {exc} (see supportkit.hookspecs "
                    "for each hook's arguments)",
                    plugin=name,
                ) from exc
            if registered is None:  # blocked
                return
            self._origin[name] = origin
            self._changed()
            try:
                self._check(plugin, name)
                self._fill(name)
            except BaseException:
                self._drop(name)
                raise

    def _check(self, plugin: object, name: str) -> None:
        """Refuse hookimpls without a hookspec (misspelled names) and hook wrappers."""
        for caller in self._pm.get_hookcallers(plugin) or ():
            impls = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
            if not caller.has_spec():
                close = difflib.get_close_matches(caller.name, self._hook_names(), n=1)
                hint = f"did you mean {close[0]!r}?" if close else "see supportkit.hookspecs"
                raise PluginError(
                    f"plugin {name!r} implements unknown hook {caller.name!r}: {hint}",
                    plugin=name,
                )
            if any(impl.wrapper or impl.hookwrapper for impl in impls):
                raise PluginError(
                    f"plugin {name!r}: {caller.name} is a hook wrapper; supportkit calls each "
                    "hookimpl on its own, so drop wrapper=True/hookwrapper=True",
                    plugin=name,
                )
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:  # pragma: no cover - _check catches these
            raise PluginError(f"plugin {name!r}: {exc}", plugin=name) from exc

    def _drop(self, name: str) -> None:
        self._pm.unregister(name=name)
        del self._origin[name]
        self._changed()
        for registry in self._registries.values():
            for key in [key for key, (owner, _) in registry.items() if owner == name]:
                del registry[key]

    def _hook_names(self) -> list[str]:
        return _hook_names()

    def _ready(
        self, failures: list[PluginError] | None = None
    ) -> dict[str, dict[str, tuple[str, Any]]]:
        """Load the entry-point plugins on first use; return the registries.

        An entry point that failed to load is reported once: appended to *failures* (a
        broadcast's), else raised; the host then works on without it.
        """
        if self._entrypoints_pending:
            with self._lock:
                if self._entrypoints_pending:
                    self._load_entrypoints()
                    self._entrypoints_pending = False
        if self._broken:
            with self._lock:
                broken = self._broken[:1] if failures is None else self._broken[:]
                del self._broken[: len(broken)]
            if failures is None and broken:
                raise broken[0]
            if failures is not None:
                failures.extend(broken)
        return self._registries

    def _load_entrypoints(self) -> None:
        """Register every entry point once; a failing one is recorded, not retried."""
        for ep in importlib.metadata.entry_points(group=PROJECT_NAME):
            if self._pm.get_plugin(ep.name) is not None or self._pm.is_blocked(ep.name):
                continue  # already there (the application's plugin of that name wins)
            try:
                plugin = ep.load()
            except Exception as exc:
                error = PluginError(
                    f"cannot load plugin {ep.name!r} ({ep.value}) from the {PROJECT_NAME!r} "
                    f"entry-point group: {type(exc).__name__}: {exc}; fix or uninstall it, or "
                    f"block it with PluginHost(blocked=[{ep.name!r}]) "
                    f"(SupportDesk(blocked_plugins=[{ep.name!r}]))",
                    plugin=ep.name,
                )
                error.__cause__ = exc
                self._broken.append(error)
                continue
            try:
                self._add(plugin, ep.name, _ENTRY_POINT)
            except PluginError as error:  # misdeclared: _add registered nothing
                self._broken.append(error)

    def _fill(self, name: str) -> None:
        """Run plugin *name*'s registration hookimpls (historic: once, at registration)."""
        for kind, (hook, _, _) in _REGISTRIES.items():
            for impl in self._impls(hook):
                if impl.plugin_name == name:
                    register = partial(self._put, self._registries[kind], kind, name)
                    # register() raises PluginError itself (duplicates): not the plugin's own.
                    self._call(impl, hook, {"register": register}, (PluginError,))

    def _put(
        self, registry: dict[str, tuple[str, Any]], kind: str, owner: str, name: str, obj: Any
    ) -> None:
        _, protocol, description = _REGISTRIES[kind]
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"plugin {owner!r} registered a {kind} named {name!r}: use a non-empty string",
                plugin=owner,
            )
        if not (isinstance(obj, protocol) if protocol else callable(obj)):
            raise PluginError(
                f"plugin {owner!r} registered {kind} {name!r} as {obj!r}, which is not "
                f"{description}",
                plugin=owner,
            )
        if kind == "notifier":
            _check_notices(owner, name, obj)
        if name in registry:
            raise PluginError(
                f"{kind} {name!r} is registered twice, by plugin {registry[name][0]!r} and by "
                f"plugin {owner!r}: rename one, or block a plugin with PluginHost(blocked=[...])",
                plugin=owner,
            )
        registry[name] = (owner, obj)

    # --- calling -------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Forget the answers that depend on which plugins are registered."""
        self._names, self._sorted = None, {}

    def _impls(self, hook: str) -> tuple[pluggy.HookImpl, ...]:
        impls = self._sorted.get(hook)
        if impls is None:
            found = getattr(self._pm.hook, hook).get_hookimpls()[::-1]  # pluggy calls LIFO
            impls = self._sorted[hook] = tuple(
                sorted(
                    found,
                    key=lambda i: (
                        0 if i.tryfirst else 2 if i.trylast else 1,
                        self._origin[i.plugin_name],
                    ),
                )
            )
        return impls

    def _call(
        self,
        impl: pluggy.HookImpl,
        hook: str,
        kwargs: Mapping[str, Any],
        passthrough: tuple[type[Exception], ...] = (),
    ) -> Any:
        try:
            return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except passthrough:
            raise
        except Exception as exc:
            raise _wrap(exc, impl.plugin_name, hook) from exc

    def _first(
        self,
        hook: str,
        expected: type[_T],
        kwargs: Mapping[str, Any],
        passthrough: tuple[type[Exception], ...] = (),
    ) -> _T | None:
        """The first non-None result of *hook*, checked to be an *expected*."""
        self._ready()
        for impl in self._impls(hook):
            result = self._call(impl, hook, kwargs, passthrough)
            if result is not None:
                return _checked(result, expected, impl.plugin_name, hook)
        return None

    def _ask(
        self,
        kind: str,
        method: str,
        expected: type[_T],
        args: Sequence[Any],
        only: str | None = None,
        passthrough: tuple[type[Exception], ...] = (),
    ) -> _T | None:
        """The first non-None answer of the registered *kind* objects' *method*."""
        for name, (_, obj) in self._ready()[kind].items():
            if only is not None and name != only:
                continue
            target = f"{kind}:{name}"
            try:
                result = getattr(obj, method)(*args)
            except passthrough:
                raise
            except Exception as exc:
                raise _wrap(exc, target, f"{method}()") from exc
            if result is not None:
                return _checked(result, expected, target, f"{method}()")
        return None

    # --- registries ----------------------------------------------------------------------------

    def _registry(self, kind: str) -> Mapping[str, Any]:
        return MappingProxyType({name: obj for name, (_, obj) in self._ready()[kind].items()})

    def channels(self) -> Mapping[str, Channel]:
        """The registered :class:`supportkit.typing.Channel` objects, by name."""
        return self._registry("channel")

    def can_send(self, channel: str) -> bool:
        """Whether a reply on *channel* can go out: a ``supportkit_send_reply`` hookimpl is
        installed, or the channel registered under that name can send (its optional
        ``can_send``, see :class:`supportkit.typing.Channel`; absent means it can)."""
        obj = self.channels().get(channel)
        if self._impls("supportkit_send_reply"):
            return True
        if obj is None:
            return False
        target = f"channel:{channel}"
        try:
            able = getattr(obj, "can_send", True)
        except Exception as exc:
            raise _wrap(exc, target, "can_send") from exc
        return _checked(able, bool, target, "can_send")

    def crm_backends(self) -> Mapping[str, CrmBackend]:
        """The registered CRM backends, by name, in the order they are asked."""
        return self._registry("crm")

    def notifiers(self) -> Mapping[str, Notifier]:
        """The registered notifiers, by name."""
        return self._registry("notifier")

    def stores(self) -> Mapping[str, StoreFactory]:
        """The registered store factories, by name (``"memory"`` is built in)."""
        return self._registry("store")

    def routing_strategies(self) -> Mapping[str, RoutingStrategyFactory]:
        """The registered routing strategy factories, by name."""
        return self._registry("routing_strategy")

    def sla_policy_sources(self) -> Mapping[str, SlaPolicySource]:
        """The registered SLA policy sources, by name."""
        return self._registry("sla_policy_source")

    def commands(self) -> Mapping[str, Command]:
        """The registered ``supportkit`` subcommands, by name."""
        return self._registry("command")

    def issue_trackers(self) -> Mapping[str, IssueTracker]:
        """The registered engineering issue trackers, by name."""
        return self._registry("issue_tracker")

    def pollers(self) -> Mapping[str, PollerFactory]:
        """The registered poller factories, by name (``supportkit run`` makes pollers)."""
        return self._registry("poller")

    def new_poller(self, name: str, desk: Any, options: Mapping[str, Any]) -> Poller:
        """A poller from the factory registered as *name*, feeding *desk*, with *options*.

        Raises :class:`~supportkit.ConfigurationError` naming the registered pollers for an
        unknown *name*; a factory that fails (or returns something that is not a
        :class:`supportkit.typing.Poller`) is a :class:`~supportkit.PluginError` naming it.
        A :class:`~supportkit.SupportkitError` from the factory (bad options) passes through.
        """
        factory = self.pollers().get(name)
        if factory is None:
            raise ConfigurationError(
                f"no poller named {name!r} is registered (registered: "
                f"{', '.join(self.pollers()) or 'none'}); install the plugin that provides it"
            )
        target = f"poller:{name}"
        try:
            poller = factory(desk, MappingProxyType(dict(options)))
        except SupportkitError:
            raise
        except Exception as exc:
            raise _wrap(exc, target, "making a poller") from exc
        return _checked(poller, Poller, target, "its factory")  # type: ignore[type-abstract]

    def config_sections(self) -> Mapping[str, Mapping[str, Any]]:
        """The JSON Schema fragments of the plugins' ``[plugins.<section>]`` tables, by section."""
        return self._registry("config_section")

    def store_factory(self, name: str) -> StoreFactory:
        """The store factory registered as *name*; call it with the store's options.

        Raises :class:`~supportkit.ConfigurationError` naming the registered stores if there is
        no store of that name.
        """
        factory: StoreFactory | None = self.stores().get(name)
        if factory is None:
            how = (
                "install the plugin that provides it"
                if self._entrypoints
                else "this plugin host loads no entry points (a desk made with plugins=None): "
                "pass the store object itself, or leave plugins at its default"
            )
            raise ConfigurationError(
                f"no store named {name!r} is registered (registered: "
                f"{', '.join(self.stores()) or 'none'}); {how}"
            )
        return factory

    def sla_policies(self) -> list[SlaPolicy]:
        """Every registered source's SLA policies, sources in registration order."""
        policies: list[SlaPolicy] = []
        for name, (_, source) in self._ready()["sla_policy_source"].items():
            target = f"sla_policy_source:{name}"
            try:
                found = list(source())
            except Exception as exc:
                raise _wrap(exc, target, "loading SLA policies") from exc
            policies.extend(_checked(policy, SlaPolicy, target, "its source") for policy in found)
        return policies

    # --- lookups -------------------------------------------------------------------------------

    def lookup_customer(self, *, message: InboundMessage) -> Customer | None:
        """The customer who sent *message*: hookimpls first, then the CRM backends.

        Returns ``None`` if nobody knows the sender.
        """
        customer = self._first("supportkit_lookup_customer", Customer, {"message": message})
        if customer is None:
            customer = self._ask("crm", "lookup_customer", Customer, [message])
        return customer

    def lookup_tier(
        self, *, customer: Customer, message: InboundMessage | None = None
    ) -> Tier | None:
        """*customer*'s tier: hookimpls first, then the CRM backends; ``None`` if unknown."""
        kwargs = {"customer": customer, "message": message}
        tier = self._first("supportkit_lookup_tier", Tier, kwargs)
        if tier is None:
            tier = self._ask("crm", "lookup_tier", Tier, [customer])
        return tier

    def lookup_value(self, *, customer: Customer) -> float | None:
        """*customer*'s value (``supportkit_lookup_value``): hookimpls first, then the CRM
        backends that have a ``lookup_value(customer)`` method; ``None`` if nobody knows.
        Anything but a finite number of zero or more is a :class:`PluginError`."""
        hook = "supportkit_lookup_value"
        registries = self._ready()
        for impl in self._impls(hook):
            value = self._call(impl, hook, {"customer": customer}, ())
            if value is not None:
                return _value(value, impl.plugin_name)
        for name, (_, obj) in registries["crm"].items():
            method = getattr(obj, "lookup_value", None)
            if not callable(method):
                continue
            try:
                value = method(customer)
            except Exception as exc:
                raise _wrap(exc, f"crm:{name}", "lookup_value()") from exc
            if value is not None:
                return _value(value, f"crm:{name}")
        return None

    def suggest_articles(
        self, *, query: str, message: InboundMessage, k: int
    ) -> list[ArticleHit] | None:
        """The first non-None ``supportkit_suggest_articles`` answer (at most *k* hits, each
        article once), or ``None`` for the desk's own search; anything but a list of
        ``ArticleHit`` is a :class:`PluginError` naming the plugin."""
        hook = "supportkit_suggest_articles"
        self._ready()
        for impl in self._impls(hook):
            hits = self._call(impl, hook, {"query": query, "message": message, "k": k}, ())
            if hits is None:
                continue
            if not isinstance(hits, list) or not all(isinstance(h, ArticleHit) for h in hits):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} returned {hits!r:.200} from {hook}; return "
                    "a list of supportkit.ArticleHit or None",
                    plugin=impl.plugin_name,
                )
            # One article named more than once (a vector index's chunks of it) is one
            # suggestion, at its best place.
            best: dict[str, ArticleHit] = {}
            for hit in hits:
                best.setdefault(hit.article_id, hit)
            return list(best.values())[:k]
        return None

    def suggest_problems(
        self, *, ticket: Ticket, text: str, threshold: float
    ) -> list[ProblemSuggestion] | None:
        """The first non-None ``supportkit_suggest_problems`` answer, or ``None`` for the
        desk's word overlap; anything but a list of ``ProblemSuggestion`` (problem id text,
        numeric score, reasons a tuple of text) is a :class:`PluginError` naming the plugin."""
        hook = "supportkit_suggest_problems"
        self._ready()
        kwargs = {"ticket": ticket, "text": text, "threshold": threshold}
        for impl in self._impls(hook):
            found = self._call(impl, hook, kwargs)
            if found is None:
                continue
            if not isinstance(found, list) or not all(_suggestion(s) for s in found):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} returned {found!r:.200} from {hook}; return "
                    "a list of supportkit.ProblemSuggestion or None",
                    plugin=impl.plugin_name,
                )
            return found
        return None

    def select_sla_policy(
        self, *, ticket: Ticket, policies: Sequence[SlaPolicy]
    ) -> SlaPolicy | None:
        """The SLA policy a plugin chooses for *ticket*, or ``None`` for the default choice."""
        kwargs = {"ticket": ticket, "policies": tuple(policies)}
        return self._first("supportkit_select_sla_policy", SlaPolicy, kwargs)

    def routing_strategy(self, *, queue: str) -> SelectionStrategy | None:
        """The selection strategy a plugin chooses for *queue*, or ``None`` for the default.

        A hookimpl may answer with a strategy object or with a strategy's name: one registered
        through ``supportkit_register_routing_strategies`` or a built-in one (``"round_robin"``,
        ...), made fresh by :meth:`new_routing_strategy`.
        """
        hook = "supportkit_routing_strategy"
        self._ready()
        for impl in self._impls(hook):
            answer = self._call(impl, hook, {"queue": queue})
            if isinstance(answer, str):
                return self.new_routing_strategy(answer)
            if answer is not None:
                # A runtime-checkable protocol is a fine isinstance() target; mypy wants more.
                return _checked(answer, _Strategy, impl.plugin_name, hook)  # type: ignore[type-abstract]
        return None

    def new_routing_strategy(self, name: str) -> SelectionStrategy:
        """A fresh strategy from the factory registered as *name*, else the built-in one.

        Raises :class:`~supportkit.ConfigurationError` naming the known strategies for an
        unknown name, and :class:`~supportkit.PluginError` if the factory fails.
        """
        factories = self.routing_strategies()
        if name not in factories:
            if name in STRATEGY_NAMES:
                return STRATEGY_NAMES[name]()
            known = [*factories, *STRATEGY_NAMES]
            raise ConfigurationError(
                f"no routing strategy named {name!r} (known: {', '.join(known)}); register it "
                "through supportkit_register_routing_strategies"
            )
        target = f"routing_strategy:{name}"
        try:
            strategy = factories[name]()
        except Exception as exc:
            raise _wrap(exc, target, "making a strategy") from exc
        return _checked(strategy, _Strategy, target, "its factory")  # type: ignore[type-abstract]

    # --- channels ------------------------------------------------------------------------------

    def parse_inbound(
        self, *, channel: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> InboundMessage:
        """Parse a raw *payload* that arrived on *channel* into an :class:`InboundMessage`.

        ``supportkit_parse_inbound`` hookimpls answer first, then the registered channel named
        *channel*. An :class:`~supportkit.EventError` (the payload is not a valid message) and
        :class:`~supportkit.exceptions.Ignored` (the payload is noise) pass through unchanged;
        any other exception becomes a :class:`PluginError`. Raises
        :class:`~supportkit.ConfigurationError` if no plugin handles *channel*.
        """
        kwargs = {"channel": channel, "payload": payload, "headers": dict(headers or {})}
        hook = "supportkit_parse_inbound"
        passthrough = (EventError, Ignored)
        message = self._first(hook, InboundMessage, kwargs, passthrough)
        if message is None:
            args = [payload, kwargs["headers"]]
            message = self._ask("channel", "parse", InboundMessage, args, channel, passthrough)
        if message is None:
            raise ConfigurationError(
                f"no plugin parses payloads of channel {channel!r} (registered channels: "
                f"{', '.join(self.channels()) or 'none'}); install or register a channel plugin"
            )
        return message

    def send_reply(self, *, reply: OutboundReply) -> str:
        """Send *reply* on its channel and return the channel's message id (may be ``""``).

        ``supportkit_send_reply`` hookimpls answer first, then the registered channel named
        ``reply.channel``. A failure is a :class:`PluginError` (``__cause__`` is the plugin's
        error, e.g. an :class:`~supportkit.IntegrationError`); a channel nobody sends on is a
        :class:`~supportkit.ConfigurationError`.
        """
        sent = self._first("supportkit_send_reply", str, {"reply": reply})
        if sent is None:
            sent = self._ask("channel", "send", str, [reply], reply.channel)
        if sent is None:
            raise ConfigurationError(
                f"ticket {reply.ticket.id}: no plugin sends replies on channel {reply.channel!r}; "
                "install or register a channel plugin that can send"
            )
        return sent

    # --- broadcasts ----------------------------------------------------------------------------

    def implementers(self, hook: str) -> list[str]:
        """The names of the plugins with a hookimpl for *hook*, in call order."""
        if hook not in self._hook_names():
            raise ConfigurationError(f"unknown hook {hook!r}: see supportkit.hookspecs")
        self._ready()
        return [impl.plugin_name for impl in self._impls(hook)]

    def receivers(self, kind: str) -> list[str]:
        """Who receives notices of *kind*: plugin names, then ``"notifier:<name>"`` targets."""
        if kind not in NOTICE_TYPES:
            raise EventError(f"unknown notice kind {kind!r}: use one of {', '.join(NOTICE_TYPES)}")
        names = self.implementers(f"supportkit_{kind}")
        notifiers = self._ready()["notifier"].items()
        return names + [f"notifier:{name}" for name, (_, n) in notifiers if _wants(n, kind)]

    def notify(self, notice: Notice, *, only: Collection[str] | None = None) -> list[PluginError]:
        """Broadcast *notice* to its hook and to every notifier; return the failures.

        Every receiver runs even if others fail; each failure is a :class:`PluginError` naming
        the receiver (a plugin name or ``"notifier:<name>"``). With *only*, just the named
        receivers run (an outbox retrying the ones that failed).
        """
        cls = type(notice)
        if NOTICE_TYPES.get(getattr(cls, "kind", "")) is not cls:
            raise EventError(
                f"expected a notice ({', '.join(c.__name__ for c in NOTICE_TYPES.values())}), "
                f"got {notice!r}"
            )
        hook = f"supportkit_{notice.kind}"
        failures: list[PluginError] = []
        notifiers = self._ready(failures)["notifier"]
        for impl in self._impls(hook):
            if only is None or impl.plugin_name in only:
                try:
                    self._call(impl, hook, {"notice": notice})
                except PluginError as error:
                    failures.append(error)
        for name, (_, notifier) in notifiers.items():
            target = f"notifier:{name}"
            if (target in only) if only is not None else _wants(notifier, notice.kind):
                try:
                    notifier.notify(notice)
                except Exception as exc:
                    failures.append(_wrap(exc, target, f"notify({notice.kind})"))
        return failures

    def ticket_created(self, *, notice: TicketCreated) -> list[PluginError]:
        """Broadcast ``supportkit_ticket_created``; see :meth:`notify`."""
        return self.notify(_expect(notice, TicketCreated))

    def event_appended(self, *, notice: EventAppended) -> list[PluginError]:
        """Broadcast ``supportkit_event_appended``; see :meth:`notify`."""
        return self.notify(_expect(notice, EventAppended))

    def status_changed(self, *, notice: StatusChanged) -> list[PluginError]:
        """Broadcast ``supportkit_status_changed``; see :meth:`notify`."""
        return self.notify(_expect(notice, StatusChanged))

    def ticket_assigned(self, *, notice: TicketAssigned) -> list[PluginError]:
        """Broadcast ``supportkit_ticket_assigned``; see :meth:`notify`."""
        return self.notify(_expect(notice, TicketAssigned))

    def ticket_escalated(self, *, notice: TicketEscalated) -> list[PluginError]:
        """Broadcast ``supportkit_ticket_escalated``; see :meth:`notify`."""
        return self.notify(_expect(notice, TicketEscalated))

    def sla_warning(self, *, notice: SlaWarning) -> list[PluginError]:
        """Broadcast ``supportkit_sla_warning``; see :meth:`notify`."""
        return self.notify(_expect(notice, SlaWarning))

    def sla_breached(self, *, notice: SlaBreached) -> list[PluginError]:
        """Broadcast ``supportkit_sla_breached``; see :meth:`notify`."""
        return self.notify(_expect(notice, SlaBreached))

    def satisfaction_received(self, *, notice: SatisfactionReceived) -> list[PluginError]:
        """Broadcast ``supportkit_satisfaction_received``; see :meth:`notify`."""
        return self.notify(_expect(notice, SatisfactionReceived))

    def article_changed(self, *, notice: ArticleChanged) -> list[PluginError]:
        """Broadcast ``supportkit_article_changed``; see :meth:`notify`."""
        return self.notify(_expect(notice, ArticleChanged))


@functools.cache
def _hook_names() -> list[str]:
    """Every hookspec's name (computed once: ``receivers`` runs for every appended event)."""
    return [name for name in vars(hookspecs) if name.startswith("supportkit_")]


def _value(value: Any, plugin: str) -> float:
    """A customer's *value* as a plugin answered it, checked: a finite number, zero or more."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise PluginError(
            f"plugin {plugin!r} returned {value!r:.80} as a customer's value; return a finite "
            "number of zero or more, or None",
            plugin=plugin,
        )
    return float(value)


def _checked(result: Any, expected: type[_T], plugin: str, what: str) -> _T:
    if not isinstance(result, expected):
        raise PluginError(
            f"plugin {plugin!r} returned {result!r} from {what}; return a "
            f"{expected.__module__}.{expected.__qualname__} or None",
            plugin=plugin,
        )
    return result


def _expect(notice: Any, cls: type[_T]) -> _T:
    if not isinstance(notice, cls):
        raise EventError(f"expected a supportkit.{cls.__name__} notice, got {notice!r}")
    return notice


def _suggestion(value: object) -> bool:
    """Whether *value* is a ProblemSuggestion the desk can record (JSON-safe fields)."""
    return (
        isinstance(value, ProblemSuggestion)
        and isinstance(value.problem, str)
        and isinstance(value.score, int | float)
        and not isinstance(value.score, bool)
        and math.isfinite(value.score)
        and isinstance(value.reasons, tuple)
        and all(isinstance(r, str) for r in value.reasons)
    )
