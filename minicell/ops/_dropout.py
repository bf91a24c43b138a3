"""Dropout that keeps no mask: the backward recomputes it from ``(seed, offset, start)``.

Forward: ``out = x * keep * 65536 / (65536 - t)`` with the keep-mask of DESIGN.md section 2.3
(16-bit lane ``e`` kept iff ``lane >= t = round(p * 65536)``), drawn at the ``(seed, offset)``
that one step of the generator reserves. Between forward and backward the graph node holds four
integers, not an input-sized mask; the backward applies the same mask to the gradient.

Sample-indexed draws (DESIGN.md section 6): inside ``sample_indexed(reservations, first_row)``
(``minicell._runtime.reservations``), which the micro-batching ``TrainOneStepCell`` opens around
its forward pass, the k-th dropout call of a forward pass reuses the k-th reservation of the
step, so each layer reserves one offset per global step however the batch is split, and an input
whose first row is global row ``a`` of the batch draws from element ``a * (elements per row)``
on (axis 0 is the batch axis). Dropout is row-wise, so the one pass over a rank's rows draws
exactly the masks of its micro-batches. Cells that call Dropout or ``ops.dropout`` need no change.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_bool, fail_type, fail_value
from minicell._runtime.reservations import first_row, indexing, reserve_step, sample_indexed
from minicell.generator import resolve
from minicell.random.discrete import check_probability, prepare_keep_mask
from minicell.random.distributions import check_extent
from minicell.random.dropout_scale import masked_scale_into, masked_scale_many_into, scale_kept
from minicell.tensor import Tensor, record, unwrap

# first_row, reserve_step and sample_indexed live in minicell._runtime.reservations; re-exported
__all__ = ["channel_dropout", "check_p", "dropout", "dropout_with_state", "first_row", "reserve_step",
           "sample_indexed"]


def _row_shift(shape: tuple, batched: bool) -> int:
    """Inside ``sample_indexed``: ``first_row * (elements per row)`` (0 outside, or unbatched)."""
    if not indexing() or not batched or not shape:
        return 0
    return first_row() * int(np.prod(shape[1:], dtype=np.int64))


def check_p(who: str, p: Any) -> float:
    """The drop probability: a real number in [0, 1] (bool, str and NaN refused)."""
    return check_probability(who, "p", p)


def _masked_scale(x: np.ndarray, seed: int, offset: int, p: float, start: int) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    masked_scale_into(flat, out, seed, offset, p, start)
    return out.reshape(x.shape)


def _masked_scale_many(arrays: tuple[np.ndarray, ...], seed: int, offset: int, p: float,
                       start: int) -> tuple[np.ndarray, ...]:
    """``_masked_scale`` of same-shaped arrays under one mask, computed once."""
    flats = [np.ascontiguousarray(x).reshape(-1) for x in arrays]
    outs = [np.empty_like(flat) for flat in flats]
    masked_scale_many_into(list(zip(flats, outs)), seed, offset, p, start)
    return tuple(out.reshape(x.shape) for out, x in zip(outs, arrays))


def dropout_with_state(x: Any, p: float, seed: int, offset: int, start: int = 0) -> Tensor:
    """Dropout of ``x`` at an explicit ``(seed, offset)``; differentiable, keeps no mask."""
    data = unwrap(x)
    out = _masked_scale(data, seed, offset, p, start)
    return record(out, (x,), lambda g: (_masked_scale(g, seed, offset, p, start),))


def _float_input(who: str, x: Any) -> Any:
    if not isinstance(x, Tensor):
        raise fail_type(who, "input", "a Tensor", x)
    if x.dtype.kind != "f":
        raise fail_type(who, "input", "a floating-point Tensor", Shown(f"a Tensor of dtype {x.dtype}"))
    return x


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator: Any = None,  # noqa: A002
            start: int = 0) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest (see the module docstring).

    Args:
        input: a floating-point Tensor.
        p: drop probability in [0, 1]; ``p == 1`` gives zeros.
        training: when False, return ``input`` unchanged and reserve nothing.
        generator: the Generator to reserve one step from (the default one when None).
        start: element index of ``input``'s first element in a larger tensor, so a worker
            holding a slice of a batch applies exactly that slice of the whole mask.
    """
    p = check_p("dropout", p)
    _float_input("dropout", input)
    _, start, _ = check_extent("dropout", input.shape, start, 0.5)
    check_bool("dropout", "training", training)
    gen = resolve(generator, "dropout")
    if not training:
        return input
    shift = _row_shift(input.shape, True)
    if shift:
        check_extent("dropout", input.shape, start + shift, 0.5)
    seed, offset = reserve_step(gen, "dropout")
    return dropout_with_state(input, p, seed, offset, start + shift)


def channel_dropout(who: str, input: Tensor, p: float, generator: Any, ranks: tuple[int, int]) -> Tensor:  # noqa: A002
    """Zero whole channels: one keep decision per (batch, channel) pair, drawn as a keep-mask of
    shape ``(N, C)`` (``(C,)`` unbatched) at one reserved step; the backward recomputes it."""
    _float_input(who, input)
    if input.ndim not in ranks:
        raise fail_value(who, "input", f"a {ranks[0]}-D (unbatched) or {ranks[1]}-D (batched) Tensor",
                         Shown(f"a {input.ndim}-D Tensor of shape {list(input.shape)}"))
    channels_shape = input.shape[: input.ndim - (ranks[0] - 1)]
    mask_shape = channels_shape + (1,) * (ranks[0] - 1)
    compute_mask = prepare_keep_mask(who, channels_shape, p, _row_shift(channels_shape, input.ndim == ranks[1]))
    gen = resolve(generator, who)
    seed, offset = reserve_step(gen, who)

    def apply_mask(x: np.ndarray) -> np.ndarray:
        return scale_kept(x, compute_mask(seed, offset).reshape(mask_shape), p)

    return record(apply_mask(unwrap(input)), (input,), lambda g: (apply_mask(g),))
