"""Differentiable activations and the numerically stable softmax family."""
from __future__ import annotations

import math

import numpy as np

from minicell.tensor import Tensor, record, unwrap


def relu(a: Tensor) -> Tensor:
    x = unwrap(a)
    out = np.maximum(x, 0)
    return record(out, (a,), lambda g: (g * (x > 0),))


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(unwrap(a))
    return record(out, (a,), lambda g: (g * (1 - out * out),))


def sigmoid(a: Tensor) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    x = unwrap(a)
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return record(out, (a,), lambda g: (g * out * (1 - out),))


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    """GELU (Hendrycks & Gimpel, 2016): x * Phi(x), exact (erf) or with the tanh approximation."""
    x = unwrap(a)
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        inner = c * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        out = 0.5 * x * (1 + t)
        return record(out, (a,), lambda g: (
            g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)),))
    if approximate != "none":
        raise ValueError(f"For 'gelu', 'approximate' must be one of ['none', 'tanh'], but got {approximate!r}.")
    from minicell._special import erf
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return record((x * cdf).astype(x.dtype), (a,), lambda g: ((g * (cdf + x * pdf)).astype(x.dtype),))


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    """exp(x - max) / sum(exp(x - max)); backward: s * (g - sum(g * s))."""
    x = unwrap(a)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    out = shifted / shifted.sum(axis=axis, keepdims=True)
    return record(out, (a,), lambda g: (out * (g - (g * out).sum(axis=axis, keepdims=True)),))


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    """x - max - log(sum(exp(x - max))); backward: g - softmax * sum(g)."""
    x = unwrap(a)
    shifted = x - x.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return record(out, (a,), lambda g: (g - np.exp(out) * g.sum(axis=axis, keepdims=True),))
