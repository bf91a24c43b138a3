"""The reverse-mode graph walk: topological order and gradient propagation.

A node is any object with ``_parents`` (its operands), ``_backward`` (None for a leaf, else a
function mapping the node's gradient to one gradient per operand) and ``_requires_grad``; operands
without ``_requires_grad`` (Python scalars, arrays) are constants. Kept apart from ``tensor.py``
so ``Tensor.backward`` and ``minicell.autograd`` share one walk without importing each other.
The walk is iterative (an explicit stack), so a chain of any depth back-propagates.

Inside a one-pass micro-batched step (``minicell._runtime.segments``) a gradient may hold one
gradient per segment, stacked along a new axis 0 (a parameter's gradient from an op that sums
over the batch per segment). Such a gradient reaches a leaf as it is; a node that is not a leaf
(a value computed from parameters only, the same in every micro-batch) back-propagates it one
segment at a time, so each segment's gradient is computed exactly as its lone micro-batch would
compute it, and its operands get stacked gradients in turn. A stacked and a plain gradient add
by broadcasting (the plain one is every segment's).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type, fail_value
from minicell._runtime import segments


def _needs(node: Any) -> bool:
    return bool(getattr(node, "_requires_grad", False))


def topological_order(root: Any) -> list[Any]:
    """Nodes that require grad and reach ``root``, parents before children.

    Iterative depth-first post-order: a node is marked when it is expanded (not when it is
    pushed), so it is appended only after every one of its parents.
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if _needs(parent) and id(parent) not in visited:
                stack.append((parent, False))
    return order


def backprop(output: Any, seed: np.ndarray) -> dict[int, tuple[Any, np.ndarray]]:
    """``id(leaf) -> (leaf, gradient)`` for every leaf that requires grad, for d(output . seed)."""
    grads: dict[int, np.ndarray] = {id(output): seed}
    leaves: dict[int, tuple[Any, np.ndarray]] = {}
    for node in reversed(topological_order(output)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._backward is None:
            leaves[id(node)] = (node, g)
            continue
        stacked = g.shape != node.shape and segments.is_stacked_gradient(g.shape, node.shape)
        pieces = _per_segment(node, g) if stacked else node._backward(g)
        for parent, parent_grad in zip(node._parents, pieces):
            if parent_grad is None or not _needs(parent):
                continue
            parent_grad = np.asarray(parent_grad)
            if parent_grad.dtype != parent.dtype:
                parent_grad = parent_grad.astype(parent.dtype)
            if parent_grad.shape != parent.shape and not segments.is_stacked_gradient(parent_grad.shape, parent.shape):
                parent_grad = np.broadcast_to(parent_grad, parent.shape)
            key = id(parent)
            grads[key] = grads[key] + parent_grad if key in grads else parent_grad
    return leaves


def _per_segment(node: Any, g: np.ndarray) -> list[Any]:
    """A node's backward applied to each segment's gradient alone; operands' gradients stacked."""
    results = [node._backward(np.broadcast_to(g[i], node.shape)) for i in range(g.shape[0])]
    stacked: list[Any] = []
    for j, parent in enumerate(node._parents):
        items = [r[j] for r in results]
        if all(item is None for item in items) or not _needs(parent):
            stacked.append(None)
            continue
        shape = tuple(getattr(parent, "shape", ()))
        stacked.append(np.stack([np.zeros(shape, parent.dtype) if item is None
                                 else np.broadcast_to(np.asarray(item, parent.dtype), shape) for item in items]))
    return stacked


def seed_gradient(out: np.ndarray, gradient: Any, who: str) -> np.ndarray:
    """The gradient to start from: ones for a one-element output, else ``gradient`` (an array)."""
    if out.dtype.kind != "f":
        raise fail_type(who, "output", "a floating-point tensor to be differentiated",
                        Shown(f"dtype {out.dtype}"))
    if gradient is None:
        if out.size != 1:
            raise fail_value(who, "gradient", "given when the output is not a scalar",
                             Shown(f"None for an output of shape {list(out.shape)}"))
        return np.ones(out.shape, dtype=out.dtype)
    if isinstance(gradient, (bool, np.bool_)) or np.asarray(gradient).dtype.kind not in "iuf":
        raise fail_type(who, "gradient", "None, a Tensor or an array of numbers", gradient)
    seed = np.asarray(gradient, dtype=out.dtype)
    if not np.isfinite(seed).all():
        raise fail_value(who, "gradient", "finite", Shown("NaN or inf"))
    if seed.shape != out.shape:
        raise fail_value(who, "gradient", f"of the output's shape {list(out.shape)}",
                         Shown(f"shape {list(seed.shape)}"))
    return seed
