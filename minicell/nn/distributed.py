"""``DistributedGradReducer``: gradients summed over micro-batches and ranks, reproducibly.

MindSpore's ``nn.DistributedGradReducer(parameters, mean=True)``, on top of the exact sum of
``minicell._exact.exact_sum`` (``communication.reproducible_sum``): the reduced gradients are the
correctly rounded exact sums of the contributions, so they are bit-identical whatever the world
size and whichever rank computed which contribution. The gradients of all parameters of one
dtype travel in one flat array, so a step costs one exchange per dtype; each rank sums its own
contributions (micro-batches, segments) exactly first, so what it sends does not grow with them
(``reduce_weighted``, the interface the training cells use).

``step_header`` is a training step's first collective: step number, parameter count and layout
travel with the row counts, so ranks out of step or with different models fail clearly, and
on the first step the parameters' digests are compared (``check_same_parameters``).
"""
from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import minicell._exact.exact_sum as _exact_sum
import minicell._runtime.world as _world
from minicell._checks import Shown, fail, fail_type, fail_value
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
        sizes = [math.prod(shapes[j]) for j in positions]
        bounds = np.cumsum([0, *sizes])
        # the weighted pieces are made chunk by chunk (world of one) or written into the send buffer
        rows = _exact_sum.WeightedRows([[contribution[j] for j in positions] for contribution in contributions],
                                       weights, dtype, sizes)
        total = _exact_sum.reproducible_weighted_sum(rows, world, counts)
        for k, j in enumerate(positions):
            out[j] = total[bounds[k]:bounds[k + 1]].reshape(shapes[j])
    return out


class SlicedSums:
    """This rank's slices of ``reduce_weighted``'s sums (a reduce-scatter: no final gather).

    Per dtype, in ``sorted(dtypes, key=str)`` order: the positions ``j`` of that dtype, their
    flat offsets, every rank's bounds in their concatenation, and this rank's values there.
    ``replicated[j]``: the whole sum of a position every rank asked for (the loss);
    ``nonfinite``: the positions whose sum has NaN or inf on some rank's slice.
    """

    def __init__(self) -> None:
        self.groups: list[tuple[list[int], list[int], list[tuple[int, int]], np.ndarray]] = []
        self.replicated: dict[int, np.ndarray] = {}
        self.nonfinite: list[int] = []

    def piece(self, j: int, rank: int) -> tuple[int, int, np.ndarray]:
        """``(a, b, values)``: this rank's elements ``[a, b)`` of position ``j``'s flat sum."""
        for positions, starts, bounds, part in self.groups:
            if j in positions:
                k = positions.index(j)
                lo, hi = bounds[rank]
                a, b = max(lo, starts[k]), min(hi, starts[k + 1])
                if a >= b:
                    return 0, 0, part[:0]
                return a - starts[k], b - starts[k], part[a - lo:b - lo]
        raise KeyError(j)


def reduce_weighted_sliced(contributions: Sequence[Sequence[np.ndarray]], weights: Sequence[float],
                           shapes: Sequence[tuple], dtypes: Sequence[np.dtype], world: Any,
                           counts: Sequence[int] | None = None, replicate: Sequence[int] = ()) -> SlicedSums:
    """``reduce_weighted`` without the final gather: each rank keeps its slice of every dtype's
    flat sum, and only the positions in ``replicate`` (small: the loss) reach every rank, with the
    non-finite flags, in one small Allgather."""
    out = SlicedSums()
    for dtype in sorted(set(np.dtype(d) for d in dtypes), key=str):
        positions = [j for j, d in enumerate(dtypes) if np.dtype(d) == dtype]
        sizes = [math.prod(shapes[j]) for j in positions]
        rows = _exact_sum.WeightedRows([[contribution[j] for j in positions] for contribution in contributions],
                                       weights, dtype, sizes)
        part, bounds = _exact_sum.reproducible_weighted_slice(rows, world, counts)
        out.groups.append((positions, [int(v) for v in np.cumsum([0, *sizes])], bounds, part))
    small = []
    for j in replicate:
        a, b, values = out.piece(j, world.rank)
        whole = np.zeros(int(np.prod(shapes[j], dtype=np.int64)))
        owned = np.zeros(whole.size)
        whole[a:b], owned[a:b] = values, 1.0
        small += [whole, owned]
    flags = [float(not np.isfinite(out.piece(j, world.rank)[2]).all()) for j in range(len(shapes))]
    table = world.allgather_array(np.concatenate([*small, np.array(flags)]))
    position = 0
    for j in replicate:
        n = int(np.prod(shapes[j], dtype=np.int64))
        values, owned = table[:, position:position + n], table[:, position + n:position + 2 * n]
        owner = owned.argmax(axis=0)  # every element has exactly one owner
        out.replicated[j] = values[owner, np.arange(n)].astype(dtypes[j]).reshape(shapes[j])
        position += 2 * n
    out.nonfinite = [j for j in range(len(shapes)) if table[:, position + j].any()]
    return out


_HEADER = ("rows", "step", "parameters", "elements", "layout")


def _layout_code(params: Sequence[Any]) -> int:
    """CRC-32 of every parameter's name, shape and dtype, in order."""
    text = ";".join(f"{p.name}:{list(p.shape)}:{p.dtype}" for p in params)
    return zlib.crc32(text.encode())


def step_header(world: Any, rows: int, params: Sequence[Any], step: int, first: bool) -> list[int]:
    """The first collective of a training step: every rank's row count, after checking that all
    ranks are at the same step with the same model (else the same clear RuntimeError on every
    rank, instead of a collective that mismatches: ``MPI_ERR_TRUNCATE`` or a hang). On this
    process's ``first`` step the parameters themselves are compared too (``check_same_parameters``).
    """
    _world.set_step(step)
    if world.size == 1:
        return [rows]
    mine = [rows, step, len(params), sum(int(p.size) for p in params), _layout_code(params)]
    table = world.allgather_array(np.array(mine, np.int64))
    odd = [r for r in range(world.size) if (table[r, 1:] != table[0, 1:]).any()]
    if odd:
        def describe(r: int) -> str:
            _, at, count, elements, layout = (int(v) for v in table[r])
            return f"rank {r} is at step {at} with {count} parameters of {elements} elements (layout {layout:08x})"
        raise fail(RuntimeError, "TrainOneStepCell", "ranks", "at the same step with the same model (every rank "
                   "must build the same model and call the training step as often)",
                   Shown(f"ranks out of step or with different models: {describe(0)}, {describe(odd[0])}"))
    if first:
        check_same_parameters(world, params)
    return [int(v) for v in table[:, 0]]


def check_same_parameters(world: Any, params: Sequence[Any]) -> None:
    """RuntimeError on every rank, naming the first parameter whose bits differ between ranks."""
    mine = b"".join(hashlib.blake2b(np.ascontiguousarray(p._data).tobytes(), digest_size=8).digest() for p in params)
    table = world.allgather_bytes(mine)
    for r in range(1, world.size):
        if table[r] != table[0]:
            first = next(i for i in range(len(params)) if table[r][8 * i:8 * i + 8] != table[0][8 * i:8 * i + 8])
            raise fail(RuntimeError, "TrainOneStepCell", "parameters", "the same on every rank before training (the "
                       "same seeds, initializers and checkpoints)", Shown(f"parameter '{params[first].name}' with "
                                                                          f"other values on rank {r} than on rank 0"))


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
                raise fail_type("DistributedGradReducer", "parameters", "float Parameters",
                                Shown(f"{type(p).__name__} at index {i}"))
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
                raise fail_value("DistributedGradReducer", "grads", f"one gradient per parameter with shapes "
                                 f"{[list(s) for s in self._shapes]}",
                                 Shown(f"{[list(a.shape) for a in arrays]} in contribution {i}"))
            out.append(arrays)
        return out

    def construct(self, grads: Any, weights: Sequence[float] | None = None) -> tuple[Tensor, ...]:
        contributions = self._contributions(grads)
        weighted = weights is not None
        if weights is None:
            weights = [1.0] * len(contributions)
        elif len(weights) != len(contributions):
            raise fail_value("DistributedGradReducer", "weights", f"one float per contribution ({len(contributions)})",
                             Shown(f"{len(weights)}"))
        world = _world.current()
        sums = reduce_weighted(contributions, [float(w) for w in weights], self._shapes, self._dtypes, world)
        if self.mean and not weighted:
            total = int(world.allgather_array(np.array([len(contributions)], np.int64)).sum())
            sums = [s / s.dtype.type(max(total, 1)) for s in sums]
        return tuple(Tensor(s) for s in sums)
