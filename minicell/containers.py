"""Cell containers: ``SequentialCell``, ``CellList`` and ``CellDict`` (MindSpore's names).

Children of the list containers are named ``"0"``, ``"1"``, ...; inserting renumbers the later
children and renames their Parameters to match.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from minicell._checks import Shown, fail, fail_type, fail_value, is_integer, shorten
from minicell.cell import Cell, check_not_ancestor, relative_names, set_scopes


def _check_key(who: str, container: Cell, key: Any) -> str:
    """A child name given by the user: a non-empty str without '.' that names no attribute of
    ``container`` other than a child (``'update'`` or ``'training'`` would shadow them)."""
    if not isinstance(key, str):
        raise fail_type(who, "key", "a str", key)
    if not key or "." in key:
        raise fail_value(who, "key", "a non-empty str without '.'", shorten(key))
    if key not in container._cells and (key in container._params or hasattr(container, key)):
        raise fail_value(who, "key", f"a name that is not already an attribute of this {type(container).__name__}", key)
    return key


def _rename_prefix(cell: Cell, old: str, new: str) -> None:
    """A child moved from position ``old`` to ``new``: rename the path segment in its params."""
    for relative, param in relative_names(cell):
        tail = f"{old}.{relative}"
        if param.name and (param.name == tail or param.name.endswith("." + tail)):
            param.name = param.name[:-len(tail)] + f"{new}.{relative}"


class _CellSequence(Cell):
    """Shared list behaviour: children named by position. Every mutation checks all its items
    first, then changes the container, so a failed call leaves it as it was."""

    def __init__(self, cells: Iterable[Cell] = ()) -> None:
        super().__init__()
        self._extend(type(self).__name__, cells)

    def _check(self, who: str, arg: str, cell: Any) -> Cell:
        if not isinstance(cell, Cell):
            raise fail_type(who, arg, "a Cell", cell)
        if cell is self:
            raise fail_value(who, arg, f"a Cell other than this {type(self).__name__}", Shown("the container itself"))
        check_not_ancestor(who, arg, self, cell)
        return cell

    def _check_room(self, who: str, count: int) -> None:
        """Positions "0" .. count-1 must be free of Parameters registered on the container."""
        taken = [name for name in self._params if name.isdigit() and int(name) < count]
        if taken:
            raise fail_value(who, "cells", f"placeable at positions not used by Parameters of this "
                             f"{type(self).__name__}", Shown(f"{count} cells while Parameters are named {taken}"))

    def _index(self, who: str, index: Any) -> int:
        if not is_integer(index):
            raise fail_type(who, "index", "an int", index)
        n = len(self)
        if not -n <= index < n:
            raise fail(IndexError, who, "index", f"in [{-n}, {n})", int(index))
        return int(index) % n

    def _relabel(self, cells: list[Cell]) -> None:
        """Re-register ``cells`` as children "0", "1", ..., renaming Parameters that moved."""
        old_names = {id(c): name for name, c in self._cells.items()}
        for name in list(self._cells):
            object.__delattr__(self, name)
        self._cells.clear()
        for i, cell in enumerate(cells):
            old = old_names.get(id(cell))
            if old is not None and old != str(i):
                _rename_prefix(cell, old, str(i))
            if old is None:
                self.insert_child_to_cell(str(i), cell)
            else:
                self._cells[str(i)] = cell
                object.__setattr__(self, str(i), cell)
                set_scopes(cell, f"{self._scope}.{i}" if self._scope else str(i))

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self) -> Iterator[Cell]:
        return iter(list(self._cells.values()))

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return type(self)(list(self._cells.values())[index])
        return list(self._cells.values())[self._index(type(self).__name__, index)]

    def __setitem__(self, index: Any, cell: Cell) -> None:
        who = type(self).__name__
        cells = list(self._cells.values())
        cells[self._index(who, index)] = self._check(who, "cell", cell)
        self._relabel(cells)

    def __delitem__(self, index: Any) -> None:
        cells = list(self._cells.values())
        if isinstance(index, slice):
            del cells[index]
        else:
            del cells[self._index(type(self).__name__, index)]
        self._relabel(cells)

    def append(self, cell: Cell) -> _CellSequence:
        """Add ``cell`` at the end."""
        who = f"{type(self).__name__}.append"
        self._check(who, "cell", cell)
        self._check_room(who, len(self) + 1)
        self.insert_child_to_cell(str(len(self)), cell)
        return self

    def _extend(self, who: str, cells: Iterable[Cell]) -> _CellSequence:
        if isinstance(cells, (Cell, str, bytes)) or not hasattr(cells, "__iter__"):
            raise fail_type(who, "cells", "an iterable of Cells", cells)
        new = list(cells)
        for i, cell in enumerate(new):
            self._check(who, f"cells[{i}]", cell)
        self._check_room(who, len(self) + len(new))
        for cell in new:
            self.insert_child_to_cell(str(len(self)), cell)
        return self

    def extend(self, cells: Iterable[Cell]) -> _CellSequence:
        """Add every Cell of ``cells`` at the end; all are checked before any is added."""
        return self._extend(f"{type(self).__name__}.extend", cells)

    def insert(self, index: int, cell: Cell) -> None:
        """Insert ``cell`` before position ``index`` (later children are renumbered)."""
        who = f"{type(self).__name__}.insert"
        if not is_integer(index):
            raise fail_type(who, "index", "an int", index)
        self._check(who, "cell", cell)
        self._check_room(who, len(self) + 1)
        cells = list(self._cells.values())
        cells.insert(int(index), cell)
        self._relabel(cells)


class SequentialCell(_CellSequence):
    """Runs its cells in order, each on the previous one's output.

    Args:
        *args: Cells, or one list of Cells, or one OrderedDict name -> Cell (names kept).
    """

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            Cell.__init__(self)
            for name, cell in args[0].items():
                _check_key("SequentialCell", self, name)
                self._check("SequentialCell", f"args[0][{shorten(repr(name))}]", cell)
            for name, cell in args[0].items():
                self.insert_child_to_cell(name, cell)
            return
        cells = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        super().__init__(cells)

    def construct(self, x: Any) -> Any:
        for cell in self._cells.values():
            x = cell(x)
        return x


class CellList(_CellSequence):
    """A list of Cells registered as children; it has no ``construct`` of its own."""

    def __init__(self, cells: Iterable[Cell] = ()) -> None:
        super().__init__(cells)


class CellDict(Cell):
    """An ordered mapping name -> Cell, registered as children."""

    def __init__(self, cells: Any = None) -> None:
        super().__init__()
        if cells is not None:
            self._update("CellDict", cells)

    def __getitem__(self, key: str) -> Cell:
        try:
            return self._cells[key]
        except KeyError:
            raise fail(KeyError, "CellDict", "key", f"the name of a cell in it, one of "
                                                    f"{list(self._cells)}", key) from None

    def _check_item(self, who: str, key: Any, cell: Any) -> None:
        _check_key(who, self, key)
        if not isinstance(cell, Cell):
            raise fail_type(who, f"cells[{shorten(repr(key))}]", "a Cell", cell)
        if cell is self:
            raise fail_value(who, f"cells[{shorten(repr(key))}]", "a Cell other than this CellDict",
                             Shown("the container itself"))
        check_not_ancestor(who, f"cells[{shorten(repr(key))}]", self, cell)

    def __setitem__(self, key: str, cell: Cell) -> None:
        self._check_item("CellDict", key, cell)
        self.insert_child_to_cell(key, cell)

    def __delitem__(self, key: str) -> None:
        self[key]
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._cells

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cells))

    def keys(self) -> list[str]:
        return list(self._cells.keys())

    def values(self) -> list[Cell]:
        return list(self._cells.values())

    def items(self) -> list[tuple[str, Cell]]:
        return list(self._cells.items())

    def update(self, cells: Any) -> None:
        """Add or replace cells from a mapping or from ``(name, Cell)`` pairs; all are checked
        before any is added."""
        self._update("CellDict.update", cells)

    def _update(self, who: str, cells: Any) -> None:
        foreign_cell = isinstance(cells, Cell) and not isinstance(cells, CellDict)
        iterable = hasattr(cells, "items") or hasattr(cells, "__iter__")
        if foreign_cell or isinstance(cells, (str, bytes)) or not iterable:
            raise fail_type(who, "cells", "a mapping of name -> Cell or an iterable of (name, Cell) pairs", cells)
        pairs = list(cells.items()) if hasattr(cells, "items") else list(cells)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise fail_type(who, f"cells[{i}]", "a (name, Cell) pair", pair)
            self._check_item(who, pair[0], pair[1])
        for key, cell in pairs:
            self.insert_child_to_cell(key, cell)

    def pop(self, key: str) -> Cell:
        cell = self[key]
        del self[key]
        return cell

    def clear(self) -> None:
        for key in list(self._cells):
            del self[key]
