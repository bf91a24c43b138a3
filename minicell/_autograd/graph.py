"""The reverse-mode graph walk: topological order and gradient propagation.

A node is any object with ``_parents`` (its operands), ``_backward`` (None for a leaf, else a
function mapping the node's gradient to one gradient per operand) and ``_requires_grad``; operands
without ``_requires_grad`` (Python scalars, arrays) are constants. Kept apart from ``tensor.py``
so ``Tensor.backward`` and ``minicell.autograd`` share one walk without importing each other.
The walk is iterative (an explicit stack), so a chain of any depth back-propagates.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type, fail_value


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
        for parent, parent_grad in zip(node._parents, node._backward(g)):
            if parent_grad is None or not _needs(parent):
                continue
            parent_grad = np.asarray(parent_grad)
            if parent_grad.dtype != parent.dtype:
                parent_grad = parent_grad.astype(parent.dtype)
            if parent_grad.shape != parent.shape:
                parent_grad = np.broadcast_to(parent_grad, parent.shape)
            key = id(parent)
            grads[key] = grads[key] + parent_grad if key in grads else parent_grad
    return leaves


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
