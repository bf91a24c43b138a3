"""``Dense``: the fully connected layer ``y = activation(x @ weight.T + bias)``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import Shown, check_bool, check_int, fail_type, fail_value
from minicell.cell import Cell
from minicell.generator import Generator
from minicell.initializer import HeUniform, Uniform, plan_initializer
from minicell.nn.activation import get_activation
from minicell.ops._linear import linear
from minicell.parameter import Parameter
from minicell.tensor import Tensor


class Dense(Cell):
    """Fully connected layer with weight of shape ``(out_channels, in_channels)``.

    Defaults are PyTorch's ``nn.Linear``: weight ``HeUniform(negative_slope=sqrt(5))``, i.e.
    U(-1/sqrt(in), 1/sqrt(in)); bias U(-1/sqrt(in), 1/sqrt(in)). Every draw comes from
    ``generator`` (the default generator when None), one step per random initializer. The
    generator is only used here, at construction, so it is not registered as a sub-cell.

    Args:
        in_channels, out_channels: positive ints.
        weight_init, bias_init: anything ``initializer`` accepts, or None for the defaults.
        has_bias: whether to add a bias.
        activation: None, a name ('relu', 'tanh', 'sigmoid', 'gelu', 'softmax', 'log_softmax')
            or a Cell applied to the output.
        dtype: the Parameters' float dtype.
        generator: the Generator the initial weights are drawn from.
    """

    def __init__(self, in_channels: int, out_channels: int, weight_init: Any = None, bias_init: Any = None,
                 has_bias: bool = True, activation: Any = None, dtype: Any = np.float32,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.in_channels = check_int("Dense", "in_channels", in_channels, 1)
        self.out_channels = check_int("Dense", "out_channels", out_channels, 1)
        self.has_bias = check_bool("Dense", "has_bias", has_bias)
        act = get_activation(activation, "Dense")
        if weight_init is None:
            weight_init = HeUniform(negative_slope=math.sqrt(5))
        make_weight = plan_initializer(weight_init, (self.out_channels, self.in_channels), dtype, generator,
                                       who="Dense", arg="weight_init")
        make_bias = None
        if self.has_bias:  # planned before anything is drawn: a bad bias_init draws no weight
            make_bias = plan_initializer(Uniform(1 / math.sqrt(self.in_channels)) if bias_init is None else bias_init,
                                         (self.out_channels,), dtype, generator, who="Dense", arg="bias_init")
        self.weight = Parameter(make_weight())
        self.bias: Parameter | None = None if make_bias is None else Parameter(make_bias())
        self.activation = act

    def construct(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise fail_type("Dense", "x", "a Tensor", x)
        if x.dtype.kind != "f":
            raise fail_type("Dense", "x", "a floating-point Tensor", Shown(f"a Tensor of dtype {x.dtype}"))
        if x.shape[-1:] != (self.in_channels,):
            raise fail_value("Dense", "x", f"a Tensor whose last dimension is in_channels={self.in_channels}",
                             Shown(f"shape {list(x.shape)}"))
        out = linear(x, self.weight, self.bias)
        return self.activation(out) if self.activation is not None else out

    def extra_repr(self) -> str:
        text = f"input_channels={self.in_channels}, output_channels={self.out_channels}, has_bias={self.has_bias}"
        if self.activation is not None:
            text += f", activation={type(self.activation).__name__}"
        return text
