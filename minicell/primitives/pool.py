"""2-D max and average pooling as arrays, one vectorised NumPy operation per kernel offset.

Max pooling pads with ``-inf`` (padding never wins) and records, per output element, the
offset ``i*kw + j`` of the first maximum in row-major window order; the backward routes each
gradient to that tap only (``dx = col2im(g * [offset == argmax])``).

Average pooling sums the zero-padded taps and divides by the number of taps that fall inside
the input (padding excluded from the count, as MindSpore's ``'same'`` mode, oneDNN's
``pooling_avg`` and TensorFlow's ``SAME`` do; with ``'valid'`` every count is ``kh*kw``). The
backward spreads ``g / count`` over the same taps.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell.primitives._window import Pads, offsets, output_size, pad2d

Backward = Callable[[np.ndarray], tuple[Any, ...]]
NO_DILATION = (1, 1)


def _geometry(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads) -> tuple[int, int]:
    return (output_size(x.shape[2], pads[0], kernel[0], stride[0], 1),
            output_size(x.shape[3], pads[1], kernel[1], stride[1], 1))


def _unpad(dxp: np.ndarray, pads: Pads) -> np.ndarray:
    (top, bottom), (left, right) = pads
    return dxp[:, :, top:dxp.shape[2] - bottom, left:dxp.shape[3] - right]


def max_pool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
               pads: Pads) -> tuple[np.ndarray, Backward]:
    """``(out, backward)``: the maximum of each window of ``x`` ``(N, C, H, W)``."""
    out_hw = _geometry(x, kernel, stride, pads)
    xp = pad2d(x, pads, -np.inf)
    out = np.full(x.shape[:2] + out_hw, -np.inf, dtype=x.dtype)
    argmax = np.zeros(out.shape, dtype=np.int32)
    for i, j, window in offsets(kernel, stride, NO_DILATION, out_hw):
        tap = xp[(slice(None), slice(None)) + window]
        better = tap > out
        np.copyto(out, tap, where=better)
        argmax[better] = i * kernel[1] + j

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dxp = np.zeros(xp.shape, dtype=g.dtype)
        for i, j, window in offsets(kernel, stride, NO_DILATION, out_hw):
            dxp[(slice(None), slice(None)) + window] += np.where(argmax == i * kernel[1] + j, g, 0)
        return (_unpad(dxp, pads),)
    return out, backward


def avg_pool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
               pads: Pads) -> tuple[np.ndarray, Backward]:
    """``(out, backward)``: the mean of each window's taps inside ``x`` (padding not counted)."""
    out_hw = _geometry(x, kernel, stride, pads)
    xp = pad2d(x, pads)
    inside = pad2d(np.ones((1, 1) + x.shape[2:], dtype=x.dtype), pads)
    out = np.zeros(x.shape[:2] + out_hw, dtype=x.dtype)
    count = np.zeros(out_hw, dtype=x.dtype)
    for _, _, window in offsets(kernel, stride, NO_DILATION, out_hw):
        out += xp[(slice(None), slice(None)) + window]
        count += inside[(0, 0) + window]
    out /= count

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        share = g / count
        dxp = np.zeros(xp.shape, dtype=share.dtype)
        for _, _, window in offsets(kernel, stride, NO_DILATION, out_hw):
            dxp[(slice(None), slice(None)) + window] += share
        return (_unpad(dxp, pads),)
    return out, backward
