"""Stateless distributions: words of the (seed, offset) stream -> values (DESIGN.md section 2.3).

Every function is a pure function of ``(seed, offset, element index)``: element ``e`` of a draw
with ``start=s`` is element ``s + e`` of the same draw with ``start=0``, so
``f(seed, offset, (n,))[a:b] == f(seed, offset, (b - a,), start=a)`` however the work is cut.

Formulas (element ``e``; ``U32(w) = (w & 0x7FFFFF) * 2**-23``,
``U64(w0, w1) = (((w0 & 0xFFFFF) << 32) | w1) * 2**-52``):

* float32 uniform: ``U32(word e)``; float64 uniform: ``U64(word 2e, word 2e+1)``;
  ``uniform(low, high) = low + (high - low) * u`` in the output dtype, clamped below ``high``.
* normal (Box-Muller), pair ``k`` = elements ``2k, 2k+1``: float32 from words ``2k, 2k+1``,
  float64 from ``U64(4k, 4k+1)`` and ``U64(4k+2, 4k+3)``; ``u1 = max(u_a, 1e-7)``,
  ``r = sqrt(-2 ln u1)``, ``v = 2 pi u_b``; element ``2k = r sin v``, ``2k+1 = r cos v``.
  float32 arithmetic for float32; sin/cos/log come from NumPy, so across CPUs and NumPy builds
  normals agree to a few ulp, not always bit for bit (uniforms, integers and masks do).
* truncated normal on absolute bounds ``[a, b]``: inverse CDF,
  ``z = ndtri(Phi(alpha) + u (Phi(beta) - Phi(alpha)))`` with ``u = (m + 0.5) 2**-52`` from
  words ``2e, 2e+1`` (``m`` the 52-bit mantissa of U64), in float64, mirrored when
  ``alpha > 0`` so the tail is computed where it is small; ``x = mean + std z`` clipped to
  ``[a, b]``. ``ndtri`` is Acklam's approximation: relative error < 1.15e-9 in the quantile.

This module holds the checks every draw shares, the words-to-uniform conversion and ``uniform``;
``minicell.random.gaussian`` holds ``normal`` and ``truncated_normal``, ``minicell.random.discrete``
integers, permutations and masks.
* integers in ``[low, high)``, ``n = high - low``: ``K = 2`` words per element if
  ``n <= 2**32`` else ``K = 4``; ``X`` = words ``Ke .. Ke+K-1`` read as one big-endian
  ``32K``-bit integer; value ``low + floor(X n / 2**(32K))`` (Lemire's multiply-shift, exact in
  multi-limb arithmetic). Each value's probability is within ``2**-(32K)`` of ``1/n``: relative
  bias at most ``n / 2**(32K) <= 2**-32``.
* permutation of ``range(n)``: sort the indices by 128-bit keys (words ``4i .. 4i+3``); the result
  is exactly uniform unless two keys tie, which has probability below ``n**2 / 2**129``.
* keep-mask with drop probability ``p``: 16-bit lane ``e`` (lane ``2w`` = low half of word ``w``),
  ``t = round(p * 65536)``, kept iff ``lane >= t``.
* bernoulli with probability ``p``: 1 iff ``word e < round(p * 2**32)`` (p within 2**-33).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minicell._checks import (
    UINT64_LIMIT,
    Shown,
    check_dtype,
    check_finite,
    check_int,
    check_shape,
    check_uint64,
    fail_value,
)
from minicell._runtime.parallel import run_parallel, scratch
from minicell.random.philox import memory_limit, stream_into

CHUNK = 1 << 17  # elements converted per pass (one Philox chunk of words for float32): ~1 MiB of scratch
STREAM_WORDS = 4 * UINT64_LIMIT
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT_DTYPES = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64,
                                          np.uint8, np.uint16, np.uint32, np.uint64))

_F32_ONE_BITS = np.uint32(0x3F800000)  # bit pattern of 1.0f: OR-ing a mantissa gives [1, 2)
_F64_ONE_BITS = np.uint64(0x3FF0000000000000)
_M23 = np.uint32(0x7FFFFF)
_M20 = np.uint64(0xFFFFF)

NORMAL_MAX_Z = math.sqrt(-2.0 * math.log(1e-7)) * (1 + 1e-6)  # Box-Muller's largest |z| (u1 >= 1e-7), rounded up
Compute = Callable[[int, int], np.ndarray]  # (seed, offset) -> values, once arguments are valid


# ----- validation (public functions validate, private ones compute) ---------------------------
def check_state(who: str, seed: Any, offset: Any) -> tuple[int, int]:
    """``(seed, offset)`` as ints in [0, 2**64)."""
    return check_uint64(who, "seed", seed), check_uint64(who, "offset", offset)


MEMORY_LIMIT = memory_limit()  # bytes of physical memory: no array may exceed it


def check_size(who: str, arg: str, shape: tuple[int, ...], itemsize: int = 8) -> int:
    """The element count of ``shape``, refused when its array (``itemsize`` bytes per element,
    8 by default: the widest working array of a draw) could not fit in physical memory, so a
    huge shape is a ValueError before anything is reserved, never a MemoryError after."""
    count = math.prod(shape)
    if count * itemsize > MEMORY_LIMIT:
        raise fail_value(who, arg, f"a shape whose array fits in memory (at most {MEMORY_LIMIT // itemsize} "
                         f"elements here)", Shown(f"{list(shape)} ({count} elements)"))
    return count


def check_extent(who: str, shape: Any, start: Any, words_per_element: float, align: int = 1,
                 shape_arg: str = "shape") -> tuple[tuple[int, ...], int, int]:
    """Validate ``shape`` and ``start``: ``(shape, start, count)``, the draw inside the stream.

    Elements are produced in groups of ``align`` (Box-Muller pairs), each element taking
    ``words_per_element`` words, so the last word used is below
    ``ceil(ceil((start + count) / align) * align * words_per_element)`` <= 2**66 (computed
    exactly, in integers: floats would round 2**66 + 4 down to 2**66). The shape is checked
    first, so a shape too large for memory (or the stream) blames the shape, not ``start``.
    """
    shape = check_shape(who, shape_arg, shape)
    num, den = float(words_per_element).as_integer_ratio()  # exact: 1/2, 1, 2, 4 words per element
    count = math.prod(shape)
    if count * num > STREAM_WORDS * den:
        raise fail_value(who, shape_arg, f"at most {STREAM_WORDS * den // num} elements to fit in the 2**66-word "
                         "stream", Shown(f"{list(shape)} ({count} elements)"))
    check_size(who, shape_arg, shape)
    start = check_int(who, "start", start, 0)
    end_words = -(-(-(-(start + count) // align) * align * num) // den)  # ceil(ceil((start+count)/align)*align*per)
    if end_words > STREAM_WORDS:
        limit = STREAM_WORDS * den // (num * align) * align
        if start == 0:
            raise fail_value(who, shape_arg, f"at most {limit} elements to fit in the 2**66-word stream",
                             Shown(f"{count} elements"))
        raise fail_value(who, "start", f"at most {limit - count} for {count} elements in the 2**66-word stream",
                         start)
    return shape, start, count


def check_float_bounds(who: str, names: tuple[str, str], low: Any, high: Any, dt: np.dtype) -> tuple[float, float]:
    """Finite bounds, ``low <= high``, representable in ``dt`` with a finite difference."""
    low = check_finite(who, names[0], low)
    high = check_finite(who, names[1], high)
    if low > high:
        raise fail_value(who, names[0], f"at most '{names[1]}' ({high})", low)
    top = float(np.finfo(dt).max)
    for name, v in zip(names, (low, high)):
        if abs(v) > top:
            raise fail_value(who, name, f"within the range of {dt} (|x| <= {top:g})", v)
    with np.errstate(over="ignore"):
        span = float(dt.type(high) - dt.type(low)) if dt != np.float64 else high - low
    if not math.isfinite(span):
        raise fail_value(who, names[1], f"such that '{names[1]}' - '{names[0]}' is finite in {dt}",
                         Shown(f"{high!r} - {low!r}"))
    return low, high


def _words(seed: int, offset: int, first: int, count: int) -> np.ndarray:
    """Words ``[first, first + count)`` in this thread's scratch buffer ``random.words``."""
    words = scratch("random.words", (max(count, 4 * CHUNK + 8),), np.uint32)[:count]
    stream_into(words, seed, offset, first)
    return words


def _chunks(lo: int, hi: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for a in range(lo, hi, size):
        yield a, min(a + size, hi)


# ----- uniform ---------------------------------------------------------------------------------
def _u32_in_place(words: np.ndarray) -> np.ndarray:
    """U32 of each word, in place: (w & 0x7FFFFF) * 2**-23, via the bits of [1, 2) minus 1."""
    words &= _M23
    words |= _F32_ONE_BITS
    u = words.view(np.float32)
    u -= np.float32(1.0)
    return u


def _u64_from(words: np.ndarray) -> np.ndarray:
    """U64 of consecutive word pairs: (((w0 & 0xFFFFF) << 32) | w1) * 2**-52, via [1, 2) - 1."""
    high = words[0::2].astype(np.uint64)
    high &= _M20
    high <<= np.uint64(32)
    high |= words[1::2]
    high |= _F64_ONE_BITS
    u = high.view(np.float64)
    u -= 1.0
    return u


def _uniform_into(out: np.ndarray, seed: int, offset: int, start: int) -> None:
    if out.dtype == np.float32:
        bits = out.view(np.uint32)

        def body(lo: int, hi: int) -> None:
            for a, b in _chunks(lo, hi):
                stream_into(bits[a:b], seed, offset, start + a)
                _u32_in_place(bits[a:b])
    else:
        def body(lo: int, hi: int) -> None:
            for a, b in _chunks(lo, hi):
                out[a:b] = _u64_from(_words(seed, offset, 2 * (start + a), 2 * (b - a)))
    run_parallel(out.shape[0], body)


def prepare_uniform(who: str, shape: Any, low: Any = 0.0, high: Any = 1.0, dtype: Any = np.float32,
                    start: Any = 0, shape_arg: str = "shape") -> Compute:
    """Validate a uniform draw's arguments; return ``compute(seed, offset)`` that cannot fail."""
    dt = check_dtype(who, dtype, FLOAT_DTYPES)
    shape, start, _ = check_extent(who, shape, start, dt.itemsize / 4, shape_arg=shape_arg)
    low, high = check_float_bounds(who, ("low", "high"), low, high, dt)

    def compute(seed: int, offset: int) -> np.ndarray:
        out = np.empty(shape, dt)
        flat = out.reshape(-1)
        _uniform_into(flat, seed, offset, start)
        if (low, high) != (0.0, 1.0):
            _scale_into(flat, low, high)
        return out
    return compute


def uniform(seed: int, offset: int, shape: Any, low: float = 0.0, high: float = 1.0,
            dtype: Any = np.float32, start: int = 0) -> np.ndarray:
    """Uniform values in ``[low, high)`` (float32: 23 random bits; float64: 52).

    Args:
        seed, offset: the stream, ints in [0, 2**64).
        shape: output shape. low, high: finite bounds, ``low <= high``, representable in
            ``dtype`` with a finite difference.
        dtype: float32 or float64. start: index of the first element in the whole draw.
    """
    compute = prepare_uniform("uniform", shape, low, high, dtype, start)
    return compute(*check_state("uniform", seed, offset))


def _scale_into(flat: np.ndarray, low: float, high: float) -> None:
    """u -> low + (high - low) u in the output dtype, kept below ``high`` despite rounding."""
    flat *= flat.dtype.type(high - low)
    flat += flat.dtype.type(low)
    if high > low:
        np.minimum(flat, np.nextafter(flat.dtype.type(high), flat.dtype.type(low)), out=flat)
