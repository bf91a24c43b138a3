"""Adam and AdamW (Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015; Loshchilov &
Hutter, "Decoupled Weight Decay Regularization", 2019), with PyTorch's update formula."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minicell._checks import check_real, fail_value
from minicell._runtime.parallel import run_parallel, scratch
from minicell.nn.learning_rate_schedule import LearningRateSchedule
from minicell.nn.optim.optimizer import Optimizer, ParameterStore
from minicell.parameter import Parameter

CHUNK = 1 << 14  # elements per pass: five float32 slices of 64 KiB stay in L2


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``; state 'moment1.<name>', 'moment2.<name>', 'global_step'::

        g = grad + weight_decay * w                      (L2; AdamW decouples it instead)
        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g**2
        w -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Args:
        params: trainable Parameters. learning_rate: >= 0, or a LearningRateSchedule. beta1, beta2: in [0, 1).
        eps: > 0. weight_decay: >= 0.
    """

    decoupled = False
    _m: list[np.ndarray]
    _v: list[np.ndarray]

    def __init__(self, params: Iterable[Parameter], learning_rate: float | LearningRateSchedule = 1e-3,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, params, weight_decay)
        who = type(self).__name__
        self.beta1 = check_real(who, "beta1", beta1, 0.0, 1.0, closed_high=False)
        self.beta2 = check_real(who, "beta2", beta2, 0.0, 1.0, closed_high=False)
        self.eps = check_real(who, "eps", eps, 0.0)
        if self.eps <= 0:
            raise fail_value(who, "eps", "a float > 0", eps)
        self.moment1 = ParameterStore("moment1", self.parameters)
        self.moment2 = ParameterStore("moment2", self.parameters)
        object.__setattr__(self, "_m", self.moment1.arrays())
        object.__setattr__(self, "_v", self.moment2.arrays())

    def update(self, index: int, weight: np.ndarray, grad: np.ndarray, step: int) -> None:
        m, v = self._m[index], self._v[index]
        bias1 = 1 - self.beta1 ** step
        root_bias2 = math.sqrt(1 - self.beta2 ** step)
        # lr * (m / b1) / (sqrt(v / b2) + eps) == (lr * sqrt(b2) / b1) * m / (sqrt(v) + eps * sqrt(b2))
        step_size = self.current_lr * root_bias2 / bias1
        eps = self.eps * root_bias2
        shrink = 1 - self.current_lr * self.weight_decay if self.decoupled else 1.0
        l2 = 0.0 if self.decoupled else self.weight_decay
        flat = [a.reshape(-1) for a in (weight, np.ascontiguousarray(grad), m, v)]  # views: all contiguous
        w, g, m_flat, v_flat = flat

        def update_range(lo: int, hi: int) -> None:
            self._update_range(w[lo:hi], g[lo:hi], m_flat[lo:hi], v_flat[lo:hi], step_size, eps, shrink, l2)
        run_parallel(weight.size, update_range)

    def _update_range(self, w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
                      step_size: float, eps: float, shrink: float, l2: float) -> None:
        """The Adam step on a slice, in cache-sized chunks with two scratch rows per thread."""
        t = w.dtype.type
        rows = scratch("adam.rows", (2, CHUNK), w.dtype)  # row 0: temporaries, row 1: the L2-decayed gradient
        for lo in range(0, w.shape[0], CHUNK):
            hi = min(lo + CHUNK, w.shape[0])
            wc, gc, mc, vc, tmp = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], rows[0, : hi - lo]
            if l2:
                decayed = rows[1, : hi - lo]
                np.multiply(wc, t(l2), out=decayed)
                decayed += gc
                gc = decayed
            if shrink != 1.0:
                wc *= t(shrink)
            np.subtract(gc, mc, out=tmp)          # m += (1 - beta1) (g - m)
            tmp *= t(1 - self.beta1)
            mc += tmp
            np.multiply(gc, gc, out=tmp)          # v += (1 - beta2) (g^2 - v)
            tmp -= vc
            tmp *= t(1 - self.beta2)
            vc += tmp
            np.sqrt(vc, out=tmp)                  # w -= step_size * m / (sqrt(v) + eps')
            tmp += t(eps)
            np.divide(mc, tmp, out=tmp)
            tmp *= t(step_size)
            wc -= tmp

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}"


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``: first
    ``w *= 1 - lr * weight_decay``, then the Adam step on the raw gradient.

    Args:
        params, learning_rate, beta1, beta2, eps: as Adam. weight_decay: >= 0 (default 1e-2).
    """

    decoupled = True

    def __init__(self, params: Iterable[Parameter], learning_rate: float | LearningRateSchedule = 1e-3,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay)
