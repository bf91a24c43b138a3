"""The canonical form of what the toolkit fingerprints and compares.

``canonical(obj, who)`` turns a Cell, a Tensor, an ndarray, a scalar, ``None`` or a nested
tuple/list/dict of them into a tree made of three kinds of nodes:

- a leaf: a C-contiguous, little-endian ndarray copy (so later changes to the source do not
  change the snapshot), or ``None``;
- a sequence: a ``list`` (tuples and lists alike);
- a mapping: a ``dict`` with ``str`` keys in sorted order. A Cell becomes the mapping of its
  parameters by dotted name (``parameters_and_names``), so a Cell, its ``parameters_dict()`` and
  the ``load_checkpoint`` of it all have the same canonical form.

Python scalars become 0-d arrays: ``bool`` -> bool, ``int`` -> int64, ``float`` -> float64.
Only boolean, integer, floating-point and complex dtypes are accepted (no object arrays).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type, fail_value
from minicell.cell import Cell
from minicell.tensor import Tensor

Tree = None | np.ndarray | list | dict
KINDS = "biufc"


def _bad(who: str, path: str, what: str) -> TypeError:
    return fail_type(who, f"object at {path}" if path else "object",
                     "a Cell, Tensor, ndarray, scalar, None or a tuple/list/dict of them", Shown(what))


def leaf_array(value: Any, who: str, path: str = "") -> np.ndarray:
    """A little-endian, C-contiguous copy of a Tensor, ndarray or scalar."""
    if isinstance(value, Tensor):
        array = value._data
    elif isinstance(value, (bool, np.bool_)):
        array = np.array(value, dtype=np.bool_)
    elif isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise _bad(who, path, f"the int {value}, outside int64")
        array = np.array(value, dtype=np.int64)
    elif isinstance(value, float):
        array = np.array(value, dtype=np.float64)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        raise _bad(who, path, f"an object of type {type(value).__name__}")
    if array.dtype.kind not in KINDS:
        raise _bad(who, path, f"an array of dtype {array.dtype}")
    return np.array(array, dtype=array.dtype.newbyteorder("<"), order="C", copy=True)


def cell_parameters(cell: Cell, who: str) -> dict[str, np.ndarray]:
    """Name -> array copy of every parameter of ``cell``, in sorted name order."""
    found: dict[str, np.ndarray] = {}
    for name, param in cell.parameters_and_names():
        if name in found:
            raise fail_value(who, "cell", f"a {type(cell).__name__} whose Parameters have distinct names",
                             Shown(f"two named {name!r}"))
        found[name] = leaf_array(param, who, name)
    return {name: found[name] for name in sorted(found)}


def canonical(obj: Any, who: str, path: str = "") -> Tree:
    """The canonical tree of ``obj`` (see the module docstring)."""
    if obj is None:
        return None
    if isinstance(obj, Cell):
        return cell_parameters(obj, who)
    if isinstance(obj, (list, tuple)):
        return [canonical(item, who, f"{path}[{i}]") for i, item in enumerate(obj)]
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise _bad(who, path, f"a dict with the non-str key {key!r}")
        return {key: canonical(obj[key], who, f"{path}[{key!r}]") for key in sorted(obj)}
    return leaf_array(obj, who, path)


def leaves(tree: Tree, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` for every leaf (an array or None), depth first."""
    if isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from leaves(item, f"{path}[{i}]")
    elif isinstance(tree, dict):
        for key, item in tree.items():
            yield from leaves(item, f"{path}[{key!r}]")
    else:
        yield path, tree


def map_leaves(tree: Tree, fn: Any) -> Tree:
    """The same tree with every array leaf replaced by ``fn(array)``."""
    if isinstance(tree, list):
        return [map_leaves(item, fn) for item in tree]
    if isinstance(tree, dict):
        return {key: map_leaves(item, fn) for key, item in tree.items()}
    return None if tree is None else fn(tree)
