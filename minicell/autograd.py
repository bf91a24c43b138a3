"""Reverse-mode differentiation over the graph that ``Tensor`` ops record.

The graph is walked iteratively (an explicit stack, not recursion), so a chain of any depth
back-propagates. Gradients of a tensor used several times accumulate. Two front ends:

* PyTorch style: ``loss.backward()`` accumulates into ``leaf.grad``.
* MindSpore style: ``grad(fn, grad_position, weights)`` and ``value_and_grad(...)`` return
  gradients as values and touch no ``.grad``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minicell._graph import backprop, seed_gradient
from minicell._grad_mode import is_grad_enabled, no_grad
from minicell.tensor import Tensor

__all__ = ["backward", "grad", "value_and_grad", "no_grad", "is_grad_enabled", "stop_gradient"]


def backward(output: Tensor, gradient: Any = None) -> None:
    """Accumulate d(output)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    output.backward(gradient)


def stop_gradient(x: Any) -> Any:
    """The same values with no graph behind them (MindSpore's ``ops.stop_gradient``)."""
    if isinstance(x, (tuple, list)):
        return type(x)(stop_gradient(item) for item in x)
    return x.detach() if isinstance(x, Tensor) else x


def _positions(grad_position: Any, count: int, who: str) -> tuple[int, ...] | None:
    if grad_position is None:
        return None
    items = grad_position if isinstance(grad_position, tuple) else (grad_position,)
    for p in items:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"For '{who}', 'grad_position' must be None, an int or a tuple of ints, "
                            f"but got {grad_position!r}.")
        if not 0 <= p < count:
            raise ValueError(f"For '{who}', 'grad_position' must index the {count} positional "
                             f"input(s), but got {grad_position!r}.")
    return tuple(int(p) for p in items)


def _weight_list(weights: Any, who: str) -> tuple[list[Tensor], bool]:
    if weights is None:
        return [], False
    single = isinstance(weights, Tensor)
    items = [weights] if single else list(weights)
    for i, w in enumerate(items):
        if not isinstance(w, Tensor):
            raise TypeError(f"For '{who}', 'weights' must be a Tensor or a sequence of Tensors, "
                            f"but weights[{i}] is {type(w).__name__}.")
        if not w.requires_grad:
            raise ValueError(f"For '{who}', every weight must have requires_grad=True, but "
                             f"weights[{i}] ({getattr(w, 'name', 'tensor')}) does not.")
    return items, single


def _make_inputs(given: tuple, positions: tuple[int, ...], who: str) -> tuple[list, list[Tensor]]:
    args = list(given)
    leaves = []
    for p in positions:
        value = args[p]
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind != "f":
            raise TypeError(f"For '{who}', input {p} must be a floating-point Tensor to be "
                            f"differentiated, but got dtype {array.dtype}.")
        leaf = Tensor._wrap(array)
        leaf._requires_grad = True
        args[p] = leaf
        leaves.append(leaf)
    return args, leaves


def _build(fn: Callable, grad_position: Any, weights: Any, has_aux: bool, who: str) -> Callable:
    if not callable(fn):
        raise TypeError(f"For '{who}', 'fn' must be callable, but got {type(fn).__name__}.")
    if grad_position is None and weights is None:
        raise ValueError(f"For '{who}', 'grad_position' and 'weights' cannot both be None.")
    weight_list, single_weight = _weight_list(weights, who)

    def run(*args: Any) -> tuple[Any, Any]:
        positions = _positions(grad_position, len(args), who)
        call_args, leaves = _make_inputs(args, positions or (), who)
        if not is_grad_enabled():
            raise RuntimeError(f"For '{who}', gradients cannot be computed inside no_grad().")
        result = fn(*call_args)
        if has_aux:
            if not isinstance(result, tuple) or len(result) < 2:
                raise ValueError(f"For '{who}', with has_aux=True 'fn' must return a tuple "
                                 f"(output, aux, ...), but got {type(result).__name__}.")
            output = result[0]
        elif isinstance(result, tuple):
            raise ValueError(f"For '{who}', 'fn' returned a tuple: pass has_aux=True to "
                             f"differentiate its first element.")
        else:
            output = result
        if not isinstance(output, Tensor):
            raise TypeError(f"For '{who}', 'fn' must return a Tensor, but got {type(output).__name__}.")
        seed = seed_gradient(output._data, None, who)
        found = backprop(output, seed) if output._requires_grad else {}

        def gradient_of(t: Tensor) -> Tensor:
            g = found.get(id(t), (t, None))[1]
            if g is None:
                return Tensor._wrap(np.zeros(t.shape, t.dtype))
            fresh = g.dtype == t.dtype and g.flags.writeable and g.flags.c_contiguous and g.base is None
            return Tensor._wrap(g if fresh else np.array(g, dtype=t.dtype))

        input_grads: Any = tuple(gradient_of(leaf) for leaf in leaves)
        if positions is not None and not isinstance(grad_position, tuple):
            input_grads = input_grads[0]
        weight_grads: Any = tuple(gradient_of(w) for w in weight_list)
        if single_weight:
            weight_grads = weight_grads[0]
        grads: Any
        if positions is None:
            grads = weight_grads
        elif weights is None:
            grads = input_grads
        else:
            grads = (input_grads, weight_grads)
        return result, grads
    return run


def grad(fn: Callable, grad_position: Any = 0, weights: Any = None, has_aux: bool = False) -> Callable:
    """Return a function computing gradients of ``fn`` (MindSpore's ``mindspore.grad``).

    Args:
        fn: returns a scalar Tensor, or ``(scalar, aux...)`` when ``has_aux``.
        grad_position: index or tuple of indices of positional inputs to differentiate, or None.
        weights: a Tensor or a sequence of Tensors with ``requires_grad=True`` (Parameters).
        has_aux: differentiate only the first output; return ``(grads, aux)``.

    Returns:
        A function of ``fn``'s inputs giving the input gradients, the weight gradients, or
        ``(input_grads, weight_grads)`` when both are asked for.
    """
    run = _build(fn, grad_position, weights, has_aux, "grad")

    def grad_fn(*args: Any) -> Any:
        result, grads = run(*args)
        return (grads, result[1:] if len(result) > 2 else result[1]) if has_aux else grads
    return grad_fn


def value_and_grad(fn: Callable, grad_position: Any = 0, weights: Any = None,
                   has_aux: bool = False) -> Callable:
    """Like ``grad``, but the function returns ``(fn's output, grads)`` (MindSpore's API)."""
    run = _build(fn, grad_position, weights, has_aux, "value_and_grad")
    return lambda *args: run(*args)
