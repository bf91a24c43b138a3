"""Determinism checks: same start, same result; slices equal the slice of the whole.

- ``assert_reproducible(fn, *args)``: every run of ``fn`` from the same state gives the same bits.
- ``assert_slice_invariant(draw, n, splits)``: ``draw(start, count)`` over the pieces of a split
  of ``range(n)`` gives the rows of ``draw(0, n)``.
- ``assert_batch_invariant(cell, x, splits)``: a Cell on row slices of a batch gives the rows of
  its output on the whole batch.

Each check saves the state it starts from (``minicell.testing._state.Snapshot``: the default
generator, the Generators given, the Parameters of the Cells involved), restores it before every
evaluation, and restores it once more at the end, on failure too: a check changes nothing.
A *split* of ``range(n)`` is a sequence of pieces in order that together cover ``0 .. n-1``:
either ``range`` objects (as ``strategies.splits(n)`` draws them) or piece sizes (``[3, 1, 6]``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minicell._autograd.grad_mode import no_grad
from minicell._checks import Shown, check_int, fail_type, fail_value, is_integer
from minicell._runtime.sharding import shard_bounds
from minicell.cell import Cell
from minicell.tensor import Tensor
from minicell.testing._row_offset import RowOffset, library_row_offset
from minicell.testing._state import Snapshot
from minicell.testing._tree import Tree, canonical, map_leaves
from minicell.testing.compare import failure_text, tree_differences

BLAS_HINT = ("(if the model multiplies matrices, note that BLAS may round a product differently for a "
             "different number of rows: DESIGN.md section 7)")


def split_bounds(who: str, n: int, splits: Any) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of a split of ``range(n)``, checked to cover it in order."""
    if not isinstance(splits, Sequence) or isinstance(splits, (str, bytes)):
        raise fail_type(who, "splits", "a sequence of ranges or of piece sizes", splits)
    bounds, start = [], 0
    for piece in splits:
        if isinstance(piece, range) and piece.step == 1:
            lo, hi = piece.start, piece.stop
        elif is_integer(piece) and piece >= 0:
            lo, hi = start, start + int(piece)
        else:
            raise fail_value(who, "splits", "a sequence of ranges with step 1 or of non-negative ints", piece)
        if lo != start or hi < lo:
            raise fail_value(who, "splits", f"pieces that cover range({n}) in order without gaps",
                             Shown(f"the piece {piece!r}, which does not start at {start}"))
        bounds.append((lo, hi))
        start = hi
    if start != n:
        raise fail_value(who, "splits", f"pieces that cover range({n})", Shown(f"pieces that end at {start}"))
    return bounds


def _rows(who: str, tree: Tree, n: int, lo: int, hi: int) -> Tree:
    def take(array: np.ndarray) -> np.ndarray:
        if array.ndim == 0 or array.shape[0] != n:
            raise fail_value(who, "output", f"arrays with {n} rows along axis 0 on the whole range",
                             Shown(f"an array of shape {array.shape}"))
        return array[lo:hi]
    return map_leaves(tree, take)


def _check_callable(who: str, arg: str, fn: Any) -> None:
    if not callable(fn):
        raise fail_type(who, arg, "callable", fn)


def assert_reproducible(fn: Callable[..., Any], *args: Any, runs: int = 2,
                        generators: Iterable[Any] = ()) -> Any:
    """Run ``fn(*args)`` ``runs`` times from the same state and check the outputs are bitwise equal.

    Before each run the default generator, the ``generators`` given and every Parameter of the
    Cells among ``fn`` and ``args`` (their Generators included) are put back as they were at the
    call; they are restored once more at the end. The check also fails if a run leaves the
    generators at different offsets, or those Parameters at different values, than the first run
    (``fn`` reserved a varying number of offsets, or updated a model differently).
    Catches draws from anything outside that state, such as NumPy's global random state.

    Args:
        fn: the function (or Cell) under test.
        args: its arguments.
        runs: how many runs, >= 2.
        generators: further Generators that ``fn`` draws from (for example through a closure).

    Returns:
        The output of the first run.
    """
    __tracebackhide__ = True
    who = "assert_reproducible"
    _check_callable(who, "fn", fn)
    runs = check_int(who, "runs", runs, 2)
    cells = [("fn", fn)] + [(f"args[{i}]", arg) for i, arg in enumerate(args)]
    snapshot = Snapshot(who, cells=cells, generators=generators)
    outputs, states, params, first = [], [], [], None
    try:
        for k in range(runs):
            snapshot.restore()
            out = fn(*args)
            first = out if k == 0 else first
            outputs.append(canonical(out, who))
            states.append(snapshot.generator_states())
            params.append(snapshot.parameters())
    finally:
        snapshot.restore()
    for k in range(1, runs):
        differences = tree_differences(outputs[0], outputs[k])
        if differences:
            raise AssertionError(f"Not reproducible: run {k + 1} of {runs} differs from run 1, both started from "
                                 f"the same generator state. " + failure_text(differences, "places"))
        if states[k] != states[0]:
            raise AssertionError(f"Not reproducible: after run {k + 1} the generators are at (seed, offset) "
                                 f"{states[k]}, after run 1 at {states[0]}.")
        differences = tree_differences(params[0], params[k])
        if differences:
            raise AssertionError(f"Not reproducible: after run {k + 1} of {runs} the Cells' Parameters differ from "
                                 f"those after run 1. " + failure_text(differences, "places"))
    return first


def assert_slice_invariant(draw: Callable[[int, int], Any], n: int, splits: Any, *,
                           generators: Iterable[Any] = ()) -> None:
    """Check that ``draw(start, count)`` over each piece of ``splits`` equals the rows
    ``[start, start + count)`` of ``draw(0, n)``, bitwise (so their concatenation is the whole).

    Args:
        draw: ``draw(start, count)`` returns an array-like (or a tuple/list/dict of them) with
            ``count`` rows along axis 0.
        n: the number of rows of the whole.
        splits: a split of ``range(n)``: ranges in order, or piece sizes.
        generators: Generators ``draw`` reserves from, restored before every call (the default
            generator always is).
    """
    __tracebackhide__ = True
    who = "assert_slice_invariant"
    _check_callable(who, "draw", draw)
    n = check_int(who, "n", n, 0)
    bounds = split_bounds(who, n, splits)
    snapshot = Snapshot(who, generators=generators)
    try:
        whole = canonical(draw(0, n), who)
        for i, (lo, hi) in enumerate(bounds):
            snapshot.restore()
            expected = _rows(who, whole, n, lo, hi)
            differences = tree_differences(expected, canonical(draw(lo, hi - lo), who))
            if differences:
                raise AssertionError(f"Not slice invariant: draw({lo}, {hi - lo}) (piece {i} of {len(bounds)}) "
                                     f"differs from rows [{lo}, {hi}) of draw(0, {n}). "
                                     + failure_text(differences, "places"))
    finally:
        snapshot.restore()


def _inputs(who: str, x: Any) -> tuple[list[Tensor], int]:
    items = list(x) if isinstance(x, tuple) else [x]
    tensors = []
    for item in items:
        if isinstance(item, np.ndarray):
            item = Tensor(item)
        if not isinstance(item, Tensor) or item.ndim == 0:
            raise fail_type(who, "x", "a Tensor or ndarray with a batch axis, or a tuple of them", item)
        tensors.append(item)
    rows = {t.shape[0] for t in tensors}
    if len(rows) != 1:
        raise fail_value(who, "x", "inputs with the same number of rows", Shown(f"row counts {sorted(rows)}"))
    return tensors, rows.pop()


def assert_batch_invariant(cell: Cell, x: Any, splits: Any, *, training: bool = False,
                           row_offset: RowOffset | None = None) -> None:
    """Check that ``cell`` on rows ``[a, b)`` of ``x`` gives rows ``[a, b)`` of ``cell(x)``, bitwise,
    for every piece of ``splits``.

    Every evaluation starts from the same state (the Cell's Parameters and Generators, the
    default generator), under ``no_grad``, in the mode ``training``; the Cell's modes and state
    are restored at the end. In training mode the random layers must draw each row's randomness
    at the row's index in the whole batch (DESIGN.md section 6): each slice is evaluated inside
    ``row_offset(a)``, a context that tells the Dropout layers the global index of the slice's
    first row. By default that is minicell's own (``ops.dropout.sample_indexed``, which the
    micro-batching ``TrainOneStepCell`` uses); layers of your own that learn their rows another
    way can pass their own ``row_offset``.

    Args:
        cell: the Cell under test.
        x: a Tensor or ndarray with the batch along axis 0, or a tuple of them (several inputs).
        splits: a split of ``range(len(x))``: ranges in order, or piece sizes.
        training: evaluate in training mode (randomness on) instead of eval mode.
        row_offset: ``row_offset(first_row)`` -> context manager; None for minicell's own.
    """
    __tracebackhide__ = True
    who = "assert_batch_invariant"
    if not isinstance(cell, Cell):
        raise fail_type(who, "cell", "a Cell", cell)
    inputs, n = _inputs(who, x)
    bounds = split_bounds(who, n, splits)
    if not isinstance(training, bool):
        raise fail_type(who, "training", "a bool", training)
    enter = row_offset if row_offset is not None else library_row_offset()
    _check_callable(who, "row_offset", enter)
    modes = [(c, bool(c.training)) for _, c in cell.cells_and_names()]
    snapshot = Snapshot(who, cells=[("cell", cell)])
    try:
        cell.set_train(training)
        with no_grad():
            with enter(0):
                whole = canonical(cell(*inputs), who)
            for i, (lo, hi) in enumerate(bounds):
                snapshot.restore()
                with enter(lo):
                    part = canonical(cell(*[Tensor(t._data[lo:hi]) for t in inputs]), who)
                differences = tree_differences(_rows(who, whole, n, lo, hi), part)
                if differences:
                    raise AssertionError(f"Not batch invariant (training={training}): rows [{lo}, {hi}) "
                                         f"(piece {i} of {len(bounds)}) evaluated alone differ from those rows of "
                                         f"the whole batch {BLAS_HINT}. " + failure_text(differences, "places"))
    finally:
        for c, mode in modes:
            object.__setattr__(c, "training", mode)
        snapshot.restore()


def shard_split(n: int, world_size: int, unit: int = 1) -> tuple[range, ...]:
    """The split of ``range(n)`` that ranks ``0 .. world_size - 1`` hold, by
    ``minicell._runtime.sharding.shard_bounds`` (the rows data parallelism and the data pipeline give
    each rank); a rank may hold an empty range. For ``assert_slice_invariant`` and
    ``assert_batch_invariant``."""
    return tuple(range(*shard_bounds(n, world_size, rank, unit)) for rank in range(world_size))
