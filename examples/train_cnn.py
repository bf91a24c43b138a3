"""Train a small CNN on oriented bars, and resume it bit for bit.

The task, made with minicell's random ops: each ``size`` x ``size`` grey image holds one bar
(random centre, length and a small angle jitter) at 0, 45, 90 or 135 degrees, plus Gaussian
pixel noise; the class is the orientation. The model is Conv2d -> BatchNorm2d -> ReLU ->
MaxPool2d, twice, then Dropout2d and Dense, trained with Adam.

Everything random comes from explicit Generators owned by the training state (initializers,
Dropout2d, batch shuffling); the data generator is reseeded from ``--seed``. ``--checkpoint``
saves the model (with BatchNorm's moving statistics), Adam's moments, the generators and the
epoch counter atomically after every epoch; ``--resume`` continues up to ``--epochs`` and ends
with the same ``fingerprint`` (``minicell.testing.fingerprint`` of the whole state) as an
uninterrupted run.

    python examples/train_cnn.py
    python examples/train_cnn.py --epochs 2 --checkpoint run.ckpt
    python examples/train_cnn.py --epochs 4 --resume run.ckpt --checkpoint run.ckpt
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import fit, load_state, parse_args, run_main, split  # noqa: E402

import minicell as mc  # noqa: E402
from minicell import nn, ops  # noqa: E402

PROG = "train_cnn.py"
DEFAULTS = {"seed": 0, "samples": 500, "size": 16, "width": 8, "batch": 32}
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
    """Everything a resumed run needs, as Parameters: config, epoch, model, optimizer, generators."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = mc.Parameter(np.array([config[k] for k in DEFAULTS], np.int64), requires_grad=False)
        self.epoch = mc.Parameter(np.array(0, np.int64), requires_grad=False)
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
        self.train_step = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.CrossEntropyLoss()), optimizer)


def batches(order: np.ndarray, batch: int) -> list[np.ndarray]:
    """Consecutive slices of ``order``; a last slice of one sample (which has no batch
    statistics for BatchNorm) joins the one before it."""
    bounds = list(range(0, len(order), batch)) + [len(order)]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def train(argv: list[str]) -> str:
    # One thread for minicell and BLAS: this model's products are small, so threads cost more
    # than they give (and on a loaded machine much more), and the fingerprint cannot depend on
    # how many cores the machine has.
    mc.set_num_threads(1)
    args = parse_args(PROG, "Train a small CNN on oriented bars (minicell).", DEFAULTS, EPOCHS, argv)
    if args.size is not None and args.size < 4:
        raise ValueError(f"--size must be at least 4 (two 2x2 poolings), got {args.size}")
    state = load_state(args, DEFAULTS, TrainingState, PROG)
    seed, per_class, size, _, batch = (int(v) for v in state.config.asnumpy())
    x, y = make_bars(per_class, size, seed)
    return fit(state, args, split(x, y, seed), lambda order: batches(order, batch))


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, train, argv)


if __name__ == "__main__":
    sys.exit(main())
