"""Random initializers: each reserves one generator step and draws through the stateless
distributions of ``minicell.random`` (so every value is a function of (seed, offset, index))."""
from __future__ import annotations

import math

import numpy as np

from minicell._checks import Shown, check_finite, check_option, check_real, fail_value
from minicell.initializer.base import Initializer, calculate_gain, fan_for_mode, fans, register_alias
from minicell.random import distributions as D
from minicell.random.distributions import Compute
from minicell.random.philox import random_words

MODES = ("fan_in", "fan_out", "fan_avg")
SUBSTREAM = 1 << 62  # second independent range inside one subsequence (word index)
# std of a standard normal truncated to [-2, 2], the factor MindSpore and TensorFlow divide by
TRUNCATED_STD_FACTOR = 0.87962566103423978


def _sigma(who: str, sigma: float) -> float:
    sigma = check_finite(who, "sigma", sigma)
    if sigma < 0:
        raise fail_value(who, "sigma", "a float >= 0", sigma)
    return sigma


def _normal(who: str, shape: tuple, std: float, dtype: np.dtype, mean: float = 0.0) -> Compute:
    return D.prepare_normal(who, shape, mean, std, dtype)


class Uniform(Initializer):
    """U(-scale, scale) (alias 'uniform').

    Args:
        scale: the bound, >= 0.
    """
    random = True

    def __init__(self, scale: float = 0.07) -> None:
        self.scale = check_real("Uniform", "scale", scale, 0.0)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return D.prepare_uniform("Uniform", shape, -self.scale, self.scale, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return self.scale


class Normal(Initializer):
    """N(mean, sigma**2) (alias 'normal').

    Args:
        sigma: standard deviation, >= 0. mean: the mean.
    """
    random = True

    def __init__(self, sigma: float = 0.01, mean: float = 0.0) -> None:
        self.sigma = _sigma("Normal", sigma)
        self.mean = check_finite("Normal", "mean", mean)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return _normal("Normal", shape, self.sigma, dtype, self.mean)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return abs(self.mean) + D.NORMAL_MAX_Z * self.sigma


class TruncatedNormal(Initializer):
    """N(mean, sigma**2) conditioned on the absolute bounds [a, b] (alias 'truncatedNormal').

    Args:
        sigma: standard deviation, > 0. mean: the mean. a, b: absolute bounds, a <= b.
    """
    random = True

    def __init__(self, sigma: float = 0.01, mean: float = 0.0, a: float = -2.0, b: float = 2.0) -> None:
        self.sigma = _sigma("TruncatedNormal", sigma)
        if self.sigma == 0:
            raise fail_value("TruncatedNormal", "sigma", "a float > 0", sigma)
        self.mean = check_finite("TruncatedNormal", "mean", mean)
        self.a = check_finite("TruncatedNormal", "a", a)
        self.b = check_finite("TruncatedNormal", "b", b)
        if self.a > self.b:
            raise fail_value("TruncatedNormal", "a", f"at most 'b' ({self.b})", a)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return D.prepare_truncated_normal("TruncatedNormal", shape, self.mean, self.sigma, self.a, self.b, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return max(abs(self.a), abs(self.b))


class XavierUniform(Initializer):
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (alias 'xavier_uniform').

    Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
    networks" (2010).

    Args:
        gain: scaling factor, >= 0.
    """
    random = True

    def __init__(self, gain: float = 1) -> None:
        self.gain = check_real(type(self).__name__, "gain", gain, 0.0)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        fans(shape, type(self).__name__)

    def _bound(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = fans(shape, type(self).__name__)
        return self.gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        bound = self._bound(shape)
        return D.prepare_uniform(type(self).__name__, shape, -bound, bound, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return self._bound(shape)


class XavierNormal(XavierUniform):
    """N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)) (alias 'xavier_normal'); Glorot &
    Bengio (2010).

    Args:
        gain: scaling factor, >= 0.
    """

    def _std(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = fans(shape, "XavierNormal")
        return self.gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return _normal("XavierNormal", shape, self._std(shape), dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return D.NORMAL_MAX_Z * self._std(shape)


class HeUniform(Initializer):
    """U(-bound, bound), bound = gain * sqrt(3 / fan) (alias 'he_uniform'); He et al., "Delving
    deep into rectifiers" (2015). ``gain = calculate_gain(nonlinearity, negative_slope)``.

    Args:
        negative_slope: the leaky-ReLU slope after this layer (0 for ReLU).
        mode: 'fan_in' (preserve forward variance) or 'fan_out' (backward).
        nonlinearity: 'leaky_relu' (default) or 'relu', or another of calculate_gain's names.
    """
    random = True

    def __init__(self, negative_slope: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> None:
        who = type(self).__name__
        self.negative_slope = check_finite(who, "negative_slope", negative_slope)
        self.mode = check_option(who, "mode", mode, ("fan_in", "fan_out"))
        calculate_gain(nonlinearity, self.negative_slope)
        self.nonlinearity = nonlinearity

    def check_shape(self, shape: tuple[int, ...]) -> None:
        fans(shape, type(self).__name__)

    def _std(self, shape: tuple[int, ...]) -> float:
        fan = fan_for_mode(shape, self.mode, type(self).__name__)
        gain = calculate_gain(self.nonlinearity, self.negative_slope)
        return gain / math.sqrt(fan) if fan else 0.0

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        bound = math.sqrt(3.0) * self._std(shape)
        return D.prepare_uniform(type(self).__name__, shape, -bound, bound, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return math.sqrt(3.0) * self._std(shape)


class HeNormal(HeUniform):
    """N(0, std**2), std = gain / sqrt(fan) (alias 'he_normal'); He et al. (2015). Same Args as
    HeUniform."""

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return _normal("HeNormal", shape, self._std(shape), dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return D.NORMAL_MAX_Z * self._std(shape)


class VarianceScaling(Initializer):
    """Variance scaling (TensorFlow, MindSpore): n = fan_in, fan_out or their mean by ``mode``;

    * 'truncated_normal': std ``sqrt(scale / n) / 0.87962566103423978`` cut at +-2 std;
    * 'untruncated_normal': std ``sqrt(scale / n)``;
    * 'uniform': U(-limit, limit), limit ``sqrt(3 * scale / n)``.

    Args:
        scale: > 0. mode: 'fan_in', 'fan_out' or 'fan_avg'. distribution: as above.
    """
    random = True

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal") -> None:
        self.scale = check_real("VarianceScaling", "scale", scale, 0.0)
        if self.scale <= 0:
            raise fail_value("VarianceScaling", "scale", "a float > 0", scale)
        self.mode = check_option("VarianceScaling", "mode", mode, MODES)
        self.distribution = check_option("VarianceScaling", "distribution", distribution,
                                         ("truncated_normal", "untruncated_normal", "uniform"))

    def check_shape(self, shape: tuple[int, ...]) -> None:
        fans(shape, "VarianceScaling")

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        n = max(1.0, fan_for_mode(shape, self.mode, "VarianceScaling"))
        if self.distribution == "truncated_normal":
            std = math.sqrt(self.scale / n) / TRUNCATED_STD_FACTOR
            return D.prepare_truncated_normal("VarianceScaling", shape, 0.0, std, -2 * std, 2 * std, dtype)
        if self.distribution == "untruncated_normal":
            return _normal("VarianceScaling", shape, math.sqrt(self.scale / n), dtype)
        limit = math.sqrt(3.0 * self.scale / n)
        return D.prepare_uniform("VarianceScaling", shape, -limit, limit, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        n = max(1.0, fan_for_mode(shape, self.mode, "VarianceScaling"))
        return max(2 / TRUNCATED_STD_FACTOR, D.NORMAL_MAX_Z, math.sqrt(3.0)) * math.sqrt(self.scale / n)


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
        normal = D.prepare_normal("Orthogonal", (rows, cols), dtype=np.float64)

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
        self.sigma = _sigma("Sparse", sigma)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            raise fail_value("Sparse", "shape", "a 2-D shape", Shown(repr(tuple(shape))))

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        rows, cols = shape
        normal = _normal("Sparse", shape, self.sigma, dtype)

        def compute(seed: int, offset: int) -> np.ndarray:
            values = normal(seed, offset)
            words = random_words(seed, offset, 2 * rows * cols, start=SUBSTREAM).astype(np.uint64)
            keys = ((words[0::2] << np.uint64(32)) | words[1::2]).reshape(rows, cols)
            ranks = np.argsort(np.argsort(keys, axis=0, kind="stable"), axis=0, kind="stable")
            values[ranks < math.ceil(self.sparsity * rows)] = 0
            return values
        return compute

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return D.NORMAL_MAX_Z * self.sigma


for _name, _factory in (("uniform", Uniform), ("normal", Normal), ("truncatedNormal", TruncatedNormal),
                        ("truncated_normal", TruncatedNormal), ("xavier_uniform", XavierUniform),
                        ("xavier_normal", XavierNormal), ("he_uniform", HeUniform), ("he_normal", HeNormal),
                        ("orthogonal", Orthogonal), ("sparse", lambda: Sparse(0.1)),
                        ("variance_scaling", VarianceScaling)):
    register_alias(_name, _factory)
