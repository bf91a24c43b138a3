"""Losses: MSELoss, L1Loss, CrossEntropyLoss, BCEWithLogitsLoss, with reduction 'mean' | 'sum' | 'none'.

All are compositions of differentiable ops, so their gradients come from autograd; the
cross-entropy goes through a stable ``log_softmax`` and the BCE through the stable
``max(x, 0) - x y + log(1 + exp(-|x|))`` form.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import check_option, check_real
from minicell.cell import Cell
from minicell.ops import _activation as A
from minicell.ops import _math as M
from minicell.ops import _reduce as R
from minicell.tensor import Tensor, unwrap

REDUCTIONS = ("mean", "sum", "none")


class LossBase(Cell):
    """Holds ``reduction`` and applies it."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_option(type(self).__name__, "reduction", reduction, REDUCTIONS)

    def reduce(self, loss: Tensor) -> Tensor:
        if self.reduction == "mean":
            return R.mean(loss)
        if self.reduction == "sum":
            return R.sum(loss)
        return loss

    def check_same_shape(self, logits: Any, labels: Any) -> None:
        if np.shape(unwrap(logits)) != np.shape(unwrap(labels)):
            raise ValueError(f"For '{type(self).__name__}', 'logits' and 'labels' must have the same shape, "
                             f"but got {list(np.shape(unwrap(logits)))} and {list(np.shape(unwrap(labels)))}.")

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(LossBase):
    """(logits - labels)**2, reduced."""

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        self.check_same_shape(logits, labels)
        diff = M.sub(logits, labels)
        return self.reduce(M.mul(diff, diff))


class L1Loss(LossBase):
    """|logits - labels|, reduced."""

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        self.check_same_shape(logits, labels)
        return self.reduce(M.absolute(M.sub(logits, labels)))


class CrossEntropyLoss(LossBase):
    """Cross-entropy of logits ``(N, C)`` (or ``(C,)``) against integer labels ``(N,)`` or class
    probabilities ``(N, C)``, as ``torch.nn.CrossEntropyLoss``.

    With smoothing ``eps`` and class weights ``w`` (ones by default), row ``i`` costs
    ``-sum_c W_ic log_softmax(x)_ic`` where, for an integer label ``y``,
    ``W_ic = (1 - eps) w_y [c == y] + eps w_c / C`` and 'mean' divides by ``sum_i w_{y_i}``
    over rows not equal to ``ignore_index``; for probabilities ``t``,
    ``W_ic = w_c ((1 - eps) t_ic + eps / C)`` and 'mean' divides by ``N``.

    Args:
        weight: optional per-class weights ``(C,)``.
        ignore_index: integer label to skip (integer labels only).
        reduction: 'mean', 'sum' or 'none'.
        label_smoothing: ``eps`` in [0, 1].
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(unwrap(weight), dtype=np.float64)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = check_real("CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0)

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        x = unwrap(logits)
        y = np.asarray(unwrap(labels))
        if x.ndim not in (1, 2):
            raise ValueError(f"For 'CrossEntropyLoss', 'logits' must be (N, C) or (C,), but got shape {list(x.shape)}.")
        squeeze = x.ndim == 1
        if squeeze:
            logits, y = logits.reshape(1, -1) if isinstance(logits, Tensor) else x[None], y[None]
            x = unwrap(logits)
        n, c = x.shape
        w = np.ones(c) if self.weight is None else self.weight
        if w.shape != (c,):
            raise ValueError(f"For 'CrossEntropyLoss', 'weight' must have shape [{c}], but got {list(w.shape)}.")
        eps = self.label_smoothing
        if y.dtype.kind in "iu":
            if y.shape != (n,):
                raise ValueError(f"For 'CrossEntropyLoss', integer 'labels' must have shape [{n}], "
                                 f"but got {list(y.shape)}.")
            valid = y != self.ignore_index
            if ((y[valid] < 0) | (y[valid] >= c)).any():
                raise ValueError(f"For 'CrossEntropyLoss', integer labels must be in [0, {c}), "
                                 f"but got values {sorted(set(y[valid].tolist()) - set(range(c)))[:5]}.")
            safe = np.where(valid, y, 0)
            onehot = np.zeros((n, c))
            onehot[np.arange(n), safe] = 1
            coeff = ((1 - eps) * onehot * w[safe][:, None] + eps * w[None, :] / c) * valid[:, None]
            denominator = float((w[safe] * valid).sum())
        elif y.dtype.kind == "f":
            if y.shape != (n, c):
                raise ValueError(f"For 'CrossEntropyLoss', probability 'labels' must have shape [{n}, {c}], "
                                 f"but got {list(y.shape)}.")
            coeff = w[None, :] * ((1 - eps) * y + eps / c)
            denominator = float(n)
        else:
            raise TypeError(f"For 'CrossEntropyLoss', 'labels' must be integer or float, but got dtype {y.dtype}.")
        per_row = M.neg(R.sum(M.mul(A.log_softmax(logits, axis=1), coeff.astype(x.dtype)), axis=1))
        if self.reduction == "mean":
            return M.div(R.sum(per_row), x.dtype.type(denominator) if denominator else x.dtype.type(1))
        if self.reduction == "sum":
            return R.sum(per_row)
        return per_row.reshape(()) if squeeze else per_row


class BCEWithLogitsLoss(LossBase):
    """Binary cross-entropy on logits, stable for any magnitude (torch.nn.BCEWithLogitsLoss):

    ``l = w [(1 - y) x + (1 + (p - 1) y)(log(1 + exp(-|x|)) + max(-x, 0))]`` with ``p`` the
    positive-class weight (1 by default).

    Args:
        weight: optional weight broadcast against the loss. pos_weight: optional weight of positives.
        reduction: 'mean', 'sum' or 'none'.
    """

    def __init__(self, weight: Any = None, pos_weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(unwrap(weight))
        self.pos_weight = None if pos_weight is None else np.asarray(unwrap(pos_weight))

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        self.check_same_shape(logits, labels)
        y = np.asarray(unwrap(labels))
        dtype = unwrap(logits).dtype
        softplus_neg = M.add(M.log(M.add(M.exp(M.neg(M.absolute(logits))), 1.0)), A.relu(M.neg(logits)))
        if self.pos_weight is None:
            loss = M.add(M.mul(logits, (1 - y).astype(dtype)), softplus_neg)
        else:
            factor = (1 + (self.pos_weight - 1) * y).astype(dtype)
            loss = M.add(M.mul(logits, (1 - y).astype(dtype)), M.mul(softplus_neg, factor))
        if self.weight is not None:
            loss = M.mul(loss, self.weight.astype(dtype))
        return self.reduce(loss)
