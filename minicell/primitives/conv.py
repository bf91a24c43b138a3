"""Grouped, strided, dilated 2-D (and 1-D) convolution as arrays: im2col and one matmul per group.

Forward (cross-correlation, as MindSpore's and PyTorch's ``Conv2d``), for group ``g`` holding
input channels ``C/G`` and output channels ``O/G``:

    out[n, o, y, x] = b[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, g*C/G + c, y*sh + i*dh, x*sw + j*dw]

where ``xp`` is the zero-padded input. The taps are gathered once, channel-major, into ``cols``
of shape ``(G, C/G*kh*kw, N*Ho*Wo)`` (one strided copy per kernel offset, see ``_window``); then
``out[g] = W[g] @ cols[g]`` with ``W`` reshaped to ``(G, O/G, C/G*kh*kw)``: one large BLAS
product per group, transposed once into the ``(N, O, Ho, Wo)`` layout.

Backward (the adjoints of the same product), with ``g`` laid out as ``(G, O/G, N*Ho*Wo)``:

    dW[g] = g[g] @ cols[g]^T,   db[o] = sum_{n, y, x} g[n, o, y, x],
    dcols[g] = W[g]^T @ g[g],   dx = col2im(dcols)

where col2im adds every kernel offset's slice back into a zero array (``_window.scatter_add``).
The forward keeps ``cols`` for ``dW``; nothing else is stored.

Inside a one-pass micro-batched step (``minicell._runtime.segments``) both run per segment, with
the shapes of a lone micro-batch (one product over all pixels would round differently), and
``dW``, ``db`` come per segment (stacked).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._runtime import segments
from minicell.primitives._window import Pads, gather, output_size, pad2d, scatter_add

Backward = Callable[[np.ndarray], tuple[Any, ...]]


def _per_group(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[g] @ b[g]`` for every group, one 2-D BLAS call each (NumPy's stacked matmul can miss
    BLAS for transposed operands and pays per-call overhead on small products)."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for g in range(a.shape[0]):
        np.matmul(a[g], b[g], out=out[g])
    return out


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int], pads: Pads,
           dilation: tuple[int, int], group: int,
           needs: tuple[bool, bool, bool] = (True, True, True)) -> tuple[np.ndarray, Backward]:
    """``(out, backward)`` for ``x`` ``(N, C, H, W)`` and ``w`` ``(O, C/group, kh, kw)``.

    ``pads`` is ``((top, bottom), (left, right))``; the caller has checked that the shapes agree
    and that the output is not empty. ``needs`` says which of ``(dx, dw, db)`` the backward
    computes (None for the others).
    """
    plan = segments.rows_plan(x)
    if plan is not None:
        def call(i: int) -> tuple[Any, ...]:
            lo, hi = plan.bounds[i]
            return conv2d(x[lo:hi], w, b, stride, pads, dilation, group, needs)
        return segments.per_segment(plan, call, (True, False, False), plan.size * x[0].size * w.shape[0])
    dtype = np.result_type(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    kernel = (kh, kw)
    ho = output_size(h, pads[0], kh, stride[0], dilation[0])
    wo = output_size(wd, pads[1], kw, stride[1], dilation[1])
    og, taps, pixels = o // group, cg * kh * kw, n * ho * wo
    xp = pad2d(x, pads)
    cols = gather(xp, kernel, stride, dilation, (ho, wo)).reshape(group, taps, pixels)
    w2 = w.reshape(group, og, taps)
    out = _per_group(w2, cols).reshape(o, n, ho, wo).transpose(1, 0, 2, 3)
    out = np.ascontiguousarray(out)
    if b is not None:
        out += b.astype(dtype, copy=False).reshape(o, 1, 1)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        g2 = np.ascontiguousarray(g.astype(dtype, copy=False).transpose(1, 0, 2, 3)).reshape(group, og, pixels)
        dx = dw = db = None
        if needs[1]:
            dw = _per_group(g2, cols.transpose(0, 2, 1)).reshape(w.shape)
        if needs[2] and b is not None:
            db = g.sum(axis=(0, 2, 3))
        if needs[0]:
            dcols = _per_group(w2.transpose(0, 2, 1), g2).reshape(c, kh, kw, n, ho, wo)
            dx = scatter_add(dcols, xp.shape, kernel, stride, dilation, pads)
        return dx, dw, db
    return out, backward


def conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pads: tuple[int, int],
           dilation: int, group: int,
           needs: tuple[bool, bool, bool] = (True, True, True)) -> tuple[np.ndarray, Backward]:
    """``conv2d`` on ``(N, C, 1, L)`` with a ``(O, C/group, 1, k)`` kernel: ``x`` ``(N, C, L)``.

    Inside a one-pass step ``conv2d`` cuts the batch into segments itself (the view keeps axis 0),
    and ``dw`` may then come per segment, with a leading axis: the kernel's height axis is the
    second from last either way."""
    out, backward2d = conv2d(x[:, :, None, :], w[:, :, None, :], b, (1, stride), ((0, 0), pads),
                             (1, dilation), group, needs)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dx, dw, db = backward2d(g[:, :, None, :])
        return (None if dx is None else dx[:, :, 0, :]), (None if dw is None else dw[..., 0, :]), db
    return out[:, :, 0, :], backward
