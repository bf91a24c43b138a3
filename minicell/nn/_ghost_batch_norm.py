"""The step's one update of BatchNorm's moving statistics in micro-batched training.

In a micro-batched step each training BatchNorm call normalizes every micro-batch by its own
statistics (ghost batch normalization, Hoffer et al. 2017) and reports them
(``ops._normalization.GhostStats``: per segment, the mean and the unbiased variance per
channel). After the backward, ``update_moving_statistics`` updates each call's running
statistics once, from their mean over ALL micro-batches of the global batch, every rank's:

    mean = (exact sum over micro-batches k of mean_k) / K,  var = (exact sum of var_k) / K
    moving = momentum * moving + (1 - momentum) * mean   (MindSpore's momentum, 0.9 by default)

The sums are the exact sums of ``nn.distributed.reduce_weighted`` (correctly rounded once), so
the result is the same at every world size and whichever rank held which micro-batch. With one
micro-batch per global batch (K = 1) this is exactly the plain BatchNorm update.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell.nn.distributed import reduce_weighted
from minicell.ops._normalization import GhostStats


def _agreed_records(records: list[GhostStats], world: Any, untrainable: list, counts: list[int]) -> list[GhostStats]:
    """Every rank's records; a rank without rows (it ran no forward) learns them from the others:
    (index of the running mean, of the running variance, momentum) per call, gathered."""
    if 0 not in counts:
        return records
    index = {id(p): i for i, p in enumerate(untrainable)}
    size = int(world.allgather_array(np.array([len(records)], np.int64)).max())
    table = np.full((size, 3), -1.0)
    for k, r in enumerate(records):
        table[k] = (index[id(r.running_mean)], index[id(r.running_var)], r.momentum)
    source = world.allgather_array(table.reshape(-1)).reshape(len(counts), size, 3)[counts.index(max(counts))]
    if records:
        return records
    empty = np.zeros((0, 0))
    return [GhostStats(untrainable[int(m)], untrainable[int(v)], float(momentum),
                       empty.reshape(0, untrainable[int(m)].shape[0]), empty.reshape(0, untrainable[int(v)].shape[0]))
            for m, v, momentum in source]


def update_moving_statistics(records: list[GhostStats], world: Any, untrainable: list, counts: list[int],
                             segments_per_rank: list[int]) -> None:
    """Update each reporting BatchNorm call's running statistics once (see the module docstring)."""
    records = _agreed_records(records, world, untrainable, counts)
    if not records:
        return
    total = sum(segments_per_rank)
    local = segments_per_rank[world.rank] if world.size > 1 else total
    arrays = [a for r in records for a in (r.means, r.variances)]
    contributions = [[a[i] for a in arrays] for i in range(local)]
    shapes = [a.shape[1:] for a in arrays]
    dtypes = [r.running_mean.dtype for r in records for _ in range(2)]
    sums = reduce_weighted(contributions, [1.0] * local, shapes, dtypes, world, segments_per_rank)
    for k, r in enumerate(records):
        mean = sums[2 * k] / sums[2 * k].dtype.type(total)
        var = sums[2 * k + 1] / sums[2 * k + 1].dtype.type(total)
        rm, rv = r.running_mean._data, r.running_var._data
        rm[...] = (1 - r.momentum) * rm + r.momentum * mean
        rv[...] = (1 - r.momentum) * rv + r.momentum * var
