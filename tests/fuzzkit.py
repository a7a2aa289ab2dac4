"""The fuzz suite's machinery: junk strategies, the one rule, and the input counter.

Every public entry point is fuzzed with one rule: calling it with anything either returns or
raises a :class:`~supportkit.SupportkitError`, and a refused call changes nothing (the store's
full contents are the same before and after). The suite lives in ``tests/test_fuzz*.py``; each
file keeps a registry ``TARGETS: dict[str, Target]`` (entry point name -> what to feed it and
how to call it) and one parametrised test that hands each target to :func:`run`::

    TARGETS = {
        "Customer": Target(kwargs_of(required={"id": text()}), lambda kw: Customer(**kw)),
    }

    @pytest.mark.parametrize("name", sorted(TARGETS))
    def test_only_supportkit_errors_escape(name: str) -> None:
        run(name, TARGETS[name])

A target whose call changes a store passes a ``state`` function (the store's full contents)
and :func:`expect_typed` checks each call of a sequence (see ``test_fuzz_desk.py``).

Profiles (environment variable ``SUPPORTKIT_FUZZ``): ``quick`` (the default, a few dozen
examples per target, run by ``nox -s tests``) and ``full`` (``nox -s fuzz``: each target's
``examples`` times ``SCALE``, together at least 1,000,000 generated inputs). The count of
inputs and of untyped exceptions is printed at the end of the run (tests/conftest.py).
"""

from __future__ import annotations

import os
import random
import string
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkit import SupportkitError

PROFILE = os.environ.get("SUPPORTKIT_FUZZ", "quick")
if PROFILE not in ("quick", "full"):
    raise RuntimeError(f"SUPPORTKIT_FUZZ must be 'quick' or 'full', got {PROFILE!r}")
#: Examples per target in the quick profile (each full-profile target says its own count).
QUICK_EXAMPLES = 30
#: Scales every target's full-profile examples (``SUPPORTKIT_FUZZ_SCALE=0.01`` for a short look).
#: Each target's ``examples`` is its share at scale 1 (about 3.6 million inputs in all, an hour
#: on one core); the full run takes 0.4 of that, about 1.4 million inputs, and fails below the
#: ``SUPPORTKIT_FUZZ_MIN`` that ``nox -s fuzz`` sets (1,000,000).
SCALE = float(os.environ.get("SUPPORTKIT_FUZZ_SCALE", "0.4"))

#: Inputs generated (calls of an entry point) and untyped exceptions seen, for the summary.
COUNTS = {"inputs": 0, "untyped": 0, "targets": 0}
UNTYPED: list[str] = []
#: Why a full run fails besides untyped exceptions (too few inputs, skipped targets).
SHORTFALLS: list[str] = []

# --- strategies ---------------------------------------------------------------------------------

#: Characters that broke things before: lone surrogates, NUL, controls, a non-BMP emoji.
_NASTY_CHARS = st.sampled_from(["\ud800", "\udfff", "\x00", "\n", "\u202e", "\U0001f600", "é"])
_CHARS = st.one_of(st.characters(), _NASTY_CHARS)


def text(min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    """Any string, lone surrogates and NUL included."""
    return st.text(_CHARS, min_size=min_size, max_size=max_size)


def ident() -> st.SearchStrategy[str]:
    """A plausible id (so calls get past the first check), sometimes a nasty one."""
    return st.one_of(
        st.text(string.ascii_letters + string.digits + "-_.@", min_size=1, max_size=8),
        text(min_size=1),
    )


_BIG_INTS = st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30])
_ZONES = st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=-14))])


def integers() -> st.SearchStrategy[int]:
    """Small, negative and huge integers (past 2**63, which SQLite cannot store)."""
    return st.one_of(st.integers(-5, 100), st.integers(), _BIG_INTS)


def instants() -> st.SearchStrategy[datetime]:
    """Aware datetimes of any zone, near now and at the far ends of the range."""
    return st.one_of(
        st.datetimes(
            min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=_ZONES
        ),
        st.datetimes(timezones=st.just(UTC)),
    )


def naive() -> st.SearchStrategy[datetime]:
    """Naive datetimes (every entry point must refuse them)."""
    return st.datetimes()


def junk() -> st.SearchStrategy[Any]:
    """Anything a caller might pass by mistake: wrong types, huge numbers, nested junk."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        st.floats(),
        text(),
        st.binary(max_size=8),
        naive(),
        instants(),
        st.dates(),
        st.timedeltas(),
        st.just(object()),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner),
            st.dictionaries(st.one_of(text(), integers()), inner, max_size=3),
            st.frozensets(st.one_of(text(), integers()), max_size=3),
        ),
        max_leaves=6,
    )


def either(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value (to reach deep checks), sometimes junk."""
    return st.one_of(plausible, plausible, junk())


def mostly(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plausible five times in six (for calls with many arguments, to get past the checks)."""
    return st.integers(0, 5).flatmap(lambda n: plausible if n else junk())


def kwargs_of(
    required: Mapping[str, st.SearchStrategy[Any]] | None = None,
    optional: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of a Python call: each value plausible or junk, optional ones sometimes
    left out. (Names stay valid: a misspelt keyword is Python's own ``TypeError``.)"""
    return st.fixed_dictionaries(
        {name: either(s) for name, s in (required or {}).items()},
        optional={name: either(s) for name, s in (optional or {}).items()},
    )


def raw_dicts(
    fields: Mapping[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[Any]:
    """A dict form (``from_dict`` input): plausible or junk values, now and then a required key
    missing or an unknown key added, or not a dict at all."""
    known = kwargs_of(
        {k: v for k, v in fields.items() if k in required},
        {k: v for k, v in fields.items() if k not in required},
    )
    return st.one_of(
        known,
        known,
        known,
        st.builds(_drop_one, known, st.integers(0, 100)),
        st.builds(lambda kw, x: {**kw, "unexpected": x}, known, junk()),
        junk(),
    )


def _drop_one(kwargs: dict[str, Any], index: int) -> dict[str, Any]:
    if not kwargs:
        return kwargs
    name = sorted(kwargs)[index % len(kwargs)]
    return {k: v for k, v in kwargs.items() if k != name}


# --- the rule -----------------------------------------------------------------------------------


@attrs.frozen
class Target:
    """One fuzzed entry point: the strategy of its argument and how to call it with one value.

    ``state`` (optional) gives the full contents of whatever the call may change, read before
    and after: a refused call must leave it equal. ``examples`` is the number of Hypothesis
    examples in the full profile, each trying ``fan_out`` inputs (see :func:`recombine`);
    ``inputs`` how many entry-point calls one input makes (a sequence of desk operations makes
    several; :func:`expect_typed` counts those itself, so say 0).
    """

    args: st.SearchStrategy[Any]
    call: Callable[[Any], object]
    state: Callable[[Any], object] | None = None
    examples: int = 700
    inputs: int = 1
    fan_out: int = 64


def expect_typed(call: Callable[[], object], state: Callable[[], object] | None = None) -> bool:
    """Call *call* once under the rule; count it. Returns whether it succeeded.

    A :class:`SupportkitError` is a refusal (and then *state* must read the same as before);
    any other exception is an untyped escape, counted and re-raised as an ``AssertionError``.
    """
    COUNTS["inputs"] += 1
    before = state() if state is not None else None
    try:
        call()
    except SupportkitError:
        if state is not None:
            after = state()
            assert before == after, "a refused call changed the store"
        return False
    except Exception as exc:
        COUNTS["untyped"] += 1
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "supportkit" in f.filename]
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        UNTYPED.append("".join(traceback.format_exception_only(exc)).strip() + where)
        raise AssertionError(f"untyped exception {type(exc).__name__}: {exc!r}") from exc
    return True


def recombine(pool: list[Any], rng: random.Random, count: int) -> list[Any]:
    """*count* inputs made of the drawn *pool*: its members, then new dicts whose every key
    takes the value of a random member that has it (left out now and then when some member
    lacks it, so required keys stay in keyword calls). Drawing values is the slow part of
    Hypothesis; recombining them multiplies the inputs each example tries, cheaply."""
    inputs = list(pool[:count])
    dicts = [m for m in pool if type(m) is dict]
    if not dicts:
        return [rng.choice(pool) for _ in range(count)] if len(inputs) < count else inputs
    keys = sorted({k for m in dicts for k in m}, key=repr)
    options = {k: [m[k] for m in dicts if k in m] for k in keys}
    while len(inputs) < count:
        combo = {}
        for k, values in options.items():
            if len(values) < len(dicts) and rng.random() < 0.3:
                continue
            combo[k] = rng.choice(values)
        inputs.append(combo)
    return inputs


def run(name: str, target: Target) -> None:
    """Fuzz one registered target under the current profile."""
    full = PROFILE == "full"
    COUNTS["targets"] += 1
    fan_out = target.fan_out if full else 3

    @settings(
        max_examples=max(1, int(target.examples * SCALE)) if full else QUICK_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not full,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(target.args, min_size=1, max_size=6), st.randoms(use_true_random=False))
    def check(pool: list[Any], rng: random.Random) -> None:
        for value in recombine(pool, rng, fan_out):
            if target.inputs == 0:
                target.call(value)
                continue
            if target.state is None:
                expect_typed(lambda: target.call(value))  # noqa: B023 - called at once
            else:
                expect_typed(lambda: target.call(value), lambda: target.state(value))  # type: ignore[misc]  # noqa: B023
            COUNTS["inputs"] += target.inputs - 1

    check()


def summary() -> str | None:
    """The line the run ends with (None when no fuzz target ran)."""
    if not COUNTS["targets"]:
        return None
    lines = [
        f"fuzz ({PROFILE}): {COUNTS['inputs']:,} generated inputs over {COUNTS['targets']} "
        f"entry points, {COUNTS['untyped']} untyped exceptions"
    ]
    lines += [f"  untyped: {line}" for line in sorted(set(UNTYPED))[:40]]
    lines += [f"  failed: {line}" for line in SHORTFALLS]
    return "\n".join(lines)


__all__ = [
    "COUNTS",
    "Target",
    "either",
    "expect_typed",
    "ident",
    "instants",
    "integers",
    "junk",
    "kwargs_of",
    "naive",
    "raw_dicts",
    "run",
    "summary",
    "text",
]
