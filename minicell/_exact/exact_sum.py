"""Reproducible sums: the correctly rounded exact sum of a multiset of float arrays (NumPy only).

``reproducible_sum(contributions, world)`` returns, on every rank of ``world``, the elementwise
sum of all contributions of all ranks, rounded once from the exact value to the nearest float
(ties to even): within 0.5 ulp of the exact sum, and a function of the multiset of contributions
alone, so it is bit-identical whatever the world size, the order, and the way contributions are
spread over ranks. inf and NaN propagate deterministically: NaN if any contribution is NaN or
both +inf and -inf occur, else the infinity that occurs (NaN is always NumPy's quiet NaN). An
exact zero is +0.0, or -0.0 when every contribution is -0.0 (IEEE's rule, order-independent).

This module is the facade; the pieces, one concern each:

- ``columns``: the column kernels (narrow float32 spans summed directly in float64, exact
  float64 pairs by checked TwoSum, one correct rounding, the integer superaccumulator fallback);
- ``superaccumulator``: the Kulisch/Neal integer limbs and their correct rounding;
- ``rows``: rows made chunk by chunk (``WeightedRows``) and the threaded column loops;
- ``partials``: a rank's exact partial sums on the wire, and the owner's sum of everybody's;
- ``exchange``: validation and the exchange between ranks (``reproducible_sum``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import minicell._exact.superaccumulator as sa
from minicell._exact.columns import fallback, narrow_span
from minicell._exact.exchange import (
    agree_on_counts,
    check_contributions,
    last_exchange,
    reproducible_sum,
    reproducible_weighted_slice,
    reproducible_weighted_sum,
)
from minicell._exact.rows import CHUNK, WeightedRows, exact_sum_rows


def _fallback(rows: np.ndarray, fmt: sa.Format, target: Any = None) -> np.ndarray:
    """The integer superaccumulator path alone (tests compare the fast paths with it)."""
    return fallback(rows, fmt, target)


__all__ = ["CHUNK", "WeightedRows", "agree_on_counts", "check_contributions", "exact_sum_rows", "last_exchange",
           "narrow_span", "reproducible_sum", "reproducible_weighted_slice",
           "reproducible_weighted_sum"]
