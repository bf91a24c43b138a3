"""Splitting element ranges across threads.

Every value minicell draws is a pure function of (seed, offset, element index), so a range can
be cut anywhere and the pieces computed in any order, on any thread, with identical results.
NumPy releases the GIL inside its ufunc loops, so threads give real speed-up on large draws.
``set_num_threads(1)`` turns it off.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from minicell._checks import check_int

MIN_PER_THREAD = 1 << 18  # below this many elements per thread, threads cost more than they give

_lock = threading.Lock()
_state = {"threads": max(1, min(os.cpu_count() or 1, 8)), "pool": None}
_local = threading.local()


def _forget_pool_after_fork() -> None:
    """A forked child inherits no worker threads: make it start its own pool."""
    _state["pool"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def get_num_threads() -> int:
    """How many threads large random draws use."""
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Set how many threads large random draws use (1 disables threading). Results never change."""
    n = check_int("set_num_threads", "n", n, 1, 257)
    with _lock:
        if n != _state["threads"] and _state["pool"] is not None:
            _state["pool"].shutdown(wait=False)
            _state["pool"] = None
        _state["threads"] = n


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="minicell-rng")
        return _state["pool"]


def _workspace():  # one per thread, reused across calls
    from minicell.random.philox import Workspace
    work = getattr(_local, "work", None)
    if work is None:
        work = _local.work = Workspace()
    return work


def run_parallel(count: int, body: Callable[[int, int, object], None], align: int = 1) -> None:
    """Call ``body(lo, hi, workspace)`` over a partition of ``[0, count)`` into aligned pieces."""
    threads = min(_state["threads"], max(1, count // MIN_PER_THREAD))
    if threads <= 1 or getattr(_local, "in_pool", False):
        body(0, count, _workspace())
        return
    step = -(-count // threads)
    step = -(-step // align) * align
    bounds = [(lo, min(lo + step, count)) for lo in range(0, count, step)]

    def task(lo: int, hi: int) -> None:
        _local.in_pool = True
        body(lo, hi, _workspace())

    futures = [_pool(threads).submit(task, lo, hi) for lo, hi in bounds[1:]]
    body(*bounds[0], _workspace())
    for future in futures:
        future.result()
