"""Throughput of minicell's Philox against NumPy's C Philox (and randomgen's, when installed).

Run: ``python benchmarks/bench_random.py [--size N] [--threads T]``. Prints the ratio of
minicell's throughput to the peer's for uint32 words, float32 uniforms and float32 normals.
Targets (issue 4, 2-core machine): words >= 0.45x, uniform >= 0.4x, normal >= 0.3x of NumPy's.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare  # noqa: E402

import minicell as mc  # noqa: E402
import minicell.random as R  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2**24)
    parser.add_argument("--threads", type=int, default=None, help="minicell's threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        mc.set_num_threads(args.threads)
    n = args.size
    print(f"n = {n}, minicell threads = {mc.get_num_threads()}, numpy {np.__version__}")
    words_out = np.empty(n, np.uint32)
    gen = np.random.Generator(np.random.Philox(12345))
    peers = [("numpy", gen)]
    try:
        import randomgen
        peers.append(("randomgen", np.random.Generator(randomgen.Philox(12345, number=4, width=32))))
    except ImportError:
        print("randomgen not installed: skipping that peer")
    for name, g in peers:
        compare("uint32 words", lambda: R.random_words(1, 2, n, out=words_out),
                lambda g=g: g.integers(0, 2**32, size=n, dtype=np.uint32), name, 0.45 if name == "numpy" else None)
        compare("float32 uniform", lambda: R.uniform(1, 2, n),
                lambda g=g: g.random(size=n, dtype=np.float32), name, 0.4 if name == "numpy" else None)
        compare("float32 normal", lambda: R.normal(1, 2, n),
                lambda g=g: g.standard_normal(size=n, dtype=np.float32), name, 0.3 if name == "numpy" else None)


if __name__ == "__main__":
    main()
