"""Training cells: ``WithLossCell`` and ``TrainOneStepCell`` (MindSpore's names).

``TrainOneStepCell(network, optimizer, micro_batch_size=None)`` with a micro-batch size, or on
more than one rank, splits the global batch into micro-batches of that fixed size (the last of
an epoch may be shorter); rank ``r`` holds the micro-batches ``_sharding.shard_bounds(rows, W,
r, unit=M)`` and passes only those rows. Each micro-batch's gradient is computed alone (so BLAS
sees the same shapes on every rank, DESIGN.md section 7), weighted by ``its rows / global
rows``, and all of them are summed exactly (``nn.distributed.reduce_weighted``, the core of
``DistributedGradReducer``): the update is the gradient of the global mean loss and its bits
never depend on which rank computed what. Dropout inside is sample-indexed
(``ops.dropout.sample_indexed``): one reservation per layer and step, masks indexed by global
row.

BLAS threads: OpenBLAS gives different bits for some shapes with 1 and 2 threads (measured here:
a (64, 784) @ (784, 1024) float32 product), and ranks run with fewer BLAS threads than a single
process. So micro-batches always run with single-threaded BLAS, and a process with several
threads (``minicell.set_num_threads``) runs its micro-batches concurrently instead, one per
thread: the work of every micro-batch is the same computation on every rank and at any thread
count. The first micro-batch makes the step's dropout reservations in order; the others, running
beside it, wait for each one they need (``_StepReservations``).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

import minicell._runtime.world as _world
import minicell.generator as _generator
from minicell._checks import Shown, check_bool, check_int, check_real, fail_type, fail_value
from minicell._runtime.memory import keep_freed_memory
from minicell._runtime.parallel import get_num_threads
from minicell._runtime.sharding import shard_bounds, unit_bounds
from minicell.autograd import value_and_grad
from minicell.cell import Cell
from minicell.generator import Generator
from minicell.nn.distributed import step_header
from minicell.nn.optim.optimizer import Optimizer
from minicell.nn.parallel_optimizer import ShardedOptimizer, apply_update, reduce_and_update
from minicell.ops._dropout import sample_indexed
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


def _rows_of(inputs: tuple) -> int:
    lengths = {np.shape(getattr(x, "_data", x))[0] for x in inputs if np.ndim(getattr(x, "_data", x)) >= 1}
    if len(lengths) != 1:
        raise fail_value("TrainOneStepCell", "inputs", "batched along axis 0 with the same number of rows (micro-batches)",
                         Shown(f"row counts {sorted(lengths)}"))
    return lengths.pop()


def _rows(x: Any, lo: int, hi: int) -> Any:
    return x[lo:hi] if np.ndim(getattr(x, "_data", x)) >= 1 else x


_runtime: dict[str, Any] = {"controller": None, "pool": None, "pid": None}


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread inside (a micro-batch's bits must not depend on thread counts)."""
    if _runtime["controller"] is None:
        keep_freed_memory()  # with the first micro-batched step
        _runtime["controller"] = ThreadpoolController()
    with _runtime["controller"].limit(limits=1, user_api="blas"):
        yield


class _StepReservations(list):
    """The step's dropout reservations, made by the first micro-batch while the others run beside it.

    A micro-batch other than the first that needs reservation ``k`` waits until the first made it
    (or finished), so the reservations are made in the first micro-batch's call order, as if it
    had run alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ready = threading.Condition()
        self._owner: int | None = None
        self._closed = False

    def open(self) -> None:
        with self._ready:
            self._owner = threading.get_ident()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def wait_for(self, k: int) -> None:
        with self._ready:
            if threading.get_ident() != self._owner:
                self._ready.wait_for(lambda: self._closed or len(self) > k)

    def append(self, item: Any) -> None:
        with self._ready:
            super().append(item)
            self._ready.notify_all()


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` workers for micro-batches, made anew after a fork or a resize."""
    pool = _runtime["pool"]
    if pool is None or _runtime["pid"] != os.getpid() or pool._max_workers != threads:
        _runtime["pool"] = pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="minicell-micro")
        _runtime["pid"] = os.getpid()
    return pool


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
        # --- parallel optimizer hook (issue 20; the logic is in nn/parallel_optimizer.py) ---
        parallel_optimizer = check_bool("TrainOneStepCell", "parallel_optimizer", parallel_optimizer)
        if clip_norm is not None and check_real("TrainOneStepCell", "clip_norm", clip_norm, 0.0) <= 0:
            raise fail_value("TrainOneStepCell", "clip_norm", "None or a float > 0", clip_norm)
        object.__setattr__(self, "clip_norm", None if clip_norm is None else float(clip_norm))
        object.__setattr__(self, "_sharded", ShardedOptimizer(optimizer) if parallel_optimizer else None)
        object.__setattr__(self, "_checked_replicas", False)  # step header: parameters compared once
        # --- end of the hook ---
        self.network = network
        self.optimizer = optimizer
        object.__setattr__(self, "micro_batch_size", micro_batch_size)
        object.__setattr__(self, "_grad_fn", value_and_grad(network, None, optimizer.parameters))

    def _parameters(self) -> tuple:
        return tuple(self.optimizer.parameters)

    def construct(self, *inputs: Any) -> Tensor:
        world = _world.current()
        if self.micro_batch_size is None and world.size == 1:
            loss, grads = self._grad_fn(*inputs)
            apply_update(self, grads, world)  # parallel optimizer hook (issue 20)
            return loss.detach()
        return self._micro_batched(world, inputs)

    def _global_rows(self, world: Any, rows: int) -> tuple[int, int, int, list[int]]:
        """``(global rows, micro-batch size, this rank's first global row, rows per rank)``."""
        if world.size == 1:
            return rows, self.micro_batch_size or max(rows, 1), 0, [rows]
        # step header (issue 20): step, parameter count and layout checked with the row counts;
        # the parameters themselves compared on this cell's first step
        counts = step_header(world, rows, self._parameters(), int(self.optimizer.global_step._data),
                             not self._checked_replicas)
        object.__setattr__(self, "_checked_replicas", True)
        total = sum(counts)
        unit = self.micro_batch_size or max(1, -(-total // world.size))
        expected = [hi - lo for lo, hi in (shard_bounds(total, world.size, r, unit) for r in range(world.size))]
        if counts != expected:
            raise fail_value("TrainOneStepCell", "inputs", f"each rank's rows shard_bounds({total}, {world.size}, rank, "
                             f"{unit}), {expected} rows, for micro-batches of {unit} rows",
                             Shown(f"ranks holding {counts} rows of a global batch of {total}"))
        return total, unit, sum(counts[:world.rank]), counts

    def _micro_batched(self, world: Any, inputs: tuple) -> Tensor:
        rows = _rows_of(inputs)
        total, unit, first, counts = self._global_rows(world, rows)
        if total == 0:
            raise fail_value("TrainOneStepCell", "inputs", "a non-empty global batch", Shown("0 rows"))
        reservations = _StepReservations()
        pieces = unit_bounds(0, rows, unit)

        def run(piece: tuple[int, int]) -> tuple[Any, Any]:
            lo, hi = piece
            if lo == 0:
                reservations.open()
            try:
                with sample_indexed(reservations, first + lo):
                    return self._grad_fn(*(_rows(x, lo, hi) for x in inputs))
            finally:
                if lo == 0:
                    reservations.close()

        before = [(p, p._data.copy()) for p in self.network.untrainable_params()]
        with _single_threaded_blas():
            threads = min(get_num_threads(), len(pieces))
            if threads > 1:  # the first micro-batch is handed out first: it never waits for another
                results = list(_pool(threads).map(run, pieces))
            else:
                results = [run(piece) for piece in pieces]
        self._refuse_state_changes(before)
        contributions = [[g._data for g in grads] + [loss._data] for loss, grads in results]
        weights = [(hi - lo) / total for lo, hi in pieces]
        shapes = [tuple(p.shape) for p in self._parameters()] + [()]
        # the loss travels with the first parameter's gradients (one exchange per dtype, and a
        # rank without micro-batches knows its dtype)
        dtypes = [p.dtype for p in self._parameters()] + [self._parameters()[0].dtype]
        per_rank = [-(-c // unit) for c in counts]
        # reduce and update (issue 20 hook: reduce_weighted, then the update, sharded or not)
        loss = reduce_and_update(self, contributions, weights, shapes, dtypes, world, per_rank)
        if 0 in counts:
            self._sync_generators(world)
        return Tensor(loss)

    def _refuse_state_changes(self, before: list) -> None:
        """Micro-batches run concurrently and on other ranks: a forward that changes state other
        than generator offsets (BatchNorm's moving statistics in training mode) would make the
        result depend on the split, so it is refused, and everything is put back as it was."""
        changed = [p.name for p, saved in before
                   if p.dtype.kind == "f" and not np.array_equal(p._data, saved, equal_nan=True)]
        if changed:
            for p, saved in before:
                np.copyto(p._data, saved)
            raise fail_value("TrainOneStepCell", "network", "a network whose forward changes no state other than "
                             "generator offsets when micro-batched (put BatchNorm in eval mode, or use "
                             "micro_batch_size=None in a world of one)", Shown(f"one that changes {changed[:3]}"))

    def _sync_generators(self, world: Any) -> None:
        """Ranks that ran no micro-batch reserved nothing: take the others' (higher) offsets."""
        gens = [cell for _, cell in self.cells_and_names() if isinstance(cell, Generator)]
        gens = list({id(g): g for g in gens + list(_generator._default)}.values())
        offsets = np.array([int(g.get_state()[1]) for g in gens], np.uint64)
        world.allreduce(offsets, "max")
        for g, offset in zip(gens, offsets):
            seed, _ = g.get_state()
            g.set_state(seed, int(offset))
