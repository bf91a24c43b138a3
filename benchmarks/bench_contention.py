"""Contention: 64 threads reserving from one Generator (issue 11, item 6).

Two runs, each ``--threads`` threads x ``--per-thread`` calls on one shared generator:

* ``gen(1)``: every thread records the offsets it got; afterwards the offsets must be exactly
  ``0 .. N-1`` (nothing lost, nothing used twice).
* ``ops.rand(4, generator=g)``: every result must be the float32 uniform of one offset in
  ``0 .. N-1``, each offset exactly once; checked against Philox4x32-10 computed directly on the
  counters ``(0, 0, offset lo, offset hi)`` (DESIGN.md sections 2.2-2.3), vectorized.

There is no peer library here: the figure to compare is this script's time on this checkout
against the same script with ``PYTHONPATH`` pointing at an older checkout (its API is the same:
``minicell.nn.Generator``/``minicell.Generator``, ``minicell.ops.rand``). The 2-core machine is
shared, so times are noisy: compare runs made back to back.
"""
from __future__ import annotations

import argparse
import threading
import time

import numpy as np

import minicell
from minicell import ops
from minicell.random import philox4x32


def run_threads(threads: int, body) -> float:
    barrier = threading.Barrier(threads)

    def wrapped(i: int) -> None:
        barrier.wait()
        body(i)
    workers = [threading.Thread(target=wrapped, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - t0


def expected_uniforms(seed: int, count: int) -> np.ndarray:
    """Row ``o``: the 4 float32 uniforms of offset ``o`` (words 0..3 = block 0 of subsequence o)."""
    offsets = np.arange(count, dtype=np.uint64)
    counters = np.zeros((count, 4), np.uint32)
    counters[:, 2] = (offsets & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    counters[:, 3] = (offsets >> np.uint64(32)).astype(np.uint32)
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32)
    words = philox4x32(counters, key)
    return ((words & np.uint32(0x7FFFFF)).astype(np.float64) * 2.0 ** -23).astype(np.float32)


def bench_reserve(threads: int, per_thread: int) -> float:
    gen = minicell.Generator().manual_seed(5)
    got: list[list[int]] = [[] for _ in range(threads)]

    def body(i: int) -> None:
        out = got[i]
        for _ in range(per_thread):
            out.append(gen(1)[1])
    elapsed = run_threads(threads, body)
    offsets = np.sort(np.concatenate([np.asarray(o, np.int64) for o in got]))
    total = threads * per_thread
    assert np.array_equal(offsets, np.arange(total)), "an offset was lost or used twice"
    assert int(gen.get_state()[1].asnumpy()) == total
    return elapsed


def bench_rand(threads: int, per_thread: int) -> float:
    seed = 11
    gen = minicell.Generator().manual_seed(seed)
    got: list[list[np.ndarray]] = [[] for _ in range(threads)]

    def body(i: int) -> None:
        out = got[i]
        for _ in range(per_thread):
            out.append(ops.rand(4, generator=gen).asnumpy())
    elapsed = run_threads(threads, body)
    total = threads * per_thread
    results = np.stack([r for rows in got for r in rows])
    expected = expected_uniforms(seed, total)
    # each result equals one offset's draw, every offset once: compare as sorted multisets of rows
    as_bits = lambda a: np.ascontiguousarray(a).view(np.uint32).astype(np.uint64)  # noqa: E731
    key = lambda a: (as_bits(a)[:, 0] << np.uint64(32)) | as_bits(a)[:, 1]  # noqa: E731
    r, e = results[np.argsort(key(results), kind="stable")], expected[np.argsort(key(expected), kind="stable")]
    assert np.array_equal(r, e), "a draw does not match the stateless draw at a distinct offset"
    assert int(gen.get_state()[1].asnumpy()) == total
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--per-thread", type=int, default=20_000)
    parser.add_argument("--only", choices=("reserve", "rand"), default=None)
    args = parser.parse_args()
    total = args.threads * args.per_thread
    print(f"minicell from {minicell.__file__}")
    if args.only in (None, "reserve"):
        t = bench_reserve(args.threads, args.per_thread)
        print(f"gen(1):               {args.threads} threads x {args.per_thread}: {t:8.2f} s "
              f"({total / t:,.0f} reservations/s), none lost or repeated")
    if args.only in (None, "rand"):
        t = bench_rand(args.threads, args.per_thread)
        print(f"ops.rand(4, gen):     {args.threads} threads x {args.per_thread}: {t:8.2f} s "
              f"({total / t:,.0f} draws/s), each equal to the stateless draw of a distinct offset")


if __name__ == "__main__":
    main()
