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
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time

import numpy as np

import minicell as mc
from minicell import nn, ops

CONFIG_FIELDS = ("seed", "points", "hidden", "batch")
DEFAULTS = {"seed": 0, "points": 1000, "hidden": 128, "batch": 64}


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
    """Everything a resumed run needs, as Parameters: model, optimizer, generators, counters."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = mc.Parameter(np.array([config[k] for k in CONFIG_FIELDS], np.int64), requires_grad=False)
        self.epoch = mc.Parameter(np.array(0, np.int64), requires_grad=False)
        init_gen = mc.Generator().manual_seed(config["seed"] + 1)
        self.dropout_generator = mc.Generator().manual_seed(config["seed"] + 2)
        self.shuffle_generator = mc.Generator().manual_seed(config["seed"] + 3)
        h = config["hidden"]
        self.model = nn.SequentialCell(
            nn.Dense(2, h, generator=init_gen), nn.ReLU(), nn.Dropout(0.1, generator=self.dropout_generator),
            nn.Dense(h, h, generator=init_gen), nn.ReLU(), nn.Dropout(0.1, generator=self.dropout_generator),
            nn.Dense(h, 3, generator=init_gen))
        optimizer = nn.Adam(self.model.trainable_params(), learning_rate=5e-3)
        self.train_step = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.CrossEntropyLoss()), optimizer)


def fingerprint(cell: mc.Cell) -> str:
    digest = hashlib.sha256()
    for name, param in cell.parameters_and_names():
        digest.update(name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()


def accuracy(model: mc.Cell, x: np.ndarray, y: np.ndarray) -> float:
    model.set_train(False)
    with mc.no_grad():
        predicted = model(mc.Tensor(x)).asnumpy().argmax(axis=1)
    return float((predicted == y).mean())


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (``--help`` still shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="train_mlp.py", description="Train an MLP with Dropout on three spirals (minicell).")
    parser.add_argument("--epochs", type=int, default=40, help="total number of epochs (default 40)")
    parser.add_argument("--checkpoint", help="save the whole training state here after every epoch")
    parser.add_argument("--resume", help="continue from this checkpoint up to --epochs")
    for field in CONFIG_FIELDS:
        parser.add_argument(f"--{field}", type=int, default=None, help=f"default {DEFAULTS[field]}")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    for field in CONFIG_FIELDS:
        value = getattr(args, field)
        if value is not None and (value < 0 or (field != "seed" and value < 1)):
            parser.error(f"--{field} must be positive, got {value}")
    return args


def load_state(args: argparse.Namespace) -> TrainingState:
    """A fresh state from the flags, or the one in ``--resume`` (flags must agree with it)."""
    if not args.resume:
        return TrainingState({f: DEFAULTS[f] if getattr(args, f) is None else getattr(args, f) for f in CONFIG_FIELDS})
    saved = mc.load_checkpoint(args.resume)
    if "config" not in saved:
        raise ValueError(f"'{args.resume}' is not a train_mlp.py checkpoint (no config entry)")
    config = dict(zip(CONFIG_FIELDS, (int(v) for v in saved["config"].asnumpy())))
    for field in CONFIG_FIELDS:
        given = getattr(args, field)
        if given is not None and given != config[field]:
            raise ValueError(f"--{field} {given} differs from the checkpoint's {config[field]}")
    state = TrainingState(config)
    mc.load_param_into_net(state, saved, strict_load=True)
    return state


def train(args: argparse.Namespace) -> str:
    state = load_state(args)
    seed, points, _, batch = (int(v) for v in state.config.asnumpy())
    x, y = make_spirals(points, seed)
    split = mc.randperm(len(x), generator=mc.Generator().manual_seed(seed)).asnumpy()
    n_test = len(x) // 5
    test_idx, train_idx = split[:n_test], split[n_test:]
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    start = int(state.epoch.asnumpy())
    if start >= args.epochs:
        print(f"checkpoint is at epoch {start}, nothing to do for --epochs {args.epochs}")
    for epoch in range(start + 1, args.epochs + 1):
        t0 = time.perf_counter()
        state.model.set_train(True)
        order = mc.randperm(len(x_train), generator=state.shuffle_generator).asnumpy()
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            losses.append(float(state.train_step(mc.Tensor(x_train[idx]), mc.Tensor(y_train[idx]))))
        state.epoch.set_data(np.array(epoch))
        if args.checkpoint:
            mc.save_checkpoint(state, args.checkpoint)
        train_acc = accuracy(state.model, x_train, y_train)
        test_acc = accuracy(state.model, x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}  loss {np.mean(losses):.4f}  train_acc {100 * train_acc:.1f}%  "
              f"test_acc {100 * test_acc:.1f}%  {time.perf_counter() - t0:.1f}s", flush=True)
    digest = fingerprint(state)
    print(f"fingerprint {digest}")
    return digest


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        train(args)
    except (OSError, ValueError, TypeError) as error:
        print(f"train_mlp.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
