"""A world of W ranks simulated by W threads in one process, for in-process tests of collectives.

Each rank gets a ``SimulatedRank`` with the interface of ``minicell._runtime.world`` (rank, size,
allreduce, allgather_array, allgather_bytes, alltoallv, allgatherv, barrier); the collectives meet at a barrier.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class _Meeting:
    def __init__(self, size: int) -> None:
        self.size = size
        self.barrier = threading.Barrier(size, timeout=30)
        self.slots: list[Any] = [None] * size


class SimulatedRank:
    def __init__(self, meeting: _Meeting, rank: int) -> None:
        self.meeting, self.rank, self.size = meeting, rank, meeting.size

    def _exchange(self, value: Any) -> list[Any]:
        self.meeting.slots[self.rank] = value
        self.meeting.barrier.wait()
        everything = list(self.meeting.slots)
        self.meeting.barrier.wait()
        return everything

    def allreduce(self, array: np.ndarray, op: str) -> np.ndarray:
        parts = self._exchange(array.copy())
        array[...] = np.sum(parts, axis=0) if op == "sum" else np.max(parts, axis=0)
        return array

    def allgather_array(self, array: np.ndarray) -> np.ndarray:
        return np.stack(self._exchange(np.array(array, copy=True)))

    def allgather_bytes(self, data: bytes) -> list[bytes]:
        return [bytes(d) for d in self._exchange(bytes(data))]

    def alltoallv(self, send: np.ndarray, send_counts: list[int], recv_counts: list[int]) -> np.ndarray:
        cuts = np.cumsum([0, *send_counts])
        pieces = self._exchange([send[cuts[i]:cuts[i + 1]].copy() for i in range(self.size)])
        out = np.concatenate([pieces[src][self.rank] for src in range(self.size)]).astype(send.dtype)
        assert out.size == sum(recv_counts)
        return out

    def allgatherv(self, part: np.ndarray, counts: list[int]) -> np.ndarray:
        return np.concatenate(self._exchange(part.copy())).astype(part.dtype)

    def barrier(self) -> None:
        self._exchange(None)


def run_ranks(size: int, body: Callable[[SimulatedRank], Any]) -> list[Any]:
    """Run ``body(world)`` on ``size`` simulated ranks; their results in rank order (errors re-raised)."""
    meeting = _Meeting(size)
    results: list[Any] = [None] * size
    errors: list[BaseException] = []

    def task(rank: int) -> None:
        try:
            results[rank] = body(SimulatedRank(meeting, rank))
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)
            meeting.barrier.abort()

    threads = [threading.Thread(target=task, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results
