"""``Tensor``: an ndarray plus an autograd node.

A Tensor holds ``_data`` (a NumPy array) and, when it was produced by a differentiable op from
inputs that require gradients, ``_parents`` (the op's operands) and ``_backward`` (a closure
mapping the output's gradient to one gradient per operand, written next to the op's forward in
``minicell/ops``). ``minicell.autograd`` walks that graph.

Copy rule: ``Tensor(ndarray)`` wraps the array without copying when no dtype conversion is
needed (as ``torch.as_tensor``); Python data, Tensors and arrays that need a cast are copied.
Python floats become float32 and Python ints int64, as in MindSpore.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from minicell._grad_mode import is_grad_enabled

DTYPE_NAMES = {
    np.dtype(np.bool_): "Bool",
    np.dtype(np.int8): "Int8", np.dtype(np.int16): "Int16",
    np.dtype(np.int32): "Int32", np.dtype(np.int64): "Int64",
    np.dtype(np.uint8): "UInt8", np.dtype(np.uint16): "UInt16",
    np.dtype(np.uint32): "UInt32", np.dtype(np.uint64): "UInt64",
    np.dtype(np.float16): "Float16", np.dtype(np.float32): "Float32",
    np.dtype(np.float64): "Float64",
}

Backward = Callable[[np.ndarray], Sequence[Any]]


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """Convert user data to an ndarray with MindSpore's default dtypes for Python scalars."""
    if isinstance(data, Tensor):
        return np.array(data._data, dtype=dtype, copy=True)
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == np.dtype(dtype) else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(np.float32)
    if dtype is None and array.dtype.kind in "iu" and array.dtype != np.int64 and not isinstance(data, np.ndarray):
        array = array.astype(np.int64)
    return array


class Tensor:
    """An n-dimensional array that records the operations applied to it for reverse-mode autograd.

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
        array = _to_array(data, dtype)
        if array.dtype not in DTYPE_NAMES:
            raise TypeError(f"For 'Tensor', 'data' must have one of the dtypes "
                            f"{sorted(DTYPE_NAMES.values())}, but got dtype {array.dtype}.")
        self._data = array
        self.grad: Tensor | None = None
        self._parents: tuple = ()
        self._backward: Backward | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    # ----- construction from an op -------------------------------------------------------------
    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
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
            raise TypeError(f"For 'Tensor', 'requires_grad' must be a bool, but got {value!r}.")
        if value and self._data.dtype.kind != "f":
            raise TypeError(f"For 'Tensor', only floating-point tensors can require gradients, "
                            f"but got dtype {DTYPE_NAMES[self._data.dtype]}.")
        self._requires_grad = bool(value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("For 'Tensor', len() of a 0-d tensor is undefined.")
        return len(self._data)

    # ----- conversions -------------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """A copy of the data as an ndarray."""
        return self._data.copy()

    def numpy(self) -> np.ndarray:
        """Alias of ``asnumpy`` for PyTorch users."""
        return self.asnumpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def _one_element(self, what: str) -> np.generic:
        if self._data.size != 1:
            raise ValueError(f"For 'Tensor.{what}', the tensor must have exactly one element, "
                             f"but got shape {list(self.shape)}.")
        return self._data.reshape(()).item()

    def item(self) -> Any:
        """The single element as a Python scalar."""
        return self._one_element("item")

    def __int__(self) -> int:
        return int(self._one_element("__int__"))

    def __float__(self) -> float:
        return float(self._one_element("__float__"))

    def __bool__(self) -> bool:
        return bool(self._one_element("__bool__"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"For 'Tensor.__index__', the tensor must be an integer tensor, "
                            f"but got dtype {DTYPE_NAMES[self.dtype]}.")
        return int(self._one_element("__index__"))

    def astype(self, dtype: Any) -> "Tensor":
        """Cast to ``dtype`` (differentiable between float dtypes)."""
        from minicell.ops import _math
        return _math.cast(self, dtype)

    def detach(self) -> "Tensor":
        """The same data, outside the graph."""
        return Tensor._wrap(self._data)

    # ----- printing ----------------------------------------------------------------------------
    def __str__(self) -> str:
        return str(self._data)

    def __repr__(self) -> str:
        if self._data.ndim == 0:
            value = " " + str(self._data)
        else:
            value = "\n" + np.array2string(self._data, separator=" ")
        return f"Tensor(shape={list(self.shape)}, dtype={DTYPE_NAMES[self.dtype]}, value={value})"

    # ----- autograd ----------------------------------------------------------------------------
    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        from minicell.autograd import backward
        backward(self, gradient)


def record(out: np.ndarray, operands: tuple, backward: Backward) -> Tensor:
    """Wrap ``out`` as a Tensor and, if any operand needs a gradient, attach the graph node.

    ``backward(g)`` returns one gradient (ndarray or None) per operand, in order; operands that
    are not Tensors (Python scalars, ndarrays) get None or anything, it is ignored.
    """
    result = Tensor._wrap(np.asarray(out))
    if is_grad_enabled() and any(isinstance(x, Tensor) and x._requires_grad for x in operands):
        if result._data.dtype.kind == "f":
            result._requires_grad = True
            result._parents = operands
            result._backward = backward
    return result


def unwrap(x: Any) -> Any:
    """The raw value of an operand: a Tensor's array, anything else as it is."""
    return x._data if isinstance(x, Tensor) else x


def needs_grad(x: Any) -> bool:
    """Whether an operand needs a gradient (used to skip expensive backward terms)."""
    return isinstance(x, Tensor) and x._requires_grad



from minicell.ops import _tensor_methods  # noqa: E402,F401  (binds operators and methods onto Tensor)
