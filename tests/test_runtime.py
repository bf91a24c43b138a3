"""The runtime home (minicell/_runtime/): named pools, the BLAS limits, fork handlers."""
from __future__ import annotations

import os
import select
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import minicell as mc
from minicell._runtime import blas, fork, parallel, pools
from minicell._runtime.parallel import run_parallel


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_a_named_pool_is_shared_and_replaced_only_for_another_size():
    a = pools.shared_pool("test-a", 2)
    assert pools.shared_pool("test-a", 2) is a
    assert pools.shared_pool("test-b", 2) is not a
    b = pools.shared_pool("test-a", 3)
    assert b is not a and pools.shared_pool("test-a", 3) is b
    assert a.submit(lambda: 7).result(timeout=60) == 7  # a replaced pool still runs what it is given
    names = b.submit(lambda: __import__("threading").current_thread().name).result(timeout=60)
    assert names.startswith("minicell-test-a")


@pytest.mark.skipif(not blas_threads(), reason="threadpoolctl finds no BLAS library to limit")
def test_single_threaded_blas_limits_inside_and_restores_on_leaving():
    before = blas_threads()
    with blas.single_threaded_blas():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


@pytest.mark.skipif(not blas_threads(), reason="threadpoolctl finds no BLAS library to limit")
def test_overlapping_single_threaded_sections_keep_one_thread_until_the_last_closes():
    """Two steps on two threads: the first to close must not give BLAS its threads back while the
    other still runs; a set_num_threads made meanwhile takes effect when the last closes."""
    previous = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        first = blas.single_threaded_blas()
        second = blas.single_threaded_blas()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert set(blas_threads()) == {1}
        mc.set_num_threads(2)
        assert set(blas_threads()) == {1}
        second.__exit__(None, None, None)
        assert set(blas_threads()) == {2}
    finally:
        mc.set_num_threads(previous)


@pytest.mark.skipif(not blas_threads(), reason="threadpoolctl finds no BLAS library to limit")
def test_set_num_threads_limits_blas_too():
    previous = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        assert set(blas_threads()) == {1} and mc.get_num_threads() == 1
        mc.set_num_threads(2)
        assert mc.get_num_threads() == 2
    finally:
        mc.set_num_threads(previous)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
def test_a_forked_child_runs_the_handlers_and_gets_working_pools():
    ran = []
    fork.on_fork_in_child(lambda: ran.append("child"))
    previous = mc.get_num_threads()
    mc.set_num_threads(2)
    out = np.zeros(1 << 20)

    def body(lo: int, hi: int) -> None:
        out[lo:hi] = 1.0

    try:
        run_parallel(out.size, body)  # the parent's pools have live workers before the fork
        pools.shared_pool("dataset", 2).submit(int).result(timeout=60)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, never return into pytest
            code = 1
            try:
                out[:] = 0.0
                run_parallel(out.size, body)
                pool_ok = pools.shared_pool("dataset", 2).submit(lambda: 5).result(timeout=30) == 5
                code = 0 if ran == ["child"] and pool_ok and out.all() else 2
            finally:
                os.write(write, bytes([code]))
                os._exit(code)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 300)  # a safety net only: the child reports at once
        report = os.read(read, 1) if ready else b"hung"
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    finally:
        mc.set_num_threads(previous)
    assert report == b"\x00" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert ran == []  # the handler ran in the child only


def test_a_failing_piece_or_task_is_raised_only_after_every_other_has_ended():
    """The caller's piece fails at once while the pool's piece is still running: the call returns
    only after that piece ended (nothing runs on after a failed call), and raises the error a serial
    loop would have met first."""
    previous = mc.get_num_threads()
    mc.set_num_threads(2)
    try:
        started, ended = threading.Event(), threading.Event()

        def piece(lo, hi):
            if lo == 0:
                assert started.wait(60)  # a safety net: the other piece starts at once
                raise ValueError("piece 0")
            started.set()
            threading.Event().wait(0.05)  # likely still running when piece 0 fails; the assertion
            # below holds however the threads are scheduled (the call waits for this piece)
            ended.set()
            raise ValueError("piece 1")

        with pytest.raises(ValueError, match="^piece 0$"):
            parallel.run_parallel(2 * parallel.MIN_PER_THREAD, piece)
        assert ended.is_set()

        ran = []

        def task(i):
            ran.append(i)
            if i in (1, 2):
                raise KeyError(i)
        with pytest.raises(KeyError) as caught:
            parallel.run_tasks(4, task)
        assert caught.value.args == (1,) and sorted(ran) == [0, 1, 2]  # task 3 follows 1 on its thread
    finally:
        mc.set_num_threads(previous)
