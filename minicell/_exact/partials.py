"""The wire format of a rank's exact partial sums, and the owner's exact sum of everybody's.

Each rank first sums its own rows exactly (``columns.partial_block``: float64 pairs ``hi + lo``),
so what leaves it no longer grows with its number of rows (micro-batches). The columns of each
destination's slice are cut into chunks of ``CHUNK``; each chunk travels in the cheapest exact
form that a cheap check proves enough (its *code*, exchanged beforehand with the byte counts):

====  ====================================================  =========================
code  when (for every column of the chunk)                  bytes per column
====  ====================================================  =========================
0     ``lo == 0`` and ``float32(hi) == hi``, or one row     4 (float32)
1     ``lo == 0`` (finite)                                  8 (float64)
3     a float64 pair ``hi + lo`` is exact (his, then los)   16
2     otherwise: a tier per column, as below                2 bits + the tier's bytes
====  ====================================================  =========================

Per-column tiers of a code-2 chunk: 0 float32, 1 float64, 2 a float64 pair (16 bytes), 3 the raw
values of the column (rows x itemsize: inf, NaN, or errors spanning more than 53 bits). The
chunk is ``packbits(tier & 1)``, ``packbits(tier >> 1)``, the tier-0 float32s, the tier-1 float64s,
the tier-2 his then los, then the tier-3 columns' raw values column after column.

One micro-batch of float32 gradients per rank is code 0 and needs no copy at all (the bytes of
a ring allreduce); several usually need code 1 (an exact sum of float32s has a few more bits).
The owner of a slice sums every source's chunk exactly (``columns.sum_block``; float32 when every
source sent code 0) and the columns with raw values in the integer fallback, then rounds once:
the result is that of summing all the raw rows in one place.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

import minicell._exact.columns as _columns
import minicell._exact.superaccumulator as sa
from minicell._checks import Shown, fail
from minicell._exact.rows import CHUNK, WeightedRows, exact_sum_rows
from minicell._runtime.parallel import run_parallel


def chunks(bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The chunks of every destination's slice, in rank order: ``(start, stop)`` columns."""
    return [(a, min(a + CHUNK, hi)) for lo, hi in bounds for a in range(lo, hi, CHUNK)]


def _tiers(hi: np.ndarray, lo: np.ndarray, ok: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        single = hi.astype(np.float32).astype(np.float64) == hi
    out = np.where(lo != 0, np.uint8(2), np.where(single, np.uint8(0), np.uint8(1)))
    out[~ok] = 3
    return cast(np.ndarray, out)


def _encode_columns(block: np.ndarray, hi: np.ndarray, lo: np.ndarray, ok: np.ndarray) -> np.ndarray:
    tier = _tiers(hi, lo, ok)
    parts = [np.packbits(tier & 1), np.packbits(tier >> 1), hi[tier == 0].astype(np.float32), hi[tier == 1],
             hi[tier == 2], lo[tier == 2], np.ascontiguousarray(block[:, tier == 3].T)]
    return np.concatenate([np.ascontiguousarray(p).reshape(-1).view(np.uint8) for p in parts])


def encode_chunk(block: np.ndarray, hi: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """``(code, bytes)`` of the exact column sums of ``block`` (n >= 1 rows). ``hi``: where to put
    the float64 sums (a view of a whole-width array, so that code-1 chunks need no copy)."""
    m = block.shape[1]
    hi = np.empty(m) if hi is None else hi
    lo, ok = np.empty(m), np.empty(m, bool)
    _columns.partial_block(block, hi, lo, ok)
    if ok.all():
        if lo.any():
            return 3, np.concatenate([hi, lo]).view(np.uint8)
        with np.errstate(over="ignore", invalid="ignore"):
            if (hi[:64].astype(np.float32) == hi[:64]).all():  # cheap rejection first: sums rarely fit
                single = hi.astype(np.float32)
                if (single == hi).all():
                    return 0, single.view(np.uint8)
        return 1, hi.view(np.uint8)
    return 2, _encode_columns(block, hi, lo, ok)


def encode(rows: Any, count: int, width: int, dtype: np.dtype,
           bounds: Sequence[tuple[int, int]]) -> tuple[np.ndarray, list[int], np.ndarray]:
    """``(send buffer, bytes per destination, code per chunk)`` of this rank's ``count`` rows.

    ``rows``: a ``WeightedRows``, or a list of 1-D arrays (may be empty: all -0.0, code 0). When
    every chunk is float64 (code 1, the usual case for several micro-batches), the send buffer is
    the whole-width float64 sums themselves, written in place."""
    cuts = chunks(bounds)
    codes = np.zeros(len(cuts), np.int64)
    widths = [hi - lo for lo, hi in bounds]
    single = _single_row(rows, count, dtype, bounds)
    if single is not None:  # one float32 row is its own exact partial (inf and NaN too: the owner
        return single.view(np.uint8), [4 * w for w in widths], codes  # sums float32 values exactly)
    if count == 0:
        return np.full(width, -0.0, np.float32).view(np.uint8), [4 * w for w in widths], codes
    block_of = _block_source(rows)
    encoded: list[np.ndarray] = [np.empty(0, np.uint8)] * len(cuts)
    starts = [a for a, _ in cuts]
    sums = np.empty(width)

    def body(lo: int, hi: int) -> None:
        for k in range(int(np.searchsorted(starts, lo)), int(np.searchsorted(starts, hi))):
            a, b = cuts[k]
            codes[k], encoded[k] = encode_chunk(block_of(a, b), sums[a:b])

    run_parallel(width, body, align=CHUNK)
    if (codes == 1).all():
        return sums.view(np.uint8), [8 * w for w in widths], codes
    sizes = [0] * len(bounds)
    for k, (a, _) in enumerate(cuts):
        sizes[next(s for s, (lo, hi) in enumerate(bounds) if lo <= a < hi)] += encoded[k].size
    return np.concatenate(encoded) if encoded else np.empty(0, np.uint8), sizes, codes


def _single_row(rows: Any, count: int, dtype: np.dtype, bounds: Sequence[tuple[int, int]]) -> np.ndarray | None:
    """The one float32 row of a rank that holds one (made whole for ``WeightedRows``), else None."""
    if count != 1 or dtype != np.float32:
        return None
    if isinstance(rows, WeightedRows):
        return rows.send_buffer(bounds)  # one row: its slices in rank order are the row itself
    return np.ascontiguousarray(rows[0])


def _block_source(rows: Any) -> Callable[[int, int], np.ndarray]:
    if isinstance(rows, WeightedRows):
        return rows.chunk
    listed = list(rows)
    return lambda a, b: np.stack([r[a:b] for r in listed])


def _decode_columns(data: np.ndarray, m: int, count: int, dtype: Any) -> tuple[np.ndarray, np.ndarray,
                                                                              np.ndarray, np.ndarray]:
    """``(hi, lo, raw_columns, raw)`` of a code-2 chunk of ``m`` columns from a rank of ``count`` rows."""
    nbytes = (m + 7) // 8
    tier = np.unpackbits(data[:nbytes], count=m) | (np.unpackbits(data[nbytes:2 * nbytes], count=m) << 1)
    position = 2 * nbytes

    def take(n: int, kind: Any) -> np.ndarray:
        nonlocal position
        size = n * np.dtype(kind).itemsize
        out = data[position:position + size].view(kind)
        position += size
        return cast(np.ndarray, out)

    hi, lo = np.full(m, -0.0), np.full(m, -0.0)
    hi[tier == 0] = take(int(np.count_nonzero(tier == 0)), np.float32)
    hi[tier == 1] = take(int(np.count_nonzero(tier == 1)), np.float64)
    pairs = int(np.count_nonzero(tier == 2))
    hi[tier == 2] = take(pairs, np.float64)
    lo[tier == 2] = take(pairs, np.float64)
    raw_columns = np.flatnonzero(tier == 3)
    raw = take(raw_columns.size * count, dtype).reshape(raw_columns.size, count).T
    if position != data.size:
        raise fail(ValueError, "reproducible_sum", "partial", f"a partial sum that holds {m} columns exactly",
                   Shown(f"{data.size} bytes, read up to byte {position}"))
    return hi, lo, raw_columns, raw


def sum_chunk(pieces: Sequence[tuple[int, np.ndarray]], m: int, counts: Sequence[int], target: Any) -> np.ndarray:
    """The correctly rounded exact sum of every source's ``(code, bytes)`` for ``m`` columns."""
    if all(code == 0 for code, _ in pieces):
        return _columns.sum_block(np.stack([data.view(np.float32) for _, data in pieces]), target)
    his: list[np.ndarray] = []
    los: list[np.ndarray] = []
    raws: list[tuple[np.ndarray, np.ndarray]] = []
    for (code, data), count in zip(pieces, counts):
        if code < 2:
            his.append(data.view(np.float32 if code == 0 else np.float64))
            continue
        if code == 3:
            pair = data.view(np.float64)
            his.append(pair[:m])
            los.append(pair[m:])
            continue
        hi, lo, columns, raw = _decode_columns(data, m, count, target)
        his.append(hi)
        if lo.any():
            los.append(lo)
        if columns.size:
            raws.append((columns, raw))
    stacked = np.stack([np.asarray(h, np.float64) for h in his] + los)
    out = _columns.sum_block(stacked, target)
    if raws:
        where = np.unique(np.concatenate([columns for columns, _ in raws]))
        extra = sum(raw.shape[0] for _, raw in raws)
        block = np.full((stacked.shape[0] + extra, where.size), -0.0)
        block[:stacked.shape[0]] = stacked[:, where]  # -0.0 (the identity) in the raw columns' hi, lo
        row = stacked.shape[0]
        for columns, raw in raws:
            block[row:row + raw.shape[0], np.searchsorted(where, columns)] = raw
            row += raw.shape[0]
        out[where] = _columns.fallback(block, sa.FORMATS[np.dtype(np.float64)], target)
    return out


def owner_sum(received: np.ndarray, table: np.ndarray, rank: int, bounds: Sequence[tuple[int, int]],
              counts: Sequence[int], target: Any) -> np.ndarray:
    """This rank's slice, summed from ``received`` (every source's bytes for it, in rank order);
    ``table[source]`` is that source's bytes per destination then its code per chunk."""
    size = len(bounds)
    cuts = chunks(bounds)
    mine = [k for k, (a, _) in enumerate(cuts) if bounds[rank][0] <= a < bounds[rank][1]]
    first = bounds[rank][0]
    width = bounds[rank][1] - first
    mine_codes = table[:, [size + k for k in mine]]
    if not mine_codes.any():  # float32 values from everybody: summed where they arrived
        return exact_sum_rows(received.view(np.float32).reshape(size, width), target)
    if (mine_codes == 1).all():  # float64 values from everybody: the same
        return exact_sum_rows(received.view(np.float64).reshape(size, width), target)
    out = np.empty(bounds[rank][1] - first, target)
    # where each source's piece of each of my chunks starts in ``received``
    starts = np.concatenate([[0], np.cumsum(table[:, rank])])
    sources = []
    for s in range(size):
        position, pieces = int(starts[s]), []
        for k in mine:
            a, b = cuts[k]
            code = int(table[s, size + k])
            length = _chunk_bytes(code, b - a, received, position, counts[s], np.dtype(target).itemsize)
            pieces.append((code, received[position:position + length]))
            position += length
        sources.append(pieces)

    def body(lo: int, hi: int) -> None:
        for j, k in enumerate(mine):
            a, b = cuts[k]
            if lo <= a - first < hi:
                out[a - first:b - first] = sum_chunk([sources[s][j] for s in range(size)], b - a, counts, target)

    run_parallel(out.size, body, align=CHUNK)
    return out


def _chunk_bytes(code: int, m: int, received: np.ndarray, position: int, count: int, itemsize: int) -> int:
    """The length of a chunk's bytes: fixed for codes 0 and 1, counted from the tiers for code 2."""
    if code != 2:
        return m * {0: 4, 1: 8, 3: 16}[code]
    nbytes = (m + 7) // 8
    low = np.unpackbits(received[position:position + nbytes], count=m)
    high = np.unpackbits(received[position + nbytes:position + 2 * nbytes], count=m)
    per_tier = np.bincount(low | (high << 1), minlength=4)
    return int(2 * nbytes + 4 * per_tier[0] + 8 * per_tier[1] + 16 * per_tier[2] + per_tier[3] * count * itemsize)
