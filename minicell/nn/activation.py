"""Activation layers as Cells, and ``get_activation`` for layers that take a name."""
from __future__ import annotations

from typing import Any

from minicell._checks import check_int, check_option
from minicell.cell import Cell
from minicell.ops import _activation as A
from minicell.ops import _shape
from minicell.tensor import Tensor


class ReLU(Cell):
    """max(x, 0)."""

    def construct(self, x: Tensor) -> Tensor:
        return A.relu(x)


class Tanh(Cell):
    """tanh(x)."""

    def construct(self, x: Tensor) -> Tensor:
        return A.tanh(x)


class Sigmoid(Cell):
    """1 / (1 + exp(-x))."""

    def construct(self, x: Tensor) -> Tensor:
        return A.sigmoid(x)


class GELU(Cell):
    """x * Phi(x) (Hendrycks & Gimpel, 2016).

    Args:
        approximate: 'none' (exact, erf) or 'tanh'. MindSpore's ``approximate=True`` means 'tanh'.
    """

    def __init__(self, approximate: Any = "none") -> None:
        super().__init__()
        if approximate is True:
            approximate = "tanh"
        elif approximate is False:
            approximate = "none"
        self.approximate = check_option("GELU", "approximate", approximate, ("none", "tanh"))

    def construct(self, x: Tensor) -> Tensor:
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Cell):
    """exp(x) / sum(exp(x)) along ``axis`` (numerically stable)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = check_int(type(self).__name__, "axis", axis)

    def construct(self, x: Tensor) -> Tensor:
        return A.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``axis``, computed stably."""

    def construct(self, x: Tensor) -> Tensor:
        return A.log_softmax(x, self.axis)


class Flatten(Cell):
    """Merge dimensions ``start_dim..end_dim`` (default: all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = check_int("Flatten", "start_dim", start_dim)
        self.end_dim = check_int("Flatten", "end_dim", end_dim)

    def construct(self, x: Tensor) -> Tensor:
        return _shape.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


_BY_NAME = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "softmax": Softmax,
            "log_softmax": LogSoftmax, "logsoftmax": LogSoftmax}


def get_activation(activation: Any, who: str) -> Cell | None:
    """None, a Cell (returned as is) or a name from ``_BY_NAME`` (a new Cell)."""
    if activation is None or isinstance(activation, Cell):
        return activation
    name = check_option(who, "activation", activation.lower() if isinstance(activation, str) else activation,
                        tuple(_BY_NAME))
    return _BY_NAME[name]()
