"""Central finite differences in float64, to check analytic gradients."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import minicell as mc


def numeric_grads(fn: Callable[..., mc.Tensor], arrays: Sequence[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """d sum(fn(*arrays) * w) / d array_i for a fixed random weighting w, by central differences."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out = fn(*[mc.Tensor(a) for a in arrays])
    weights = np.random.default_rng(0).standard_normal(out.shape)
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = (fn(*[mc.Tensor(x) for x in arrays]).asnumpy() * weights).sum()
            a[idx] = old - eps
            minus = (fn(*[mc.Tensor(x) for x in arrays]).asnumpy() * weights).sum()
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def analytic_grads(fn: Callable[..., mc.Tensor], arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The same weighted sum differentiated by minicell's autograd."""
    tensors = [mc.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * weights).sum().backward()
    return [t.grad.asnumpy() if t.grad is not None else np.zeros(t.shape) for t in tensors]


def assert_grads_match(fn: Callable[..., mc.Tensor], *arrays: np.ndarray, rtol: float = 1e-5,
                       atol: float = 1e-6) -> None:
    for got, want in zip(analytic_grads(fn, arrays), numeric_grads(fn, arrays)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
