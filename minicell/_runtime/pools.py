"""Thread pools, all owned here: one shared pool per use, by name.

minicell runs work on threads in three places: its parallel loops (``run_parallel``: large draws,
the optimizers' elementwise updates), the segments of a one-pass training step running beside each
other (``run_tasks``), and dataset workers computing batches ahead. Each asks :func:`shared_pool`
for its pool by name (``"parallel"``, ``"segments"``, ``"dataset"``) with the number of workers it
wants:

- the pool is made on first use, with threads named ``minicell-<name>``;
- asked for another number of workers, a new pool replaces it; the old one is not shut down:
  work already handed to it finishes, then it is collected;
- a forked child gets new pools (the parent's workers do not exist there: work handed to a pool
  copied by fork would never run).

The pools are kept apart so that one use never waits for a worker busy with another (a
segment may call ``run_parallel`` from its worker, and a dataset worker may too).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from minicell._runtime.fork import on_fork_in_child

_lock = threading.Lock()
_pools: dict[str, tuple[ThreadPoolExecutor, int]] = {}


@on_fork_in_child
def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _pools.clear()


def shared_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool ``name`` with ``workers`` workers (see the module docstring)."""
    with _lock:
        pool, size = _pools.get(name, (None, 0))
        if pool is None or size != workers:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"minicell-{name}")
            _pools[name] = (pool, workers)
        return pool
