"""Train a small character-level GPT on Python's help topics, then sample from it reproducibly.

The text is ``pydoc_data.topics`` (it ships with CPython: no download), its topics joined in key
order; the last tenth is held out. The model is a causal transformer: token and position
embeddings, pre-LayerNorm blocks of causal ``nn.MultiheadAttention`` (dropout on the attention
probabilities) and a GELU MLP, residual dropout, a final LayerNorm and a head tied to the token
embedding (``--tied 0``: a separate ``Dense``). It trains with AdamW on a warm-up plus cosine
schedule, gradients clipped to a global norm of 1 (``ops.clip_by_global_norm``), then prints
the held-out loss in nats per character, ``--sample`` characters after each ``--prompt`` and
the ``fingerprint`` of the whole training state.

    python examples/train_gpt.py
    python examples/train_gpt.py --steps 100 --checkpoint gpt.ckpt --save-every 20
    python examples/train_gpt.py --steps 100 --resume gpt.ckpt --checkpoint gpt.ckpt
    python -m minicell.run -n 4 examples/train_gpt.py       # the same fingerprint and text

Everything random is a pure function of seeds and indices:

* weights come from an init Generator seeded with ``--seed``;
* training windows come through ``minicell.dataset``: epoch ``e`` has ``--windows`` samples and
  sample ``i`` is the window starting at ``floor(w * starts / 2**32)``, ``w`` the counter word of
  sample ``i`` in the epoch's stream (``RandomWindow``: ``minicell.dataset.counters``), so a
  window depends only on the seed, the epoch and the sample's index;
* dropout (attention and residual) is sample-indexed: masks depend on the global row, never on
  the rank or micro-batch that computes it (``nn.TrainOneStepCell(..., micro_batch_size=M)``);
* sampling reserves one step of a sampling Generator (seeded with ``--seed``) per character and
  draws prompt ``p``'s character from its own logits at global row ``--prompt-row + p``
  (``ops.sample_logits``); each prompt's forward runs alone, so its logits (and text) are the
  same whether it is sampled alone or with other prompts.

``--steps N`` trains N optimizer steps (the length of the learning-rate schedule, kept in the
checkpoint's config); ``--epochs E`` means ``E * windows / batch`` steps. ``--checkpoint`` saves
the training state (model, AdamW moments, generators, the data iterator's position) atomically
at the end, and every ``--save-every`` steps (mid-epoch too); ``--resume`` continues exactly.
Data-parallel runs (``minicell.run -n W``) cut each global batch of ``--batch`` windows into
micro-batches of ``--micro-batch`` and sum their gradients exactly; the plain run uses the same
micro-batches, hence the same fingerprint. Only rank 0 prints, samples and writes checkpoints.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

import minicell as mc
from minicell import communication as comm
from minicell import nn, ops
from minicell.dataset import NumpySlicesDataset
from minicell.dataset.counters import Draw, below
from minicell.dataset.transforms import Transform

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    OneLineParser,
    agreed_state,
    check_micro_batches,
    flag,
    report_fingerprint,
    run_distributed,
)
from _gpt_model import GPT, ClippedAdamW, NextCharLoss, WarmUpCosine  # noqa: E402

PROG = "train_gpt.py"
CONFIG_FIELDS = ("seed", "block", "width", "layers", "heads", "dropout_pct", "tied", "batch", "micro_batch",
                 "windows", "steps", "warmup")
DEFAULTS = {"seed": 0, "block": 64, "width": 64, "layers": 2, "heads": 4, "dropout_pct": 10, "tied": 1,
            "batch": 32, "micro_batch": 8, "windows": 8192, "steps": 1000, "warmup": 50}
MAX_LR, MIN_LR, WEIGHT_DECAY, CLIP_NORM = 5e-3, 5e-4, 0.01, 1.0
HELD_OUT = 0.1  # the last tenth of the text
ROW_LIMIT = 2 ** 33  # sampling rows: ops.sample_logits takes batch_start + rows <= 2**33


# ----- the text --------------------------------------------------------------------------------------
def load_text() -> tuple[np.ndarray, np.ndarray, str]:
    """``(train ids, held-out ids, vocabulary)``: the help topics as character ids (int64)."""
    from pydoc_data.topics import topics
    text = "".join(topics[key] for key in sorted(topics))
    vocab = "".join(sorted(set(text)))
    lookup = np.zeros(max(map(ord, vocab)) + 1, np.int64)
    lookup[[ord(c) for c in vocab]] = np.arange(len(vocab))
    ids = lookup[np.frombuffer(text.encode("utf-32-le"), np.uint32)]
    cut = int(len(ids) * (1 - HELD_OUT))
    return ids[:cut], ids[cut:], vocab


class RandomWindow(Transform):
    """Replace sample ``i`` (any value) by the ``length`` ids starting at ``floor(w * starts / 2**32)``
    of ``text``, ``w`` the sample's first counter word and ``starts = len(text) - length + 1``."""

    random = True

    def __init__(self, text: np.ndarray, length: int) -> None:
        self.text, self.length = text, length

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        starts = below(draw.words(1)[:, 0], len(self.text) - self.length + 1)
        return self.text[starts[:, None] + np.arange(self.length)[None, :]]

    def __repr__(self) -> str:
        return f"RandomWindow(length={self.length})"


class TrainingState(nn.Cell):
    """Everything a resumed run needs, as Parameters: config, model, optimizer, generators and the
    data iterator's position."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = mc.Parameter(np.array([config[k] for k in CONFIG_FIELDS], np.int64), requires_grad=False)
        train_ids, self.held_out, self.vocab = load_text()
        seed = config["seed"]
        init = mc.Generator().manual_seed(seed + 1)
        self.dropout_generator = mc.Generator().manual_seed(seed + 2)
        self.data_generator = mc.Generator().manual_seed(seed + 3)
        self.model = GPT(len(self.vocab), config, init, self.dropout_generator)
        schedule = WarmUpCosine(MAX_LR, MIN_LR, config["warmup"], config["steps"])
        self.optimizer = ClippedAdamW(self.model.trainable_params(), schedule, WEIGHT_DECAY, CLIP_NORM)
        self.train_step = nn.TrainOneStepCell(NextCharLoss(self.model, len(self.vocab)), self.optimizer,
                                              micro_batch_size=config["micro_batch"])
        self.data = (NumpySlicesDataset(np.zeros(config["windows"], np.int64), ["window"], shuffle=False,
                                        generator=self.data_generator)
                     .map(RandomWindow(train_ids, config["block"] + 1), "window")
                     .batch(config["batch"], micro_batch_size=config["micro_batch"])
                     .create_tuple_iterator())


# ----- evaluation and sampling -----------------------------------------------------------------------------
def held_out_loss(model: GPT, ids: np.ndarray, block: int, batch: int = 64) -> float:
    """Mean NLL (nats per character) over consecutive non-overlapping windows of ``ids``."""
    model.set_train(False)
    count = (len(ids) - 1) // block
    windows = ids[:count * block + 1]
    total = 0.0
    with mc.no_grad(), threadpool_limits(1, "blas"):
        for lo in range(0, count, batch):
            hi = min(lo + batch, count)
            x = np.stack([windows[i * block:(i + 1) * block] for i in range(lo, hi)])
            y = np.stack([windows[i * block + 1:(i + 1) * block + 1] for i in range(lo, hi)])
            logp = ops.log_softmax(model(mc.Tensor(x)), axis=-1).asnumpy().astype(np.float64)
            total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
    return total / (count * block)


def encode(text: str, vocab: str) -> np.ndarray:
    unknown = sorted(set(text) - set(vocab))
    if unknown:
        raise ValueError(f"the prompt {text!r} has characters that are not in the text: {unknown}")
    index = {c: i for i, c in enumerate(vocab)}
    return np.array([index[c] for c in text], np.int64)


def generate(model: GPT, prompts: list[str], vocab: str, length: int, generator: mc.Generator,
             temperature: float = 1.0, top_k: int | None = None, first_row: int = 0) -> list[str]:
    """``length`` characters after each prompt: one ``ops.sample_logits`` call (one step of
    ``generator``) per character, prompt ``p`` drawn at global row ``first_row + p`` from the
    logits of its own lone forward (single-threaded BLAS), so its text never depends on the
    other prompts. A prompt longer than the block keeps its last ``block`` characters; an empty
    prompt starts from the vocabulary's first character (a newline)."""
    model.set_train(False)
    block = int(model.pos.embedding_table.shape[0])
    contexts = [list(encode(p, vocab)) for p in prompts]
    with mc.no_grad(), threadpool_limits(1, "blas"):
        for _ in range(length):
            rows = []
            for ctx in contexts:
                ids = np.array(ctx[-block:] if ctx else [0], np.int64)[None]
                rows.append(model(mc.Tensor(ids)).asnumpy()[0, -1])
            picks = ops.sample_logits(mc.Tensor(np.stack(rows)), temperature, top_k, generator=generator,
                                      batch_start=first_row).asnumpy()
            for ctx, pick in zip(contexts, picks.tolist()):
                ctx.append(pick)
    return ["".join(vocab[i] for i in ctx[-length:]) if length else "" for ctx in contexts]


# ----- the command line --------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description="Train a character-level GPT on Python's help topics (minicell).")
    parser.add_argument("--epochs", type=int, help="train windows/batch steps per epoch for this many epochs "
                        "(instead of --steps)")
    parser.add_argument("--checkpoint", help="save the whole training state here (at the end, and every --save-every)")
    parser.add_argument("--resume", help="continue from this checkpoint")
    parser.add_argument("--save-every", type=int, default=0, metavar="N", help="also save every N steps")
    for field, default in DEFAULTS.items():
        parser.add_argument(flag(field), dest=field, type=int, default=None, help=f"default {default}")
    parser.add_argument("--sample", type=int, default=200, metavar="N", help="characters to sample (default 200)")
    parser.add_argument("--prompt", action="append", help="a prompt (repeat for a batch; default 'The ')")
    parser.add_argument("--prompt-row", type=int, default=0, help="global row of the first prompt (default 0)")
    parser.add_argument("--temperature", type=float, default=0.8, help="default 0.8")
    parser.add_argument("--top-k", type=int, default=None, help="keep the k most likely characters (default all)")
    args = parser.parse_args(argv)
    for field in DEFAULTS:
        value = getattr(args, field)
        low = 0 if field in ("seed", "dropout_pct", "tied", "warmup") else 1
        if value is not None and value < low:
            parser.error(f"{flag(field)} must be at least {low}, got {value}")
    if args.tied not in (None, 0, 1) or (args.dropout_pct or 0) > 100:
        parser.error("--tied must be 0 or 1 and --dropout-pct at most 100")
    if args.epochs is not None and (args.epochs < 1 or args.steps is not None):
        parser.error("--epochs must be at least 1, and not given with --steps")
    if args.save_every < 0 or args.sample < 0 or args.prompt_row < 0 or (args.top_k is not None and args.top_k < 1):
        parser.error("--save-every, --sample and --prompt-row must be at least 0, --top-k at least 1")
    if not (args.temperature >= 0 and math.isfinite(args.temperature)):
        parser.error(f"--temperature must be a finite float >= 0, got {args.temperature}")
    if args.prompt_row + len(args.prompt or [""]) > ROW_LIMIT:  # checked now, not after training
        parser.error(f"--prompt-row plus the number of prompts must be at most {ROW_LIMIT}, got {args.prompt_row}")
    args.prompt = args.prompt or ["The "]
    return args


def config_of(args: argparse.Namespace) -> dict:
    """The flags' config (defaults for those not given; --epochs sets steps)."""
    config = {f: DEFAULTS[f] if getattr(args, f) is None else getattr(args, f) for f in CONFIG_FIELDS}
    if args.epochs is not None:
        config["steps"] = args.epochs * (config["windows"] // config["batch"])
    return config


def load_state(args: argparse.Namespace) -> TrainingState:
    """A fresh state, or the one in ``--resume`` (given flags must agree with its config)."""
    if not args.resume:
        return TrainingState(config_of(args))
    saved = mc.load_checkpoint(args.resume)
    if "config" not in saved or saved["config"].asnumpy().shape != (len(CONFIG_FIELDS),):
        raise ValueError(f"'{args.resume}' is not a {PROG} checkpoint")
    config = dict(zip(CONFIG_FIELDS, (int(v) for v in saved["config"].asnumpy())))
    given = {f: v for f, v in config_of(args).items() if getattr(args, f, None) is not None}
    for field, value in given.items():
        if value != config[field]:
            raise ValueError(f"{flag(field)} {value} differs from the checkpoint's {config[field]}")
    if args.epochs is not None:  # epochs of the checkpoint's own windows and batch
        per_epoch = config["windows"] // config["batch"]
        if args.epochs * per_epoch != config["steps"]:
            raise ValueError(f"--epochs {args.epochs} ({args.epochs * per_epoch} steps of {per_epoch} per epoch) "
                             f"differs from the checkpoint's {config['steps']} steps")
    state = TrainingState(config)
    mc.load_param_into_net(state, saved, strict_load=True)
    return state


def check_config(config: dict, world_size: int) -> None:
    if config["width"] % config["heads"]:
        raise ValueError(f"--width {config['width']} is not a multiple of --heads {config['heads']}")
    if config["windows"] % config["batch"]:
        raise ValueError(f"--batch {config['batch']} does not divide --windows {config['windows']}")
    check_micro_batches(config["batch"], config["micro_batch"], world_size)


def prepare(args: argparse.Namespace) -> TrainingState:
    """Every rank validates the same way, then all agree (one collective) before training starts."""
    def check(state: TrainingState) -> None:
        check_config(dict(zip(CONFIG_FIELDS, (int(v) for v in state.config.asnumpy()))), comm.get_group_size())
        for prompt in args.prompt:
            encode(prompt, state.vocab)
    return agreed_state(args, lambda: load_state(args), check)


def train(args: argparse.Namespace, state: TrainingState) -> str:
    rank, world_size = comm.get_rank(), comm.get_group_size()
    config = dict(zip(CONFIG_FIELDS, (int(v) for v in state.config.asnumpy())))
    total = config["steps"]
    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"{PROG}: world size {world_size}, {sum(p.size for p in state.model.trainable_params())} parameters, "
        f"batch {config['batch']} windows of {config['block']}, micro-batch {config['micro_batch']}, {total} steps",
        flush=True)
    step = int(state.optimizer.global_step.asnumpy())
    t0 = last = time.perf_counter()
    first = step
    state.model.set_train(True)
    while step < total:
        for (window,) in state.data:  # this rank's rows of each global batch; the loop is one epoch
            loss = float(state.train_step(window))
            step += 1
            now = time.perf_counter()
            if now - last >= 5 or step == total:
                say(f"step {step}/{total}  loss {loss:.4f}  {1000 * (now - t0) / (step - first):.0f} ms/step  "
                    f"lr {state.optimizer.current_lr:.2e}", flush=True)
                last = now
            if args.checkpoint and args.save_every and step % args.save_every == 0 and step < total and rank == 0:
                mc.save_checkpoint(state, args.checkpoint)
                say(f"checkpoint saved at step {step}", flush=True)
            if step >= total:
                break
    if args.checkpoint and rank == 0:
        mc.save_checkpoint(state, args.checkpoint)
    if rank == 0:  # evaluation and sampling change no Parameter of the state
        print(f"held-out loss {held_out_loss(state.model, state.held_out, config['block']):.4f} nats/char "
              f"(training {time.perf_counter() - t0:.0f}s)", flush=True)
        sampler = mc.Generator().manual_seed(config["seed"] + 4)
        texts = generate(state.model, args.prompt, state.vocab, args.sample, sampler, args.temperature, args.top_k,
                         args.prompt_row)
        for row, (prompt, text) in enumerate(zip(args.prompt, texts)):
            print(f"sample {args.prompt_row + row}: {prompt + text!r}", flush=True)
    return report_fingerprint(state, rank, world_size)


def main(argv: list[str] | None = None) -> int:
    return run_distributed(PROG, parse_args, prepare, train, argv)


if __name__ == "__main__":
    sys.exit(main())
