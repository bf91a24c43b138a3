"""Check that a micro-batched step's one pass gives each micro-batch's gradient bit for bit.

``TrainOneStepCell(network, optimizer, micro_batch_size=M)`` computes, in one forward and
backward over the batch (DESIGN.md section 8), what a loop over micro-batches of ``M`` rows
computes when each runs alone. ``assert_one_pass_exact(network, inputs, M)`` runs both from the
same state and compares every micro-batch's gradients and loss to the bit; a network that mixes
rows in a way minicell cannot cut per micro-batch (a reduction over the batch axis written with
NumPy, say) fails it, naming the micro-batch and the parameter, or is refused with an error
naming the op. ``micro_batch_gradients`` is the loop, for tests of your own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import check_int, fail_type
from minicell._runtime.blas import single_threaded_blas
from minicell._runtime.reservations import sample_indexed
from minicell._runtime.sharding import unit_bounds
from minicell.autograd import value_and_grad
from minicell.cell import Cell
from minicell.nn._one_pass import one_pass, rows_of
from minicell.tensor import Tensor
from minicell.testing._state import Snapshot


def _rows(x: Any, lo: int, hi: int) -> Any:
    return Tensor._wrap(x._data[lo:hi]) if isinstance(x, Tensor) and x.ndim >= 1 else x


def micro_batch_gradients(network: Cell, inputs: tuple, micro_batch_size: int, first_row: int = 0) -> list[list]:
    """Per micro-batch, computed alone (the loop the one pass replaces): the gradients of
    ``network``'s trainable Parameters and the loss, as arrays. Randomness is sample-indexed
    from global row ``first_row``; BLAS is single-threaded."""
    params = tuple(network.trainable_params())
    grad_fn = value_and_grad(network, None, params)
    reservations: list = []
    out = []
    with single_threaded_blas():
        for lo, hi in unit_bounds(0, rows_of(inputs), micro_batch_size):
            with sample_indexed(reservations, first_row + lo):
                loss, grads = grad_fn(*(_rows(x, lo, hi) for x in inputs))
            out.append([np.array(g._data, copy=True) for g in grads] + [np.array(loss._data, copy=True)])
    return out


def one_pass_gradients(network: Cell, inputs: tuple, micro_batch_size: int, first_row: int = 0) -> list[list]:
    """What the one pass gives, in the layout of ``micro_batch_gradients``."""
    contributions, _ = one_pass(network, tuple(network.trainable_params()), inputs, first_row, micro_batch_size)
    return [[np.array(a, copy=True) for a in c] for c in contributions]


def assert_one_pass_exact(network: Cell, inputs: Any, micro_batch_size: int, first_row: int = 0) -> None:
    """Check that the one pass of a micro-batched step gives every micro-batch's gradients and loss
    exactly as the micro-batch computed alone. State (Parameters, Generators) is restored after.

    Args:
        network: a Cell returning the mean loss (e.g. a WithLossCell), in the mode to test.
        inputs: its inputs, a tuple (the batch along axis 0), or one Tensor.
        micro_batch_size: rows per micro-batch, >= 1.
        first_row: the global index of the batch's first row (a rank's shard).
    """
    __tracebackhide__ = True
    who = "assert_one_pass_exact"
    if not isinstance(network, Cell):
        raise fail_type(who, "network", "a Cell", network)
    size = check_int(who, "micro_batch_size", micro_batch_size, 1)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    snapshot = Snapshot(who, cells=[("network", network)])
    try:
        expected = micro_batch_gradients(network, inputs, size, first_row)
        snapshot.restore()
        got = one_pass_gradients(network, inputs, size, first_row)
    finally:
        snapshot.restore()
    names = [p.name for p in network.trainable_params()] + ["loss"]
    for i, (want, have) in enumerate(zip(expected, got)):
        for name, a, b in zip(names, want, have):
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                detail = (f"max |difference| {np.max(np.abs(a.astype(np.float64) - b)):.3g}"
                          if a.shape == b.shape else f"shapes {a.shape} and {b.shape}")
                raise AssertionError(f"Not one-pass exact: micro-batch {i} (rows from {first_row + i * size}): the "
                                     f"one pass's {name!r} differs from the micro-batch computed alone ({detail}); "
                                     f"the network mixes rows outside minicell's segment-aware ops.")
