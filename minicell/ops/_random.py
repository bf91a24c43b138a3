"""Random ops that draw from a Generator (the default one when ``generator`` is None).

Each op follows one order: **validate** every argument (the stateless ``prepare_*`` functions of
``minicell.random`` check them and return a computation that cannot fail), **reserve** exactly
one offset step with ``generator(1)``, **compute** at that ``(seed, offset)``. So a call with bad
arguments reserves nothing, concurrent callers never compute twice, and after
``manual_seed(s)`` the same ops give the same values on any machine; no op's values depend on the
sizes of earlier ops.

Inside a micro-batched training step (one pass over a rank's rows, DESIGN.md section 8) these ops
index their values from 0 on every rank, so a draw with one value per row of the batch would
differ with the world size: such a draw (axis 0 the rank's row count) is refused before anything
is reserved. Per-row randomness there is ``ops.dropout`` / ``nn.Dropout``, indexed by global row.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, is_integer
from minicell._runtime import segments
from minicell.generator import resolve
from minicell.random import discrete, distributions, gaussian
from minicell.random.distributions import Compute
from minicell.tensor import Tensor, unwrap


def _size(size: tuple) -> Any:
    """``f(2, 3)`` or ``f((2, 3))``: the shape (validated by the distribution)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return size


def _draw(who: str, generator: Any, prepare: Any, shape: Any = ()) -> Tensor:
    """Validate (the generator, then ``prepare()``, then ``shape`` inside a micro-batched step),
    reserve one step, compute."""
    gen = resolve(generator, who)
    compute: Compute = prepare()
    _refuse_batch_rows(who, shape)
    seed, offset = gen(1)
    return Tensor._wrap(compute(seed, offset))


def _refuse_batch_rows(who: str, shape: Any) -> None:
    """The error for a draw of one value per row of a micro-batched step's batch (module docstring)."""
    plan = segments.step_plan()
    dims = (shape,) if is_integer(shape) else tuple(shape)
    if plan is not None and dims and int(dims[0]) == plan.rows:
        raise segments.refuse(who, "size", "a shape whose axis 0 is not the batch's (random ops index their values "
                              "from 0 on every rank; per-row randomness is ops.dropout or nn.Dropout, indexed by "
                              "global row)", Shown(f"shape {[int(d) for d in dims]} for a batch of {plan.rows} rows"))


def rand(*size: Any, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Uniform values in [0, 1) of the given size (ints, or one tuple)."""
    return _draw("rand", generator, lambda: distributions.prepare_uniform(
        "rand", _size(size), dtype=dtype, shape_arg="size"), _size(size))


def randn(*size: Any, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Standard normal values of the given size (ints, or one tuple)."""
    return _draw("randn", generator, lambda: gaussian.prepare_normal(
        "randn", _size(size), dtype=dtype, shape_arg="size"), _size(size))


def uniform(shape: Any, low: float = 0.0, high: float = 1.0, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Uniform values in [low, high) (bounds representable in ``dtype``, with a finite difference)."""
    return _draw("uniform", generator, lambda: distributions.prepare_uniform("uniform", shape, low, high, dtype),
                 shape)


def normal(shape: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None, dtype: Any = np.float32) -> Tensor:
    """Normal values with the given mean and standard deviation."""
    return _draw("normal", generator, lambda: gaussian.prepare_normal("normal", shape, mean, std, dtype), shape)


def randint(low: int, high: int, size: Any, generator: Any = None, dtype: Any = np.int64) -> Tensor:
    """Integers uniform on [low, high)."""
    return _draw("randint", generator, lambda: discrete.prepare_randint(
        "randint", low, high, size, dtype, shape_arg="size"), size)


def randperm(n: int, generator: Any = None) -> Tensor:
    """A random permutation of ``range(n)`` (int64)."""
    return _draw("randperm", generator, lambda: discrete.prepare_permutation("randperm", n), n)


def bernoulli(p: Any, size: Any = None, generator: Any = None) -> Tensor:
    """1 with probability ``p`` else 0: ``p`` a float, or a Tensor of probabilities.

    The result has ``size`` (default: ``p``'s shape) and ``p``'s float dtype (float32 for a
    Python float).
    """
    probs = unwrap(p)
    shape = size if size is not None else np.shape(probs)
    if is_integer(shape):
        shape = (int(shape),)
    dtype = probs.dtype if isinstance(probs, np.ndarray) and probs.dtype.kind == "f" else np.float32
    return _draw("bernoulli", generator, lambda: discrete.prepare_bernoulli(
        "bernoulli", shape, probs, dtype, shape_arg="size"), shape)
