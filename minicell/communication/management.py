"""``init``, ``get_rank``, ``get_group_size``, ``release``, ``barrier`` (MindSpore's names).

``init()`` is idempotent. In a process started by an MPI launcher (``mpirun``, or
``python -m minicell.run``) with more than one rank it imports mpi4py, installs the MPI world
for the training cells, aborts the whole job on an uncaught exception, and limits this rank's
threads (minicell's pool and BLAS) to ``MINICELL_NUM_THREADS`` or ``max(1, cores // local ranks)``.
Anywhere else the process is a world of size 1 and MPI is never touched.
"""
from __future__ import annotations

import os
from typing import Any

import minicell._runtime.world as _world
from minicell._runtime.memory import keep_freed_memory
from minicell._runtime.parallel import set_num_threads

_state: dict[str, Any] = {"released": False}


def _threads_per_rank() -> int:
    given = os.environ.get("MINICELL_NUM_THREADS", "")
    if given.isdigit() and int(given) >= 1:
        return int(given)
    local = os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", "")
    ranks_here = int(local) if local.isdigit() and int(local) >= 1 else _world.launched_size()
    return max(1, (os.cpu_count() or 1) // ranks_here)


def init(backend_name: str | None = None) -> None:
    """Join the world this process was launched in (idempotent; a world of one when not launched).

    Args:
        backend_name: accepted for MindSpore compatibility: None or ``"mpi"``.
    """
    if backend_name not in (None, "mpi"):
        raise ValueError(f"For 'init', 'backend_name' must be None or 'mpi', but got {backend_name!r}.")
    if _world.installed() is not None:
        return
    if _state["released"]:
        raise RuntimeError("For 'init', communication was released in this process and cannot start again.")
    if _world.launched_size() <= 1:
        _world.install(_world.SingleProcess())
        return
    from minicell.communication._mpi_world import MPIWorld, install_abort_hook
    world = MPIWorld()
    install_abort_hook(world)
    set_num_threads(_threads_per_rank())
    keep_freed_memory()  # the exchanges allocate megabytes per call
    _world.install(world)


def get_rank() -> int:
    """This process's rank in the world (0 in a world of one)."""
    return int(_world.current().rank)


def get_group_size() -> int:
    """How many ranks the world has (1 when not launched by MPI)."""
    return int(_world.current().size)


def barrier() -> None:
    """Wait until every rank got here."""
    _world.current().barrier()


def release() -> None:
    """Leave the world: finalize MPI if this process started it. Idempotent."""
    world = _world.installed()
    _world.install(None)
    if world is not None and not isinstance(world, _world.SingleProcess):
        from minicell.communication._mpi_world import finalize
        finalize()
        _state["released"] = True
