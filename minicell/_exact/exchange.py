"""Sums over the ranks of a world: validated inputs, local exact partials, owners, one rounding.

``reproducible_sum(contributions, world)`` and ``reproducible_weighted_sum(rows, world)`` return,
on every rank, the correctly rounded exact sum of all rows of all ranks ("owner computes", no
floating-point reduction inside MPI at all):

1. Each rank sums its own rows exactly (``columns.partial_block``, chunk by chunk), so what it
   sends no longer depends on how many rows (micro-batches) it holds; exact sums can be grouped
   freely. A rank holding one float32 row sends the row itself.
2. The columns are cut into ``W`` contiguous slices (``_sharding.shard_bounds``); one
   ``Alltoallv`` sends slice ``s`` of every rank's partial to rank ``s``, chunk by chunk in the
   cheapest exact form (``partials``: float32 where a cheap check proves it exact, else float64,
   else per column a float64 pair or rarely the raw values), after one small ``Allgather`` of
   the byte counts and the chunks' forms.
3. Rank ``s`` sums the partials of its slice exactly and rounds once (``partials.owner_sum``),
   and one ``Allgatherv`` hands the slices to everybody.

Off-rank bytes per rank: ``(W-1)/W`` of the encoded partial (4 or 8 bytes per float32 element,
16.25 at worst with pairs) plus ``(W-1)/W`` of the result: 1x to 1.5x a ring allreduce's
``2 * 4P (W-1)/W`` for float32 gradients, whatever the number of micro-batches.
``last_exchange`` keeps the byte counts of the latest exchange, for the benchmark.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

import minicell._exact.partials as _partials
import minicell._exact.superaccumulator as sa
from minicell._checks import Shown, fail_type, fail_value
from minicell._exact.rows import WeightedRows, exact_sum_rows
from minicell._runtime.sharding import shard_bounds

last_exchange: dict[str, int] = {"alltoallv_bytes_off_rank": 0, "allgatherv_bytes_off_rank": 0}


def check_contributions(who: str, contributions: Any, shape: Any,
                        dtype: Any) -> tuple[list[np.ndarray], tuple[Any, ...], np.dtype]:
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
        raise fail_type(who, "contributions", "float32 or float64 arrays", Shown(f"dtype {dtype}"))
    for i, a in enumerate(arrays):
        if a.shape != shape or a.dtype != dtype:
            raise fail_value(who, "contributions", f"arrays of one shape {list(shape)} and dtype {dtype}",
                             Shown(f"contributions[{i}] has shape {list(a.shape)} and dtype {a.dtype}"))
    return arrays, shape, dtype


def agree_on_counts(world: Any, count: int, size: int, dtype: np.dtype) -> list[int]:
    """Every rank's contribution count, after checking that all ranks sum the same shape and dtype."""
    table = world.allgather_array(np.array([count, size, dtype.itemsize], np.int64))
    if (table[:, 1:] != table[0, 1:]).any():
        raise fail_value("reproducible_sum", "contributions", "of the same size and dtype on every rank",
                         Shown(f"(size, itemsize) {[tuple(int(v) for v in r[1:]) for r in table]} by rank"))
    total = int(table[:, 0].sum())
    if total > sa.MAX_CONTRIBUTIONS:
        raise fail_value("reproducible_sum", "contributions", "at most 2**30 in all", total)
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
        return cast(np.ndarray, exact_sum_rows(flat).reshape(shape))
    counts = agree_on_counts(world, len(flat), size, dtype) if counts is None else list(counts)
    return cast(np.ndarray, _exchange(world, flat, len(flat), size, dtype, counts).reshape(shape))


def reproducible_weighted_sum(rows: WeightedRows, world: Any, counts: Sequence[int] | None = None) -> np.ndarray:
    """``reproducible_sum`` of the rows of ``rows`` (no validation: the caller made them); the
    weighted rows are made chunk by chunk and summed locally before anything is sent."""
    if world.size == 1:
        return exact_sum_rows(rows) if len(rows) else np.zeros(rows.width, rows.dtype)
    counts = agree_on_counts(world, len(rows), rows.width, rows.dtype) if counts is None else list(counts)
    return _exchange(world, rows, len(rows), rows.width, rows.dtype, counts)


def reproducible_weighted_slice(rows: WeightedRows, world: Any,
                                counts: Sequence[int] | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Steps 1-2 only (a reduce-scatter): ``(this rank's slice of the sum, every rank's bounds)``."""
    bounds = [shard_bounds(rows.width, world.size, s) for s in range(world.size)]
    if world.size == 1:
        return (exact_sum_rows(rows) if len(rows) else np.zeros(rows.width, rows.dtype)), bounds
    counts = agree_on_counts(world, len(rows), rows.width, rows.dtype) if counts is None else list(counts)
    return _exchange(world, rows, len(rows), rows.width, rows.dtype, counts, gather=False), bounds


def _exchange(world: Any, rows: Any, count: int, width: int, dtype: np.dtype, counts: list[int],
              gather: bool = True) -> np.ndarray:
    """Steps 1-3 of the module docstring (without 3's ``Allgatherv`` unless ``gather``)."""
    bounds = [shard_bounds(width, world.size, s) for s in range(world.size)]
    send, sizes, codes = _partials.encode(rows, count, width, dtype, bounds)
    table = world.allgather_array(np.concatenate([np.array(sizes, np.int64), codes]))
    received = world.alltoallv(send, sizes, [int(v) for v in table[:, world.rank]])
    part = _partials.owner_sum(received, table, world.rank, bounds, counts, dtype)
    last_exchange["alltoallv_bytes_off_rank"] = int(sum(sizes) - sizes[world.rank])
    if not gather:
        last_exchange["allgatherv_bytes_off_rank"] = 0
        return part
    last_exchange["allgatherv_bytes_off_rank"] = int(part.nbytes * (world.size - 1))
    return cast(np.ndarray, world.allgatherv(part, [b - a for a, b in bounds]))
