"""Time per training step of ``examples/train_gpt.py``'s GPT against the same model in PyTorch,
and characters per second of sampling.

Run: ``python benchmarks/bench_gpt.py [--steps N] [--threads T] [--micro-batch M]``. Both sides
train the example's default model (2 pre-LayerNorm blocks of width 64, 4 heads, causal
attention, dropout 0.1 on attention probabilities, residuals and embeddings, GELU MLP, tied
head; AdamW with global-norm clipping) on the same random batch of 32 windows of 64 characters,
with the same thread count. minicell runs it as the example does (micro-batches of
``--micro-batch``, default 8; 0 for one pass over the batch) and as one pass. The script prints
the time ratio minicell / torch (target <= 2.0x), then the sampling speed of the example's
``generate`` (one lone forward per prompt and character, no cache, one ``ops.sample_logits``
per character) and of torch doing the same.
"""
from __future__ import annotations

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import train_gpt  # noqa: E402
from _timing import median_time, parse_and_load_torch  # noqa: E402

import minicell as mc  # noqa: E402
from minicell import nn  # noqa: E402


def minicell_step(x: np.ndarray, micro_batch: int):
    config = dict(train_gpt.DEFAULTS)
    vocab = int(x.max()) + 1
    model = train_gpt.GPT(vocab, config, mc.Generator().manual_seed(1), mc.Generator().manual_seed(2))
    schedule = train_gpt.WarmUpCosine(train_gpt.MAX_LR, train_gpt.MIN_LR, 10, 1000)
    optimizer = train_gpt.ClippedAdamW(model.trainable_params(), schedule, train_gpt.WEIGHT_DECAY, 1.0)
    step = nn.TrainOneStepCell(train_gpt.NextCharLoss(model, vocab), optimizer,
                               micro_batch_size=micro_batch or None)
    model.set_train(True)
    window = mc.Tensor(x)
    return lambda: step(window), model


def torch_model(torch, vocab: int):
    tnn = torch.nn
    c = train_gpt.DEFAULTS
    width, p = c["width"], c["dropout_pct"] / 100

    class Block(tnn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = tnn.LayerNorm(width), tnn.LayerNorm(width)
            self.attn = tnn.MultiheadAttention(width, c["heads"], dropout=p, batch_first=True)
            self.mlp = tnn.Sequential(tnn.Linear(width, 4 * width), tnn.GELU(approximate="tanh"),
                                      tnn.Linear(4 * width, width))
            self.drop = tnn.Dropout(p)

        def forward(self, x, mask):
            y = self.ln1(x)
            x = x + self.drop(self.attn(y, y, y, attn_mask=mask, need_weights=False)[0])
            return x + self.drop(self.mlp(self.ln2(x)))

    class GPT(tnn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = tnn.Embedding(vocab, width), tnn.Embedding(c["block"], width)
            self.drop = tnn.Dropout(p)
            self.blocks = tnn.ModuleList([Block() for _ in range(c["layers"])])
            self.ln_f = tnn.LayerNorm(width)

        def forward(self, ids):
            t = ids.shape[1]
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
            x = self.drop(self.tok(ids) + self.pos(torch.arange(t)))
            for block in self.blocks:
                x = block(x, mask)
            return self.ln_f(x) @ self.tok.weight.T
    torch.manual_seed(0)
    return GPT()


def torch_step(torch, x: np.ndarray):
    vocab = int(x.max()) + 1
    model = torch_model(torch, vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)
    ids = torch.from_numpy(x)
    model.train()

    def step() -> None:
        opt.zero_grad()
        logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step, model


def torch_generate(torch, model, vocab: int, chars: int, prompts: int) -> None:
    model.eval()
    block = train_gpt.DEFAULTS["block"]
    gen = torch.Generator().manual_seed(0)
    contexts = [[0] for _ in range(prompts)]
    with torch.no_grad():
        for _ in range(chars):
            rows = [model(torch.tensor([ctx[-block:]]))[0, -1] for ctx in contexts]
            probs = torch.softmax(torch.stack(rows) / 0.8, dim=-1)
            for ctx, pick in zip(contexts, torch.multinomial(probs, 1, generator=gen)[:, 0].tolist()):
                ctx.append(pick)


def main() -> None:
    def flags(parser) -> None:
        parser.add_argument("--steps", type=int, default=5, help="steps per timing sample")
        parser.add_argument("--micro-batch", type=int, default=train_gpt.DEFAULTS["micro_batch"])
        parser.add_argument("--chars", type=int, default=64, help="characters sampled per prompt")
    args, torch, threads = parse_and_load_torch(__doc__.splitlines()[0], flags)
    c = train_gpt.DEFAULTS
    _, _, vocab_text = train_gpt.load_text()
    vocab = len(vocab_text)
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (c["batch"], c["block"] + 1)).astype(np.int64)
    x[0, 0] = vocab - 1  # the vocabulary size is x.max() + 1

    def repeat(fn):
        return lambda: [fn() for _ in range(args.steps)]

    ours, model = minicell_step(x, args.micro_batch)
    one_pass, _ = minicell_step(x, 0)
    print(f"threads = {threads}, numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ""))
    a = min(median_time(repeat(ours), 3) for _ in range(2)) / args.steps
    a1 = min(median_time(repeat(one_pass), 3) for _ in range(2)) / args.steps
    prompts = ["def "] * 4
    sampler = mc.Generator().manual_seed(0)
    t_sample = median_time(lambda: train_gpt.generate(model, prompts, vocab_text, args.chars, sampler), 1)
    print(f"sampling: minicell {len(prompts) * args.chars / t_sample:.0f} chars/s "
          f"({len(prompts)} prompts x {args.chars} chars, one lone forward each, no cache)")
    if torch is None:
        print(f"time per step: minicell {a * 1e3:.1f} ms (micro-batch {args.micro_batch}), "
              f"{a1 * 1e3:.1f} ms (one pass)")
        return
    theirs, tmodel = torch_step(torch, x)
    b = min(median_time(repeat(theirs), 3) for _ in range(2)) / args.steps
    t_torch = median_time(lambda: torch_generate(torch, tmodel, vocab, args.chars, len(prompts)), 1)
    print(f"sampling: torch {len(prompts) * args.chars / t_torch:.0f} chars/s (the same loop)")
    for label, t in ((f"micro-batch {args.micro_batch}", a), ("one pass", a1)):
        verdict = "OK" if t / b <= 2.0 else "ABOVE TARGET"
        print(f"time per step ({label}): minicell {t * 1e3:.1f} ms  torch {b * 1e3:.1f} ms  "
              f"time ratio {t / b:.2f}x (target <= 2.0x) {verdict}")


if __name__ == "__main__":
    main()
