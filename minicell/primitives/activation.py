"""Activations and the numerically stable softmax family."""
from __future__ import annotations

import math

import numpy as np

from minicell._checks import check_option
from minicell._special import erf
from minicell.primitives.math import Result
from minicell.primitives.reduce import normalize_axes


def relu(x: np.ndarray) -> Result:
    return np.maximum(x, 0), lambda g: (g * (x > 0),)


def tanh(x: np.ndarray) -> Result:
    out = np.tanh(x)
    return out, lambda g: (g * (1 - out * out),)


def sigmoid(x: np.ndarray) -> Result:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, lambda g: (g * out * (1 - out),)


def gelu(x: np.ndarray, approximate: str = "none") -> Result:
    """GELU (Hendrycks & Gimpel, 2016): x * Phi(x), exact (erf) or with the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    approximate = check_option("gelu", "approximate", approximate, ("none", "tanh"))
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        out = 0.5 * x * (1 + t)
        return out, lambda g: (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)),)
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return (x * cdf).astype(x.dtype), lambda g: ((g * (cdf + x * pdf)).astype(x.dtype),)


def softmax(x: np.ndarray, axis: int = -1) -> Result:
    """exp(x - max) / sum(exp(x - max)); backward: s * (g - sum(g * s))."""
    (axis,) = normalize_axes("softmax", axis, x.ndim, single=True) or (0,)
    if np.size(x) == 0:  # nothing to normalize: an empty result (NumPy's max has no identity)
        return np.array(x, dtype=np.result_type(x, np.float32)), lambda g: (g,)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    out = shifted / shifted.sum(axis=axis, keepdims=True)
    return out, lambda g: (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


def log_softmax(x: np.ndarray, axis: int = -1) -> Result:
    """x - max - log(sum(exp(x - max))); backward: g - softmax * sum(g)."""
    (axis,) = normalize_axes("log_softmax", axis, x.ndim, single=True) or (0,)
    if np.size(x) == 0:
        return np.array(x, dtype=np.result_type(x, np.float32)), lambda g: (g,)
    shifted = x - x.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out, lambda g: (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
