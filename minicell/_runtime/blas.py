"""NumPy's BLAS threads: the one module that imports ``threadpoolctl``.

- :func:`limit_blas_threads` sets the process-wide limit (``minicell.set_num_threads`` calls it
  with its own thread count, so minicell's pool and BLAS do not oversubscribe the cores).
- :func:`single_threaded_blas` is a context inside which BLAS uses one thread. Why: OpenBLAS
  gives different bits for some shapes with 1 and 2 threads (measured here: a (64, 784) @
  (784, 1024) float32 product), so work whose bits must not depend on thread counts (a
  micro-batch's gradient, the same on every rank) runs inside it.

Both act through one ``ThreadpoolController``, made on first use (it inspects the loaded
libraries, which takes milliseconds) and anew in a forked child.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

from minicell._runtime.fork import on_fork_in_child

_lock = threading.Lock()
# controller; the process-wide limit; how many single-threaded sections are open, their limiter;
# a process-wide limit asked for while sections were open (applied when the last one closes)
_state: dict[str, Any] = {"controller": None, "limit": None, "sections": 0, "single": None, "pending": None}


@on_fork_in_child
def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _state.update(controller=None, sections=0, single=None, pending=None)


def _controller() -> Any:
    """The one ``ThreadpoolController`` (call with ``_lock`` held)."""
    if _state["controller"] is None:
        _state["controller"] = ThreadpoolController()
    return _state["controller"]


def _apply_limit(n: int) -> None:
    if _state["limit"] is not None:
        _state["limit"].restore_original_limits()
    _state["limit"] = _controller().limit(limits=n, user_api="blas")


def limit_blas_threads(n: int) -> None:
    """Let BLAS use at most ``n`` threads from now on (replacing the limit set before). Asked for
    while a single-threaded section is open on some thread, it takes effect when the last closes."""
    with _lock:
        if _state["sections"]:
            _state["pending"] = n
        else:
            _apply_limit(n)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread inside, on every thread, until the last open section closes.

    Sections may overlap on several threads (two training steps at once): the limit is taken by
    the first to open and given back by the last to close, so no section runs with more threads
    because another one closed first."""
    with _lock:
        if _state["sections"] == 0:
            _state["single"] = _controller().limit(limits=1, user_api="blas")
        _state["sections"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["sections"] -= 1
            if _state["sections"] == 0:
                _state["single"].restore_original_limits()
                _state["single"] = None
                if _state["pending"] is not None:
                    _apply_limit(_state["pending"])
                    _state["pending"] = None
