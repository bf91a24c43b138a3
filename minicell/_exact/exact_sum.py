"""Reproducible sums: the correctly rounded exact sum of a multiset of float arrays (NumPy only).

``reproducible_sum(contributions, world)`` returns, on every rank of ``world``, the elementwise
sum of all contributions of all ranks, rounded once from the exact value to the nearest float
(ties to even): within 0.5 ulp of the exact sum, and a function of the multiset of contributions
alone, so it is bit-identical whatever the world size, the order, and the way contributions are
spread over ranks. inf and NaN propagate deterministically: NaN if any contribution is NaN or
both +inf and -inf occur, else the infinity that occurs (NaN is always NumPy's quiet NaN). An
exact zero is +0.0, or -0.0 when every contribution is -0.0 (IEEE's rule, order-independent).

Method ("owner computes", no floating-point reduction inside MPI at all):

1. The elements are cut into ``W`` contiguous slices (``_sharding.shard_bounds``). One
   ``Alltoallv`` sends slice ``s`` of every contribution to rank ``s``, raw: rank ``s`` then holds
   every contribution of its slice, whoever computed it.
2. Rank ``s`` computes the exact sum of its slice locally, chunk by chunk. Fastest path, for
   float32: a column whose values' exponents span at most ``29 - ceil(log2 n)`` binades is
   summed exactly by plain float64 additions in any order (``narrow_span``: the partial sums
   are multiples of the smallest value's unit that fit in 53 bits), tested first for a whole
   chunk at once, then per column. Other columns: a float64 running sum
   whose every addition ``s = a + b`` is checked for exactness by ``s - a == b and s - b == a``
   (with the larger operand first, ``s - a`` is Dekker's Fast2Sum, computed exactly, so the pair
   holds iff the error term is zero: Dekker 1971; Knuth, TAOCP vol. 2, 4.2.2): when no addition
   rounded, the float64 sum *is* the exact sum (n float32 inputs always are when their exponents span at most
   29 - log2(n) binades: the float64 significand holds the whole sum).
   Elements where some addition rounded (or a partial sum was not finite) are summed again in an
   exact integer superaccumulator (``minicell._exact.superaccumulator``: Kulisch/Neal fixed point in
   int64 limbs, as E3SM's reprosum), which also counts NaN and infinities.
3. The exact value is rounded once to the target dtype (float64 -> float32 is a single rounding
   of an exact value), and one ``Allgatherv`` hands the slices to everybody.

The traffic equals that of a ring ``Allreduce`` of the raw data when each rank holds one
contribution (reduce-scatter, then all-gather), and the arithmetic is split over the ranks.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import minicell._exact.superaccumulator as sa
from minicell._checks import fail_type, fail_value
from minicell._runtime.parallel import run_parallel, scratch
from minicell._runtime.sharding import shard_bounds

CHUNK = 1 << 16  # elements per pass of the local sum: float64 temporaries stay in L2


def _fallback(rows: np.ndarray, fmt: sa.Format) -> np.ndarray:
    """Correctly rounded exact sums of the columns of ``rows`` (n, m), any values."""
    count = rows.shape[1]
    acc = sa.new_accumulator(count, fmt)
    nan = np.zeros(count, bool)
    pos = np.zeros(count, bool)
    neg = np.zeros(count, bool)
    for row in rows:
        finite = np.isfinite(row)
        if not finite.all():
            nan |= np.isnan(row)
            pos |= row == np.inf
            neg |= row == -np.inf
            row = np.where(finite, row, 0).astype(fmt.dtype)
        sa.accumulate(acc, np.ascontiguousarray(row), fmt)
    out = sa.round_limbs(acc, fmt)
    out[pos] = np.inf
    out[neg] = -np.inf
    out[nan | (pos & neg)] = np.nan
    return out


def _sum_chunk(rows: np.ndarray, fmt: sa.Format) -> np.ndarray:
    total = rows[0].astype(np.float64)
    inexact = np.zeros(rows.shape[1], bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in rows[1:]:
            b = row.astype(np.float64, copy=False)
            s = total + b
            # exact iff s - total == b and s - b == total: one of the two is Dekker's Fast2Sum
            # error term (the larger operand first), which is computed exactly
            inexact |= (s - total) != b
            inexact |= (s - b) != total
            total = s
        inexact |= ~np.isfinite(total)
        if fmt.dtype == np.float64:
            out = total
        else:
            out = total.astype(fmt.dtype)
    where = np.flatnonzero(inexact)
    if where.size:
        out[where] = _fallback(rows[:, where], fmt)
    return out


_SPAN32 = 29  # float64 significand bits (53) minus float32's (24)
_FIELD_MAX32 = 255  # float32's biased exponent of inf and NaN


def narrow_span(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Which columns of the float32 ``rows`` a float64 running sum adds up exactly, in any order.

    A nonzero finite float32 ``x`` is a multiple of ``2**q`` with ``|x| < 2**(q + 24)``, where
    ``q = max(field, 1) - 150`` (``field`` its biased exponent). So every partial sum of a column
    of ``n`` values is a multiple of ``2**qmin`` below ``n * 2**(qmax + 24)`` in magnitude, and a
    float64 holds it exactly when ``qmax - qmin + ceil(log2 n) <= 29``: then the float64 sum, in
    any order, is the exact sum (zeros included: IEEE's sign rule is order-independent). The
    fields are compared on the integer bit patterns (``|x|`` as uint32 orders like ``|x|``); the
    other columns (wider spans, inf, NaN) take ``_sum_chunk``'s checked path.
    """
    shifted = None
    high = low = None
    for row in rows:
        shifted = np.left_shift(row.view(np.uint32), np.uint32(1), out=shifted)  # 2|x| as bits: sign dropped
        high = shifted.copy() if high is None else np.maximum(high, shifted, out=high)
        np.subtract(shifted, np.uint32(1), out=shifted)  # zero wraps to the largest: ignored by min
        low = shifted.copy() if low is None else np.minimum(low, shifted, out=low)
    assert high is not None and low is not None
    # fields in bits 24..31 now; a column is direct iff field(high) <= max(field(low), 1) + span
    np.add(low, np.uint32(1), out=low)                      # all-zero columns wrap back to 0
    np.maximum(low, np.uint32(1 << 24), out=low)            # subnormals (and zero) count as field 1
    np.bitwise_and(low, np.uint32(0xFF000000), out=low)
    span = _SPAN32 - (len(rows) - 1).bit_length()           # ceil(log2 n) = (n - 1).bit_length()
    step = max(span + 1, 0)
    np.minimum(low, np.uint32((_FIELD_MAX32 - step) << 24), out=low)  # the sum below stays <= 255 << 24
    np.add(low, np.uint32(step << 24), out=low)             # so inf and NaN (field 255) never pass
    return high < low


def _narrow_block(block: np.ndarray) -> bool:
    """``narrow_span`` of every column of the float32 ``block`` at once: the span of the whole block.

    Gradients rarely span more than 2**27 within a chunk, so this test (two reductions over
    the block, no per-column work) usually decides for all its columns."""
    bits = np.left_shift(block.view(np.uint32), np.uint32(1), out=scratch("exact_sum_bits", block.shape, np.uint32))
    high = int(bits.max()) >> 24
    np.subtract(bits, np.uint32(1), out=bits)      # zeros wrap to the largest: ignored by min
    low = max(((int(bits.min()) + 1) & 0xFFFFFFFF) >> 24, 1)
    span = _SPAN32 - (block.shape[0] - 1).bit_length()
    return high < _FIELD_MAX32 and high - low <= span


def _sum_chunk32(block: np.ndarray, fmt: sa.Format) -> np.ndarray:
    """Float32 rows ``block`` (n, m): ``narrow_span`` columns summed directly in float64, the others checked."""
    total = block[0].astype(np.float64)  # not np.add.reduce: it may start from +0.0, and -0.0 + -0.0 must stay -0.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is summed again below; overflow is inf
        for row in block[1:]:
            np.add(total, row, out=total)
        out = total.astype(fmt.dtype)  # one rounding of the exact sum
    if _narrow_block(block):
        return out
    direct = narrow_span(list(block))
    if not direct.all():
        where = np.flatnonzero(~direct)
        out[where] = _sum_chunk(block[:, where], fmt)
    return out


class WeightedRows:
    """Rows ``weights[i] * concatenate(sources[i])``, made chunk by chunk, never whole.

    Each product is rounded once in the rows' dtype, as ``np.multiply`` of the whole arrays
    would; ``exact_sum_rows`` makes each chunk in per-thread scratch buffers, so the weighted
    rows are never written out in full (nor their memory faulted in).
    """

    def __init__(self, sources: Sequence[Sequence[np.ndarray]], weights: Sequence[float], dtype: Any,
                 sizes: Sequence[int]) -> None:
        self.dtype = np.dtype(dtype)
        self.sources = [[np.asarray(a, self.dtype).reshape(-1) for a in source] for source in sources]
        self.weights = [self.dtype.type(w) for w in weights]
        self.bounds = [int(b) for b in np.cumsum([0, *sizes])]
        self.width = self.bounds[-1]

    def __len__(self) -> int:
        return len(self.sources)

    def write(self, i: int, lo: int, hi: int, out: np.ndarray) -> np.ndarray:
        """Elements ``[lo, hi)`` of row ``i`` into ``out`` (length ``hi - lo``)."""
        for k, array in enumerate(self.sources[i]):
            a, b = max(lo, self.bounds[k]), min(hi, self.bounds[k + 1])
            if a < b:
                start = self.bounds[k]
                np.multiply(array[a - start:b - start], self.weights[i], out=out[a - lo:b - lo])
        return out

    def chunk(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``[lo, hi)`` of every row, (n, hi - lo), in this thread's scratch buffer."""
        block = scratch("exact_sum_block", (len(self), hi - lo), self.dtype)
        for i in range(len(self)):
            self.write(i, lo, hi, block[i])
        return block

    def send_buffer(self, bounds: Sequence[tuple[int, int]]) -> np.ndarray:
        """Slice ``bounds[0]`` of every row, then slice ``bounds[1]`` of every row, ...: the
        ``Alltoallv`` send buffer, written on the thread pool (reused from call to call)."""
        n = len(self)
        send = scratch("exact_sum_send", (n * self.width,), self.dtype)

        def body(lo: int, hi: int) -> None:
            for first, last in bounds:
                a, b = max(lo, first), min(hi, last)
                for i in range(n if a < b else 0):
                    start = n * first + i * (last - first) + a - first
                    self.write(i, a, b, send[start:start + b - a])

        run_parallel(self.width, body)
        return send


def exact_sum_rows(rows: np.ndarray | Sequence[np.ndarray] | WeightedRows) -> np.ndarray:
    """The correctly rounded exact sum over axis 0 of ``rows`` (n >= 1, m), float32 or float64.

    ``rows`` may also be a sequence of n same-length 1-D arrays (no (n, m) copy is made), or
    ``WeightedRows`` (n >= 1), made chunk by chunk. The
    columns are summed chunk by chunk on minicell's thread pool: each column's sum depends on
    that column alone, so the result is the same for any thread count.
    """
    block_of: Callable[[int, int], np.ndarray]
    if isinstance(rows, WeightedRows):
        dtype, width, block_of = rows.dtype, rows.width, rows.chunk
    elif isinstance(rows, np.ndarray):
        dtype, width, stacked = rows.dtype, rows.shape[1], rows
        block_of = lambda a, b: stacked[:, a:b]  # noqa: E731
    else:
        dtype, width, listed = rows[0].dtype, rows[0].shape[0], list(rows)
        block_of = lambda a, b: np.stack([r[a:b] for r in listed])  # noqa: E731
    fmt = sa.FORMATS[dtype]
    out = np.empty(width, dtype)
    sum_chunk = _sum_chunk32 if fmt.dtype == np.float32 else _sum_chunk

    def body(lo: int, hi: int) -> None:
        for a in range(lo, hi, CHUNK):
            b = min(a + CHUNK, hi)
            out[a:b] = sum_chunk(block_of(a, b), fmt)

    run_parallel(width, body, align=CHUNK)
    return out


def check_contributions(who: str, contributions: Any, shape: Any, dtype: Any) -> tuple[list[np.ndarray], tuple, np.dtype]:
    """Validate: a list of same-shape float32/float64 arrays (shape and dtype given when empty)."""
    if isinstance(contributions, np.ndarray) or not isinstance(contributions, (list, tuple)):
        raise fail_type(who, "contributions", "a list of arrays", contributions)
    arrays = [np.asarray(getattr(c, "_data", c)) for c in contributions]
    if dtype is not None:
        dtype = np.dtype(dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
    if not arrays and (shape is None or dtype is None):
        raise fail_value(who, "contributions", "non-empty unless 'shape' and 'dtype' are given", contributions)
    shape = arrays[0].shape if shape is None else shape
    dtype = arrays[0].dtype if dtype is None else dtype
    if dtype not in sa.FORMATS:
        raise TypeError(f"For '{who}', the contributions must be float32 or float64, but got dtype {dtype}.")
    for i, a in enumerate(arrays):
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"For '{who}', every contribution must have shape {list(shape)} and dtype {dtype}, "
                             f"but contributions[{i}] has shape {list(a.shape)} and dtype {a.dtype}.")
    return arrays, shape, dtype


def _agree(world: Any, count: int, size: int, dtype: np.dtype) -> list[int]:
    """Every rank's contribution count, after checking that all ranks sum the same shape and dtype."""
    table = world.allgather_array(np.array([count, size, dtype.itemsize], np.int64))
    if (table[:, 1:] != table[0, 1:]).any():
        raise ValueError(f"For 'reproducible_sum', every rank must sum arrays of the same size and dtype, but got "
                         f"(size, itemsize) {[tuple(int(v) for v in r[1:]) for r in table]} by rank.")
    total = int(table[:, 0].sum())
    if total > sa.MAX_CONTRIBUTIONS:
        raise ValueError(f"For 'reproducible_sum', at most 2**30 contributions can be summed, but got {total}.")
    return [int(c) for c in table[:, 0]]


def reproducible_sum(contributions: Sequence[Any], world: Any, shape: Any = None, dtype: Any = None,
                     counts: Sequence[int] | None = None) -> np.ndarray:
    """The correctly rounded sum of every rank's contributions, identical on every rank.

    ``counts`` (every rank's number of contributions), when the caller already knows it, saves
    the collective that learns it (and checks shapes).
    """
    arrays, shape, dtype = check_contributions("reproducible_sum", contributions, shape, dtype)
    size = int(np.prod(shape, dtype=np.int64))
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    if world.size == 1:
        if not flat:
            return np.zeros(shape, dtype)
        return exact_sum_rows(flat).reshape(shape)
    counts = _agree(world, len(flat), size, dtype) if counts is None else list(counts)
    bounds = [shard_bounds(size, world.size, s) for s in range(world.size)]
    if len(flat) == 1:
        send = flat[0]  # slices in rank order are the array itself
    else:
        send = np.empty(len(flat) * size, dtype)
        position = 0
        for lo, hi in bounds:
            for a in flat:
                send[position:position + hi - lo] = a[lo:hi]
                position += hi - lo
    return _owner_computes(world, send, len(flat), counts, bounds).reshape(shape)


def reproducible_weighted_sum(rows: WeightedRows, world: Any, counts: Sequence[int] | None = None) -> np.ndarray:
    """``reproducible_sum`` of the rows of ``rows`` (no validation: the caller made them), each
    product written once, straight into the send buffer (or summed chunk by chunk in a world of one)."""
    if world.size == 1:
        return exact_sum_rows(rows) if len(rows) else np.zeros(rows.width, rows.dtype)
    counts = _agree(world, len(rows), rows.width, rows.dtype) if counts is None else list(counts)
    bounds = [shard_bounds(rows.width, world.size, s) for s in range(world.size)]
    return _owner_computes(world, rows.send_buffer(bounds), len(rows), counts, bounds)


def _owner_computes(world: Any, send: np.ndarray, count: int, counts: list[int],
                    bounds: list[tuple[int, int]]) -> np.ndarray:
    """Steps 1-3 of the module docstring; ``send`` holds slice 0 of this rank's ``count`` rows, then slice 1, ..."""
    dtype = send.dtype
    widths = [hi - lo for lo, hi in bounds]
    mine = widths[world.rank]
    received = world.alltoallv(send, [count * w for w in widths], [c * mine for c in counts])
    rows = received.reshape(sum(counts), mine)
    part = exact_sum_rows(rows) if rows.shape[0] else np.zeros(mine, dtype)
    return world.allgatherv(part, widths)
