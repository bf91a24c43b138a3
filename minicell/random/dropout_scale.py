"""Dropout's mask-and-scale: the kept elements scaled, the dropped ones exactly ``+0.0``.

The keep-mask is DESIGN.md section 2.3's (``minicell.random.discrete``: lane ``e`` of the stream
``(seed, offset)`` kept iff ``lane >= t``, ``t = round(p * 65536)``); the scale is
``65536 / (65536 - t)``, so the output's expectation is the input. The mask is recomputed chunk by
chunk and never materialized at full size: the same function is dropout's forward and, applied to
the gradient, its backward.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from minicell._runtime.parallel import run_parallel, scratch
from minicell.random.discrete import CHUNK_ELEMENTS, drop_threshold, lanes
from minicell.random.distributions import _chunks


def scale_dtype(dtype: Any) -> np.dtype:
    """The dtype of dropout's scale: float32 for float16, whose range (65504) cannot hold the
    scale 65536 / (65536 - t) when ``t`` is near 65536; the input's dtype otherwise."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt == np.float16 else dt


def keep_scale(p: float, dtype: Any) -> Any:
    """65536 / (65536 - t): the factor that makes the dropout output's expectation the input."""
    t = drop_threshold(p)
    return np.dtype(dtype).type(65536.0 / (65536 - t)) if t < 65536 else np.dtype(dtype).type(0)


def _product_dtype(dtype: np.dtype) -> Any:
    """float16 values times the float32 scale are exact in float64 (11 + 24 significant bits),
    so computing there and casting rounds once; other dtypes multiply in their own dtype."""
    return np.float64 if dtype == np.float16 else None


def scale_kept(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """``x * scale`` where ``keep`` (broadcast against ``x``), exactly ``+0.0`` elsewhere, in x's dtype.

    Dropped elements are 0 whatever ``x`` holds there (inf and NaN too). A kept float16 element
    is ``x * float32(scale)`` rounded once to float16, so it is inf where that overflows 65504.
    """
    scale = keep_scale(p, scale_dtype(x.dtype))
    with np.errstate(over="ignore"):  # float16 overflow to inf is the documented result
        scaled = np.multiply(x, scale, dtype=_product_dtype(x.dtype))
        return cast(np.ndarray, np.where(keep, scaled, scaled.dtype.type(0)).astype(x.dtype, copy=False))


def masked_scale_into(x: np.ndarray, out: np.ndarray, seed: int, offset: int, p: float, start: int) -> None:
    """``out = x * scale`` where kept, ``+0.0`` where dropped, for the keep-mask of ``(seed, offset)``
    (flat arrays, no checks). As ``scale_kept``: dropped elements are 0 even where ``x`` is inf or
    NaN, and float16 products are computed exactly in float64 and rounded once (inf on overflow).

    The mask is recomputed chunk by chunk and never materialized at full size: this is both
    dropout's forward and (applied to the gradient) its backward.
    """
    masked_scale_many_into([(x, out)], seed, offset, p, start)


def masked_scale_many_into(pairs: Sequence[tuple[np.ndarray, np.ndarray]], seed: int, offset: int, p: float,
                           start: int) -> None:
    """``masked_scale_into`` of several ``(x, out)`` pairs of one length under ONE mask, each chunk
    of the mask computed once (attention's backward drops the probabilities and their gradient
    alike: one Philox pass instead of two)."""
    t = drop_threshold(p)
    if t >= 65536:
        for _, out in pairs:
            out[...] = 0
        return
    if t == 0:  # every lane >= 0: all kept, scale 1
        for x, out in pairs:
            np.copyto(out, x)
        return
    threshold = np.uint16(t)
    scaled = [(x, out, keep_scale(p, scale_dtype(x.dtype)), _product_dtype(x.dtype)) for x, out in pairs]

    def body(lo: int, hi: int) -> None:
        drop = scratch("dropout.drop", (CHUNK_ELEMENTS,), np.bool_)
        for a, b in _chunks(lo, hi, CHUNK_ELEMENTS):
            mask = drop[: b - a]
            np.less(lanes(seed, offset, start + a, b - a), threshold, out=mask)
            for x, out, scale, work in scaled:
                with np.errstate(over="ignore"):  # float16 overflow to inf is the documented result
                    np.multiply(x[a:b], scale, out=out[a:b], dtype=work, casting="same_kind")
                np.copyto(out[a:b], 0, where=mask)

    run_parallel(pairs[0][0].shape[0], body)
