"""Clipping by the global norm of several arrays (array level; ``ops.clip_by_global_norm``).

``global_norm = sqrt(sum_i sum(x_i ** 2))``, the square root of the correctly rounded exact sum
of squares (``minicell._exact.norms``), so the same inputs give the same norm bit for bit
whatever produced them, and the norm of slices held by several ranks merges to the same bits
(the sharded optimizer's clipping). Each output is
``y_i = x_i * clip_norm / max(global_norm, clip_norm)`` (TensorFlow's and MindSpore's
``clip_by_global_norm``): unchanged when the norm is at most ``clip_norm``.

Gradient, when the norm ``n`` exceeds ``c = clip_norm`` and is computed from the inputs:
``dy_i/dx_k . g = (c / n) g [i == k] - (c / n**3) <g, x_i> x_k``; otherwise a plain scaling.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import minicell._exact.norms as _norms


def global_norm(arrays: Sequence[np.ndarray]) -> float:
    """The Euclidean norm of all elements of ``arrays`` together, in float64, in a fixed order."""
    limbs, flags = _norms.square_limbs(arrays)
    return float(np.sqrt(_norms.round_square_limbs(limbs, flags)))


def clip_by_global_norm(arrays: Sequence[np.ndarray], clip_norm: float, use_norm: float | None
                        ) -> tuple[list[np.ndarray], Callable[[int, np.ndarray], list[np.ndarray | None]]]:
    """Clipped copies of ``arrays`` and ``backward(i, g)``: the gradients of output ``i`` (incoming
    gradient ``g``) with respect to every input (None where zero)."""
    norm = global_norm(arrays) if use_norm is None else float(use_norm)
    scale = clip_norm / max(norm, clip_norm)
    outs = [(np.asarray(a, dtype=np.float64) * scale).astype(a.dtype) for a in arrays]
    clipped = use_norm is None and norm > clip_norm

    def backward(i: int, g: np.ndarray) -> list[np.ndarray | None]:
        wide: list[np.ndarray | None] = [None] * len(arrays)
        wide[i] = np.asarray(g, np.float64) * scale
        if clipped:
            dot = float(np.sum(np.asarray(g, np.float64) * np.asarray(arrays[i], np.float64)))
            factor = clip_norm / norm ** 3 * dot
            for k, x in enumerate(arrays):
                term = np.asarray(x, np.float64) * factor
                before = wide[k]
                wide[k] = -term if before is None else before - term
        return [None if w is None else w.astype(x.dtype) for w, x in zip(wide, arrays)]
    return outs, backward
