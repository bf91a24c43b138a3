"""Random initializers of a given law: Uniform, Normal, TruncatedNormal.

Every random initializer reserves one generator step and draws through the stateless
distributions of ``minicell.random`` (so every value is a function of (seed, offset, index)).
Those scaled by the weight's fans are in ``fan_scaled.py``, Orthogonal and Sparse in
``structured.py``; the helpers here (``normal_draw``, ``check_sigma``) serve all three."""
from __future__ import annotations

import numpy as np

from minicell._checks import check_finite, check_real, fail_value
from minicell.initializer.base import Initializer, register_alias
from minicell.random import gaussian
from minicell.random.distributions import NORMAL_MAX_Z, Compute, prepare_uniform


def check_sigma(who: str, sigma: float) -> float:
    sigma = check_finite(who, "sigma", sigma)
    if sigma < 0:
        raise fail_value(who, "sigma", "a float >= 0", sigma)
    return sigma


def normal_draw(who: str, shape: tuple[int, ...], std: float, dtype: np.dtype, mean: float = 0.0) -> Compute:
    return gaussian.prepare_normal(who, shape, mean, std, dtype)


class Uniform(Initializer):
    """U(-scale, scale) (alias 'uniform').

    Args:
        scale: the bound, >= 0.
    """
    random = True

    def __init__(self, scale: float = 0.07) -> None:
        self.scale = check_real("Uniform", "scale", scale, 0.0)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return prepare_uniform("Uniform", shape, -self.scale, self.scale, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return self.scale


class Normal(Initializer):
    """N(mean, sigma**2) (alias 'normal').

    Args:
        sigma: standard deviation, >= 0. mean: the mean.
    """
    random = True

    def __init__(self, sigma: float = 0.01, mean: float = 0.0) -> None:
        self.sigma = check_sigma("Normal", sigma)
        self.mean = check_finite("Normal", "mean", mean)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return normal_draw("Normal", shape, self.sigma, dtype, self.mean)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return abs(self.mean) + NORMAL_MAX_Z * self.sigma


class TruncatedNormal(Initializer):
    """N(mean, sigma**2) conditioned on the absolute bounds [a, b] (alias 'truncatedNormal').

    Args:
        sigma: standard deviation, > 0. mean: the mean. a, b: absolute bounds, a <= b.
    """
    random = True

    def __init__(self, sigma: float = 0.01, mean: float = 0.0, a: float = -2.0, b: float = 2.0) -> None:
        self.sigma = check_sigma("TruncatedNormal", sigma)
        if self.sigma == 0:
            raise fail_value("TruncatedNormal", "sigma", "a float > 0", sigma)
        self.mean = check_finite("TruncatedNormal", "mean", mean)
        self.a = check_finite("TruncatedNormal", "a", a)
        self.b = check_finite("TruncatedNormal", "b", b)
        if self.a > self.b:
            raise fail_value("TruncatedNormal", "a", f"at most 'b' ({self.b})", a)

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return gaussian.prepare_truncated_normal("TruncatedNormal", shape, self.mean, self.sigma, self.a, self.b, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return max(abs(self.a), abs(self.b))


for _name, _factory in (("uniform", Uniform), ("normal", Normal), ("truncatedNormal", TruncatedNormal),
                        ("truncated_normal", TruncatedNormal)):
    register_alias(_name, _factory)
