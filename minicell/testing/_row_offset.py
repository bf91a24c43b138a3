"""The context that tells Dropout the global row of the first row of the batch it sees.

``assert_batch_invariant(..., training=True)`` evaluates row slices of a batch and needs each
Dropout to draw at the element indices of those rows in the whole batch (DESIGN.md section 6:
a slice holding global rows ``[a, b)`` of rows of ``k`` elements uses ``start = a * k``).
``ops.dropout`` takes that ``start`` as an argument; the layers learn it from
``minicell.ops.dropout.sample_indexed(reservations, first_row)``, the context the micro-batching
``TrainOneStepCell`` opens around each micro-batch (inside it the k-th dropout call of a forward
pass also reuses the k-th reservation of the step). Versions of minicell without it give no way
to tell ``nn.Dropout`` its rows: ``library_row_offset()`` then returns None, and a caller must
pass its own ``row_offset`` context for layers of its own that honour one.
"""
from __future__ import annotations

import sys
from typing import Callable, ContextManager

import minicell.ops.dropout  # noqa: F401 - the module, read below from sys.modules

# by module path: the package attribute ``minicell.ops.dropout`` is the function, not the module
dropout_ops = sys.modules["minicell.ops.dropout"]

RowOffset = Callable[[int], ContextManager]


def library_row_offset() -> RowOffset | None:
    """``row_offset(first_row)`` built on minicell's own sample-indexing context, one
    reservation list per call (one "step"), or None when this minicell has no such context."""
    sample_indexed = getattr(dropout_ops, "sample_indexed", None)
    if sample_indexed is None:
        return None
    reservations: list = []

    def row_offset(first_row: int) -> ContextManager:
        return sample_indexed(reservations, first_row)
    return row_offset
