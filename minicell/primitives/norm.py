"""Batch and layer normalization as arrays (Ioffe & Szegedy 2015; Ba, Kiros & Hinton 2016).

Training-mode normalization over the statistic axes ``A`` (``M`` elements per statistic):

    mean = E_A[x],  var = E_A[(x - mean)^2]  (biased, as both papers),  inv = 1 / sqrt(var + eps)
    xhat = (x - mean) * inv,  y = gamma * xhat + beta

and its backward (the standard closed form, gradients summed over the parameter axes ``P``):

    dxhat = g * gamma
    dx = inv * (dxhat - E_A[dxhat] - xhat * E_A[dxhat * xhat])
    dgamma = sum_P(g * xhat),  dbeta = sum_P(g)

Inference-mode batch normalization with fixed statistics is the affine map
``y = x * scale + (beta - mean * scale)``, ``scale = gamma / sqrt(var + eps)``.

Inside a one-pass micro-batched step (``minicell._runtime.segments``), when the statistic or
parameter axes include the batch axis 0, both run per segment with the shapes of a lone
micro-batch: batch statistics become each segment's own (ghost batch normalization, Hoffer et
al. 2017), returned stacked along a new axis 0, and ``dgamma``, ``dbeta`` come per segment.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._runtime import segments

Backward = Callable[[np.ndarray], tuple[Any, ...]]


def normalize(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, stat_axes: tuple[int, ...],
              param_axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, Backward]:
    """``(y, mean, var, backward)``; ``gamma``/``beta`` broadcast against ``x``; ``mean`` and
    ``var`` (biased) keep dims; ``backward(g)`` returns ``(dx, dgamma, dbeta)`` in their shapes."""
    plan = segments.rows_plan(x) if 0 in stat_axes or 0 in param_axes else None
    if plan is not None:
        stats: list[Any] = [None] * plan.n

        def call(i: int) -> tuple[Any, ...]:
            lo, hi = plan.bounds[i]
            y, mean, var, lone_backward = normalize(x[lo:hi], gamma, beta, stat_axes, param_axes, eps)
            stats[i] = (mean, var)
            return y, lone_backward
        y, joined = segments.per_segment(plan, call, (True, False, False), x[:plan.size].size)
        join = np.stack if 0 in stat_axes else np.concatenate  # per-segment statistics, or per-row ones
        return y, join([m for m, _ in stats]), join([v for _, v in stats]), joined
    dtype = np.result_type(x, gamma)
    x = x.astype(dtype, copy=False)
    mean = x.mean(axis=stat_axes, keepdims=True)
    centered = x - mean
    var = np.square(centered).mean(axis=stat_axes, keepdims=True)
    inv = (1.0 / np.sqrt(var + eps)).astype(dtype, copy=False)
    xhat = centered * inv
    y = xhat * gamma + beta

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dxhat = g * gamma
        dx = inv * (dxhat - dxhat.mean(axis=stat_axes, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=stat_axes, keepdims=True))
        dgamma = (g * xhat).sum(axis=param_axes).reshape(np.shape(gamma))
        dbeta = g.sum(axis=param_axes).reshape(np.shape(beta))
        return dx, dgamma, dbeta
    return y, mean, var, backward


def affine_normalize(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
                     param_axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, Backward]:
    """``(y, backward)`` for ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` with fixed
    statistics (all broadcast against ``x``); ``backward(g)`` returns ``(dx, dgamma, dbeta)``."""
    plan = segments.rows_plan(x) if 0 in param_axes else None
    if plan is not None:
        def call(i: int) -> tuple[Any, ...]:
            lo, hi = plan.bounds[i]
            return affine_normalize(x[lo:hi], gamma, beta, mean, var, param_axes, eps)
        return segments.per_segment(plan, call, (True, False, False), x[:plan.size].size)
    dtype = np.result_type(x, gamma)
    inv = (1.0 / np.sqrt(var + eps)).astype(dtype)
    scale = gamma * inv
    y = x * scale + (beta - mean * scale)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dgamma = (g * (x - mean) * inv).sum(axis=param_axes).reshape(np.shape(gamma))
        return g * scale, dgamma, g.sum(axis=param_axes).reshape(np.shape(beta))
    return y.astype(dtype, copy=False), backward
