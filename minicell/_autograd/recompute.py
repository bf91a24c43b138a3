"""Recomputation (activation checkpointing) behind ``Cell.recompute()``, and generator replay.

A cell marked with ``recompute()`` runs its ``construct`` under ``no_grad`` on detached inputs,
so none of its intermediate results are kept, and records ONE graph node per float output whose
operands are the cell's Tensor inputs and its trainable Parameters. That node's backward
re-runs ``construct`` with the graph on (on fresh leaf copies of the inputs and on the cell's
own Parameters), back-propagates the incoming gradient through the rebuilt subgraph, and
returns one gradient per operand: the outer backward then routes the Parameters' gradients to
the very same Parameter objects as without recompute, bit for bit.

Randomness is replayed, not redrawn. Every reservation a Generator makes (``gen(step)`` or
``gen.draw``) while a recomputed forward runs is logged on this thread (the log lives in
``minicell._runtime.reservations``, shared with the sample-indexed draws of ``ops.dropout``); during the recompute the
same reservations are served from that log in order, without touching any generator. Since a
dropout mask is a pure function of ``(seed, offset, index)``, the recomputed masks are the
forward's, and the generators end where the forward left them. A recompute that asks for
different reservations than the forward (construct is not deterministic in its random calls)
is a RuntimeError. Other state is protected too: every untrainable Parameter of the cell
(BatchNorm's moving statistics, generator states) is snapshotted before the recompute and
restored after it, so running statistics are updated once, by the forward.

Limits: Tensors reach ``construct`` only as top-level positional or keyword arguments (a
Tensor requiring grad captured any other way, or a Parameter of another cell, is a
RuntimeError at backward time); outputs are a Tensor or a tuple/list of them (a tuple is
recomputed once per differentiated output); the cell's training mode must not change between
forward and backward.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minicell._autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from minicell._autograd.graph import backprop
from minicell._checks import Shown, fail, fail_type
from minicell._runtime.reservations import DETERMINISTIC, Recording, Replay, note, replayed, with_frame
from minicell.tensor import Tensor, record

__all__ = ["note", "replayed", "run_recomputed"]  # note and replayed: the log in _runtime.reservations
WHO = "Cell.recompute"

def _substitute(args: tuple, kwargs: dict, make: Callable[[Tensor], Tensor]) -> tuple[tuple, dict, list]:
    """Replace each top-level Tensor argument by ``make(t)``; also return the replacements."""
    made: list[Tensor] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Tensor):
            made.append(make(value))
            return made[-1]
        return value
    new_args = tuple(swap(a) for a in args)
    new_kwargs = {k: swap(v) for k, v in kwargs.items()}
    return new_args, new_kwargs, made


def _detached(t: Tensor) -> Tensor:
    return Tensor._wrap(t._data)


def _leaf_like(t: Tensor) -> Tensor:
    leaf = Tensor._wrap(t._data)
    leaf._requires_grad = t._requires_grad
    return leaf


def run_recomputed(construct: Callable[..., Any], args: tuple, kwargs: dict, params: list,
                   untrainable: Iterable) -> Any:
    """Run ``construct`` keeping no activations; record nodes that recompute it in backward.

    Args:
        construct: the cell's bound ``construct``. args, kwargs: the call's arguments.
        params: the cell's trainable Parameters (the nodes' extra operands).
        untrainable: the cell's untrainable Parameters, restored around each recompute.
    """
    inputs = [v for v in (*args, *kwargs.values()) if isinstance(v, Tensor)]
    call_args, call_kwargs, _ = _substitute(args, kwargs, _detached)
    recording = Recording()
    with no_grad():
        result = with_frame(recording, lambda: construct(*call_args, **call_kwargs))
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    if not all(isinstance(o, Tensor) for o in outputs):
        raise fail_type(WHO, "construct", "a function returning a Tensor or a tuple of Tensors",
                        Shown(f"one returning {type(result).__name__}"))
    operands = (*inputs, *params)
    untrainable = list(untrainable)

    def backward_of(index: int) -> Callable[[np.ndarray], list]:
        def backward(g: np.ndarray) -> list:
            saved = [np.array(p._data, copy=True) for p in untrainable]
            leaf_args, leaf_kwargs, leaves = _substitute(args, kwargs, _leaf_like)
            replay = Replay(recording.entries)
            try:
                with enable_grad():
                    again = with_frame(replay, lambda: construct(*leaf_args, **leaf_kwargs))
            finally:
                for p, data in zip(untrainable, saved):
                    p._data[...] = data
            if replay.position != len(replay.entries):
                raise fail(RuntimeError, WHO, "construct", DETERMINISTIC,
                           Shown("fewer reservations in the recomputed forward than in the forward pass"))
            out = (again if isinstance(again, (tuple, list)) else (again,))[index]
            if not out._requires_grad:
                return [None] * len(operands)
            if out._backward is not None:  # an op's result: the walk never reads its data
                out._data = np.broadcast_to(np.zeros((), out.dtype), out.shape)
            found = backprop(out, np.asarray(g))
            known = {id(t) for t in (*leaves, *params)}
            for leaf, _ in found.values():
                if id(leaf) not in known:
                    raise fail(RuntimeError, WHO, "construct", "a function of its inputs and the cell's Parameters "
                               "(pass any other Tensor that requires grad as an argument)",
                               Shown("one that used a Tensor requiring grad that is neither"))
            return [found[id(t)][1] if id(t) in found else None for t in (*leaves, *params)]
        return backward

    if not is_grad_enabled():
        return result
    wrapped = [record(o._data, operands, backward_of(i)) if o.dtype.kind == "f" else o for i, o in enumerate(outputs)]
    if isinstance(result, (tuple, list)):
        return type(result)(wrapped)
    return wrapped[0]
