"""minicell's parallel loops, its thread count, and per-thread scratch buffers asked for by name.

Every value minicell draws is a pure function of (seed, offset, element index), so a range can
be cut anywhere and the pieces computed in any order, on any thread, with identical results.
NumPy releases the GIL inside its ufunc loops, so threads give real speed-up on large draws and
on the optimizer's elementwise updates.

- ``run_parallel(count, body, align)`` calls ``body(lo, hi)`` over a partition of ``[0, count)``,
  on the ``"parallel"`` pool of ``minicell._runtime.pools`` (the module that owns every pool).
- ``run_tasks(count, body)`` calls ``body(i)`` for ``i < count``, whole tasks spread over the
  ``"segments"`` pool (the segments of a one-pass training step).
- ``scratch(name, shape, dtype)`` returns this thread's buffer of that name, reallocated only
  when a larger one is asked for; nothing else stores state on the threads.
- ``set_num_threads(n)`` (re-exported as ``minicell.set_num_threads``) sets the thread count of
  the parallel loops and of micro-batches, and limits NumPy's BLAS to as many threads
  (``minicell._runtime.blas``), so neither oversubscribes the cores.

Fork safety: the lock and the per-thread buffers are made anew in a forked child
(``minicell._runtime.fork``), and so are the pools.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._checks import check_int
from minicell._runtime.blas import limit_blas_threads
from minicell._runtime.fork import on_fork_in_child
from minicell._runtime.pools import shared_pool

MIN_PER_THREAD = 1 << 18  # below this many elements per thread, threads cost more than they give
MAX_THREADS = 256

_lock = threading.Lock()
_state: dict[str, int] = {"threads": max(1, min(os.cpu_count() or 1, 8))}
_local = threading.local()


@on_fork_in_child
def _reset_after_fork() -> None:
    """A forked child inherits no worker threads and maybe a held lock: start afresh."""
    global _lock, _local
    _lock = threading.Lock()
    _local = threading.local()


def get_num_threads() -> int:
    """How many threads minicell's pools use (and BLAS, once ``set_num_threads`` set it)."""
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minicell's pools and NumPy's BLAS (1 disables threading).

    minicell's own loops never change a result with the thread count. BLAS can: OpenBLAS splits
    a product differently for 1 and 2 threads, so a micro-batched training step (and every
    world size) runs its products with single-threaded BLAS; the plain step
    (``TrainOneStepCell(micro_batch_size=None)``) uses all BLAS threads for speed, and its bits may
    change with ``n``. Safe while other threads draw: a pool being replaced finishes the work
    already handed to it.
    """
    n = check_int("set_num_threads", "n", n, 1, MAX_THREADS + 1)
    with _lock:
        _state["threads"] = n
        limit_blas_threads(n)


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
    result: np.ndarray = buf[:size].reshape(shape)
    return result


def run_parallel(count: int, body: Callable[[int, int], None], align: int = 1) -> None:
    """Call ``body(lo, hi)`` over a partition of ``[0, count)`` into pieces aligned to ``align``."""
    threads = min(_state["threads"], max(1, count // MIN_PER_THREAD))
    if threads <= 1 or getattr(_local, "in_pool", False):
        body(0, count)
        return
    step = -(-count // threads)
    step = -(-step // align) * align
    bounds = [(lo, min(lo + step, count)) for lo in range(0, count, step)]

    def task(lo: int, hi: int) -> None:
        _local.in_pool = True
        body(lo, hi)

    pool = shared_pool("parallel", _state["threads"])
    futures = [pool.submit(task, lo, hi) for lo, hi in bounds[1:]]
    own: BaseException | None = None
    _local.in_pool = True  # the caller's own piece runs nested loops serially too: its nested tasks
    try:  # would otherwise queue behind the pool's busy workers and wait for them
        body(*bounds[0])
    except BaseException as error:  # raised below, once every piece has ended
        own = error
    finally:
        _local.in_pool = False
    _raise_first([own] + [future.exception() for future in futures])  # exception() waits for each piece


def _raise_first(errors: list[BaseException | None]) -> None:
    """Raise the first error in piece order (what a serial loop would have met first), if any."""
    first = next((error for error in errors if error is not None), None)
    if first is not None:
        raise first


def run_tasks(count: int, body: Callable[[int], None], spread: bool = True) -> None:
    """Call ``body(i)`` for every ``i`` in ``range(count)``, whole tasks spread over the threads.

    Serial with one thread, with ``spread=False`` (work too small to pay for a hand-off) and
    inside a pool task. Otherwise thread ``t`` of ``T`` (the caller is thread 0) runs tasks
    ``t, t + T, t + 2T, ...``: no more threads run at once than the thread count, and equal tasks
    finish together (4 segments on 2 threads take 2 task times, not 3 threads fighting for 2
    cores and then a straggler).
    """
    threads = min(_state["threads"], count)
    if threads <= 1 or not spread or getattr(_local, "in_pool", False):
        for i in range(count):
            body(i)
        return

    errors: list[BaseException | None] = [None] * count

    def share(first: int) -> None:
        _local.in_pool = True
        for i in range(first, count, threads):
            try:
                body(i)
            except BaseException as error:  # raised below, once every share has ended
                errors[i] = error
                return

    pool = shared_pool("segments", _state["threads"])
    futures = [pool.submit(share, t) for t in range(1, threads)]
    try:
        share(0)
    finally:
        _local.in_pool = False
    for future in futures:
        future.result()  # waits; share() itself never raises
    _raise_first(errors)
