"""Save and restore everything random or trainable a check must start from, again and again.

A ``Snapshot`` holds copies of: the default generator's ``(seed, offset)``, the state of extra
Generators, and every Parameter of some Cells (a Cell's own Generators are Cells whose seed and
offset are Parameters, so restoring the Cell's parameters restores them too). ``restore()`` puts
all of it back in place, as often as asked; it never replaces objects, so references users hold
stay valid.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type
from minicell.cell import Cell
from minicell.generator import Generator, default_generator
from minicell.parameter import Parameter


class Snapshot:
    """Copies of the default generator, ``generators`` and the Parameters of ``cells``.

    ``cells`` holds ``(label, object)`` pairs; objects that are not Cells are skipped. A
    Parameter shared by several Cells is saved once, under its first label.
    """

    def __init__(self, who: str, cells: Iterable[tuple[str, Any]] = (), generators: Iterable[Any] = ()) -> None:
        gens = [default_generator()]
        for g in generators:
            if not isinstance(g, Generator):
                raise fail_type(who, "generators", "Generators", Shown(type(g).__name__))
            gens.append(g)
        self._generators = [(g, g.get_state()) for g in gens]
        params: dict[int, tuple[str, Parameter, np.ndarray]] = {}
        for label, cell in cells:
            if isinstance(cell, Cell):
                for name, p in cell.parameters_and_names():
                    params.setdefault(id(p), (f"{label}.{name}", p, p._data.copy()))
        self._params = list(params.values())

    def restore(self) -> None:
        for _, param, saved in self._params:
            np.copyto(param._data, saved)
        for gen, (seed, offset) in self._generators:
            gen.set_state(seed, offset)

    def generator_states(self) -> list[tuple[int, int]]:
        """The current ``(seed, offset)`` of every saved generator, default one first."""
        return [(int(s), int(o)) for s, o in (g.get_state() for g, _ in self._generators)]

    def parameters(self) -> dict[str, np.ndarray]:
        """Copies of the current values of the saved Parameters, by label and name."""
        return {label: param._data.copy() for label, param, _ in self._params}
