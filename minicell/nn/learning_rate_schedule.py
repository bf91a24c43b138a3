"""Learning-rate schedules as Cells (MindSpore's ``mindspore.nn.learning_rate_schedule``).

A schedule is a stateless Cell: ``schedule(global_step)`` returns the learning rate of that step
as a 0-d float32 Tensor. Give one to any optimizer as ``learning_rate``: the optimizer evaluates
it at its own ``global_step`` Parameter *before* incrementing it (as MindSpore's
``Optimizer.get_lr``), so the first update uses ``schedule(0)`` and the schedule's only state is
the optimizer's ``global_step``, which checkpoints hold: a resumed run continues exactly.

Formulas, signatures and argument checks follow MindSpore 2.x's ``CosineDecayLR``,
``WarmUpLR``, ``PolynomialDecayLR`` and ``ExponentialDecayLR`` (source:
``mindspore/python/mindspore/nn/learning_rate_schedule.py``). Values are computed in float64 and
rounded once to float32 (MindSpore computes in float32, so the last bit may differ).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, check_real, fail_type, fail_value, is_integer
from minicell.cell import Cell
from minicell.tensor import Tensor

__all__ = ["CosineDecayLR", "ExponentialDecayLR", "LearningRateSchedule", "PolynomialDecayLR", "WarmUpLR"]


def _float_arg(who: str, arg: str, value: Any, *, positive: bool) -> float:
    """A real number, > 0 (``positive``) or >= 0, as MindSpore's ``check_positive_float`` and
    ``check_non_negative_float`` (ints are accepted here; bools are not)."""
    value = check_real(who, arg, value, 0.0)
    if positive and value <= 0:
        raise fail_value(who, arg, "a float > 0", value)
    if not math.isfinite(value):
        raise fail_value(who, arg, "a finite float", value)
    return value


def _bool_arg(who: str, arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail_type(who, arg, "a bool", value)
    return value


class LearningRateSchedule(Cell):
    """Base class: ``construct(global_step)`` returns the learning rate as a 0-d float32 Tensor."""

    def construct(self, global_step: Any) -> Tensor:
        """The learning rate at ``global_step`` (an int or a one-element integer Tensor, >= 0)."""
        return Tensor(np.asarray(self.rate(self._step(global_step)), dtype=np.float32))

    def _step(self, global_step: Any) -> int:
        who = type(self).__name__
        if isinstance(global_step, Tensor):
            if global_step.dtype.kind not in "iu" or global_step.size != 1:
                raise fail_type(who, "global_step", "an int or a one-element integer Tensor",
                                Shown(f"a Tensor of dtype {global_step.dtype} and shape {list(global_step.shape)}"))
            global_step = int(global_step._data.reshape(()))
        if not is_integer(global_step):
            raise fail_type(who, "global_step", "an int or a one-element integer Tensor", global_step)
        return check_int(who, "global_step", global_step, 0)

    def rate(self, step: int) -> float:
        """The learning rate at ``step`` as a Python float (float64); subclasses define it."""
        raise NotImplementedError


class CosineDecayLR(LearningRateSchedule):
    """Cosine decay from ``max_lr`` to ``min_lr`` over ``decay_steps`` steps, then ``min_lr``::

        lr = min_lr + 0.5 * (max_lr - min_lr) * (1 + cos(pi * min(step, decay_steps) / decay_steps))

    Args:
        min_lr: the final rate, >= 0. max_lr: the initial rate, > min_lr (and > 0).
        decay_steps: steps to decay over, >= 1.
    """

    def __init__(self, min_lr: float, max_lr: float, decay_steps: int) -> None:
        super().__init__()
        who = "CosineDecayLR"
        self.min_lr = _float_arg(who, "min_lr", min_lr, positive=False)
        self.max_lr = _float_arg(who, "max_lr", max_lr, positive=True)
        self.decay_steps = check_int(who, "decay_steps", decay_steps, 1)
        if self.min_lr >= self.max_lr:
            raise fail_value(who, "max_lr", f"greater than 'min_lr' ({self.min_lr})", max_lr)

    def rate(self, step: int) -> float:
        p = min(step, self.decay_steps)
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1.0 + math.cos(math.pi * p / self.decay_steps))

    def extra_repr(self) -> str:
        return f"min_lr={self.min_lr}, max_lr={self.max_lr}, decay_steps={self.decay_steps}"


class WarmUpLR(LearningRateSchedule):
    """Linear warm-up: ``lr = learning_rate * min(step, warmup_steps) / warmup_steps``.

    Note that step 0 gives 0 (MindSpore's formula): the first update of an optimizer with this
    schedule does not move the weights.

    Args:
        learning_rate: the rate reached after warm-up, >= 0. warmup_steps: >= 1.
    """

    def __init__(self, learning_rate: float, warmup_steps: int) -> None:
        super().__init__()
        self.learning_rate = _float_arg("WarmUpLR", "learning_rate", learning_rate, positive=False)
        self.warmup_steps = check_int("WarmUpLR", "warmup_steps", warmup_steps, 1)

    def rate(self, step: int) -> float:
        return self.learning_rate * (min(step, self.warmup_steps) / self.warmup_steps)

    def extra_repr(self) -> str:
        return f"learning_rate={self.learning_rate}, warmup_steps={self.warmup_steps}"


class PolynomialDecayLR(LearningRateSchedule):
    """Polynomial decay from ``learning_rate`` to ``end_learning_rate``::

        lr = (learning_rate - end_learning_rate) * (1 - s / D) ** power + end_learning_rate

    with ``s = min(step, decay_steps)`` and ``D = decay_steps``, or, when
    ``update_decay_steps``, ``s = step`` and ``D = decay_steps * max(ceil(step / decay_steps), 1)``
    (the decay restarts every ``decay_steps`` steps from a lower height).

    Args:
        learning_rate: the initial rate, > 0. end_learning_rate: the final rate, >= 0.
        decay_steps: >= 1. power: > 0. update_decay_steps: a bool.
    """

    def __init__(self, learning_rate: float, end_learning_rate: float, decay_steps: int, power: float,
                 update_decay_steps: bool = False) -> None:
        super().__init__()
        who = "PolynomialDecayLR"
        self.learning_rate = _float_arg(who, "learning_rate", learning_rate, positive=True)
        self.end_learning_rate = _float_arg(who, "end_learning_rate", end_learning_rate, positive=False)
        self.decay_steps = check_int(who, "decay_steps", decay_steps, 1)
        self.power = _float_arg(who, "power", power, positive=True)
        self.update_decay_steps = _bool_arg(who, "update_decay_steps", update_decay_steps)

    def rate(self, step: int) -> float:
        if self.update_decay_steps:
            span = self.decay_steps * max(math.ceil(step / self.decay_steps), 1)
            s = step
        else:
            span, s = self.decay_steps, min(step, self.decay_steps)
        diff = self.learning_rate - self.end_learning_rate
        return diff * (1.0 - s / span) ** self.power + self.end_learning_rate

    def extra_repr(self) -> str:
        return (f"learning_rate={self.learning_rate}, end_learning_rate={self.end_learning_rate}, "
                f"decay_steps={self.decay_steps}, power={self.power}, update_decay_steps={self.update_decay_steps}")


class ExponentialDecayLR(LearningRateSchedule):
    """Exponential decay: ``lr = learning_rate * decay_rate ** p`` with ``p = step / decay_steps``,
    or ``p = floor(step / decay_steps)`` when ``is_stair``.

    Args:
        learning_rate: > 0. decay_rate: > 0. decay_steps: >= 1. is_stair: a bool.
    """

    def __init__(self, learning_rate: float, decay_rate: float, decay_steps: int, is_stair: bool = False) -> None:
        super().__init__()
        who = "ExponentialDecayLR"
        self.learning_rate = _float_arg(who, "learning_rate", learning_rate, positive=True)
        self.decay_rate = _float_arg(who, "decay_rate", decay_rate, positive=True)
        self.decay_steps = check_int(who, "decay_steps", decay_steps, 1)
        self.is_stair = _bool_arg(who, "is_stair", is_stair)

    def rate(self, step: int) -> float:
        p = step // self.decay_steps if self.is_stair else step / self.decay_steps
        return self.learning_rate * self.decay_rate ** p

    def extra_repr(self) -> str:
        return (f"learning_rate={self.learning_rate}, decay_rate={self.decay_rate}, "
                f"decay_steps={self.decay_steps}, is_stair={self.is_stair}")
