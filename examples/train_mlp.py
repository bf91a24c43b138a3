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

Data-parallel: ``python -m minicell.run -n W examples/train_mlp.py [flags]`` (W = 1, 2, 3, 4)
prints the same fingerprint as the plain run. Each global batch of ``--batch`` rows (one global
permutation per epoch, from the shuffle Generator of the training state) is cut into
micro-batches of ``--micro-batch`` rows (default 16: 4 per batch, so up to 4 ranks each get
whole micro-batches); rank r trains on ``shard_bounds(rows, W, r, micro_batch)`` and the
micro-batch gradients are summed exactly (``nn.TrainOneStepCell(..., micro_batch_size=M)``). The
plain run uses the same micro-batches, which is why its fingerprint is the same. Only rank 0
prints and writes the checkpoint; ``--resume`` works at any world size. Every rank checks its
settings (and the checkpoint's) before training and they must agree, else every rank prints
the same one-line error and exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

import minicell as mc
from minicell import communication as comm
from minicell import nn, ops
from minicell._sharding import shard_bounds

CONFIG_FIELDS = ("seed", "points", "hidden", "batch", "micro_batch")
DEFAULTS = {"seed": 0, "points": 1000, "hidden": 128, "batch": 64, "micro_batch": 16}


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
        self.train_step = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.CrossEntropyLoss()), optimizer,
                                              micro_batch_size=config["micro_batch"])


def fingerprint(cell: mc.Cell) -> str:
    """SHA-256 of every parameter, name and bytes, in name order."""
    return comm.parameter_digest(cell)


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
    parser.add_argument("--check-every", type=int, default=0, metavar="N",
                        help="compare all ranks' parameters every N steps (default 0: only at the end)")
    for field in CONFIG_FIELDS:
        parser.add_argument(f"--{flag(field)}", dest=field, type=int, default=None, help=f"default {DEFAULTS[field]}")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    for field in CONFIG_FIELDS:
        value = getattr(args, field)
        if value is not None and (value < 0 or (field != "seed" and value < 1)):
            parser.error(f"--{flag(field)} must be positive, got {value}")
    if args.check_every < 0:
        parser.error(f"--check-every must be at least 0, got {args.check_every}")
    return args


def flag(field: str) -> str:
    return field.replace("_", "-")


def load_state(args: argparse.Namespace) -> TrainingState:
    """A fresh state from the flags, or the one in ``--resume`` (flags must agree with it)."""
    if not args.resume:
        return TrainingState({f: DEFAULTS[f] if getattr(args, f) is None else getattr(args, f) for f in CONFIG_FIELDS})
    saved = mc.load_checkpoint(args.resume)
    if "config" not in saved:
        raise ValueError(f"'{args.resume}' is not a train_mlp.py checkpoint (no config entry)")
    values = [int(v) for v in saved["config"].asnumpy()]
    if len(values) == len(CONFIG_FIELDS) - 1:  # saved before --micro-batch: one micro-batch per batch
        values.append(values[CONFIG_FIELDS.index("batch")])
        saved["config"] = mc.Parameter(np.array(values, np.int64), name="config", requires_grad=False)
    config = dict(zip(CONFIG_FIELDS, values))
    for field in CONFIG_FIELDS:
        given = getattr(args, field)
        if given is not None and given != config[field]:
            raise ValueError(f"--{flag(field)} {given} differs from the checkpoint's {config[field]}")
    state = TrainingState(config)
    mc.load_param_into_net(state, saved, strict_load=True)
    return state


def check_world(config: dict, world_size: int) -> None:
    """Raise ValueError when the batch cannot be cut into micro-batches for ``world_size`` ranks."""
    batch, micro = config["batch"], config["micro_batch"]
    if batch % micro:
        raise ValueError(f"--batch {batch} is not a multiple of --micro-batch {micro}")
    if world_size > batch // micro:
        raise ValueError(f"{world_size} ranks but a batch of {batch} has only {batch // micro} micro-batches of "
                         f"{micro}: use at most {batch // micro} ranks or a smaller --micro-batch")


def prepare(args: argparse.Namespace) -> TrainingState:
    """Every rank validates the same way, then all agree (one collective) before training starts."""
    state, error = None, None
    try:
        state = load_state(args)
        check_world({f: int(v) for f, v in zip(CONFIG_FIELDS, state.config.asnumpy())}, comm.get_group_size())
    except (OSError, ValueError, TypeError) as failure:
        error = str(failure)
    settings = " ".join(f"--{flag(k)} {v}" for k, v in sorted(vars(args).items()))
    comm.agree(settings, error)
    assert state is not None
    return state


def train(args: argparse.Namespace, state: TrainingState) -> str:
    rank, world_size = comm.get_rank(), comm.get_group_size()
    seed, points, _, batch, micro = (int(v) for v in state.config.asnumpy())
    if rank == 0:
        print(f"train_mlp.py: world size {world_size}, batch {batch}, micro-batch {micro}", flush=True)
    x, y = make_spirals(points, seed)
    split = mc.randperm(len(x), generator=mc.Generator().manual_seed(seed)).asnumpy()
    n_test = len(x) // 5
    test_idx, train_idx = split[:n_test], split[n_test:]
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    start = int(state.epoch.asnumpy())
    if start >= args.epochs and rank == 0:
        print(f"checkpoint is at epoch {start}, nothing to do for --epochs {args.epochs}")
    steps = 0
    for epoch in range(start + 1, args.epochs + 1):
        t0 = time.perf_counter()
        state.model.set_train(True)
        order = mc.randperm(len(x_train), generator=state.shuffle_generator).asnumpy()
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            lo, hi = shard_bounds(len(idx), world_size, rank, micro)  # this rank's micro-batches
            mine = idx[lo:hi]
            losses.append(float(state.train_step(mc.Tensor(x_train[mine]), mc.Tensor(y_train[mine]))))
            steps += 1
            if args.check_every and steps % args.check_every == 0:
                comm.check_replicas(state)
        state.epoch.set_data(np.array(epoch))
        if rank != 0:
            continue
        if args.checkpoint:
            mc.save_checkpoint(state, args.checkpoint)
        train_acc = accuracy(state.model, x_train, y_train)
        test_acc = accuracy(state.model, x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}  loss {np.mean(losses):.4f}  train_acc {100 * train_acc:.1f}%  "
              f"test_acc {100 * test_acc:.1f}%  {time.perf_counter() - t0:.1f}s", flush=True)
    digest = comm.check_replicas(state) if world_size > 1 else fingerprint(state)
    if rank == 0:
        print(f"fingerprint {digest}", flush=True)
    return digest


def main(argv: list[str] | None = None) -> int:
    comm.init()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        state = prepare(args)
    except (OSError, ValueError, TypeError) as error:
        print(f"train_mlp.py: error: {error}", file=sys.stderr, flush=True)
        return 2
    train(args, state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
