"""The context that tells Dropout the global row of the first row of the batch it sees.

``assert_batch_invariant(..., training=True)`` evaluates row slices of a batch and needs each
Dropout to draw at the element indices of those rows in the whole batch (DESIGN.md section 6:
a slice holding global rows ``[a, b)`` of rows of ``k`` elements uses ``start = a * k``).
``ops.dropout`` takes that ``start`` as an argument, but the layer ``nn.Dropout`` has no way to
receive it in this version of minicell, so ``library_row_offset()`` returns None and a caller
must pass its own ``row_offset`` context (a callable ``row_offset(first_row)`` returning a
context manager that its Dropout layers consult).
"""
from __future__ import annotations

from typing import Callable, ContextManager

RowOffset = Callable[[int], ContextManager]


def library_row_offset() -> RowOffset | None:
    """minicell's own row-offset context for Dropout layers, or None when it has none."""
    return None
