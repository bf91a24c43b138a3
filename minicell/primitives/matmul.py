"""Matrix product with NumPy's rules, its backward beside its forward.

``matmul(x, y)`` takes 1-D vectors, 2-D matrices and batched stacks with broadcasting, as
``np.matmul``; integer products are checked for overflow (``math.check_integer_result``). Inside a
one-pass micro-batched step a product whose rows are the batch's runs per segment with a lone
micro-batch's shapes (BLAS's bits depend on them, DESIGN.md section 8); a product that sums over
the batch axis is refused.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, fail_value
from minicell._runtime import segments
from minicell.primitives.math import BOTH, Result, check_integer_result, check_operand, unbroadcast


def _segment_matmul(x: np.ndarray, y: np.ndarray, needs: tuple[bool, bool]) -> Result | None:
    """Inside a one-pass step: a product whose rows are the batch's, computed per segment (the
    shapes of a lone micro-batch fix BLAS's bits); a contraction over the batch axis is refused."""
    plan = segments.current()
    if plan is None:
        return None
    x_batched, y_batched = segments.rows_plan(x) is not None, segments.rows_plan(y) is not None
    x_rows = np.ndim(x) >= 2 and x_batched
    y_rows = np.ndim(y) >= 3 and y_batched
    contracts = (np.ndim(x) == 1 and x_batched) or (np.ndim(y) in (1, 2) and y_batched)
    if contracts or (x_rows and y_rows and np.ndim(x) == 2):
        raise segments.refuse("matmul", "shapes", "a product that keeps the batch axis 0 apart (not one that "
                              "sums over it)", Shown(f"{list(np.shape(x))} and {list(np.shape(y))}"))
    if x_rows == y_rows:
        return None  # no batch axis, or both stacked along it: row-wise
    x, y = np.asarray(x), np.asarray(y)
    work = int(np.prod(np.shape(x if x_rows else y)[1:])) * plan.size * int(np.shape(y if x_rows else x)[-1])

    def call(i: int) -> Result:
        lo, hi = plan.bounds[i]
        return matmul(x[lo:hi] if x_rows else x, y[lo:hi] if y_rows else y, needs)
    return segments.per_segment(plan, call, (x_rows, y_rows), work)


def matmul(x: np.ndarray, y: np.ndarray, needs: tuple[bool, bool] = BOTH) -> Result:
    """Matrix product with NumPy's rules (1-D vectors, 2-D, batched with broadcasting)."""
    check_operand("matmul", "input", x)
    check_operand("matmul", "other", y)
    segmented = _segment_matmul(x, y, needs) if np.ndim(x) and np.ndim(y) else None
    if segmented is not None:
        return segmented
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        raise fail_value("matmul", "shapes", "at least 1-D each (use mul for scalars)",
                         Shown(f"{list(np.shape(x))} and {list(np.shape(y))}"))
    try:
        out = np.matmul(x, y)
    except ValueError:
        raise fail_value("matmul", "shapes", "aligned for a matrix product",
                         Shown(f"{list(np.shape(x))} and {list(np.shape(y))}")) from None
    check_integer_result("matmul", out, np.matmul, x, y, magnitude=True)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        if x.ndim == 1 and y.ndim == 1:  # inner product
            return g * y, g * x
        xm = x[np.newaxis, :] if x.ndim == 1 else x
        ym = y[:, np.newaxis] if y.ndim == 1 else y
        gm = np.expand_dims(g, -2) if x.ndim == 1 else g
        gm = np.expand_dims(gm, -1) if y.ndim == 1 else gm
        dx = dy = None
        if needs[0]:
            dx = np.matmul(gm, np.swapaxes(ym, -1, -2))
            dx = unbroadcast(dx, xm.shape) if x.ndim > 1 else dx.reshape(-1, x.shape[0]).sum(0)
        if needs[1]:
            dy = np.matmul(np.swapaxes(xm, -1, -2), gm)
            dy = unbroadcast(dy, ym.shape) if y.ndim > 1 else dy.reshape(-1, y.shape[0]).sum(0)
        return dx, dy
    return out, backward
