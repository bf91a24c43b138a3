"""Train an MLP with Dropout on three interleaved spirals, and resume it bit for bit.

The main job of minicell's README. Everything random comes from explicit Generators: one makes
the data, one initializes the weights, one drives Dropout, one shuffles the batches. The data
generator is reseeded from ``--seed`` on every run; the others live in the training state,
which ``--checkpoint`` saves atomically after every epoch together with the model, Adam's
moments and the epoch counter. ``--resume`` continues from such a file up to ``--epochs``, and
ends with the same ``fingerprint`` (SHA-256 of every parameter in name order) as an
uninterrupted run.

    python examples/train_mlp.py
    python examples/train_mlp.py --epochs 20 --checkpoint run.ckpt
    python examples/train_mlp.py --epochs 30 --resume run.ckpt --checkpoint run.ckpt

The data goes through ``minicell.dataset``: ``NumpySlicesDataset`` shuffles the training points
with one global permutation per epoch (from the shuffle Generator of the training state),
``RandomNoise`` jitters each point by a Gaussian whose numbers depend only on the point's index,
the epoch and the seed, and ``batch`` cuts global batches. The dataset's iterator is a Cell of
the training state, so ``--save-every N`` can checkpoint in the middle of an epoch and
``--resume`` continues with exactly the next batch.

Data-parallel: ``python -m minicell.run -n W examples/train_mlp.py [flags]`` (W = 1, 2, 3, 4)
prints the same fingerprint as the plain run. Each global batch of ``--batch`` rows is cut into
micro-batches of ``--micro-batch`` rows (default 16: 4 per batch, so up to 4 ranks each get
whole micro-batches); the dataset hands rank r the rows ``shard_bounds(rows, W, r,
micro_batch)`` and the micro-batch gradients are summed exactly
(``nn.TrainOneStepCell(..., micro_batch_size=M)``). The
plain run uses the same micro-batches, which is why its fingerprint is the same. Only rank 0
prints and writes the checkpoint; ``--resume`` works at any world size. Every rank checks its
settings (and the checkpoint's) before training and they must agree, else every rank prints
the same one-line error and exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

import minicell as mc
from minicell import communication as comm
from minicell import nn, ops
from minicell.dataset import NumpySlicesDataset
from minicell.dataset.transforms import RandomNoise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as common  # noqa: E402
from _common import accuracy, split  # noqa: E402

PROG = "train_mlp.py"
CONFIG_FIELDS = ("seed", "points", "hidden", "batch", "micro_batch")
DEFAULTS = {"seed": 0, "points": 1000, "hidden": 128, "batch": 64, "micro_batch": 16}
JITTER = 0.01  # std of the Gaussian augmentation of the training points


def make_spirals(points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved noisy spirals (``points`` per class) drawn with minicell's random ops."""
    gen = mc.Generator().manual_seed(seed)
    radius = np.linspace(0.05, 1.0, points, dtype=np.float32)
    xs, ys = [], []
    for k in range(3):
        angle = radius * 3 * math.pi + 2 * math.pi * k / 3 + ops.normal((points,), 0.0, 0.2, generator=gen).asnumpy()
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(points, k, np.int64))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


class TrainingState(mc.Cell):
    """Everything a resumed run needs, as Parameters: model, optimizer, generators, the data
    iterator's position (``data.epoch``, ``data.batch``) and the config."""

    def __init__(self, config: dict, parallel_optimizer: bool = False) -> None:
        super().__init__()
        self.config = mc.Parameter(np.array([config[k] for k in CONFIG_FIELDS], np.int64), requires_grad=False)
        x_train, y_train, self.x_test, self.y_test = split(*make_spirals(config["points"], config["seed"]),
                                                           config["seed"])
        init_gen = mc.Generator().manual_seed(config["seed"] + 1)
        self.dropout_generator = mc.Generator().manual_seed(config["seed"] + 2)
        self.shuffle_generator = mc.Generator().manual_seed(config["seed"] + 3)
        h = config["hidden"]
        self.model = nn.SequentialCell(
            nn.Dense(2, h, generator=init_gen), nn.ReLU(), nn.Dropout(0.1, generator=self.dropout_generator),
            nn.Dense(h, h, generator=init_gen), nn.ReLU(), nn.Dropout(0.1, generator=self.dropout_generator),
            nn.Dense(h, 3, generator=init_gen))
        optimizer = nn.Adam(self.model.trainable_params(), learning_rate=5e-3)
        self.train_step = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.CrossEntropyLoss()), optimizer,
                                              micro_batch_size=config["micro_batch"],
                                              parallel_optimizer=parallel_optimizer)
        self.x_train, self.y_train = x_train, y_train
        self.data = (NumpySlicesDataset((x_train, y_train), ["x", "y"], shuffle=True, generator=self.shuffle_generator)
                     .map(RandomNoise(JITTER), "x")
                     .batch(config["batch"], micro_batch_size=config["micro_batch"])
                     .create_tuple_iterator())


def parse_args(argv: list[str]) -> argparse.Namespace:
    return common.parse_args(PROG, "Train an MLP with Dropout on three spirals (minicell).", DEFAULTS, 40, argv, {
        "save_every": "save the checkpoint every N steps, in the middle of epochs too, instead of at the "
                      "end of every epoch (default 0: at epoch ends)",
        "check_every": "compare all ranks' parameters every N steps (default 0: only at the end)",
        "parallel_optimizer": "1: shard Adam's state over the ranks (ZeRO stage 1; the same bits), default 0"})


def upgrade(values: list[int]) -> list[int]:
    """A checkpoint saved before --micro-batch: one micro-batch per batch (the same bits)."""
    if len(values) == len(CONFIG_FIELDS) - 1:
        return values + [values[CONFIG_FIELDS.index("batch")]]
    return values


def load_state(args: argparse.Namespace) -> TrainingState:
    """A fresh state from the flags, or the one in ``--resume`` (flags must agree with it)."""
    if args.parallel_optimizer not in (0, 1):
        raise ValueError(f"--parallel-optimizer must be 0 or 1, got {args.parallel_optimizer}")
    return common.load_state(args, DEFAULTS, lambda config: TrainingState(config, args.parallel_optimizer == 1),
                             PROG, upgrade)


def check_world(state: TrainingState) -> None:
    """ValueError when the batch cannot be cut into micro-batches for this world."""
    config = {f: int(v) for f, v in zip(CONFIG_FIELDS, state.config.asnumpy())}
    common.check_micro_batches(config["batch"], config["micro_batch"], comm.get_group_size())


def prepare(args: argparse.Namespace) -> TrainingState:
    """Every rank validates the same way, then all agree (one collective) before training starts."""
    return common.agreed_state(args, lambda: load_state(args), check_world)


def train(args: argparse.Namespace, state: TrainingState) -> str:
    rank, world_size = comm.get_rank(), comm.get_group_size()
    _, _, _, batch, micro = (int(v) for v in state.config.asnumpy())
    if rank == 0:
        print(f"train_mlp.py: world size {world_size}, batch {batch}, micro-batch {micro}", flush=True)
    if int(state.data.epoch.asnumpy()) >= args.epochs and rank == 0:
        print(f"checkpoint is at epoch {int(state.data.epoch.asnumpy())}, nothing to do for --epochs {args.epochs}")
    steps = 0
    while (epoch := int(state.data.epoch.asnumpy())) < args.epochs:
        t0 = time.perf_counter()
        state.model.set_train(True)
        losses = []
        for x, y in state.data:  # this rank's rows of each global batch; the loop is one epoch
            losses.append(float(state.train_step(x, y)))
            steps += 1
            if args.check_every and steps % args.check_every == 0:
                nn.parallel_optimizer.consolidate(state.train_step)  # the whole state (collective)
                comm.check_replicas(state)
            if args.save_every and steps % args.save_every == 0 and args.checkpoint:
                nn.parallel_optimizer.consolidate(state.train_step)
                if rank == 0:
                    mc.save_checkpoint(state, args.checkpoint)
        if args.checkpoint and not args.save_every:
            nn.parallel_optimizer.consolidate(state.train_step)
        if rank != 0:
            continue
        if args.checkpoint and not args.save_every:
            mc.save_checkpoint(state, args.checkpoint)
        train_acc = accuracy(state.model, state.x_train, state.y_train)
        test_acc = accuracy(state.model, state.x_test, state.y_test)
        print(f"epoch {epoch + 1}/{args.epochs}  loss {np.mean(losses):.4f}  train_acc {100 * train_acc:.1f}%  "
              f"test_acc {100 * test_acc:.1f}%  {time.perf_counter() - t0:.1f}s", flush=True)
    nn.parallel_optimizer.consolidate(state.train_step)
    return common.report_fingerprint(state, rank, world_size)


def main(argv: list[str] | None = None) -> int:
    return common.run_distributed(PROG, parse_args, prepare, train, argv)


if __name__ == "__main__":
    sys.exit(main())
