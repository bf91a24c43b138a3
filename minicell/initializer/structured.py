"""Random initializers with structure: Orthogonal (QR of a normal matrix) and Sparse.

Each reserves one generator step and draws through ``minicell.random`` (see ``random_init.py``).
"""
from __future__ import annotations

import math

import numpy as np

from minicell._checks import Shown, check_finite, check_real, fail_value
from minicell.initializer.base import Initializer, register_alias
from minicell.initializer.random_init import check_sigma, normal_draw
from minicell.random import gaussian
from minicell.random.distributions import NORMAL_MAX_Z, Compute
from minicell.random.philox import random_words

SUBSTREAM = 1 << 62  # second independent range inside one subsequence (word index)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (alias 'orthogonal'); Saxe et al., "Exact
    solutions to the nonlinear dynamics of learning in deep linear neural networks" (2013).

    The weight is viewed as ``(shape[0], prod(shape[1:]))``; a float64 normal matrix of that
    shape (transposed when wide) is QR-factorized and ``Q`` sign-corrected by ``diag(R)``, as
    torch.nn.init.orthogonal_. QR comes from NumPy's LAPACK, so other BLAS builds may differ in
    the last bits.

    Args:
        gain: scaling factor.
    """
    random = True

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = check_finite("Orthogonal", "gain", gain)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) < 2:
            raise fail_value("Orthogonal", "shape", "a shape with at least 2 dimensions",
                             Shown(repr(tuple(shape))))

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        rows, cols = shape[0], math.prod(shape[1:])
        normal = gaussian.prepare_normal("Orthogonal", (rows, cols), dtype=np.float64)

        def compute(seed: int, offset: int) -> np.ndarray:
            flat = normal(seed, offset)
            if rows < cols:
                flat = flat.T
            q, r = np.linalg.qr(flat)
            q *= np.where(np.diag(r) < 0, -1.0, 1.0)
            if rows < cols:
                q = q.T
            return (self.gain * q).reshape(shape).astype(dtype)
        return compute

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return abs(self.gain)  # entries of an orthonormal Q are at most 1 in magnitude


class Sparse(Initializer):
    """A 2-D matrix with N(0, sigma**2) entries, a fraction ``sparsity`` of each column zero
    (alias 'sparse'); Martens, "Deep learning via Hessian-free optimization" (2010).

    ``ceil(sparsity * rows)`` rows of each column are zeroed: those whose 64-bit random keys
    (words ``2**62 + 2e`` and ``2**62 + 2e + 1`` of the subsequence) rank lowest in the column.

    Args:
        sparsity: fraction of zeros per column, in [0, 1). sigma: standard deviation, >= 0.
    """
    random = True

    def __init__(self, sparsity: float, sigma: float = 0.01) -> None:
        self.sparsity = check_real("Sparse", "sparsity", sparsity, 0.0, 1.0, closed_high=False)
        self.sigma = check_sigma("Sparse", sigma)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            raise fail_value("Sparse", "shape", "a 2-D shape", Shown(repr(tuple(shape))))

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        rows, cols = shape
        normal = normal_draw("Sparse", shape, self.sigma, dtype)

        def compute(seed: int, offset: int) -> np.ndarray:
            values = normal(seed, offset)
            words = random_words(seed, offset, 2 * rows * cols, start=SUBSTREAM).astype(np.uint64)
            keys = ((words[0::2] << np.uint64(32)) | words[1::2]).reshape(rows, cols)
            ranks = np.argsort(np.argsort(keys, axis=0, kind="stable"), axis=0, kind="stable")
            values[ranks < math.ceil(self.sparsity * rows)] = 0
            return values
        return compute

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return NORMAL_MAX_Z * self.sigma


for _name, _factory in (("orthogonal", Orthogonal), ("sparse", lambda: Sparse(0.1))):
    register_alias(_name, _factory)
