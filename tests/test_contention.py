"""Many threads on one Generator: no offset lost or used twice, every draw equal to the stateless
draw at its offset, and ``set_num_threads`` safe while others draw (issue 11, item 6).

The full 64 threads x 20,000 reservations run is ``benchmarks/bench_contention.py``; the sizes
here keep the test to a few seconds.
"""
from __future__ import annotations

import threading

import numpy as np

import minicell as mc
import minicell.random as R
from minicell import ops

THREADS = 64


def _run(threads: int, body) -> list[BaseException]:
    """Start ``threads`` threads at once on ``body(i)``; return the exceptions they raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            body(i)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
    workers = [threading.Thread(target=wrapped, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a thread hung"
    return errors


def test_64_threads_reserving_lose_no_offset_and_use_none_twice():
    per_thread = 5000
    gen = mc.Generator().manual_seed(3)
    gen(5)
    got: list[list[int]] = [[] for _ in range(THREADS)]

    def body(i: int) -> None:
        for _ in range(per_thread):
            seed, offset = gen(1)
            assert seed == 3
            got[i].append(offset)
    assert _run(THREADS, body) == []
    offsets = sorted(o for rows in got for o in rows)
    assert offsets == list(range(5, 5 + THREADS * per_thread))
    assert int(gen.get_state()[1].asnumpy()) == 5 + THREADS * per_thread


def test_64_threads_drawing_each_get_the_stateless_draw_of_a_distinct_offset():
    per_thread = 30
    seed = 21
    gen = mc.Generator().manual_seed(seed)
    results: list[list[bytes]] = [[] for _ in range(THREADS)]

    def body(i: int) -> None:
        for _ in range(per_thread):
            results[i].append(ops.rand(4, generator=gen).asnumpy().tobytes())
    assert _run(THREADS, body) == []
    total = THREADS * per_thread
    drawn = sorted(r for rows in results for r in rows)
    expected = sorted(R.uniform(seed, offset, (4,)).tobytes() for offset in range(total))
    assert drawn == expected  # the same multiset: every offset's draw exactly once
    assert int(gen.get_state()[1].asnumpy()) == total


def test_set_num_threads_while_other_threads_draw_never_raises():
    size = 3 << 18  # large enough that a draw is split over the pool
    seed = 8
    gen = mc.Generator().manual_seed(seed)
    before = mc.get_num_threads()
    draws: list[list[np.ndarray]] = [[] for _ in range(4)]
    stop = threading.Event()

    def drawer(i: int) -> None:
        while not stop.is_set() and len(draws[i]) < 6:
            draws[i].append(ops.rand(size, generator=gen).asnumpy())

    def toggler(_: int) -> None:
        for n in (1, 3, 2, 4, 1, 2) * 3:
            mc.set_num_threads(n)

    try:
        errors = _run(5, lambda i: toggler(i) if i == 4 else drawer(i))
    finally:
        stop.set()
        mc.set_num_threads(before)
    assert errors == []
    total = int(gen.get_state()[1].asnumpy())
    assert total == sum(len(rows) for rows in draws)
    # whatever the thread count was during a draw, each result is the stateless draw of one offset
    expected = {R.uniform(seed, offset, (size,)).tobytes() for offset in range(total)}
    assert {a.tobytes() for rows in draws for a in rows} == expected
