"""Stateless discrete draws: integers, permutations, keep-masks and Bernoulli values.

Formulas are in ``minicell.random.distributions``' docstring (DESIGN.md section 2.3). Each is a
pure function of ``(seed, offset, element index)``; ``permutation`` also of ``n``.
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from minicell._checks import Shown, check_dtype, check_int, check_real, fail_type, fail_value, is_integer
from minicell._runtime.parallel import run_parallel
from minicell.random.distributions import (
    INT_DTYPES,
    Compute,
    _chunks,
    _words,
    check_extent,
    check_size,
    check_state,
)
from minicell.random.philox import stream_into

CHUNK_ELEMENTS = 1 << 18  # dropout elements per pass: 2**17 words, one Philox chunk of lanes
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _mul_shift(limbs: list[np.ndarray], n: int) -> np.ndarray:
    """floor(X * n / 2**(32 K)) for X given as K big-endian 32-bit limbs (uint64 arrays).

    Schoolbook multiplication by the 32-bit limbs of ``n``; column sums stay below 2**40, so
    uint64 never overflows. Returns the top 64 bits of the product as uint64.
    """
    k = len(limbs)
    n_limbs = [n & 0xFFFFFFFF, (n >> 32) & 0xFFFFFFFF, n >> 64]
    while len(n_limbs) > 1 and n_limbs[-1] == 0:
        n_limbs.pop()
    x_le = limbs[::-1]  # little-endian limbs of X
    columns = [np.zeros_like(limbs[0]) for _ in range(k + len(n_limbs) + 1)]
    for i, x in enumerate(x_le):
        for j, m in enumerate(n_limbs):
            if m == 0:
                continue
            product = x * np.uint64(m)
            columns[i + j] += product & _LOW32
            columns[i + j + 1] += product >> _S32
    carry = np.zeros_like(limbs[0])
    digits = []
    for col in columns:
        col += carry
        digits.append(col & _LOW32)
        carry = col >> _S32
    # the product's limbs k .. k+1 hold floor(X n / 2**(32K)) (n < 2**64 + 1 fits in two limbs)
    top = digits[k] | (digits[k + 1] << _S32)
    return cast(np.ndarray, top)


def prepare_randint(who: str, low: Any, high: Any, shape: Any, dtype: Any = np.int64, start: Any = 0,
                    shape_arg: str = "shape") -> Compute:
    """Validate an integer draw's arguments; return ``compute(seed, offset)`` that cannot fail."""
    dt = check_dtype(who, dtype, INT_DTYPES)
    for name, v in (("low", low), ("high", high)):
        if not is_integer(v):
            raise fail_type(who, name, "an int", v)
    low, high = int(low), int(high)
    if low >= high:
        raise fail_value(who, "high", f"greater than 'low' ({low})", high)
    info = np.iinfo(dt)
    if low < info.min or high - 1 > info.max:
        raise fail_value(who, "[low, high)", f"inside the range of {dt} [{info.min}, {info.max}]",
                         Shown(f"[{low}, {high})"))
    n = high - low
    per = 2 if n <= 1 << 32 else 4
    shape, start, count = check_extent(who, shape, start, per, shape_arg=shape_arg)

    def compute(seed: int, offset: int) -> np.ndarray:
        out = np.empty(count, dt)

        def body(lo: int, hi: int) -> None:
            for a, b in _chunks(lo, hi):
                words = _words(seed, offset, per * (start + a), per * (b - a))
                limbs = [words[i::per].astype(np.uint64) for i in range(per)]
                r = _mul_shift(limbs, n)
                r += np.uint64(low % (1 << 64))  # wraps correctly to low + r modulo 2**64
                out[a:b] = r.view(np.int64) if dt.kind == "i" else r

        run_parallel(count, body)
        return cast(np.ndarray, out.reshape(shape))
    return compute


def randint(seed: int, offset: int, low: int, high: int, shape: Any, dtype: Any = np.int64,
            start: int = 0) -> np.ndarray:
    """Integers uniform on ``[low, high)`` by multi-limb multiply-shift (bias <= 2**-32).

    Args:
        seed, offset: the stream. low, high: ints, ``low < high``, both representable in
            ``dtype``, ``high - low <= 2**64``. shape: output shape.
        dtype: an integer dtype (default int64). start: index of the first element.
    """
    compute = prepare_randint("randint", low, high, shape, dtype, start)
    return compute(*check_state("randint", seed, offset))


def prepare_permutation(who: str, n: Any) -> Compute:
    """Validate a permutation's length; return ``compute(seed, offset)`` that cannot fail."""
    n = check_int(who, "n", n, 0, 1 << 62)
    check_size(who, "n", (n,), 48)  # 16 bytes of words, 16 of keys, 8 of sort indices, 8 of output

    def compute(seed: int, offset: int) -> np.ndarray:
        words = np.empty(4 * n, np.uint32)
        run_parallel(4 * n, lambda lo, hi: stream_into(words[lo:hi], seed, offset, lo), align=4)
        blocks = words.reshape(n, 4).astype(np.uint64)
        key_hi = (blocks[:, 0] << _S32) | blocks[:, 1]
        key_lo = (blocks[:, 2] << _S32) | blocks[:, 3]
        return np.lexsort((key_lo, key_hi)).astype(np.int64)
    return compute


def permutation(seed: int, offset: int, n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` (int64), by sorting 128-bit random keys.

    Exactly uniform unless two keys tie (probability below n**2 / 2**129; ties keep index order).
    """
    compute = prepare_permutation("permutation", n)
    return compute(*check_state("permutation", seed, offset))


def check_probability(who: str, arg: str, p: Any) -> float:
    """A probability: a real number in [0, 1]; bool, NaN and out-of-range values are refused."""
    return check_real(who, arg, p, 0.0, 1.0)


def drop_threshold(p: float) -> int:
    """t = round(p * 65536): a 16-bit lane is kept iff lane >= t (DESIGN.md section 2.3)."""
    return round(p * 65536)


def lanes(seed: int, offset: int, first_lane: int, count: int) -> np.ndarray:
    """16-bit lanes ``[first_lane, first_lane + count)``: lane 2w = low half of word w."""
    first_word = first_lane // 2
    words = _words(seed, offset, first_word, (first_lane + count + 1) // 2 - first_word)
    lanes = words.astype("<u4", copy=False).view("<u2")
    skip = first_lane - 2 * first_word
    return lanes[skip:skip + count]


def prepare_keep_mask(who: str, shape: Any, p: Any, start: Any = 0) -> Compute:
    """Validate a keep-mask's arguments; return ``compute(seed, offset)`` that cannot fail."""
    p = check_probability(who, "p", p)
    shape, start, count = check_extent(who, shape, start, 0.5)
    t = drop_threshold(p)

    def compute(seed: int, offset: int) -> np.ndarray:
        out = np.empty(count, np.bool_)
        if t >= 65536:  # p within 2**-17 of 1: no 16-bit lane reaches the threshold
            out[:] = False
            return cast(np.ndarray, out.reshape(shape))

        def body(lo: int, hi: int) -> None:
            for a, b in _chunks(lo, hi):
                np.greater_equal(lanes(seed, offset, start + a, b - a), np.uint16(t), out=out[a:b])

        run_parallel(count, body)
        return cast(np.ndarray, out.reshape(shape))
    return compute


def keep_mask(seed: int, offset: int, shape: Any, p: float, start: int = 0) -> np.ndarray:
    """Dropout keep-mask (bool): element e is kept iff 16-bit lane e >= round(p * 65536).

    Args:
        seed, offset: the stream. shape: output shape. p: drop probability in [0, 1].
        start: index of the first element in the whole mask.
    """
    compute = prepare_keep_mask("keep_mask", shape, p, start)
    return compute(*check_state("keep_mask", seed, offset))


BERNOULLI_DTYPES = (np.dtype(np.bool_), np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)) + INT_DTYPES


def prepare_bernoulli(who: str, shape: Any, p: Any, dtype: Any = np.float32, start: Any = 0,
                      shape_arg: str = "shape") -> Compute:
    """Validate a Bernoulli draw's arguments; return ``compute(seed, offset)`` that cannot fail."""
    shape, start, count = check_extent(who, shape, start, 1, shape_arg=shape_arg)
    if isinstance(p, np.ndarray) and p.ndim > 0:
        if p.dtype.kind != "f":
            raise fail_type(who, "p", "floating-point probabilities", Shown(f"an array of dtype {p.dtype}"))
        probs = np.asarray(p, dtype=np.float64)
        if np.isnan(probs).any():
            raise fail_value(who, "p", "probabilities in [0, 1]", Shown("NaN"))
        if (probs < 0).any() or (probs > 1).any():
            raise fail_value(who, "p", "probabilities in [0, 1]", Shown(f"values in [{probs.min()}, {probs.max()}]"))
        try:
            probs = np.broadcast_to(probs, shape).reshape(-1)
        except ValueError:
            raise fail_value(who, "p", f"broadcastable to the shape {list(shape)}",
                             Shown(f"shape {list(p.shape)}")) from None
        thresholds = np.round(probs * 2.0 ** 32).astype(np.uint64)
    else:
        thresholds = np.asarray(round(check_probability(who, "p", p) * 2 ** 32), dtype=np.uint64)
    dt = check_dtype(who, dtype, BERNOULLI_DTYPES)

    def compute(seed: int, offset: int) -> np.ndarray:
        out = np.empty(count, dt)

        def body(lo: int, hi: int) -> None:
            for a, b in _chunks(lo, hi):
                t = thresholds if thresholds.ndim == 0 else thresholds[a:b]
                out[a:b] = _words(seed, offset, start + a, b - a) < t

        run_parallel(count, body)
        return cast(np.ndarray, out.reshape(shape))
    return compute


def bernoulli(seed: int, offset: int, shape: Any, p: Any, dtype: Any = np.float32, start: int = 0) -> np.ndarray:
    """1 with probability ``p`` (else 0): element e is 1 iff word e < round(p_e * 2**32).

    Args:
        seed, offset: the stream. shape: output shape. p: a probability, or an array of
            probabilities broadcastable to ``shape``. dtype: output dtype (float, int or bool).
        start: index of the first element.
    """
    compute = prepare_bernoulli("bernoulli", shape, p, dtype, start)
    return compute(*check_state("bernoulli", seed, offset))
