"""Which rows of a global batch a shard (an MPI rank, a data-pipeline shard) holds.

The one notion of "this rank's rows", shared by ``minicell.communication`` (data-parallel
training) and ``minicell.dataset`` (sharded pipelines), so both always agree.

A global batch of ``rows`` rows is cut into units of ``unit`` rows (micro-batches; the last may
be shorter): ``K = ceil(rows / unit)`` units. Shard ``r`` of ``W`` takes the contiguous units
``[floor(r K / W), floor((r + 1) K / W))``, i.e. rows ``[lo * unit, min(hi * unit, rows))``.
Every row belongs to exactly one shard, shards are contiguous and in rank order (so their
concatenation is the global batch), unit counts differ by at most one, and a shard may be empty
when there are more shards than units (a short last batch of an epoch).
"""
from __future__ import annotations

from minicell._checks import check_int


def shard_bounds(rows: int, num_shards: int, shard_id: int, unit: int = 1) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a ``rows``-row global batch that shard ``shard_id`` of ``num_shards`` holds.

    Args:
        rows: rows in the global batch, >= 0.
        num_shards: number of shards W, >= 1.
        shard_id: this shard, in [0, W).
        unit: rows per indivisible unit (the micro-batch size), >= 1.
    """
    rows = check_int("shard_bounds", "rows", rows, 0)
    num_shards = check_int("shard_bounds", "num_shards", num_shards, 1)
    shard_id = check_int("shard_bounds", "shard_id", shard_id, 0, num_shards)
    unit = check_int("shard_bounds", "unit", unit, 1)
    units = -(-rows // unit)
    lo = shard_id * units // num_shards
    hi = (shard_id + 1) * units // num_shards
    return min(lo * unit, rows), min(hi * unit, rows)


def unit_bounds(lo: int, hi: int, unit: int) -> list[tuple[int, int]]:
    """The units (micro-batches) inside rows ``[lo, hi)``, as ``(start, stop)`` pairs.

    ``lo`` must be a multiple of ``unit`` (as every ``shard_bounds`` result is).
    """
    return [(a, min(a + unit, hi)) for a in range(lo, hi, unit)]
