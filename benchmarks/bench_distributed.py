"""Data parallelism: reproducible_sum vs MPI.Allreduce, and MLP training throughput at W = 1 and 2.

Run: ``python benchmarks/bench_distributed.py [--elements N] [--steps S]``. It launches itself
through ``python -m minicell.run`` and prints:

1. ``reproducible_sum`` of an N-element float32 array (default 4M, one contribution per rank)
   against a plain ``MPI.Allreduce`` of the same array at W = 2, interleaved in the same job
   (target: at most 3x its time);
2. the MLP of ``bench_train.py`` (784-1024-1024-10, Dropout 0.1, Adam) on global batches of 256
   in micro-batches of 64: steps per second at W = 1 and W = 2 (target: W = 2 at least 1.5x), and
   whether both ended with the same parameters (they must);
3. the W = 1 deterministic step (micro-batches of 64 summed exactly) against torch's plain step
   on the same batch, same threads (target: at most 2x its time); skipped without torch.

The machine is shared and has 2 cores: figures move between runs; ratios are what to read.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SIZES = (784, 1024, 1024, 10)
BATCH, MICRO = 256, 64


def launch(ranks: int, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "minicell.run", "-n", str(ranks), os.path.abspath(__file__), *args],
                         capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode:
        raise SystemExit(f"job failed ({out.returncode}): {out.stderr}")
    return out.stdout


def median(fn, repeat: int) -> float:
    from minicell import communication as comm
    times = []
    fn()
    for _ in range(repeat):
        comm.barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def part_sum(elements: int) -> None:
    from mpi4py import MPI

    from minicell import communication as comm
    comm.init()
    rng = np.random.default_rng(comm.get_rank())
    grad = (rng.standard_normal(elements) * 1e-3).astype(np.float32)
    out = np.empty_like(grad)
    ours, theirs = [], []
    for _ in range(3):
        ours.append(median(lambda: comm.reproducible_sum([grad]), 5))
        theirs.append(median(lambda: MPI.COMM_WORLD.Allreduce(grad, out), 5))
    if comm.get_rank() == 0:
        a, b = min(ours), min(theirs)
        print(f"SUM {a} {b}")


def mlp(micro: int | None):
    import minicell as mc
    from minicell import nn
    gen = mc.Generator().manual_seed(0)
    net = nn.SequentialCell(nn.Dense(SIZES[0], SIZES[1], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[1], SIZES[2], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[2], SIZES[3], generator=gen))
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-3),
                                micro_batch_size=micro)
    train.set_train()
    return train


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH).astype(np.int64)


def part_train(steps: int) -> None:
    import minicell as mc
    from minicell import communication as comm
    from minicell._runtime.sharding import shard_bounds
    comm.init()
    train = mlp(MICRO)
    x, y = batch()
    lo, hi = shard_bounds(BATCH, comm.get_group_size(), comm.get_rank(), MICRO)
    xt, yt = mc.Tensor(x[lo:hi]), mc.Tensor(y[lo:hi])
    train(xt, yt)  # warm-up
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        train(xt, yt)
    elapsed = time.perf_counter() - t0
    digest = comm.check_replicas(train)
    if comm.get_rank() == 0:
        print(f"TRAIN {steps / elapsed} {digest}")


def part_torch(steps: int) -> None:
    import minicell as mc
    from minicell._runtime import parallel as _parallel
    threads = _parallel.get_num_threads()
    _parallel.set_num_threads(threads)  # before torch is loaded: the BLAS limits then touch NumPy's only
    x, y = batch()
    ours = mlp(MICRO)
    xt, yt = mc.Tensor(x), mc.Tensor(y)
    ours(xt, yt)  # also creates the micro-batches' BLAS controller before torch is loaded
    try:
        import torch
    except ImportError:
        print("torch not installed: no peer for the W = 1 step")
        return
    torch.set_num_threads(threads)
    from bench_train import torch_step  # the same torch model and step as bench_train.py
    theirs = torch_step(torch, x, y)

    def timed(fn) -> float:
        fn()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            best = min(best, (time.perf_counter() - t0) / steps)
        return best
    a, b = timed(lambda: ours(xt, yt)), timed(theirs)
    verdict = "OK" if a / b <= 2.0 else "ABOVE TARGET"
    print(f"W = 1 step, micro-batches of {MICRO} (threads {threads}): minicell {a * 1e3:.1f} ms  torch "
          f"{torch.__version__} "
          f"plain step {b * 1e3:.1f} ms  time ratio {a / b:.2f}x (target <= 2.0x) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=1 << 22)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--part", choices=["sum", "train"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "sum":
        return part_sum(args.elements)
    if args.part == "train":
        return part_train(args.steps)
    ours, theirs = (float(v) for v in re.search(r"SUM (\S+) (\S+)", launch(2, "--part", "sum", "--elements",
                                                                             str(args.elements))).groups())
    verdict = "OK" if ours / theirs <= 3.0 else "ABOVE TARGET"
    print(f"W = 2, {args.elements} float32: reproducible_sum {ours * 1e3:.1f} ms  MPI.Allreduce {theirs * 1e3:.1f} ms  "
          f"time ratio {ours / theirs:.2f}x (target <= 3.0x) {verdict}")
    rates, digests = {}, {}
    for ranks in (1, 2):
        output = launch(ranks, "--part", "train", "--steps", str(args.steps))
        rate, digest = re.search(r"TRAIN (\S+) (\S+)", output).groups()
        rates[ranks], digests[ranks] = float(rate), digest
    verdict = "OK" if rates[2] / rates[1] >= 1.5 else "BELOW TARGET"
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, micro-batch {MICRO}: W = 1 {rates[1]:.2f} steps/s  "
          f"W = 2 {rates[2]:.2f} steps/s  speed-up {rates[2] / rates[1]:.2f}x (target >= 1.5x) {verdict}; "
          f"same parameters at W = 1 and 2: {digests[1] == digests[2]}")
    part_torch(args.steps)


if __name__ == "__main__":
    main()
