"""``batch_norm`` and ``layer_norm``: Tensor wrappers of ``minicell.primitives.norm``.

``batch_norm`` follows ``mindspore.ops.batch_norm`` (and ``torch.nn.functional.batch_norm``):
``momentum`` weighs the NEW batch, ``running = (1 - momentum) * running + momentum * batch``
(default 0.1). ``nn.BatchNorm*`` layers use MindSpore's layer convention instead, where
``momentum=0.9`` weighs the OLD value, and pass ``1 - momentum`` here. The batch is normalized
with its biased variance; ``running_var`` is updated with the unbiased one (``var * M / (M - 1)``
over the ``M`` values per channel), as PyTorch and cuDNN (MindSpore's GPU backend) do.
Running statistics are updated in place, outside the graph, as
``running_var = (1 - momentum) * running_var + momentum * (var * M / (M - 1))``.

Inside a micro-batched training step (``TrainOneStepCell(..., micro_batch_size=M)``) training
BatchNorm is ghost batch normalization (Hoffer et al. 2017): each micro-batch (a segment of the
one pass, ``minicell._runtime.segments``) is normalized by its own statistics, exactly as if it
ran alone, and the running statistics are not touched here: each segment's mean and unbiased
variance are reported to the step (``GhostStats``), which updates the running statistics once,
from their exact mean over all micro-batches of the global batch (``nn._one_pass``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_bool, check_real, fail_type, fail_value, is_integer
from minicell._runtime import segments
from minicell._runtime.reservations import replaying
from minicell.primitives import norm as P
from minicell.tensor import Tensor, record, unwrap


def _float_tensor(who: str, arg: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        raise fail_type(who, arg, "a floating-point Tensor",
                        x if not isinstance(x, Tensor) else Shown(f"dtype {x.dtype}"))
    return x


def _channel_vector(who: str, arg: str, value: Any, channels: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, Tensor) or value.shape != (channels,):
        what = Shown(f"shape {list(value.shape)}") if isinstance(value, Tensor) else value
        raise fail_value(who, arg, f"a Tensor of shape [{channels}]", what)
    return value


class GhostStats:
    """One training BatchNorm call's per-segment statistics in a micro-batched step: ``means`` and
    ``variances`` (unbiased) of shape ``(segments, C)``, for the step's one update of
    ``running_mean``/``running_var`` with ``momentum`` (the weight of the new statistics)."""

    def __init__(self, running_mean: Tensor, running_var: Tensor, momentum: float, means: np.ndarray,
                 variances: np.ndarray) -> None:
        self.running_mean, self.running_var, self.momentum = running_mean, running_var, momentum
        self.means, self.variances = means, variances


def _segment_values(x: Tensor, step: Any) -> list[int]:
    """Values per channel in each segment of a micro-batched step (one segment when the pass is
    not cut: a lone micro-batch on this rank)."""
    per_row = int(np.prod(x.shape[2:], dtype=np.int64))
    plan = segments.rows_plan(x._data)
    bounds = plan.bounds if plan is not None else [(0, x.shape[0])]
    return [(hi - lo) * per_row for lo, hi in bounds] if step is not None else [x.size // max(x.shape[1], 1)]


def _flat(d: np.ndarray, channels: int) -> np.ndarray:
    """A (C,)-shaped parameter gradient flattened, keeping a leading segment axis if stacked."""
    return d.reshape(-1) if d.size == channels else d.reshape(d.shape[0], channels)


def batch_norm_impl(who: str, x: Any, running_mean: Tensor, running_var: Tensor, weight: Tensor, bias: Tensor,
                    use_batch: bool, momentum: float, eps: float, arg: str = "x") -> Tensor:
    """Batch statistics (and a running-statistics update) when ``use_batch``, else the running ones."""
    _float_tensor(who, arg, x)
    if x.ndim < 2:
        raise fail_value(who, arg, "a Tensor of shape (N, C, ...)", Shown(f"shape {list(x.shape)}"))
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                       ("weight", weight), ("bias", bias)):
        _channel_vector(who, name, value, channels)
    axes = (0,) + tuple(range(2, x.ndim))
    step = segments.step_plan() if use_batch else None
    counts = _segment_values(x, step)
    if use_batch and min(counts) < 2:
        raise fail_value(who, arg, "a Tensor with more than 1 value per channel to train on" +
                         (" in every micro-batch" if len(counts) > 1 else ""), Shown(f"shape {list(x.shape)}"))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    gamma, beta = unwrap(weight).reshape(shape), unwrap(bias).reshape(shape)
    if use_batch:
        out, mean, var, backward = P.normalize(unwrap(x), gamma, beta, axes, axes, eps)
        means, variances = mean.reshape(len(counts), channels), var.reshape(len(counts), channels)
        unbiased = np.stack([v * (m / (m - 1)) for v, m in zip(variances, counts)])
        if step is None:
            rm, rv = unwrap(running_mean), unwrap(running_var)
            rm[...] = (1 - momentum) * rm + momentum * means[0]
            rv[...] = (1 - momentum) * rv + momentum * unbiased[0]
        elif not replaying():  # a recompute re-runs the forward: the statistics were reported once
            step.stats.append(GhostStats(running_mean, running_var, momentum, means, unbiased))
    else:
        mean = unwrap(running_mean).reshape(shape)
        var = unwrap(running_var).reshape(shape)
        out, backward = P.affine_normalize(unwrap(x), gamma, beta, mean, var, axes, eps)

    def flat_backward(g: np.ndarray) -> tuple:
        dx, dgamma, dbeta = backward(g)
        return dx, _flat(dgamma, channels), _flat(dbeta, channels)
    return record(out, (x, weight, bias), flat_backward)


def batch_norm(input_x: Tensor, running_mean: Tensor, running_var: Tensor, weight: Tensor, bias: Tensor,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize ``input_x`` ``(N, C, ...)`` per channel (see the module docstring).

    Args:
        input_x: a floating-point Tensor. running_mean, running_var, weight, bias: ``(C,)`` Tensors.
        training: use the batch statistics and update the running ones in place.
        momentum: weight of the batch statistics in the running update, in [0, 1].
        eps: added to the variance, > 0.
    """
    training = check_bool("batch_norm", "training", training)
    momentum = check_real("batch_norm", "momentum", momentum, 0.0, 1.0)
    eps = check_real("batch_norm", "eps", eps, 0.0)
    return batch_norm_impl("batch_norm", input_x, running_mean, running_var, weight, bias, training, momentum, eps,
                           "input_x")


def layer_norm_impl(who: str, x: Any, gamma: Any, beta: Any, begin_norm_axis: int, begin_params_axis: int,
                    eps: float, arg: str = "x") -> Tensor:
    """Normalize over axes ``[begin_norm_axis, R)``; ``gamma``/``beta`` have ``x.shape[begin_params_axis:]``."""
    _float_tensor(who, arg, x)
    rank = x.ndim
    for name, axis in (("begin_norm_axis", begin_norm_axis), ("begin_params_axis", begin_params_axis)):
        if not -rank <= axis < rank:
            raise fail_value(who, name, f"an int in [{-rank}, {rank}) for a {rank}-D input", axis)
    norm_axis, params_axis = begin_norm_axis % rank, begin_params_axis % rank
    params_shape = x.shape[params_axis:]
    for value in (gamma, beta):
        if value is not None and tuple(value.shape) != params_shape:
            raise fail_value(who, arg, f"a Tensor whose shape from axis {begin_params_axis} is the parameters' "
                             f"shape {list(value.shape)}", Shown(f"shape {list(x.shape)}"))
    dtype = x.dtype
    g = np.ones(params_shape, dtype) if gamma is None else unwrap(gamma)
    b = np.zeros(params_shape, dtype) if beta is None else unwrap(beta)
    out, _, _, backward = P.normalize(unwrap(x), g, b, tuple(range(norm_axis, rank)),
                                      tuple(range(params_axis)), eps)
    return record(out, (x, gamma, beta), backward)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` axes, then scale by ``weight`` and shift by
    ``bias`` (both of ``normalized_shape``, or None), as ``mindspore.ops.layer_norm``."""
    dims = (normalized_shape,) if is_integer(normalized_shape) else normalized_shape
    if not isinstance(dims, (tuple, list)) or not dims or not all(is_integer(d) for d in dims):
        raise fail_type("layer_norm", "normalized_shape", "an int or a non-empty tuple of ints", normalized_shape)
    _float_tensor("layer_norm", "input", input)
    if tuple(input.shape[-len(dims):]) != tuple(int(d) for d in dims) or len(dims) > input.ndim:
        raise fail_value("layer_norm", "normalized_shape", f"the trailing shape of the input {list(input.shape)}",
                         normalized_shape)
    eps = check_real("layer_norm", "eps", eps, 0.0)
    axis = input.ndim - len(dims)
    return layer_norm_impl("layer_norm", input, weight, bias, axis, axis, eps, "input")
