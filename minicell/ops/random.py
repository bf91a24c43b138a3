"""Random ops that draw from a Generator (the default one when ``generator`` is None).

Each op reserves exactly one offset step and computes its values with the stateless
distributions of ``minicell.random`` at that ``(seed, offset)``: after ``manual_seed(s)`` the same
ops give the same values on any machine, and no op's values depend on the sizes of earlier ops.
A call with bad arguments reserves nothing.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import is_integer
from minicell.random import discrete, distributions
from minicell.generator import resolve
from minicell.tensor import Tensor


def _size(size: tuple) -> Any:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return size


def _run(who: str, generator: Any, compute: Any) -> Tensor:
    return Tensor(resolve(generator, who).draw(compute))


def rand(*size: Any, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Uniform values in [0, 1) of the given size (ints, or one tuple)."""
    shape = _size(size)
    return _run("rand", generator, lambda s, o: distributions.uniform(s, o, shape, dtype=dtype))


def randn(*size: Any, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Standard normal values of the given size (ints, or one tuple)."""
    shape = _size(size)
    return _run("randn", generator, lambda s, o: distributions.normal(s, o, shape, dtype=dtype))


def uniform(shape: Any, low: float = 0.0, high: float = 1.0, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Uniform values in [low, high)."""
    return _run("uniform", generator, lambda s, o: distributions.uniform(s, o, shape, low, high, dtype=dtype))


def normal(shape: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Normal values with the given mean and standard deviation."""
    return _run("normal", generator, lambda s, o: distributions.normal(s, o, shape, mean, std, dtype=dtype))


def randint(low: int, high: int, size: Any, generator: Any = None, dtype: Any = np.int64) -> Tensor:
    """Integers uniform on [low, high)."""
    return _run("randint", generator, lambda s, o: discrete.randint(s, o, low, high, size, dtype=dtype))


def randperm(n: int, generator: Any = None) -> Tensor:
    """A random permutation of ``range(n)`` (int64)."""
    return _run("randperm", generator, lambda s, o: discrete.permutation(s, o, n))


def bernoulli(p: Any, size: Any = None, generator: Any = None) -> Tensor:
    """1 with probability ``p`` else 0: ``p`` a float, or a Tensor of probabilities.

    The result has ``size`` (default: ``p``'s shape) and ``p``'s float dtype (float32 for a
    Python float).
    """
    probs = p._data if isinstance(p, Tensor) else p
    if isinstance(probs, np.ndarray) and probs.dtype.kind != "f":
        raise TypeError(f"For 'bernoulli', 'p' must hold floating-point probabilities, but got dtype {probs.dtype}.")
    shape = size if size is not None else np.shape(probs)
    if is_integer(shape):
        shape = (int(shape),)
    dtype = probs.dtype if isinstance(probs, np.ndarray) else np.float32
    return _run("bernoulli", generator, lambda s, o: discrete.bernoulli(s, o, shape, probs, dtype=dtype))
