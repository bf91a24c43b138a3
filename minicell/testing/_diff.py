"""What differs between two arrays, bit for bit, described for a failure message.

Elements are compared as raw bytes: ``-0.0`` differs from ``0.0`` and NaNs differ when their
payloads (or signs) differ. For the differing elements the message gives how many there are,
the first one (index, both values, both bit patterns), the largest absolute difference and, for
floating-point dtypes, the largest difference in units in the last place: the distance between
the two values in the ordered sequence of representable floats (Bruce Dawson, "Comparing
Floating Point Numbers", 2012), where ``-0.0`` and ``0.0`` are 0 ulps apart. Pairs with a NaN
are counted but left out of both maxima.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits(value: np.ndarray) -> str:
    """The bit pattern of a one-element array, in hex (the raw bytes for odd sizes)."""
    size = value.dtype.itemsize
    if size in _UINT:
        return f"0x{int(value.view(_UINT[size])[0]):0{2 * size}x}"
    return "0x" + value.tobytes()[::-1].hex()


def _ordered(values: np.ndarray) -> list[int]:
    """Floats mapped to integers in the order of the representable floats (sign-magnitude to
    two's complement): consecutive floats map to consecutive integers, -0.0 and 0.0 both to 0."""
    size = values.dtype.itemsize
    raw = values.view(_UINT[size]).tolist()
    sign = 1 << (8 * size - 1)
    return [-(r - sign) if r >= sign else r for r in raw]


def _float_stats(a: np.ndarray, b: np.ndarray) -> tuple[str, str, int]:
    """(largest abs difference, largest ulps, pairs with a NaN) for real float elements; an
    empty string where a figure does not apply."""
    nan = np.isnan(a) | np.isnan(b)
    a, b = a[~nan], b[~nan]
    if a.size == 0:
        return "", "", int(nan.sum())
    with np.errstate(all="ignore"):
        wide = np.abs(a.astype(np.float64) - b.astype(np.float64)) if a.dtype.itemsize <= 8 else np.abs(a - b)
    largest = wide.max()
    if a.dtype.itemsize not in (2, 4, 8):
        return str(largest), "", int(nan.sum())
    ulps = max(abs(x - y) for x, y in zip(_ordered(a), _ordered(b)))
    return str(largest), str(ulps), int(nan.sum())


def _stats(a: np.ndarray, b: np.ndarray) -> tuple[str, str, int]:
    kind = a.dtype.kind
    if kind == "f":
        return _float_stats(a, b)
    if kind == "c":
        real = _float_stats(a.real.copy(), b.real.copy())
        imag = _float_stats(a.imag.copy(), b.imag.copy())
        with np.errstate(all="ignore"):
            finite = ~(np.isnan(a) | np.isnan(b))
            largest = str(np.abs(a[finite] - b[finite]).max()) if finite.any() else real[0]
        ulps = f"{real[1] or 'n/a'} (real part), {imag[1] or 'n/a'} (imaginary part)"
        return largest, ulps, int((~finite).sum())
    if kind == "b":
        return "1", "", 0
    return str(max(abs(x - y) for x, y in zip(a.tolist(), b.tolist()))), "", 0


def differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean mask (flat) of the elements whose bytes differ; ``a`` and ``b`` share dtype and shape."""
    size = a.dtype.itemsize
    left = a.reshape(-1).view(np.uint8).reshape(-1, size)
    right = b.reshape(-1).view(np.uint8).reshape(-1, size)
    return np.any(left != right, axis=1)


def describe(a: np.ndarray, b: np.ndarray) -> str | None:
    """None when ``a`` and ``b`` are bitwise equal (same dtype, shape and bytes), else why not."""
    if a.dtype != b.dtype:
        return f"dtype differs: {a.dtype} vs {b.dtype}"
    if a.shape != b.shape:
        return f"shape differs: {a.shape} vs {b.shape}"
    mask = differing(a, b)
    count = int(mask.sum())
    if count == 0:
        return None
    first = int(np.argmax(mask))
    index: Any = tuple(int(i) for i in np.unravel_index(first, a.shape)) if a.ndim else ()
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    va, vb = flat_a[first:first + 1], flat_b[first:first + 1]
    largest, ulps, nans = _stats(flat_a[mask], flat_b[mask])
    text = (f"{count} of {a.size} elements differ; first at index {index}: {str(va[0])} ({_bits(va)}) vs "
            f"{str(vb[0])} ({_bits(vb)})")
    if largest:
        text += f"; largest abs difference {largest}"
    if ulps:
        text += f"; largest difference {ulps} ulps"
    if nans:
        text += f"; {nans} of them with a NaN (left out of the maxima)"
    if ulps == "0" and not nans:
        text += " (equal as numbers: signed zeros differ bitwise)"
    elif ulps == "0":
        text += " (apart from NaNs, equal as numbers: signed zeros differ bitwise)"
    return text
