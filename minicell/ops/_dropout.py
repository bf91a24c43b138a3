"""Dropout that keeps no mask: the backward recomputes it from ``(seed, offset, start)``.

Forward: ``out = x * keep * 65536 / (65536 - t)`` with the keep-mask of DESIGN.md section 2.3
(16-bit lane ``e`` kept iff ``lane >= t = round(p * 65536)``), drawn at the ``(seed, offset)``
that one step of the generator reserves. Between forward and backward the graph node holds four
integers, not an input-sized mask; the backward applies the same mask to the gradient.

Sample-indexed draws (DESIGN.md section 6): inside ``sample_indexed(reservations, first_row)``,
which the micro-batching ``TrainOneStepCell`` opens around each micro-batch, the k-th dropout
call of a forward pass reuses the k-th reservation of the step (made by the first micro-batch),
so each layer reserves one offset per global step however the batch is split, and an input whose
first row is global row ``a`` of the batch draws from element ``a * (elements per row)`` on
(axis 0 is the batch axis). Cells that call Dropout or ``ops.dropout`` need no change.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from minicell._autograd.recompute import note, replayed
from minicell._checks import Shown, check_bool, fail_type, fail_value
from minicell.generator import resolve
from minicell.random.discrete import check_probability, masked_scale_into, prepare_keep_mask, scale_kept
from minicell.random.distributions import check_extent
from minicell.tensor import Tensor, record, unwrap


class _StepDraws(threading.local):
    reservations: list | None = None  # this step's (generator, seed, offset), by call order
    calls = 0
    first_row = 0


_draws = _StepDraws()


@contextmanager
def sample_indexed(reservations: list, first_row: int) -> Iterator[None]:
    """Dropout calls inside share the step's ``reservations`` and index rows from ``first_row``."""
    saved = (_draws.reservations, _draws.calls, _draws.first_row)
    _draws.reservations, _draws.calls, _draws.first_row = reservations, 0, int(first_row)
    try:
        yield
    finally:
        _draws.reservations, _draws.calls, _draws.first_row = saved


def first_row() -> int:
    """Inside ``sample_indexed``: the global index of this micro-batch's first row (0 outside).

    Layers with their own dropout (``nn.MultiheadAttention``) index their masks by global row
    with it, and reserve through ``reserve_step``, exactly as Dropout does.
    """
    return _draws.first_row if _draws.reservations is not None else 0


def _row_shift(shape: tuple, batched: bool) -> int:
    """Inside ``sample_indexed``: ``first_row * (elements per row)`` (0 outside, or unbatched)."""
    if _draws.reservations is None or not batched or not shape:
        return 0
    return _draws.first_row * int(np.prod(shape[1:], dtype=np.int64))


def reserve_step(gen: Any, who: str) -> tuple[int, int]:
    """One step of ``gen``, or inside ``sample_indexed`` this call's shared reservation of the step."""
    reservations = _draws.reservations
    if reservations is None:
        return gen(1)
    logged = replayed(gen, 1)
    if logged is not None:  # a recomputing cell (Cell.recompute) replays its forward's offsets
        return logged
    k = _draws.calls
    wait_for = getattr(reservations, "wait_for", None)
    if wait_for is not None:  # micro-batches running beside the first: it makes the reservations
        wait_for(k)
    if k < len(reservations):
        owner, seed, offset = reservations[k]
        if owner is not gen:
            raise RuntimeError(*fail_value(who, "generator", f"the Generator of dropout call {k} in the step's first "
                                           "micro-batch (the forward pass must be the same for every micro-batch)",
                                           Shown("another Generator")).args)
        note(gen, 1, seed, offset)  # so that a recompute of this forward replays it
    else:
        seed, offset = gen(1)
        reservations.append((gen, seed, offset))
    _draws.calls = k + 1
    return seed, offset


def check_p(who: str, p: Any) -> float:
    """The drop probability: a real number in [0, 1] (bool, str and NaN refused)."""
    return check_probability(who, "p", p)


def _masked_scale(x: np.ndarray, seed: int, offset: int, p: float, start: int) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    masked_scale_into(flat, out, seed, offset, p, start)
    return out.reshape(x.shape)


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
