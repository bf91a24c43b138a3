"""The exact sum of squares of many arrays, mergeable across ranks: the global norm of clipping.

``square_limbs(arrays)`` holds ``sum x**2`` over every element of every array *exactly*, as the
limbs of a float64 superaccumulator (``superaccumulator``; integer addition, so the limbs of a
whole are the sum of the limbs of its parts, in any grouping). ``round_square_limbs`` rounds
that once to float64. So the norm of all gradients computed in one place, and the norm of
their slices computed on W ranks and merged (``global_square_sum``: one Allgather of 67 int64 per
rank), are the same correctly rounded float64, bit for bit.

Squares: a float32 (or float16) ``x`` squared in float64 is exact (at most 48 significant bits).
Those squares are summed by exponent bins (``_Bins``): ``x*x = m * 2**(e - 53)`` with the
integer ``m < 2**53`` split as ``m = h * 2**26 + l`` (``h < 2**27``, ``l < 2**26``), and
``np.bincount`` adds the ``h`` and the ``l`` of each exponent ``e`` in float64, exactly (integers
below ``2**53`` while a bin holds at most ``2**26`` values); the few hundred bin sums, scaled by
their powers of two (exact), go into the limbs. A float64 ``x`` is squared as Dekker's exact
product ``x*x = p + e`` (Veltkamp's split, Dekker 1971), exact unless ``x*x`` leaves float64's
normal range (above 2**1023 the sum is inf; below 2**-1022 ``e`` may round); those are summed by
exact extraction levels (``_add_levels``), each level's exact float64 sum going into the limbs.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import minicell._exact.superaccumulator as sa

COLUMNS = 1 << 12  # values per limb block when extraction cannot be used
BIN_CHUNK = 1 << 15  # squares per pass of the binned sum (its temporaries stay in cache)
BIN_VALUES = 1 << 26  # squares per flush of the bins: a bin's sum of 27-bit integers stays below 2**53
_F64 = sa.FORMATS[np.dtype(np.float64)]
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def _squares(a: np.ndarray) -> list[np.ndarray]:
    x = np.asarray(a).reshape(-1)
    if x.dtype != np.float64:
        x64 = x.astype(np.float64)
        return [x64 * x64]
    with np.errstate(over="ignore", invalid="ignore"):
        p = x * x
        c = _SPLIT * x
        high = c - (c - x)
        low = x - high
        e = ((high * high - p) + 2 * high * low) + low * low
    e[~np.isfinite(p)] = 0.0
    return [p, e]


def _add_levels(acc: np.ndarray, values: np.ndarray, flags: np.ndarray) -> None:
    """Add every value of ``values`` (1-D float64, finite or inf/NaN) exactly into the limb row ``acc``.

    Rump, Ogita and Oishi's error-free extraction ("Accurate floating-point summation part I",
    SIAM J. Sci. Comput. 31, 2008, algorithm 3.2): with ``sigma = 2**(k + L)`` above ``n`` times
    the largest ``|v| < 2**k`` (``L = bit_length(n)``), ``q = (sigma + v) - sigma`` is ``v`` cut to a
    multiple of ``ulp(sigma)``, exactly, ``v - q`` is exact, and the float64 sum of the ``q`` is exact
    in any order (multiples of ``ulp(sigma)`` below ``sigma``). Each level takes ``53 - L`` bits
    off the remainders, which reach zero after a few levels; each level's exact sum goes into the limbs.
    """
    flags[0] |= bool(np.isnan(values).any())
    flags[1] |= bool(np.isposinf(values).any())
    v = np.where(np.isfinite(values), values, 0.0)
    spare = (v.size + 1).bit_length()
    while v.size:
        top = float(np.abs(v).max())
        if top == 0.0:
            return
        k = int(np.frexp(top)[1])  # top < 2**k
        if k + spare > 1023:  # sigma would overflow: these go into the limbs one by one
            for chunk in range(0, v.size, COLUMNS):
                part = np.ascontiguousarray(v[chunk:chunk + COLUMNS])
                limbs = sa.new_accumulator(part.size, _F64)
                sa.accumulate(limbs, part, _F64)
                acc += limbs.sum(axis=0)
                _normalize(acc)
            return
        sigma = np.ldexp(1.0, k + spare)
        q = (sigma + v) - sigma
        v = v - q
        sa.accumulate(acc[None], np.array([float(np.sum(q))]), _F64)
        _normalize(acc)


def _add_values(acc: np.ndarray, values: np.ndarray) -> None:
    """Add the finite float64 ``values`` (a few hundred) exactly into the limb row ``acc``."""
    values = values[values != 0]
    if values.size:
        limbs = sa.new_accumulator(values.size, _F64)
        sa.accumulate(limbs, values, _F64)
        acc += limbs.sum(axis=0)
        _normalize(acc)


class _Bins:
    """Exponent bins of float32 / float16 squares (see the module docstring): for each biased
    exponent ``b`` of the float64 square, the exact float64 sums of the high and the low 26-bit
    halves of the integer significands. Shared by every array of a call, flushed into the limbs
    once (or whenever 2**26 more values would make a bin sum inexact).

    The bits of a nonzero square ``s`` are read directly: biased exponent ``b`` (bits 52..62; never
    0, as float32 squares are normal float64s) and integer significand ``m = 2**52 | fraction``, so
    ``s = m * 2**(b - 1075)``. Zeros fall in bin 0 and are left out; inf and NaN in bin 2047."""

    def __init__(self) -> None:
        self.high, self.low, self.count = np.zeros(2048), np.zeros(2048), 0

    def add(self, acc: np.ndarray, x: np.ndarray, flags: np.ndarray) -> None:
        """Add ``sum x**2`` of the float32 or float16 ``x`` (1-D)."""
        for lo in range(0, x.size, BIN_CHUNK):
            part = x[lo:lo + BIN_CHUNK]
            if self.count + part.size > BIN_VALUES:
                self.flush(acc)
            self.count += part.size
            squares = part.astype(np.float64)
            np.multiply(squares, squares, out=squares)
            bits = squares.view(np.uint64)
            bits &= np.uint64((1 << 63) - 1)          # squares are >= 0, but x86's NaN keeps a sign bit
            fields = (bits >> np.uint64(52)).astype(np.intp)
            bits &= np.uint64((1 << 52) - 1)
            bits |= np.uint64(1 << 52)                # the significand m, an integer below 2**53
            self.high += np.bincount(fields, weights=(bits >> np.uint64(26)).astype(np.float64), minlength=2048)
            self.low += np.bincount(fields, weights=(bits & np.uint64((1 << 26) - 1)).astype(np.float64),
                                    minlength=2048)
            if self.high[2047]:  # an inf or a NaN among the squares
                flags[0] |= bool(np.isnan(part).any())
                flags[1] |= bool(np.isinf(part).any())
                self.high[2047] = self.low[2047] = 0.0

    def flush(self, acc: np.ndarray) -> None:
        """Add the bins exactly into the limb row ``acc`` and empty them."""
        units = np.arange(1, 2047) - 1075             # bins 1..2046: s = m * 2**(b - 1075)
        _add_values(acc, np.concatenate([np.ldexp(self.high[1:2047], units + 26),
                                         np.ldexp(self.low[1:2047], units)]))
        self.high[:], self.low[:], self.count = 0.0, 0.0, 0


def square_limbs(arrays: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(limbs, flags)``: the exact ``sum x**2`` as 67 int64 limbs, and ``[any NaN, any inf]``."""
    acc = sa.new_accumulator(1, _F64)[0]
    flags = np.zeros(2, bool)
    bins = _Bins()
    for a in arrays:
        x = np.asarray(getattr(a, "_data", a)).reshape(-1)
        if x.dtype.kind == "f" and x.dtype.itemsize <= 4:
            bins.add(acc, x, flags)
            continue
        for values in _squares(x):
            _add_levels(acc, values, flags)
    bins.flush(acc)
    return acc, flags


def _normalize(acc: np.ndarray) -> None:
    """Carries, so that the limbs can take 2**30 more additions (squares are >= 0: no sign).

    The limbs are digits of base ``2**32`` (limb ``k`` weighs ``2**(32 k)``): rewritten as the
    base-``2**32`` digits of their value, each in ``[0, 2**32)`` but the last, which keeps the
    rest. Done on one Python integer: 67 limbs cost microseconds, not a NumPy call per limb."""
    value = 0
    for limb in reversed(acc.tolist()):
        value = (value << 32) + limb
    digits = []
    for _ in range(acc.size - 1):
        digits.append(value & 0xFFFFFFFF)
        value >>= 32
    digits.append(value)
    acc[:] = digits


def round_square_limbs(limbs: np.ndarray, flags: np.ndarray) -> float:
    """The correctly rounded float64 of the exact sum (NaN, inf as flagged)."""
    if flags[0]:
        return float("nan")
    if flags[1]:
        return float("inf")
    return float(sa.round_limbs(limbs[None].copy(), _F64)[0])


def global_square_sum(arrays: Sequence[Any], world: Any) -> float:
    """``sum x**2`` over this rank's ``arrays`` and every other rank's, correctly rounded, on every rank."""
    limbs, flags = square_limbs(arrays)
    if world.size == 1:
        return round_square_limbs(limbs, flags)
    table = world.allgather_array(np.concatenate([limbs, flags.astype(np.int64)]))
    total = table[:, :-2].sum(axis=0)
    return round_square_limbs(total, table[:, -2:].any(axis=0))
