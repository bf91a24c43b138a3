"""Pieces the training examples share: config-carrying training state, flags, accuracy, fingerprint.

A training example keeps everything a resumed run needs in one Cell (``TrainingState`` below):
its integer config, an epoch counter, the model, the optimizer state and every Generator, all as
Parameters, so ``save_checkpoint``/``load_param_into_net`` restore it bit for bit.
"""
from __future__ import annotations

import argparse
import hashlib
from typing import Callable, TypeVar

import numpy as np

import minicell as mc

State = TypeVar("State", bound=mc.Cell)

try:  # the shared determinism toolkit, when this checkout has it
    from minicell.testing import fingerprint as _toolkit_fingerprint  # type: ignore[attr-defined]
except ImportError:
    _toolkit_fingerprint = None


def fingerprint(cell: mc.Cell) -> str:
    """SHA-256 over every parameter's name and bytes, in ``parameters_and_names`` order."""
    if _toolkit_fingerprint is not None:
        return str(_toolkit_fingerprint(cell))
    digest = hashlib.sha256()
    for name, param in cell.parameters_and_names():
        digest.update(name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()


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


def parse_args(prog: str, description: str, defaults: dict[str, int], epochs: int,
               argv: list[str]) -> argparse.Namespace:
    """``--epochs``, ``--checkpoint``, ``--resume`` and one int flag per config field."""
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("--epochs", type=int, default=epochs, help=f"total number of epochs (default {epochs})")
    parser.add_argument("--checkpoint", help="save the whole training state here after every epoch")
    parser.add_argument("--resume", help="continue from this checkpoint up to --epochs")
    for field, default in defaults.items():
        parser.add_argument(f"--{field}", type=int, default=None, help=f"default {default}")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    for field in defaults:
        value = getattr(args, field)
        if value is not None and (value < 0 or (field != "seed" and value < 1)):
            parser.error(f"--{field} must be positive, got {value}")
    return args


def load_state(args: argparse.Namespace, defaults: dict[str, int], make: Callable[[dict], State],
               prog: str) -> State:
    """A fresh state from the flags, or the one in ``--resume`` (flags must agree with its config)."""
    fields = list(defaults)
    if not args.resume:
        return make({f: defaults[f] if getattr(args, f) is None else getattr(args, f) for f in fields})
    saved = mc.load_checkpoint(args.resume)
    if "config" not in saved:
        raise ValueError(f"'{args.resume}' is not a {prog} checkpoint (no config entry)")
    values = [int(v) for v in saved["config"].asnumpy()]
    if len(values) != len(fields):
        raise ValueError(f"'{args.resume}' is not a {prog} checkpoint (its config has {len(values)} fields)")
    config = dict(zip(fields, values))
    for field in fields:
        given = getattr(args, field)
        if given is not None and given != config[field]:
            raise ValueError(f"--{field} {given} differs from the checkpoint's {config[field]}")
    state = make(config)
    mc.load_param_into_net(state, saved, strict_load=True)
    return state
