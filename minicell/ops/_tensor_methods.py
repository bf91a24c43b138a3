"""Binds the differentiable ops onto ``Tensor`` as operators and methods.

Kept apart from ``tensor.py`` so the class stays small and each op lives with its backward.
Comparisons return bool Tensors outside the graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell.tensor import Tensor, unwrap
from minicell.ops import _activation, _math, _reduce, _shape


def _reflected(op: Any) -> Any:
    return lambda self, other: op(other, self)


def _comparison(ufunc: Any) -> Any:
    def compare(self: Tensor, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(ufunc(self._data, unwrap(other))))
    return compare


_BINDINGS = {
    "__add__": _math.add, "__radd__": _reflected(_math.add),
    "__sub__": _math.sub, "__rsub__": _reflected(_math.sub),
    "__mul__": _math.mul, "__rmul__": _reflected(_math.mul),
    "__truediv__": _math.div, "__rtruediv__": _reflected(_math.div),
    "__pow__": _math.power, "__rpow__": _reflected(_math.power),
    "__matmul__": _math.matmul, "__rmatmul__": _reflected(_math.matmul),
    "__neg__": _math.neg, "__abs__": _math.absolute,
    "__getitem__": _shape.getitem,
    "__lt__": _comparison(np.less), "__le__": _comparison(np.less_equal),
    "__gt__": _comparison(np.greater), "__ge__": _comparison(np.greater_equal),
    "__eq__": _comparison(np.equal), "__ne__": _comparison(np.not_equal),
    "matmul": _math.matmul, "abs": _math.absolute, "neg": _math.neg,
    "exp": _math.exp, "log": _math.log, "sqrt": _math.sqrt,
    "maximum": _math.maximum, "minimum": _math.minimum, "clip": _math.clip,
    "tanh": _activation.tanh, "sigmoid": _activation.sigmoid, "relu": _activation.relu,
    "softmax": _activation.softmax, "log_softmax": _activation.log_softmax,
    "sum": _reduce.sum, "mean": _reduce.mean, "max": _reduce.max, "min": _reduce.min,
    "reshape": _shape.reshape, "transpose": _shape.transpose, "swapaxes": _shape.swapaxes,
    "flatten": _shape.flatten, "squeeze": _shape.squeeze, "unsqueeze": _shape.unsqueeze,
}

for _name, _op in _BINDINGS.items():
    setattr(Tensor, _name, _op)

Tensor.T = property(lambda self: _shape.transpose(self))
