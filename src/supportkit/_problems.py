"""Problems and incidents: a problem ticket links many incident tickets.

An incident carries ``linked_to_problem`` / ``unlinked`` events in its own log (the ticket fold
checks them: one problem at a time, never itself, never on a closed ticket). The desk checks
the rules that span two tickets (:func:`check_link`) and keeps, in its store's state under
:data:`NAMESPACE`, the incident ids of each problem: a superset written before the link is
committed, every entry verified against the incident's log before use. Solving the problem
solves or notifies its open incidents (:class:`ProblemSettings`), each with a public reply.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._model import Status
from .exceptions import ConfigurationError, TicketStateError

if TYPE_CHECKING:
    from ._ticket import Ticket
    from .typing import PluginState

__all__ = ["NAMESPACE", "ProblemSettings", "ProblemSuggestion"]

NAMESPACE = "supportkit.problems"
"""The store state namespace of the problem -> incidents index and the suggestions."""

_ON_SOLVE = ("solve", "notify")
_FIELDS = ("ticket", "problem", "subject")


def _on_solve(_: Any, __: Any, value: Any) -> None:
    if value not in _ON_SOLVE:
        raise ConfigurationError(
            f"ProblemSettings on_solve must be 'solve' or 'notify', got {value!r}"
        )


def _template(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"ProblemSettings {attribute.name} must be non-empty text")
    try:
        string.Template(value).substitute(dict.fromkeys(_FIELDS, ""))
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(
            f"ProblemSettings {attribute.name}: bad placeholder {exc} in {value!r}; use "
            f"{', '.join('$' + name for name in _FIELDS)}"
        ) from None


@attrs.frozen
class ProblemSettings:
    """What solving a problem does to its open incidents, and the reply each one gets.

    ``on_solve="solve"`` (the default) sends the ``solved`` reply and solves the incident in
    one commit; ``"notify"`` sends the ``notified`` reply and leaves the incident as it is, for
    an agent to confirm with the customer. The templates are :class:`string.Template` text with
    ``$ticket`` (the incident), ``$problem`` (the problem ticket) and ``$subject`` (the
    problem's subject). ``similarity`` is the score from 0 to 1 a problem needs to be suggested
    for a new ticket (see :meth:`SupportDesk.problem_suggestions
    <supportkit.SupportDesk.problem_suggestions>`).
    """

    on_solve: str = attrs.field(default="solve", validator=_on_solve)
    solved: str = attrs.field(
        default="The issue behind this request ($subject) has been fixed, so we are marking "
        "it solved. Reply if anything still goes wrong.",
        validator=_template,
    )
    notified: str = attrs.field(
        default="The issue behind this request ($subject) has been fixed. Could you check "
        "that it works for you now?",
        validator=_template,
    )
    similarity: float = attrs.field(default=0.3)

    @similarity.validator
    def _similarity(self, _: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ConfigurationError(
                f"ProblemSettings similarity must be a number above 0 and at most 1, got {value!r}"
            )

    def reply(self, incident: str, problem: Ticket) -> str:
        """The reply *incident* gets when *problem* is solved."""
        text = self.solved if self.on_solve == "solve" else self.notified
        values = {"ticket": incident, "problem": problem.id, "subject": problem.subject}
        return string.Template(text).substitute(values)


@attrs.frozen
class ProblemSuggestion:
    """A problem a new ticket may be an incident of (never linked automatically).

    ``score`` (0 to 1) is the word overlap (Jaccard index) of the two subjects and first
    messages, raised by shared tags or group; ``reasons`` says what matched.
    """

    problem: str
    score: float
    reasons: tuple[str, ...]


def _key(problem: str) -> str:
    return f"incidents:{problem}"


def listed_incidents(state: PluginState, problem: str) -> list[str]:
    """The incident ids the index holds for *problem* (a superset: verify each)."""
    value = state.get(_key(problem))
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def remember(state: PluginState, problem: str, incident: str) -> None:
    """Add *incident* to *problem*'s entry and *problem* to the list of problems."""
    incidents = listed_incidents(state, problem)
    if incident not in incidents:
        state.put(_key(problem), [*incidents, incident])
    problems = known_problems(state)
    if problem not in problems:
        state.put("problems", [*problems, problem])


def forget(state: PluginState, problem: str, incident: str) -> None:
    """Drop *incident* from *problem*'s entry (after its ``unlinked`` event is committed)."""
    incidents = listed_incidents(state, problem)
    if incident in incidents:
        state.put(_key(problem), [item for item in incidents if item != incident])


def known_problems(state: PluginState) -> list[str]:
    """Every ticket that has ever had an incident linked, oldest first."""
    value = state.get("problems")
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def check_link(incident: Ticket, problem: Ticket, incidents_of_incident: Sequence[str]) -> None:
    """Refuse a link the two tickets' states forbid, with a TicketStateError naming them."""
    why = None
    if incident.id == problem.id:
        why = "a ticket cannot be its own problem"
    elif problem.status in (Status.SOLVED, Status.CLOSED):
        why = f"problem {problem.id} is {problem.status.value} (reopen it first)"
    elif incident.status is Status.CLOSED:
        why = f"incident {incident.id} is closed (closed is final)"
    elif problem.problem is not None:
        why = (
            f"{problem.id} is itself an incident of problem {problem.problem}: link to "
            f"{problem.problem} instead (a link never makes a cycle or a chain)"
        )
    elif incidents_of_incident:
        why = (
            f"{incident.id} is a problem with incidents ({', '.join(incidents_of_incident)}): "
            "a problem cannot be an incident"
        )
    elif incident.problem is not None and incident.problem != problem.id:
        why = f"{incident.id} is already linked to problem {incident.problem} (unlink it first)"
    elif incident.problem == problem.id:
        why = f"{incident.id} is already linked to problem {problem.id}"
    if why is not None:
        raise TicketStateError(
            f"ticket {incident.id}: cannot link to problem {problem.id}: {why}",
            ticket_id=incident.id,
            status=incident.status.value,
        )


_WORD = re.compile(r"\w+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.casefold()))


def similarity(ticket: Ticket, text: str, problem: Ticket, problem_text: str) -> ProblemSuggestion:
    """How alike *ticket* (with its first message *text*) and *problem* are.

    The score is the Jaccard index of the two sets of lower-cased words (subject and first
    message): shared words over all words; plus 0.2 for shared tags and 0.1 for the same group,
    capped at 1.
    """
    mine = _words(f"{ticket.subject} {text}")
    theirs = _words(f"{problem.subject} {problem_text}")
    union = len(mine | theirs)
    score = len(mine & theirs) / union if union else 0.0
    reasons = [f"text {score:.2f}"]
    shared = sorted(ticket.tags & problem.tags)
    if shared:
        score += 0.2
        reasons.append(f"tags {', '.join(shared)}")
    if ticket.group is not None and ticket.group == problem.group:
        score += 0.1
        reasons.append(f"group {ticket.group}")
    return ProblemSuggestion(problem.id, round(min(score, 1.0), 4), tuple(reasons))


def first_text(bodies: Iterable[str]) -> str:
    """The first non-empty message body, cut to 2,000 characters (enough to compare)."""
    return next((body for body in bodies if body), "")[:2000]
