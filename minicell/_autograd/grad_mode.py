"""Whether operations record the autograd graph (a thread-local switch, like torch's grad mode)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block on this thread."""
    return getattr(_state, "enabled", True)


@contextmanager
def no_grad() -> Iterator[None]:
    """Context manager under which operations record no graph (inference, optimizer updates)."""
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    """Context manager under which operations record the graph, even inside ``no_grad()``
    (used by ``Cell.recompute`` to rebuild a cell's graph during the backward pass)."""
    previous = is_grad_enabled()
    _state.enabled = True
    try:
        yield
    finally:
        _state.enabled = previous
