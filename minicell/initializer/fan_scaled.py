"""Random initializers scaled by the weight's fans: Xavier (Glorot), He (Kaiming), VarianceScaling.

Each reserves one generator step and draws through ``minicell.random`` (see ``random_init.py``).
"""
from __future__ import annotations

import math

import numpy as np

from minicell._checks import check_finite, check_option, check_real, fail_value
from minicell.initializer.base import Initializer, calculate_gain, fan_for_mode, fans, register_alias
from minicell.initializer.random_init import normal_draw
from minicell.random import gaussian
from minicell.random.distributions import NORMAL_MAX_Z, Compute, prepare_uniform

MODES = ("fan_in", "fan_out", "fan_avg")
# std of a standard normal truncated to [-2, 2], the factor MindSpore and TensorFlow divide by
TRUNCATED_STD_FACTOR = 0.87962566103423978


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
        return prepare_uniform(type(self).__name__, shape, -bound, bound, dtype)

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
        return normal_draw("XavierNormal", shape, self._std(shape), dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return NORMAL_MAX_Z * self._std(shape)


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
        return prepare_uniform(type(self).__name__, shape, -bound, bound, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return math.sqrt(3.0) * self._std(shape)


class HeNormal(HeUniform):
    """N(0, std**2), std = gain / sqrt(fan) (alias 'he_normal'); He et al. (2015). Same Args as
    HeUniform."""

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        return normal_draw("HeNormal", shape, self._std(shape), dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        return NORMAL_MAX_Z * self._std(shape)


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
            return gaussian.prepare_truncated_normal("VarianceScaling", shape, 0.0, std, -2 * std, 2 * std, dtype)
        if self.distribution == "untruncated_normal":
            return normal_draw("VarianceScaling", shape, math.sqrt(self.scale / n), dtype)
        limit = math.sqrt(3.0 * self.scale / n)
        return prepare_uniform("VarianceScaling", shape, -limit, limit, dtype)

    def max_abs(self, shape: tuple[int, ...]) -> float:
        n = max(1.0, fan_for_mode(shape, self.mode, "VarianceScaling"))
        return max(2 / TRUNCATED_STD_FACTOR, NORMAL_MAX_Z, math.sqrt(3.0)) * math.sqrt(self.scale / n)


for _name, _factory in (("xavier_uniform", XavierUniform), ("xavier_normal", XavierNormal),
                        ("he_uniform", HeUniform), ("he_normal", HeNormal), ("variance_scaling", VarianceScaling)):
    register_alias(_name, _factory)
