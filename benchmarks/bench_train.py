"""Time per training step: MLP 784-1024-1024-10 with Dropout(0.1), batch 256, Adam.

Run: ``python benchmarks/bench_train.py [--steps N] [--threads T]``. minicell and torch (CPU,
same thread count) train the same architecture on the same random batch; the script prints
the time ratio minicell / torch (lower is better). Target (issue 7): at most 2.0x.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time, parse_and_load_torch  # noqa: E402

import minicell as mc  # noqa: E402
from minicell import nn  # noqa: E402

SIZES = (784, 1024, 1024, 10)
BATCH = 256


def minicell_step(x: np.ndarray, y: np.ndarray):
    gen = mc.Generator().manual_seed(0)
    net = nn.SequentialCell(nn.Dense(SIZES[0], SIZES[1], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[1], SIZES[2], generator=gen), nn.ReLU(), nn.Dropout(0.1, generator=gen),
                            nn.Dense(SIZES[2], SIZES[3], generator=gen))
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-3))
    train.set_train()
    xt, yt = mc.Tensor(x), mc.Tensor(y)
    return lambda: train(xt, yt)


def torch_step(torch, x: np.ndarray, y: np.ndarray):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                              torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                              torch.nn.Linear(SIZES[2], SIZES[3]))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    net.train()

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
    return step


def main() -> None:
    args, torch, threads = parse_and_load_torch(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--steps", type=int, default=10, help="steps per timing sample"))
    if torch is None:
        return
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int64)
    ours, theirs = minicell_step(x, y), torch_step(torch, x, y)

    def repeat(fn):
        return lambda: [fn() for _ in range(args.steps)]

    a = min(median_time(repeat(ours), 5) for _ in range(2)) / args.steps
    b = min(median_time(repeat(theirs), 5) for _ in range(2)) / args.steps
    verdict = "OK" if a / b <= 2.0 else "ABOVE TARGET"
    print(f"threads = {threads}, torch {torch.__version__}, numpy {np.__version__}")
    print(f"time per step: minicell {a * 1e3:.2f} ms  torch {b * 1e3:.2f} ms  "
          f"time ratio {a / b:.2f}x (target <= 2.0x) {verdict}")


if __name__ == "__main__":
    main()
