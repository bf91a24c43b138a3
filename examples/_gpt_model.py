"""The GPT of ``examples/train_gpt.py`` and its training recipe: a character-level causal
transformer (token and position embeddings, pre-LayerNorm blocks of causal multi-head attention
and a GELU MLP, residual and embedding dropout, a tied or separate head), its loss, the learning
rate schedule and AdamW with global-norm clipping. Every random number comes from the two
Generators passed in: ``init`` for the weights, ``dropout`` for every mask.
"""
from __future__ import annotations

import math

import numpy as np

import minicell as mc
from minicell import nn, ops
from minicell.initializer import Normal


class TanhGELU(nn.Cell):
    """GELU with the tanh approximation (GPT-2's), ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``,
    written with ``x * x * x``: ``nn.GELU`` computes ``x ** 3`` (a float32 power, ~50x slower in
    NumPy than two products) or the exact erf, which dominated the step."""

    def construct(self, x: mc.Tensor) -> mc.Tensor:
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * (ops.tanh(inner) + 1.0) * 0.5


class Block(nn.Cell):
    """``x + drop(attn(ln1(x)))``, then ``x + drop(fc2(gelu(fc1(ln2(x)))))``."""

    def __init__(self, width: int, heads: int, p: float, init: mc.Generator, dropout: mc.Generator) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm((width,), epsilon=1e-5)
        self.attn = nn.MultiheadAttention(width, heads, dropout=p, batch_first=True, generator=init)
        self.attn.generator = dropout  # initial weights from init; dropout masks from the dropout generator
        self.ln2 = nn.LayerNorm((width,), epsilon=1e-5)
        self.fc1 = nn.Dense(width, 4 * width, weight_init=Normal(0.02), bias_init="zeros", generator=init)
        self.gelu = TanhGELU()
        self.fc2 = nn.Dense(4 * width, width, weight_init=Normal(0.02), bias_init="zeros", generator=init)
        self.drop = nn.Dropout(p, generator=dropout)

    def construct(self, x: mc.Tensor) -> mc.Tensor:
        y = self.ln1(x)
        x = x + self.drop(self.attn(y, y, y, need_weights=False, is_causal=True)[0])
        return x + self.drop(self.fc2(self.gelu(self.fc1(self.ln2(x)))))


class GPT(nn.Cell):
    """Character ids ``(N, T)`` -> next-character logits ``(N, T, vocab)``."""

    def __init__(self, vocab: int, config: dict, init: mc.Generator, dropout: mc.Generator) -> None:
        super().__init__()
        width, p = config["width"], config["dropout_pct"] / 100
        self.tok = nn.Embedding(vocab, width, embedding_table=Normal(0.02), generator=init)
        self.pos = nn.Embedding(config["block"], width, embedding_table=Normal(0.02), generator=init)
        self.drop = nn.Dropout(p, generator=dropout)
        self.blocks = nn.CellList([Block(width, config["heads"], p, init, dropout) for _ in range(config["layers"])])
        self.ln_f = nn.LayerNorm((width,), epsilon=1e-5)
        self.tied = bool(config["tied"])
        self.head: nn.Dense | None = None
        if not self.tied:
            self.head = nn.Dense(width, vocab, weight_init=Normal(0.02), has_bias=False, generator=init)

    def construct(self, ids: mc.Tensor) -> mc.Tensor:
        t = ids.shape[-1]
        x = self.drop(self.tok(ids) + self.pos(mc.Tensor(np.arange(t))))
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        if self.head is None:  # tied: the token embedding is the output projection
            return ops.matmul(x, self.tok.embedding_table.T)
        return self.head(x)


class NextCharLoss(nn.Cell):
    """Mean over windows of the mean next-character negative log-likelihood (nats per character).

    A window ``(N, T + 1)`` gives inputs ``[:, :-1]`` and targets ``[:, 1:]``; axis 0 stays the
    batch axis throughout (one row per window), so micro-batches weigh by windows exactly."""

    def __init__(self, model: GPT, vocab: int) -> None:
        super().__init__()
        self.model, self.vocab = model, vocab

    def construct(self, window: mc.Tensor) -> mc.Tensor:
        ids = window.asnumpy()
        logp = ops.log_softmax(self.model(mc.Tensor(ids[:, :-1])), axis=-1)
        target = np.zeros(logp.shape, logp.dtype)
        np.put_along_axis(target, ids[:, 1:, None], 1, axis=-1)
        per_window = ops.sum(ops.mul(logp, target), axis=(1, 2))
        return ops.neg(ops.mean(per_window)) / (ids.shape[1] - 1)


class WarmUpCosine(nn.LearningRateSchedule):
    """``max_lr (s + 1) / warmup`` for the first ``warmup`` steps, then cosine decay to ``min_lr``
    at step ``total - 1``: ``min + (max - min) (1 + cos(pi (s - warmup) / (total - 1 - warmup))) / 2``."""

    def __init__(self, max_lr: float, min_lr: float, warmup: int, total: int) -> None:
        super().__init__()
        self.max_lr, self.min_lr, self.warmup, self.total = max_lr, min_lr, warmup, total

    def rate(self, step: int) -> float:
        if step < self.warmup:
            return self.max_lr * (step + 1) / self.warmup
        span = max(self.total - 1 - self.warmup, 1)
        progress = min(step - self.warmup, span) / span
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))


class ClippedAdamW(nn.AdamW):
    """AdamW on gradients scaled to a global norm of at most ``clip_norm`` (after the exact
    reduction across micro-batches and ranks, so every rank clips the same bits)."""

    def __init__(self, params: list, learning_rate: nn.LearningRateSchedule, weight_decay: float,
                 clip_norm: float) -> None:
        super().__init__(params, learning_rate, beta1=0.9, beta2=0.99, weight_decay=weight_decay)
        self.clip_norm = clip_norm

    def construct(self, grads: tuple) -> bool:
        return super().construct(ops.clip_by_global_norm(tuple(grads), self.clip_norm))
