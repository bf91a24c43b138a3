"""Fork safety: a child forked while other threads draw from a Generator never hangs.

Eight threads reserve from one Generator (and from the default one) in tight loops, so a fork
almost always happens while one of them holds the generator lock. The child draws once through
that Generator, the default generator and the thread pool, checks the values against the
stateless draw, and exits; the parent waits with a timeout and fails (after killing the child)
if the child hangs.
"""
import multiprocessing
import os
import signal
import sys
import threading

import pytest

import minicell as mc
from minicell import ops
from minicell.random import uniform

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform"),
    # Python 3.12+ warns that forking a threaded process may deadlock: that is what is tested
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

FORKS = 20
SAFETY_NET = 120.0  # seconds: only ever reached by a child that hangs (the verdict is its markers)
LARGE = 1 << 19  # two chunks of the thread pool (MIN_PER_THREAD = 2**18): the child uses the pool
STAGES = ["forked", "contended generator", "default generator", "values right"]


def child_draws_once(generator, report):
    """Draw through the contended generator, the default one and the pool, writing a marker to the
    file descriptor ``report`` after each stage; 0 if all is right."""
    os.write(report, b"forked\n")
    seed, offset = generator.get_state()
    values = ops.rand(LARGE, generator=generator).asnumpy()
    os.write(report, b"contended generator\n")
    expected = uniform(int(seed), int(offset), (LARGE,))
    mc.rand(4)
    os.write(report, b"default generator\n")
    if (values == expected).all():
        os.write(report, b"values right\n")
        return 0
    return 1


class Drawers:
    """``count`` threads drawing from ``generator`` and the default generator until stopped."""

    def __init__(self, generator, count=8):
        self.stop = threading.Event()
        self.draws = [0] * count
        self.started = threading.Barrier(count + 1)
        self.threads = [threading.Thread(target=self.run, args=(generator, i), daemon=True) for i in range(count)]

    def run(self, generator, i):
        ops.rand(2, generator=generator)
        self.started.wait(SAFETY_NET)
        while not self.stop.is_set():
            ops.rand(2, generator=generator)
            mc.rand(1)
            self.draws[i] += 1

    def __enter__(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)  # the forking thread gets the GIL back sooner: a faster test
        for t in self.threads:
            t.start()
        self.started.wait(SAFETY_NET)  # every thread has drawn: the generator lock is contended
        return self

    def total(self):
        return sum(self.draws)

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=SAFETY_NET)
        sys.setswitchinterval(self.interval)


def read_markers(read_end, pid):
    """The child's markers, read until it closes the pipe (it exits); a timer kills it if it
    never does, so a hung child shows up as markers that stop short, never as a hung test."""
    timer = threading.Timer(SAFETY_NET, os.kill, (pid, signal.SIGKILL))
    timer.start()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            return pipe.read().decode().splitlines()
    finally:
        timer.cancel()


def test_os_fork_while_eight_threads_draw_never_hangs_the_child():
    generator = mc.Generator().manual_seed(11)
    results = []
    with Drawers(generator) as drawers:
        before = drawers.total()
        for _ in range(FORKS):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never return into pytest
                code = 1
                try:
                    os.close(read_end)
                    code = child_draws_once(generator, write_end)
                finally:
                    os._exit(code)
            os.close(write_end)
            markers = read_markers(read_end, pid)
            _, status = os.waitpid(pid, 0)
            results.append((markers, status))
            if markers != STAGES:
                break  # one failure is enough; do not wait for twenty
        assert drawers.total() > before  # the threads kept drawing while the parent forked
    for markers, status in results:
        assert markers == STAGES, f"a forked child stopped after {markers[-1:] or 'nothing'} (status {status})"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert len(results) == FORKS


def _mp_child(generator, write_end):
    os._exit(child_draws_once(generator, write_end))


def test_multiprocessing_fork_workers_while_eight_threads_draw_finish():
    context = multiprocessing.get_context("fork")
    generator = mc.Generator().manual_seed(12)
    results = []
    with Drawers(generator) as drawers:
        before = drawers.total()
        for _ in range(FORKS // 2):
            read_end, write_end = os.pipe()
            proc = context.Process(target=_mp_child, args=(generator, write_end))
            proc.start()
            os.close(write_end)
            markers = read_markers(read_end, proc.pid)
            proc.join(SAFETY_NET)
            results.append((markers, proc.exitcode))
            if markers != STAGES:
                break
        assert drawers.total() > before
    assert results == [(STAGES, 0)] * (FORKS // 2), results
