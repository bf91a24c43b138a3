"""``assert_bitwise_equal`` and ``assert_cells_equal``: equality to the bit, with a useful message.

Both compare canonical trees (``minicell.testing._tree``) leaf by leaf, as raw bytes
(``minicell.testing._diff``): ``-0.0`` differs from ``0.0`` and NaN payloads are compared. A
failure names where the first difference is (the path into the structure, or the parameter
name) and describes it; names or keys missing on either side, and dtype or shape mismatches,
are reported as such.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type
from minicell.cell import Cell
from minicell.testing._diff import describe
from minicell.testing._tree import Tree, canonical, cell_parameters

_LIMIT = 10  # names listed in full in a message, then "..."


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_LIMIT])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _LIMIT else "")


def _kind(tree: Tree) -> str:
    if tree is None:
        return "None"
    if isinstance(tree, list):
        return f"a sequence of {len(tree)}"
    if isinstance(tree, dict):
        return f"a mapping of {len(tree)}"
    return f"an array of dtype {tree.dtype} and shape {tree.shape}"


def tree_differences(a: Tree, b: Tree, path: str = "") -> list[tuple[str, str]]:
    """Every ``(path, description)`` where trees ``a`` and ``b`` differ, in order."""
    where = path or "the top level"
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        text = describe(a, b)
        return [] if text is None else [(where, text)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(where, f"length differs: {len(a)} vs {len(b)}")]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in tree_differences(x, y, f"{path}[{i}]")]
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        only_a, only_b = [k for k in a if k not in b], [k for k in b if k not in a]
        missing = ([f"keys only in the first: {_names(only_a)}"] if only_a else []) + \
                  ([f"keys only in the second: {_names(only_b)}"] if only_b else [])
        if missing:
            found.append((where, "; ".join(missing)))
        for key in a:
            if key in b:
                found.extend(tree_differences(a[key], b[key], f"{path}[{key!r}]"))
        return found
    if a is None and b is None:
        return []
    return [(where, f"{_kind(a)} vs {_kind(b)}")]


def failure_text(differences: list[tuple[str, str]], unit: str) -> str:
    """One line per difference (the first ``_LIMIT``), after a count."""
    lines = [f"{len(differences)} {unit} differ:"] if len(differences) > 1 else []
    lines += [f"{where}: {text}" for where, text in differences[:_LIMIT]]
    if len(differences) > _LIMIT:
        lines.append(f"... and {len(differences) - _LIMIT} more")
    return "\n".join(lines)


def cell_differences(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> list[str]:
    """Lines naming the parameters only on one side, then each parameter that differs."""
    lines = []
    only_a, only_b = [n for n in left if n not in right], [n for n in right if n not in left]
    if only_a:
        lines.append(f"parameters only in the first Cell: {_names(only_a)}")
    if only_b:
        lines.append(f"parameters only in the second Cell: {_names(only_b)}")
    differences = [(repr(name), text) for name in left if name in right
                   for text in [describe(left[name], right[name])] if text is not None]
    if differences:
        lines.append(failure_text(differences, "parameters"))
    return lines


def assert_bitwise_equal(x: Any, y: Any) -> None:
    """Raise ``AssertionError`` unless ``x`` and ``y`` are equal to the bit.

    Args:
        x, y: Tensors, ndarrays, scalars, None, Cells (their parameters by name) or nested
            tuples/lists/dicts of them; tuples and lists compare alike.

    The message says where the first difference is (a path such as ``[1]['w']``), how many
    elements differ, the first differing index with both values and bit patterns, the largest
    absolute difference and the largest difference in ulps; or the dtype, shape, length or key
    mismatch.
    """
    __tracebackhide__ = True
    differences = tree_differences(canonical(x, "assert_bitwise_equal"), canonical(y, "assert_bitwise_equal"))
    if differences:
        raise AssertionError("Not bitwise equal. " + failure_text(differences, "places"))


def assert_cells_equal(a: Cell, b: Cell) -> None:
    """Raise ``AssertionError`` unless Cells ``a`` and ``b`` have the same parameter names and,
    for each name, the same dtype, shape and bytes.

    The message lists the names missing on either side, then each differing parameter (in name
    order) with what differs: dtype, shape, or how many elements, the first index, the largest
    absolute difference and the largest difference in ulps.
    """
    __tracebackhide__ = True
    for arg, value in (("a", a), ("b", b)):
        if not isinstance(value, Cell):
            raise fail_type("assert_cells_equal", arg, "a Cell", Shown(type(value).__name__))
    lines = cell_differences(cell_parameters(a, "assert_cells_equal"), cell_parameters(b, "assert_cells_equal"))
    if lines:
        raise AssertionError(f"Cells {type(a).__name__} and {type(b).__name__} differ. " + "\n".join(lines))
