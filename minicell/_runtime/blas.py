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
_state: dict[str, Any] = {"controller": None, "limit": None}


@on_fork_in_child
def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _state["controller"] = None


def _controller() -> Any:
    with _lock:
        if _state["controller"] is None:
            _state["controller"] = ThreadpoolController()
        return _state["controller"]


def limit_blas_threads(n: int) -> None:
    """Let BLAS use at most ``n`` threads from now on (replacing the limit set before)."""
    controller = _controller()
    with _lock:
        if _state["limit"] is not None:
            _state["limit"].restore_original_limits()
        _state["limit"] = controller.limit(limits=n, user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread inside; the limit before is restored on leaving."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
