"""The sharded optimizer (ZeRO stage 1, MindSpore's "parallel optimizer"), and exact clipping.

``nn.TrainOneStepCell(..., parallel_optimizer=True)``: the exact reduction stops at its reduce-
scatter (``nn.distributed.reduce_weighted_sliced``: each rank keeps the slice of the reduced
gradient it owns; only the loss and the non-finite flags reach every rank), each rank updates
only that slice of the parameters and of the optimizer state, then the updated slices are
gathered (one ``Allgatherv`` per dtype): the traffic of one ring allreduce. The slices: the
parameters of one dtype, flattened and concatenated in order (the loss after the first dtype's),
cut by ``shard_bounds(width, W, rank)``, the exchange's owners. Every update rule here is
elementwise, so a slice updated alone has the bits the whole update would give it: the result is
bit-identical to the replicated optimizer at every W, and the optimizer state held per rank is
about ``1/W`` of it (Rajbhandari et al., "ZeRO: memory optimizations toward training trillion
parameter models", SC 2020, stage 1).

The state is sliced lazily, at the first sharded update: a state loaded from a checkpoint (one
file, today's format, full arrays) is sliced then, whatever the world size that saved it.
``consolidate(train_step)`` (collective) gathers the full state back into the optimizer's
Parameters on every rank, for ``save_checkpoint``, ``check_replicas`` or a fingerprint; the next
update slices it again.

``clip_norm``: the reduced gradients are scaled by ``clip_norm / max(norm, clip_norm)`` as
``ops.clip_by_global_norm`` does; the norm is the square root of the correctly rounded exact sum
of squares (``minicell._exact.norms``), merged from the slices across ranks: the same bits as the
norm of the whole gradient.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_value
from minicell._exact.norms import global_square_sum
from minicell._runtime.sharding import shard_bounds
from minicell.nn.distributed import SlicedSums, reduce_weighted, reduce_weighted_sliced
from minicell.nn.optim.optimizer import Optimizer, ParameterStore
from minicell.tensor import Tensor


def clip_scale(norm: float, clip_norm: float) -> float:
    """``clip_norm / max(norm, clip_norm)`` (``primitives.global_norm``'s scale)."""
    return clip_norm / max(norm, clip_norm)


def clipped(array: np.ndarray, scale: float) -> np.ndarray:
    """``array`` scaled in float64 and rounded back, as ``ops.clip_by_global_norm`` does."""
    return (np.asarray(array, np.float64) * scale).astype(array.dtype)


class _Layout:
    """Which elements of each parameter this rank owns: ``spans[i] = (a, b)`` in flat parameter ``i``,
    and per dtype the parameter order and every rank's slice width.

    The parameters of one dtype, flattened in order and followed by ``extras[dtype]`` elements
    that are not parameters (the loss, which travels with the first dtype's gradients), are cut
    by ``shard_bounds``: the same slices as the exchange's owners, so a rank updates exactly the
    part of the reduced gradient it computed."""

    def __init__(self, params: tuple, size: int, rank: int, extras: dict | None = None) -> None:
        self.size = size
        self.extras = {np.dtype(k): int(v) for k, v in (extras or {}).items()}
        self.spans: list[tuple[int, int]] = [(0, 0)] * len(params)
        self.groups: list[tuple[list[int], list[int]]] = []
        for dtype in sorted({p.dtype for p in params}, key=str):
            members = [i for i, p in enumerate(params) if p.dtype == dtype]
            starts = np.cumsum([0] + [params[i].size for i in members])
            total = int(starts[-1])
            bounds = [shard_bounds(total + self.extras.get(np.dtype(dtype), 0), size, r) for r in range(size)]
            lo, hi = bounds[rank]
            for k, i in enumerate(members):
                a, b = max(lo, int(starts[k])), min(hi, int(starts[k + 1]))
                self.spans[i] = (a - int(starts[k]), b - int(starts[k])) if a < b else (0, 0)
            self.groups.append((members, [max(0, min(b, total) - min(a, total)) for a, b in bounds]))

    def same(self, size: int, extras: dict | None) -> bool:
        return self.size == size and self.extras == {np.dtype(k): int(v) for k, v in (extras or {}).items()}


def _state_lists(optimizer: Optimizer, store: ParameterStore) -> list[list]:
    """The optimizer's lists that hold ``store``'s arrays (Adam's ``_m``, SGD's ``_buffers``)."""
    arrays = store.arrays()
    return [value for value in vars(optimizer).values()
            if isinstance(value, list) and len(value) == len(arrays) and all(x is y for x, y in zip(value, arrays))]


class ShardedOptimizer:
    """Updates this rank's slice of ``optimizer``'s parameters and state, then gathers the parameters."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.layout: _Layout | None = None  # None: the state is whole (fresh, loaded or consolidated)

    def stores(self) -> list[ParameterStore]:
        return [cell for _, cell in self.optimizer.cells_and_names() if isinstance(cell, ParameterStore)]

    def _set_state(self, store: ParameterStore, arrays: list[np.ndarray]) -> None:
        lists = _state_lists(self.optimizer, store)
        for state, array in zip(store._params.values(), arrays):
            state._data = array
        for held in lists:
            held[:] = store.arrays()

    def _shard(self, world: Any, extras: dict | None = None) -> _Layout:
        if self.layout is not None and self.layout.same(world.size, extras):
            return self.layout
        if self.layout is not None:
            self.consolidate(world)
        layout = _Layout(self.optimizer.parameters, world.size, world.rank, extras)
        for store in self.stores():
            self._set_state(store, [state._data.reshape(-1)[a:b].copy()
                                    for state, (a, b) in zip(store._params.values(), layout.spans)])
        self.layout = layout
        return layout

    def step(self, grads: Any, world: Any, clip_norm: float | None = None) -> None:
        """One update from the reduced gradients ``grads`` (the same on every rank)."""
        optimizer = self.optimizer
        arrays = optimizer._grad_arrays(grads)  # every rank checks the whole gradient the same way
        layout = self._shard(world)
        pieces = [g.reshape(-1)[a:b] for g, (a, b) in zip(arrays, layout.spans)]
        self._update(pieces, layout, world, clip_norm)

    def step_sliced(self, sums: SlicedSums, world: Any, clip_norm: float | None = None) -> None:
        """One update from this rank's slices of the reduced gradients (``reduce_weighted_sliced``,
        positions ``0 .. len(parameters) - 1``; the exchange's slices are the update's)."""
        optimizer = self.optimizer
        params = optimizer.parameters
        bad = [j for j in sums.nonfinite if j < len(params)]
        if bad:  # the same error on every rank, as the replicated optimizer's check gives
            name = params[bad[0]].name
            raise fail_value(type(optimizer).__name__, "grads", f"finite gradients (the one of '{name}' too)",
                             Shown(f"NaN or inf in the gradient of '{name}'"))
        extras: dict = {}  # elements after the parameters in a dtype's flat sum (the loss)
        for positions, starts, _, _ in sums.groups:
            inside = sum(1 for j in positions if j < len(params))
            if inside < len(positions):
                extras[params[positions[0]].dtype] = starts[-1] - starts[inside]
        layout = self._shard(world, extras)
        pieces = []
        for i, p in enumerate(params):
            a, b, values = sums.piece(i, world.rank)
            if (a, b) != layout.spans[i] and b > a:
                raise RuntimeError(f"the exchange's slice of '{p.name}' is not the optimizer's")
            pieces.append(np.asarray(values, p.dtype))
        self._update(pieces, layout, world, clip_norm)

    def _update(self, pieces: list[np.ndarray], layout: _Layout, world: Any, clip_norm: float | None) -> None:
        optimizer = self.optimizer
        params = optimizer.parameters
        if clip_norm is not None:
            scale = clip_scale(math.sqrt(global_square_sum(pieces, world)), clip_norm)
            pieces = [clipped(g, scale) for g in pieces]
        object.__setattr__(optimizer, "current_lr", optimizer.get_lr())
        step = int(optimizer.global_step._data) + 1
        for i, (p, g) in enumerate(zip(params, pieces)):
            a, b = layout.spans[i]
            if b > a:
                optimizer.update(i, p._data.reshape(-1)[a:b], g, step)
        optimizer.global_step._data[...] = step
        self._gather([p._data for p in params], layout, world)

    @staticmethod
    def _gather(arrays: list[np.ndarray], layout: _Layout, world: Any) -> None:
        """Every rank's updated slices of ``arrays`` (whole, in place) into all of them."""
        if world.size == 1:
            return
        for members, widths in layout.groups:
            part = np.concatenate([arrays[i].reshape(-1)[slice(*layout.spans[i])] for i in members])
            whole = world.allgatherv(part, widths)
            start = 0
            for i in members:
                arrays[i].reshape(-1)[...] = whole[start:start + arrays[i].size]
                start += arrays[i].size

    def consolidate(self, world: Any) -> None:
        """Gather the whole optimizer state on every rank (collective); the next step slices it again."""
        layout = self.layout
        if layout is None:
            return
        params = self.optimizer.parameters
        for store in self.stores():
            whole = [np.zeros(p.shape, p.dtype) for p in params]
            for array, state, (a, b) in zip(whole, store._params.values(), layout.spans):
                array.reshape(-1)[a:b] = state._data
            self._gather(whole, layout, world)
            self._set_state(store, whole)
        self.layout = None

    def state_bytes(self) -> int:
        """Bytes of optimizer state (moments, buffers) this rank holds."""
        return sum(state._data.nbytes for store in self.stores() for state in store._params.values())


def consolidate(train_step: Any) -> None:
    """Gather ``train_step``'s sharded optimizer state on every rank (collective; a no-op when the
    optimizer is not sharded), before saving a checkpoint or comparing replicas."""
    import minicell._runtime.world as _world
    sharded = getattr(train_step, "_sharded", None)
    if sharded is not None:
        sharded.consolidate(_world.current())


def reduce_and_update(train_step: Any, contributions: list, weights: list, shapes: list, dtypes: list, world: Any,
                      counts: list[int] | None = None) -> np.ndarray:
    """The end of a micro-batched step: reduce the contributions (the last position is the loss),
    update, and return the reduced loss. Sharded on W > 1 ranks: a reduce-scatter (each rank keeps
    the slice it owns), the update of that slice, and the gather of the parameters: the traffic of
    one ring allreduce, and the same bits as the replicated update."""
    sharded = train_step._sharded
    if sharded is None or world.size == 1:
        sums = reduce_weighted(contributions, weights, shapes, dtypes, world, counts)
        apply_update(train_step, tuple(Tensor(s) for s in sums[:-1]), world)
        return sums[-1]
    loss = len(shapes) - 1
    sliced = reduce_weighted_sliced(contributions, weights, shapes, dtypes, world, counts, replicate=[loss])
    sharded.step_sliced(sliced, world, train_step.clip_norm)
    return sliced.replicated[loss]


def apply_update(train_step: Any, grads: tuple, world: Any) -> None:
    """The update of a training cell: clipped (``clip_norm``), then sharded or replicated."""
    sharded, clip_norm = train_step._sharded, train_step.clip_norm
    if sharded is not None:
        sharded.step(grads, world, clip_norm)
        return
    if clip_norm is not None:
        arrays = train_step.optimizer._grad_arrays(grads)  # the optimizer's checks first (finite, shapes)
        limbs_norm = math.sqrt(global_square_sum(arrays, _SingleWorld))
        scale = clip_scale(limbs_norm, clip_norm)
        grads = tuple(clipped(g, scale) for g in arrays)
    train_step.optimizer(grads)


class _SingleWorld:
    """The norm of whole gradients: no exchange (every rank holds the same reduced gradient)."""

    size = 1
    rank = 0
