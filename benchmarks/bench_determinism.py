"""The price of determinism: the deterministic (micro-batched, one-pass) step against the plain step.

Run: ``python benchmarks/bench_determinism.py [--threads 2] [--epochs 10] [--runs 3]``. For each
model, the plain step (``TrainOneStepCell(..., micro_batch_size=None)``: one pass, BLAS with all
threads) and the deterministic step (``micro_batch_size=M``: the same bits at every world size
and thread count, DESIGN.md section 8) train on the same batch in the same process, interleaved;
it prints both medians and the time ratio deterministic / plain, with the target:

  (a) the main job's MLP 2-128-128-3 with Dropout, batch 64, M 16          (target <= 1.3x)
  (b) 784-1024-1024-10 with Dropout, batch 256, M 64                       (target <= 1.15x)
  (c) Conv2d-BatchNorm2d-ReLU-MaxPool2d-Dropout2d-Dense on 1x16x16, batch 64, M 16
      (plain BatchNorm in the plain step, ghost BatchNorm in the deterministic one) (target <= 1.3x)

and then the main job, ``python examples/train_mlp.py --epochs E`` with its default flags
(micro-batches of 16) against ``--micro-batch 64`` (one micro-batch per batch), wall time of
whole runs, interleaved (target <= 1.3x). Thread counts are pinned (minicell's pool and BLAS).
The machine is shared: figures move between runs; ratios are what to read.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402

import minicell as mc  # noqa: E402
from minicell import nn  # noqa: E402


def mlp(sizes: tuple[int, ...], seed: int) -> mc.Cell:
    init, drop = mc.Generator().manual_seed(seed), mc.Generator().manual_seed(seed + 1)
    layers: list[mc.Cell] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Dense(a, b, generator=init))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(0.1, generator=drop)]
    return nn.SequentialCell(*layers)


def cnn(seed: int) -> mc.Cell:
    init, drop = mc.Generator().manual_seed(seed), mc.Generator().manual_seed(seed + 1)
    return nn.SequentialCell(nn.Conv2d(1, 8, 3, has_bias=True, generator=init), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2, 2), nn.Dropout2d(0.1, generator=drop), nn.Flatten(),
                             nn.Dense(8 * 8 * 8, 10, generator=init))


def step_of(model: mc.Cell, micro: int | None) -> Callable[[mc.Tensor, mc.Tensor], object]:
    model.set_train(True)
    optimizer = nn.Adam(model.trainable_params(), learning_rate=1e-3)
    return nn.TrainOneStepCell(nn.WithLossCell(model, nn.CrossEntropyLoss()), optimizer, micro_batch_size=micro)


def report(label: str, plain: float, deterministic: float, target: float) -> None:
    ratio = deterministic / plain
    verdict = "OK" if ratio <= target else "ABOVE TARGET"
    print(f"{label:<44} plain {plain * 1e3:9.2f} ms  deterministic {deterministic * 1e3:9.2f} ms  "
          f"ratio {ratio:5.2f}x  (target <= {target:.2f}x) {verdict}", flush=True)


def compare_steps(label: str, make: Callable[[], mc.Cell], shape: tuple[int, ...], classes: int, batch: int,
                  micro: int, target: float, repeat: int) -> None:
    rng = np.random.default_rng(0)
    x = mc.Tensor(rng.standard_normal((batch, *shape)).astype(np.float32))
    y = mc.Tensor(rng.integers(0, classes, batch))
    plain, deterministic = step_of(make(), None), step_of(make(), micro)
    t_plain, t_det = [], []
    for _ in range(3):  # interleaved
        t_plain.append(median_time(lambda: plain(x, y), repeat))
        t_det.append(median_time(lambda: deterministic(x, y), repeat))
    report(label, min(t_plain), min(t_det), target)


def main_job(epochs: int, runs: int, threads: int) -> None:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = os.path.join(ROOT, "examples", "train_mlp.py")

    def run(*flags: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, script, "--epochs", str(epochs), *flags], check=True, env=env,
                       capture_output=True, timeout=1800)
        return time.perf_counter() - t0
    default, whole = [], []
    for _ in range(runs):
        default.append(run())
        whole.append(run("--micro-batch", "64"))
    report(f"main job, {epochs} epochs: default vs --micro-batch 64", sorted(whole)[runs // 2],
           sorted(default)[runs // 2], 1.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for minicell's pool and BLAS (default 2)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each main-job run (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="main-job runs per flag set (default 3)")
    parser.add_argument("--skip-main-job", action="store_true")
    args = parser.parse_args()
    mc.set_num_threads(args.threads)
    print(f"bench_determinism: {mc.get_num_threads()} threads (minicell's pool and BLAS)", flush=True)
    compare_steps("(a) MLP 2-128-128-3, batch 64, M 16", lambda: mlp((2, 128, 128, 3), 0), (2,), 3, 64, 16, 1.3, 30)
    compare_steps("(b) MLP 784-1024-1024-10, batch 256, M 64", lambda: mlp((784, 1024, 1024, 10), 0), (784,), 10,
                  256, 64, 1.15, 7)
    compare_steps("(c) CNN with BatchNorm2d on 1x16x16, batch 64, M 16", lambda: cnn(0), (1, 16, 16), 10, 64, 16,
                  1.3, 15)
    if not args.skip_main_job:
        main_job(args.epochs, args.runs, args.threads)


if __name__ == "__main__":
    main()
