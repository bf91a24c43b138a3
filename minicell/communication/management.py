"""``init``, ``get_rank``, ``get_group_size``, ``release``, ``barrier`` (MindSpore's names).

``init()`` is idempotent. In a process that any launcher started (``mpirun``, ``srun``, Hydra's
``mpiexec``, ``python -m minicell.run``: ``_runtime.world.launcher()``) it imports mpi4py, checks
that MPI's world has the size the launcher announced, installs the MPI world for the training
cells with a deadline on every collective (``timeout``, default 300 s, or the environment
variable ``MINICELL_COLLECTIVE_TIMEOUT``), aborts the whole job on an uncaught exception or a
rank that exits alone, and limits this rank's threads (minicell's pool and BLAS) to
``MINICELL_NUM_THREADS`` or ``max(1, usable cores // ranks on this host)`` (usable cores:
``os.sched_getaffinity``, which honours Slurm's ``--cpus-per-task``, cgroups and ``taskset``).
Anywhere else the process is a world of size 1 and MPI is never touched.
"""
from __future__ import annotations

import math
import os
from typing import Any

import minicell._runtime.world as _world
from minicell._checks import Shown, check_real, fail, fail_value
from minicell._runtime.memory import keep_freed_memory
from minicell._runtime.parallel import set_num_threads

_state: dict[str, Any] = {"released": False}
DEFAULT_TIMEOUT = 300.0
TIMEOUT_VARIABLE = "MINICELL_COLLECTIVE_TIMEOUT"
LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not all the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _threads_per_rank() -> int:
    given = os.environ.get("MINICELL_NUM_THREADS", "")
    if given.isdigit() and int(given) >= 1:
        return int(given)
    for name in LOCAL_SIZE_VARIABLES:
        local = os.environ.get(name, "")
        if local.isdigit() and int(local) >= 1:
            return max(1, usable_cores() // int(local))
    return max(1, usable_cores() // _world.launched_size())


def collective_timeout(timeout: Any) -> float:
    """The deadline in seconds: ``timeout`` if given, else the environment variable, else 300."""
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE)
        if text is None:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(text)
        except ValueError:
            timeout = math.nan
        if not (0 < timeout < math.inf):
            raise fail_value("init", TIMEOUT_VARIABLE, "a number of seconds > 0", Shown(repr(text)))
        return timeout
    return check_real("init", "timeout", timeout, 0.0, closed_low=False)


def init(backend_name: str | None = None, timeout: float | None = None) -> None:
    """Join the world this process was launched in (idempotent; a world of one when not launched).

    Args:
        backend_name: accepted for MindSpore compatibility: None or ``"mpi"``.
        timeout: seconds any collective may wait before the job is aborted (None: the environment
            variable ``MINICELL_COLLECTIVE_TIMEOUT``, else 300).

    Raises:
        RuntimeError: a launcher started this process but mpi4py cannot be imported, or MPI's world
            size differs from the launcher's (an MPI built without that launcher's support).
    """
    if backend_name not in (None, "mpi"):
        raise fail_value("init", "backend_name", "None or 'mpi'", backend_name)
    seconds = collective_timeout(timeout)
    if _world.installed() is not None:
        return
    if _state["released"]:
        raise fail(RuntimeError, "init", "the call", "made before release() (MPI cannot start again in a process "
                   "that finalized it)", Shown("a call after release()"))
    found = _world.launcher()
    if found is None:
        _world.install(_world.SingleProcess())
        return
    name, variable, size = found
    try:
        from minicell.communication._mpi_world import MPIWorld, install_abort_hook, install_exit_hook
    except ImportError as error:
        raise fail(RuntimeError, "init", "mpi4py", f"importable in a process that {name} started ({variable} is "
                   "set): pip install mpi4py, built against the MPI of the launcher",
                   Shown(f"{type(error).__name__}: {error}")) from None
    world = MPIWorld(timeout=seconds)
    if size is not None and world.size != size:
        raise fail(RuntimeError, "init", "world size", f"{size}, the ranks {name} started ({variable}={size}; a "
                   "different size means this MPI does not speak that launcher's protocol: use its mpirun, or srun "
                   "--mpi=pmix with an MPI built with PMIx; or the variable is stale)", world.size)
    install_abort_hook(world)
    install_exit_hook(world)
    set_num_threads(_threads_per_rank())
    keep_freed_memory()  # the exchanges allocate megabytes per call
    _world.install(world)


def get_rank() -> int:
    """This process's rank in the world (0 in a world of one)."""
    return int(_world.current().rank)


def get_group_size() -> int:
    """How many ranks the world has (1 when not launched)."""
    return int(_world.current().size)


def barrier() -> None:
    """Wait until every rank got here."""
    _world.current().barrier()


def release() -> None:
    """Leave the world: wait for every rank (bounded), then finalize MPI if this process started it.
    Idempotent."""
    world = _world.installed()
    if world is not None and not isinstance(world, _world.SingleProcess):
        world.wait_for_everyone_at_exit()
    _world.install(None)
    if world is not None and not isinstance(world, _world.SingleProcess):
        from minicell.communication._mpi_world import finalize
        finalize()
        _state["released"] = True
