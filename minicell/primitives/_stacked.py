"""Stacked products for a one-pass step's small segments, used only where they are bit-exact.

A one-pass micro-batched step (``minicell._runtime.segments``) must give each segment the bits
of its lone micro-batch. For ``linear`` with small segments, one stacked call
(``np.matmul`` of ``(n, S, k)`` by ``(k, m)``, ``(n, m, S) @ (n, S, k)`` for the weight
gradient, a sum over axis 1 for the bias) costs a fraction of ``n`` lone calls in Python
overhead, and with NumPy's OpenBLAS limited to one thread it gives, slice by slice, the lone
products' bits (DESIGN.md section 7, measured for the main job's and the MLP benchmark's
shapes). That is a property of the BLAS build, not a guarantee, so it is checked here: the
first time a stacked computation is asked for with a given signature (operation, shapes,
dtypes, strides), both it and the loop of lone calls run, and the stacked form is used for that
signature from then on only if the two agreed to the bit; otherwise the lone loop always runs.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

_verdicts: dict[Hashable, bool] = {}


def signature(name: str, *arrays: np.ndarray | None) -> tuple[Any, ...]:
    """What decides BLAS's code path: shapes, dtypes and strides of the operands."""
    return (name,) + tuple(None if a is None else (a.shape, a.dtype.str, a.strides) for a in arrays)


def verified(key: Hashable, stacked: Callable[[], np.ndarray], lone: Callable[[], np.ndarray]) -> np.ndarray:
    """``stacked()`` when it has been seen to equal ``lone()`` bit for bit for ``key``, else ``lone()``."""
    verdict = _verdicts.get(key)
    if verdict is None:
        expected, candidate = lone(), stacked()
        verdict = expected.shape == candidate.shape and expected.dtype == candidate.dtype and \
            expected.tobytes() == candidate.tobytes()
        _verdicts[key] = verdict  # one dict store (atomic): racing first uses agree on the verdict
        return expected
    return stacked() if verdict else lone()
