"""One thread pool for minicell, and per-thread scratch buffers asked for by name.

Every value minicell draws is a pure function of (seed, offset, element index), so a range can
be cut anywhere and the pieces computed in any order, on any thread, with identical results.
NumPy releases the GIL inside its ufunc loops, so threads give real speed-up on large draws and
on the optimizer's elementwise updates.

- ``run_parallel(count, body, align)`` calls ``body(lo, hi)`` over a partition of ``[0, count)``.
- ``run_tasks(count, body)`` calls ``body(i)`` for ``i < count``, whole tasks spread over the pool
  (the segments of a one-pass training step); ``single_threaded_blas()`` limits BLAS to one thread.
- ``scratch(name, shape, dtype)`` returns this thread's buffer of that name, reallocated only
  when a larger one is asked for; nothing else stores state on the pool.
- ``set_num_threads(n)`` (re-exported as ``minicell.set_num_threads``) limits this pool and, when
  ``threadpoolctl`` is installed, NumPy's BLAS together, so neither oversubscribes the cores.

Fork safety: the lock and the pool are created anew in a forked child (``os.register_at_fork``),
so a child forked while other threads work never waits on a lock or a worker it did not inherit.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from minicell._checks import check_int

MIN_PER_THREAD = 1 << 18  # below this many elements per thread, threads cost more than they give
MAX_THREADS = 256

_lock = threading.Lock()
_state: dict[str, Any] = {"threads": max(1, min(os.cpu_count() or 1, 8)), "pool": None, "blas": None}
_local = threading.local()


def _reset_after_fork() -> None:
    """A forked child inherits no worker threads and maybe a held lock: start afresh."""
    global _lock, _local
    _lock = threading.Lock()
    _local = threading.local()
    _state["pool"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def get_num_threads() -> int:
    """How many threads minicell's pool uses (and BLAS, once ``set_num_threads`` set it)."""
    return int(_state["threads"])


def _limit_blas(n: int) -> None:
    """Limit NumPy's BLAS threads with threadpoolctl when it is installed (else leave BLAS be)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: minicell's own pool is still limited
        return
    if _state["blas"] is not None:
        _state["blas"].unregister()
    _state["blas"] = threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minicell's pool and NumPy's BLAS (1 disables threading).

    Results never change with the thread count. Safe while other threads draw: a pool being
    replaced finishes the work already handed to it.
    """
    n = check_int("set_num_threads", "n", n, 1, MAX_THREADS + 1)
    with _lock:
        if n != _state["threads"] and _state["pool"] is not None:
            _state["pool"] = None  # not shut down: work already handed to it finishes, then it is collected
        _state["threads"] = n
        _limit_blas(n)


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="minicell")
        return _state["pool"]


def scratch(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """This thread's scratch buffer ``name`` with at least ``shape`` (contents undefined).

    The buffer is kept per thread and grown when a larger one is asked for, so hot loops
    allocate once per thread, not once per call.
    """
    buffers = getattr(_local, "scratch", None)
    if buffers is None:
        buffers = _local.scratch = {}
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    buf = buffers.get((name, dtype))
    if buf is None or buf.size < size:
        buf = buffers[(name, dtype)] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def run_parallel(count: int, body: Callable[[int, int], None], align: int = 1) -> None:
    """Call ``body(lo, hi)`` over a partition of ``[0, count)`` into pieces aligned to ``align``."""
    threads = min(int(_state["threads"]), max(1, count // MIN_PER_THREAD))
    if threads <= 1 or getattr(_local, "in_pool", False):
        body(0, count)
        return
    step = -(-count // threads)
    step = -(-step // align) * align
    bounds = [(lo, min(lo + step, count)) for lo in range(0, count, step)]

    def task(lo: int, hi: int) -> None:
        _local.in_pool = True
        body(lo, hi)

    pool = _pool(threads)
    futures = [pool.submit(task, lo, hi) for lo, hi in bounds[1:]]
    body(*bounds[0])
    for future in futures:
        future.result()


def run_tasks(count: int, body: Callable[[int], None], spread: bool = True) -> None:
    """Call ``body(i)`` for every ``i`` in ``range(count)``, whole tasks spread over the pool.

    Serial with one thread, with ``spread=False`` (work too small to pay for a hand-off) and
    inside a pool task; otherwise the caller runs the first task while the pool runs the others.
    """
    threads = min(int(_state["threads"]), count)
    if threads <= 1 or not spread or getattr(_local, "in_pool", False):
        for i in range(count):
            body(i)
        return

    def task(i: int) -> None:
        _local.in_pool = True
        body(i)

    pool = _pool(int(_state["threads"]))
    futures = [pool.submit(task, i) for i in range(1, count)]
    _local.in_pool = True
    try:
        body(0)
    finally:
        _local.in_pool = False
    for future in futures:
        future.result()


_blas_controller: list[Any] = []


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread inside (work whose bits must not depend on the thread count:
    OpenBLAS rounds some products differently with 1 and 2 threads, DESIGN.md section 7)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it BLAS is left as it is
        yield
        return
    if not _blas_controller:
        _blas_controller.append(ThreadpoolController())
    with _blas_controller[0].limit(limits=1, user_api="blas"):
        yield
