"""The MPI world: ``mpi4py``'s ``COMM_WORLD`` behind the small interface of ``minicell._runtime.world``.

Imported only by ``communication.init()`` in a process that an MPI launcher started, so
``import minicell`` never imports mpi4py. Every collective moves NumPy buffers (no pickle).
An exception that reaches ``sys.excepthook`` on any rank prints its traceback and aborts the
whole communicator, so the other ranks never wait forever in a collective.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any

import numpy as np
from mpi4py import MPI

_OPS = {"sum": MPI.SUM, "max": MPI.MAX}


def _displacements(counts: list[int]) -> list[int]:
    return [int(v) for v in np.concatenate([[0], np.cumsum(counts[:-1], dtype=np.int64)])] if counts else []


class MPIWorld:
    """``COMM_WORLD`` (or ``comm``): rank, size and the collectives minicell needs."""

    def __init__(self, comm: Any = None) -> None:
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def allreduce(self, array: np.ndarray, op: str) -> np.ndarray:
        self.comm.Allreduce(MPI.IN_PLACE, array, op=_OPS[op])
        return array

    def allgather_array(self, array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array)
        out = np.empty((self.size, *array.shape), array.dtype)
        self.comm.Allgather(array, out)
        return out

    def allgather_bytes(self, data: bytes) -> list[bytes]:
        lengths = np.zeros(self.size, np.int64)
        self.comm.Allgather(np.array([len(data)], np.int64), lengths)
        counts = [int(v) for v in lengths]
        out = np.empty(sum(counts), np.uint8)
        self.comm.Allgatherv(np.frombuffer(bytes(data), np.uint8), [out, (counts, _displacements(counts))])
        offsets = [0, *np.cumsum(counts).tolist()]
        return [out[offsets[i]:offsets[i + 1]].tobytes() for i in range(self.size)]

    def alltoallv(self, send: np.ndarray, send_counts: list[int], recv_counts: list[int]) -> np.ndarray:
        recv = np.empty(sum(recv_counts), send.dtype)
        self.comm.Alltoallv([send, (send_counts, _displacements(send_counts))],
                            [recv, (recv_counts, _displacements(recv_counts))])
        return recv

    def allgatherv(self, part: np.ndarray, counts: list[int]) -> np.ndarray:
        out = np.empty(sum(counts), part.dtype)
        self.comm.Allgatherv(np.ascontiguousarray(part), [out, (counts, _displacements(counts))])
        return out

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        self.comm.Abort(code)


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


def finalize() -> None:
    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.Finalize()
