"""SGD (with momentum and Nesterov) and MindSpore's Momentum."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minicell._checks import check_bool, check_real, fail_value
from minicell.nn.learning_rate_schedule import LearningRateSchedule
from minicell.nn.optim.optimizer import Optimizer, ParameterStore
from minicell.parameter import Parameter


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0)::

        g = grad + weight_decay * w
        v = momentum * v + g                      (buffers 'moments.<name>', when momentum > 0)
        w -= lr * (g + momentum * v if nesterov else v)

    Args:
        params: trainable Parameters. learning_rate: >= 0, or a LearningRateSchedule. momentum: >= 0.
        weight_decay: >= 0. nesterov: Nesterov momentum (needs momentum > 0).
    """

    _buffers: list[np.ndarray]

    def __init__(self, params: Iterable[Parameter], learning_rate: float | LearningRateSchedule = 0.1,
                 momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate, params, weight_decay)
        who = type(self).__name__
        self.momentum = check_real(who, "momentum", momentum, 0.0)
        nesterov = check_bool(who, "use_nesterov" if who == "Momentum" else "nesterov", nesterov)
        if nesterov and self.momentum == 0:
            raise fail_value(who, "momentum", "> 0 with Nesterov momentum", self.momentum)
        self.nesterov = nesterov
        if self.momentum > 0:
            self.moments = ParameterStore("moments", self.parameters)
            object.__setattr__(self, "_buffers", self.moments.arrays())

    def update(self, index: int, weight: np.ndarray, grad: np.ndarray, step: int) -> None:
        lr = weight.dtype.type(self.current_lr)
        g = self.decayed(weight, grad)
        if self.momentum == 0:
            weight -= lr * g
            return
        v = self._buffers[index]
        v *= v.dtype.type(self.momentum)
        v += g
        direction = g + v.dtype.type(self.momentum) * v if self.nesterov else v
        weight -= lr * direction

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, momentum={self.momentum}, nesterov={self.nesterov}"


class Momentum(SGD):
    """MindSpore's Momentum: ``v = momentum * v + g``, ``w -= lr * v`` (or Nesterov).

    Args:
        params: trainable Parameters. learning_rate: >= 0, or a LearningRateSchedule. momentum: >= 0.
        weight_decay: >= 0. use_nesterov: Nesterov momentum.
    """

    def __init__(self, params: Iterable[Parameter], learning_rate: float | LearningRateSchedule, momentum: float,
                 weight_decay: float = 0.0, use_nesterov: bool = False) -> None:
        if check_real("Momentum", "momentum", momentum, 0.0) == 0:
            raise fail_value("Momentum", "momentum", "a float > 0 (use SGD for plain gradient descent)", momentum)
        super().__init__(params, learning_rate, momentum, weight_decay, use_nesterov)
