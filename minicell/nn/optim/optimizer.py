"""``Optimizer``: the base Cell of the optimizers, holding their state as Parameters.

``optimizer.parameters`` is the tuple of trained Parameters (not registered in the optimizer,
so a training cell lists each once, under the network). The state lives in Parameters of the
optimizer itself, named as MindSpore names them (``moment1.<param name>``, ``moments.<param
name>``, ``global_step``), so a checkpoint of the training cell holds it and resumes exactly.
``optimizer(grads)`` checks every gradient before it changes anything, then updates in place.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minicell._checks import Shown, check_real, checked_cast, describe, fail_type, fail_value
from minicell.cell import Cell
from minicell.nn.learning_rate_schedule import LearningRateSchedule
from minicell.parameter import Parameter
from minicell.tensor import DTYPE_NAMES, Tensor


class ParameterStore(Cell):
    """Zero-initialized copies of parameters, keyed by their names (dots allowed) and named
    ``<kind>.<param name>`` as MindSpore names optimizer state (``moment1.fc1.weight``)."""

    def __init__(self, kind: str, params: tuple[Parameter, ...]) -> None:
        super().__init__(auto_prefix=False)
        for p in params:
            state = Parameter(np.zeros_like(p._data), name=f"{kind}.{p.name}", requires_grad=False)
            self.insert_param_to_cell(str(p.name), state, check_name_contain_dot=False)

    def arrays(self) -> list[np.ndarray]:
        return [p._data for p in self._params.values()]


class Optimizer(Cell):
    """Base class: validates ``params`` and hyper-parameters, keeps the step counter.

    Args:
        learning_rate: a float >= 0, or a ``LearningRateSchedule`` Cell (``nn.CosineDecayLR``, ...)
            evaluated at ``global_step`` before each update increments it, as MindSpore's
            ``Optimizer.get_lr``: the first update uses ``schedule(0)``.
        params: an iterable of trainable Parameters (for example ``net.trainable_params()``).
        weight_decay: L2 coefficient >= 0.
    """

    parameters: tuple[Parameter, ...]

    def __init__(self, learning_rate: float | LearningRateSchedule, params: Iterable[Parameter],
                 weight_decay: float = 0.0) -> None:
        super().__init__(auto_prefix=False)
        who = type(self).__name__
        if isinstance(params, (Parameter, Cell)) or not hasattr(params, "__iter__"):
            raise fail_type(who, "params", "an iterable of Parameters (e.g. net.trainable_params())", params)
        params = tuple(params)
        if not params:
            raise fail_value(who, "params", "a non-empty iterable of Parameters", Shown("an empty one"))
        names = set()
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise fail_type(who, "params", "an iterable of Parameters", Shown(f"{describe(p)} at index {i}"))
            if not p.requires_grad or p.dtype.kind != "f":
                raise fail_value(who, "params", "trainable float Parameters", Shown(
                    f"'{p.name}' (dtype {p.dtype}, requires_grad={p.requires_grad}) at index {i}"))
            if p.name in names:
                raise fail_value(who, "params", "Parameters with unique names", Shown(f"two named '{p.name}'"))
            names.add(p.name)
        self.learning_rate: float | LearningRateSchedule
        if isinstance(learning_rate, LearningRateSchedule):
            self.learning_rate = learning_rate  # registered as the sub-cell 'learning_rate'
        elif isinstance(learning_rate, Cell):
            raise fail_type(who, "learning_rate", "a float >= 0 or a LearningRateSchedule", learning_rate)
        else:
            self.learning_rate = check_real(who, "learning_rate", learning_rate, 0.0)
        self.weight_decay = check_real(who, "weight_decay", weight_decay, 0.0)
        object.__setattr__(self, "parameters", params)  # a plain tuple: not registered here
        self.global_step = Parameter(np.array(0, np.int64), requires_grad=False)
        self.current_lr = self.get_lr()  # the rate of the latest (or, before any, the first) update

    def _grad_arrays(self, grads: Any) -> list[np.ndarray]:
        who = type(self).__name__
        if isinstance(grads, (Tensor, np.ndarray)) or not hasattr(grads, "__len__"):
            raise fail_type(who, "grads", "a tuple of gradients, one per parameter", grads)
        if len(grads) != len(self.parameters):
            raise fail_value(who, "grads", f"a tuple of {len(self.parameters)} gradients", Shown(f"{len(grads)}"))
        arrays = []
        for p, g in zip(self.parameters, grads):
            try:
                as_object = object if isinstance(g, str) else None
                array = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=as_object)
            except (ValueError, TypeError, OverflowError):
                array = np.asarray(None)
            if array.dtype.kind != "f":
                raise fail_type(who, "grads", f"float gradients (the one of '{p.name}' too)",
                                Shown(f"dtype {DTYPE_NAMES.get(array.dtype, array.dtype)} for '{p.name}'"))
            if array.shape != p.shape:
                raise fail_value(who, "grads", f"gradients of their parameters' shapes ({list(p.shape)} for "
                                               f"'{p.name}')",
                                 Shown(f"shape {list(array.shape)} for '{p.name}'"))
            if not np.isfinite(array).all():  # one fast pass, before any update
                raise fail_value(who, "grads", f"finite gradients (the one of '{p.name}' too)",
                                 Shown(f"NaN or inf in the gradient of '{p.name}'"))
            arrays.append(checked_cast(who, "grads", array, p.dtype))
        return arrays

    def construct(self, grads: Any) -> bool:
        """Apply one update to ``self.parameters`` from ``grads`` (one per parameter)."""
        arrays = self._grad_arrays(grads)
        object.__setattr__(self, "current_lr", self.get_lr())
        step = int(self.global_step._data) + 1
        for i, (p, g) in enumerate(zip(self.parameters, arrays)):
            self.update(i, p._data, g, step)
        self.global_step._data[...] = step
        return True

    def get_lr(self) -> float:
        """The learning rate of the coming update: the float, or the schedule at ``global_step``."""
        if isinstance(self.learning_rate, LearningRateSchedule):
            return float(self.learning_rate(int(self.global_step._data)))
        return self.learning_rate

    def update(self, index: int, weight: np.ndarray, grad: np.ndarray, step: int) -> None:
        """Update ``weight`` in place with the rate ``self.current_lr`` (subclasses)."""
        raise NotImplementedError

    def decayed(self, weight: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """``grad + weight_decay * weight`` (L2 folded into the gradient)."""
        return grad + weight.dtype.type(self.weight_decay) * weight if self.weight_decay else grad

    def extra_repr(self) -> str:
        return f"learning_rate={self.learning_rate}, weight_decay={self.weight_decay}"
