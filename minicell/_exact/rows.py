"""Rows to sum, made chunk by chunk (``WeightedRows``), and the threaded column loops over them.

``exact_sum_rows(rows)`` is the correctly rounded exact column sum (a world of one). The columns
are cut into chunks of ``CHUNK`` on minicell's thread pool: each column's sum depends on that
column alone, so the result is the same for any thread count. (What a rank sends to the others,
its exact partial sums chunk by chunk, is ``minicell._exact.partials``.)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import minicell._exact.columns as _columns
from minicell._runtime.parallel import run_parallel, scratch

CHUNK = 1 << 16  # elements per pass of the local sum: float64 temporaries stay in L2


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
        if lo == 0 and hi == self.width and len(self.sources[i]) > 1:  # a whole small row: two calls
            np.concatenate(self.sources[i], out=out)
            np.multiply(out, self.weights[i], out=out)
            return out
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
        """Slice ``bounds[0]`` of every row, then slice ``bounds[1]`` of every row, ...: the raw
        rows in rank order of their owners, written on the thread pool (reused from call to call)."""
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


def _blocks(rows: np.ndarray | Sequence[np.ndarray] | WeightedRows) -> tuple[np.dtype, int, Callable[..., Any]]:
    """``(dtype, width, block_of(lo, hi))`` of any accepted form of rows."""
    if isinstance(rows, WeightedRows):
        return rows.dtype, rows.width, rows.chunk
    if isinstance(rows, np.ndarray):
        stacked = rows
        return rows.dtype, rows.shape[1], lambda a, b: stacked[:, a:b]
    listed = list(rows)
    return listed[0].dtype, listed[0].shape[0], lambda a, b: np.stack([r[a:b] for r in listed])


def exact_sum_rows(rows: np.ndarray | Sequence[np.ndarray] | WeightedRows, target: Any = None) -> np.ndarray:
    """The correctly rounded exact sum over axis 0 of ``rows`` (n >= 1, m), float32 or float64.

    ``rows`` may also be a sequence of n same-length 1-D arrays (no (n, m) copy is made), or
    ``WeightedRows`` (n >= 1), made chunk by chunk. ``target``: the result's dtype (default the
    rows' dtype; float64 rows may round to float32).
    """
    dtype, width, block_of = _blocks(rows)
    out = np.empty(width, dtype if target is None else target)

    def body(lo: int, hi: int) -> None:
        for a in range(lo, hi, CHUNK):
            b = min(a + CHUNK, hi)
            out[a:b] = _columns.sum_block(block_of(a, b), out.dtype)

    run_parallel(width, body, align=CHUNK)
    return out
