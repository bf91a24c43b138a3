"""Sliding-window geometry shared by convolution and pooling (arrays only).

A window of ``kernel`` taps spaced ``dilation`` apart spans ``dilation * (kernel - 1) + 1``
positions. On an axis of ``size`` padded by ``(before, after)`` it fits
``(size + before + after - span) // stride + 1`` times (MindSpore's and PyTorch's floor rule).

Padding modes (MindSpore's ``pad_mode``):

- ``'valid'``: no padding; positions that do not fill a whole window are dropped.
- ``'same'``: output size ``ceil(size / stride)``; the total padding
  ``max((out - 1) * stride + span - size, 0)`` is split with the odd element after
  (bottom/right), as MindSpore and TensorFlow do.
- ``'pad'``: explicit ``(before, after)`` amounts.

Kernel offset ``(i, j)`` reads the strided slice ``xp[..., i*dh : i*dh + sh*(Ho-1) + 1 : sh,
j*dw : ... : sw]`` of the padded input; ``gather`` copies those slices side by side (im2col) and
``scatter_add`` accumulates them back (col2im), one vectorised NumPy operation per kernel offset.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from minicell._runtime.parallel import run_parallel

Pads = tuple[tuple[int, int], tuple[int, int]]


def span(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """``(before, after)`` for MindSpore's ``'same'``: output ``ceil(size / stride)``, odd pad after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + span(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def output_size(size: int, pads: tuple[int, int], kernel: int, stride: int, dilation: int) -> int:
    """Windows that fit on the padded axis (0 or less means the input is too small)."""
    return (size + pads[0] + pads[1] - span(kernel, dilation)) // stride + 1


def pad2d(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """``x`` padded on its last two axes (returned as is when nothing is padded)."""
    if not any(pads[0] + pads[1]):
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [pads[0], pads[1]]
    return np.pad(x, widths, constant_values=value)


def offsets(kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
            out: tuple[int, int]) -> Iterator[tuple[int, int, tuple[slice, slice]]]:
    """``(i, j, (rows, cols))`` for every kernel offset: the slices it reads of the padded input."""
    for i in range(kernel[0]):
        r0 = i * dilation[0]
        rows = slice(r0, r0 + stride[0] * (out[0] - 1) + 1, stride[0])
        for j in range(kernel[1]):
            c0 = j * dilation[1]
            yield i, j, (rows, slice(c0, c0 + stride[1] * (out[1] - 1) + 1, stride[1]))


def _by_channels(channels: int, per_channel: int, body: Callable[[slice], None]) -> None:
    """``body(channel_slice)`` over blocks of channels, on minicell's thread pool when large."""
    run_parallel(channels * per_channel, lambda lo, hi: body(slice(lo // per_channel, hi // per_channel)),
                 align=per_channel)


def gather(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
           out: tuple[int, int]) -> np.ndarray:
    """im2col, channel-major: ``cols[c, i, j, n, y, x] = xp[n, c, y*sh + i*dh, x*sw + j*dw]``.

    Channels lead so that ``cols`` reshapes to ``(C*kh*kw, N*Ho*Wo)`` for one large product, and
    blocks of channels are copied on separate threads (each writes its own rows).
    """
    n, c = xp.shape[:2]
    cols = np.empty((c, kernel[0], kernel[1], n, out[0], out[1]), dtype=xp.dtype)

    def copy(block: slice) -> None:
        for i, j, (rows, colsl) in offsets(kernel, stride, dilation, out):
            cols[block, i, j] = xp[:, block, rows, colsl].transpose(1, 0, 2, 3)
    _by_channels(c, cols[0].size, copy)
    return cols


def scatter_add(cols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], pads: Pads) -> np.ndarray:
    """col2im, the adjoint of ``gather`` followed by un-padding: overlapping taps add up.

    Each channel block is accumulated by one thread, kernel offsets in a fixed order, so the
    sums are identical whatever the thread count.
    """
    out = cols.shape[-2:]
    dxp = np.zeros(padded_shape, dtype=cols.dtype)

    def add(block: slice) -> None:
        for i, j, (rows, colsl) in offsets(kernel, stride, dilation, out):
            dxp[:, block, rows, colsl] += cols[block, i, j].transpose(1, 0, 2, 3)
    _by_channels(padded_shape[1], cols[0].size, add)
    (top, bottom), (left, right) = pads
    return dxp[:, :, top:dxp.shape[2] - bottom, left:dxp.shape[3] - right]
