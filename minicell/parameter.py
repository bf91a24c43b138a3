"""``Parameter``: a named Tensor that a Cell owns and saves (MindSpore's ``mindspore.Parameter``).

A Parameter copies its initial data, so it owns its array; ``set_data`` writes into that array
in place, so every holder of the Parameter sees the new value. Integer and bool Parameters
(counters, generator state) are never trainable: gradients are undefined for them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell.tensor import DTYPE_NAMES, Tensor


def _initial_array(default_input: Any) -> np.ndarray:
    if isinstance(default_input, (bool, np.bool_)):
        return np.array(default_input, dtype=np.bool_)
    if isinstance(default_input, int):
        return np.array(default_input, dtype=np.int64)
    if isinstance(default_input, float):
        return np.array(default_input, dtype=np.float32)
    if isinstance(default_input, Tensor):
        return default_input._data.copy()
    if isinstance(default_input, (np.ndarray, np.generic)):
        return np.array(default_input, copy=True)
    raise TypeError(f"For 'Parameter', 'default_input' must be a Tensor, an ndarray, an int or a float, "
                    f"but got {type(default_input).__name__}.")


class Parameter(Tensor):
    """A Tensor that belongs to a model: named, saved in checkpoints, optionally trainable.

    Args:
        default_input: initial value (copied). A Python int becomes int64 and a float float32;
            arrays and Tensors keep their dtype.
        name: the parameter's name; None lets the owning Cell name it after the attribute.
        requires_grad: whether optimizers train it (forced False for integer and bool dtypes).
    """

    def __init__(self, default_input: Any, name: str | None = None, requires_grad: bool = True) -> None:
        array = _initial_array(default_input)
        if array.dtype not in DTYPE_NAMES:
            raise TypeError(f"For 'Parameter', the dtype {array.dtype} is not supported.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"For 'Parameter', 'name' must be a str or None, but got {type(name).__name__}.")
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"For 'Parameter', 'requires_grad' must be a bool, but got {requires_grad!r}.")
        super().__init__(array)
        self.requires_grad = bool(requires_grad) and array.dtype.kind == "f"
        self.name = name
        self._leaf_name = name  # the last component of the dotted name, kept under prefixes

    def set_data(self, data: Any) -> "Parameter":
        """Overwrite the value in place (same object, same array), cast to this dtype.

        A float value into an integer Parameter is a ``TypeError``; another shape a ``ValueError``.
        """
        value = data._data if isinstance(data, Tensor) else np.asarray(data)
        if value.dtype.kind == "f" and self.dtype.kind in "iub":
            raise TypeError(f"For 'Parameter.set_data', cannot write float data into the "
                            f"{DTYPE_NAMES[self.dtype]} parameter '{self.name}'.")
        if value.shape != self.shape:
            raise ValueError(f"For 'Parameter.set_data', the shape of '{self.name}' is {list(self.shape)}, "
                             f"but the data has shape {list(value.shape)}.")
        np.copyto(self._data, value, casting="unsafe")
        return self

    def clone(self, prefix: str = "") -> "Parameter":
        """An independent copy; its name is ``prefix + '.' + name`` when a prefix is given."""
        name = f"{prefix}.{self.name}" if prefix and self.name else (self.name or prefix or None)
        copy = Parameter(self._data, name=name, requires_grad=self.requires_grad)
        return copy

    def __repr__(self) -> str:
        return (f"Parameter (name={self.name}, shape={tuple(self.shape)}, dtype={DTYPE_NAMES[self.dtype]}, "
                f"requires_grad={self.requires_grad})")
