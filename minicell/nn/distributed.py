"""``DistributedGradReducer``: gradients summed over micro-batches and ranks, reproducibly.

MindSpore's ``nn.DistributedGradReducer(parameters, mean=True)``, on top of the exact sum of
``minicell._exact.exact_sum`` (``communication.reproducible_sum``): the reduced gradients are the
correctly rounded exact sums of the contributions, so they are bit-identical whatever the world
size and whichever rank computed which contribution. The gradients of all parameters of one
dtype travel in one flat array, so a step costs one exchange per dtype.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import minicell._exact.exact_sum as _exact_sum
import minicell._runtime.world as _world
from minicell._checks import fail_type
from minicell.cell import Cell
from minicell.tensor import Tensor


def _as_array(g: Any) -> np.ndarray:
    return g._data if isinstance(g, Tensor) else np.asarray(g)


def reduce_weighted(contributions: Sequence[Sequence[np.ndarray]], weights: Sequence[float],
                    shapes: Sequence[tuple], dtypes: Sequence[np.dtype], world: Any,
                    counts: Sequence[int] | None = None) -> list[np.ndarray]:
    """``sum_i weights[i] * contributions[i][j]`` over all ranks, for every position ``j``.

    Each product is rounded once in the array's dtype (a deterministic function of the
    contribution, whoever computes it); the sum is exact, then rounded once. ``counts``: every
    rank's number of contributions, when known.
    """
    out: list[np.ndarray] = [np.empty(0)] * len(shapes)
    for dtype in sorted(set(np.dtype(d) for d in dtypes), key=str):
        positions = [j for j, d in enumerate(dtypes) if np.dtype(d) == dtype]
        sizes = [int(np.prod(shapes[j], dtype=np.int64)) for j in positions]
        bounds = np.cumsum([0, *sizes])
        # the weighted pieces are made chunk by chunk (world of one) or written into the send buffer
        rows = _exact_sum.WeightedRows([[contribution[j] for j in positions] for contribution in contributions],
                                       weights, dtype, sizes)
        total = _exact_sum.reproducible_weighted_sum(rows, world, counts)
        for k, j in enumerate(positions):
            out[j] = total[bounds[k]:bounds[k + 1]].reshape(shapes[j])
    return out


class DistributedGradReducer(Cell):
    """Sum (or average) gradients over all contributions of all ranks, reproducibly.

    Args:
        parameters: the Parameters whose gradients are reduced (``optimizer.parameters``).
        mean: with no ``weights``, divide the sum by the number of contributions of all ranks
            (one per rank: MindSpore's mean over devices).

    Call ``reducer(grads, weights=None)``: ``grads`` is this rank's gradient tuple (one per
    parameter) or a list of such tuples (several micro-batches; may be empty); ``weights`` is an
    optional float per contribution, applied before summing (``rows / global rows`` gives the
    gradient of the global mean loss). Returns a tuple of Tensors, the same on every rank.
    """

    _shapes: list[tuple]
    _dtypes: list[np.dtype]

    def __init__(self, parameters: Iterable[Any], mean: bool = True) -> None:
        super().__init__()
        if isinstance(parameters, (Tensor, Cell)) or not hasattr(parameters, "__iter__"):
            raise fail_type("DistributedGradReducer", "parameters", "an iterable of Parameters", parameters)
        params = tuple(parameters)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or p.dtype.kind != "f":
                raise TypeError(f"For 'DistributedGradReducer', parameters[{i}] must be a float Parameter, "
                                f"but got {type(p).__name__}.")
        if not isinstance(mean, bool):
            raise fail_type("DistributedGradReducer", "mean", "a bool", mean)
        self.mean = mean
        object.__setattr__(self, "_shapes", [tuple(p.shape) for p in params])
        object.__setattr__(self, "_dtypes", [p.dtype for p in params])

    def _contributions(self, grads: Any) -> list[list[np.ndarray]]:
        single = isinstance(grads, tuple) and (not grads or not isinstance(grads[0], (tuple, list)))
        items = [grads] if single else list(grads)
        out = []
        for i, item in enumerate(items):
            arrays = [_as_array(g) for g in item]
            if len(arrays) != len(self._shapes) or any(a.shape != s for a, s in zip(arrays, self._shapes)):
                raise ValueError(f"For 'DistributedGradReducer', contribution {i} must hold one gradient per "
                                 f"parameter with shapes {[list(s) for s in self._shapes]}, but got "
                                 f"{[list(a.shape) for a in arrays]}.")
            out.append(arrays)
        return out

    def construct(self, grads: Any, weights: Sequence[float] | None = None) -> tuple[Tensor, ...]:
        contributions = self._contributions(grads)
        weighted = weights is not None
        if weights is None:
            weights = [1.0] * len(contributions)
        elif len(weights) != len(contributions):
            raise ValueError(f"For 'DistributedGradReducer', 'weights' must hold one float per contribution "
                             f"({len(contributions)}), but got {len(weights)}.")
        world = _world.current()
        sums = reduce_weighted(contributions, [float(w) for w in weights], self._shapes, self._dtypes, world)
        if self.mean and not weighted:
            total = int(world.allgather_array(np.array([len(contributions)], np.int64)).sum())
            sums = [s / s.dtype.type(max(total, 1)) for s in sums]
        return tuple(Tensor(s) for s in sums)
