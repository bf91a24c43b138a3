"""Tensor-level scaled dot-product attention with counter-based dropout on the probabilities.

``dot_product_attention(q, k, v, bias, dropout_p, seed, offset, start)``: see
``minicell.primitives.attention`` for the formulas. The dropout mask of element ``e`` of the
probability tensor (row-major over ``(B, H, L, S)``, so ``e = ((b H + h) L + i) S + j``) is the
keep-mask of DESIGN.md section 2.3 at element ``start + e`` of the stream ``(seed, offset)``:
a shard holding batch rows ``[a, b)`` passes ``start = a * H * L * S`` and gets exactly its slice
of the whole batch's masks. The mask is never stored; the backward recomputes it.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minicell.ops._dropout import _masked_scale as masked_scale
from minicell.primitives import attention as _attention
from minicell.tensor import Tensor, record, unwrap


def _dropper(p: float, seed: int, offset: int, start: int) -> Callable[[np.ndarray], np.ndarray]:
    """Dropout's mask-and-scale at ``(seed, offset, start)``: linear, so it is its own transpose."""
    return lambda x: masked_scale(x, seed, offset, p, start)


def dot_product_attention(q: Tensor, k: Tensor, v: Tensor, bias: np.ndarray | None, scale: float,
                          dropout_p: float = 0.0, seed: int = 0, offset: int = 0, start: int = 0,
                          ) -> tuple[Tensor, Tensor]:
    """``(out, weights)`` for ``q (B, H, L, D)``, ``k (B, H, S, D)``, ``v (B, H, S, Dv)``.

    ``bias`` is an additive float array broadcastable to ``(B, H, L, S)`` (-inf where masked) or
    None; ``dropout_p == 0`` applies no dropout (and ``seed``, ``offset`` are unused). ``weights``
    are the dropped-out probabilities ``(B, H, L, S)``, differentiable with respect to q and k.
    """
    drop = _dropper(dropout_p, seed, offset, start) if dropout_p > 0 else None
    out, weights, backward, weights_backward = _attention.attention(unwrap(q), unwrap(k), unwrap(v), bias,
                                                                    scale, drop)
    return record(out, (q, k, v), backward), record(weights, (q, k, v), weights_backward)
