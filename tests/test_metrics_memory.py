"""Dense sketch counts: dense groups give the state dict-only ones give, on every path (merge,
numpy, JSON, pickle), keep values beyond a century, widen 4-byte counts instead of overflowing,
and stop a group's memory from growing with its tickets."""

from __future__ import annotations

import gc
import itertools
import json
import pickle
import random
import tracemalloc
from array import array
from types import SimpleNamespace
from typing import Any

import pytest

from supportkit import (
    ConfigurationError,
    MetricsAggregator,
    QuantileSketch,
    TicketFacts,
    _sketch,
    facts_to_columns,
)
from supportkit._sketch import dense_counts, widen_counts

DAY = 86400
GROUPINGS: list[Any] = ["all", "tier", ("channel", "week")]
CENTURY = 100 * 365.25 * DAY


def _wide(n: int, seed: int, top: float = 10) -> list[TicketFacts]:
    """Facts whose durations spread over many sketch buckets (0 s to 10**top s; 10**10 s is
    three centuries)."""
    rnd = random.Random(seed)

    def seconds() -> int:
        return 0 if rnd.random() < 0.02 else int(10 ** rnd.uniform(0, top))

    facts = []
    for i in range(n):
        created = rnd.randrange(0, 30 * DAY)
        solved = rnd.random() < 0.7
        facts.append(
            TicketFacts(
                ticket_id=str(i),
                created_at=created,
                as_of=40 * DAY,
                status="solved" if solved else "open",
                channel=rnd.choice(["email", "chat"]),
                tier=rnd.choice(["free", "pro", "enterprise"]),
                agent=rnd.choice(["ann", "bob", None]),
                solved_at=created + rnd.randrange(9 * DAY) if solved else None,
                first_reply=seconds(),
                first_reply_business=seconds(),
                next_reply=[seconds() for _ in range(rnd.randrange(3))],
                full_resolution=seconds() if solved else None,
                requester_wait=seconds() if solved else None,
                ever_solved=solved,
                escalations=rnd.choice([(), ("L2",)]),
                sla=[("first_reply", rnd.randrange(2), rnd.randrange(2))],
            )
        )
    return facts


def _dense(agg: MetricsAggregator) -> list[Any]:
    return [acc.dense for g in agg._groupings for acc in g.groups.values()]


def test_dense_groups_give_the_one_pass_state_on_every_path() -> None:
    """With dense groups (and dict-only ones in small shards): shards merged in any order, the
    numpy path, JSON and pickle round trips all give the one-pass state and report, and the
    report's quantiles are exactly a QuantileSketch's of the same values, beyond a century too."""
    facts = _wide(3000, seed=1)
    one = MetricsAggregator(GROUPINGS).update(facts, vectorise=False)
    assert any(isinstance(d, array) for d in _dense(one))
    assert max(f.first_reply or 0 for f in facts) > CENTURY
    rnd = random.Random(2)
    cuts = [0, 3, 40, 900, 2100, 3000]
    shards = [MetricsAggregator(GROUPINGS).update(facts[a:b]) for a, b in itertools.pairwise(cuts)]
    rnd.shuffle(shards)
    merged = MetricsAggregator.combine(shards)
    paths = {
        "merged": merged,
        "numpy batches": MetricsAggregator(GROUPINGS).update(facts, vectorise=True),
        "columns": MetricsAggregator(GROUPINGS).update_columns(facts_to_columns(facts)),
        "json": MetricsAggregator.from_dict(json.loads(json.dumps(one.to_dict()))),
        "pickle": pickle.loads(pickle.dumps(one)),
    }
    expected = one.to_dict()
    assert dict.fromkeys(paths, expected) == {n: a.to_dict() for n, a in paths.items()}
    report = one.report()
    assert dict.fromkeys(paths, report) == {n: a.report() for n, a in paths.items()}
    for tier in ("free", "pro", "enterprise"):
        sketch = QuantileSketch()
        sketch.extend(f.first_reply for f in facts if f.tier == tier and f.first_reply is not None)
        row = report.row("tier", tier)
        wanted = [sketch.quantile(q) for q in (0.5, 0.9, 0.95)]
        assert wanted == [row[f"first_reply.{s}"] for s in ("median", "p90", "p95")]


def test_a_group_takes_no_more_memory_once_it_is_dense() -> None:
    """Once its groups are dense, an aggregator's traced memory does not grow with
    20,000 more tickets of the same groups (durations under a century; per-fact loop and numpy
    path)."""
    for vectorise in (False, True):
        agg = MetricsAggregator(GROUPINGS[:2])
        agg.update(_wide(3000, seed=3, top=9), vectorise=vectorise)
        assert all(isinstance(d, array) for d in _dense(agg))
        more = _wide(20_000, seed=4, top=9)
        gc.collect()
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        agg.update(more, vectorise=vectorise)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert after - before < 4_000  # the state itself is ~180 KB


def _state_with_count(agg: MetricsAggregator, tier: str, bucket: int, count: int) -> Any:
    state = agg.to_dict()
    tiers = state["state"][agg.groupings.index("tier")]
    acc = next(acc for key, acc in tiers if key == [tier])
    acc["hists"][0][str(bucket)] = count  # first_reply
    return state


def _count(agg: MetricsAggregator, tier: str, bucket: int) -> int:
    tiers = agg.to_dict()["state"][agg.groupings.index("tier")]
    acc = next(acc for key, acc in tiers if key == [tier])
    return int(acc["hists"][0][str(bucket)])


def test_counts_past_four_bytes_widen_the_dense_counts() -> None:
    """A bucket count past 2**32 - 1 widens dense counts to 8 bytes each on the per-fact
        path, the numpy path, merges and loading; a state with a count past 2**64 - 1 or a bucket
    below the zero bucket is refused."""
    agg = MetricsAggregator(GROUPINGS).update(_wide(3000, seed=5), vectorise=False)
    bucket = QuantileSketch.key(5000)
    state = _state_with_count(agg, "pro", bucket, 2**32 - 1)
    full = MetricsAggregator.from_dict(state)
    pro = dict(full._groupings[full.groupings.index("tier")].items())[("pro",)].dense
    assert isinstance(pro, array)
    assert pro.itemsize == 4
    fact = TicketFacts("x", 0, 1, "open", tier="pro", first_reply=5000)
    results = {
        "loop": MetricsAggregator.from_dict(state).update([fact], vectorise=False),
        "columns": MetricsAggregator.from_dict(state).update_columns(facts_to_columns([fact])),
        "merge": MetricsAggregator.from_dict(state).merge(full),
    }
    assert {"loop": 2**32, "columns": 2**32, "merge": 2**33 - 2} == {
        name: _count(a, "pro", bucket) for name, a in results.items()
    }
    with pytest.raises(ConfigurationError, match="count of 18446744073709551616 for bucket"):
        MetricsAggregator.from_dict(_state_with_count(agg, "pro", bucket, 2**64))
    with pytest.raises(ConfigurationError, match=r"for bucket -2: .* keys -1 or more"):
        MetricsAggregator.from_dict(_state_with_count(agg, "pro", -2, 1))


def _broken(exact: bool, change: Any) -> dict[str, Any]:
    """A one-group ("all") state, dense in sketch mode, after ``change(group_state)``."""
    agg = MetricsAggregator(["all"], exact=exact).update(_wide(300, seed=6), vectorise=False)
    assert exact or all(isinstance(d, array) for d in _dense(agg))
    state = agg.to_dict()
    change(state["state"][0][0][1])
    return state


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda s: s["hists"].append({"5": 1000}), "has 10 histograms: it needs", id="10 hists"
        ),
        pytest.param(lambda s: s["hists"].pop(), "has 8 histograms: it needs", id="8 hists"),
        pytest.param(
            lambda s: s["hists"].__setitem__(2, [["5", 1]]),
            "next_reply is a list: it should be a dict",
            id="hist not a dict",
        ),
        pytest.param(
            lambda s: s.__setitem__("extra", [["met:x", 1]]),
            "extra is a list: it should be a dict",
            id="extra not a dict",
        ),
        pytest.param(
            lambda s: s["extra"].__setitem__("met:x", -1),
            "count of -1 for 'met:x': counts are 0 to 2",
            id="negative extra",
        ),
        pytest.param(
            lambda s: s["extra"].__setitem__("met:x", 2**64),
            "count of 18446744073709551616 for 'met:x'",
            id="extra past 2**64 - 1",
        ),
    ],
)
def test_a_malformed_group_state_is_refused(exact: bool, change: Any, message: str) -> None:
    """A group state with a histogram more or fewer than the 9 duration distributions (an
    extra one used to overwrite another distribution's count), a histogram or ``extra`` that
    is not a dict, or a named count outside 0..2**64 - 1 raises ConfigurationError, in sketch
    and exact mode."""
    with pytest.raises(ConfigurationError, match=message):
        MetricsAggregator.from_dict(_broken(exact, change))


FOLDS = [
    pytest.param(lambda agg, facts: agg.update(facts, vectorise=False), id="loop"),
    pytest.param(lambda agg, facts: agg.update(facts, vectorise=True), id="numpy batches"),
    pytest.param(lambda agg, facts: agg.update_columns(facts_to_columns(facts)), id="columns"),
]
BUCKET = QuantileSketch.key(5000)


def _more(n: int) -> list[TicketFacts]:
    """*n* facts of tier "pro" whose first reply falls in :data:`BUCKET`, after others."""
    pro = TicketFacts("x", 0, 1, "open", tier="pro", first_reply=5000)
    return _wide(50, seed=7) + [pro] * n


@pytest.mark.parametrize("fold", FOLDS)
def test_a_count_past_eight_bytes_raises_and_changes_nothing(fold: Any) -> None:
    """Facts that take a bucket count past 2**64 - 1 raise ConfigurationError on every path,
    and leave the state as it was (the numpy path used to wrap the count to 0, and the
    per-fact path to raise with the facts before applied)."""
    agg = MetricsAggregator(GROUPINGS).update(_wide(3000, seed=5), vectorise=False)
    full = MetricsAggregator.from_dict(_state_with_count(agg, "pro", BUCKET, 2**64 - 2))
    before = full.to_dict()
    with pytest.raises(ConfigurationError, match=r"first_reply bucket \d+ in group \['pro'\] "):
        fold(full, _more(2))
    assert before == full.to_dict()


@pytest.mark.parametrize("fold", FOLDS)
def test_huge_counts_fold_like_small_ones(fold: Any) -> None:
    """An aggregator holding a count past 2**63 folds facts into the same state as one without
    it, but for that count, up to 2**64 - 1 exactly."""
    agg = MetricsAggregator(GROUPINGS).update(_wide(3000, seed=5), vectorise=False)
    small = MetricsAggregator.from_dict(_state_with_count(agg, "pro", BUCKET, 1))
    huge = MetricsAggregator.from_dict(_state_with_count(agg, "pro", BUCKET, 2**64 - 4))
    fold(small, _more(3))
    fold(huge, _more(3))
    assert (_count(small, "pro", BUCKET), _count(huge, "pro", BUCKET)) == (4, 2**64 - 1)
    state = huge.to_dict()
    assert _state_with_count(small, "pro", BUCKET, 2**64 - 1) == state


@pytest.mark.parametrize("exact", [False, True])
def test_a_merge_past_eight_bytes_raises_and_changes_nothing(exact: bool) -> None:
    """Merging counts that add up past 2**64 - 1 raises ConfigurationError before anything
    changes (counters and other groups included), dense counts or not; up to 2**64 - 1 they
    merge."""
    agg = MetricsAggregator(GROUPINGS, exact=exact).update(_wide(3000, seed=5), vectorise=False)
    half = _state_with_count(agg, "pro", BUCKET, 2**63)
    target = MetricsAggregator.from_dict(half)
    before = target.to_dict()
    with pytest.raises(ConfigurationError, match=r"in group \['pro'\] of tier would exceed"):
        target.merge(MetricsAggregator.from_dict(half))
    assert before == target.to_dict()
    target.merge(MetricsAggregator.from_dict(_state_with_count(agg, "pro", BUCKET, 2**63 - 1)))
    assert _count(target, "pro", BUCKET) == 2**64 - 1


def test_the_numpy_path_checks_eight_byte_counts_before_writing() -> None:
    """The numpy path's addition to 8-byte dense counts raises ConfigurationError before it
    writes any count when one would pass 2**64 - 1 (uint64 addition wraps silently)."""
    np = pytest.importorskip("numpy")
    from supportkit._metrics_np import _add_slots

    agg = MetricsAggregator(["all"]).update(_wide(300, seed=6), vectorise=False)
    acc = agg._groupings[0].groups[()]
    acc.dense = array("Q", acc.dense)
    acc.dense[1] = 2**64 - 1
    before = acc.dense.tolist()
    with pytest.raises(ConfigurationError, match=r"count exceeds 2\*\*64 - 1"):
        _add_slots(acc, np.array([0, 1]), np.array([5, 1], dtype=np.uint64))
    assert before == acc.dense.tolist()


def test_dense_counts_take_their_typecode_by_item_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense counts are 4 bytes, widened to 8, whatever the platform's C int and long sizes:
    the typecode is the first of 'I'/'L' (then 'Q'/'L') with that item size, and a platform
    with none refuses to import instead of miscounting."""
    assert (dense_counts(3).itemsize, widen_counts(dense_counts(3)).itemsize) == (4, 8)
    sizes = {"I": 8, "L": 4, "Q": 8}  # a platform with 8-byte ints and 4-byte longs
    monkeypatch.setattr(_sketch, "array", lambda code: SimpleNamespace(itemsize=sizes[code]))
    assert (_sketch._typecode("IL", 4), _sketch._typecode("QL", 8)) == ("L", "Q")
    sizes.update(I=2, L=8)
    with pytest.raises(ImportError, match="unsigned 4-byte array typecode, and none of I, L"):
        _sketch._typecode("IL", 4)
