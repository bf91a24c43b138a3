"""The world of processes this one belongs to, as the layers below ``communication`` see it.

By default a process is a world of one: rank 0 of 1, whose collectives return their input. The
training cells (``nn``) ask ``current()`` for the world and never import MPI;
``minicell.communication.init()`` installs the MPI world here when the process was started by
``mpirun``. A process that ``mpirun`` started as one of several ranks but that never called
``init()`` gets a clear error instead of silently training alone.

A world offers ``rank``, ``size``, ``allreduce(array, op)`` (op ``"sum"`` or ``"max"``, in place,
returning the array), ``allgather_array(array)`` (same-shape arrays stacked in rank order),
``allgather_bytes(data)`` (one ``bytes`` per rank, in rank order: no
pickle) and ``abort(code)``.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

LAUNCH_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE")


def launched_size() -> int:
    """How many ranks the MPI launcher started this process among (1 when not launched)."""
    for name in LAUNCH_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class SingleProcess:
    """A world of one process: every collective is the identity."""

    rank = 0
    size = 1

    def allreduce(self, array: np.ndarray, op: str) -> np.ndarray:
        return array

    def allgather_array(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array)[None].copy()

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
        raise RuntimeError(f"This process was started by an MPI launcher as one of {size} ranks: call "
                           f"minicell.communication.init() before training.")
    return _SINGLE


_SINGLE = SingleProcess()
