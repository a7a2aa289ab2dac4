"""The hooks plugins implement, and the markers that declare them.

Write a plugin as a module (or an object) with functions marked ``@supportkit.hookimpl`` and
named after the hooks below; advertise it in the ``supportkit`` entry-point group of your
package's ``pyproject.toml``, or hand it to the host directly. A hookimpl may take any subset of
a hook's arguments, by name. See ``docs/plugins/hooks.md`` for an example of every hook.

Four families of hooks:

* **registration** (``supportkit_register_*``, historic): called once per plugin with a
  ``register(name, obj)`` callable, also for plugins registered later;
* **lookups** (``firstresult``): the first plugin that returns something other than ``None``
  answers;
* **channels**: parse an inbound payload, send an outbound reply (both ``firstresult``);
* **broadcasts**: every plugin hears about lifecycle changes through a frozen *notice*. A
  failing plugin never stops the others: the host reports each failure as a
  :class:`~supportkit.PluginError` naming the plugin.

Supportkit calls each hookimpl on its own (to tell whose failure is whose), so hook wrappers
(``wrapper=True``/``hookwrapper=True``) are refused at registration; ``tryfirst`` and
``trylast`` work as in pluggy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pluggy

from ._hookargs import (
    ArticleChanged,
    EventAppended,
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
from ._routing import SelectionStrategy
from ._sla import SlaPolicy
from ._ticket import Ticket
from .typing import (
    Channel,
    Command,
    CrmBackend,
    IssueTracker,
    Notifier,
    PollerFactory,
    RoutingStrategyFactory,
    SlaPolicySource,
    StoreFactory,
)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

#: The pluggy project name and the entry-point group plugins are advertised in.
PROJECT_NAME = "supportkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a function in this module as a hook specification."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's function as a hook implementation: ``@supportkit.hookimpl``."""


# --- registration ------------------------------------------------------------------------------


@hookspec(historic=True)
def supportkit_register_channels(register: Callable[[str, Channel], None]) -> None:
    """Register channels: objects that parse inbound payloads and send replies.

    :param register: Call ``register(name, channel)`` for each channel, where *channel*
        implements :class:`supportkit.typing.Channel` (not the enum :class:`supportkit.Channel`).
        The host dispatches ``parse_inbound(channel=name, ...)`` (and
        ``SupportDesk.receive(name, ...)``) to it, and replies on tickets whose channel is
        *name*. A name registered twice is a :class:`~supportkit.PluginError`. A channel
        (like a CRM backend or notifier) that defines ``attach(desk)`` has it called once by
        each :class:`~supportkit.SupportDesk` that loads it.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_crm_backends(register: Callable[[str, CrmBackend], None]) -> None:
    """Register CRM backends that look up customers and their tiers.

    :param register: Call ``register(name, backend)`` for each backend, where *backend*
        implements :class:`supportkit.typing.CrmBackend`. Backends are asked after the
        ``supportkit_lookup_*`` hookimpls, in registration order. Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """Register notifiers, which receive every lifecycle notice.

    :param register: Call ``register(name, notifier)`` for each notifier, where *notifier*
        implements :class:`supportkit.typing.Notifier`. A failing notifier is reported as a
        :class:`~supportkit.PluginError` whose ``plugin`` is ``"notifier:<name>"``. Names must
        be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """Register event-store implementations by name (``"memory"``, ``"sqlite"``, ...).

    :param register: Call ``register(name, factory)`` where *factory* (usually the store
        class) takes the store's options as keyword arguments and returns a
        :class:`supportkit.typing.Store`. Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_routing_strategies(
    register: Callable[[str, RoutingStrategyFactory], None],
) -> None:
    """Register agent-selection strategies for routing queues by name.

    :param register: Call ``register(name, factory)`` where *factory* takes no arguments
        and returns a fresh selection strategy (an object with ``choose(ticket, candidates)``,
        like :class:`~supportkit.RoundRobin`). Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_sla_policy_sources(
    register: Callable[[str, SlaPolicySource], None],
) -> None:
    """Register sources of SLA policies (a file, a database table, an admin API).

    :param register: Call ``register(name, source)`` where *source* takes no arguments and
        returns :class:`~supportkit.SlaPolicy` objects in match order. The host
        concatenates every source's policies in registration order. Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_commands(register: Callable[[str, Command], None]) -> None:
    """Register subcommands of the ``supportkit`` command line (``supportkit serve``).

    :param register: Call ``register(name, command)`` where *command* implements
        :class:`supportkit.typing.Command`: ``help`` (one line), ``add_arguments(parser)``
        (fills its ``argparse`` subparser) and ``run(args) -> int`` (the exit status). The
        command line adds it as ``supportkit <name>``; a built-in command of the same name
        wins (the plugin's is left out with a warning). Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_pollers(register: Callable[[str, PollerFactory], None]) -> None:
    """Register pollers: sources of inbound messages that have to be asked (IMAP, chat APIs).

    :param register: Call ``register(name, factory)`` where ``factory(desk, options)``
        returns a :class:`supportkit.typing.Poller` (``poll() -> int``, the messages handled,
        and ``close()``) that feeds *desk* (usually through ``desk.receive``); *options* are
        its settings. ``supportkit run`` makes and runs the configured pollers. Names must be
        unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def supportkit_register_issue_trackers(register: Callable[[str, IssueTracker], None]) -> None:
    """Register engineering issue trackers (GitHub Issues, Jira), where problems get fixed.

    :param register: Call ``register(name, tracker)`` with a
        :class:`supportkit.typing.IssueTracker`: ``create_issue(problem, affected)`` and
        ``link_issue(reference)`` return a :class:`~supportkit.EngineeringIssue`,
        ``update_issue(issue, affected)`` refreshes the affected customers' tiers and weight
        (a :class:`~supportkit.AffectedCustomers`), and ``parse_webhook(body, headers)``
        verifies a delivery and returns its :class:`~supportkit.IssueUpdate` list. The desk
        uses them in :meth:`~supportkit.SupportDesk.escalate_to_engineering`,
        :meth:`~supportkit.SupportDesk.link_engineering_issue` and
        :meth:`~supportkit.SupportDesk.receive_issue_webhook`. Names must be unique.
    :returns: Nothing; the return value is ignored.

    Historic: called once for every plugin, including plugins registered later.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_config_section(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Declare the plugin's settings table ``[plugins.<section>]`` in ``supportkit.toml``.

    :param register: Call ``register(section, schema)`` where *schema* is a JSON Schema
        fragment (an object schema, e.g. ``{"type": "object", "properties": {"url":
        {"type": "string"}}, "required": ["url"], "additionalProperties": False}``) for the
        table. The file is validated with it together with the rest, so a wrong or unknown
        key there is reported like any other (use the keywords listed in the configuration
        docs). The plugin reads its settings with ``desk.config.plugin(section)``. Section
        names must be unique; ``enable`` and ``block`` are taken.
    :returns: Nothing; the return value is ignored.

    Called once for every plugin, when it is registered (like the registration hooks).

    .. versionadded:: 0.1
    """


# --- lookups -----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def supportkit_lookup_customer(message: InboundMessage) -> Customer | None:
    """Find the customer who sent an inbound message.

    :param message: The validated :class:`~supportkit.InboundMessage`; ``message.sender`` is
        the address or handle to look up.
    :returns: The :class:`~supportkit.Customer`, or ``None`` to let the next plugin (and then
        the registered CRM backends) answer.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_lookup_tier(customer: Customer, message: InboundMessage | None) -> Tier | None:
    """Find the tier of a customer.

    :param customer: The customer found by ``supportkit_lookup_customer`` (or known to the
        host).
    :param message: The inbound message being handled, or ``None`` outside ingest.
    :returns: The customer's :class:`~supportkit.Tier`, or ``None`` to let the next plugin
        (and then the CRM backends) answer.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_lookup_value(customer: Customer) -> float | None:
    """Find what a customer is worth to the business, for engineering's priorities.

    The desk adds these figures up over the customers a problem affects
    (:attr:`supportkit.AffectedCustomers.value`), which issue trackers show beside the tiers.
    What the number means is the host's choice (annual revenue, seats, a score), as long as
    it means the same for every customer. Asked when an engineering issue's figures are
    computed (from the outbox, so it may do I/O: a :class:`~supportkit.IntegrationError`
    retries the delivery).

    :param customer: The :class:`~supportkit.Customer` of a ticket (its ``id``, ``tier`` and
        ``organisation`` as the ticket has them; ``email`` is the id when it is an address).
    :returns: A finite number of zero or more, or ``None`` to let the next plugin (and then
        the CRM backends with a ``lookup_value(customer)`` method) answer.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_suggest_articles(
    query: str, message: InboundMessage, k: int
) -> list[ArticleHit] | None:
    """Suggest knowledge-base articles for a new customer message.

    A host plugs in its own search (vector search, a hosted knowledge base) instead of the
    desk's full-text search; a failing hookimpl is logged and the message is ingested without
    suggestions.

    :param query: The text to search for: the message's subject (if any) and body.
    :param message: The validated :class:`~supportkit.InboundMessage` being ingested (a public
        customer message).
    :param k: The most articles wanted (``SupportDesk.suggestions``).
    :returns: Up to *k* :class:`~supportkit.ArticleHit` objects, best first (an empty list:
        nothing to suggest), or ``None`` to let the next plugin (and then
        :meth:`SupportDesk.search_articles <supportkit.SupportDesk.search_articles>`) answer.
        The ids are recorded on the ticket in an ``articles_suggested`` event; an article
        named more than once is suggested once, at its first place.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_suggest_problems(
    ticket: Ticket, text: str, threshold: float
) -> list[ProblemSuggestion] | None:
    """Suggest the problems a new ticket may be an incident of (duplicate detection).

    A host plugs in its own search over its tickets (the full-text or vector search it already
    runs) instead of the desk's word overlap; the desk records the answer as the ticket's
    suggestions, never links anything, and leaves out the ticket itself and tickets that do not
    exist or are solved or closed. A failing hookimpl (or a wrong answer) is logged and the
    desk's word overlap answers.

    :param ticket: The new :class:`~supportkit.Ticket` (subject, tags, group).
    :param text: Its subject, a newline and its first message's body.
    :param threshold: ``ProblemSettings.similarity``, the desk's own score threshold (a
        hookimpl may use its own scale).
    :returns: :class:`~supportkit.ProblemSuggestion` objects, best first (an empty list:
        nothing to suggest), or ``None`` to let the next plugin (and then the desk's word
        overlap) answer.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_select_sla_policy(ticket: Ticket, policies: Sequence[SlaPolicy]) -> SlaPolicy | None:
    """Choose the SLA policy for a ticket.

    :param ticket: The ticket's current snapshot.
    :param policies: The configured :class:`~supportkit.SlaPolicy` objects, in match order.
    :returns: The :class:`~supportkit.SlaPolicy` to apply (one of *policies* or one of the
        plugin's own), or ``None``
        to leave the choice to the next plugin and finally to the desk's default (the first
        policy whose conditions match).

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_routing_strategy(queue: str) -> SelectionStrategy | str | None:
    """Choose the agent-selection strategy of a routing queue.

    :param queue: The queue's name: the ticket's routed group (an escalation's target or a
        group assignment), else its tier's dedicated group, else its group, else
        ``"default"``. A desk's router asks once per
        queue and keeps the answer.
    :returns: A selection strategy for the queue (an object with
        ``choose(ticket, candidates)``, like :class:`~supportkit.LeastLoaded`), the name of a
        strategy registered through ``supportkit_register_routing_strategies`` (or a built-in
        one, such as ``"round_robin"``), or ``None`` for the next plugin and finally the
        router's default.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


# --- channels ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def supportkit_parse_inbound(
    channel: str, payload: Any, headers: Mapping[str, str]
) -> InboundMessage | None:
    """Turn a raw payload that arrived on a channel into a validated inbound message.

    :param channel: The name of the channel (endpoint) the payload arrived on, e.g.
        ``"email"`` or ``"json"``.
    :param payload: The raw payload: ``bytes`` or ``str`` as received, or decoded JSON.
    :param headers: The transport's headers (HTTP headers of a webhook call; may be empty).
    :returns: The :class:`~supportkit.InboundMessage`, whose ``message_id`` is stable (a
        redelivered payload gets the same id), or ``None`` if this plugin does not handle
        *channel*; a registered :class:`supportkit.typing.Channel` of that name answers last.
        Set the message's ``references`` (the ids it answers, newest last) and
        ``ticket_hint`` (a ticket id the sender names) for threading; only a trusted source
        sets ``ticket_id``. Raise :class:`~supportkit.EventError` for a payload that is not a
        valid message, and :class:`~supportkit.exceptions.Ignored` for noise (auto-replies,
        bounces, bulk mail, the desk's own mail); both reach the caller unchanged.

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def supportkit_send_reply(reply: OutboundReply) -> str | None:
    """Send an agent's public reply to the customer through the ticket's channel.

    :param reply: The :class:`~supportkit.OutboundReply`; ``reply.channel`` says which
        channel and ``reply.key`` is stable across retries; ``in_reply_to`` and
        ``references`` thread it, and ``automatic`` marks an automatic notice.
    :returns: The channel's id for the sent message (``""`` if it has none; a non-empty id is
        added to the desk's message index, so an answer referencing it threads), or ``None`` if
        this plugin does not send on ``reply.channel``; the registered
        :class:`supportkit.typing.Channel` of that name answers last. Raise
        :class:`~supportkit.IntegrationError` if delivery failed: the outbox retries later
        (at its ``retry_at`` without spending an attempt, if given; never, if ``permanent``).

    Stops at first non-None result.

    .. versionadded:: 0.1
    """


# --- broadcasts --------------------------------------------------------------------------------


@hookspec
def supportkit_ticket_created(notice: TicketCreated) -> None:
    """A ticket was opened.

    :param notice: The :class:`~supportkit.TicketCreated` notice (the ticket, its
        ``created`` event and the inbound message that opened it, if any).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_event_appended(notice: EventAppended) -> None:
    """An event was appended to a ticket's log (every event, after its specific notice).

    :param notice: The :class:`~supportkit.EventAppended` notice (the ticket after the event,
        and the event).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_status_changed(notice: StatusChanged) -> None:
    """A ticket's status changed.

    :param notice: The :class:`~supportkit.StatusChanged` notice (``previous`` and
        ``status``).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_ticket_assigned(notice: TicketAssigned) -> None:
    """A ticket was assigned to an agent or a group.

    :param notice: The :class:`~supportkit.TicketAssigned` notice (``agent``, ``group`` and
        who held it before).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_ticket_escalated(notice: TicketEscalated) -> None:
    """A ticket was escalated (L1 → L2 → L3 → engineering).

    :param notice: The :class:`~supportkit.TicketEscalated` notice (``level``, ``target``,
        ``reason`` and ``previous_level``).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_sla_warning(notice: SlaWarning) -> None:
    """An SLA clock reached a warning level before its deadline.

    :param notice: The :class:`~supportkit.SlaWarning` notice (``metric``, ``cycle``,
        ``level``, ``deadline``, a stable ``key`` and a ``reason``: ``"uncovered"`` when no
        team is on shift before the deadline).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_sla_breached(notice: SlaBreached) -> None:
    """An SLA clock passed its target.

    :param notice: The :class:`~supportkit.SlaBreached` notice (``metric``, ``cycle``, the
        breach instant ``at`` and a stable ``key``).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_satisfaction_received(notice: SatisfactionReceived) -> None:
    """The customer rated a ticket (CSAT, NPS or CES).

    :param notice: The :class:`~supportkit.SatisfactionReceived` notice (``satisfaction``
        holds the rating).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def supportkit_article_changed(notice: ArticleChanged) -> None:
    """A knowledge-base article was created, updated or retired.

    :param notice: The :class:`~supportkit.ArticleChanged` notice (``event.kind`` is
        ``"created"``, ``"updated"`` or ``"retired"``; ``article`` is the article after the
        change, ``previous`` the one before).
    :returns: Nothing; the return value is ignored. An exception is reported as a
        :class:`~supportkit.PluginError` and does not stop the other plugins; the outbox
        retries the notice.

    .. versionadded:: 0.1
    """
