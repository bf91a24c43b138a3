"""The one pass of a micro-batched training step: one forward and backward over a rank's rows.

``TrainOneStepCell(network, optimizer, micro_batch_size=M)`` stands for a loop over micro-batches
of ``M`` rows, each one's gradient computed alone and all of them summed exactly with weights
``rows / global rows``. ``one_pass`` computes the same per-micro-batch gradients, bit for bit,
in ONE forward and backward (DESIGN.md section 8): the rank's rows are cut into segments, one per
micro-batch (``minicell._runtime.segments``); row-wise ops run on the whole batch, and every op
that mixes rows (parameter gradients of products and convolutions, sums over the batch axis, a
loss's mean, BatchNorm's statistics) works per segment with the shapes of a lone micro-batch.
The network's output is then one loss per segment (each its micro-batch's mean), the gradient
walk starts from ones (a micro-batch's loss seeds its own gradient with 1, as alone), and each
parameter's gradient comes with a leading segment axis, or without one when it is the same for
every segment. The whole pass runs with single-threaded BLAS (segment work is spread over
minicell's pool instead), so no bit depends on the thread count.

Randomness is sample-indexed (``sample_indexed``, DESIGN.md section 6): one reservation per
random layer and step, masks indexed by global row, so the pass draws its micro-batches' masks.
Ghost BatchNorm reports each segment's statistics (``plan.stats``); ``ghost_batch_norm`` turns
them into the step's one update of the moving statistics.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._autograd.graph import backprop
from minicell._checks import Shown, fail_type, fail_value
from minicell._runtime import segments
from minicell._runtime.blas import single_threaded_blas
from minicell._runtime.memory import keep_freed_memory
from minicell._runtime.reservations import sample_indexed
from minicell.tensor import Tensor

WHO = "TrainOneStepCell"


def rows_of(inputs: tuple) -> int:
    """The common number of rows (axis 0) of the batched inputs."""
    lengths = {np.shape(getattr(x, "_data", x))[0] for x in inputs if np.ndim(getattr(x, "_data", x)) >= 1}
    if len(lengths) != 1:
        raise fail_value(WHO, "inputs", "batched along axis 0 with the same number of rows (micro-batches)",
                         Shown(f"row counts {sorted(lengths)}"))
    return lengths.pop()


def _losses(output: Any, n: int) -> np.ndarray:
    """The network's output as one loss per segment, or the error of an output that is not."""
    if not isinstance(output, Tensor) or output.dtype.kind != "f":
        raise fail_type(WHO, "network", "a Cell returning a floating-point loss Tensor",
                        Shown(f"one returning {type(output).__name__}"))
    if n == 1 and output.size == 1:
        return output._data.reshape(1)
    if output.shape != (n,):
        raise fail_value(WHO, "network", f"a Cell whose loss is reduced over the batch by minicell's ops (one value "
                         f"per micro-batch: shape [{n}] for the {n} micro-batches of this rank's rows); a loss "
                         f"that mixes the micro-batches cannot be split",
                         Shown(f"a loss of shape {list(output.shape)}"))
    return output._data


def one_pass(network: Any, params: tuple, inputs: tuple, first_row: int, size: int) -> tuple[list, list]:
    """``(contributions, stats)``: per segment, one gradient per parameter and the loss, in the
    order of ``params`` (each exactly its micro-batch's); and ghost BatchNorm's records."""
    keep_freed_memory()
    rows = rows_of(inputs)
    fixed = [p._data for p in network.get_parameters()]
    with single_threaded_blas(), sample_indexed([], first_row), segments.segments(rows, size, fixed) as plan:
        if plan.n == 1:  # one micro-batch: the plain pass is its pass
            with segments.suspended():
                output = network(*inputs)
                losses = _losses(output, 1)
                found = backprop(output, np.ones(output.shape, output.dtype)) if output._requires_grad else {}
        else:
            output = network(*inputs)
            losses = _losses(output, plan.n)
            found = backprop(output, np.ones(output.shape, output.dtype)) if output._requires_grad else {}
    grads = []
    for p in params:
        g = found.get(id(p), (None, None))[1]
        if g is None:
            grads.append([np.zeros(p.shape, p.dtype)] * plan.n)
        elif g.shape == p.shape:
            grads.append([g] * plan.n)  # the same for every segment (a term not computed from the rows)
        else:
            grads.append([g[i] for i in range(plan.n)])
    contributions = [[g[i] for g in grads] + [losses[i:i + 1].reshape(())] for i in range(plan.n)]
    return contributions, plan.stats
