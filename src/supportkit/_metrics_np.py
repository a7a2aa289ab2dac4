"""The vectorised metrics path: facts as numpy columns into the same accumulators.

Imported lazily by :meth:`MetricsAggregator.update_columns` (numpy is an optional extra). The
result is the very state the streaming path builds (same buckets, same integer sums), so the two
paths merge with each other and give identical reports.

Column layout (``n`` ticket rows; ``-1`` stands for "none" in integer columns):

- ``created_at``, ``solved_at`` (int64 epoch seconds); ``first_reply``, ``first_reply_business``,
  ``full_resolution``, ``full_resolution_business``, ``requester_wait``,
  ``requester_wait_business``, ``backlog_age`` (int64 seconds; ``backlog_age >= 0`` marks the
  backlog); ``agent_replies``, ``reopens`` (int); ``ever_solved`` (bool); ``csat`` (1 good,
  0 bad, -1 none); ``nps``, ``ces`` (int, -1 none).
- Dimensions ``tier``, ``channel``, ``priority``, ``group``, ``agent``: ``<dim>.codes`` (int
  array indexing) ``<dim>.categories`` (a list of ``str | None``).
- Exploded lists, one entry per item: ``next_reply.row``/``next_reply.seconds`` and the same for
  ``next_reply_business``; ``escalations.row``/``escalations.codes``/``escalations.categories``;
  ``sla.row``/``sla.codes``/``sla.categories``/``sla.met``/``sla.breached``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._metrics import (
    _AGE,
    _BACKLOG,
    _CES_N,
    _CES_SUM,
    _COUNTERS,
    _CSAT_BAD,
    _CSAT_GOOD,
    _ESCALATED,
    _EVER_SOLVED,
    _FCR,
    _FRT,
    _FRT_B,
    _FULL,
    _FULL_B,
    _INCOMING,
    _NPS_DET,
    _NPS_N,
    _NPS_PRO,
    _NRT,
    _NRT_B,
    _ONE_TOUCH,
    _REOPENED,
    _SOLVED,
    _UNSOLVED,
    _WAIT,
    _WAIT_B,
    DURATIONS,
    TicketFacts,
    _Grouping,
    _key,
)
from ._sketch import DENSE_KEYS, DENSE_TOP, GAMMA, INV_LOG_GAMMA, ZERO, widen_counts
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._metrics import MetricsAggregator

_DIMS = ("tier", "channel", "priority", "group", "agent", "problem")
_SCALARS = {
    "first_reply": _FRT,
    "first_reply_business": _FRT_B,
    "full_resolution": _FULL,
    "full_resolution_business": _FULL_B,
    "requester_wait": _WAIT,
    "requester_wait_business": _WAIT_B,
    "backlog_age": _AGE,
}
_CREATED_SIDE = (_FRT, _FRT_B, _AGE)
_BOUNDS: Any = None


def _bounds() -> Any:
    """``T[k]``: the smallest integer whose streaming bucket is ``>= k`` (exact integer edges)."""
    global _BOUNDS
    if _BOUNDS is None:
        edges = [1]
        while edges[-1] < 2**62:
            k = len(edges)
            lo, hi = edges[-1], max(edges[-1], math.ceil(GAMMA**k)) * 2 + 2
            while lo < hi:  # smallest x with bucket(x) >= k, by bisection on integers
                mid = (lo + hi) // 2
                if int(math.log(mid) * INV_LOG_GAMMA) >= k:
                    hi = mid
                else:
                    lo = mid + 1
            edges.append(lo)
        _BOUNDS = np.array(edges, dtype=np.int64)
    return _BOUNDS


def _keys(values: Any, exact: bool) -> Any:
    """Bucket keys, identical to the streaming path's (exact: the values themselves)."""
    if exact:
        return values
    bounds = _bounds()
    safe = np.maximum(values, 1)
    # numpy's log may differ from math.log in the last bit, so correct against the exact integer
    # bucket edges: the result is the streaming path's key, bit for bit.
    keys = (np.log(safe) * INV_LOG_GAMMA).astype(np.int64)
    np.clip(keys, 0, len(bounds) - 2, out=keys)
    keys -= safe < bounds[keys]
    keys += safe >= bounds[keys + 1]
    keys[values <= 0] = ZERO  # negative entries mean "none" and are dropped later
    return keys


def _block_labels(label: Any, blocks: list[int]) -> tuple[list[str], list[int]]:
    """Labels of sorted quarter-hour *blocks*, and the blocks a period boundary cuts.

    Periods only move forward in time, so when the first block's start and the last block's end
    share a label every block between does too: bisect, calling *label* O(periods × log blocks).
    """
    out: list[str] = [""] * len(blocks)
    odd: list[int] = []
    memo: dict[int, str] = {}

    def at(ts: int) -> str:
        value = memo.get(ts)
        if value is None:
            value = memo[ts] = label(ts)
        return value

    stack = [(0, len(blocks) - 1)] if blocks else []
    while stack:
        lo, hi = stack.pop()
        first = at(blocks[lo] * 900)
        if first == at(blocks[hi] * 900 + 899):
            out[lo : hi + 1] = [first] * (hi + 1 - lo)
        elif lo == hi:
            out[lo] = first
            odd.append(lo)
        else:
            mid = (lo + hi) // 2
            stack += [(lo, mid), (mid + 1, hi)]
    return out, odd


def _dense_unique(values: Any) -> tuple[Any, Any]:
    """``np.unique(values, return_inverse=True)`` for non-negative ints, O(n) when they are few."""
    if not len(values):
        return values, values
    low, high = int(values.min()), int(values.max())
    if high - low > 1 << 24:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse.ravel()
    present = np.bincount(values - low, minlength=high - low + 1) > 0
    unique = np.nonzero(present)[0]
    remap = np.cumsum(present) - 1
    return unique + low, remap[values - low]


def _period_codes(label: Any, ts: Any) -> tuple[Any, list[str | None]]:
    unique, inverse = _dense_unique(ts // 900)
    labels, odd = _block_labels(label, unique.tolist())
    names: dict[str, int] = {}
    codes = np.array([names.setdefault(x, len(names)) for x in labels], dtype=np.int64)[inverse]
    for i in odd:  # a period boundary inside the block: label those rows one by one
        rows = np.nonzero(inverse == i)[0]
        codes[rows] = [names.setdefault(label(int(t)), len(names)) for t in ts[rows].tolist()]
    return codes, list(names)


def _group_codes(
    g: _Grouping, cols: Mapping[str, Any], ts: Any, rows: Any
) -> tuple[Any, list[tuple[str | None, ...]]]:
    """Per selected row, a compact group index, and the key of each index."""
    combined = np.zeros(len(rows), dtype=np.int64)
    vocab: list[list[str | None]] = []
    for part in g.parts:
        if part == g.period:
            codes, names = _period_codes(g.label, ts[rows])
        else:
            codes = np.asarray(cols[f"{part}.codes"])[rows].astype(np.int64)
            names = list(cols[f"{part}.categories"])
        combined = combined * (len(names) + 1) + codes
        vocab.append(names)
    unique, inverse = _dense_unique(combined)
    keys = []
    for value in unique.tolist():
        key: list[str | None] = []
        for names in reversed(vocab):
            value, code = divmod(value, len(names) + 1)
            key.append(names[code])
        keys.append(tuple(reversed(key)))
    return inverse, keys


def _count(accs: list[Any], index: int, groups: Any, n: int, weights: Any = None) -> None:
    """Add per-group totals of *weights* (a mask or amounts; ``None`` counts rows)."""
    totals = np.bincount(groups, weights=weights, minlength=n)
    for i, total in enumerate(totals.tolist()):
        if total:
            accs[i].bump(index, int(total))


def _pair_counts(groups: Any, codes: Any, m: int) -> tuple[Any, Any, Any]:
    """``(group, code)`` pairs with their counts, sorted by group then code."""
    low = int(codes.min())
    span = int(codes.max()) - low + 1
    cells = groups.astype(np.int64) * span + (codes - low)
    if m * span <= 1 << 22:  # small enough for a dense count: O(n), no sort
        dense = np.bincount(cells, minlength=m * span)
        pairs = np.nonzero(dense)[0]
        counts = dense[pairs]
    else:
        pairs, counts = np.unique(cells, return_counts=True)
    owners, codes = np.divmod(pairs, span)
    return owners, codes + low, counts


def _runs(owners: Any) -> Iterator[tuple[int, int, int]]:
    """``(owner, start, end)`` of each run of equal values in sorted *owners*."""
    starts = np.flatnonzero(np.diff(owners, prepend=-1))
    ends = [*starts[1:].tolist(), len(owners)]
    return zip(owners[starts].tolist(), starts.tolist(), ends, strict=True)


def _group_sums(groups: Any, values: Any, m: int) -> list[int]:
    """Per group (0 to *m* - 1), the exact integer sum of its *values* (``>= 0`` int64), as the
    per-fact path adds them: int64 while the total cannot pass 2**63 - 1, else Python ints
    (float64 weights lost whole seconds past 2**53)."""
    if int(values.max()) * len(values) < 2**63:
        out = np.zeros(m, dtype=np.int64)
        np.add.at(out, groups, values.astype(np.int64))
        return [int(total) for total in out.tolist()]
    sums = [0] * m
    for group, value in zip(groups.tolist(), values.tolist(), strict=True):
        sums[group] += value
    return sums


def _histograms(accs: list[Any], items: list[tuple[int, Any, Any, Any]], exact: bool) -> None:
    """Add each distribution's ``(group, bucket)`` counts and per-group sums of the present
    (``>= 0``) values; *items* are ``(distribution, groups, values, keys)``."""
    m = len(accs)
    stored: list[tuple[Any, Any, Any]] = []
    for index, all_groups, all_values, all_keys in items:
        keep = all_values >= 0
        groups, values, keys = all_groups[keep], all_values[keep], all_keys[keep]
        if not len(values):
            continue
        for i, total in enumerate(_group_sums(groups, values, m)):
            if total:
                accs[i].bump(len(_COUNTERS) + index, total)
        small = np.zeros(len(keys), dtype=bool) if exact else keys <= DENSE_TOP
        if small.any():  # sketch buckets up to a century: _slot
            stored.append(_pair_counts(groups[small], keys[small] + index * DENSE_KEYS + 1, m))
        if not small.all():  # exact values and sketch buckets over a century: _key
            owners, codes, counts = _pair_counts(groups[~small], keys[~small], m)
            named = [_key(index, code) for code in codes.tolist()]
            pairs = list(zip(named, counts.tolist(), strict=True))
            for group, start, end in _runs(owners):
                accs[group].count(pairs[start:end])
    if not stored:
        return
    owners, slots, counts = (np.concatenate(column) for column in zip(*stored, strict=True))
    order = np.argsort(owners, kind="stable")
    owners, slots, counts = owners[order], slots[order], counts[order].astype(np.uint64)
    for group, start, end in _runs(owners):
        _add_slots(accs[group], slots[start:end], counts[start:end])


def _add_slots(acc: Any, slots: Any, counts: Any) -> None:
    """Add *counts* (uint64) to the distinct sketch *slots* of *acc* (dense or not)."""
    acc.compact(len(slots))
    dense = acc.dense
    if dense is None:
        acc.count(zip(slots.tolist(), counts.tolist(), strict=True))
        return
    view = np.frombuffer(dense, dtype=np.uint32 if dense.itemsize == 4 else np.uint64)
    total = view[slots] + counts  # uint64, wrapping past 2**64 - 1 (then total < counts)
    if view.dtype == np.uint32:
        full = int(total.max()) > 0xFFFFFFFF
    else:
        full = bool((total < counts).any())
    if full:  # widen 4-byte counts; 8-byte ones are full: widen_counts raises, nothing written
        acc.dense = widen_counts(dense)
        view = np.frombuffer(acc.dense, dtype=np.uint64)
    view[slots] = total


def _exploded(cols: Mapping[str, Any], name: str, row_group: Any) -> tuple[Any, Any]:
    rows = np.asarray(cols.get(f"{name}.row", np.empty(0, dtype=np.int64)), dtype=np.int64)
    return rows, row_group[rows]


def _anchor(
    agg: MetricsAggregator, g: _Grouping, cols: Mapping[str, Any], ts: Any, rows: Any
) -> tuple[Any, list[Any]]:
    groups, keys = _group_codes(g, cols, ts, rows)
    return groups, [g.acc(key) for key in keys]


def _check_columns(agg: MetricsAggregator, cols: Mapping[str, Any]) -> None:
    if any(g.tagged for g in agg._groupings):
        raise ConfigurationError("update_columns does not do tag groupings: use update() for those")
    parts = {p for g in agg._groupings for p in g.parts if p != g.period} | {"agent"}
    required = [
        "created_at",
        "solved_at",
        "ever_solved",
        "agent_replies",
        "reopens",
        "csat",
        "nps",
        "ces",
        *_SCALARS,
        *(f"{p}.{what}" for p in sorted(parts) for what in ("codes", "categories")),
    ]
    missing = [name for name in required if name not in cols]
    if missing:
        raise ConfigurationError(
            f"update_columns: missing column(s) {', '.join(missing)} (see facts_to_columns)"
        )
    lengths = {name: len(cols[name]) for name in required if not name.endswith(".categories")}
    if len(set(lengths.values())) > 1:
        raise ConfigurationError(f"update_columns: columns of different lengths: {lengths}")


def growth(agg: MetricsAggregator, cols: Mapping[str, Any]) -> int:
    """At least the most the columns add to any one counter or duration sum of a group (the
    columns are checked first): a column's largest value times its length."""
    _check_columns(agg, cols)
    n = len(cols["created_at"])
    most = n
    columns = [np.asarray(cols[name], dtype=np.int64) for name in (*_SCALARS, "ces")]
    columns += [
        np.asarray(cols.get(f"{DURATIONS[index]}.seconds", np.empty(0)), dtype=np.int64)
        for index in (_NRT, _NRT_B)
    ]
    for values in columns:
        if len(values):
            most = max(most, int(values.max()) * len(values))
    return most


def update_columns(agg: MetricsAggregator, cols: Mapping[str, Any]) -> None:
    """Aggregate the columns into *agg* (see the module docstring for the layout).

    Every required column is checked before anything is aggregated.
    """
    _check_columns(agg, cols)
    created = np.asarray(cols["created_at"], dtype=np.int64)
    solved_at = np.asarray(cols["solved_at"], dtype=np.int64)
    n = len(created)
    everything = np.arange(n)
    solved_rows = np.nonzero(solved_at >= 0)[0]
    col = {
        name: np.asarray(cols[name], dtype=np.int64)
        for name in (*_SCALARS, "agent_replies", "reopens", "csat", "nps", "ces")
    }
    ever = np.asarray(cols["ever_solved"], dtype=bool)
    exact = agg.exact
    keys = {
        i: _keys(col[DURATIONS[i]], exact) for i in (*_CREATED_SIDE, _FULL, _FULL_B, _WAIT, _WAIT_B)
    }
    nested = {}
    for index in (_NRT, _NRT_B):
        values = np.asarray(cols.get(f"{DURATIONS[index]}.seconds", np.empty(0)), dtype=np.int64)
        nested[index] = (values, _keys(values, exact))
    for g in agg._groupings:
        # created side: every row, anchored at creation
        groups, accs = _anchor(agg, g, cols, created, everything)
        m = len(accs)
        _count(accs, _INCOMING, groups, m)
        _count(accs, _BACKLOG, groups, m, col["backlog_age"] >= 0)
        _count(accs, _EVER_SOLVED, groups, m, ever)
        _count(accs, _REOPENED, groups, m, ever & (col["reopens"] > 0))
        _count(accs, _CSAT_GOOD, groups, m, col["csat"] == 1)
        _count(accs, _CSAT_BAD, groups, m, col["csat"] == 0)
        _count(accs, _NPS_N, groups, m, col["nps"] >= 0)
        _count(accs, _NPS_PRO, groups, m, col["nps"] >= 9)
        _count(accs, _NPS_DET, groups, m, (col["nps"] >= 0) & (col["nps"] <= 6))
        _count(accs, _CES_N, groups, m, col["ces"] >= 0)
        _count(accs, _CES_SUM, groups, m, np.where(col["ces"] >= 0, col["ces"], 0))
        created_items = [(i, groups, col[DURATIONS[i]], keys[i]) for i in _CREATED_SIDE]
        for index, (values, value_keys) in nested.items():
            _rows, row_groups = _exploded(cols, DURATIONS[index], groups)
            created_items.append((index, row_groups, values, value_keys))
        esc_rows, esc_groups = _exploded(cols, "escalations", groups)
        escalated = np.zeros(n, dtype=bool)
        escalated[esc_rows] = True
        _count(accs, _ESCALATED, groups, m, escalated)
        _named_counts(
            accs,
            cols,
            "escalations",
            esc_groups,
            lambda a, name, c: a.count([(f"escalated:{name}", c)]),
        )
        _sla(accs, cols, groups)
        # solved side: solved rows, anchored at the latest solve
        if g.period is None:
            sgroups, saccs = groups[solved_rows], accs
        else:
            sgroups, saccs = _anchor(agg, g, cols, solved_at, solved_rows)
        k = len(saccs)
        replies, reopens = col["agent_replies"][solved_rows], col["reopens"][solved_rows]
        _count(saccs, _SOLVED, sgroups, k)
        _count(saccs, _ONE_TOUCH, sgroups, k, replies == 1)
        _count(saccs, _FCR, sgroups, k, (replies <= 1) & (reopens == 0) & ~escalated[solved_rows])
        solved_items = [
            (i, sgroups, col[DURATIONS[i]][solved_rows], keys[i][solved_rows])
            for i in (_FULL, _FULL_B, _WAIT, _WAIT_B)
        ]
        if saccs is accs:  # one pass over the groups' counts for both sides
            _histograms(accs, created_items + solved_items, exact)
        else:
            _histograms(accs, created_items, exact)
            _histograms(saccs, solved_items, exact)
        agents = np.asarray(cols["agent.codes"], dtype=np.int64)[solved_rows]
        names = list(cols["agent.categories"])
        pairs = np.unique(sgroups.astype(np.int64) * (len(names) + 1) + agents)
        for pair in pairs.tolist():
            group, code = divmod(pair, len(names) + 1)
            if names[code] is not None:
                saccs[group].agents.add(names[code])


def _named_counts(
    accs: list[Any], cols: Mapping[str, Any], name: str, row_groups: Any, put: Any
) -> None:
    if not len(row_groups):
        return
    codes = np.asarray(cols[f"{name}.codes"], dtype=np.int64)
    names = list(cols[f"{name}.categories"])
    pairs, counts = np.unique(row_groups.astype(np.int64) * len(names) + codes, return_counts=True)
    for pair, count in zip(pairs.tolist(), counts.tolist(), strict=True):
        group, code = divmod(pair, len(names))
        put(accs[group], names[code], count)


def _sla(accs: list[Any], cols: Mapping[str, Any], groups: Any) -> None:
    rows, row_groups = _exploded(cols, "sla", groups)
    if not len(rows):
        return
    codes = np.asarray(cols["sla.codes"], dtype=np.int64)
    names = list(cols["sla.categories"])
    combined = row_groups.astype(np.int64) * len(names) + codes
    unique, inverse = _dense_unique(combined)
    met = np.bincount(inverse, weights=np.asarray(cols["sla.met"], dtype=np.float64))
    breached = np.bincount(inverse, weights=np.asarray(cols["sla.breached"], dtype=np.float64))
    for value, m, b in zip(unique.tolist(), met.tolist(), breached.tolist(), strict=True):
        group, code = divmod(value, len(names))
        accs[group].count([(f"met:{names[code]}", int(m)), (f"breached:{names[code]}", int(b))])


def _codes(values: Sequence[Any]) -> tuple[Any, list[Any]]:
    index: dict[Any, int] = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values)
    )
    return codes, list(index)


def facts_to_columns(facts: Iterable[TicketFacts]) -> dict[str, Any]:
    """Columns (see the module docstring) for a sequence of facts."""
    items = list(facts)

    def ints(name: str) -> Any:
        return np.array(
            [-1 if (v := getattr(f, name)) is None else v for f in items], dtype=np.int64
        )

    cols: dict[str, Any] = {
        "created_at": ints("created_at"),
        "solved_at": ints("solved_at"),
        "agent_replies": ints("agent_replies"),
        "reopens": ints("reopens"),
        "nps": ints("nps"),
        "ces": ints("ces"),
        "ever_solved": np.array([f.ever_solved for f in items], dtype=bool),
        "csat": np.array(
            [{"good": 1, "bad": 0}.get(f.csat or "", -1) for f in items], dtype=np.int64
        ),
        "backlog_age": np.array([_age(f) for f in items], dtype=np.int64),
    }
    for name in _SCALARS:
        if name != "backlog_age":
            cols[name] = ints(name)
    for dim in _DIMS:
        cols[f"{dim}.codes"], cols[f"{dim}.categories"] = _codes([getattr(f, dim) for f in items])
    for name in ("next_reply", "next_reply_business"):
        pairs = [(i, v) for i, f in enumerate(items) for v in getattr(f, name)]
        cols[f"{name}.row"] = np.array([i for i, _ in pairs], dtype=np.int64)
        cols[f"{name}.seconds"] = np.array([v for _, v in pairs], dtype=np.int64)
    esc = [(i, level) for i, f in enumerate(items) for level in f.escalations]
    cols["escalations.row"] = np.array([i for i, _ in esc], dtype=np.int64)
    cols["escalations.codes"], cols["escalations.categories"] = _codes([lv for _, lv in esc])
    sla = [(i, *item) for i, f in enumerate(items) for item in f.sla]
    cols["sla.row"] = np.array([s[0] for s in sla], dtype=np.int64)
    cols["sla.codes"], cols["sla.categories"] = _codes([s[1] for s in sla])
    cols["sla.met"] = np.array([s[2] for s in sla], dtype=np.int64)
    cols["sla.breached"] = np.array([s[3] for s in sla], dtype=np.int64)
    return cols


def _age(f: TicketFacts) -> int:
    if f.status in _UNSOLVED and not f.merged:
        return max(0, f.as_of - f.created_at)
    return -1


def concat_columns(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One set of columns from several (codes re-mapped, exploded row indexes shifted)."""
    offsets = np.cumsum([0] + [len(p["created_at"]) for p in parts[:-1]]).tolist()
    out: dict[str, Any] = {}
    for key in parts[0]:
        if key.endswith(".categories"):
            continue
        if key.endswith(".codes"):
            names = key[: -len("codes")] + "categories"
            index: dict[Any, int] = {}
            arrays = []
            for part in parts:
                remap = np.array(
                    [index.setdefault(c, len(index)) for c in part[names]], dtype=np.int64
                )
                arrays.append(remap[np.asarray(part[key], dtype=np.int64)])
            out[key], out[names] = np.concatenate(arrays), list(index)
        elif key.endswith(".row"):
            out[key] = np.concatenate(
                [
                    np.asarray(p[key], dtype=np.int64) + o
                    for p, o in zip(parts, offsets, strict=True)
                ]
            )
        else:
            out[key] = np.concatenate([p[key] for p in parts])
    return out
