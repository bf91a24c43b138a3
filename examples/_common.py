"""Pieces the examples share: flags, config-carrying training state, accuracy, the checks and
the agreement before training, the end of a run (its fingerprint), one-line errors.

A training example keeps everything a resumed run needs in one Cell (each example's ``TrainingState``):
its integer config, an epoch counter, the model, the optimizer state and every Generator, all as
Parameters, so ``save_checkpoint``/``load_param_into_net`` restore it bit for bit.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

import minicell as mc
from minicell import communication as comm
from minicell.testing import fingerprint

State = TypeVar("State", bound=mc.Cell)


def accuracy(model: mc.Cell, x: np.ndarray, y: np.ndarray, batch: int = 512) -> float:
    """Fraction of correct argmax predictions in eval mode (batched to bound memory)."""
    model.set_train(False)
    correct = 0
    with mc.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(mc.Tensor(x[i:i + batch])).asnumpy().argmax(axis=1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (``--help`` still shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag(field: str) -> str:
    """The command-line flag of a config field: ``micro_batch`` -> ``--micro-batch``."""
    return "--" + field.replace("_", "-")


def parse_args(prog: str, description: str, defaults: dict[str, int], epochs: int, argv: list[str],
               counters: dict[str, str] | None = None) -> argparse.Namespace:
    """``--epochs``, ``--checkpoint``, ``--resume``, one int flag per config field, and one
    non-negative int flag per entry of ``counters`` (field -> help)."""
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("--epochs", type=int, default=epochs, help=f"total number of epochs (default {epochs})")
    parser.add_argument("--checkpoint", help="save the whole training state here after every epoch")
    parser.add_argument("--resume", help="continue from this checkpoint up to --epochs")
    for field, default in defaults.items():
        parser.add_argument(flag(field), dest=field, type=int, default=None, help=f"default {default}")
    for field, text in (counters or {}).items():
        parser.add_argument(flag(field), dest=field, type=int, default=0, metavar="N", help=text)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    for field in defaults:
        value = getattr(args, field)
        if value is not None and (value < 0 or (field != "seed" and value < 1)):
            parser.error(f"{flag(field)} must be positive, got {value}")
    for field in counters or {}:
        if getattr(args, field) < 0:
            parser.error(f"{flag(field)} must be at least 0, got {getattr(args, field)}")
    return args


def load_state(args: argparse.Namespace, defaults: dict[str, int], make: Callable[[dict], State],
               prog: str, upgrade: Callable[[list[int]], list[int]] | None = None) -> State:
    """A fresh state from the flags, or the one in ``--resume`` (flags must agree with its config).

    ``upgrade`` turns the config of an older checkpoint format into the current one.
    """
    fields = list(defaults)
    if not args.resume:
        return make({f: defaults[f] if getattr(args, f) is None else getattr(args, f) for f in fields})
    saved = mc.load_checkpoint(args.resume)
    if "config" not in saved:
        raise ValueError(f"'{args.resume}' is not a {prog} checkpoint (no config entry)")
    values = [int(v) for v in saved["config"].asnumpy()]
    if upgrade is not None and len(values) != len(fields):
        values = upgrade(values)
        saved["config"] = mc.Parameter(np.array(values, np.int64), name="config", requires_grad=False)
    if len(values) != len(fields):
        raise ValueError(f"'{args.resume}' is not a {prog} checkpoint (its config has {len(values)} fields)")
    config = dict(zip(fields, values))
    for field in fields:
        given = getattr(args, field)
        if given is not None and given != config[field]:
            raise ValueError(f"{flag(field)} {given} differs from the checkpoint's {config[field]}")
    state = make(config)
    mc.load_param_into_net(state, saved, strict_load=True)
    return state


def split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: a fifth of the samples, picked by a seeded permutation, for testing."""
    order = mc.randperm(len(x), generator=mc.Generator().manual_seed(seed)).asnumpy()
    test, train = order[:len(x) // 5], order[len(x) // 5:]
    return x[train], y[train], x[test], y[test]


def report_fingerprint(state: Any, rank: int, world_size: int) -> str:
    """The end of a run: every rank's parameters compared (the job fails loudly if they differ),
    then ``fingerprint`` of the whole training state, printed by rank 0."""
    if world_size > 1:
        comm.check_replicas(state)
    digest = fingerprint(state)
    if rank == 0:
        print(f"fingerprint {digest}", flush=True)
    return digest


def run_main(prog: str, train: Callable[[list[str]], object], argv: list[str] | None) -> int:
    """Run ``train``; a bad file or value is one line on stderr and exit status 2."""
    try:
        train(sys.argv[1:] if argv is None else argv)
    except (OSError, ValueError, TypeError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


def check_micro_batches(batch: int, micro: int, world_size: int) -> None:
    """ValueError when a batch of ``batch`` rows cannot be cut into micro-batches of ``micro`` rows
    for ``world_size`` ranks (each rank needs at least one micro-batch)."""
    if batch % micro:
        raise ValueError(f"--batch {batch} is not a multiple of --micro-batch {micro}")
    if world_size > batch // micro:
        raise ValueError(f"{world_size} ranks but a batch of {batch} has only {batch // micro} micro-batches of "
                         f"{micro}: use at most {batch // micro} ranks or a smaller --micro-batch")


def agreed_state(args: argparse.Namespace, load: Callable[[], State], check: Callable[[State], None]) -> State:
    """``load()`` then ``check(state)`` on every rank, and one collective (``comm.agree``) in which
    all ranks compare their flags and errors before training starts: a bad setting is the same
    ValueError on every rank, never a hang."""
    state, error = None, None
    try:
        state = load()
        check(state)
    except (OSError, ValueError, TypeError) as failure:
        error = str(failure)
    comm.agree(" ".join(f"{flag(k)} {v}" for k, v in sorted(vars(args).items())), error)
    assert state is not None
    return state


def run_distributed(prog: str, parse: Callable[[list[str]], argparse.Namespace],
                    prepare: Callable[[argparse.Namespace], Any], train: Callable[[argparse.Namespace, Any], str],
                    argv: list[str] | None) -> int:
    """``comm.init()``, parse the flags, ``prepare`` on every rank, train. A launcher without MPI, a
    bad flag or a bad checkpoint is one line ``<prog>: error: ...`` on stderr and exit status 2."""
    try:
        comm.init()
        args = parse(sys.argv[1:] if argv is None else argv)
        state = prepare(args)
    except (OSError, RuntimeError, ValueError, TypeError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr, flush=True)
        return 2
    train(args, state)
    return 0
