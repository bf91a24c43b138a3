"""``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm`` with MindSpore's signatures and names.

BatchNorm: Parameters ``gamma``, ``beta`` (trainable when ``affine``) and ``moving_mean``,
``moving_variance`` (never trainable, but saved in checkpoints). MindSpore's momentum
convention, the opposite of PyTorch's: ``moving = momentum * moving + (1 - momentum) * batch``
with ``momentum=0.9`` (PyTorch's ``momentum=0.1`` weighs the batch). The batch is normalized
with its biased variance and ``moving_variance`` tracks the unbiased one (``* M / (M - 1)``),
as PyTorch and MindSpore's GPU (cuDNN) kernels do. ``use_batch_statistics``: None (default)
uses and tracks batch statistics in training mode and the moving ones in eval mode; True always
uses and tracks batch statistics; False always uses the moving ones and tracks nothing.
In a micro-batched ``TrainOneStepCell`` step, batch statistics are ghost statistics: each
micro-batch is normalized by its own, and the moving statistics move once per step, from the
exact mean over all micro-batches of the global batch (``ops._normalization``,
``nn._ghost_batch_norm``); with one micro-batch per batch this is exactly the plain update.

LayerNorm: MindSpore's ``LayerNorm(normalized_shape, begin_norm_axis=-1, begin_params_axis=-1,
gamma_init='ones', beta_init='zeros', epsilon=1e-7)``; statistics over axes
``[begin_norm_axis, R)`` (biased variance), ``gamma``/``beta`` of ``normalized_shape`` applied
from ``begin_params_axis``. PyTorch's ``eps`` default is 1e-5 and it names the Parameters
``weight``/``bias``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_bool, check_int, check_real, fail_type, fail_value, is_integer
from minicell.cell import Cell
from minicell.initializer import initializer
from minicell.ops._normalization import batch_norm_impl, layer_norm_impl
from minicell.parameter import Parameter
from minicell.tensor import Tensor


class _BatchNorm(Cell):
    RANKS: tuple[int, ...] = (4,)
    LAYOUT = "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9, affine: bool = True,
                 gamma_init: Any = "ones", beta_init: Any = "zeros", moving_mean_init: Any = "zeros",
                 moving_var_init: Any = "ones", use_batch_statistics: bool | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        who = type(self).__name__
        self.num_features = check_int(who, "num_features", num_features, 1)
        self.eps = check_real(who, "eps", eps, 0.0)
        if self.eps == 0:
            raise fail_value(who, "eps", "a float > 0", eps)
        self.momentum = check_real(who, "momentum", momentum, 0.0, 1.0)
        affine = check_bool(who, "affine", affine)
        if use_batch_statistics is not None and not isinstance(use_batch_statistics, (bool, np.bool_)):
            raise fail_type(who, "use_batch_statistics", "a bool or None", use_batch_statistics)
        self.affine = affine
        self.use_batch_statistics = None if use_batch_statistics is None else bool(use_batch_statistics)
        shape = (self.num_features,)
        self.gamma = Parameter(initializer(gamma_init, shape, dtype), requires_grad=affine)
        self.beta = Parameter(initializer(beta_init, shape, dtype), requires_grad=affine)
        self.moving_mean = Parameter(initializer(moving_mean_init, shape, dtype), requires_grad=False)
        self.moving_variance = Parameter(initializer(moving_var_init, shape, dtype), requires_grad=False)

    def construct(self, x: Tensor) -> Tensor:
        who = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim not in self.RANKS or x.shape[1] != self.num_features:
            what = Shown(f"shape {list(x.shape)}") if isinstance(x, Tensor) else x
            raise fail_value(who, "x", f"a Tensor of shape {self.LAYOUT} with C = num_features = "
                             f"{self.num_features}", what)
        use_batch = self.training if self.use_batch_statistics is None else self.use_batch_statistics
        return batch_norm_impl(who, x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                               use_batch, 1.0 - self.momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, use_batch_statistics={self.use_batch_statistics}")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` inputs per channel (see the module docstring).

    Args:
        num_features: C. eps: added to the variance, > 0 (default 1e-5).
        momentum: weight of the OLD moving value, in [0, 1] (default 0.9, MindSpore's convention).
        affine: whether gamma and beta are trained.
        gamma_init, beta_init, moving_mean_init, moving_var_init: initializers (deterministic
            by default). use_batch_statistics: None, True or False (see above). dtype: float dtype.
    """
    RANKS = (4,)
    LAYOUT = "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` inputs per channel; arguments as BatchNorm2d."""
    RANKS = (2, 3)
    LAYOUT = "(N, C) or (N, C, L)"


class LayerNorm(Cell):
    """Layer normalization (see the module docstring).

    Args:
        normalized_shape: tuple or list of ints, the shape of gamma and beta; must equal the
            input's shape from ``begin_params_axis``.
        begin_norm_axis: first axis of the statistics (default -1, the last).
        begin_params_axis: first axis gamma and beta apply along (default -1).
        gamma_init, beta_init: initializers ('ones', 'zeros'). epsilon: > 0 (default 1e-7).
        dtype: the Parameters' float dtype.
    """

    def __init__(self, normalized_shape: Any, begin_norm_axis: int = -1, begin_params_axis: int = -1,
                 gamma_init: Any = "ones", beta_init: Any = "zeros", epsilon: float = 1e-7,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)) or not all(
                is_integer(d) and int(d) >= 1 for d in normalized_shape):
            raise fail_type("LayerNorm", "normalized_shape", "a tuple or list of positive ints", normalized_shape)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        self.begin_norm_axis = check_int("LayerNorm", "begin_norm_axis", begin_norm_axis)
        self.begin_params_axis = check_int("LayerNorm", "begin_params_axis", begin_params_axis)
        self.epsilon = check_real("LayerNorm", "epsilon", epsilon, 0.0)
        if self.epsilon == 0:
            raise fail_value("LayerNorm", "epsilon", "a float > 0", epsilon)
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape, dtype))
        self.beta = Parameter(initializer(beta_init, self.normalized_shape, dtype))

    def construct(self, x: Tensor) -> Tensor:
        return layer_norm_impl("LayerNorm", x, self.gamma, self.beta, self.begin_norm_axis,
                               self.begin_params_axis, self.epsilon)

    def extra_repr(self) -> str:
        return (f"normalized_shape={list(self.normalized_shape)}, begin_norm_axis={self.begin_norm_axis}, "
                f"begin_params_axis={self.begin_params_axis}, epsilon={self.epsilon}")
