"""Problems and incidents: a problem ticket links many incident tickets.

An incident carries ``linked_to_problem`` / ``unlinked`` events in its own log (the ticket fold
checks them: one problem at a time, never itself, never on a closed ticket). The desk checks
the rules that span two tickets (:func:`check_link`), before the link is committed and again
after it, and keeps in its store's state under :data:`NAMESPACE` the incident ids of each
problem and the problems themselves (:class:`ProblemIndex`): append-only lists whose entries
are written with compare-and-set before the link is committed (a superset: every entry is
verified against the incident's log before use). Solving the problem solves or notifies its
open incidents (:class:`ProblemSettings`), each with a public reply. Duplicate suggestions for
new tickets come from an in-process word index over the problems (:meth:`ProblemIndex.suggest`).
"""

from __future__ import annotations

import math
import re
import string
import threading
from collections.abc import Callable, Iterable, Sequence
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
    problem's subject). ``wont_fix``, when given, is the template of the public, automatic
    reply each open incident gets when engineering won't fix the problem's issue (a tracker's
    ``wont_fix`` webhook; the incidents stay open for their agents); ``None`` (the default)
    sends none. ``similarity`` is the score from 0 to 1 a problem needs to be suggested
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
    wont_fix: str | None = attrs.field(default=None, validator=attrs.validators.optional(_template))

    @similarity.validator
    def _similarity(self, _: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ConfigurationError(
                f"ProblemSettings similarity must be a number above 0 and at most 1, got {value!r}"
            )

    def reply(self, incident: str, problem: Ticket, template: str | None = None) -> str:
        """The reply *incident* gets when *problem* is solved (or from *template*)."""
        text = template or (self.solved if self.on_solve == "solve" else self.notified)
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


class Slots:
    """Append-only lists of ticket ids in one plugin state namespace, shared by every desk on
    the store: item *n* of list *name* is the key ``<name>:<n>``, written once with
    ``put_new`` (compare-and-set), so two writers never overwrite each other (the loser takes
    the next slot) and nothing is lost. The items a process has read are kept as a hint, and
    each read extends them from the store; an id may appear more than once.
    """

    def __init__(self, state: PluginState) -> None:
        self.state = state
        self._seen: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> list[str]:
        """Every item of list *name*, in the order they were appended."""
        with self._lock:
            seen = self._seen.setdefault(name, [])
            while isinstance(item := self.state.get(f"{name}:{len(seen)}"), str):
                seen.append(item)
            return list(seen)

    def append(self, name: str, item: str) -> None:
        """Append *item* to list *name* in the first free slot."""
        slot = len(self.read(name))
        while not self.state.put_new(f"{name}:{slot}", item):
            slot += 1


def incidents_list(problem: str) -> str:
    """The :class:`Slots` list of the incidents ever linked to *problem* (a superset of its
    incidents now: every entry is checked against the incident's log before use)."""
    return f"incidents:{problem}"


PROBLEMS = "problems"
"""The :class:`Slots` list of every ticket that ever had an incident linked."""


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
#: Scores are rounded to 4 places before the threshold is applied: never prune closer than that.
_ROUNDING = 1e-4


def words(text: str) -> frozenset[str]:
    """The set of lower-cased words (``\\w+``) of *text*."""
    return frozenset(_WORD.findall(text.casefold()))


def score(
    ticket: Ticket, mine: frozenset[str], problem: Ticket, theirs: frozenset[str]
) -> ProblemSuggestion:
    """How alike *ticket* (whose subject and first message have the words *mine*) and
    *problem* (words *theirs*) are.

    The score is the Jaccard index of the two word sets (shared words over all words), plus
    0.2 for shared tags and 0.1 for the same group, capped at 1.
    """
    jaccard = _jaccard(mine, theirs)
    value = jaccard + _boost(ticket, problem.tags, problem.group)
    reasons = [f"text {jaccard:.2f}"]
    shared = sorted(ticket.tags & problem.tags)
    if shared:
        reasons.append(f"tags {', '.join(shared)}")
    if ticket.group is not None and ticket.group == problem.group:
        reasons.append(f"group {ticket.group}")
    return ProblemSuggestion(problem.id, round(min(value, 1.0), 4), tuple(reasons))


def _jaccard(mine: frozenset[str], theirs: frozenset[str]) -> float:
    shared = len(mine & theirs)
    union = len(mine) + len(theirs) - shared
    return shared / union if union else 0.0


def _boost(ticket: Ticket, tags: frozenset[str], group: str | None) -> float:
    return (0.2 if ticket.tags & tags else 0.0) + (
        0.1 if ticket.group is not None and ticket.group == group else 0.0
    )


def first_text(bodies: Iterable[str]) -> str:
    """The first non-empty message body, cut to 2,000 characters (enough to compare)."""
    return next((body for body in bodies if body), "")[:2000]


@attrs.define
class _Entry:
    words: frozenset[str]
    tags: frozenset[str]
    group: str | None


class ProblemIndex:
    """A desk's view of the problems in its store: the :class:`Slots` lists of each problem's
    incidents and of the problems themselves (the truth, shared through the store), and an
    in-process index for duplicate suggestions.

    The suggestion index maps each word of a problem's subject and first message (which never
    change) to the problems that have it, and each tag and group, *as this process last read
    the problem*, likewise. A new ticket is scored only against the problems whose score can
    reach the threshold by those figures (sharing a word, or a tag or group that could make up
    the difference), each read from the store and scored exactly; so the cost of a suggestion
    grows with the problems alike, not with all of them. A tag or group another process gave
    a problem is seen once this process next reads that problem.
    """

    def __init__(self, state: PluginState) -> None:
        self.slots = Slots(state)
        self._entries: dict[str, _Entry] = {}
        self._by: dict[str, set[str]] = {}  # "w:<word>", "t:<tag>", "g:<group>" -> problems
        self._lock = threading.Lock()

    def incidents(self, problem: str) -> list[str]:
        """The tickets ever linked to *problem*, each once, in the order of their last link."""
        listed = self.slots.read(incidents_list(problem))
        return list(reversed(dict.fromkeys(reversed(listed))))

    def problems(self) -> list[str]:
        """Every ticket that ever had an incident linked, each once, oldest first."""
        return list(dict.fromkeys(self.slots.read(PROBLEMS)))

    def link(self, problem: str, incident: str) -> None:
        """Record that *incident* is being linked to *problem* (before the link is committed,
        so the lists stay a superset)."""
        self.slots.append(incidents_list(problem), incident)
        if problem not in self.slots.read(PROBLEMS):
            self.slots.append(PROBLEMS, problem)

    def suggest(
        self,
        ticket: Ticket,
        body: str,
        threshold: float,
        read: Callable[[str], Ticket],
        first: Callable[[str], str],
    ) -> list[ProblemSuggestion]:
        """The open problems alike *ticket* (first message *body*) with a score of at least
        *threshold*, best first; *read* gives a ticket from the store, *first* its first
        message's text."""
        for problem_id in self.problems():
            if problem_id not in self._entries:
                problem = read(problem_id)
                self._index(problem, words(f"{problem.subject} {first(problem_id)}"))
        if not self._entries:
            return []  # no problem yet (the usual case): no candidates to look for
        mine = words(f"{ticket.subject} {body}")
        with self._lock:
            hopeful = [
                p
                for p in self._candidates(ticket, mine, threshold)
                if _jaccard(mine, (e := self._entries[p]).words) + _boost(ticket, e.tags, e.group)
                >= threshold - _ROUNDING
            ]
        found = []
        for problem_id in hopeful:
            problem = read(problem_id)
            self._index(problem, self._entries[problem_id].words)
            if problem.status in (Status.SOLVED, Status.CLOSED) or problem.id == ticket.id:
                continue
            suggestion = score(ticket, mine, problem, self._entries[problem_id].words)
            if suggestion.score >= threshold:
                found.append(suggestion)
        found.sort(key=lambda s: (-s.score, s.problem))
        return found

    def _candidates(self, ticket: Ticket, mine: frozenset[str], threshold: float) -> set[str]:
        """The problems that may score *threshold* against *ticket* (words *mine*): those
        sharing a tag (up to 0.3 of boost), and those sharing a word among the rarest of
        *mine* (prefix filtering: a problem whose Jaccard index with *mine* reaches ``t``
        shares at least ``ceil(t * len(mine))`` of its words, so at least one of any
        ``len(mine) - ceil(t * len(mine)) + 1`` of them); with ``threshold <= 0.1`` every
        problem in the ticket's group too."""
        found: set[str] = set().union(*(self._by.get(f"t:{tag}", ()) for tag in ticket.tags))
        text = threshold - (0.1 if ticket.group is not None else 0.0) - _ROUNDING
        if text <= 0:
            found |= self._by.get(f"g:{ticket.group}", set())
            text = 0.0
        need = max(1, math.ceil(text * len(mine)))
        rarest = sorted(mine, key=lambda w: (len(self._by.get(f"w:{w}", ())), w))
        for word in rarest[: len(mine) - need + 1]:
            found |= self._by.get(f"w:{word}", set())
        return found

    def _index(self, problem: Ticket, problem_words: frozenset[str]) -> None:
        """(Re)index *problem* with its words and its tags and group as read now."""
        with self._lock:
            old = self._entries.get(problem.id)
            keys = [] if old is None else _hint_keys(old.tags, old.group)
            for key in keys:
                self._by.get(key, set()).discard(problem.id)
            entry = self._entries[problem.id] = _Entry(problem_words, problem.tags, problem.group)
            keys = _hint_keys(entry.tags, entry.group)
            if old is None:
                keys += [f"w:{w}" for w in problem_words]
            for key in keys:
                self._by.setdefault(key, set()).add(problem.id)


def _hint_keys(tags: frozenset[str], group: str | None) -> list[str]:
    return [f"t:{t}" for t in tags] + ([] if group is None else [f"g:{group}"])
