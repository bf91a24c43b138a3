"""Losses: MSELoss, L1Loss, CrossEntropyLoss, BCEWithLogitsLoss, with reduction 'mean' | 'sum' | 'none'.

All are compositions of differentiable ops, so their gradients come from autograd; the
cross-entropy goes through a stable ``log_softmax`` and the BCE through the stable
``max(x, 0) - x y + log(1 + exp(-|x|))`` form.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, check_option, check_real, fail_type, fail_value
from minicell._runtime import segments
from minicell.cell import Cell
from minicell.ops import _activation as A
from minicell.ops import _math as M
from minicell.ops import _reduce as R
from minicell.tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def check_logits(who: str, logits: Any) -> Tensor:
    """A floating-point Tensor (arrays and nested lists of floats are wrapped)."""
    x = as_tensor(who, "logits", logits)
    if x.dtype.kind != "f":
        raise fail_type(who, "logits", "a floating-point Tensor", Shown(f"a Tensor of dtype {x.dtype}"))
    return x


def label_array(who: str, labels: Any) -> np.ndarray:
    """Labels as an array of numbers (bool, int or float; floats finite)."""
    y = as_tensor(who, "labels", labels)._data
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise fail_value(who, "labels", "finite", Shown("NaN or inf"))
    return y


def weight_array(who: str, arg: str, weight: Any, *, vector: bool) -> np.ndarray | None:
    """An optional weight: None, or finite non-negative numbers (a 1-D vector if ``vector``)."""
    if weight is None:
        return None
    if isinstance(weight, (bool, np.bool_, str, bytes)):
        raise fail_type(who, arg, "None, a number or a Tensor of numbers", weight)
    w = as_tensor(who, arg, weight)._data
    if w.dtype.kind not in "iuf":
        raise fail_type(who, arg, "None, a number or a Tensor of numbers", Shown(f"a Tensor of dtype {w.dtype}"))
    w = w.astype(np.float64)
    if vector and w.ndim != 1:
        raise fail_value(who, arg, "a 1-D Tensor with one weight per class", Shown(f"shape {list(w.shape)}"))
    if not np.isfinite(w).all():
        raise fail_value(who, arg, "finite and non-negative", Shown("NaN or inf"))
    if (w < 0).any():
        raise fail_value(who, arg, "finite and non-negative", Shown(f"values in [{w.min()}, {w.max()}]"))
    return w


def _denominator(values: np.ndarray, dtype: np.dtype) -> Any:
    """``sum(values)`` in ``dtype`` (1 for 0): the mean's divisor; inside a micro-batched step's one
    pass, one per micro-batch (its rows' sum, as the lone micro-batch computes it)."""
    plan = segments.rows_plan(values.shape)
    if plan is None:
        total = float(values.sum())
        return dtype.type(total) if total else dtype.type(1)
    sums = np.array([float(values[lo:hi].sum()) for lo, hi in plan.bounds])
    return np.where(sums != 0, sums, 1.0).astype(dtype)


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

    def check_inputs(self, logits: Any, labels: Any) -> tuple[Tensor, np.ndarray]:
        """``logits`` as a floating-point Tensor, ``labels`` as a numeric array of the same shape."""
        who = type(self).__name__
        logits = check_logits(who, logits)
        y = label_array(who, labels)
        if y.shape != logits.shape:
            raise fail_value(who, "labels", f"of the logits' shape {list(logits.shape)}",
                             Shown(f"shape {list(y.shape)}"))
        return logits, y

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(LossBase):
    """(logits - labels)**2, reduced."""

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        logits, y = self.check_inputs(logits, labels)
        diff = M.sub(logits, y)
        return self.reduce(M.mul(diff, diff))


class L1Loss(LossBase):
    """|logits - labels|, reduced."""

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        logits, y = self.check_inputs(logits, labels)
        return self.reduce(M.absolute(M.sub(logits, y)))


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
        self.weight = weight_array("CrossEntropyLoss", "weight", weight, vector=True)
        self.ignore_index = check_int("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = check_real("CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0)

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        logits = check_logits("CrossEntropyLoss", logits)
        x = logits._data
        y = label_array("CrossEntropyLoss", labels)
        if x.ndim not in (1, 2):
            raise fail_value("CrossEntropyLoss", "logits", "of shape (N, C) or (C,)", Shown(f"shape {list(x.shape)}"))
        if x.shape[-1] == 0:  # no class to choose: log_softmax and 'mean' are undefined
            raise fail_value("CrossEntropyLoss", "logits", "of shape (N, C) or (C,) with at least one class (C >= 1)",
                             Shown(f"shape {list(x.shape)}"))
        squeeze = x.ndim == 1
        if squeeze:
            if y.dtype.kind in "iuf" and y.shape != (() if y.dtype.kind in "iu" else x.shape):  # one label or C probs
                expected = "of shape [] (one class index)" if y.dtype.kind in "iu" else f"of shape {list(x.shape)}"
                raise fail_value("CrossEntropyLoss", "labels", f"{expected} for logits of shape {list(x.shape)}",
                                 Shown(f"shape {list(y.shape)}"))
            logits, y = logits.reshape(1, -1), y[None]
            x = logits._data
        n, c = x.shape
        w = np.ones(c) if self.weight is None else self.weight
        if w.shape != (c,):
            raise fail_value("CrossEntropyLoss", "weight", f"of shape [{c}] for logits with {c} classes",
                             Shown(f"shape {list(w.shape)}"))
        eps = self.label_smoothing
        if y.dtype.kind in "iu":
            if y.shape != (n,):
                raise fail_value("CrossEntropyLoss", "labels", f"of shape [{n}] (class indices)",
                                 Shown(f"shape {list(y.shape)}"))
            valid = y != self.ignore_index
            if ((y[valid] < 0) | (y[valid] >= c)).any():
                raise fail_value("CrossEntropyLoss", "labels", f"class indices in [0, {c}) or ignore_index",
                                 Shown(f"values {sorted(set(y[valid].tolist()) - set(range(c)))[:5]}"))
            safe = np.where(valid, y, 0)
            onehot = np.zeros((n, c))
            onehot[np.arange(n), safe] = 1
            coeff = ((1 - eps) * onehot * w[safe][:, None] + eps * w[None, :] / c) * valid[:, None]
            denominator = _denominator(w[safe] * valid, x.dtype)
        elif y.dtype.kind == "f":
            if y.shape != (n, c):
                raise fail_value("CrossEntropyLoss", "labels", f"of shape [{n}, {c}] (class probabilities)",
                                 Shown(f"shape {list(y.shape)}"))
            coeff = w[None, :] * ((1 - eps) * y + eps / c)
            denominator = _denominator(np.ones(n), x.dtype)
        else:
            raise fail_type("CrossEntropyLoss", "labels", "integer class indices or float probabilities",
                            Shown(f"dtype {y.dtype}"))
        per_row = M.neg(R.sum(M.mul(A.log_softmax(logits, axis=1), coeff.astype(x.dtype)), axis=1))
        if self.reduction == "mean":
            return M.div(R.sum(per_row), denominator)
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
        self.weight = weight_array("BCEWithLogitsLoss", "weight", weight, vector=False)
        self.pos_weight = weight_array("BCEWithLogitsLoss", "pos_weight", pos_weight, vector=False)

    def construct(self, logits: Tensor, labels: Any) -> Tensor:
        logits, y = self.check_inputs(logits, labels)
        for arg, w in (("weight", self.weight), ("pos_weight", self.pos_weight)):
            if w is not None:
                try:
                    np.broadcast_shapes(w.shape, logits.shape)
                except ValueError:
                    raise fail_value("BCEWithLogitsLoss", arg,
                                     f"broadcastable to the logits' shape {list(logits.shape)}",
                                     Shown(f"shape {list(w.shape)}")) from None
        dtype = logits.dtype
        softplus_neg = M.add(M.log(M.add(M.exp(M.neg(M.absolute(logits))), 1.0)), A.relu(M.neg(logits)))
        if self.pos_weight is None:
            loss = M.add(M.mul(logits, (1 - y).astype(dtype)), softplus_neg)
        else:
            factor = (1 + (self.pos_weight - 1) * y).astype(dtype)
            loss = M.add(M.mul(logits, (1 - y).astype(dtype)), M.mul(softplus_neg, factor))
        if self.weight is not None:
            loss = M.mul(loss, self.weight.astype(dtype))
        return self.reduce(loss)
