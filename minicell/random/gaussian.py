"""Normal draws: ``normal`` (Box-Muller) and ``truncated_normal`` (inverse CDF).

Formulas (DESIGN.md section 2.3; the full list is in ``minicell.random.distributions``):

* normal (Box-Muller), pair ``k`` = elements ``2k, 2k+1``: float32 from words ``2k, 2k+1``,
  float64 from ``U64(4k, 4k+1)`` and ``U64(4k+2, 4k+3)``; ``u1 = max(u_a, 1e-7)``,
  ``r = sqrt(-2 ln u1)``, ``v = 2 pi u_b``; element ``2k = r sin v``, ``2k+1 = r cos v``.
* truncated normal on absolute bounds ``[a, b]``: ``z = ndtri(Phi(alpha) + u (Phi(beta) -
  Phi(alpha)))`` with ``u = (m + 0.5) 2**-52``, mirrored when ``alpha > 0``; ``x = mean + std z``
  clipped to ``[a, b]`` (Acklam's ndtri: relative error < 1.15e-9 in the quantile).

Both are pure functions of ``(seed, offset, element index)``, like every draw of this package.
"""
from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from minicell._checks import Shown, check_dtype, check_finite, fail_value
from minicell._runtime.parallel import run_parallel
from minicell._special import ndtri
from minicell.random.distributions import (
    FLOAT_DTYPES,
    NORMAL_MAX_Z,
    Compute,
    _chunks,
    _u32_in_place,
    _u64_from,
    _words,
    check_extent,
    check_float_bounds,
    check_state,
)

_SMALLEST = 5e-324  # the smallest positive float64
_BELOW_ONE = 1.0 - 2.0 ** -53  # the largest float64 below 1


# ----- normal ----------------------------------------------------------------------------------
def _box_muller(u1: np.ndarray, u2: np.ndarray, out_pairs: np.ndarray) -> None:
    """out_pairs[:, 0] = r sin v, out_pairs[:, 1] = r cos v with r = sqrt(-2 ln max(u1, 1e-7))."""
    dt = u1.dtype.type
    np.maximum(u1, dt(1e-7), out=u1)
    np.log(u1, out=u1)
    u1 *= dt(-2.0)
    np.sqrt(u1, out=u1)
    u2 *= dt(2.0 * math.pi)
    np.sin(u2, out=out_pairs[:, 0])
    np.cos(u2, out=out_pairs[:, 1])
    out_pairs[:, 0] *= u1
    out_pairs[:, 1] *= u1


def _normal_into(out: np.ndarray, seed: int, offset: int, start: int) -> None:
    words_per_pair = 2 if out.dtype == np.float32 else 4

    def body(lo: int, hi: int) -> None:
        for a, b in _chunks(lo, hi):
            first_pair, end_pair = (start + a) // 2, (start + b + 1) // 2
            words = _words(seed, offset, first_pair * words_per_pair,
                           (end_pair - first_pair) * words_per_pair)
            u = _u32_in_place(words) if out.dtype == np.float32 else _u64_from(words)
            u1, u2 = u[0::2].copy(), u[1::2].copy()
            pairs = np.empty((end_pair - first_pair, 2), out.dtype)
            _box_muller(u1, u2, pairs)
            skip = (start + a) - 2 * first_pair
            out[a:b] = pairs.reshape(-1)[skip:skip + (b - a)]
    run_parallel(out.shape[0], body, align=2)


def prepare_normal(who: str, shape: Any, mean: Any = 0.0, std: Any = 1.0, dtype: Any = np.float32,
                   start: Any = 0, shape_arg: str = "shape") -> Compute:
    """Validate a normal draw's arguments; return ``compute(seed, offset)`` that cannot fail."""
    dt = check_dtype(who, dtype, FLOAT_DTYPES)
    shape, start, _ = check_extent(who, shape, start, dt.itemsize / 4, align=2, shape_arg=shape_arg)
    mean = check_finite(who, "mean", mean)
    std = check_finite(who, "std", std)
    if std < 0:
        raise fail_value(who, "std", "a float >= 0", std)
    top = float(np.finfo(dt).max)
    if abs(mean) + NORMAL_MAX_Z * std > top:  # the largest |value| Box-Muller can give must be finite
        raise fail_value(who, "std" if abs(mean) <= top else "mean",
                         f"such that |mean| + {NORMAL_MAX_Z:.4f} * std <= {top:g} (the largest {dt} value)",
                         Shown(f"mean={mean!r}, std={std!r}"))

    def compute(seed: int, offset: int) -> np.ndarray:
        out = np.empty(shape, dt)
        flat = out.reshape(-1)
        _normal_into(flat, seed, offset, start)
        if (mean, std) != (0.0, 1.0):
            flat *= dt.type(std)
            flat += dt.type(mean)
        return out
    return compute


def normal(seed: int, offset: int, shape: Any, mean: float = 0.0, std: float = 1.0,
           dtype: Any = np.float32, start: int = 0) -> np.ndarray:
    """Normal values ``mean + std * z`` with ``z`` from Box-Muller (see the module docstring).

    Args:
        seed, offset: the stream. shape: output shape. mean: finite. std: finite, >= 0.
        dtype: float32 or float64. start: index of the first element (odd is fine).
    """
    compute = prepare_normal("normal", shape, mean, std, dtype, start)
    return compute(*check_state("normal", seed, offset))


def _phi(x: float) -> float:
    """Standard normal CDF, accurate in both tails (math.erfc)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def prepare_truncated_normal(who: str, shape: Any, mean: Any = 0.0, std: Any = 1.0, a: Any = -2.0,
                             b: Any = 2.0, dtype: Any = np.float32, start: Any = 0) -> Compute:
    """Validate a truncated normal draw's arguments; return ``compute(seed, offset)``."""
    dt = check_dtype(who, dtype, FLOAT_DTYPES)
    shape, start, count = check_extent(who, shape, start, 2)
    mean, std = check_finite(who, "mean", mean), check_finite(who, "std", std)
    if std <= 0:
        raise fail_value(who, "std", "a float > 0", std)
    a, b = check_float_bounds(who, ("a", "b"), a, b, dt)
    alpha, beta = (a - mean) / std, (b - mean) / std
    mirrored = alpha > 0
    if mirrored:
        alpha, beta = -beta, -alpha
    p_lo, p_hi = _phi(alpha), _phi(beta)
    if p_hi <= p_lo and a < b:
        raise fail_value(who, "[a, b]", f"an interval with float64 probability mass under Normal({mean}, {std})",
                         Shown(f"[{a}, {b}]"))

    def compute(seed: int, offset: int) -> np.ndarray:
        values = np.empty(count, np.float64)

        def body(lo: int, hi: int) -> None:
            for x, y in _chunks(lo, hi):
                u = _u64_from(_words(seed, offset, 2 * (start + x), 2 * (y - x)))
                u += 2.0 ** -53  # midpoint of the 2**-52 cell: u in (0, 1)
                p = p_lo + u * (p_hi - p_lo)
                np.clip(p, _SMALLEST, _BELOW_ONE, out=p)  # rounding must not reach 0 or 1
                values[x:y] = ndtri(p) if a < b else np.full(y - x, alpha)

        run_parallel(count, body)
        if mirrored:
            np.negative(values, out=values)
        values *= std
        values += mean
        out = np.clip(values, a, b).astype(dt).reshape(shape)
        return cast(np.ndarray, np.clip(out, dt.type(a) if dt.type(a) >= a else np.nextafter(dt.type(a), dt.type(b)),
                       dt.type(b) if dt.type(b) <= b else np.nextafter(dt.type(b), dt.type(a))))
    return compute


def truncated_normal(seed: int, offset: int, shape: Any, mean: float = 0.0, std: float = 1.0,
                     a: float = -2.0, b: float = 2.0, dtype: Any = np.float32, start: int = 0) -> np.ndarray:
    """Normal(mean, std) conditioned on ``[a, b]`` (absolute bounds, as torch's trunc_normal_).

    Exactly the truncated law up to the quantile error of Acklam's ndtri (< 1.15e-9 relative);
    nothing falls outside ``[a, b]``.

    Args:
        seed, offset: the stream. shape: output shape. mean: finite. std: finite, > 0.
        a, b: finite bounds, ``a <= b``. dtype: float32 or float64. start: first element's index.
    """
    compute = prepare_truncated_normal("truncated_normal", shape, mean, std, a, b, dtype, start)
    return compute(*check_state("truncated_normal", seed, offset))
