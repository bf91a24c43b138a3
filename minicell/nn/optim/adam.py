"""Adam and AdamW (Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015; Loshchilov &
Hutter, "Decoupled Weight Decay Regularization", 2019), with PyTorch's update formula."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from minicell._checks import check_real
from minicell.nn.optim.optimizer import Optimizer, ParameterStore
from minicell.parameter import Parameter


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``; state 'moment1.<name>', 'moment2.<name>', 'global_step'::

        g = grad + weight_decay * w                      (L2; AdamW decouples it instead)
        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g**2
        w -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Args:
        params: trainable Parameters. learning_rate: >= 0. beta1, beta2: in [0, 1).
        eps: > 0. weight_decay: >= 0.
    """

    decoupled = False

    def __init__(self, params: Iterable[Parameter], learning_rate: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, params, weight_decay)
        who = type(self).__name__
        self.beta1 = check_real(who, "beta1", beta1, 0.0, 1.0, closed_high=False)
        self.beta2 = check_real(who, "beta2", beta2, 0.0, 1.0, closed_high=False)
        self.eps = check_real(who, "eps", eps, 0.0)
        if self.eps <= 0:
            raise ValueError(f"For '{who}', 'eps' must be a float > 0, but got {eps!r}.")
        self.moment1 = ParameterStore(self.parameters)
        self.moment2 = ParameterStore(self.parameters)
        object.__setattr__(self, "_m", self.moment1.arrays())
        object.__setattr__(self, "_v", self.moment2.arrays())

    def update(self, index: int, weight: np.ndarray, grad: np.ndarray, step: int) -> None:
        t = weight.dtype.type
        m, v = self._m[index], self._v[index]
        if self.decoupled:
            if self.weight_decay:
                weight *= t(1 - self.learning_rate * self.weight_decay)
            g = grad
        else:
            g = self.decayed(weight, grad)
        m *= t(self.beta1)
        m += t(1 - self.beta1) * g
        v *= t(self.beta2)
        scratch = np.multiply(g, g)
        scratch *= t(1 - self.beta2)
        v += scratch
        bias1 = 1 - self.beta1 ** step
        bias2 = 1 - self.beta2 ** step
        np.sqrt(v, out=scratch)
        scratch *= t(1 / math.sqrt(bias2))
        scratch += t(self.eps)
        np.divide(m, scratch, out=scratch)
        scratch *= t(self.learning_rate / bias1)
        weight -= scratch

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}"


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``: first
    ``w *= 1 - lr * weight_decay``, then the Adam step on the raw gradient.

    Args:
        params, learning_rate, beta1, beta2, eps: as Adam. weight_decay: >= 0 (default 1e-2).
    """

    decoupled = True

    def __init__(self, params: Iterable[Parameter], learning_rate: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay)
