"""Exact sums of floats in integer limbs, and correct rounding of the result (NumPy only).

A finite float is ``(-1)**s * M * 2**(q - SHIFT)`` with ``q = max(field, 1)`` (``field`` the
biased exponent), ``M`` the significand with its hidden bit (24 bits for float32, 53 for float64)
and ``SHIFT = bias + mantissa bits - 1`` (150 / 1075). So every finite float is an integer number
of units ``2**(1 - SHIFT)`` (the smallest subnormal) placed at bit ``q - 1``: the fixed-point
"superaccumulator" of Kulisch, as used by Neal ("Fast exact summation using small and large
superaccumulators", 2015) and by E3SM's integer reprosum. Here the fixed-point number is held as
``LIMBS`` signed int64 limbs of 32 bits each (10 for float32: 320 bits for a range of 277; 67
for float64: 2144 bits for 2098), per element of the summed arrays.

Each contribution adds at most three pieces, each below 2**33 in magnitude, to three adjacent
limbs, so a limb holds the exact sum of up to 2**30 contributions without overflow (callers keep
the count under ``MAX_CONTRIBUTIONS``). Integer addition is associative: the limbs of a sum do not
depend on the order of the contributions or on how an ``MPI_Allreduce`` combines them.

``round_limbs`` normalises carries and rounds the exact value once to the nearest float (ties
to even), handling subnormal results and overflow to infinity: the result is the correctly
rounded exact sum, within 0.5 ulp. An exact zero gives +0.0.
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

MAX_CONTRIBUTIONS = 1 << 30
_MASK32 = np.uint64(0xFFFFFFFF)


class Format:
    """Bit layout of one float dtype and the size of its superaccumulator."""

    def __init__(self, dtype: Any, mantissa: int, exponent_bits: int, limbs: int) -> None:
        self.dtype = np.dtype(dtype)
        self.uint = np.dtype(f"u{self.dtype.itemsize}")
        self.mantissa = mantissa                       # significand bits, hidden bit included
        self.field_max = (1 << exponent_bits) - 1      # inf / NaN
        self.bias = (1 << (exponent_bits - 1)) - 1
        self.shift = self.bias + mantissa - 1          # value = M * 2**(q - shift)
        self.emin = 1 - self.bias                      # exponent of the smallest normal
        self.limbs = limbs


FORMATS = {np.dtype(np.float32): Format(np.float32, 24, 8, 10),
           np.dtype(np.float64): Format(np.float64, 53, 11, 67)}


def decompose(x: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(field, significand, negative)`` of finite floats ``x`` (1-D): uint64, uint64, bool."""
    bits = x.view(fmt.uint).astype(np.uint64)
    frac_bits = np.uint64(fmt.mantissa - 1)
    field = (bits >> frac_bits) & np.uint64(fmt.field_max)
    significand = bits & np.uint64((1 << (fmt.mantissa - 1)) - 1)
    significand |= (field > 0).astype(np.uint64) << frac_bits
    negative = (bits >> np.uint64(8 * fmt.dtype.itemsize - 1)).astype(bool)
    return field, significand, negative


def new_accumulator(count: int, fmt: Format) -> np.ndarray:
    """Zero limbs for ``count`` elements: int64 of shape ``(count, LIMBS)``."""
    return np.zeros((count, fmt.limbs), np.int64)


def accumulate(acc: np.ndarray, x: np.ndarray, fmt: Format) -> None:
    """Add the finite floats ``x`` (1-D, one per row of ``acc``) exactly into ``acc``."""
    field, significand, negative = decompose(x, fmt)
    position = np.maximum(field, np.uint64(1)) - np.uint64(1)   # bit of the significand's lowest bit
    limb = (position >> np.uint64(5)).astype(np.int64)
    r = position & np.uint64(31)
    low = (significand & _MASK32) << r                          # < 2**63
    high = (significand >> np.uint64(32)) << r                  # < 2**52
    pieces = (low & _MASK32, (low >> np.uint64(32)) + (high & _MASK32), high >> np.uint64(32))
    flat = acc.reshape(-1)
    index = np.arange(x.size, dtype=np.int64) * fmt.limbs + limb
    for k, piece in enumerate(pieces):
        signed = piece.astype(np.int64)
        np.negative(signed, out=signed, where=negative)
        flat[index + k] += signed  # indices are distinct within one call: no lost updates


def _propagate(acc: np.ndarray) -> None:
    """Carries: every limb but the top into [0, 2**32), the top one signed."""
    for k in range(acc.shape[1] - 1):
        carry = acc[:, k] >> 32
        acc[:, k] -= carry << 32
        acc[:, k + 1] += carry


def round_limbs(acc: np.ndarray, fmt: Format) -> np.ndarray:
    """The correctly rounded float (round to nearest, ties to even) of each row's exact value."""
    acc = acc.copy()
    _propagate(acc)
    negative = acc[:, -1] < 0
    if negative.any():
        acc[negative] = -acc[negative]
        _propagate(acc)
    rows = np.arange(acc.shape[0])
    nonzero = acc != 0
    zero = ~nonzero.any(axis=1)
    top = acc.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    bottom = np.argmax(nonzero, axis=1)
    padded = np.concatenate([np.zeros((acc.shape[0], 2), np.int64), acc], axis=1).astype(np.uint64)
    l2, l1, l0 = padded[rows, top + 2], padded[rows, top + 1], padded[rows, top]
    width = np.frexp(l2.astype(np.float64))[1].astype(np.uint64)      # bit length of l2, 1..32
    width[zero] = 1
    head = (l2 << (np.uint64(64) - width)) | (l1 << (np.uint64(32) - width)) | (l0 >> width)
    sticky = ((l0 & ((np.uint64(1) << width) - np.uint64(1))) != 0) | (bottom < top - 2)
    lead = 32 * top + width.astype(np.int64) - 1 + (1 - fmt.shift)   # exponent of head's bit 63
    precision = np.where(lead >= fmt.emin, fmt.mantissa, fmt.mantissa - (fmt.emin - lead))
    cut = 64 - precision                                                # bits of head to drop
    underflow = cut > 64
    cut_u = np.clip(cut, 1, 63).astype(np.uint64)
    kept = np.where(cut >= 64, np.uint64(0), head >> cut_u)
    rest = np.where(cut >= 64, head, head & ((np.uint64(1) << cut_u) - np.uint64(1)))
    half = np.where(cut >= 64, np.uint64(1) << np.uint64(63), np.uint64(1) << (cut_u - np.uint64(1)))
    up = (rest > half) | ((rest == half) & (sticky | ((kept & np.uint64(1)) == 1)))
    kept = kept + up.astype(np.uint64)
    with np.errstate(over="ignore"):
        value = np.ldexp(kept.astype(np.float64), (lead - precision + 1).astype(np.int32))
        value[zero | underflow] = 0.0
        value = value.astype(fmt.dtype)
    return cast(np.ndarray, np.where(negative, -value, value))
