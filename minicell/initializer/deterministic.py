"""Initializers that draw nothing: Zero, One, Constant, Identity, Dirac."""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_finite, check_int, fail_type, fail_value, is_integer
from minicell.initializer.base import Initializer, constant_array, register_alias


class Constant(Initializer):
    """Fill with ``value``.

    Args:
        value: an int or float.
    """

    def __init__(self, value: Any) -> None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise fail_type(type(self).__name__, "value", "an int or a float", value)
        if not is_integer(value):
            check_finite(type(self).__name__, "value", value)  # inf and NaN refused; ints stay exact
        self.value = value

    def fill(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.full(shape, constant_array(type(self).__name__, "value", self.value, np.dtype(dtype)), dtype=dtype)


class Zero(Constant):
    """Fill with 0 (alias 'zeros')."""

    def __init__(self) -> None:
        super().__init__(0)


class One(Constant):
    """Fill with 1 (alias 'ones')."""

    def __init__(self) -> None:
        super().__init__(1)


class Identity(Initializer):
    """The identity matrix (alias 'identity'); 2-D shapes only (torch.nn.init.eye_)."""

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            raise fail_value("Identity", "shape", "a 2-D shape", Shown(repr(tuple(shape))))

    def fill(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.eye(shape[0], shape[1], dtype=dtype)


class Dirac(Initializer):
    """The Dirac delta for 3-, 4- and 5-D convolution weights (alias 'dirac'), preserving the
    identity of the inputs in as many channels as possible, per group (torch.nn.init.dirac_).

    Args:
        groups: number of groups; ``shape[0]`` must be divisible by it.
    """

    def __init__(self, groups: int = 1) -> None:
        self.groups = check_int("Dirac", "groups", groups, 1)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) not in (3, 4, 5):
            raise fail_value("Dirac", "shape", "a 3-, 4- or 5-D shape", Shown(repr(tuple(shape))))
        if shape[0] % self.groups:
            raise fail_value("Dirac", "shape", f"a first dimension divisible by groups={self.groups}",
                             Shown(repr(tuple(shape))))

    def fill(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        out = np.zeros(shape, dtype=dtype)
        per_group = shape[0] // self.groups
        centre = tuple(k // 2 for k in shape[2:])
        for g in range(self.groups):
            for d in range(min(per_group, shape[1])):
                out[(g * per_group + d, d) + centre] = 1
        return out


for _name, _factory in (("zeros", Zero), ("ones", One), ("identity", Identity), ("dirac", Dirac),
                        ("eye", Identity)):
    register_alias(_name, _factory)

