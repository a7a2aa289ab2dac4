"""Quantiles of durations: a mergeable log-bucket sketch and an exact histogram, one shape.

Both are ``{key: count}`` dicts, so two of them merge by adding counts (exact, in any order).

:class:`QuantileSketch` is a DDSketch-style sketch (Masson, Rim and Lee, VLDB 2019) for
non-negative integer seconds. A value ``x >= 1`` goes to bucket ``k = floor(ln(x) / ln(γ))``,
which covers ``[γ**k, γ**(k+1))``; the bucket answers with ``2 γ**(k+1) / (γ + 1)``, whose
relative distance to every value of the bucket is at most ``α = (γ - 1) / (γ + 1)``. Zeros have
their own bucket and are answered exactly. Memory is bounded by the buckets the data spans:
about 1,100 for values from one second to a century at ``α = 0.99 %``.

:class:`ExactQuantiles` keys by the value itself (an exact histogram): exact answers, memory
grows with the number of distinct values, so it is meant for small data.

Aggregators keep a group's sketches (one per duration distribution) in one ``{key: count}``
dict while the group has seen few buckets, and move them to a *dense* array once a dict would
take more room: one counter per bucket key from :data:`ZERO` to a century (:data:`DENSE_TOP`)
and distribution, 4 bytes each (widened to 8 bytes if a count outgrows them; larger keys stay
in the dict). From then on the group's sketch memory is fixed, whatever is counted; dense
counts merge by adding them, like the dicts.

Quantile convention (both): the *q* quantile of ``n`` values is the value of zero-based rank
``floor(q * (n - 1))`` in sorted order (numpy/pandas ``method="lower"``; the median of an even
count is the lower middle value). The sketch answers within relative error ``α`` of that value.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from itertools import compress
from typing import Any, ClassVar

from .exceptions import ConfigurationError

__all__ = [
    "ALPHA",
    "DENSE_KEYS",
    "DENSE_TOP",
    "INV_LOG_GAMMA",
    "ZERO",
    "ExactQuantiles",
    "QuantileSketch",
    "add_counts",
    "dense_counts",
    "nonzero_counts",
    "widen_counts",
    "worth_dense",
]

#: The sketch's relative error bound: 0.99 %, so "at most 1 %" holds with room for rounding.
ALPHA = 0.0099
GAMMA = (1 + ALPHA) / (1 - ALPHA)
#: ``bucket(x) = int(log(x) * INV_LOG_GAMMA)`` for ``x >= 1``; hot paths inline this.
INV_LOG_GAMMA = 1 / math.log(GAMMA)
_VALUE_FACTOR = 2 * GAMMA / (GAMMA + 1)
ZERO = -1
"""The sketch's bucket key for the value 0 (answered exactly)."""
DENSE_TOP = int(math.log(100 * 365.25 * 86400) * INV_LOG_GAMMA)
"""The bucket key of a century, the largest key a counter store keeps in its dense range."""
DENSE_KEYS = DENSE_TOP + 2
"""Slots per distribution in a counter store: :data:`ZERO` and ``0..DENSE_TOP``."""


def _check(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"durations are whole seconds >= 0, got {value!r}: check the fact that carried it"
        )
    return value


class _Histogram:
    """``{key: count}`` with quantiles; subclasses say how a value maps to a key and back."""

    __slots__ = ("buckets",)
    exact: ClassVar[bool]

    def __init__(self, buckets: Mapping[int, int] | None = None) -> None:
        self.buckets: dict[int, int] = dict(buckets or {})

    @staticmethod
    def key(value: int) -> int:
        """The bucket key of a non-negative value."""
        raise NotImplementedError

    @staticmethod
    def value(key: int) -> float:
        """The value a bucket answers with."""
        raise NotImplementedError

    def add(self, value: int) -> None:
        """Count one non-negative integer (checked)."""
        key = self.key(_check(value))
        self.buckets[key] = self.buckets.get(key, 0) + 1

    def extend(self, values: Iterable[int]) -> None:
        """Count every value of *values*."""
        for value in values:
            self.add(value)

    def merge(self, other: _Histogram) -> None:
        """Add *other*'s counts (exact and order-independent); both must be the same kind."""
        if type(other) is not type(self):
            raise ConfigurationError(
                f"cannot merge {type(other).__name__} into {type(self).__name__}: aggregate both "
                "sides in the same mode (exact or sketch)"
            )
        buckets = self.buckets
        for key, count in other.buckets.items():
            buckets[key] = buckets.get(key, 0) + count

    @property
    def count(self) -> int:
        """How many values were counted."""
        return sum(self.buckets.values())

    def quantile(self, q: float) -> float | None:
        """The *q* quantile (see the module docstring), or ``None`` when empty."""
        if not 0 <= q <= 1:
            raise ConfigurationError(f"quantile {q!r} is outside [0, 1]: pass e.g. 0.5 or 0.9")
        n = self.count
        if not n:
            return None
        rank = math.floor(q * (n - 1))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen > rank:
                return self.value(key)
        raise AssertionError("unreachable: rank < count")  # pragma: no cover

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (keys as strings)."""
        return {
            "exact": self.exact,
            "buckets": {str(k): v for k, v in sorted(self.buckets.items())},
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Histogram)
            and type(other) is type(self)
            and self.buckets == other.buckets
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(count={self.count}, buckets={len(self.buckets)})"


class QuantileSketch(_Histogram):
    """Mergeable quantile sketch of non-negative integers, relative error ≤ :data:`ALPHA`."""

    __slots__ = ()
    exact = False

    @staticmethod
    def key(value: int) -> int:
        """``floor(ln(value) / ln(γ))``, or :data:`ZERO` for 0."""
        return int(math.log(value) * INV_LOG_GAMMA) if value else ZERO

    @staticmethod
    def value(key: int) -> float:
        """``2 γ**(key+1) / (γ + 1)``: within ``α`` of every value of the bucket."""
        return 0.0 if key == ZERO else GAMMA**key * _VALUE_FACTOR


class ExactQuantiles(_Histogram):
    """Exact quantiles from a ``{value: count}`` histogram (for small data)."""

    __slots__ = ()
    exact = True

    @staticmethod
    def key(value: int) -> int:
        """The value itself."""
        return value

    @staticmethod
    def value(key: int) -> float:
        """The value itself."""
        return float(key)


def histogram(exact: bool, buckets: Mapping[int, int] | None = None) -> _Histogram:
    """A new :class:`ExactQuantiles` or :class:`QuantileSketch`."""
    return ExactQuantiles(buckets) if exact else QuantileSketch(buckets)


# --- dense counts -------------------------------------------------------------------------------

_DENSE_BYTES = 4
_SPARSE_BYTES = 64
"""About what one key of a ``{key: count}`` dict costs (entry, index and key object)."""


def _typecode(codes: str, size: int) -> str:
    """The first of the unsigned array typecodes *codes* whose items take *size* bytes."""
    for code in codes:
        if array(code).itemsize == size:
            return code
    raise ImportError(
        f"supportkit's dense sketch counts need an unsigned {size}-byte array typecode, and "
        f"none of {', '.join(codes)} is one on this platform"
    )


_NARROW = _typecode("IL", _DENSE_BYTES)
_WIDE = _typecode("QL", 2 * _DENSE_BYTES)


def worth_dense(keys: int, size: int) -> bool:
    """Whether *keys* dict entries take more room than a dense array of *size* counts."""
    return keys * _SPARSE_BYTES >= size * _DENSE_BYTES


def dense_counts(size: int) -> array[int]:
    """*size* zero counts, 4 bytes each (:func:`add_counts` widens them when needed)."""
    return array(_NARROW, bytes(_DENSE_BYTES * size))


def widen_counts(counts: array[int]) -> array[int]:
    """The same counts, 8 bytes each (when a 4-byte count would overflow)."""
    if counts.typecode == _WIDE:
        raise ConfigurationError("a sketch bucket count exceeds 2**64 - 1")
    return array(_WIDE, counts)


def add_counts(counts: array[int], pairs: Iterable[tuple[int, int]]) -> array[int]:
    """Add ``(slot, count)`` *pairs* to dense *counts*; returns them (widened if need be)."""
    for slot, count in pairs:
        try:
            counts[slot] += count
        except OverflowError:
            counts = widen_counts(counts)
            counts[slot] += count
    return counts


def nonzero_counts(counts: array[int]) -> Iterator[tuple[int, int]]:
    """``(slot, count)`` pairs of the non-zero dense *counts*, by slot."""
    return zip(compress(range(len(counts)), counts), compress(counts, counts), strict=True)
