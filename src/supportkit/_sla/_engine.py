"""The SLA fold: metric cycles computed from a ticket's events, a policy and a calendar.

How it is fast: the fold runs over the events' integer ``ts`` and never builds a ``Ticket`` per
event (it keeps the foundation's mutable ``_Fold`` for validation and status). Each ticket keeps
one *business clock*: the business seconds elapsed since creation, advanced with a single
``calendar.elapsed_seconds`` call per event that changes a cycle (a note, a tag or a customer
message while a reply is awaited cost none). A cycle stores the clock value at which it last
resumed, so pausing, resuming and stopping are integer arithmetic. The calendar is asked for a
business deadline (``add_seconds``) only when an evaluation's reader asks for that instant (the
status needs it only when the elapsed time equals the target: less means not yet passed, more
means passed), or in the fold when a cycle is paused or stopped at or past its target (to pin
the breach instant, which a breach keeps for good). A tracker's cycles live in one flat list of
plain values (no object per cycle), so many live trackers give the garbage collector little to
walk. Evaluations hold plain integer rows and build ``SlaCycle`` objects and datetimes only when
read.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import attrs

from supportkit._model import Role, Status, TicketEvent
from supportkit._ticket import _Fold
from supportkit._time import from_epoch, to_epoch
from supportkit.exceptions import ConfigurationError, PolicyError, TicketStateError

from ._policy import SLA_METRICS, SlaPolicy

if TYPE_CHECKING:
    from supportkit._calendar import BusinessCalendar

__all__ = [
    "SlaAlert",
    "SlaCycle",
    "SlaEvaluation",
    "SlaMetricEvent",
    "SlaStatus",
    "SlaTracker",
    "evaluate_sla",
    "sla_metric_events",
]

_FR, _NR, _PU, _PA, _RW, _AW, _TR = range(7)
_ALL = frozenset(range(7))
#: Metrics whose clock runs in each unsolved status (solved stops everything).
_RUNS = {
    Status.NEW: _ALL,
    Status.OPEN: _ALL,
    Status.PENDING: _ALL - {_PA, _RW, _AW},
    Status.ON_HOLD: _ALL - {_AW},
}
#: For each change between unsolved statuses: (metric, runs afterwards) for metrics that flip.
_TOGGLES = {
    (old, new): tuple(
        (m, m in _RUNS[new]) for m in (_PA, _RW, _AW) if (m in _RUNS[old]) != (m in _RUNS[new])
    )
    for old in _RUNS
    for new in _RUNS
}
_SOLVED, _CLOSED = Status.SOLVED, Status.CLOSED
_DONE = (_SOLVED, _CLOSED)
_CUSTOMER, _AGENT = Role.CUSTOMER, Role.AGENT  # (an enum member read is slow in Python 3.11)
#: Event kinds besides messages that may change cycles (others, like tags, leave them alone).
_CYCLE_KINDS = frozenset({"status_changed", "priority_changed", "sla_policy_applied", "merged"})


class SlaStatus(enum.StrEnum):
    """Where an SLA cycle stands."""

    ACTIVE = "active"
    """Not stopped and not paused by the ticket's status (it may be outside business hours)."""
    PAUSED = "paused"
    """Not stopped, but the ticket's status pauses this metric."""
    MET = "met"
    """Stopped within its target."""
    BREACHED = "breached"
    """Its deadline passed while it ran (permanent, even if it is later paused or stopped)."""
    CANCELLED = "cancelled"
    """Ended without a verdict: the ticket was merged or the metric lost its target."""


_ACTIVE, _PAUSED, _MET, _BREACHED, _CANCELLED = SlaStatus


def _iso(ts: int | None, tz: tzinfo) -> str | None:
    return None if ts is None else from_epoch(ts, tz).isoformat()


def _when(ts: int | None, tz: tzinfo) -> datetime | None:
    return None if ts is None else from_epoch(ts, tz)


@attrs.frozen
class SlaCycle:
    """One cycle of one metric, as evaluated at an instant.

    Instants are aware datetimes in the calendar's zone (UTC without a calendar). ``elapsed``
    is the time counted on the target's calendar while the clock ran, up to ``min(stop, at)``;
    ``remaining`` is ``target - elapsed`` (negative once past the target). ``deadline`` is when
    the target is reached if the clock keeps running (``None`` while paused; a stopped cycle keeps
    the deadline it had when it stopped). ``warnings`` lists the warning levels reached.
    """

    metric: str
    index: int
    status: SlaStatus
    running: bool
    start: datetime
    stop: datetime | None
    deadline: datetime | None
    elapsed: timedelta
    target: timedelta
    remaining: timedelta
    breached_at: datetime | None
    warnings: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the cycle in the scenario-file output shape."""
        return {
            "status": self.status.value,
            "running": self.running,
            "start": self.start.isoformat(),
            "stop": None if self.stop is None else self.stop.isoformat(),
            "deadline": None if self.deadline is None else self.deadline.isoformat(),
            "elapsed_seconds": int(self.elapsed.total_seconds()),
            "target_seconds": int(self.target.total_seconds()),
            "breached_at": None if self.breached_at is None else self.breached_at.isoformat(),
            "remaining_seconds": int(self.remaining.total_seconds()),
            "warnings": list(self.warnings),
        }


@attrs.frozen
class SlaAlert:
    """A warning or breach of one cycle, to be emitted exactly once (use ``key`` to dedupe).

    ``level`` is the warning fraction, or 1.0 for a breach; ``at`` is when it happened (the
    deadline, for a breach).
    """

    kind: str
    metric: str
    cycle: int
    level: float
    at: datetime
    ticket_id: str
    key: str


@attrs.frozen
class SlaMetricEvent:
    """A Zendesk-style metric event derived from the fold, for export.

    ``kind`` is ``apply_sla`` (a policy applied; ``metric`` and ``cycle`` are ``None``),
    ``activate`` (a cycle started or resumed), ``pause``, ``fulfill`` (stopped), ``cancel`` or
    ``breach`` (at the deadline that passed).
    """

    kind: str
    metric: str | None
    cycle: int | None
    at: datetime
    ticket_id: str
    policy: str
    version: int | str


# A tracker keeps all of its state in one flat list (``st``) of plain values, so that 100,000
# live trackers are a few hundred thousand objects for the garbage collector, not millions, and
# a cycle costs no object of its own. ``st[m]`` is the offset of metric *m*'s open cycle (0: none)
# and ``st[_COUNT + m]`` how many cycles *m* has had; the cycles follow from ``_HEAD`` on, one
# block of ``_W`` fields each, in start order. Fields, at ``o + name`` for the cycle at offset o
# (instants are epoch seconds); the ones a start sets come first, the rest start as the policy
# entry's constant tail (see _compile), so starting a cycle is two short list extends:
#
# _START, _IX      start; index among the metric's cycles
# _ACC, _RTS       while running: elapsed at the last resume, and that instant; while paused,
#                  _ACC is the total
# _SINCE           the clock value (business or wall seconds) at the last resume
# _RUN             whether the clock runs
# _SPANS           flat (resumed at, elapsed then, ...) of the earlier spans since the last
#                  re-target in which the elapsed time crossed a warning threshold, so warning
#                  instants can be found later (None for none; most cycles have none, so pausing
#                  and resuming allocate nothing). The current span, while the clock runs or if
#                  it ran when the cycle stopped, is (_RTS, _ACC).
# _STOP            the stop (None while not stopped)
# _RAN, _ESTOP     whether the clock ran when the cycle stopped; elapsed then
# _BREACH          the breach instant once pinned (a breach is permanent), else None
# _CANCEL          whether the stop was a cancellation
# _WARNED          levels reached before a re-target: {level: instant}, or None
# _M               metric number
# _TARGET, _BIZ    target seconds; whether they count on the business calendar
# _LEVELS, _THR    warning levels; their thresholds in seconds
_COUNT = 7
_HEAD = 14
_START, _IX, _RTS, _SINCE, _RUN, _SPANS = range(6)
_ACC, _STOP, _RAN, _ESTOP, _BREACH, _CANCEL, _WARNED, _M, _TARGET, _BIZ, _LEVELS, _THR = range(
    6, 18
)
_W = 18


# (seconds, counts on the business calendar, warning levels, warning thresholds in seconds,
# a new cycle's fields from _ACC on)
_Entry = tuple[int, bool, tuple[float, ...], tuple[int, ...], tuple[Any, ...]]
_Table = dict[Any, list[_Entry | None]]
_COMPILED: dict[tuple[int, bool], tuple[SlaPolicy, _Table]] = {}


def _compile(policy: SlaPolicy, business: bool) -> _Table:
    key = (id(policy), business)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    table: _Table = {}
    for priority, targets in policy.targets.items():
        row: list[_Entry | None] = []
        for m, metric in enumerate(SLA_METRICS):
            target = targets.get(metric)
            if target is None:
                row.append(None)
                continue
            seconds, biz = target.seconds, target.business and business
            levels, thresholds = policy.warnings, policy.thresholds(seconds)
            tail = (0, None, False, 0, None, False, None, m, seconds, biz, levels, thresholds)
            row.append((seconds, biz, levels, thresholds, tail))
        table[priority] = row
    if len(_COMPILED) >= 512:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = (policy, table)
    return table


_NO_TARGETS: list[_Entry | None] = [None] * 7


_SINGLES: dict[int, tuple[SlaPolicy]] = {}


def _single(policy: SlaPolicy) -> tuple[SlaPolicy, ...]:
    """One shared ``(policy,)`` per policy: a tracker per ticket should not allocate it (policies
    are unhashable, so the cache is keyed by identity and holds the policy alive)."""
    hit = _SINGLES.get(id(policy))
    if hit is None or hit[0] is not policy:
        if len(_SINGLES) >= 512:
            _SINGLES.pop(next(iter(_SINGLES)))
        hit = _SINGLES[id(policy)] = (policy,)
    return hit


def _book(policy: SlaPolicy | Sequence[SlaPolicy]) -> tuple[SlaPolicy, ...]:
    if isinstance(policy, SlaPolicy):
        return _single(policy)
    book = tuple(policy)
    if not book or not all(isinstance(p, SlaPolicy) for p in book):
        raise PolicyError(
            "pass an SlaPolicy (or a non-empty list of them: the first applies from creation, "
            f"the others when an sla_policy_applied event names them), got {policy!r}"
        )
    return book


class SlaTracker:
    """The incremental SLA fold of one ticket: feed events with :meth:`apply`, ask :meth:`evaluate`.

    *policy* is an :class:`SlaPolicy` (or a list of policy versions: the first applies from
    creation, and an ``sla_policy_applied`` event switches to the one it names). *calendar*
    counts business targets (24x7 without one). Gives the same results as :func:`evaluate_sla`.
    Events must belong to one ticket and come in log order; an event the lifecycle refuses
    raises :class:`~supportkit.TicketStateError` and leaves the tracker unchanged.
    ``record=True`` also keeps the Zendesk-style metric events for :meth:`metric_events`.
    """

    __slots__ = (
        "_applied",
        "_awaiting",
        "_b",
        "_book",
        "_bts",
        "_calendar",
        "_first_done",
        "_fold",
        "_log",
        "_memo",
        "_policy",
        "_shared",
        "_st",
        "_table",
        "_targets",
        "_tz",
        "_updating",
    )

    def __init__(
        self,
        policy: SlaPolicy | Sequence[SlaPolicy],
        calendar: BusinessCalendar | None = None,
        *,
        record: bool = False,
    ) -> None:
        self._book = _book(policy)
        self._calendar = calendar
        self._tz: tzinfo = UTC if calendar is None else calendar.tz
        self._policy = self._book[0]
        self._table = _compile(self._policy, calendar is not None)
        self._targets = _NO_TARGETS
        self._fold: _Fold | None = None
        self._st: list[Any] = [0] * _HEAD
        self._b = self._bts = 0  # the business clock and the instant it was last advanced to
        self._first_done = self._awaiting = self._updating = False
        self._log: list[tuple[int, str, int | None, int | None]] | None = [] if record else None
        self._applied: list[tuple[int, SlaPolicy]] | None = [] if record else None
        # Evaluations read the state lazily, so once evaluated it is copied before a change.
        self._shared = False
        # next_alert's last answer without emitted keys: (at_ts, tuple(state), answer).
        self._memo: tuple[int, tuple[Any, ...], int | None] | None = None

    @property
    def ticket_id(self) -> str | None:
        """The tracked ticket's id (``None`` before the ``created`` event)."""
        return None if self._fold is None else self._fold.id

    # -- the fold ---------------------------------------------------------------------------

    def apply(self, event: TicketEvent) -> None:
        """Fold one event into the SLA state."""
        fold = self._fold
        if fold is None:
            self._fold = _Fold.start(event)
            self._created(event)
            return
        kind = event.kind
        policy = self._lookup(event) if kind == "sla_policy_applied" else None
        previous = fold.status
        fold.apply(event)
        if kind == "message":
            if not event.data["public"]:
                return
        elif kind not in _CYCLE_KINDS:
            return
        if self._shared:
            self._st = self._st[:]
            self._shared = False
        ts = event.ts
        if kind == "message":
            self._message(event.by, previous, ts)
            return
        self._advance(ts)
        if kind == "status_changed":
            self._status(previous, fold.status, ts)
        elif kind == "priority_changed":
            self._targets = self._table.get(fold.priority, _NO_TARGETS)
            self._retarget_all(ts, self._policy.on_priority_change == "restart")
        elif policy is not None:
            self._switch(policy, ts)
        elif kind == "merged":
            st = self._st
            for m in range(7):
                o = st[m]
                if o and st[o + _STOP] is None:
                    self._stop(o, ts, cancel=True)
                st[m] = 0

    def _lookup(self, event: TicketEvent) -> SlaPolicy:
        name, version = event.data["policy"], event.data["version"]
        named = [p for p in self._book if p.name == name]
        for p in named:
            if p.version == version or str(p.version) == str(version):
                return p
        if len(named) == 1:
            return named[0]
        known = ", ".join(f"{p.name} v{p.version}" for p in self._book)
        raise PolicyError(
            f"event {event.id} applies SLA policy {name!r} version {version!r}, which was not "
            f"given (known: {known}); pass every policy version the log names"
        )

    def _advance(self, ts: int) -> None:
        """Bring the business clock to *ts*; done before any cycle changes at *ts* (events that
        change none do not pay for the calendar lookup)."""
        if ts != self._bts:
            if self._calendar is not None:
                self._b += self._calendar.elapsed_seconds(self._bts, ts)
            self._bts = ts

    def _created(self, event: TicketEvent) -> None:
        fold = self._fold
        assert fold is not None
        ts = self._bts = event.ts
        self._targets = self._table.get(fold.priority, _NO_TARGETS)
        if self._log is not None:
            self._applied.append((ts, self._policy))  # type: ignore[union-attr]
            self._log.append((ts, "apply_sla", None, None))
        # An agent-created (outbound) ticket starts with the agent's word: no first reply due.
        self._first_done = event.by is _AGENT
        if not self._first_done:
            self._start(_FR, ts)
        for m in (_RW, _AW, _TR):
            self._start(m, ts)

    def _message(self, by: Role, status: Status, ts: int) -> None:
        """A public message, in a ticket of this status."""
        if by is _CUSTOMER:
            if self._first_done and not self._awaiting and status not in _DONE:
                self._awaiting = True
                self._advance(ts)
                self._start(_NR, ts)
            return
        if by is not _AGENT:
            return  # system and bot messages are not replies
        self._advance(ts)
        st = self._st
        if not self._first_done:
            self._first_done = True
            self._end(_FR, ts)
        if self._awaiting:
            self._awaiting = False
            self._end(_NR, ts)
        if status in _DONE:
            return
        self._updating = True
        for m in (_PU, _PA):
            o = st[m]
            if o:
                self._stop(o, ts)
            self._start(m, ts)  # it becomes the open cycle

    def _status(self, old: Status, new: Status, ts: int) -> None:
        st = self._st
        if new is _SOLVED:
            for m in range(7):
                o = st[m]
                if o and st[o + _STOP] is None:
                    self._stop(o, ts)
                if m < _RW:
                    st[m] = 0
            self._first_done = True
            self._awaiting = self._updating = False
        elif old is _SOLVED:
            if new is _CLOSED:
                return
            running = _RUNS[new]
            for m in (_RW, _AW, _TR):
                o = st[m]
                if not o or st[o + _CANCEL]:
                    self._start(m, ts)
                    continue
                self._reopen(o, m in running, ts)
                self._retarget(o, self._targets[m], ts)
        else:
            for m, runs in _TOGGLES[(old, new)]:
                o = st[m]
                if o and st[o + _STOP] is None:
                    if runs:
                        self._resume(o, ts)
                    else:
                        self._pause(o, ts)

    def _switch(self, policy: SlaPolicy, ts: int) -> None:
        self._policy = policy
        self._table = _compile(policy, self._calendar is not None)
        self._targets = self._table.get(self._fold.priority, _NO_TARGETS)  # type: ignore[union-attr]
        if self._log is not None:
            self._applied.append((ts, policy))  # type: ignore[union-attr]
            self._log.append((ts, "apply_sla", None, None))
        self._retarget_all(ts, False)

    # -- cycle operations (a cycle is the offset o of its fields in the state list) ----------

    def _start(self, m: int, ts: int) -> None:
        entry = self._targets[m]
        if entry is None:
            return
        st = self._st
        index = st[_COUNT + m]
        st[_COUNT + m] = index + 1
        st[m] = len(st)
        runs = m in _RUNS[self._fold.status]  # type: ignore[union-attr]
        if runs:
            st += (ts, index, ts, self._b if entry[1] else ts, True, None)
        else:
            st += (ts, index, ts, 0, False, None)
        st += entry[4]
        if self._log is not None:
            self._log.append((ts, "activate", m, index))
            if not runs:
                self._log.append((ts, "pause", m, index))

    def _end(self, m: int, ts: int) -> None:
        st = self._st
        o = st[m]
        if o:
            self._stop(o, ts)
            st[m] = 0

    def _deadline(self, o: int) -> int:
        st = self._st
        left = st[o + _TARGET] - st[o + _ACC]
        if left <= 0:
            return st[o + _RTS]  # type: ignore[no-any-return]
        if st[o + _BIZ]:
            return self._calendar.add_seconds(st[o + _RTS], left)  # type: ignore[union-attr]
        return st[o + _RTS] + left  # type: ignore[no-any-return]

    def _elapsed_now(self, o: int, ts: int) -> int:
        st = self._st
        return st[o + _ACC] + (self._b if st[o + _BIZ] else ts) - st[o + _SINCE]  # type: ignore[no-any-return]

    def _check_breach(self, o: int, elapsed: int, ts: int) -> None:
        """Pin the breach of a running cycle that reached its target before *ts*."""
        st = self._st
        if elapsed >= st[o + _TARGET] and st[o + _BREACH] is None:
            deadline = self._deadline(o)
            if deadline < ts:
                st[o + _BREACH] = deadline

    def _close_span(self, o: int, elapsed: int) -> None:
        """The current span ends with *elapsed*: keep it if a warning threshold was crossed in
        it (that warning's instant lies in it)."""
        st = self._st
        acc = st[o + _ACC]
        for threshold in st[o + _THR]:
            if acc < threshold <= elapsed:
                st[o + _SPANS] = (*(st[o + _SPANS] or ()), st[o + _RTS], acc)
                return

    def _pause(self, o: int, ts: int) -> None:
        elapsed = self._elapsed_now(o, ts)
        self._check_breach(o, elapsed, ts)
        self._close_span(o, elapsed)
        st = self._st
        st[o + _ACC] = elapsed
        st[o + _RUN] = False
        if self._log is not None:
            self._log.append((ts, "pause", st[o + _M], st[o + _IX]))

    def _resume(self, o: int, ts: int) -> None:
        st = self._st
        st[o + _RUN] = True
        st[o + _RTS] = ts
        st[o + _SINCE] = self._b if st[o + _BIZ] else ts
        if self._log is not None:
            self._log.append((ts, "activate", st[o + _M], st[o + _IX]))

    def _stop(self, o: int, ts: int, *, cancel: bool = False) -> None:
        st = self._st
        ran, acc = st[o + _RUN], st[o + _ACC]
        st[o + _ESTOP] = acc + (self._b if st[o + _BIZ] else ts) - st[o + _SINCE] if ran else acc
        st[o + _STOP] = ts
        st[o + _RUN] = False
        st[o + _RAN] = ran
        st[o + _CANCEL] = cancel
        if self._log is not None:
            self._log.append((ts, "cancel" if cancel else "fulfill", st[o + _M], st[o + _IX]))

    def _reopen(self, o: int, runs: bool, ts: int) -> None:
        """Resume an accumulated cycle that solving stopped (its breach, if any, stays)."""
        st = self._st
        if st[o + _RAN]:
            self._check_breach(o, st[o + _ESTOP], st[o + _STOP])
            self._close_span(o, st[o + _ESTOP])
        st[o + _ACC] = st[o + _ESTOP]
        st[o + _STOP] = None
        st[o + _RAN] = False
        st[o + _RUN] = False
        if runs:
            self._resume(o, ts)
        elif self._log is not None:
            self._log.append((ts, "activate", st[o + _M], st[o + _IX]))
            self._log.append((ts, "pause", st[o + _M], st[o + _IX]))

    def _retarget_all(self, ts: int, restart: bool) -> None:
        st = self._st
        targets = self._targets
        for m in range(7):
            o = st[m]
            if o and st[o + _STOP] is None:
                if not restart:
                    self._retarget(o, targets[m], ts)
                    continue
                self._stop(o, ts, cancel=True)
                st[m] = 0
            if not st[m] and self._wanted(m):
                self._start(m, ts)

    def _wanted(self, m: int) -> bool:
        """Whether metric *m* would have a cycle running now had it had a target all along."""
        if self._fold.status in _DONE:  # type: ignore[union-attr]
            return False
        if m == _FR:
            return not self._first_done
        if m == _NR:
            return self._awaiting
        if m in (_PU, _PA):
            return self._updating
        return True

    def _retarget(self, o: int, entry: _Entry | None, ts: int) -> None:
        """Give an unstopped cycle a new target at *ts*, keeping its elapsed time."""
        st = self._st
        if entry is None:
            self._stop(o, ts, cancel=True)
            st[st[o + _M]] = 0
            return
        target, biz, levels, thresholds, _tail = entry
        if (target, biz, levels, thresholds) == tuple(st[o + _TARGET : o + _THR + 1]):
            return
        if st[o + _RUN]:
            elapsed = self._elapsed_now(o, ts)
            self._check_breach(o, elapsed, ts)
        else:
            elapsed = st[o + _ACC]
        warned = _reached(st, o, elapsed, self._calendar)
        st[o + _TARGET : o + _THR + 1] = target, biz, levels, thresholds
        st[o + _ACC] = elapsed
        if elapsed > target and st[o + _BREACH] is None:
            st[o + _BREACH] = ts
        for level, threshold in zip(levels, thresholds, strict=True):
            if threshold <= elapsed and level not in warned:
                warned[level] = ts
        st[o + _WARNED] = warned or None
        st[o + _SPANS] = None
        if st[o + _RUN]:
            st[o + _RTS] = ts
            st[o + _SINCE] = self._b if biz else ts

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, at: datetime) -> SlaEvaluation:
        """The SLA state at *at* (which must not be earlier than the last applied event)."""
        at_ts = to_epoch(at, "evaluation instant 'at'", ConfigurationError)
        evaluation = self._evaluation(at_ts, at)
        self._shared = True
        return evaluation

    def next_alert(self, at_ts: int, emitted: Container[str] | None = None) -> int | None:
        """For schedulers, in epoch seconds: with *emitted* (alert keys already sent), the
        instant of the earliest alert due by *at_ts* that is not in it, if any; otherwise the
        next instant after *at_ts* at which an alert falls due (:attr:`SlaEvaluation.next_due`).

        Unlike :meth:`evaluate` nothing escapes, so the next event needs no copy of the cycles.
        Without *emitted*, an answer still in the future is reused while the cycles are as they
        were (most events, say a customer message while a reply is awaited, change none): every
        due instant is fixed by the cycles' state, and the ones between the two instants would
        have been the answer.
        """
        state = tuple(self._st)
        memo = self._memo
        if (
            emitted is None
            and memo is not None
            and memo[0] <= at_ts
            and self._fold is not None
            and self._fold.updated_at <= at_ts
            and (memo[2] is None or memo[2] > at_ts)
            and memo[1] == state
        ):
            return memo[2]
        evaluation = self._evaluation(at_ts)
        if emitted is not None:
            pending = [
                instant
                for when, instant, kind, row, level, _ in evaluation._due(upcoming=False)
                if when <= at_ts and evaluation._key(row, kind, level) not in emitted
            ]
            if pending:
                return min(pending)
        answer = evaluation._next_due()
        self._memo = (at_ts, state, answer)
        return answer

    def _evaluation(self, at_ts: int, at: datetime | None = None) -> SlaEvaluation:
        """The evaluation at *at_ts* (*at* as given, for the error message)."""
        fold = self._fold
        if fold is None:
            raise ConfigurationError(
                "nothing to evaluate: apply the ticket's 'created' event first"
            )
        if at_ts < fold.updated_at:
            when = at if at is not None else from_epoch(at_ts, self._tz)
            raise ConfigurationError(
                f"cannot evaluate ticket {fold.id} at {when.isoformat()}: it is earlier than the "
                f"last applied event ({from_epoch(fold.updated_at, self._tz).isoformat()}); replay "
                "the log up to that instant instead (evaluate_sla does)"
            )
        calendar = self._calendar
        b_at = None  # the business clock at at_ts, once a running business cycle needs it
        st = self._st
        rows: list[_Pending] = []
        later = False
        for o in range(_HEAD, len(st), _W):  # each cycle, reading only the fields it needs
            stop, acc, breached = st[o + _STOP], st[o + _ACC], st[o + _BREACH]
            if stop is None:
                ran = running = st[o + _RUN]
                if not running:
                    elapsed = acc
                elif st[o + _BIZ]:
                    if b_at is None:
                        b_at = self._b
                        if at_ts != self._bts:
                            b_at += calendar.elapsed_seconds(self._bts, at_ts)  # type: ignore[union-attr]
                    elapsed = acc + b_at - st[o + _SINCE]
                else:
                    elapsed = acc + at_ts - st[o + _SINCE]
            else:  # elapsed, ran and the deadline as they were at the stop
                running = False
                ran, elapsed = st[o + _RAN], st[o + _ESTOP]
            deadline: int | _Later | None = None
            if ran:  # the deadline it has now, or had when it stopped
                target, biz = st[o + _TARGET], st[o + _BIZ]
                left = target - acc
                if biz and left > 0 and elapsed != target:
                    # Computed when read (SlaEvaluation._resolve): the business time counted up
                    # to min(stop, at) already tells whether it passed (iff elapsed > target).
                    deadline = _LATER
                    later = True
                    if breached is None and elapsed > target:
                        breached = _LATER
                else:
                    r_ts = st[o + _RTS]
                    if left <= 0:
                        instant = r_ts
                    elif biz:
                        instant = calendar.add_seconds(r_ts, left)  # type: ignore[union-attr]
                    else:
                        instant = r_ts + left
                    if breached is None and instant < (at_ts if stop is None else stop):
                        breached = instant
                    deadline = instant
            if breached is not None:
                status = _BREACHED
            elif stop is None:
                status = _ACTIVE if running else _PAUSED
            else:
                status = _CANCELLED if st[o + _CANCEL] else _MET
            rows.append((o, status, running, deadline, elapsed, breached))
        targets = self._targets
        shown = tuple([m for m in range(7) if targets[m] is not None or st[_COUNT + m]])
        return SlaEvaluation(fold.id, at_ts, st, rows, later, shown, calendar, self._tz)

    def next_due(self, after: datetime) -> datetime | None:
        """The next instant after *after* at which a warning or breach happens (no new events)."""
        return self.evaluate(after).next_due

    def metric_events(self, at: datetime) -> list[SlaMetricEvent]:
        """The Zendesk-style metric events up to *at* (needs ``SlaTracker(..., record=True)``)."""
        if self._log is None:
            raise ConfigurationError(
                "metric events are recorded only by SlaTracker(..., record=True)"
            )
        evaluation = self.evaluate(at)
        st = self._st
        log = list(self._log)
        for row in evaluation._instants():
            if row[5] is not None:
                log.append((row[5], "breach", st[row[0] + _M], st[row[0] + _IX]))
        log.sort(key=lambda item: item[0])  # stable: same-instant entries keep fold order
        applied = self._applied or []
        result = []
        for ts, kind, metric, index in log:
            policy = next(p for t, p in reversed(applied) if t <= ts)
            result.append(
                SlaMetricEvent(
                    kind,
                    None if metric is None else SLA_METRICS[metric],
                    index,
                    from_epoch(ts, self._tz),
                    self._fold.id,  # type: ignore[union-attr]
                    policy.name,
                    policy.version,
                )
            )
        return result


class _Later(enum.Enum):
    """A business deadline not computed yet (see :meth:`SlaEvaluation._resolve`)."""

    LATER = "later"


_LATER = _Later.LATER

# One cycle's results at an evaluation instant: (offset of the cycle in the state list, status,
# running, deadline, elapsed, breached_at). A plain tuple, as evaluations build one per cycle;
# the state list itself is not mutated once evaluated (the tracker copies on write). An
# evaluation first holds _Pending rows, whose business deadline (and breach instant, when the
# cycle is breached at that deadline) may be _LATER: an add_seconds call is made only for the
# instants that are read.
_Row = tuple[int, SlaStatus, bool, int | None, int, int | None]
_Pending = tuple[int, SlaStatus, bool, int | _Later | None, int, int | _Later | None]


def _warn_instant(st: list[Any], o: int, threshold: int, calendar: BusinessCalendar | None) -> int:
    """When the cycle's elapsed time reached *threshold*: in the latest span that began below it
    (the current one, then the kept ones), which is the span where it crossed it."""
    spans: tuple[int, ...] = st[o + _SPANS] or ()
    if st[o + _RUN] or st[o + _RAN]:
        spans = (*spans, st[o + _RTS], st[o + _ACC])
    for i in range(len(spans) - 2, -1, -2):
        resumed, acc = spans[i], spans[i + 1]
        if acc < threshold:
            left = threshold - acc
            if st[o + _BIZ] and calendar:
                return calendar.add_seconds(resumed, left)
            return resumed + left
    return spans[0] if spans else st[o + _START]


def _reached(
    st: list[Any], o: int, elapsed: int, calendar: BusinessCalendar | None
) -> dict[float, int]:
    """Warning level -> instant, for every level reached with *elapsed* on the current target."""
    reached = dict(st[o + _WARNED] or {})
    levels, thresholds = st[o + _LEVELS], st[o + _THR]
    for level, threshold in zip(levels, thresholds, strict=True):
        if threshold <= elapsed and level not in reached:
            reached[level] = _warn_instant(st, o, threshold, calendar)
    return reached


class SlaEvaluation(Mapping[str, tuple[SlaCycle, ...]]):
    """A ticket's SLA state at one instant: ``metric -> tuple of SlaCycle`` in start order.

    Lists every metric that has a target at the ticket's current priority or has had a cycle.
    :meth:`to_dict` gives the scenario-file output shape; :attr:`next_due` and :meth:`alerts`
    serve schedulers. Each cycle's status and elapsed time are computed with the evaluation; a
    business-hours deadline instant is computed when first read, so a calendar that opens too
    rarely to reach it (one that opens only on its overrides) raises
    :class:`~supportkit.CalendarError` then.
    """

    def __init__(
        self,
        ticket_id: str,
        at_ts: int,
        st: list[Any],
        rows: list[_Pending],
        later: bool,
        shown: tuple[int, ...],
        calendar: BusinessCalendar | None,
        tz: tzinfo,
    ) -> None:
        self.ticket_id = ticket_id
        self._at = at_ts
        self._st = st
        self._rows = rows
        self._later = later  # whether a row's deadline is still _LATER
        self._shown = shown
        self._calendar = calendar
        self._tz = tz
        self._cache: dict[str, tuple[SlaCycle, ...]] = {}

    @property
    def at(self) -> datetime:
        """The evaluation instant, in the calendar's zone."""
        return from_epoch(self._at, self._tz)

    def _resolve(self, i: int) -> _Row:
        """Row *i* with its deadline (and breach instant) computed, kept for later reads."""
        row = self._rows[i]
        if row[3] is _LATER:
            st, o = self._st, row[0]
            deadline = self._calendar.add_seconds(st[o + _RTS], st[o + _TARGET] - st[o + _ACC])  # type: ignore[union-attr]
            breached = deadline if row[5] is _LATER else row[5]
            row = self._rows[i] = (o, row[1], row[2], deadline, row[4], breached)
        return row  # type: ignore[return-value]

    def _instants(self) -> list[_Row]:
        """Every row, with every deadline computed."""
        if self._later:
            for i in range(len(self._rows)):
                self._resolve(i)
            self._later = False
        return self._rows  # type: ignore[return-value]

    def __getitem__(self, metric: str) -> tuple[SlaCycle, ...]:
        cycles = self._cache.get(metric)
        if cycles is None:
            if metric not in self:
                raise KeyError(metric)
            m, st = SLA_METRICS.index(metric), self._st
            cycles = tuple(
                self._cycle(self._resolve(i))
                for i, row in enumerate(self._rows)
                if st[row[0] + _M] == m
            )
            self._cache[metric] = cycles
        return cycles

    def __contains__(self, metric: object) -> bool:
        return metric in SLA_METRICS and SLA_METRICS.index(metric) in self._shown

    def __iter__(self) -> Iterator[str]:
        return (SLA_METRICS[m] for m in self._shown)

    def __len__(self) -> int:
        return len(self._shown)

    def __repr__(self) -> str:
        # Statuses only: a repr must not compute deadlines (which may raise CalendarError).
        st = self._st
        statuses: dict[str, list[str]] = {SLA_METRICS[m]: [] for m in self._shown}
        for row in self._rows:
            statuses[SLA_METRICS[st[row[0] + _M]]].append(row[1].value)
        return f"<SlaEvaluation {self.ticket_id} at {self.at.isoformat()}: {statuses!r}>"

    def _levels(self, row: _Row) -> tuple[float, ...]:
        st, o, elapsed = self._st, row[0], row[4]
        reached = set(st[o + _WARNED] or ())
        levels, thresholds = st[o + _LEVELS], st[o + _THR]
        reached.update(
            level
            for level, threshold in zip(levels, thresholds, strict=True)
            if threshold <= elapsed
        )
        return tuple(sorted(reached))

    def _cycle(self, row: _Row) -> SlaCycle:
        tz, st = self._tz, self._st
        o, status, running, deadline, elapsed, breached = row
        target = st[o + _TARGET]
        return SlaCycle(
            SLA_METRICS[st[o + _M]],
            st[o + _IX],
            status,
            running,
            from_epoch(st[o + _START], tz),
            _when(st[o + _STOP], tz),
            _when(deadline, tz),
            timedelta(seconds=elapsed),
            timedelta(seconds=target),
            timedelta(seconds=target - elapsed),
            _when(breached, tz),
            self._levels(row),
        )

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The evaluation in the scenario-file output shape (JSON-compatible)."""
        tz, st = self._tz, self._st
        result: dict[str, list[dict[str, Any]]] = {SLA_METRICS[m]: [] for m in self._shown}
        for row in self._instants():
            o, status, running, deadline, elapsed, breached = row
            target = st[o + _TARGET]
            result[SLA_METRICS[st[o + _M]]].append(
                {
                    "status": status.value,
                    "running": running,
                    "start": _iso(st[o + _START], tz),
                    "stop": _iso(st[o + _STOP], tz),
                    "deadline": _iso(deadline, tz),
                    "elapsed_seconds": elapsed,
                    "target_seconds": target,
                    "breached_at": _iso(breached, tz),
                    "remaining_seconds": target - elapsed,
                    "warnings": list(self._levels(row)),
                }
            )
        return result

    def _due(self, upcoming: bool = True) -> list[tuple[int, int, str, _Row, float, int]]:
        """Every alert this state implies without further events: (due, at, kind, row, level,
        order). A warning is due when reached; a breach one second after its deadline (a stop
        exactly at the deadline is met). Without *upcoming*, the warnings not reached by ``at``
        (all due after it) are left out."""
        calendar, st = self._calendar, self._st
        due: list[tuple[int, int, str, _Row, float, int]] = []
        for order, row in enumerate(self._instants()):
            for level, instant in _reached(st, row[0], row[4], calendar).items():
                due.append((instant, instant, "warning", row, level, order))
            for level, instant in self._upcoming(row) if upcoming else ():
                due.append((instant, instant, "warning", row, level, order))
            breached = self._breach(order)
            if breached is not None:
                due.append((breached + 1, breached, "breach", row, 1.0, order))
        due.sort(key=lambda item: (item[0], item[5], item[4]))
        return due

    def _upcoming(self, row: _Pending) -> Iterator[tuple[float, int]]:
        """``(level, instant)`` of each warning a running cycle has not reached yet."""
        st = self._st
        o, running, elapsed = row[0], row[2], row[4]
        if st[o + _STOP] is not None or not running:
            return
        calendar = self._calendar
        biz, levels, thresholds = st[o + _BIZ], st[o + _LEVELS], st[o + _THR]
        warned = st[o + _WARNED] or ()
        for level, threshold in zip(levels, thresholds, strict=True):
            if threshold > elapsed and level not in warned:
                left = threshold - st[o + _ACC]
                r_ts = st[o + _RTS]
                yield level, calendar.add_seconds(r_ts, left) if biz and calendar else r_ts + left

    def _breach(self, i: int) -> int | None:
        """Row *i*'s breach instant: the pinned one, else a running cycle's deadline."""
        o, running, breached = self._rows[i][0], self._rows[i][2], self._rows[i][5]
        if breached is None and running and self._st[o + _STOP] is None:
            return self._resolve(i)[3]
        return self._resolve(i)[5] if isinstance(breached, _Later) else breached

    def _next_due(self) -> int | None:
        """:attr:`next_due` in epoch seconds without listing every alert: warnings already
        reached happened by ``at``, so only unreached warnings and breaches can come later."""
        at = self._at
        best: int | None = None
        for i, pending in enumerate(self._rows):
            for _level, instant in self._upcoming(pending):
                if at < instant and (best is None or instant < best):
                    best = instant
            if pending[5] is _LATER:
                continue  # its deadline passed before min(stop, at): not due after at
            breached = self._breach(i)
            if breached is not None and at <= breached and (best is None or breached + 1 < best):
                best = breached + 1
        return best

    @property
    def next_due(self) -> datetime | None:
        """The next instant after ``at`` at which a warning or breach happens if no further
        event arrives (a breach is due one second after its deadline), or ``None``."""
        return _when(self._next_due(), self._tz)

    def alerts(self, until: datetime | None = None) -> list[SlaAlert]:
        """Every warning and breach due by *until* (default: ``at``), oldest first.

        Each alert's ``key`` (ticket, metric, cycle, kind, level) is stable across replays, so a
        scheduler can emit each exactly once. Beyond ``at`` this assumes no further events.
        """
        limit = self._at if until is None else to_epoch(until, "alerts 'until'", ConfigurationError)
        result = []
        for due, instant, kind, row, level, _order in self._due():
            if due > limit:
                break
            result.append(
                SlaAlert(
                    kind,
                    SLA_METRICS[self._st[row[0] + _M]],
                    self._st[row[0] + _IX],
                    level,
                    from_epoch(instant, self._tz),
                    self.ticket_id,
                    self._key(row, kind, level),
                )
            )
        return result

    def _key(self, row: _Row, kind: str, level: float) -> str:
        """An alert's key: ticket, metric, cycle, kind and level (stable across replays)."""
        suffix = "breach" if kind == "breach" else f"warning:{level:g}"
        metric, index = SLA_METRICS[self._st[row[0] + _M]], self._st[row[0] + _IX]
        return f"{self.ticket_id}:{metric}:{index}:{suffix}"


def evaluate_sla(
    events: Iterable[TicketEvent],
    policy: SlaPolicy | Sequence[SlaPolicy],
    *,
    at: datetime,
    calendar: BusinessCalendar | None = None,
) -> SlaEvaluation:
    """Evaluate one ticket's SLA at *at* from its event log (events after *at* are ignored).

    *policy* is an :class:`SlaPolicy` or a list of versions (see :class:`SlaTracker`);
    *calendar* counts business-hour targets (24x7 without one).
    """
    at_ts = to_epoch(at, "evaluation instant 'at'", ConfigurationError)
    return _replay(events, policy, at_ts, at, calendar, record=False)._evaluation(at_ts, at)


def sla_metric_events(
    events: Iterable[TicketEvent],
    policy: SlaPolicy | Sequence[SlaPolicy],
    *,
    at: datetime,
    calendar: BusinessCalendar | None = None,
) -> list[SlaMetricEvent]:
    """The Zendesk-style metric events (``apply_sla``, ``activate``, ``pause``, ``fulfill``,
    ``cancel``, ``breach``) of one ticket's log up to *at*, in time order, for export."""
    at_ts = to_epoch(at, "evaluation instant 'at'", ConfigurationError)
    return _replay(events, policy, at_ts, at, calendar, record=True).metric_events(at)


def _replay(
    events: Iterable[TicketEvent],
    policy: SlaPolicy | Sequence[SlaPolicy],
    at_ts: int,
    at: datetime,
    calendar: BusinessCalendar | None,
    *,
    record: bool,
) -> SlaTracker:
    """A tracker fed the log's events up to *at_ts* (*at* as given, for error messages)."""
    tracker = SlaTracker(policy, calendar, record=record)
    apply = tracker.apply
    later: TicketEvent | None = None  # the latest event after `at` seen so far
    for event in events:
        if later is None and event.ts <= at_ts:
            apply(event)
        elif later is not None and event.ts < later.ts:
            # Not applied, but a log that goes back in time is refused, as the fold would.
            raise TicketStateError(
                f"ticket {event.ticket_id}: event {event.id} at {event.at.isoformat()} is "
                f"earlier than the previous event at {later.at.isoformat()}; logs are in time "
                "order (events with the same instant keep log order)",
                ticket_id=event.ticket_id,
                event=event,
            )
        else:
            later = event
    if tracker.ticket_id is None:
        raise ConfigurationError(
            f"no events at or before {at.isoformat()}: the log is empty or the ticket was "
            "created later"
        )
    return tracker
