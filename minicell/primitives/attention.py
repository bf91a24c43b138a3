"""Scaled dot-product attention on arrays (Vaswani et al., "Attention Is All You Need", 2017).

Forward, for ``q`` of shape ``(..., L, D)``, ``k`` ``(..., S, D)``, ``v`` ``(..., S, Dv)``::

    scores = scale * q @ k^T + bias            (bias: additive mask, -inf where masked)
    P      = softmax(scores, axis=-1)          (max-subtracted, so it never overflows)
    Pd     = drop(P)                           (the dropout on probabilities, or the identity)
    out    = Pd @ v

``drop`` is any *linear elementwise* map (dropout: ``x * keep * scale`` with a counter-based
mask), so its transpose is itself: the backward applies the same ``drop`` to the gradient, and
nothing but ``P`` (and the inputs) is kept between forward and backward; ``Pd`` is recomputed.
A ``drop`` with a method ``many(a, b)`` (the same map on two arrays) lets the backward recompute
``Pd`` and drop ``dO @ v^T`` in one pass over the mask.
Backward (``dO`` the gradient of ``out``)::

    dv = Pd^T @ dO;   dP = drop(dO @ v^T);   dS = P * dP - P * rowsum(P * dP);
    dq = scale * dS @ k;   dk = scale * dS^T @ q

The returned probabilities ``Pd`` are differentiable too (``dP = drop(dPd)``, then the same).

A row whose keys are all masked has no defined softmax and gives NaN (as PyTorch does).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Drop = Callable[[np.ndarray], np.ndarray]
Backward = Callable[..., Any]


def softmax_last(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place on ``scores`` (returned)."""
    with np.errstate(invalid="ignore"):
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None, scale: float,
              drop: Drop | None = None) -> tuple[np.ndarray, np.ndarray, Backward, Backward]:
    """``(out, Pd, backward, weights_backward)``: the attention output, the (dropped-out)
    probabilities, ``backward(dO) -> (dq, dk, dv)`` and ``weights_backward(dPd) -> (dq, dk, None)``
    (the gradient through the returned probabilities)."""
    dtype = q.dtype
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= dtype.type(scale)
    if bias is not None:
        scores += bias
    probs = softmax_last(scores)
    dropped = probs if drop is None else drop(probs)
    out = np.matmul(dropped, v)

    def through_softmax(d_dropped: np.ndarray, dropped_already: bool = False) -> tuple[np.ndarray, np.ndarray]:
        dp = d_dropped if drop is None or dropped_already else drop(d_dropped)
        ds = dp * probs  # a fresh array: d_dropped is never modified
        ds -= probs * ds.sum(axis=-1, keepdims=True)
        ds *= dtype.type(scale)
        return np.matmul(ds, k), np.matmul(np.swapaxes(ds, -1, -2), q)

    def backward(grad_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = np.asarray(grad_out, dtype=dtype)
        d_dropped = np.matmul(g, np.swapaxes(v, -1, -2))
        many = getattr(drop, "many", None)
        if many is not None:  # Pd and drop(dO @ v^T) under one pass over the mask
            kept, dp = many(probs, d_dropped)
            dv = np.matmul(np.swapaxes(kept, -1, -2), g)
            del kept
            dq, dk = through_softmax(dp, dropped_already=True)
            return dq, dk, dv
        kept = probs if drop is None else drop(probs)
        dv = np.matmul(np.swapaxes(kept, -1, -2), g)
        del kept
        dq, dk = through_softmax(d_dropped)
        return dq, dk, dv

    def weights_backward(grad_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        dq, dk = through_softmax(np.asarray(grad_weights, dtype=dtype))
        return dq, dk, None
    return out, dropped, backward, weights_backward
