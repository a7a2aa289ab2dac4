"""Engineering links through the outbox: tracker calls never run inside the agent's action,
a tracker outage is retried, issues carry the affected customers' tiers, weight and their value
from the CRM (``supportkit_lookup_value``), updated as incidents link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    AffectedCustomers,
    Customer,
    EngineeringIssue,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    IntegrationError,
    IssueUpdate,
    ProblemSettings,
    SupportDesk,
    Ticket,
    Tier,
    hookimpl,
)

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


class Notebook:
    """An in-process supportkit.typing.IssueTracker recording every call; ``down`` makes it
    raise a retryable IntegrationError."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, AffectedCustomers | None]] = []
        self.down = False

    def _call(self, what: str, key: str, affected: AffectedCustomers | None) -> None:
        if self.down:
            raise IntegrationError("notebook is down")
        self.calls.append((what, key, affected))

    def create_issue(self, problem: Ticket, affected: AffectedCustomers) -> EngineeringIssue:
        self._call("create", problem.id, affected)
        return EngineeringIssue("notebook", f"NB-{problem.id}")

    def link_issue(self, reference: str) -> EngineeringIssue:
        self._call("link", reference, None)
        return EngineeringIssue("notebook", reference)

    def update_issue(self, issue: EngineeringIssue, affected: AffectedCustomers) -> None:
        self._call("update", issue.key, affected)

    def parse_webhook(self, body: bytes, headers: Any) -> list[IssueUpdate]:
        key, _, state = body.decode().partition(" ")
        return [IssueUpdate(key, state)]

    @hookimpl
    def supportkit_register_issue_trackers(self, register: Any) -> None:
        register("notebook", self)


class Revenue:
    """A supportkit_lookup_value hookimpl: a customer's yearly revenue, by id."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[Customer] = []

    @hookimpl
    def supportkit_lookup_value(self, customer: Customer) -> Any:
        self.asked.append(customer)
        return self.values.get(customer.id)


def _desk(*plugins: object) -> SupportDesk:
    tiers = [Tier("gold", weight=10), Tier("silver", weight=3)]
    return SupportDesk(store=InMemoryStore(), clock=FrozenClock(T0), plugins=list(plugins),
                       tiers=tiers)  # fmt: skip


def _open(desk: SupportDesk, n: int, tier: str | None = None, sender: str = "") -> str:
    message = InboundMessage(f"m-{n}", "email", sender or f"c{n}@example.com", T0, subject=f"S{n}")
    ticket_id = desk.ingest(message).ticket_id
    assert ticket_id is not None
    if tier is not None:
        desk.set_tier(ticket_id, tier)
    return ticket_id


def test_the_tracker_is_called_from_the_outbox_only() -> None:
    """Escalating and linking incidents call no tracker; deliver() creates the issue once
    and brings it up to date once per link, with the figures as they are when delivered."""
    notebook = Notebook()
    desk = _desk(notebook)
    problem = _open(desk, 0, "gold")
    desk.escalate_to_engineering(problem, "notebook", actor="ann")
    desk.link_problem(_open(desk, 1, "silver"), problem)
    assert [] == notebook.calls
    assert desk.engineering_issue(problem) is None
    desk.deliver()
    [(what, key, affected), (then, _, later)] = notebook.calls
    assert ("create", problem, "update") == (what, key, then)
    assert affected == later  # both computed at delivery: two customers already
    assert (2, 1, 13) == (affected.customers, affected.top_tier, affected.weight)  # type: ignore[union-attr]
    assert EngineeringIssue("notebook", f"NB-{problem}") == desk.engineering_issue(problem)
    kinds = [(e.kind, e.data.get("body")) for e in desk.events(problem)]
    assert ("message", "Engineering issue requested: a new issue in notebook.") in kinds
    assert ("message", f"Engineering issue NB-{problem}.") in kinds


def test_a_tracker_outage_is_retried_and_never_fails_the_agent() -> None:
    """A tracker raising IntegrationError leaves the request pending (retried with backoff);
    the agent's escalation and links went through all along."""
    notebook = Notebook()
    notebook.down = True
    desk = _desk(notebook)
    problem = _open(desk, 0)
    desk.escalate_to_engineering(problem, "notebook")
    assert 1 == len(desk.deliver().retried)
    assert "engineering" == desk.ticket(problem).escalation_level
    notebook.down = False
    assert isinstance(desk.clock, FrozenClock)
    desk.clock.advance(timedelta(hours=1))
    desk.deliver()
    assert ["create"] == [what for what, _, _ in notebook.calls]
    assert desk.engineering_issue(problem) is not None


def test_the_value_comes_from_the_crm_hook_once_per_customer() -> None:
    """supportkit_lookup_value answers each affected customer's value (asked once per
    customer, with their tier and address); the issue carries their sum and how many had one."""
    notebook = Notebook()
    revenue = Revenue({"c0@example.com": 120_000, "c1@example.com": 30_000.5})
    desk = _desk(notebook, revenue)
    problem = _open(desk, 0, "gold")
    desk.link_problem(_open(desk, 1), problem)
    desk.link_problem(_open(desk, 2), problem)
    desk.link_problem(_open(desk, 3, sender="c1@example.com"), problem)  # c1 again
    affected = desk.affected_customers(problem)
    assert (3, 150_000.5, 2) == (affected.customers, affected.value, affected.valued)
    assert sorted(c.id for c in revenue.asked) == [f"c{n}@example.com" for n in range(3)]
    gold = next(c for c in revenue.asked if c.id == "c0@example.com")
    assert ("gold", "c0@example.com") == (gold.tier, gold.email)
    assert "3 customers (1 top tier), weight 10, value 150000 (2 valued): gold 1, none 2" == (
        affected.summary()
    )
    assert desk.affected_customers(_open(desk, 4)).value is None  # nobody knows a value


def test_a_crm_backend_answers_after_the_hookimpls() -> None:
    """A registered CRM backend with a lookup_value method is asked when no hookimpl knows."""

    class Crm:
        def lookup_customer(self, message: Any) -> None:
            return None

        def lookup_tier(self, customer: Any) -> None:
            return None

        def lookup_value(self, customer: Customer) -> float:
            return 7.0

        @hookimpl
        def supportkit_register_crm_backends(self, register: Any) -> None:
            register("books", self)

    desk = _desk(Revenue({"c0@example.com": 5}), Crm())
    problem = _open(desk, 0)
    desk.link_problem(_open(desk, 1), problem)
    assert (12.0, 2) == (desk.affected_customers(problem).value,
                         desk.affected_customers(problem).valued)  # fmt: skip


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True, "12"])
def test_a_bad_value_is_a_plugin_error_and_the_update_is_retried(bad: Any) -> None:
    """A value that is not a finite number of zero or more names the plugin; the delivery
    that needed it is retried rather than sending a wrong figure."""
    notebook = Notebook()
    desk = _desk(notebook, Revenue({"c0@example.com": bad}))
    problem = _open(desk, 0)
    desk.escalate_to_engineering(problem, "notebook")
    [key] = desk.deliver().retried
    [row] = [m for m in desk.outbox("pending") if m.key == key]
    assert "as a customer's value" in (row.last_error or "")
    assert [] == notebook.calls


def _escalated(
    notebook: Notebook, settings: ProblemSettings | None = None
) -> tuple[SupportDesk, str, str]:
    """A desk with problem P escalated to notebook (issue NB-P delivered) and incident I."""
    desk = _desk(notebook)
    if settings is not None:
        desk.problem_settings = settings
    problem, incident = _open(desk, 1), _open(desk, 2)
    desk.assign(problem, "eve")
    desk.link_problem(incident, problem)
    desk.escalate_to_engineering(problem, "notebook")
    desk.deliver()
    return desk, problem, incident


def _step(desk: SupportDesk, ticket_id: str) -> Any:
    [step] = [s for s in desk.next_steps() if s.ticket_id == ticket_id]
    return step


def test_wont_fix_turns_the_incidents_back_to_their_agents() -> None:
    desk, problem, incident = _escalated(Notebook())
    assert _step(desk, incident).action == "engineering_fix"
    [update] = desk.receive_issue_webhook("notebook", f"NB-{problem} wont_fix".encode())
    assert update.state == "wont_fix"
    [changed] = [e for e in desk.events(problem) if e.kind == "engineering_issue_changed"]
    assert changed.data == {"tracker": "notebook", "key": f"NB-{problem}", "state": "wont_fix"}
    step = _step(desk, incident)
    assert (step.action, step.waiting_on, step.problem_issue) == ("assign", "team", "wont_fix")
    note = f"engineering won't fix problem {problem} (owned by eve): answer the customer"
    assert step.note == note
    # The problem itself no longer waits on engineering either: its owner answers now.
    assert _step(desk, problem).action != "engineering_fix"
    # Without a wont_fix template, nobody is told automatically.
    assert all(e.by != "system" for e in desk.events(incident) if e.kind == "message")
    # Reopened in the tracker: the incidents wait on engineering again.
    desk.receive_issue_webhook("notebook", f"NB-{problem} open".encode())
    assert _step(desk, incident).action == "engineering_fix"
    assert _step(desk, problem).action == "engineering_fix"


def test_wont_fix_replies_from_the_template_through_the_outbox() -> None:
    settings = ProblemSettings(wont_fix="$subject will not change; ask us for a workaround.")
    desk, problem, incident = _escalated(Notebook(), settings)
    desk.receive_issue_webhook("notebook", f"NB-{problem} wont_fix".encode())
    [notice] = [e for e in desk.events(incident) if e.kind == "message" and e.by == "system"]
    assert notice.data["public"] is True
    subject = desk.ticket(problem).subject
    assert notice.data["body"] == f"{subject} will not change; ask us for a workaround."
    assert any(m.ticket_id == incident and m.topic != "issue_tracker" for m in desk.outbox())
    assert desk.ticket(incident).status not in ("solved", "closed")  # the agent confirms


@pytest.mark.parametrize("state", ["fixed", "wont_fix", "released"])
def test_a_repeated_webhook_delivery_writes_nothing(state: str) -> None:
    desk, problem, incident = _escalated(Notebook())
    body = f"NB-{problem} {state}".encode()
    desk.receive_issue_webhook("notebook", body)
    logs = {t: desk.events(t) for t in (problem, incident)}
    outbox = desk.outbox()
    assert desk.receive_issue_webhook("notebook", body) == []  # nothing new applied
    assert {t: desk.events(t) for t in (problem, incident)} == logs
    assert desk.outbox() == outbox
    assert desk.engineering_issue(problem).state == state
