"""The wire format of a rank's exact partial sums, and the owner's exact sum of everybody's.

Each rank first sums its own rows exactly (``rows.exact_partials``: float64 pairs ``hi + lo``),
so what leaves it no longer grows with its number of rows (micro-batches): per column, the
cheapest exact form, chosen by a cheap check (the tier, two bits per column):

====  ===============================================  ======================
tier  when                                             bytes per column
====  ===============================================  ======================
0     ``lo == 0`` and ``float32(hi) == hi``            4 (float32)
1     ``lo == 0``                                      8 (float64)
2     ``lo != 0`` (a float64 pair, exact)              16
3     no exact pair (inf, NaN, adversarial spans)      ``rows * itemsize`` (the raw values)
====  ===============================================  ======================

One micro-batch of float32 gradients per rank is tier 0 (the ring allreduce's bytes); several
usually need float64 (tier 1): an exact sum of float32s has a few more significant bits.

A slice is ``packbits(tier & 1)``, ``packbits(tier >> 1)``, then the tier-0 float32s, the tier-1
float64s, the tier-2 his then los, and the tier-3 columns' raw values column after column (all
in column order). The owner of a slice sums every source's ``hi`` and ``lo`` rows exactly
(``columns.sum_block``: float64 pairs, checked) and the columns with raw values in the integer
fallback, then rounds once: the result is the same as summing all the raw rows in one place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import minicell._exact.columns as _columns
import minicell._exact.superaccumulator as sa
from minicell._exact.rows import Partials, exact_sum_rows


def tiers(partials: Partials, lo: int, hi: int) -> np.ndarray:
    """The tier (0..3) of columns ``[lo, hi)``."""
    h, low, ok = partials.hi[lo:hi], partials.lo[lo:hi], partials.ok[lo:hi]
    with np.errstate(over="ignore", invalid="ignore"):
        single = h.astype(np.float32).astype(np.float64) == h
    out = np.where(low != 0, np.uint8(2), np.where(single, np.uint8(0), np.uint8(1)))
    out[~ok] = 3
    return out


def encode(partials: Partials, lo: int, hi: int, raw_start: int) -> np.ndarray:
    """Columns ``[lo, hi)`` as bytes (uint8); ``raw_start``: index in ``partials.raw`` of the first
    tier-3 column at or after ``lo``."""
    tier = tiers(partials, lo, hi)
    h, low = partials.hi[lo:hi], partials.lo[lo:hi]
    if tier.size and tier.min() == tier.max() and tier[0] < 2:  # the usual case: one tier, no masks
        bits = [np.packbits(tier & 1), np.packbits(tier >> 1)]
        values = h.astype(np.float32) if tier[0] == 0 else h
        return np.concatenate([*bits, values.view(np.uint8)])
    nraw = int(np.count_nonzero(tier == 3))
    raw = partials.raw[:, raw_start:raw_start + nraw]
    parts = [np.packbits(tier & 1), np.packbits(tier >> 1),
             h[tier == 0].astype(np.float32), h[tier == 1], h[tier == 2], low[tier == 2],
             np.ascontiguousarray(raw.T)]
    return np.concatenate([np.ascontiguousarray(p).reshape(-1).view(np.uint8) for p in parts])


def decode(data: np.ndarray, width: int, count: int, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                             np.ndarray]:
    """``(hi, lo, raw_columns, raw)`` of one slice of ``width`` columns from a rank of ``count`` rows."""
    nbytes = (width + 7) // 8
    tier = (np.unpackbits(data[:nbytes], count=width) | (np.unpackbits(data[nbytes:2 * nbytes], count=width) << 1))
    position = 2 * nbytes

    def take(n: int, kind: Any) -> np.ndarray:
        nonlocal position
        size = n * np.dtype(kind).itemsize
        out = data[position:position + size].view(kind)
        position += size
        return out

    lo = np.full(width, -0.0)
    if tier.size and tier.min() == tier.max() and tier[0] < 2:  # one tier: the values in order
        hi = take(width, np.float32 if tier[0] == 0 else np.float64).astype(np.float64)
        if position != data.size:
            raise ValueError(f"a partial sum of {data.size} bytes does not hold {width} columns")
        return hi, lo, np.empty(0, np.int64), np.empty((count, 0), dtype)
    hi = np.full(width, -0.0)
    hi[tier == 0] = take(int(np.count_nonzero(tier == 0)), np.float32)
    hi[tier == 1] = take(int(np.count_nonzero(tier == 1)), np.float64)
    pairs = int(np.count_nonzero(tier == 2))
    hi[tier == 2] = take(pairs, np.float64)
    lo[tier == 2] = take(pairs, np.float64)
    raw_columns = np.flatnonzero(tier == 3)
    raw = take(raw_columns.size * count, dtype).reshape(raw_columns.size, count).T
    if position != data.size:
        raise ValueError(f"a partial sum of {data.size} bytes does not hold {width} columns")
    return hi, lo, raw_columns, raw


def owner_sum(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], width: int,
              target: Any) -> np.ndarray:
    """The correctly rounded exact sum of every source's decoded slice, in ``target``."""
    rows = [hi for hi, _, _, _ in pieces] + [lo for _, lo, _, _ in pieces if (lo != 0).any()]
    stacked = np.stack(rows) if rows else np.full((1, width), -0.0)
    raw_any = np.zeros(width, bool)
    for _, _, columns, _ in pieces:
        raw_any[columns] = True
    out = exact_sum_rows(stacked, target) if width else np.empty(0, target)
    where = np.flatnonzero(raw_any)
    if where.size:
        extra = sum(raw.shape[0] for _, _, _, raw in pieces)
        block = np.full((stacked.shape[0] + extra, where.size), -0.0)
        block[:stacked.shape[0]] = stacked[:, where]
        row = stacked.shape[0]
        for _, _, columns, raw in pieces:
            inside = np.searchsorted(where, columns)
            block[row:row + raw.shape[0], inside] = raw
            row += raw.shape[0]
        # the raw columns carry -0.0 (the identity) in hi and lo: only the raw values count
        out[where] = _columns.fallback(block, sa.FORMATS[np.dtype(np.float64)], target)
    return out
