"""Column kernels of the exact sums: exact float64 pairs, one correct rounding, the integer fallback.

Every kernel takes rows ``(n, m)`` (the n values of each of m columns) and works column by column,
so a column's result depends on that column alone (never on chunking or threads).

- ``narrow_span`` / ``narrow_block``: float32 columns whose exponents span at most
  ``29 - ceil(log2 n)`` binades are summed exactly by plain float64 additions in any order (the
  partial sums are multiples of the smallest value's unit that fit in 53 bits).
- ``pair_sum``: any float32 or float64 rows as an exact pair ``hi + lo`` of float64s. ``hi`` is a
  float64 running sum; the error of every addition is computed exactly by Knuth's TwoSum
  (TAOCP vol. 2, 4.2.2, theorem B: ``e = (a - (s - b')) + (b - b')`` with ``b' = s - a``) and the
  errors are added into ``lo``, each of those additions checked exact (``u - c == e and u - e ==
  c``: one of the two is Dekker's Fast2Sum error, computed exactly, 1971). A column whose check
  fails (errors spanning more than 53 bits) or that met inf/NaN/overflow is reported not ``ok``.
  This removes float64's cliff: only adversarial columns reach the integer fallback.
- ``round_pair``: ``hi + lo`` rounded once to float64 (one IEEE addition is that rounding) or to
  float32. For float32, ``r = fl64(hi + lo)`` then ``fl32(r)`` is the correct rounding unless
  ``r`` is exactly halfway between two float32s while the error ``hi + lo - r`` is not zero (the
  midpoints are float64 numbers, so rounding to float64 never crosses one): those columns, and
  results outside float32's normal range with a nonzero error, are reported for the fallback.
- ``fallback``: the Kulisch/Neal integer superaccumulator (``superaccumulator``) of any values,
  inf and NaN counted, rounded once to the target dtype (float64 limbs may round to float32).

Zeros follow IEEE: the result is -0.0 only when every value is -0.0.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

import minicell._exact.superaccumulator as sa
from minicell._runtime.parallel import scratch

_SPAN32 = 29  # float64 significand bits (53) minus float32's (24)
_FIELD_MAX32 = 255  # float32's biased exponent of inf and NaN
_LOW29 = np.uint64((1 << 29) - 1)
_HALF29 = np.uint64(1 << 28)


def narrow_span(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Which columns of the float32 ``rows`` a float64 running sum adds up exactly, in any order.

    A nonzero finite float32 ``x`` is a multiple of ``2**q`` with ``|x| < 2**(q + 24)``, where
    ``q = max(field, 1) - 150`` (``field`` its biased exponent). So every partial sum of a column
    of ``n`` values is a multiple of ``2**qmin`` below ``n * 2**(qmax + 24)`` in magnitude, and a
    float64 holds it exactly when ``qmax - qmin + ceil(log2 n) <= 29``: then the float64 sum, in
    any order, is the exact sum (zeros included: IEEE's sign rule is order-independent). The
    fields are compared on the integer bit patterns (``|x|`` as uint32 orders like ``|x|``); the
    other columns (wider spans, inf, NaN) take the checked path.
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
    return cast(np.ndarray, high < low)


def narrow_block(block: np.ndarray) -> bool:
    """``narrow_span`` of every column of the float32 ``block`` at once: the span of the whole block.

    Gradients rarely span more than 2**27 within a chunk, so this test (two reductions over
    the block, no per-column work) usually decides for all its columns."""
    bits = np.left_shift(block.view(np.uint32), np.uint32(1), out=scratch("exact_sum_bits", block.shape, np.uint32))
    high = int(bits.max()) >> 24
    np.subtract(bits, np.uint32(1), out=bits)      # zeros wrap to the largest: ignored by min
    low = max(((int(bits.min()) + 1) & 0xFFFFFFFF) >> 24, 1)
    span = _SPAN32 - (block.shape[0] - 1).bit_length()
    return high < _FIELD_MAX32 and high - low <= span


def plain_sum64(block: np.ndarray) -> np.ndarray:
    """The float64 running sum of the rows, row 0 first (not np.add.reduce: it may start from
    +0.0, and -0.0 + -0.0 must stay -0.0)."""
    total = block[0].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in block[1:]:
            np.add(total, row, out=total)
    return cast(np.ndarray, total)


def pair_sum(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hi, lo, ok)``: where ``ok``, ``hi + lo`` (float64s) is the exact sum of the column."""
    m = block.shape[1]
    hi = block[0].astype(np.float64)
    lo = np.full(m, -0.0)
    ok = np.ones(m, bool)
    t, b, e, u = (np.empty(m) for _ in range(4))
    flag = np.empty(m, bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in block[1:]:
            x = row.astype(np.float64, copy=False)
            np.add(hi, x, out=t)                 # TwoSum(hi, x): t + e == hi + x exactly
            np.subtract(t, hi, out=b)
            np.subtract(x, b, out=e)             # e = x - b'
            np.subtract(t, b, out=b)
            np.subtract(hi, b, out=b)            # b = hi - (t - b')
            np.add(e, b, out=e)
            hi, t = t, hi
            np.add(lo, e, out=u)                 # lo += e, checked exact
            np.subtract(u, lo, out=b)
            np.equal(b, e, out=flag)
            ok &= flag
            np.subtract(u, e, out=b)
            np.equal(b, lo, out=flag)
            ok &= flag
            lo, u = u, lo
        ok &= np.isfinite(hi)
    return hi, lo, ok


def round_pair(hi: np.ndarray, lo: np.ndarray, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(out, bad)``: ``hi + lo`` correctly rounded to ``dtype`` except where ``bad``."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.where(lo == 0, hi, hi + lo)  # lo == 0: hi itself, so that -0.0 stays -0.0
        if np.dtype(dtype) == np.float64:
            return r, np.zeros(r.shape, bool)
        err = (hi - r) + lo                  # exact (Fast2Sum) when |hi| >= |lo|, as pair_sum keeps it
        inexact = (err != 0) | (np.abs(lo) > np.abs(hi))
        bits = r.view(np.uint64)
        halfway = (bits & _LOW29) == _HALF29
        magnitude = np.abs(r)
        outside = (magnitude < 2.0 ** -126) | (magnitude >= 2.0 ** 128)
        return r.astype(np.float32), inexact & (halfway | outside)


def rounding_format(source: Any, target: Any) -> sa.Format:
    """The superaccumulator of ``source`` floats, rounding to ``target`` (float64 limbs to float32)."""
    fmt = sa.FORMATS[np.dtype(source)]
    if np.dtype(target) == fmt.dtype:
        return fmt
    wanted = sa.FORMATS[np.dtype(target)]
    out = sa.Format(target, wanted.mantissa, wanted.field_max.bit_length(), fmt.limbs)
    out.shift = fmt.shift  # units of the source's limbs, precision and range of the target
    return out


def fallback(rows: np.ndarray, fmt: sa.Format, target: Any = None) -> np.ndarray:
    """Correctly rounded exact sums of the columns of ``rows`` (n, m), any values, in ``target``."""
    out_fmt = fmt if target is None else rounding_format(fmt.dtype, target)
    count = rows.shape[1]
    acc = sa.new_accumulator(count, fmt)
    nan = np.zeros(count, bool)
    pos = np.zeros(count, bool)
    neg = np.zeros(count, bool)
    negative_zero = np.ones(count, bool)
    for row in rows:
        row = np.asarray(row, fmt.dtype)
        negative_zero &= (row == 0) & np.signbit(row)
        finite = np.isfinite(row)
        if not finite.all():
            nan |= np.isnan(row)
            pos |= row == np.inf
            neg |= row == -np.inf
            row = np.where(finite, row, 0).astype(fmt.dtype)
        sa.accumulate(acc, np.ascontiguousarray(row), fmt)
    out = sa.round_limbs(acc, out_fmt)
    out[negative_zero] = -0.0
    out[pos] = np.inf
    out[neg] = -np.inf
    out[nan | (pos & neg)] = np.nan
    return out


def sum_block(block: np.ndarray, target: Any = None) -> np.ndarray:
    """The correctly rounded exact column sums of ``block`` (n, m), in ``target`` (default its dtype)."""
    dtype = block.dtype
    target = np.dtype(dtype if target is None else target)
    if dtype == np.float32:
        total = plain_sum64(block)
        with np.errstate(over="ignore"):  # a sum beyond float32's range is inf: rounded right
            out = total.astype(target)
        if narrow_block(block):
            return out
        direct = narrow_span(list(block))
        if direct.all():
            return out
        where = np.flatnonzero(~direct)
        out[where] = _checked(block[:, where], target)
        return out
    if target != np.float32:  # float64 data: plain additions mostly round, take the pair path at once
        return _checked(block, target)
    total, inexact = checked_sum64(block)  # float64 partials of float32 data: mostly exact as they are
    where = np.flatnonzero(inexact)
    if 2 * where.size > inexact.size:  # mostly inexact: the pair path for all, no gathering
        return _checked(block, target)
    with np.errstate(over="ignore"):
        out = total.astype(target)  # where every addition was exact: one rounding of the exact sum
    if where.size:
        out[where] = _checked(block[:, where], target)
    return out


def checked_sum64(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(total, inexact)``: the float64 running sum, and where some addition rounded (or was not
    finite). An addition ``s = a + b`` is exact iff ``s - a == b and s - b == a`` (with the larger
    operand first, ``s - a`` is Dekker's Fast2Sum and computed exactly): 5 operations per row,
    against ``pair_sum``'s 12, for the common columns that need no pair."""
    total = block[0].astype(np.float64)
    inexact = np.zeros(block.shape[1], bool)
    s = np.empty_like(total)
    d = np.empty_like(total)
    flag = np.empty(block.shape[1], bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in block[1:]:
            np.add(total, row, out=s)
            np.subtract(s, total, out=d)
            np.not_equal(d, row, out=flag)
            inexact |= flag
            np.subtract(s, row, out=d)
            np.not_equal(d, total, out=flag)
            inexact |= flag
            total, s = s, total
        inexact |= ~np.isfinite(total)
    return total, inexact


def _checked(block: np.ndarray, target: np.dtype) -> np.ndarray:
    hi, lo, ok = pair_sum(block)
    out, bad = round_pair(hi, lo, target)
    bad |= ~ok
    where = np.flatnonzero(bad)
    if where.size:
        fmt = sa.FORMATS[block.dtype]
        out[where] = fallback(block[:, where], fmt, target)
    return out


def partial_block(block: np.ndarray, hi: np.ndarray, lo: np.ndarray, ok: np.ndarray) -> None:
    """``pair_sum`` into ``hi``, ``lo``, ``ok``, through the narrow float32 path first (lo is -0.0 there)."""
    if block.dtype == np.float32 and narrow_block(block):
        np.copyto(hi, block[0])
        with np.errstate(invalid="ignore", over="ignore"):
            for row in block[1:]:
                np.add(hi, row, out=hi)
        lo.fill(-0.0)
        ok.fill(True)
        return
    hi[...], lo[...], ok[...] = pair_sum(block)
