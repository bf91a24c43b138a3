"""The MPI world: ``mpi4py``'s ``COMM_WORLD`` behind the small interface of ``minicell._runtime.world``.

Imported only by ``communication.init()`` in a process that a launcher started, so
``import minicell`` never imports mpi4py. Every collective moves NumPy buffers (no pickle).

Failures end the job instead of hanging it (``torchrun``'s and NCCL's timeouts, ``msrun``'s
``--cluster_time_out``):

- every collective runs under a deadline (``timeout`` seconds): a watchdog thread, armed before
  the call and disarmed after it, prints which rank waited how long in which collective at which
  training step, and aborts the whole job (``MPI_Abort``, exit status 1; mpirun ends every rank);
- an exception that reaches ``sys.excepthook`` on any rank prints its traceback and aborts;
- a rank that exits (normally or by ``sys.exit``) waits at exit, under the same deadline, in a
  barrier of its own communicator (``atexit``): when every rank got there the job ends normally,
  else the job is aborted (a rank that left early would hang the others in their collective).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

import minicell._runtime.world as _world

_OPS = {"sum": MPI.SUM, "max": MPI.MAX}


def _displacements(counts: list[int]) -> list[int]:
    return [int(v) for v in np.concatenate([[0], np.cumsum(counts[:-1], dtype=np.int64)])] if counts else []


class Watchdog:
    """A daemon thread that aborts the job when an armed wait outlives its deadline.

    Arming and disarming only assign an attribute (no lock, no wake-up: a collective costs
    nothing more); the thread looks every ``min(1 s, timeout / 10)``, so it acts within that
    much of the deadline."""

    def __init__(self, rank: int, size: int, timeout: float, abort: Callable[[int], None]) -> None:
        self.rank, self.size, self.timeout, self._abort = rank, size, timeout, abort
        self._armed: tuple[str, float, int | None] | None = None
        self._interval = min(1.0, timeout / 10)
        thread = threading.Thread(target=self._run, name="minicell-collective-watchdog", daemon=True)
        thread.start()

    def arm(self, what: str) -> None:
        self._armed = (what, time.monotonic() + self.timeout, _world.current_step())

    def disarm(self) -> None:
        self._armed = None

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            armed = self._armed
            if armed is None or time.monotonic() < armed[1]:
                continue
            what, _, step = armed
            at = "" if step is None else f" at training step {step}"
            sys.stderr.write(f"minicell: rank {self.rank} of {self.size} waited {self.timeout:g} s in {what}{at} "
                             f"(the limit: init(timeout=...) or MINICELL_COLLECTIVE_TIMEOUT): another rank is "
                             f"stuck, dead or out of step; aborting the job\n")
            sys.stderr.flush()
            self._abort(1)
            return


class MPIWorld:
    """``COMM_WORLD`` (or ``comm``): rank, size and the collectives minicell needs, each bounded."""

    def __init__(self, comm: Any = None, timeout: float = 300.0) -> None:
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.exit_comm = self.comm.Dup()  # the barrier at exit never meets a training collective
        self.watchdog = Watchdog(self.rank, self.size, timeout, self.abort)

    def _bounded(self, what: str, call: Callable[[], Any]) -> Any:
        self.watchdog.arm(f"the collective '{what}'")
        try:
            return call()
        finally:
            self.watchdog.disarm()

    def allreduce(self, array: np.ndarray, op: str) -> np.ndarray:
        self._bounded("allreduce", lambda: self.comm.Allreduce(MPI.IN_PLACE, array, op=_OPS[op]))
        return array

    def allgather_array(self, array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array)
        out = np.empty((self.size, *array.shape), array.dtype)
        self._bounded("allgather", lambda: self.comm.Allgather(array, out))
        return out

    def allgather_bytes(self, data: bytes) -> list[bytes]:
        lengths = np.zeros(self.size, np.int64)
        self._bounded("allgather", lambda: self.comm.Allgather(np.array([len(data)], np.int64), lengths))
        counts = [int(v) for v in lengths]
        out = np.empty(sum(counts), np.uint8)
        self._bounded("allgatherv", lambda: self.comm.Allgatherv(
            np.frombuffer(bytes(data), np.uint8), [out, (counts, _displacements(counts))]))
        offsets = [0, *np.cumsum(counts).tolist()]
        return [out[offsets[i]:offsets[i + 1]].tobytes() for i in range(self.size)]

    def alltoallv(self, send: np.ndarray, send_counts: list[int], recv_counts: list[int]) -> np.ndarray:
        recv = np.empty(sum(recv_counts), send.dtype)
        self._bounded("alltoallv", lambda: self.comm.Alltoallv(
            [send, (send_counts, _displacements(send_counts))], [recv, (recv_counts, _displacements(recv_counts))]))
        return recv

    def allgatherv(self, part: np.ndarray, counts: list[int]) -> np.ndarray:
        out = np.empty(sum(counts), part.dtype)
        self._bounded("allgatherv", lambda: self.comm.Allgatherv(
            np.ascontiguousarray(part), [out, (counts, _displacements(counts))]))
        return out

    def barrier(self) -> None:
        self._bounded("barrier", self.comm.Barrier)

    def abort(self, code: int) -> None:
        self.comm.Abort(code)

    def wait_for_everyone_at_exit(self) -> None:
        """The exit barrier: every rank exits together, or the job is aborted after the deadline."""
        self.watchdog.arm("the barrier at exit (this rank is exiting while another one has not finished)")
        self.exit_comm.Barrier()
        self.watchdog.disarm()


def install_abort_hook(world: MPIWorld) -> None:
    """On an uncaught exception: print it, then abort every rank (exit code 1)."""
    previous = sys.excepthook

    def hook(kind: Any, value: Any, tb: Any) -> None:
        try:
            sys.stderr.write(f"[rank {world.rank}] ")
            traceback.print_exception(kind, value, tb)
            sys.stderr.flush()
        finally:
            if issubclass(kind, KeyboardInterrupt):
                previous(kind, value, tb)
            world.abort(1)

    sys.excepthook = hook


def install_exit_hook(world: MPIWorld) -> None:
    """At interpreter exit (after mpi4py's own hook was registered, so before MPI_Finalize runs):
    the exit barrier, unless the world was released."""

    pid = os.getpid()

    def at_exit() -> None:
        if _world.installed() is world and os.getpid() == pid:  # not in a forked child
            world.wait_for_everyone_at_exit()

    atexit.register(at_exit)


def finalize() -> None:
    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.Finalize()
