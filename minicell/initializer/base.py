"""The ``Initializer`` base class, fan computation, gains, and ``initializer(...)``.

Fan-in and fan-out follow PyTorch's ``_calculate_fan_in_and_fan_out``: for a weight of shape
``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
Gains follow ``torch.nn.init.calculate_gain``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._checks import (
    Shown,
    check_dtype,
    check_finite,
    check_option,
    check_shape,
    checked_cast,
    describe,
    fail_type,
    fail_value,
    is_integer,
)
from minicell.generator import Generator, resolve
from minicell.random.distributions import Compute, check_size
from minicell.tensor import DTYPE_NAMES, Tensor

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def fans(shape: tuple[int, ...], who: str) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape; needs at least 2 dimensions (as PyTorch)."""
    if len(shape) < 2:
        raise fail_value(who, "shape", "a shape with at least 2 dimensions to compute fan-in and fan-out",
                         Shown(repr(tuple(shape))))
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def fan_for_mode(shape: tuple[int, ...], mode: str, who: str) -> float:
    """fan_in, fan_out, or their mean ('fan_avg'), by ``mode``."""
    fan_in, fan_out = fans(shape, who)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (torch.nn.init.calculate_gain).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope**2));
    selu: 3/4.
    """
    check_option("calculate_gain", "nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_finite("calculate_gain", "param", param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    return 1.0


class Initializer:
    """Base class: ``init(shape, dtype, generator)`` returns a filled ndarray.

    Random initializers (``random = True``) define ``prepare(shape, dtype)``, which validates
    everything and returns ``compute(seed, offset)``; the call then reserves exactly one step of
    the generator and computes, so a failing call reserves nothing. Deterministic ones define
    ``fill(shape, dtype)`` and reserve nothing.
    """

    random = False

    def fill(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The values of a deterministic initializer (subclasses)."""
        raise NotImplementedError

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> Compute:
        """Validate and return ``compute(seed, offset)`` for a random initializer (subclasses)."""
        raise NotImplementedError

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise if this initializer cannot fill ``shape`` (before any step is reserved)."""

    def max_abs(self, shape: tuple[int, ...]) -> float:
        """An upper bound on |value| of a random initializer for ``shape`` (subclasses), so a
        float16 weight whose values would overflow to inf is refused before anything is drawn."""
        return 0.0

    def plan(self, shape: Any, dtype: Any = np.float32, generator: Generator | None = None,
             who: str | None = None) -> Callable[[], np.ndarray]:
        """Validate every argument now; return a function that reserves (if random) and fills.

        Layers plan all their initializers before running any, so a bad one draws nothing.
        ``who`` names the caller in errors (the initializer's class by default).
        """
        who = who or type(self).__name__
        shape = check_shape(who, "shape", shape)
        dt = check_dtype(who, dtype, FLOAT_DTYPES if self.random else tuple(DTYPE_NAMES))
        check_size(who, "shape", shape)
        self.check_shape(shape)
        if not self.random:  # filled now, so a value the dtype cannot hold fails before any draw
            filled = self.fill(shape, dt)
            return lambda: filled.copy()
        gen = resolve(generator, who)
        draw_dtype = np.dtype(np.float64 if dt == np.float64 else np.float32)  # float16 is drawn as float32
        compute = self.prepare(shape, draw_dtype)
        bound = self.max_abs(shape)
        if dt == np.float16 and bound > float(np.finfo(np.float16).max):
            raise fail_value(who, "dtype", f"a dtype that holds values up to {bound:g} (float16 stops at 65504)",
                             Shown("float16"))

        def run() -> np.ndarray:
            seed, offset = gen(1)
            return compute(seed, offset).astype(dt, copy=False)  # float16: checked above to stay finite
        return run

    def __call__(self, shape: Any, dtype: Any = np.float32, generator: Generator | None = None) -> np.ndarray:
        return self.plan(shape, dtype, generator)()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({settings})"


_ALIASES: dict[str, Callable[[], Initializer]] = {}


def register_alias(name: str, factory: Callable[[], Initializer]) -> None:
    _ALIASES[name.lower()] = factory


def constant_array(who: str, arg: str, value: Any, dt: np.dtype) -> np.ndarray:
    """A number as a 0-d array of ``dt``: ints outside the dtype's range, NaN and inf into an int
    dtype, and values beyond a float dtype's range are refused (never wrapped or made inf)."""
    if is_integer(value) and not -(1 << 63) <= int(value) < 1 << 64:  # beyond what NumPy holds
        if dt.kind in "iub":
            info = np.iinfo(dt) if dt.kind != "b" else np.iinfo(np.uint8)
            raise fail_value(who, arg, f"in [{info.min}, {info.max}] to be stored as {dt}",
                             Shown(f"values in [{describe(int(value))}, {describe(int(value))}]"))
        try:
            value = float(value)
        except OverflowError:
            raise fail_value(who, arg, f"within the range of {dt} (max {np.finfo(dt).max:g})", value) from None
    return checked_cast(who, arg, np.asarray(value), dt)


def plan_initializer(init: Any, shape: Any, dtype: Any = np.float32, generator: Generator | None = None,
                     who: str = "initializer", arg: str = "init") -> Callable[[], Tensor]:
    """Validate ``initializer``'s arguments now; return a function that makes the Tensor.

    ``who`` and ``arg`` name the caller in errors (``Dense`` and ``bias_init`` for a layer)."""
    shape = check_shape(who, "shape", shape)
    if isinstance(init, str):
        factory = _ALIASES.get(init.lower())
        if factory is None:
            raise fail_value(who, arg, f"an Initializer or one of {sorted(_ALIASES)}", init)
        init = factory()
    if isinstance(init, Initializer):
        fill = init.plan(shape, dtype, generator, who=None if who == "initializer" else who)
        return lambda: Tensor._wrap(fill())
    dt = check_dtype(who, dtype, tuple(DTYPE_NAMES))
    check_size(who, "shape", shape)
    if isinstance(init, (bool, np.bool_)):
        raise fail_type(who, arg, "an Initializer, an alias, a number or an array", init)
    if isinstance(init, (int, float, np.integer, np.floating)):
        value = constant_array(who, arg, init, dt)
        return lambda: Tensor._wrap(np.full(shape, value, dtype=dt))
    if isinstance(init, (Tensor, np.ndarray)):
        array = init._data if isinstance(init, Tensor) else np.asarray(init)
        if array.shape != shape:
            raise fail_value(who, arg, f"an array of shape {list(shape)}",
                             Shown(f"an array of shape {list(array.shape)}"))
        if array.dtype not in DTYPE_NAMES:
            raise fail_type(who, arg, "an array of numbers", Shown(f"an array of dtype {array.dtype}"))
        values = checked_cast(who, arg, array, dt)
        return lambda: Tensor._wrap(np.array(values, dtype=dt))
    raise fail_type(who, arg, "an Initializer, an alias, a number or an array", init)


def initializer(init: Any, shape: Any, dtype: Any = np.float32, generator: Generator | None = None) -> Tensor:
    """Make a Tensor of ``shape`` from an Initializer, an alias, a number, or an array/Tensor.

    Args:
        init: an ``Initializer``; an alias such as ``'zeros'``, ``'normal'``, ``'he_uniform'``
            (case-insensitive); an int or float (a constant); or an array/Tensor of ``shape``.
        shape: the output shape. dtype: the output dtype.
        generator: where random initializers draw (the default generator when None).
    """
    return plan_initializer(init, shape, dtype, generator)()
