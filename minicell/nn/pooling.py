"""``MaxPool2d`` and ``AvgPool2d`` with MindSpore's arguments and defaults.

MindSpore: ``kernel_size=1, stride=1, pad_mode='valid'`` (case-insensitive 'valid' or 'same').
PyTorch's pools have no default kernel, ``stride=kernel_size`` by default and explicit
``padding``. ``AvgPool2d`` with ``'same'`` divides by the number of taps inside the input
(padding not counted). MindSpore 2.x's extra arguments (``padding``, ``dilation``,
``return_indices``, ``ceil_mode``, ``count_include_pad``, ``divisor_override``, ``data_format``)
are not supported; input ``(N, C, H, W)`` only.
"""
from __future__ import annotations

from typing import Any

from minicell.cell import Cell
from minicell.ops._pooling import check_pool_mode, pool2d
from minicell.ops._window_args import int_tuple
from minicell.tensor import Tensor


class _Pool2d(Cell):
    KIND = "max"

    def __init__(self, kernel_size: Any = 1, stride: Any = 1, pad_mode: str = "valid") -> None:
        super().__init__()
        who = type(self).__name__
        self.kernel_size = int_tuple(who, "kernel_size", kernel_size, 2)
        self.stride = int_tuple(who, "stride", stride, 2)
        self.pad_mode = check_pool_mode(who, pad_mode)

    def construct(self, x: Tensor) -> Tensor:
        return pool2d(type(self).__name__, self.KIND, x, self.kernel_size, self.stride, self.pad_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode.upper()}"


class MaxPool2d(_Pool2d):
    """Maximum over each ``kernel_size`` window (see the module docstring).

    Args:
        kernel_size, stride: an int or a tuple of 2 ints, >= 1 (default 1).
        pad_mode: 'valid' (default) or 'same', case-insensitive.
    """
    KIND = "max"


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window (padding not counted); arguments as MaxPool2d."""
    KIND = "avg"
