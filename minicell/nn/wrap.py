"""Training cells: ``WithLossCell`` and ``TrainOneStepCell`` (MindSpore's names).

``TrainOneStepCell(network, optimizer, micro_batch_size=None)`` with a micro-batch size, or on
more than one rank, splits the global batch into micro-batches of that fixed size (the last of
an epoch may be shorter); rank ``r`` holds the micro-batches ``communication.shard_bounds(rows, W,
r, unit=M)`` and passes only those rows. The step's result is defined as if each micro-batch's
gradient were computed alone (so BLAS sees the same shapes on every rank, DESIGN.md section 7),
weighted by ``its rows / global rows``, and all of them summed exactly
(``nn.distributed.reduce_weighted``, the core of ``DistributedGradReducer``): the update is the
gradient of the global mean loss and its bits never depend on which rank computed what.

It is computed in ONE forward and backward over the rank's rows (``nn._one_pass``, DESIGN.md
section 8): ops that mix rows work per micro-batch ("segment") with a lone micro-batch's shapes,
so the pass gives every micro-batch's gradient bit for bit, at the cost of one pass. Dropout is
sample-indexed (one reservation per layer and step, masks indexed by global row). Training
BatchNorm normalizes each micro-batch by its own statistics (ghost batch normalization) and its
moving statistics are updated once per step from the exact mean over all micro-batches
(``nn._ghost_batch_norm``). The pass runs with single-threaded BLAS and spreads large per-segment
work over minicell's thread pool, so its bits do not depend on the thread count either.

``parallel_optimizer=True`` shards the update (ZeRO stage 1) and ``clip_norm`` clips the reduced
gradients to a global norm: both in ``nn.parallel_optimizer``, with the same bits as without.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import minicell._runtime.world as _world
import minicell.generator as _generator
from minicell._checks import Shown, check_bool, check_int, check_real, fail_type, fail_value
from minicell._runtime.sharding import shard_bounds
from minicell.autograd import value_and_grad
from minicell.cell import Cell
from minicell.generator import Generator
from minicell.nn._ghost_batch_norm import update_moving_statistics
from minicell.nn._one_pass import one_pass, rows_of
from minicell.nn.distributed import step_header
from minicell.nn.optim.optimizer import Optimizer
from minicell.nn.parallel_optimizer import ShardedOptimizer, apply_update, reduce_and_update
from minicell.tensor import Tensor


class WithLossCell(Cell):
    """``loss_fn(backbone(data), label)``.

    Args:
        backbone: the network. loss_fn: a loss Cell (or any callable of (logits, labels)).
    """

    def __init__(self, backbone: Cell, loss_fn: Any) -> None:
        super().__init__(auto_prefix=False)
        if not isinstance(backbone, Cell):
            raise fail_type("WithLossCell", "backbone", "a Cell", backbone)
        if not callable(loss_fn):
            raise fail_type("WithLossCell", "loss_fn", "callable (a loss Cell or function)", loss_fn)
        self.backbone = backbone
        self.loss_fn = loss_fn

    def construct(self, data: Any, label: Any) -> Tensor:
        return self.loss_fn(self.backbone(data), label)


class TrainOneStepCell(Cell):
    """One call runs forward, backward and the optimizer update, and returns the loss.

    Equivalent to MindSpore 2.x's idiom
    ``loss, grads = value_and_grad(network, None, optimizer.parameters)(*inputs); optimizer(grads)``.
    It does not switch modes: call ``set_train()`` so that Dropout is active.

    Args:
        network: a Cell returning a scalar mean loss (e.g. a WithLossCell). optimizer: an Optimizer.
        micro_batch_size: rows per micro-batch, or None: one pass over the whole batch in a world
            of one, one micro-batch per rank (``ceil(rows / W)`` rows) on W > 1 ranks. Fix it to
            get the same bits at every world size. On W ranks each rank passes its own rows.
        parallel_optimizer: shard the optimizer (ZeRO stage 1, ``nn.parallel_optimizer``): each
            rank updates its slice of the parameters and state; the same bits as without.
        clip_norm: None, or clip the reduced gradients to this global norm (> 0) before the
            update, as ``ops.clip_by_global_norm`` (the norm exact, also across slices).
    """

    micro_batch_size: int | None
    clip_norm: float | None
    _sharded: ShardedOptimizer | None
    _checked_replicas: bool
    _grad_fn: Any

    def __init__(self, network: Cell, optimizer: Optimizer, micro_batch_size: int | None = None,
                 parallel_optimizer: bool = False, clip_norm: float | None = None) -> None:
        super().__init__(auto_prefix=False)
        if not isinstance(network, Cell):
            raise fail_type("TrainOneStepCell", "network", "a Cell", network)
        if not isinstance(optimizer, Optimizer):
            raise fail_type("TrainOneStepCell", "optimizer", "an Optimizer", optimizer)
        if micro_batch_size is not None:
            micro_batch_size = check_int("TrainOneStepCell", "micro_batch_size", micro_batch_size, 1)
        # the parallel optimizer and clipping: the logic is in nn/parallel_optimizer.py
        parallel_optimizer = check_bool("TrainOneStepCell", "parallel_optimizer", parallel_optimizer)
        if clip_norm is not None and check_real("TrainOneStepCell", "clip_norm", clip_norm, 0.0) <= 0:
            raise fail_value("TrainOneStepCell", "clip_norm", "None or a float > 0", clip_norm)
        object.__setattr__(self, "clip_norm", None if clip_norm is None else float(clip_norm))
        object.__setattr__(self, "_sharded", ShardedOptimizer(optimizer) if parallel_optimizer else None)
        object.__setattr__(self, "_checked_replicas", False)  # step header: parameters compared once
        self.network = network
        self.optimizer = optimizer
        object.__setattr__(self, "micro_batch_size", micro_batch_size)
        object.__setattr__(self, "_grad_fn", value_and_grad(network, None, optimizer.parameters))

    def _parameters(self) -> tuple:
        return tuple(self.optimizer.parameters)

    def construct(self, *inputs: Any) -> Tensor:
        world = _world.current()
        before = self._state_before()
        try:  # a failed step (a refused op, non-finite gradients, ...) leaves every state as it was
            if self.micro_batch_size is None and world.size == 1:
                loss, grads = self._grad_fn(*inputs)
                apply_update(self, grads, world)  # clipped, sharded or not (nn.parallel_optimizer)
                return loss.detach()
            return self._micro_batched(world, inputs, before)
        except BaseException:
            self._restore(before)
            raise

    def _state_before(self) -> list[tuple[Any, np.ndarray]]:
        """Copies of the state a forward changes: the network's untrainable Parameters (generator
        seeds and offsets, BatchNorm's moving statistics) and the default generator's state. The
        optimizer changes nothing before it has checked every gradient."""
        params = {id(p): p for p in self.network.untrainable_params()}
        params.update((id(p), p) for g in _generator._default for p in (g._seed_param, g._offset_param))
        return [(p, p._data.copy()) for p in params.values()]

    def _global_rows(self, world: Any, rows: int) -> tuple[int, int, int, list[int]]:
        """``(global rows, micro-batch size, this rank's first global row, rows per rank)``."""
        if world.size == 1:
            return rows, self.micro_batch_size or max(rows, 1), 0, [rows]
        # step header: step, parameter count and layout checked with the row counts;
        # the parameters themselves compared on this cell's first step
        counts = step_header(world, rows, self._parameters(), int(self.optimizer.global_step._data),
                             not self._checked_replicas)
        object.__setattr__(self, "_checked_replicas", True)
        total = sum(counts)
        unit = self.micro_batch_size or max(1, -(-total // world.size))
        expected = [hi - lo for lo, hi in (shard_bounds(total, world.size, r, unit) for r in range(world.size))]
        if counts != expected:
            raise fail_value("TrainOneStepCell", "inputs",
                             f"each rank's rows shard_bounds({total}, {world.size}, rank, "
                             f"{unit}), {expected} rows, for micro-batches of {unit} rows",
                             Shown(f"ranks holding {counts} rows of a global batch of {total}"))
        return total, unit, sum(counts[:world.rank]), counts

    def _micro_batched(self, world: Any, inputs: tuple, before: list[tuple[Any, np.ndarray]]) -> Tensor:
        rows = rows_of(inputs)
        total, unit, first, counts = self._global_rows(world, rows)
        if total == 0:
            raise fail_value("TrainOneStepCell", "inputs", "a non-empty global batch", Shown("0 rows"))
        params = self._parameters()
        untrainable = list(self.network.untrainable_params())
        contributions, stats = one_pass(self.network, params, inputs, first, unit) if rows else ([], [])
        self._refuse_state_changes(before)
        weights = [(min(lo + unit, rows) - lo) / total for lo in range(0, rows, unit)]
        shapes = [tuple(p.shape) for p in params] + [()]
        # the loss travels with the first parameter's gradients (one exchange per dtype, and a
        # rank without micro-batches knows its dtype)
        dtypes = [p.dtype for p in params] + [params[0].dtype]
        per_rank = [-(-c // unit) for c in counts]
        # reduce_weighted, then the update, sharded or not (nn.parallel_optimizer)
        loss = reduce_and_update(self, contributions, weights, shapes, dtypes, world, per_rank)
        update_moving_statistics(stats, world, untrainable, counts, per_rank)
        if 0 in counts:
            self._sync_generators(world)
        return Tensor(loss)

    def _refuse_state_changes(self, before: list) -> None:
        """A forward that changes state other than generator offsets (and training BatchNorm's
        moving statistics, which the step updates once from all micro-batches) would make the
        result depend on the split, so it is refused, and everything is put back as it was."""
        changed = [p.name for p, saved in before
                   if p.dtype.kind == "f" and not np.array_equal(p._data, saved, equal_nan=True)]
        if changed:
            raise fail_value("TrainOneStepCell", "network", "a network whose forward changes no state other than "
                             "generator offsets and training BatchNorm's statistics when micro-batched (or use "
                             "micro_batch_size=None in a world of one)", Shown(f"one that changes {changed[:3]}"))

    @staticmethod
    def _restore(before: list) -> None:
        for p, saved in before:
            np.copyto(p._data, saved)

    def _sync_generators(self, world: Any) -> None:
        """Ranks that ran no micro-batch reserved nothing: take the others' (higher) offsets.

        The network's generators are the same on every rank; the default generator is created on
        first use, so it may exist on some ranks only: its slot is always sent (0 where it does
        not exist), so every rank sends as many offsets."""
        gens = list({id(c): c for _, c in self.cells_and_names() if isinstance(c, Generator)}.values())
        default = next((g for g in _generator._default if all(g is not h for h in gens)), None)
        offsets = np.array([int(g.get_state()[1]) for g in gens] + [0 if default is None else
                                                                      int(default.get_state()[1])], np.uint64)
        world.allreduce(offsets, "max")
        for g, offset in zip([*gens, default], offsets):
            if g is not None:
                seed, _ = g.get_state()
                g.set_state(seed, int(offset))
