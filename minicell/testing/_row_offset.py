"""The context that tells Dropout the global row of the first row of the batch it sees.

``assert_batch_invariant(..., training=True)`` evaluates row slices of a batch and needs each
Dropout to draw at the element indices of those rows in the whole batch (DESIGN.md section 6:
a slice holding global rows ``[a, b)`` of rows of ``k`` elements uses ``start = a * k``).
``ops.dropout`` takes that ``start`` as an argument; the layers learn it from
``minicell.ops.dropout.sample_indexed(reservations, first_row)``, the context the micro-batching
``TrainOneStepCell`` opens around each micro-batch (inside it the k-th dropout call of a forward
pass also reuses the k-th reservation of the step). A caller passes its own ``row_offset``
context for layers of its own that learn their rows another way.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from minicell.ops._dropout import sample_indexed

RowOffset = Callable[[int], AbstractContextManager[None]]


def library_row_offset() -> RowOffset:
    """``row_offset(first_row)`` built on minicell's own sample-indexing context
    (``ops.dropout.sample_indexed``), one reservation list per call (one "step")."""
    reservations: list = []

    def row_offset(first_row: int) -> AbstractContextManager[None]:
        return sample_indexed(reservations, first_row)
    return row_offset
