"""Export the CNN of ``train_cnn.py`` for MindSpore and PyTorch: ``.ckpt``, ``.safetensors``.

Trains the example's model (``--epochs``, default 2; the model is built by ``train_cnn``'s own
``TrainingState``, not copied) or loads a ``train_cnn.py --checkpoint`` file (``--resume``), and
writes, next to ``--out`` (default ``cnn``):

- ``cnn.ckpt``: MindSpore's protobuf checkpoint, MindSpore's names (``model.1.gamma``);
- ``cnn.safetensors``: the same names and values as safetensors (MindSpore 2.7 reads both);
- ``cnn.torch.safetensors``: PyTorch's names (``to_torch_names``; ``running_mean``, ...) without
  the ``model.`` prefix, for a ``torch.nn.Sequential`` of the same layers;
- ``cnn.sample.npz``: a batch of test images ``x`` and the model's ``logits`` in eval mode, to
  check another framework's outputs against.

Each file is read back with minicell into a fresh model, which must give the same logits. The
README shows loading them in MindSpore and PyTorch.

    python examples/export.py
    python examples/train_cnn.py --epochs 4 --checkpoint run.ckpt && python examples/export.py --resume run.ckpt
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_cnn  # noqa: E402
from _common import run_main, split  # noqa: E402

import minicell as mc  # noqa: E402

PROG = "export.py"
PREFIX = "model."  # the attribute of TrainingState that holds the network


def trained_state(args: argparse.Namespace) -> train_cnn.TrainingState:
    """The TrainingState of ``--resume``, or of a fresh ``train_cnn`` run of ``--epochs``."""
    path = args.resume
    with tempfile.TemporaryDirectory() as folder:
        if path is None:
            path = os.path.join(folder, "run.ckpt")
            if train_cnn.main(["--epochs", str(args.epochs), "--checkpoint", path]) != 0:
                raise ValueError("training failed")
        saved = mc.load_checkpoint(path)
    if "config" not in saved:
        raise ValueError(f"'{path}' is not a train_cnn.py checkpoint (no config entry)")
    state = train_cnn.TrainingState(dict(zip(train_cnn.DEFAULTS, (int(v) for v in saved["config"].asnumpy()))))
    mc.load_param_into_net(state, saved, strict_load=True)
    return state


def logits(state: train_cnn.TrainingState, x: np.ndarray) -> np.ndarray:
    state.model.set_train(False)
    return state.model(mc.Tensor(x)).asnumpy()


def export(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description="Export train_cnn.py's model for MindSpore and PyTorch.")
    parser.add_argument("--resume", help="a train_cnn.py checkpoint (default: train one now)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to train when there is no --resume (default 2)")
    parser.add_argument("--out", default="cnn", help="prefix of the files written (default 'cnn')")
    args = parser.parse_args(argv)
    mc.set_num_threads(1)
    state = trained_state(args)
    config = dict(zip(train_cnn.DEFAULTS, (int(v) for v in state.config.asnumpy())))
    _, _, x_test, _ = split(*train_cnn.make_bars(config["samples"], config["size"], config["seed"]), config["seed"])
    x = x_test[:8]
    expected = logits(state, x)
    mc.save_checkpoint(state.model, args.out + ".ckpt", format="ckpt")
    mc.save_checkpoint(state.model, args.out + ".safetensors", format="safetensors")
    torch_named, dropped = mc.serialization.to_torch_names(state.model)
    unprefixed = {name[len(PREFIX):]: array for name, array in torch_named.items()}
    mc.save_checkpoint(unprefixed, args.out + ".torch.safetensors", format="safetensors")
    np.savez(args.out + ".sample.npz", x=x, logits=expected)
    print(f"wrote {args.out}.ckpt, {args.out}.safetensors (MindSpore names), {args.out}.torch.safetensors "
          f"(PyTorch names; left out, no PyTorch name: {', '.join(dropped)}), {args.out}.sample.npz")
    for path, rename in ((".ckpt", ""), (".safetensors", ""), (".torch.safetensors", PREFIX)):
        loaded = mc.load_checkpoint(args.out + path)
        params: dict[str, Any] = {rename + name: p for name, p in loaded.items()}
        fresh = train_cnn.TrainingState(config)
        if rename:
            params, _ = mc.serialization.from_torch_names(params, fresh.model)
        not_loaded, unused = mc.load_param_into_net(fresh.model, params)
        same = np.array_equal(logits(fresh, x), expected)
        print(f"{args.out}{path}: read back, not loaded {not_loaded}, unused {unused}, same logits: {same}")
        if not same:
            raise ValueError(f"{args.out}{path} does not reproduce the model's logits")


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, export, argv)


if __name__ == "__main__":
    sys.exit(main())
