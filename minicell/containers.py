"""Cell containers: ``SequentialCell``, ``CellList`` and ``CellDict`` (MindSpore's names).

Children of the list containers are named ``"0"``, ``"1"``, ...; inserting renumbers the later
children and renames their Parameters to match.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator

from minicell._checks import is_integer
from minicell.cell import Cell, relative_names, set_scopes


def _rename_prefix(cell: Cell, old: str, new: str) -> None:
    """A child moved from position ``old`` to ``new``: rename the path segment in its params."""
    for relative, param in relative_names(cell):
        tail = f"{old}.{relative}"
        if param.name and (param.name == tail or param.name.endswith("." + tail)):
            param.name = param.name[:-len(tail)] + f"{new}.{relative}"


class _CellSequence(Cell):
    """Shared list behaviour: children named by position."""

    def __init__(self, cells: Iterable[Cell] = ()) -> None:
        super().__init__()
        self.extend(cells)

    def _check(self, cell: Any) -> Cell:
        if not isinstance(cell, Cell):
            raise TypeError(f"For '{type(self).__name__}', every item must be a Cell, but got {type(cell).__name__}.")
        return cell

    def _index(self, index: Any) -> int:
        if not is_integer(index):
            raise TypeError(f"For '{type(self).__name__}', an index must be an int or a slice, but got {index!r}.")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"For '{type(self).__name__}', index {index} is out of range for {n} cells.")
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
        return list(self._cells.values())[self._index(index)]

    def __setitem__(self, index: Any, cell: Cell) -> None:
        cells = list(self._cells.values())
        cells[self._index(index)] = self._check(cell)
        self._relabel(cells)

    def __delitem__(self, index: Any) -> None:
        cells = list(self._cells.values())
        if isinstance(index, slice):
            del cells[index]
        else:
            del cells[self._index(index)]
        self._relabel(cells)

    def append(self, cell: Cell) -> "_CellSequence":
        self.insert_child_to_cell(str(len(self)), self._check(cell))
        return self

    def extend(self, cells: Iterable[Cell]) -> "_CellSequence":
        if isinstance(cells, Cell) or not hasattr(cells, "__iter__"):
            raise TypeError(f"For '{type(self).__name__}.extend', 'cells' must be an iterable of Cells, "
                            f"but got {type(cells).__name__}.")
        for cell in list(cells):
            self.append(cell)
        return self

    def insert(self, index: int, cell: Cell) -> None:
        cells = list(self._cells.values())
        if not is_integer(index):
            raise TypeError(f"For '{type(self).__name__}.insert', 'index' must be an int, but got {index!r}.")
        cells.insert(int(index), self._check(cell))
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
                self.insert_child_to_cell(name, self._check(cell))
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
            self.update(cells)

    def __getitem__(self, key: str) -> Cell:
        try:
            return self._cells[key]
        except KeyError:
            raise KeyError(f"For 'CellDict', no cell named {key!r}; names: {list(self._cells)}.") from None

    def __setitem__(self, key: str, cell: Cell) -> None:
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
        pairs = cells.items() if hasattr(cells, "items") else cells
        for key, cell in pairs:
            self[key] = cell

    def pop(self, key: str) -> Cell:
        cell = self[key]
        del self[key]
        return cell

    def clear(self) -> None:
        for key in list(self._cells):
            del self[key]
