"""The world of processes this one belongs to, as the layers below ``communication`` see it.

By default a process is a world of one: rank 0 of 1, whose collectives return their input. The
training cells (``nn``) ask ``current()`` for the world and never import MPI;
``minicell.communication.init()`` installs the MPI world here when the process was started by
``mpirun``. A process that ``mpirun`` started as one of several ranks but that never called
``init()`` gets a clear error instead of silently training alone.

A world offers ``rank``, ``size``, ``allreduce(array, op)`` (op ``"sum"`` or ``"max"``, in place,
returning the array), ``allgather_array(array)`` (same-shape arrays stacked in rank order),
``allgather_bytes(data)`` (one ``bytes`` per rank, in rank order: no
pickle), ``alltoallv``, ``allgatherv``, ``barrier()`` and ``abort(code)``.

Launchers: a process counts as launched when any launcher's variables are set (``launcher()``):
Open MPI's ``mpirun`` (``OMPI_COMM_WORLD_SIZE``), PMIx (``PMIX_RANK``, with ``PMIX_SIZE`` when
given), PMI-1/2 as MPICH's Hydra and Intel MPI set them (``PMI_SIZE``), or Slurm's ``srun``
(``SLURM_PROCID`` with ``SLURM_STEP_NUM_TASKS`` or ``SLURM_NTASKS``). ``set_step(n)`` records the
training step that the collectives belong to, for the messages of a collective that times out.
"""
from __future__ import annotations

import os
from typing import Any, cast

import numpy as np

from minicell._checks import Shown, fail

# every variable by which a launcher is recognised (a test strips them all for a plain process)
LAUNCH_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMIX_SIZE", "PMI_SIZE", "SLURM_PROCID",
                         "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
# (launcher, the variable whose presence says so, the variables that hold the world size, in order)
LAUNCHERS = (("Open MPI's mpirun", "OMPI_COMM_WORLD_SIZE", ("OMPI_COMM_WORLD_SIZE",)),
             ("PMIx", "PMIX_RANK", ("PMIX_SIZE",)),
             ("PMI", "PMI_SIZE", ("PMI_SIZE",)),
             ("Slurm", "SLURM_PROCID", ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")))


def launcher() -> tuple[str, str, int | None] | None:
    """``(launcher, its size variable, the size it gives or None)`` of the first launcher whose
    variables are set, or None in a process no launcher started."""
    for name, marker, sizes in LAUNCHERS:
        if marker in os.environ:
            for variable in sizes:
                value = os.environ.get(variable, "")
                if value.isdigit():
                    return name, variable, int(value)
            return name, sizes[0], None
    return None


def launched_size() -> int:
    """How many ranks the launcher started this process among (1 when not launched or not said)."""
    found = launcher()
    return found[2] or 1 if found is not None else 1


_step: dict[str, int | None] = {"step": None}


def set_step(step: int | None) -> None:
    """The training step the coming collectives belong to (named when one times out)."""
    _step["step"] = step


def current_step() -> int | None:
    return _step["step"]


class SingleProcess:
    """A world of one process: every collective is the identity."""

    rank = 0
    size = 1

    def allreduce(self, array: np.ndarray, op: str) -> np.ndarray:
        return array

    def allgather_array(self, array: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, np.asarray(array)[None].copy())

    def allgather_bytes(self, data: bytes) -> list[bytes]:
        return [bytes(data)]

    def barrier(self) -> None:
        return None

    def abort(self, code: int) -> None:
        os._exit(code)


_state: dict[str, Any] = {"world": None}


def install(world: Any) -> None:
    """Make ``world`` this process's world (``None``: back to a world of one)."""
    _state["world"] = world


def installed() -> Any:
    """The installed world, or None before ``communication.init()``."""
    return _state["world"]


def current() -> Any:
    """This process's world; a world of one when no MPI world is installed and none was launched."""
    world = _state["world"]
    if world is not None:
        return world
    size = launched_size()
    if size > 1:
        raise fail(RuntimeError, "minicell.communication", "init()", "called before training in a process that "
                   "an MPI launcher started", Shown(f"one of {size} ranks that has not called it"))
    return _SINGLE


_SINGLE = SingleProcess()
