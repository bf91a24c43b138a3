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
import time

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
CHILD_TIMEOUT = 10.0
LARGE = 1 << 19  # two chunks of the thread pool (MIN_PER_THREAD = 2**18): the child uses the pool


def child_draws_once(generator):
    """Draw through the contended generator, the default one and the pool; 0 if all is right."""
    seed, offset = generator.get_state()
    values = ops.rand(LARGE, generator=generator).asnumpy()
    expected = uniform(int(seed), int(offset), (LARGE,))
    mc.rand(4)
    return 0 if (values == expected).all() else 1


class Drawers:
    """``count`` threads drawing from ``generator`` and the default generator until stopped."""

    def __init__(self, generator, count=8):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(generator,), daemon=True) for _ in range(count)]

    def run(self, generator):
        while not self.stop.is_set():
            ops.rand(2, generator=generator)
            mc.rand(1)

    def __enter__(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)  # the forking thread gets the GIL back sooner: a faster test
        for t in self.threads:
            t.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=CHILD_TIMEOUT)
        sys.setswitchinterval(self.interval)


def wait_or_kill(pid):
    """The child's exit status, or None after killing a child that did not finish in time.

    A blocking ``waitpid`` (it releases the GIL, so the parent wakes as soon as the child exits
    although eight threads compete for the GIL) with a timer that kills the child on timeout.
    """
    timer = threading.Timer(CHILD_TIMEOUT, os.kill, (pid, signal.SIGKILL))
    timer.start()
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        timer.cancel()
    return None if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else status


def test_os_fork_while_eight_threads_draw_never_hangs_the_child():
    generator = mc.Generator().manual_seed(11)
    statuses = []
    with Drawers(generator):
        for _ in range(FORKS):
            pid = os.fork()
            if pid == 0:  # the child: never return into pytest
                code = 1
                try:
                    code = child_draws_once(generator)
                finally:
                    os._exit(code)
            statuses.append(wait_or_kill(pid))
            if statuses[-1] is None:
                break  # one hang is enough to fail; do not wait for twenty
    hung = statuses.count(None)
    assert hung == 0, f"a forked child hung (after {len(statuses) - 1} that finished)"
    assert all(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in statuses), statuses


def _mp_child(generator):
    os._exit(child_draws_once(generator))


def test_multiprocessing_fork_workers_while_eight_threads_draw_finish():
    context = multiprocessing.get_context("fork")
    generator = mc.Generator().manual_seed(12)
    codes = []
    with Drawers(generator):
        for _ in range(FORKS // 2):
            proc = context.Process(target=_mp_child, args=(generator,))
            proc.start()
            proc.join(CHILD_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join()
                codes.append(None)
                break
            codes.append(proc.exitcode)
    assert codes == [0] * len(codes), codes
