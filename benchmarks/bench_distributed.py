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
   on the same batch, same threads (target: at most 2x its time); skipped without torch;
4. at W = 2, the exchange of the MLP's gradients (P float32): bytes sent off-rank per rank and
   step against a ring allreduce's ``2 * 4P (W-1)/W`` with 1, 2 and 4 micro-batches per rank
   (target <= 2.1x at each); the time of ``reproducible_sum`` of N elements with 4 micro-batches per
   rank against 1 (target <= 1.3x); float64 against float32 sums of 4 x N elements, in one process
   and at W = 2 (target <= 3x);
5. the MLP at W = 2 with ``parallel_optimizer=True``: optimizer-state bytes per rank against the
   replicated optimizer (target <= 0.55x), the step time with and without it, and the same
   parameters either way.

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


def part_exchange(elements: int) -> None:
    import minicell._exact.exact_sum as _exact_sum
    import minicell._runtime.world as _world
    from minicell import communication as comm
    from minicell.nn.distributed import reduce_weighted
    comm.init()
    world, size = _world.current(), comm.get_group_size()
    rng = np.random.default_rng(comm.get_rank())
    shapes = [(SIZES[i + 1], SIZES[i]) for i in range(3)] + [(n,) for n in SIZES[1:]]
    params = sum(int(np.prod(s)) for s in shapes)
    ring = 2 * 4 * params * (size - 1) / size
    for per_rank in (1, 2, 4):
        grads = [[(rng.standard_normal(s) * 1e-3).astype(np.float32) for s in shapes] for _ in range(per_rank)]
        reduce_weighted(grads, [1 / (size * per_rank)] * per_rank, shapes, [np.float32] * len(shapes), world)
        counts = _exact_sum.last_exchange
        sent = counts["alltoallv_bytes_off_rank"] + counts["allgatherv_bytes_off_rank"]
        if comm.get_rank() == 0:
            print(f"BYTES {per_rank} {sent} {ring} {params}")
    parts = {dt: [(rng.standard_normal(elements) * 1e-3).astype(dt) for _ in range(4)]
             for dt in (np.float32, np.float64)}
    one = median(lambda: comm.reproducible_sum(parts[np.float32][:1]), 5)
    four = median(lambda: comm.reproducible_sum(parts[np.float32]), 5)
    wide = median(lambda: comm.reproducible_sum(parts[np.float64]), 5)
    local32 = min(_timed(lambda: _exact_sum.exact_sum_rows(np.stack(parts[np.float32]))) for _ in range(5))
    local64 = min(_timed(lambda: _exact_sum.exact_sum_rows(np.stack(parts[np.float64]))) for _ in range(5))
    if comm.get_rank() == 0:
        print(f"SUMS {one} {four} {wide} {local32} {local64}")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report_exchange(elements: int) -> None:
    out = launch(2, "--part", "exchange", "--elements", str(elements))
    for per_rank, sent, ring, params in re.findall(r"BYTES (\S+) (\S+) (\S+) (\S+)", out):
        ratio = float(sent) / float(ring)
        verdict = "OK" if ratio <= 2.1 else "ABOVE TARGET"
        print(f"W = 2, {params} float32 gradients, {per_rank} micro-batch(es) per rank: {int(sent) / 1e6:.2f} MB sent "
              f"off-rank per rank, ring allreduce {float(ring) / 1e6:.2f} MB: {ratio:.2f}x (target <= 2.1x) {verdict}")
    found = re.search(r"SUMS (\S+) (\S+) (\S+) (\S+) (\S+)", out)
    assert found is not None, out
    one, four, wide, local32, local64 = (float(v) for v in found.groups())
    print(f"W = 2, reproducible_sum of {elements} float32: 4 contributions per rank {four * 1e3:.1f} ms, 1 per rank "
          f"{one * 1e3:.1f} ms: {four / one:.2f}x (target <= 1.3x) {'OK' if four / one <= 1.3 else 'ABOVE TARGET'}")
    print(f"4 x {elements} float64 against float32: one process {local64 * 1e3:.1f} ms vs {local32 * 1e3:.1f} ms "
          f"{local64 / local32:.2f}x, W = 2 {wide * 1e3:.1f} ms vs {four * 1e3:.1f} ms {wide / four:.2f}x "
          f"(target <= 3x) "
          f"{'OK' if max(local64 / local32, wide / four) <= 3 else 'ABOVE TARGET'}")


def mlp(micro: int | None, parallel_optimizer: bool = False):
    import minicell as mc
    from minicell import nn
    gen = mc.Generator().manual_seed(0)
    net = nn.SequentialCell(nn.Dense(SIZES[0], SIZES[1], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[1], SIZES[2], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[2], SIZES[3], generator=gen))
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-3),
                                micro_batch_size=micro, parallel_optimizer=parallel_optimizer)
    train.set_train()
    return train


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH).astype(np.int64)


def part_train(steps: int, parallel_optimizer: bool = False) -> None:
    import minicell as mc
    from minicell import communication as comm
    from minicell import nn
    from minicell._runtime.sharding import shard_bounds
    comm.init()
    train = mlp(MICRO, parallel_optimizer)
    x, y = batch()
    lo, hi = shard_bounds(BATCH, comm.get_group_size(), comm.get_rank(), MICRO)
    xt, yt = mc.Tensor(x[lo:hi]), mc.Tensor(y[lo:hi])
    train(xt, yt)  # warm-up
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        train(xt, yt)
    elapsed = time.perf_counter() - t0
    state = sum(p._data.nbytes for name, p in train.optimizer.parameters_and_names() if name.startswith("moment"))
    nn.parallel_optimizer.consolidate(train)
    digest = comm.check_replicas(train)
    if comm.get_rank() == 0:
        print(f"TRAIN {steps / elapsed} {digest} {state}")


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
    parser.add_argument("--part", choices=["sum", "train", "sharded", "exchange"], help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["exchange", "sharded"], help="run only these measurements (4 or 5)")
    args = parser.parse_args()
    if args.part == "sum":
        return part_sum(args.elements)
    if args.part in ("train", "sharded"):
        return part_train(args.steps, args.part == "sharded")
    if args.part == "exchange":
        return part_exchange(args.elements)
    if args.only == "exchange":
        return report_exchange(args.elements)
    if args.only == "sharded":
        return report_sharded(args.steps)
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
    report_exchange(args.elements)
    report_sharded(args.steps)


def report_sharded(steps: int) -> None:
    found = {}
    for part in ("train", "sharded"):
        out = launch(2, "--part", part, "--steps", str(steps))
        rate, digest, state = re.search(r"TRAIN (\S+) (\S+) (\S+)", out).groups()  # type: ignore[union-attr]
        found[part] = float(rate), digest, int(state)
    (plain_rate, plain_digest, plain_state), (rate, digest, state) = found["train"], found["sharded"]
    ratio = state / plain_state
    print(f"W = 2 parallel_optimizer: Adam state {state / 1e6:.2f} MB per rank vs {plain_state / 1e6:.2f} MB "
          f"replicated: "
          f"{ratio:.2f}x (target <= 0.55x) {'OK' if ratio <= 0.55 else 'ABOVE TARGET'}; step time "
          f"{1e3 / rate:.1f} ms vs {1e3 / plain_rate:.1f} ms replicated; same parameters: {digest == plain_digest}")


if __name__ == "__main__":
    main()
