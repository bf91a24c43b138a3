"""Embedding lookup as arrays: ``out[...] = table[ids[...]]``.

Backward: ``dtable[v] = sum over positions p with ids[p] == v of g[p]`` (``np.add.at``, which
accumulates repeated ids), and the ``padding_idx`` row receives no gradient. Inside a one-pass
micro-batched step (``minicell._runtime.segments``) the table's gradient comes per segment.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._runtime import segments

Backward = Callable[[np.ndarray], tuple[Any, ...]]


def embedding(ids: np.ndarray, table: np.ndarray, padding_idx: int | None) -> tuple[np.ndarray, Backward]:
    """``(table[ids], backward)``; ``ids`` are in range (the caller checked); ``backward(g)``
    returns ``(None, dtable)``."""
    plan = segments.rows_plan(ids)
    if plan is not None:
        def call(i: int) -> tuple[Any, ...]:
            lo, hi = plan.bounds[i]
            return embedding(ids[lo:hi], table, padding_idx)
        return segments.per_segment(plan, call, (False, False))
    out = table[ids]

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dtable = np.zeros_like(table, dtype=g.dtype)
        np.add.at(dtable, ids.reshape(-1), g.reshape(-1, table.shape[1]))
        if padding_idx is not None:
            dtable[padding_idx] = 0
        return None, dtable
    return out, backward
