"""Transforms: the base class, ``Compose`` and ``RandomNoise`` (``mindspore.dataset.transforms``).

A minicell transform works on many samples at once: ``apply(x, draw)`` gets the rows of one
column stacked on axis 0 (arrays the pipeline owns, which it may change in place) and, when
the transform is random, a ``Draw`` (``minicell.dataset.counters``) whose words are the
per-sample counters of the transform's slot. One NumPy pass per batch, no Python loop over
samples, and the same values however the rows are grouped into batches, workers or shards.

Called directly on one sample (MindSpore's eager mode, ``RandomNoise(0.1)(x)``), a transform
works on a copy; a random one reserves one offset of the default generator and treats the
sample as sample 0 of slot 0 there.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from minicell._checks import Shown, fail, fail_type, fail_value
from minicell.dataset.counters import Draw, compute_then_reserve
from minicell.generator import default_generator
from minicell.random.distributions import _u32_in_place
from minicell.random.gaussian import _box_muller


class Transform:
    """Base of minicell's vectorised transforms. Subclasses set ``random`` and define ``apply``."""

    random = False

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        """Transform the rows of ``x`` (axis 0 indexes samples); random ones read ``draw.words``."""
        raise fail(NotImplementedError, type(self).__name__, "apply", "defined by the subclass to transform a batch",
                   Shown("the base Transform's"))

    def flatten(self) -> list[Any]:
        """The operations this transform stands for in a pipeline (``Compose`` lists its members)."""
        return [self]

    def __call__(self, sample: Any) -> np.ndarray:
        rows = np.array(sample, copy=True)[None]
        one = np.zeros(1, np.int64)
        if not self.random:
            return self.apply(rows, Draw(0, 0, 0, one))[0]
        return compute_then_reserve(default_generator(),
                                    lambda seed, offset: self.apply(rows.copy(), Draw(seed, offset, 0, one))[0])[2]

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"


def check_operation(who: str, arg: str, op: Any) -> Any:
    """A pipeline operation: a minicell ``Transform`` or any callable (called once per sample)."""
    if not isinstance(op, Transform) and not callable(op):
        raise fail_type(who, arg, "a Transform or a callable", op)
    return op


class Compose(Transform):
    """Apply ``transforms`` in order (``mindspore.dataset.transforms.Compose``).

    In ``map`` the members take consecutive slots, exactly as if they were listed one by one.

    Args:
        transforms: a non-empty list of Transforms or callables.
    """

    def __init__(self, transforms: list[Any]) -> None:
        if not isinstance(transforms, (list, tuple)):
            raise fail_type("Compose", "transforms", "a list of Transforms or callables", transforms)
        if not transforms:
            raise fail_value("Compose", "transforms", "a non-empty list", Shown(str(list(transforms))))
        self.transforms = [check_operation("Compose", "transforms", t) for t in transforms]

    def flatten(self) -> list[Any]:
        return [op for t in self.transforms for op in (t.flatten() if isinstance(t, Transform) else [t])]

    def __call__(self, sample: Any) -> Any:
        for op in self.transforms:
            sample = op(sample)
        return sample


class RandomNoise(Transform):
    """Add Gaussian jitter ``std * z`` to every element of any array (a minicell addition).

    ``z`` is float32 standard normal by Box-Muller on the sample's own words (DESIGN.md section
    2.3): for a sample of ``m`` elements, ``K = m + (m mod 2)`` words, so ``z`` equals
    ``minicell.random.normal(seed, offset, (m,), start=4 * ((s + 1) * 2**56 + i * ceil(K / 4)))``.
    The output is ``x + (z.astype(dt) * dt(std))`` in ``dt``, the input's float dtype (float32
    for integer input).

    Args:
        std: the standard deviation, a finite float >= 0.
    """

    random = True

    def __init__(self, std: float) -> None:
        if isinstance(std, (bool, np.bool_)) or not isinstance(std, numbers.Real):
            raise fail_type("RandomNoise", "std", "a finite float >= 0", std)
        value = float(std)
        if not 0 <= value < math.inf:
            raise fail_value("RandomNoise", "std", "a finite float >= 0", value)
        self.std: float = value

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        n = x.shape[0]
        m = int(np.prod(x.shape[1:], dtype=np.int64))
        pairs = (m + 1) // 2
        u = _u32_in_place(np.ascontiguousarray(draw.words(2 * pairs)))
        z = np.empty((n * pairs, 2), np.float32)
        _box_muller(u[:, 0::2].reshape(-1), u[:, 1::2].reshape(-1), z)
        dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        noise = z.reshape(n, 2 * pairs)[:, :m].astype(dt)
        noise *= dt.type(self.std)
        out = x.astype(dt, copy=x.dtype != dt)
        out += noise.reshape(x.shape)
        return out

