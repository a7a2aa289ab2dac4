"""Staffing: how many agents a queue needs to meet a service-level goal.

Pure functions of queueing theory, no I/O. Rates are per second and times in seconds (a
:class:`~datetime.timedelta` is accepted wherever a time is), so ``arrival_rate * aht`` is the
offered traffic in Erlangs.

* :func:`erlang_b`, :func:`erlang_c`: the blocking and waiting probabilities of ``agents``
  servers offered ``traffic`` Erlangs. Both use Erlang B's recursion
  ``B(k) = A·B(k-1) / (k + A·B(k-1))`` and ``C = B / (1 - ρ(1 - B))``, so they stay exact for
  thousands of agents (no factorial, no overflow).
* :func:`service_level`, :func:`average_speed_of_answer`, :func:`occupancy` and
  :func:`agents_needed` for the Erlang C model (M/M/c: Poisson arrivals, exponential handling
  times, nobody hangs up), the standard for phone and chat ("80 % answered within 20 s").
* :func:`erlang_a`: the same queue when waiting customers abandon after an exponential patience
  (M/M/c+M, Palm's model), the better model for chat, where visitors leave.
* :func:`with_shrinkage`: agents to schedule so that enough are on the queue after breaks,
  meetings and leave (``agents_needed`` applies none).

Limits of the models, said once: Erlang C overstates waiting when customers abandon (use
:func:`erlang_a`), and every model assumes a steady state within the interval; an interval much
shorter than a few handling times is not in steady state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta

import attrs

from .exceptions import ConfigurationError

__all__ = [
    "ErlangA",
    "agents_needed",
    "agents_needed_many",
    "average_speed_of_answer",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "occupancy",
    "service_level",
    "with_shrinkage",
]

#: The largest number of agents these functions consider (a search past it is an error).
MAX_AGENTS = 1_000_000
#: The longest queue Erlang A follows (a load that needs more is refused).
MAX_QUEUE = 100_000
#: The most steps x queue positions one Erlang A service level may take.
MAX_WORK = 20_000_000


def _number(name: str, value: object, *, positive: bool = False) -> float:
    """*value* as a finite float >= 0 (> 0 with *positive*), else :class:`ConfigurationError`."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigurationError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def _agents(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGENTS:
        raise ConfigurationError(
            f"agents must be a whole number from 0 to {MAX_AGENTS:,}, got {value!r}"
        )
    return value


def _fraction(name: str, value: object, *, zero: bool) -> float:
    number = _number(name, value)
    if number > 1 or (number == 0 and not zero):
        span = "[0, 1]" if zero else "(0, 1]"
        raise ConfigurationError(f"{name} must be a fraction in {span}, got {value!r}")
    return number


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B: the probability that a contact finds all *agents* busy (lost-calls model).

    *traffic* is the offered load in Erlangs. ``erlang_b(traffic, 0)`` is 1.0.
    """
    traffic = _number("traffic", traffic)
    blocked = 1.0
    for k in range(1, _agents(agents) + 1):
        blocked = traffic * blocked / (k + traffic * blocked)
    return blocked


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C: the probability that a contact has to wait (all *agents* busy, it queues).

    *traffic* is the offered load in Erlangs (arrival rate times average handling time). With
    ``agents <= traffic`` the queue grows without bound and every contact waits: 1.0.
    """
    traffic = _number("traffic", traffic)
    agents = _agents(agents)
    if agents <= traffic:
        return 1.0
    return _c_from_b(erlang_b(traffic, agents), traffic, agents)


def _c_from_b(blocked: float, traffic: float, agents: int) -> float:
    rho = traffic / agents
    return blocked / (1.0 - rho * (1.0 - blocked))


def _mix(
    within: float | timedelta | Mapping[float, float],
) -> tuple[tuple[float, float], ...]:
    """*within* as ``((seconds, share), ...)`` with shares summing to 1.

    A number (or ``timedelta``) is one target for every contact. A mapping gives contacts with
    different targets in one first-come-first-served queue: ``{answer-time target: weight}``
    (weights are counts or shares); ``math.inf`` stands for contacts with no limit.
    """
    if not isinstance(within, Mapping):
        return ((_number("within", within), 1.0),)
    pairs = []
    for key, weight in within.items():
        seconds = math.inf if key == math.inf else _number("within (a key)", key)
        pairs.append((seconds, _number(f"within[{key!r}]", weight)))
    total = sum(weight for _, weight in pairs)
    if not pairs or total == 0:
        raise ConfigurationError(f"within: a mix needs a positive weight, got {within!r}")
    return tuple((seconds, weight / total) for seconds, weight in pairs)


def _answered(
    waiting: float, spare: float, handling: float, mix: Sequence[tuple[float, float]]
) -> float:
    """The share of contacts answered within their targets, given the chance to wait and the
    spare capacity ``agents - traffic`` (Erlang C's waiting time is exponential)."""
    return 1.0 - waiting * sum(share * math.exp(-spare * w / handling) for w, share in mix)


def _traffic(arrival_rate: float, aht: float | timedelta) -> tuple[float, float]:
    rate = _number("arrival_rate", arrival_rate)
    handling = _number("aht", aht, positive=True)
    return rate * handling, handling


def service_level(
    arrival_rate: float,
    aht: float | timedelta,
    agents: int,
    within: float | timedelta | Mapping[float, float],
) -> float:
    """The fraction of contacts answered within *within* seconds (Erlang C).

    ``1 - C · exp(-(agents - traffic) · within / aht)``; 0.0 when ``agents <= traffic``.
    *within* may also be a mix of targets, ``{seconds: weight}``: contacts with different
    answer-time targets in one queue; the result is the share answered within their own.
    """
    traffic, handling = _traffic(arrival_rate, aht)
    mix = _mix(within)
    agents = _agents(agents)
    if agents <= traffic:
        return 0.0
    return _answered(
        _c_from_b(erlang_b(traffic, agents), traffic, agents), agents - traffic, handling, mix
    )


def average_speed_of_answer(arrival_rate: float, aht: float | timedelta, agents: int) -> float:
    """The mean wait in seconds over all contacts (Erlang C): ``C · aht / (agents - traffic)``.

    ``math.inf`` when ``agents <= traffic``.
    """
    traffic, handling = _traffic(arrival_rate, aht)
    agents = _agents(agents)
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * handling / (agents - traffic)


def occupancy(arrival_rate: float, aht: float | timedelta, agents: int) -> float:
    """The fraction of their time *agents* spend handling contacts (at most 1.0)."""
    traffic, _ = _traffic(arrival_rate, aht)
    agents = _agents(agents)
    return 1.0 if agents <= traffic else traffic / agents


def agents_needed(
    arrival_rate: float,
    aht: float | timedelta,
    target: float,
    within: float | timedelta | Mapping[float, float],
    *,
    max_occupancy: float = 1.0,
    concurrency: int = 1,
) -> int:
    """The fewest agents for which at least *target* of contacts are answered within *within*.

    *target* is a fraction in (0, 1]; with *max_occupancy* below 1 the answer is also large
    enough that agents are busy at most that fraction of the time. No shrinkage is applied
    (see :func:`with_shrinkage`). No arrivals need no agents. One pass of Erlang B's recursion,
    so the cost grows with the answer, not with its square.

    *concurrency* is how many contacts an agent handles at once (chat: often 2 or 3; *aht* is
    then the handling time of one contact at that concurrency): the queue is modelled with one
    server per slot and the agents are the slots divided by *concurrency*, rounded up.

    *within* may also be a mix, ``{seconds: weight}`` (see :func:`service_level`): contacts
    whose targets differ (per SLA policy and priority, say) share one queue, and *target* is
    the share of all of them answered within their own target.
    """
    traffic, handling = _traffic(arrival_rate, aht)
    goal = _fraction("target", target, zero=False)
    mix = _mix(within)
    ceiling = _fraction("max_occupancy", max_occupancy, zero=False)
    slots = _agents(concurrency)
    if slots == 0:
        raise ConfigurationError("concurrency must be at least 1")
    if traffic == 0:
        return 0
    if traffic >= MAX_AGENTS:
        raise ConfigurationError(f"{traffic:g} Erlangs need more than {MAX_AGENTS:,} agents")
    blocked = 1.0
    for k in range(1, MAX_AGENTS + 1):
        blocked = traffic * blocked / (k + traffic * blocked)
        if k <= traffic or traffic / k > ceiling:
            continue
        if _answered(_c_from_b(blocked, traffic, k), k - traffic, handling, mix) >= goal:
            return -(-k // slots)
    raise ConfigurationError(
        f"no staffing up to {MAX_AGENTS:,} agents meets the target for {traffic:g} Erlangs"
    )


def agents_needed_many(
    arrival_rates: Sequence[float],
    aht: float | timedelta,
    target: float,
    within: float | timedelta,
    *,
    max_occupancy: float = 1.0,
) -> list[int]:
    """:func:`agents_needed` for many intervals at once (one vectorised pass; needs numpy).

    Gives the same answers as calling :func:`agents_needed` per interval.
    """
    try:
        import numpy as np  # optional dependency, imported when used
    except ImportError as exc:  # pragma: no cover - the test environment has numpy
        raise ConfigurationError(
            "agents_needed_many needs numpy, the 'numpy' extra: pip install -e '.[numpy]' in a "
            "checkout of supportkit (pip install 'supportkit[numpy]' once it is on an index)"
        ) from exc
    handling = _number("aht", aht, positive=True)
    goal = _fraction("target", target, zero=False)
    wait = _number("within", within)
    ceiling = _fraction("max_occupancy", max_occupancy, zero=False)
    traffic = (
        np.array(
            [_number(f"arrival_rates[{i}]", r) for i, r in enumerate(arrival_rates)], dtype=float
        )
        * handling
    )
    needed = np.where(traffic == 0, 0, -1)
    blocked = np.ones_like(traffic)
    k = 0
    while (needed < 0).any():
        k += 1
        if k > MAX_AGENTS:
            raise ConfigurationError(f"no staffing up to {MAX_AGENTS:,} agents meets the target")
        blocked = traffic * blocked / (k + traffic * blocked)
        stable = (k > traffic) & (traffic / k <= ceiling) & (needed < 0)
        if not stable.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            waiting = blocked / (1.0 - traffic / k * (1.0 - blocked))
            level = 1.0 - waiting * np.exp(-(k - traffic) * wait / handling)
        needed = np.where(stable & (level >= goal), k, needed)
    return [int(n) for n in needed]


def with_shrinkage(agents: int, shrinkage: float) -> int:
    """The agents to schedule so that *agents* are on the queue after *shrinkage*.

    *shrinkage* is the fraction of paid time agents are away from the queue (breaks, training,
    leave), in [0, 1): ``ceil(agents / (1 - shrinkage))``.
    """
    agents = _agents(agents)
    lost = _fraction("shrinkage", shrinkage, zero=True)
    if lost == 1:
        raise ConfigurationError("shrinkage must be below 1 (with 1 nobody is ever on the queue)")
    # Round before ceil so 10 / (1 - 0.3) = 14.2857... and 7 / 0.7 = 10.000000000000002 both
    # come out right.
    return math.ceil(round(agents / (1.0 - lost), 9))


@attrs.frozen
class ErlangA:
    """The steady state of a queue whose waiting contacts abandon (M/M/c+M).

    ``p_wait`` is the probability that a contact has to wait, ``p_abandon`` that it hangs up
    before an agent answers, ``asa`` the mean wait in seconds over all contacts (answered or
    not), and ``occupancy`` the fraction of time agents are busy.
    """

    agents: int
    p_wait: float
    p_abandon: float
    asa: float
    occupancy: float
    _queue: tuple[float, ...] = attrs.field(repr=False)
    _rates: tuple[float, float, float] = attrs.field(repr=False)

    def service_level(self, within: float | timedelta) -> float:
        """The fraction of all arriving contacts answered within *within* seconds.

        Abandoned contacts count as not answered in time (the usual convention for chat).
        """
        wait = _number("within", within)
        serve, patience, _ = self._rates
        answered_at_once = 1.0 - self.p_wait
        if wait == 0 or not self._queue:
            return answered_at_once
        # A waiting contact with j others ahead moves up at rate c·μ + j·θ (an agent frees up,
        # or someone ahead hangs up) and abandons at rate θ. Uniformising that pure-death chain
        # at rate Λ turns it into steps taken at the events of a Poisson process: the contacts
        # that reach an agent at step n were answered in time iff that process had at least n
        # events by `wait`.
        depth = len(self._queue)
        uniform = serve + depth * patience
        mean = uniform * wait
        if (mean + 12 * math.sqrt(mean) + 60) * depth > MAX_WORK:
            raise ConfigurationError(
                f"erlang_a: a service level within {wait:g} s over {depth:,} queue positions "
                "is too large to evaluate; use a shorter wait or a smaller load"
            )
        probs = list(self._queue)
        answered = 0.0
        at_least = 1.0  # P(N >= n) for the step n about to be taken
        for n in range(1, int(mean + 12 * math.sqrt(mean) + 60)):
            at_least -= math.exp((n - 1) * math.log(mean) - mean - math.lgamma(n))
            answered += probs[0] * serve / uniform * max(at_least, 0.0)
            moved = [0.0] * depth
            for j, p in enumerate(probs):
                if j:
                    moved[j - 1] += p * (serve + j * patience) / uniform
                moved[j] += p * (1.0 - (serve + j * patience + patience) / uniform)
            probs = moved
        return answered_at_once + answered


def erlang_a(
    arrival_rate: float,
    aht: float | timedelta,
    agents: int,
    patience: float | timedelta,
) -> ErlangA:
    """Erlang A (M/M/c+M): *agents* serving arrivals that abandon after a mean *patience*.

    Solved exactly on the birth-death chain, truncated where the remaining probability is
    below 1e-12, so it needs no special functions and holds for any load (with abandonment the
    queue is stable even when ``agents <= traffic``).
    """
    traffic, handling = _traffic(arrival_rate, aht)
    agents = _agents(agents)
    mean_patience = _number("patience", patience, positive=True)
    if agents == 0:
        raise ConfigurationError("erlang_a needs at least one agent")
    rate = traffic / handling
    mu = 1.0 / handling
    theta = 1.0 / mean_patience
    if rate == 0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 0.0, (), (agents * mu, theta, rate))
    # Stationary weights of n contacts in the system, in logs (traffic**n / n! overflows a
    # float for large teams), then scaled by the largest before summing.
    # Each ratio's log is a difference of logs: the ratio itself underflows to 0 for a tiny
    # rate (log(0) is a math domain error), its logs do not.
    log_rate = math.log(rate)
    logs = [0.0]
    for n in range(1, agents + 1):
        logs.append(logs[-1] + log_rate - math.log(n * mu))
    peak = max(logs)
    queue_logs: list[float] = []
    q = logs[-1]
    while True:
        step = log_rate - math.log(agents * mu + (len(queue_logs) + 1) * theta)
        q += step
        queue_logs.append(q)
        peak = max(peak, q)
        if step < 0 and q < peak - 37:  # decreasing, and below 1e-16 of the largest
            break
        if len(queue_logs) >= MAX_QUEUE:
            raise ConfigurationError(
                f"erlang_a: the queue does not settle within {MAX_QUEUE:,} waiting contacts "
                f"({traffic:g} Erlangs, {agents} agents, patience {mean_patience:g} s): the "
                "model cannot describe this load"
            )
    weights = [math.exp(x - peak) for x in logs]
    queue = [math.exp(x - peak) for x in queue_logs]
    total = sum(weights) + sum(queue)
    # An arrival sees the stationary state (PASTA): it waits if it finds all agents busy.
    p_busy = (weights[-1] + sum(queue)) / total
    in_queue = sum((j + 1) * w for j, w in enumerate(queue)) / total
    # (0 when nobody waits: with a patience near 0, theta is inf and inf * 0 would be NaN)
    p_abandon = min(1.0, theta * in_queue / rate) if in_queue else 0.0
    busy = sum(min(n, agents) * w for n, w in enumerate(weights)) / total
    busy += agents * sum(queue) / total
    # Contacts that find j waiting ahead enter the queue at position j; positions an arrival
    # reaches with less than 1e-15 probability are left out.
    arriving = [weights[-1] / total] + [w / total for w in queue[:-1]]
    while len(arriving) > 1 and arriving[-1] < 1e-15:
        arriving.pop()
    return ErlangA(
        agents=agents,
        p_wait=min(1.0, p_busy),  # (sums of rounded floats may pass 1 by a few ulps)
        p_abandon=p_abandon,
        asa=in_queue / rate,
        occupancy=min(1.0, busy / agents),
        queue=tuple(arriving),
        rates=(agents * mu, theta, rate),
    )
