"""``Conv1d`` and ``Conv2d`` with MindSpore's signatures and defaults.

Differences from PyTorch's ``nn.Conv2d``: ``pad_mode='same'`` by default (output
``ceil(size / stride)``, the odd padding element after, bottom/right) where PyTorch pads 0;
``padding`` only counts with ``pad_mode='pad'`` (then an int, ``(pad_h, pad_w)`` or
``(top, bottom, left, right)``; Conv1d: an int or ``(left, right)``); ``group`` for ``groups``;
``has_bias=False`` by default where PyTorch adds a bias. The default initializers are the same
as both frameworks' (MindSpore 2.x): weight ``HeUniform(negative_slope=sqrt(5))``, i.e.
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
``fan_in = in_channels / group * prod(kernel_size)``. Each random initializer reserves one step
of ``generator`` (the default generator when None); no ``data_format`` (NCHW only).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import check_bool, check_int, check_option, fail_type, fail_value
from minicell.cell import Cell
from minicell.generator import Generator
from minicell.initializer import HeUniform, Uniform, initializer
from minicell.ops._conv import PAD_MODES, convolution
from minicell.ops._window_args import int_tuple, padding_value
from minicell.parameter import Parameter
from minicell.tensor import Tensor


class _Conv(Cell):
    DIMS = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 pad_mode: str = "same", padding: Any = 0, dilation: Any = 1, group: int = 1,
                 has_bias: bool = False, weight_init: Any = None, bias_init: Any = None,
                 dtype: Any = np.float32, generator: Generator | None = None) -> None:
        super().__init__()
        who, dims = type(self).__name__, self.DIMS
        self.in_channels = check_int(who, "in_channels", in_channels, 1)
        self.out_channels = check_int(who, "out_channels", out_channels, 1)
        self.group = check_int(who, "group", group, 1)
        for arg, channels in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if channels % self.group:
                raise fail_value(who, arg, f"divisible by group ({self.group})", channels)
        self.kernel_size = int_tuple(who, "kernel_size", kernel_size, dims)
        self.stride = int_tuple(who, "stride", stride, dims)
        self.dilation = int_tuple(who, "dilation", dilation, dims)
        self.pad_mode = check_option(who, "pad_mode", pad_mode, PAD_MODES)
        padding_value(who, self.pad_mode, padding, dims)
        self.padding = padding
        check_bool(who, "has_bias", has_bias)
        if generator is not None and not isinstance(generator, Generator):
            raise fail_type(who, "generator", "a Generator or None", generator)
        self.has_bias = has_bias
        shape = (self.out_channels, self.in_channels // self.group) + self.kernel_size
        fan_in = shape[1] * math.prod(self.kernel_size)
        weight_init = HeUniform(negative_slope=math.sqrt(5)) if weight_init is None else weight_init
        self.weight = Parameter(initializer(weight_init, shape, dtype, generator))
        self.bias: Parameter | None = None
        if has_bias:
            bias_init = Uniform(1 / math.sqrt(fan_in)) if bias_init is None else bias_init
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype, generator))

    def construct(self, x: Tensor) -> Tensor:
        return convolution(type(self).__name__, x, self.weight, self.bias, self.stride, self.pad_mode,
                           self.padding, self.dilation, self.group, self.DIMS)

    def extra_repr(self) -> str:
        return (f"input_channels={self.in_channels}, output_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
                f"padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}")


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)`` with weight ``(C_out, C_in / group, kh, kw)``.

    Args:
        in_channels, out_channels: positive ints, both divisible by ``group``.
        kernel_size, stride, dilation: an int or a tuple of 2 ints, >= 1.
        pad_mode: 'same' (default), 'valid' or 'pad'. padding: see the module docstring.
        group: number of channel groups. has_bias: add a bias (default False).
        weight_init, bias_init: anything ``initializer`` accepts, or None for the defaults.
        dtype: the Parameters' float dtype. generator: where the initial weights are drawn.
    """
    DIMS = 2


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)`` with weight ``(C_out, C_in / group, k)``; ``kernel_size``,
    ``stride`` and ``dilation`` are ints, ``padding`` an int or ``(left, right)``; otherwise as Conv2d."""
    DIMS = 1
