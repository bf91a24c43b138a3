"""``Tensor``: an ndarray plus an autograd node, with its methods and operators written here.

A Tensor holds ``_data`` (a NumPy array) and, when it was produced by a differentiable op from
inputs that require gradients, ``_parents`` (the op's operands) and ``_backward`` (mapping the
output's gradient to one gradient per operand). The ops are the array-level primitives of
``minicell/primitives`` (each backward beside its forward); ``apply`` runs one and records the
node. ``minicell._autograd.graph`` walks the graph.

Copy rule: ``Tensor(ndarray)`` wraps the array without copying when no dtype conversion is
needed (as ``torch.as_tensor``); Python data, Tensors and arrays that need a cast are copied.
Data conversion and the NumPy side of a Tensor (its base class ``ArrayValue``): ``minicell._array``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minicell._array import DTYPE_NAMES, ArrayValue, array_of, to_dtype
from minicell._autograd.grad_mode import is_grad_enabled
from minicell._autograd.graph import backprop, seed_gradient
from minicell._checks import Shown, checked_cast, fail_type, fail_value
from minicell._runtime import segments
from minicell.primitives import activation as A
from minicell.primitives import math as M
from minicell.primitives import matmul as MM
from minicell.primitives import reduce as R
from minicell.primitives import shape as S

Backward = Callable[[np.ndarray], Sequence[Any]]


def as_tensor(who: str, arg: str, data: Any) -> Tensor:
    """A Tensor as it is; other data (numbers, nested lists, arrays) as a new Tensor, with errors
    naming ``who`` and ``arg`` (the function the user called) rather than ``Tensor``."""
    return data if isinstance(data, Tensor) else Tensor._wrap(array_of(data, None, who, arg))


def unwrap(x: Any) -> Any:
    """The raw value of an operand: a Tensor's array, anything else as it is."""
    return x._data if isinstance(x, Tensor) else x


def needs_grad(x: Any) -> bool:
    """Whether an operand needs a gradient (used to skip expensive backward terms)."""
    return isinstance(x, Tensor) and x._requires_grad


def _of_parameters_only(plan: segments.Plan, operands: tuple) -> bool:
    """Whether an op's operands are parameters or values computed from them only (and scalars), in a
    one-pass step: then its result is no batch and no per-segment value, whatever its shape."""
    found = False
    for x in operands:
        if isinstance(x, Tensor):
            if id(x._data) not in plan.fixed:
                return False
            found = True
        elif isinstance(x, np.ndarray) and x.ndim > 0:
            return False
    return found


def record(out: np.ndarray, operands: tuple, backward: Backward) -> Tensor:
    """Wrap ``out`` as a Tensor and, if any operand needs a gradient, attach the graph node.

    ``backward(g)`` returns one gradient (ndarray or None) per operand, in order; operands that
    are not Tensors (Python scalars, ndarrays) get None or anything, it is ignored.
    """
    result = Tensor._wrap(np.asarray(out))
    plan = segments.current()
    if plan is not None and _of_parameters_only(plan, operands):
        plan.fix(result._data)
    if is_grad_enabled() and any(needs_grad(x) for x in operands) and result._data.dtype.kind == "f":
        result._requires_grad = True
        result._parents = operands
        result._backward = backward
    return result


def apply(primitive: Callable[..., tuple], *operands: Any, **params: Any) -> Tensor:
    """Run an array-level primitive on the operands' values and record it in the graph."""
    out, backward = primitive(*(unwrap(x) for x in operands), **params)
    return record(out, operands, backward)


def grads_needed(*operands: Any) -> tuple[bool, ...]:
    """``needs`` for a primitive: which operands need a gradient."""
    return tuple(needs_grad(x) for x in operands)


class Tensor(ArrayValue):
    """An n-dimensional array that records the operations applied to it for reverse-mode autograd.

    Its NumPy side (shape, dtype, conversions to NumPy and Python, printing) is the base class
    ``minicell._array.ArrayValue``; the graph, the operators and the methods are written here.

    Args:
        data: an ndarray, a Tensor, a Python scalar or a nested sequence.
        dtype: a NumPy dtype (or anything ``np.dtype`` accepts); None keeps the data's dtype,
            float32 for Python floats and int64 for Python ints.
        requires_grad: record operations on this tensor so its gradient can be computed;
            only floating-point tensors may require gradients.
    """

    __hash__ = object.__hash__
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, dtype: Any = None, *, requires_grad: bool = False) -> None:
        self._data = array_of(data, None if dtype is None else to_dtype("Tensor", dtype))
        self.grad: Tensor | None = None
        self._parents: tuple = ()
        self._backward: Backward | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A plain Tensor around ``array`` without copying or validation (internal)."""
        out = Tensor.__new__(Tensor)
        out._data = array
        out.grad = None
        out._parents = ()
        out._backward = None
        out._requires_grad = False
        return out

    # ----- properties --------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise fail_type("Tensor", "requires_grad", "a bool", value)
        if value and self._data.dtype.kind != "f":
            raise fail_type("Tensor", "requires_grad", "False for a tensor that is not floating-point",
                             Shown(f"True for dtype {DTYPE_NAMES[self._data.dtype]}"))
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def T(self) -> Tensor:
        return self.transpose()

    # ----- conversions (to NumPy and Python: minicell._array.ArrayValue) ----------------------
    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype`` (differentiable between float dtypes; values must fit)."""
        target = to_dtype("Tensor.astype", dtype)
        checked_cast("Tensor.astype", "self", self._data, target)
        return apply(M.cast, self, dtype=target)

    def detach(self) -> Tensor:
        """The same data, outside the graph."""
        return Tensor._wrap(self._data)

    # ----- autograd ----------------------------------------------------------------------------
    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        if not self._requires_grad:
            raise fail_value("Tensor.backward", "self", "a tensor that requires grad (mark an input with "
                             "requires_grad=True before computing it)", Shown("a tensor with no graph"))
        seed = seed_gradient(self._data, unwrap(gradient), "Tensor.backward")
        for leaf, g in backprop(self, seed).values():
            g = np.array(g, dtype=leaf.dtype)
            leaf.grad = Tensor._wrap(g if leaf.grad is None else leaf.grad._data + g)

    # ----- arithmetic (NumPy broadcasting) -----------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return apply(M.add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return apply(M.add, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return apply(M.sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return apply(M.sub, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return apply(M.mul, self, other, needs=grads_needed(self, other))

    def __rmul__(self, other: Any) -> Tensor:
        return apply(M.mul, other, self, needs=grads_needed(other, self))

    def __truediv__(self, other: Any) -> Tensor:
        return apply(M.div, self, other, needs=grads_needed(self, other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(M.div, other, self, needs=grads_needed(other, self))

    def __pow__(self, other: Any) -> Tensor:
        return apply(M.power, self, other, needs=grads_needed(self, other))

    def __rpow__(self, other: Any) -> Tensor:
        return apply(M.power, other, self, needs=grads_needed(other, self))

    def __matmul__(self, other: Any) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply(MM.matmul, np.asarray(unwrap(other)), self, needs=grads_needed(other, self))

    def __neg__(self) -> Tensor:
        return apply(M.neg, self)

    def __abs__(self) -> Tensor:
        return apply(M.absolute, self)

    def __getitem__(self, index: Any) -> Tensor:
        index = tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)
        S.check_index(index, self.shape)
        return apply(S.getitem, self, index=index)

    # ----- comparisons (bool results, outside the graph) ---------------------------------------
    def _compare(self, ufunc: Any, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(M.binary(ufunc.__name__, ufunc, self._data, unwrap(other))))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    # ----- elementwise methods -----------------------------------------------------------------
    def matmul(self, other: Any) -> Tensor:
        return apply(MM.matmul, self, np.asarray(unwrap(other)) if not isinstance(other, Tensor) else other,
                     needs=grads_needed(self, other))

    def abs(self) -> Tensor:
        return apply(M.absolute, self)

    def neg(self) -> Tensor:
        return apply(M.neg, self)

    def exp(self) -> Tensor:
        return apply(M.exp, self)

    def log(self) -> Tensor:
        return apply(M.log, self)

    def sqrt(self) -> Tensor:
        return apply(M.sqrt, self)

    def maximum(self, other: Any) -> Tensor:
        return apply(M.maximum, self, other)

    def minimum(self, other: Any) -> Tensor:
        return apply(M.minimum, self, other)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (NumPy's names)
        return apply(M.clip, self, low=unwrap(min), high=unwrap(max))

    def tanh(self) -> Tensor:
        return apply(A.tanh, self)

    def sigmoid(self) -> Tensor:
        return apply(A.sigmoid, self)

    def relu(self) -> Tensor:
        return apply(A.relu, self)

    def softmax(self, axis: int = -1) -> Tensor:
        return apply(A.softmax, self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply(A.log_softmax, self, axis=axis)

    # ----- reductions --------------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(R.sum, self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(R.mean, self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(R.max, self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(R.min, self, axis=axis, keepdims=keepdims)

    # ----- shape -------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return apply(S.reshape, self, shape=S.shape_arguments("reshape", "shape", shape))

    def transpose(self, *axes: Any) -> Tensor:
        return apply(S.transpose, self, perm=S.shape_arguments("transpose", "axes", axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return apply(S.swapaxes, self, axis1=axis1, axis2=axis2)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions ``start_dim..end_dim`` into one (as torch.flatten)."""
        return apply(S.reshape, self, shape=S.flatten_shape(self.shape, start_dim, end_dim))

    def squeeze(self, axis: Any = None) -> Tensor:
        return apply(S.squeeze, self, axis=axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return apply(S.unsqueeze, self, axis=axis)
