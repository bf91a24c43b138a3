"""``reproducible_sum``: a sum over ranks whose bits do not depend on the world size.

The method, its bound and its sources are in ``minicell._exact.exact_sum`` (owner-computes exact
summation, a float64 fast path checked exact by Fast2Sum, an integer superaccumulator
fallback, one correct rounding).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import minicell._exact.exact_sum as _exact_sum
import minicell._runtime.world as _world


def reproducible_sum(contributions: Sequence[Any], shape: Any = None, dtype: Any = None) -> np.ndarray:
    """Elementwise sum of every contribution of every rank, identical on every rank.

    The result is the exact sum rounded once to the nearest float (ties to even), so within 0.5
    ulp of it, and a deterministic function of the multiset of contributions: the same bits for
    any world size, any order, any spread over ranks (uneven too). NaN if any contribution is NaN
    or both +inf and -inf occur, else the infinity that occurs. Every rank must call it.

    Args:
        contributions: this rank's list of same-shape float32 or float64 arrays (or Tensors);
            may be empty, then ``shape`` and ``dtype`` are required.
        shape, dtype: the arrays' shape and dtype, needed when this rank contributes nothing.

    Returns:
        A NumPy array of that shape and dtype.
    """
    return _exact_sum.reproducible_sum(contributions, _world.current(), shape, dtype)
