"""Sampling ops that draw from a Generator: ``multinomial`` and ``sample_logits``.

The order of every random op (``minicell.ops._random``): **validate** every argument (the
``prepare_*`` functions of ``minicell.random.sampling`` return a computation that cannot fail),
**reserve** exactly one offset with ``generator(1)``, **compute** at that ``(seed, offset)``.
A call with bad arguments reserves nothing.

Sample ``j`` of row ``i`` is a pure function of ``(seed, offset, batch_start + i, j)`` and of
that row's values only (formulas in ``minicell.random.sampling``): pass the global index of the
first row as ``batch_start`` and a prompt sampled alone, in any batch of prompts, or in any
rank's shard of the batch gets the same tokens.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import fail_type
from minicell.generator import resolve
from minicell.random.sampling import prepare_categorical, prepare_multinomial
from minicell.tensor import Tensor


def _array(who: str, arg: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray):
        return value
    raise fail_type(who, arg, "a float Tensor", value)


def multinomial(input: Any, num_samples: int, replacement: bool = True, generator: Any = None,  # noqa: A002
                *, batch_start: int = 0) -> Tensor:
    """Draw ``num_samples`` category indices from each row of non-negative weights.

    MindSpore's ``ops.multinomial(input, num_samples, replacement=True, seed=None)`` with a
    ``generator`` instead of a seed (as ``mindspore.mint.multinomial`` and ``torch.multinomial``;
    note MindSpore's default ``replacement=True``, PyTorch's False).

    Args:
        input: float Tensor ``(N, K)`` or ``(K,)`` of finite non-negative weights, every row with
            a positive sum (the rows need not sum to 1).
        num_samples: samples per row, >= 1; without replacement at most the number of positive
            weights of every row.
        replacement: draw with replacement (inverse CDF) or without (sequential inverse CDF).
        generator: the Generator to reserve one step from (the default one when None).
        batch_start: a minicell extension: the global row index of ``input``'s first row.

    Returns:
        int64 Tensor ``(N, num_samples)``, or ``(num_samples,)`` for 1-D input.
    """
    gen = resolve(generator, "multinomial")
    compute = prepare_multinomial("multinomial", _array("multinomial", "input", input), num_samples, replacement,
                                  batch_start)
    seed, offset = gen(1)
    return Tensor._wrap(compute(seed, offset))


def sample_logits(logits: Any, temperature: float = 1.0, top_k: int | None = None, generator: Any = None,
                  *, batch_start: int = 0) -> Tensor:
    """One category per row of logits: softmax with ``temperature``, restricted to the ``top_k``
    largest logits (a minicell op; the last step of text generation).

    Equal to ``multinomial(w, 1)`` of the same row, with ``w = exp((x - max x) / temperature)``
    after masking all but the ``top_k`` largest logits (ties kept) to -inf.

    Args:
        logits: float Tensor ``(N, K)`` or ``(K,)``, no NaN or +inf, each row with a finite value.
        temperature: >= 0; 0 is greedy (argmax; the call still reserves its step).
        top_k: None or an int >= 1 (a value of at least K keeps every category).
        generator: the Generator to reserve one step from (the default one when None).
        batch_start: the global row index of ``logits``' first row.

    Returns:
        int64 Tensor of shape ``logits.shape[:-1]``.
    """
    gen = resolve(generator, "sample_logits")
    compute = prepare_categorical("sample_logits", _array("sample_logits", "logits", logits), temperature, top_k,
                                  batch_start)
    seed, offset = gen(1)
    return Tensor._wrap(compute(seed, offset))
