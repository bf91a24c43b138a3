"""Segments: the micro-batches of a one-pass training step, for the ops that mix rows.

A micro-batched ``TrainOneStepCell`` runs ONE forward and backward over a rank's ``rows`` rows
(DESIGN.md section 8) inside ``segments(rows, size)``: segment ``i`` is rows
``[i * size, min((i + 1) * size, rows))`` (the last may be shorter), exactly the micro-batch the
step stands for. Row-wise ops ignore segments. An op that mixes rows reads the plan
(``current()``) and works per segment with the shapes of a lone micro-batch, so every segment
gets the bits its micro-batch would get alone:

- ``per_segment(plan, call, batched)`` runs an array primitive once per segment (``call(lo,
  hi)`` returns its ``(out, backward)``), joins the outputs along axis 0 and returns a backward
  that gives batched operands their rows back and other operands (parameters) per-segment
  gradients with a leading segment axis of length ``n`` ("stacked"), summed later by the step's
  one exact weighted reduction;
- ``rows_plan(array)``: the plan when an array is batched (its axis 0 holds the ``rows`` rows
  and it is not one of the network's parameters); ``stacked_plan(array)``: the plan when it
  holds one value per segment (a per-segment loss, shape ``(n, ...)``);
- ``refuse(op, arg, what)``: the error for an op that cannot be made segment-exact.

Conventions (the price of needing no change to user Cells): inside the step, an array whose
axis 0 has ``rows`` entries is taken as batched and one whose axis 0 has ``n`` entries where a
reduction or broadcast would remove it as per-segment. Lone calls run with the plan suspended,
spread over minicell's pool (``run_tasks``) when the work is large; BLAS is single-threaded for
the whole step, so no result depends on the thread count.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_value
from minicell._runtime.parallel import run_tasks

Backward = Callable[[np.ndarray], tuple[Any, ...]]
SPREAD_WORK = 1 << 21  # multiply-adds per segment from which segments go to the pool (about a millisecond)


class Plan:
    """``rows`` rows cut into ``n`` segments of ``size`` rows (``bounds``); ``stats`` collects
    the per-segment statistics that ghost BatchNorm reports for the step's one update."""

    def __init__(self, rows: int, size: int, fixed: Sequence[np.ndarray] = ()) -> None:
        self.rows, self.size = int(rows), int(size)
        self.fixed = {id(a) for a in fixed}  # the network's parameter arrays, and values of them only
        self._kept: list[np.ndarray] = list(fixed)  # alive for the step, so their ids are not reused
        self.bounds = [(lo, min(lo + self.size, self.rows)) for lo in range(0, self.rows, self.size)]
        self.n = len(self.bounds)
        self.stats: list[Any] = []

    def fix(self, array: np.ndarray) -> None:
        """Mark ``array`` as computed from the parameters (and constants) only: never batched or
        per-segment, whatever its shape (a weight-decay term of shape (n, k) is not n segments)."""
        self.fixed.add(id(array))
        self._kept.append(array)

    def slices(self, array: np.ndarray) -> list[np.ndarray]:
        """The segments' rows of a batched array (views)."""
        return [array[lo:hi] for lo, hi in self.bounds]


class _Local(threading.local):
    plan: Plan | None = None
    suspended = 0


_local = _Local()


@contextmanager
def segments(rows: int, size: int, fixed: Sequence[np.ndarray] = ()) -> Iterator[Plan]:
    """Ops inside see ``rows`` rows as segments of ``size`` rows (this thread only); the arrays
    ``fixed`` (the network's parameters) are never taken as batched."""
    saved = (_local.plan, _local.suspended)
    _local.plan, _local.suspended = Plan(rows, size, fixed), 0
    try:
        yield _local.plan
    finally:
        _local.plan, _local.suspended = saved


@contextmanager
def suspended() -> Iterator[None]:
    """Ops inside run as in a lone micro-batch (the plan is hidden)."""
    _local.suspended += 1
    try:
        yield
    finally:
        _local.suspended -= 1


def current() -> Plan | None:
    """The active plan on this thread (None outside a one-pass step or inside a lone call)."""
    return None if _local.suspended else _local.plan


def step_plan() -> Plan | None:
    """The plan of the one-pass step running on this thread, even where ops run as in a lone
    micro-batch (ghost BatchNorm reports its statistics to it)."""
    return _local.plan


def rows_plan(array: Any) -> Plan | None:
    """The plan when ``array`` (or an array of this shape) is batched: axis 0 holds the step's rows
    and it is not one of the network's parameters."""
    plan = current()
    shape = np.shape(array) if not isinstance(array, tuple) else array
    if plan is None or len(shape) < 1 or shape[0] != plan.rows:
        return None
    return None if id(array) in plan.fixed else plan


def stacked_plan(array: Any) -> Plan | None:
    """The plan when ``array`` holds one value per segment along axis 0 (not rows, not a parameter)."""
    plan = current()
    shape = np.shape(array) if not isinstance(array, tuple) else array
    if plan is None or len(shape) < 1 or shape[0] != plan.n or plan.n == plan.rows:
        return None
    return None if id(array) in plan.fixed else plan


def is_stacked_gradient(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Whether a gradient for an operand of ``shape`` holds one gradient per segment."""
    plan = current()
    if plan is None or len(grad_shape) != len(shape) + 1 or grad_shape[0] != plan.n:
        return False
    return grad_shape[1:] == shape or np.broadcast_shapes(grad_shape[1:], shape) == shape


def refuse(op: str, arg: str, what: str, got: Any) -> ValueError:
    """The error of an op that cannot be made segment-exact (raise it)."""
    plan = _local.plan
    size = plan.size if plan is not None else "?"
    return fail_value(op, arg, f"{what} inside a micro-batched training step (TrainOneStepCell with "
                      f"micro_batch_size={size} runs one pass whose bits must equal those of separate "
                      f"micro-batches, DESIGN.md section 8)", got if isinstance(got, Shown) else Shown(repr(got)))


def _join(items: list[Any], batched: bool) -> Any:
    if all(item is None for item in items):
        return None
    if any(item is None for item in items):  # a segment that needs no gradient: zeros of its shape
        like = next(np.asarray(item) for item in items if item is not None)
        items = [np.zeros_like(like) if item is None else item for item in items]
    arrays = [np.asarray(item) for item in items]
    return np.concatenate(arrays) if batched else np.stack(arrays)


def per_segment(plan: Plan, call: Callable[[int], tuple[np.ndarray, Backward]], batched: Sequence[bool],
                work: int = 0, out_per_segment: bool = False) -> tuple[np.ndarray, Backward]:
    """``(out, backward)`` of an array primitive run once per segment (see the module docstring).

    ``call(i)`` runs the primitive on segment ``i``'s part of the operands (the caller slices:
    ``plan.bounds[i]`` rows of a batched operand, entry ``i`` of a per-segment one); ``batched``
    says, per operand of its backward, whether its gradient pieces are joined along axis 0 (rows)
    or stacked (a parameter's per-segment gradients, or a per-segment operand's). The outputs are
    joined along axis 0, or stacked when ``out_per_segment`` (a reduction to one value per
    segment). ``work``: multiply-adds per segment (large work is spread over the pool).
    """
    n, spread = plan.n, work >= SPREAD_WORK
    outs: list[Any] = [None] * n
    backs: list[Any] = [None] * n

    def forward(i: int) -> None:
        with suspended():
            outs[i], backs[i] = call(i)
    if spread:
        run_tasks(n, forward)
    else:  # small work: one loop, no hand-offs
        with suspended():
            for i in range(n):
                outs[i], backs[i] = call(i)
    out = np.stack(outs) if out_per_segment else np.concatenate(outs)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        parts: list[Any] = [None] * n

        def piece(i: int) -> np.ndarray:
            lo, hi = plan.bounds[i]
            return g[i:i + 1].reshape(g.shape[1:]) if out_per_segment else g[lo:hi]

        def one(i: int) -> None:
            with suspended():
                parts[i] = tuple(backs[i](piece(i)))
        if spread:
            run_tasks(n, one)
        else:
            with suspended():
                for i in range(n):
                    parts[i] = tuple(backs[i](piece(i)))
        return tuple(_join([p[j] for p in parts], b) for j, b in enumerate(batched))
    return out, backward


def run_segments(count: int, body: Callable[[int], None]) -> None:
    """``body(i)`` for each segment, spread over the pool, each as a lone micro-batch would run."""
    def task(i: int) -> None:
        with suspended():
            body(i)
    run_tasks(count, task)


def per_segment_rows(plan: Plan, array: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` of each segment's rows of a batched array, stacked (one result per segment)."""
    with suspended():
        return np.stack([np.asarray(fn(part)) for part in plan.slices(array)])


def per_segment_values(plan: Plan, array: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` of each segment's value of a per-segment array, stacked."""
    with suspended():
        return np.stack([np.asarray(fn(array[i])) for i in range(plan.n)])
