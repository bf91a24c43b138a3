"""Tensor-level scaled dot-product attention with counter-based dropout on the probabilities.

``dot_product_attention(q, k, v, bias, dropout_p, seed, offset, start)``: see
``minicell.primitives.attention`` for the formulas. The dropout mask of element ``e`` of the
probability tensor (row-major over ``(B, H, L, S)``, so ``e = ((b H + h) L + i) S + j``) is the
keep-mask of DESIGN.md section 2.3 at element ``start + e`` of the stream ``(seed, offset)``:
a shard holding batch rows ``[a, b)`` passes ``start = a * H * L * S`` and gets exactly its slice
of the whole batch's masks. The mask is never stored; the backward recomputes it.
"""
from __future__ import annotations

import numpy as np

from minicell.ops._dropout import _masked_scale as masked_scale
from minicell.ops._dropout import _masked_scale_many as masked_scale_many
from minicell.primitives import attention as _attention
from minicell.tensor import Tensor, record, unwrap


class _Dropper:
    """Dropout's mask-and-scale at ``(seed, offset, start)``: linear, so it is its own transpose.
    ``many(a, b)`` drops same-shaped arrays under the one mask, computing it once."""

    def __init__(self, p: float, seed: int, offset: int, start: int) -> None:
        self.p, self.seed, self.offset, self.start = p, seed, offset, start

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return masked_scale(x, self.seed, self.offset, self.p, self.start)

    def many(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        return masked_scale_many(arrays, self.seed, self.offset, self.p, self.start)


def dot_product_attention(q: Tensor, k: Tensor, v: Tensor, bias: np.ndarray | None, scale: float,
                          dropout_p: float = 0.0, seed: int = 0, offset: int = 0, start: int = 0,
                          ) -> tuple[Tensor, Tensor]:
    """``(out, weights)`` for ``q (B, H, L, D)``, ``k (B, H, S, D)``, ``v (B, H, S, Dv)``.

    ``bias`` is an additive float array broadcastable to ``(B, H, L, S)`` (-inf where masked) or
    None; ``dropout_p == 0`` applies no dropout (and ``seed``, ``offset`` are unused). ``weights``
    are the dropped-out probabilities ``(B, H, L, S)``, differentiable with respect to q and k.
    """
    drop = _Dropper(dropout_p, seed, offset, start) if dropout_p > 0 else None
    out, weights, backward, weights_backward = _attention.attention(unwrap(q), unwrap(k), unwrap(v), bias,
                                                                    scale, drop)
    return record(out, (q, k, v), backward), record(weights, (q, k, v), weights_backward)
