"""Reverse-mode differentiation over the graph that ``Tensor`` ops record.

The graph is walked iteratively (an explicit stack, not recursion), so a chain of any depth
back-propagates. Gradients of a tensor used several times accumulate. Two front ends:

* PyTorch style: ``loss.backward()`` accumulates into ``leaf.grad``.
* MindSpore style: ``grad(fn, grad_position, weights)`` and ``value_and_grad(...)`` return
  gradients as values and touch no ``.grad``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._autograd.grad_mode import is_grad_enabled, no_grad
from minicell._autograd.graph import backprop, seed_gradient
from minicell._checks import Shown, check_bool, describe, fail, fail_type, fail_value, is_integer
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


def _position_items(grad_position: Any, who: str) -> tuple[int, ...] | None:
    """``grad_position`` as a tuple of ints (None stays None); types are checked when building."""
    if grad_position is None:
        return None
    items = grad_position if isinstance(grad_position, tuple) else (grad_position,)
    if not items or any(not is_integer(p) for p in items):
        raise fail_type(who, "grad_position", "None, an int or a non-empty tuple of ints", Shown(repr(grad_position)))
    if len(set(int(p) for p in items)) != len(items):
        raise fail_value(who, "grad_position", "a tuple of distinct positions", Shown(repr(grad_position)))
    return tuple(int(p) for p in items)


def _positions(grad_position: Any, count: int, who: str) -> tuple[int, ...] | None:
    items = _position_items(grad_position, who)
    if items is None:
        return None
    for p in items:
        if not 0 <= p < count:
            raise fail_value(who, "grad_position", f"positions in [0, {count}) for {count} positional input(s)",
                             Shown(repr(grad_position)))
    return items


def _weight_list(weights: Any, who: str) -> tuple[list[Tensor], bool]:
    if weights is None:
        return [], False
    single = isinstance(weights, Tensor)
    if not single and (isinstance(weights, (str, bytes)) or not hasattr(weights, "__iter__")):
        raise fail_type(who, "weights", "None, a Tensor or a sequence of Tensors", weights)
    items = [weights] if single else list(weights)
    for i, w in enumerate(items):
        if not isinstance(w, Tensor):
            raise fail_type(who, "weights", "None, a Tensor or a sequence of Tensors",
                            Shown(f"an item {describe(w)} at index {i}"))
        if not w.requires_grad:
            raise fail_value(who, "weights", "Tensors with requires_grad=True",
                             Shown(f"{getattr(w, 'name', None) or 'a tensor'} with requires_grad=False at index {i}"))
    return items, single


def _make_inputs(given: tuple, positions: tuple[int, ...], who: str) -> tuple[list, list[Tensor]]:
    args = list(given)
    leaves = []
    for p in positions:
        value = args[p]
        try:
            array = value._data if isinstance(value, Tensor) else np.asarray(value)
        except (ValueError, TypeError):
            array = np.asarray(None)
        if array.dtype.kind != "f":
            raise fail_type(who, f"args[{p}]", "a floating-point Tensor to be differentiated",
                            Shown(f"dtype {array.dtype}") if array.dtype.kind != "O" else value)
        leaf = Tensor._wrap(array)
        leaf._requires_grad = True
        args[p] = leaf
        leaves.append(leaf)
    return args, leaves


def _build(fn: Callable, grad_position: Any, weights: Any, has_aux: bool, who: str) -> Callable:
    if not callable(fn):
        raise fail_type(who, "fn", "callable", fn)
    _position_items(grad_position, who)
    check_bool(who, "has_aux", has_aux)
    if grad_position is None and weights is None:
        raise fail_value(who, "grad_position", "an int or a tuple of ints when 'weights' is None", None)
    weight_list, single_weight = _weight_list(weights, who)

    def run(*args: Any) -> tuple[Any, Any]:
        positions = _positions(grad_position, len(args), who)
        call_args, leaves = _make_inputs(args, positions or (), who)
        if not is_grad_enabled():
            raise fail(RuntimeError, who, "fn", "called outside no_grad() to be differentiated",
                       Shown("a call inside no_grad()"))
        result = fn(*call_args)
        if has_aux:
            if not isinstance(result, tuple) or len(result) < 2:
                raise fail_type(who, "fn", "a function returning a tuple (output, aux, ...) with has_aux=True",
                                Shown(f"one returning {describe(result)}"))
            output = result[0]
        elif isinstance(result, tuple):
            raise fail_type(who, "fn", "a function returning one Tensor (pass has_aux=True to differentiate "
                            "the first element of a tuple)", Shown(f"one returning a tuple of {len(result)}"))
        else:
            output = result
        if not isinstance(output, Tensor):
            raise fail_type(who, "fn", "a function returning a Tensor", Shown(f"one returning {describe(output)}"))
        if output.dtype.kind != "f":
            raise fail_type(who, "fn", "a function returning a floating-point Tensor to be differentiated",
                            Shown(f"one returning dtype {output.dtype}"))
        if output.size != 1:
            raise fail_value(who, "fn", "a function returning a one-element Tensor",
                             Shown(f"one returning shape {list(output.shape)}"))
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
