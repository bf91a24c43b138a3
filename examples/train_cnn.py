"""Train a small CNN with BatchNorm on oriented bars, data-parallel, and resume it bit for bit.

The task, made with minicell's random ops: each ``size`` x ``size`` grey image holds one bar
(random centre, length and a small angle jitter) at 0, 45, 90 or 135 degrees, plus Gaussian
pixel noise; the class is the orientation. The model is Conv2d -> BatchNorm2d -> ReLU ->
MaxPool2d, twice, then Dropout2d and Dense, trained with Adam.

Everything random comes from explicit Generators owned by the training state (initializers,
Dropout2d, batch shuffling); the data generator is reseeded from ``--seed``. ``--checkpoint``
saves the model (with BatchNorm's moving statistics), Adam's moments, the generators and the
data iterator's position atomically after every epoch; ``--resume`` continues up to
``--epochs`` and ends with the same ``fingerprint`` (``minicell.testing.fingerprint`` of the
whole state) as an uninterrupted run.

    python examples/train_cnn.py
    python examples/train_cnn.py --epochs 2 --checkpoint run.ckpt
    python examples/train_cnn.py --epochs 4 --resume run.ckpt --checkpoint run.ckpt

Data-parallel: ``python -m minicell.run -n W examples/train_cnn.py`` (W = 1 to 4) prints the same
fingerprint as the plain run, and ``--resume`` works at any world size. Each global batch of
``--batch`` rows is cut into micro-batches of ``--micro-batch`` rows (default 8: 4 per batch);
rank r gets the rows ``shard_bounds(rows, W, r, micro_batch)`` from the data pipeline and
``nn.TrainOneStepCell(..., micro_batch_size=M)`` runs one pass over them whose gradients are
those of the micro-batches computed alone, summed exactly over all ranks. BatchNorm is ghost
batch normalization there: each micro-batch is normalized by its own statistics and the moving
statistics are updated once per step from the exact mean over all micro-batches (README,
"Determinism at no cost"), so nothing depends on the world size. Only rank 0 prints and writes.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    accuracy,
    agreed_state,
    check_micro_batches,
    load_state,
    parse_args,
    report_fingerprint,
    run_distributed,
    split,
)

import minicell as mc  # noqa: E402
from minicell import communication as comm  # noqa: E402
from minicell import nn, ops  # noqa: E402
from minicell.dataset import NumpySlicesDataset  # noqa: E402

PROG = "train_cnn.py"
DESCRIPTION = "Train a small CNN with BatchNorm on oriented bars (minicell)."
DEFAULTS = {"seed": 0, "samples": 500, "size": 16, "width": 8, "batch": 32, "micro_batch": 8}
EPOCHS = 4
CLASSES = 4


def make_bars(per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 1, size, size) float32, labels (N,) int64)``: one noisy bar per image."""
    gen = mc.Generator().manual_seed(seed)
    n = CLASSES * per_class
    labels = np.repeat(np.arange(CLASSES), per_class)
    angle = labels * (math.pi / CLASSES) + ops.uniform((n,), -0.12, 0.12, generator=gen).asnumpy()
    centre = ops.uniform((n, 2), 0.35 * size, 0.65 * size, generator=gen).asnumpy()
    half = ops.uniform((n,), 0.25 * size, 0.4 * size, generator=gen).asnumpy()
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    dy = rows[None] - centre[:, 0, None, None]
    dx = cols[None] - centre[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    along, across = dx * cos + dy * sin, dy * cos - dx * sin
    bars = np.exp(-0.5 * (across / 0.8) ** 2) * (np.abs(along) <= half[:, None, None])
    images = bars + ops.normal((n, size, size), 0.0, 0.35, generator=gen).asnumpy()
    return images[:, None].astype(np.float32), labels.astype(np.int64)


class TrainingState(mc.Cell):
    """Everything a resumed run needs, as Parameters: config, model, optimizer, generators and the
    data iterator's position (``data.epoch``, ``data.batch``)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        if config["size"] < 4:
            raise ValueError(f"--size must be at least 4 (two 2x2 poolings), got {config['size']}")
        self.config = mc.Parameter(np.array([config[k] for k in DEFAULTS], np.int64), requires_grad=False)
        self.init_generator = mc.Generator().manual_seed(config["seed"] + 1)
        self.dropout_generator = mc.Generator().manual_seed(config["seed"] + 2)
        self.shuffle_generator = mc.Generator().manual_seed(config["seed"] + 3)
        w, side, init = config["width"], config["size"] // 4, self.init_generator
        self.model = nn.SequentialCell(
            nn.Conv2d(1, w, 3, generator=init), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(w, 2 * w, 3, generator=init), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Dropout2d(0.1, generator=self.dropout_generator), nn.Flatten(),
            nn.Dense(2 * w * side * side, CLASSES, generator=init))
        optimizer = nn.Adam(self.model.trainable_params(), learning_rate=5e-3)
        self.train_step = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.CrossEntropyLoss()), optimizer,
                                              micro_batch_size=config["micro_batch"])
        x, y = make_bars(config["samples"], config["size"], config["seed"])
        x_train, y_train, self.x_test, self.y_test = split(x, y, config["seed"])
        self.data = (NumpySlicesDataset((x_train, y_train), ["x", "y"], shuffle=True, generator=self.shuffle_generator)
                     .batch(config["batch"], micro_batch_size=config["micro_batch"])
                     .create_tuple_iterator())


def check_config(state: TrainingState) -> None:
    """ValueError for settings the data cannot be cut into for this world."""
    config = {f: int(v) for f, v in zip(DEFAULTS, state.config.asnumpy())}
    check_micro_batches(config["batch"], config["micro_batch"], comm.get_group_size())


def prepare(args: argparse.Namespace) -> TrainingState:
    """Every rank validates the same way, then all agree (one collective) before training starts."""
    return agreed_state(args, lambda: load_state(args, DEFAULTS, TrainingState, PROG), check_config)


def train(args: argparse.Namespace, state: TrainingState) -> str:
    rank, world_size = comm.get_rank(), comm.get_group_size()
    epochs = args.epochs
    checkpoint = args.checkpoint
    if int(state.data.epoch.asnumpy()) >= epochs and rank == 0:
        print(f"checkpoint is at epoch {int(state.data.epoch.asnumpy())}, nothing to do for --epochs {epochs}")
    while (epoch := int(state.data.epoch.asnumpy())) < epochs:
        t0 = time.perf_counter()
        state.model.set_train(True)
        losses = [float(state.train_step(x, y)) for x, y in state.data]  # this rank's rows of each batch
        if rank != 0:
            continue
        if checkpoint:
            mc.save_checkpoint(state, checkpoint)
        test_acc = accuracy(state.model, state.x_test, state.y_test)
        print(f"epoch {epoch + 1}/{epochs}  loss {np.mean(losses):.4f}  test_acc {100 * test_acc:.1f}%  "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
    return report_fingerprint(state, rank, world_size)


def main(argv: list[str] | None = None) -> int:
    # One thread for minicell's pool: this model's products are small, so threads cost more than
    # they give (the bits do not depend on it: the step runs with single-threaded BLAS).
    mc.set_num_threads(1)
    return run_distributed(PROG, lambda flags: parse_args(PROG, DESCRIPTION, DEFAULTS, EPOCHS, flags), prepare, train,
                           argv)


if __name__ == "__main__":
    sys.exit(main())
