"""``supportkit demo``: a simulated support day on the real desk and an embedded SQLite store.

One Monday, 06:00-23:00 UTC: customers of three tiers (the top accounts on a watchlist) write
through four channels in two bursts; agents in Berlin and New York work their business hours;
the router assigns, agents reply, ask customers for details (pending), escalate bugs to
engineering (on hold), solve; customers answer, reopen and rate. Every step drives the real
:class:`~supportkit.SupportDesk`: ``ingest``, ``dispatch``, the actions, ``tick`` (SLA
warnings, breaches, escalations) and ``deliver`` (the outbox, with a pager notifier that is down
for the first hours and then recovers). The result is a :class:`~supportkit._report.Summary`.
"""

from __future__ import annotations

import random
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from ._calendar import BusinessCalendar
from ._clock import FrozenClock
from ._config import DeskConfig
from ._desk import SupportDesk
from ._hookargs import Notice
from ._model import Agent, Customer, InboundMessage, Priority, Status, Tier
from ._report import SETTINGS_KEY, Summary, settings, summarize
from .exceptions import ConfigurationError, IntegrationTimeout
from .hookspecs import hookimpl

__all__ = ["DemoStats", "run_demo"]

START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)  # a Monday
END = datetime(2025, 3, 3, 23, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
#: How long the pager is unreachable from the start of the day (the outbox retries meanwhile).
PAGER_DOWN = timedelta(hours=5)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
TOP_ACCOUNTS = ("acme", "globex", "initech")
CHANNELS = (("email", 45), ("chat", 25), ("web", 20), ("phone", 10))
PRIORITIES = ((Priority.LOW, 20), (Priority.NORMAL, 55), (Priority.HIGH, 20), (Priority.URGENT, 5))
SKILLS = ("billing", "technical", "api")
#: Relative arrival weight per UTC hour (bursts when Europe and then America start work).
ARRIVALS = dict.fromkeys(range(6, 22), 1) | {8: 5, 9: 6, 10: 3, 14: 5, 15: 6, 16: 3}


def demo_config(db: str | Path | None = None) -> DeskConfig:
    """The demo desk's configuration, ``demo.toml`` shipped beside this module (a
    ``supportkit.toml`` like any other), with its SQLite store at *db*."""
    text = resources.files("supportkit").joinpath("demo.toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    if db is not None:
        document["store"] = {"path": str(db)}
    return DeskConfig.load(document)


class DemoCrm:
    """The demo's CRM: customers by e-mail address, each with a tier and an organisation."""

    def __init__(self, customers: dict[str, Customer]) -> None:
        self.customers = customers

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        return self.customers.get(message.sender)

    def lookup_tier(self, customer: Customer) -> Tier | None:
        return None  # the desk maps the customer's tier name (and the watchlist) itself

    @hookimpl
    def supportkit_register_crm_backends(self, register: Callable[[str, Any], None]) -> None:
        register("demo-crm", self)


class Pager:
    """An on-call pager for SLA breaches and escalations that is unreachable until *back*.

    ``notice_kinds`` names the only notices it takes, so the desk queues nothing else for it.
    """

    notice_kinds = frozenset({"sla_breached", "ticket_escalated"})

    def __init__(self, clock: FrozenClock, back: datetime) -> None:
        self.clock = clock
        self.back = back
        self.pages = 0
        self.refused = 0

    def notify(self, notice: Notice) -> None:
        if self.clock.now() < self.back:
            self.refused += 1
            raise IntegrationTimeout("pager service unreachable (connect timeout)")
        self.pages += 1

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Any], None]) -> None:
        register("pager", self)


@attrs.define
class DemoStats:
    """Counters of what the simulation did (beside what the store says)."""

    messages: int = 0
    duplicates: int = 0
    replies: int = 0
    pending: int = 0
    engineering: int = 0
    reopened: int = 0
    ratings: int = 0
    warnings: int = 0
    breaches: int = 0
    auto_escalations: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pages: int = 0
    pager_refused: int = 0
    seconds: float = 0.0


@attrs.define
class _Case:
    """The simulation's view of one ticket."""

    ticket_id: str
    customer: str
    channel: str
    skill: str
    owner: str | None = None
    needs_reply: bool = True
    waiting: str = "agent"  # agent | customer | engineering | rating | done
    wake: datetime | None = None
    replies: int = 0


class _Simulation:
    def __init__(
        self,
        desk: SupportDesk,
        clock: FrozenClock,
        rng: random.Random,
        customers: dict[str, Customer],
        agents: dict[str, BusinessCalendar],
    ) -> None:
        self.desk = desk
        self.clock = clock
        self.rng = rng
        self.customers = customers
        self.agents = agents
        # The router starts every agent online: start from that, so the first step sends
        # every agent whose shift is closed offline (presence follows the shifts from the start).
        self.online: set[str] = set(agents)
        self.cases: dict[str, _Case] = {}
        self.inbox: list[tuple[datetime, InboundMessage]] = []
        self.stats = DemoStats()
        self._ids = 0

    def _message_id(self) -> str:
        self._ids += 1
        return f"msg-{self._ids:06d}"

    def plan(self, tickets: int, days: int = 1) -> None:
        """Schedule every first message of each day, *tickets* a day (and a few channel
        redeliveries)."""
        hours = list(ARRIVALS)
        weights = list(ARRIVALS.values())
        senders = list(self.customers)
        for number in range(1, tickets * days + 1):
            day = START + timedelta(days=(number - 1) // tickets)
            hour = self.rng.choices(hours, weights)[0]
            at = day.replace(hour=hour) + timedelta(seconds=self.rng.randrange(3600))
            sender = self.rng.choice(senders)
            channel = self.rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            skill = self.rng.choice(SKILLS)
            message = InboundMessage(
                self._message_id(),
                channel,
                sender,
                at,
                subject=f"{skill} question",
                body="Hello, I need help.",
                priority=self.rng.choices([p for p, _ in PRIORITIES], [w for _, w in PRIORITIES])[
                    0
                ],
                tags=(f"skill:{skill}",),
                language="en",
                ticket_id=f"DEMO-{number:04d}",  # host-chosen ids keep a seeded run reproducible
            )
            self.inbox.append((at, message))
            if self.rng.random() < 0.03:  # the channel delivers it again
                self.inbox.append((at + timedelta(minutes=self.rng.randint(1, 30)), message))
        self.inbox.sort(key=lambda item: item[0])

    def step(self, now: datetime) -> None:
        self.clock.set(now)
        self._presence(now)
        self._arrivals(now)
        self._wake(now)
        for claim in self.desk.dispatch():
            if claim:
                self.cases[claim.ticket_id].owner = claim.agent
        self._work(now)
        tick = self.desk.tick(now)
        self.stats.warnings += len(tick.warnings)
        self.stats.breaches += len(tick.breaches)
        self.stats.auto_escalations += len(tick.escalations)
        for event in tick.escalations:
            if event.data["target"] is not None:
                self.cases[event.ticket_id].owner = None
        delivery = self.desk.deliver(limit=1000)
        self.stats.delivered += len(delivery.delivered)
        self.stats.retried += len(delivery.retried)
        self.stats.dead += len(delivery.dead)

    def _presence(self, now: datetime) -> None:
        router = self.desk.router
        assert router is not None
        for agent, calendar in self.agents.items():
            is_open = calendar.is_open(now)
            if is_open != (agent in self.online):
                router.set_status(agent, "online" if is_open else "offline", at=now)
                (self.online.add if is_open else self.online.discard)(agent)

    def _arrivals(self, now: datetime) -> None:
        while self.inbox and self.inbox[0][0] <= now:
            _, message = self.inbox.pop(0)
            result = self.desk.ingest(message)
            self.stats.messages += 1
            if result.duplicate:
                self.stats.duplicates += 1
                continue
            ticket_id = result.ticket_id
            assert ticket_id is not None  # only receive() leaves it None (ignored noise)
            case = self.cases.get(ticket_id)
            if case is None:
                skill = message.tags[0].split(":")[1]
                case = self.cases[ticket_id] = _Case(
                    ticket_id, message.sender, message.channel, skill
                )
            case.owner = result.assignee or case.owner
            case.needs_reply, case.waiting, case.wake = True, "agent", None

    def _customer_writes(self, case: _Case, now: datetime, body: str) -> None:
        message = InboundMessage(
            self._message_id(),
            case.channel,
            case.customer,
            now,
            body=body,
            ticket_id=case.ticket_id,
        )
        self.inbox.insert(0, (now, message))

    def _wake(self, now: datetime) -> None:
        desk, rng = self.desk, self.rng
        for case in self.cases.values():
            if case.wake is None or case.wake > now:
                continue
            case.wake = None
            if case.waiting == "customer":
                self._customer_writes(case, now, "Here are the details you asked for.")
            elif case.waiting == "engineering":
                desk.set_status(case.ticket_id, Status.OPEN, by="agent", actor="rnd")
                case.needs_reply, case.waiting = True, "agent"
            elif case.waiting == "rating":
                if rng.random() < 0.1:
                    self.stats.reopened += 1
                    self._customer_writes(case, now, "It broke again.")
                    continue
                if rng.random() < 0.6:
                    desk.rate(case.ticket_id, csat="good" if rng.random() < 0.82 else "bad")
                    self.stats.ratings += 1
                case.waiting = "done"
        self._arrivals(now)

    def _work(self, now: datetime) -> None:
        desk, rng = self.desk, self.rng
        busy: dict[str, int] = {}
        for case in self.cases.values():  # in order of arrival: the run is reproducible
            agent = case.owner
            if agent is None or agent not in self.online or not case.needs_reply:
                continue
            if busy.get(agent, 0) >= 2 or rng.random() < 0.45:
                continue  # the agent is on something else this step
            busy[agent] = busy.get(agent, 0) + 1
            case.needs_reply = False
            case.replies += 1
            self.stats.replies += 1
            roll = rng.random()
            if case.replies == 1 and roll < 0.3:
                desk.reply(
                    case.ticket_id,
                    "Could you send a screenshot?",
                    agent=agent,
                    status=Status.PENDING,
                )
                self.stats.pending += 1
                case.waiting, case.wake = "customer", now + timedelta(minutes=rng.randint(20, 180))
            elif case.skill != "billing" and case.replies == 1 and roll < 0.42:
                desk.reply(case.ticket_id, "Our engineers are on it.", agent=agent)
                desk.escalate(
                    case.ticket_id,
                    "engineering",
                    target="rnd",
                    reason="reproducible bug",
                    actor=agent,
                )
                desk.set_status(case.ticket_id, Status.ON_HOLD, actor=agent)
                self.stats.engineering += 1
                case.waiting, case.wake = (
                    "engineering",
                    now + timedelta(minutes=rng.randint(60, 240)),
                )
            else:
                desk.reply(case.ticket_id, "This is fixed now.", agent=agent, status=Status.SOLVED)
                case.waiting, case.wake = "rating", now + timedelta(minutes=rng.randint(10, 90))


def _people(
    config: DeskConfig | None = None,
) -> tuple[dict[str, Customer], tuple[Agent, ...], dict[str, BusinessCalendar]]:
    """The customers, and the configuration's agents with their shift calendars."""
    customers: dict[str, Customer] = {}
    for n in range(90):
        org = TOP_ACCOUNTS[n % 3] if n < 9 else f"org-{n // 3:02d}"
        tier = "enterprise" if n < 9 else ("pro" if n % 3 == 0 else "free")
        address = f"user{n:02d}@{org}.example"
        customers[address] = Customer(f"cust-{n:02d}", tier=tier, organisation=org, email=address)
    config = config or demo_config()
    shifts = {agent: config.calendars[name] for agent, name in config.shifts.items()}
    return customers, config.agents, shifts


def run_demo(
    *,
    tickets: int = 300,
    days: int = 1,
    seed: int = 7,
    speed: float = 0.0,
    db: str | Path,
    on_step: Callable[[int, int, datetime, DemoStats], None] | None = None,
) -> tuple[Summary, DemoStats]:
    """Simulate *days* working days from Monday (1 to 5), *tickets* new tickets a day, into
    the SQLite file *db*; return the summary and the counters.

    *on_step(done, total, now, stats)* is called after each simulated step with the simulated
    clock and the running counters (a progress bar); *speed* is simulated seconds per real
    second (``0``: as fast as possible).
    """
    if not 1 <= days <= len(WEEKDAYS):
        raise ConfigurationError(f"days must be 1 to {len(WEEKDAYS)} (Monday on), got {days!r}")
    end = END + timedelta(days=days - 1)
    period = "a support day" if days == 1 else f"{days} support days"
    title = f"supportkit demo — {period} (seed {seed})"
    rng = random.Random(seed)
    config = demo_config(db)
    customers, _, shifts = _people(config)
    clock = FrozenClock(START)
    pager = Pager(clock, back=START + PAGER_DOWN)
    desk = SupportDesk.from_config(
        config.document, clock=clock, plugins=[DemoCrm(customers), pager]
    )
    desk.store.set_meta(
        SETTINGS_KEY,
        settings(desk.policies, config.desk_calendars(), config.goals, title)
        | {"at": end.isoformat()},
    )
    simulation = _Simulation(desk, clock, rng, customers, shifts)
    simulation.plan(tickets, days)
    per_day = int((END - START) / STEP) + 1  # 06:00 to 23:00; the nights pass in one step
    instants = [START + timedelta(days=d) + n * STEP for d in range(days) for n in range(per_day)]
    started = time.perf_counter()
    try:
        for done, now in enumerate(instants, 1):
            simulation.step(now)
            if on_step is not None:
                on_step(done, len(instants), now, simulation.stats)
            if speed > 0:
                time.sleep(STEP.total_seconds() / speed)
        clock.set(end)
        summary = summarize(desk, goals=config.goals, title=title)
    finally:
        desk.close()
    stats = simulation.stats
    stats.pages, stats.pager_refused = pager.pages, pager.refused
    stats.seconds = time.perf_counter() - started
    return summary, stats


def plural(count: float | int | None, word: str, words: str | None = None) -> str:
    """``"[b]1[/b] page"``, ``"[b]2[/b] pages"`` (*words*: an irregular plural)."""
    number = count or 0
    return f"[b]{number:g}[/b] {word if number == 1 else words or word + 's'}"


def render_dashboard(summary: Summary, stats: DemoStats, console: Any) -> None:
    """Print the dashboard with rich (*console* is a ``rich.console.Console``)."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    from ._report import TIER_COLUMNS, cell, goal_rows, step_row, tier_name

    overall = summary.overall
    receivers = summary.receivers
    lines = [
        f"{plural(overall['incoming'], 'ticket')} from "
        f"{plural(stats.messages, 'inbound message')} "
        f"({plural(stats.duplicates, 'redelivery', 'redeliveries')} ignored), "
        f"[b]{overall['solved']}[/b] solved, backlog [b]{overall['backlog']}[/b], "
        f"[b]{overall['reopened']}[/b] reopened",
        f"SLA: {plural(stats.warnings, 'warning')}, {plural(stats.breaches, 'breach', 'breaches')}"
        f", {plural(stats.auto_escalations, 'automatic escalation')} to L2; "
        f"{plural(summary.engineering, 'escalation')} to engineering",
        f"Outbox: {plural(summary.outbox.get('delivered', 0), 'notice')} delivered, one per "
        "event and change for each notifier that takes it: "
        f"{receivers.get('notifier:log', 0)} to the log notifier (it takes every notice), "
        f"{receivers.get('notifier:pager', 0)} to the pager (breaches and escalations only)",
        f"The pager was down until {(START + PAGER_DOWN):%H:%M} UTC: "
        f"{plural(stats.retried, 'retry', 'retries')} ({stats.pager_refused} refused, then "
        f"{plural(stats.pages, 'page')}), {plural(summary.outbox.get('dead', 0), 'dead letter')}"
        f", [b]{summary.outbox.get('pending', 0)}[/b] pending",
        f"CSAT [b]{cell(overall, 'csat', '%')}[/b] from "
        f"{plural(overall['csat_responses'] or 0, 'rating')}; simulated in {stats.seconds:.1f} s",
    ]
    console.print(Panel("\n".join(lines), title=summary.title, expand=False))
    tiers = Table(
        title="Per tier (FRT first reply, res resolution: median/p90 in minutes)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )
    tiers.add_column("tier", no_wrap=True, min_width=10)
    for _, short, _, _ in TIER_COLUMNS:
        tiers.add_column(short, justify="right", no_wrap=True)
    for row in summary.tiers():
        tiers.add_row(
            tier_name(row), *(cell(row, m, u, compact=True) for _, _, m, u in TIER_COLUMNS)
        )
    console.print(tiers)
    goals = Table(title="Goals", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("goal", "value", "target", "result"):
        goals.add_column(name, justify="left" if name == "goal" else "right")
    for goal, value, target, verdict in goal_rows(summary):
        colour = {"met": "green", "missed": "red"}.get(verdict, "yellow")
        goals.add_row(goal, value, target, f"[{colour}]{verdict}[/{colour}]")
    console.print(goals)
    steps = Table(
        title=f"Next steps for open tickets, most urgent first ({len(summary.next_steps)}; "
        "first 12)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for name in ("ticket", "waiting on", "action", "owner", "due"):
        steps.add_column(name)
    for step in summary.next_steps[:12]:
        steps.add_row(*step_row(step, summary.tz))
    console.print(steps)
