"""Runtime state, the one home of it (DESIGN.md section 1, helpers layer).

- ``pools``: every thread pool of the process, one per use, by name (``shared_pool``).
- ``parallel``: minicell's parallel loops (``run_parallel``, ``run_tasks``), the thread count
  (``set_num_threads``), per-thread scratch buffers.
- ``blas``: NumPy's BLAS threads (the one import of ``threadpoolctl``): the process-wide limit and
  the ``single_threaded_blas()`` context.
- ``fork``: what a forked child makes anew (``on_fork_in_child``; the one ``register_at_fork``).
- ``memory``: the allocator policy (``keep_freed_memory``).
- ``world``: the process world (rank, size, collectives); ``sharding``: shard bounds.
- ``segments``, ``reservations``: the one-pass step's segment plan and the step's random
  reservations (sample-indexed draws, the recompute log).
"""
