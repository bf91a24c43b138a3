"""``Dataset``: the map/batch pipeline every source builds on, and the pure function it computes.

A pipeline is a source of ``n`` rows, a list of ``map`` steps and at most one ``batch``. What it
produces is a pure function of (generator seed, the epoch's offset, the block of rows asked
for): ``rows(seed, offset, order, lo, hi, shard)`` takes positions ``[lo, hi)`` of the epoch's
order (a global batch), keeps this shard's part of them by ``minicell._runtime.sharding.shard_bounds``,
fetches those samples from the source and runs every map step on them, vectorised. No state is
read or written there, so batches can be computed in any order, on any thread, and again after
a resume. The iterator (``minicell.dataset.iterator``) holds the state.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, fail, fail_type, fail_value
from minicell._runtime.sharding import shard_bounds
from minicell.dataset.counters import MAX_SLOTS, Draw
from minicell.dataset.iterator import DatasetIterator
from minicell.dataset.transforms import Transform, check_operation
from minicell.generator import Generator
from minicell.random import permutation

MAX_WORKERS = 64


def communication_shards() -> tuple[int, int]:
    """``(group size, rank)`` once ``minicell.communication.init()`` ran, else ``(1, 0)``.

    The communication package is not imported here: if nobody imported it, nobody initialized it.
    """
    comm = sys.modules.get("minicell.communication")
    if comm is None:
        return 1, 0
    initialized = getattr(comm, "is_initialized", None)
    try:
        if initialized is not None and not initialized():
            return 1, 0
        return int(comm.get_group_size()), int(comm.get_rank())
    except RuntimeError:  # init() not called: MindSpore's get_group_size raises RuntimeError then
        return 1, 0


def _outputs(who: str, result: Any, count: int) -> list[np.ndarray]:
    """A callable's result as ``count`` arrays (a tuple for several columns)."""
    values = list(result) if count > 1 and isinstance(result, (tuple, list)) else [result]
    if len(values) != count:
        raise fail_value("map", f"operation {who}", f"a callable returning {count} columns",
                         Shown(f"{len(values)} returned"))
    return [np.asarray(v) for v in values]


class _MapStep:
    """One ``map``: operations (flattened) with their slots, applied to some columns."""

    def __init__(self, operations: list[Any], first_slot: int, columns: list[int], per_batch: bool,
                 workers: int) -> None:
        self.operations = operations
        self.slots = list(range(first_slot, first_slot + len(operations)))
        self.columns = columns
        self.per_batch = per_batch
        self.workers = workers

    def run(self, cols: list[np.ndarray], ids: np.ndarray, seed: int, offset: int) -> None:
        arrays = [cols[c] for c in self.columns]
        for op, slot in zip(self.operations, self.slots):
            if isinstance(op, Transform):
                arrays = [op.apply(arrays[0], Draw(seed, offset, slot, ids))]
            elif self.per_batch:
                arrays = _outputs(getattr(op, "__name__", repr(op)), op(*arrays), len(arrays))
            else:
                arrays = self._per_row(op, arrays, ids)
        for c, array in zip(self.columns, arrays):
            cols[c] = array

    @staticmethod
    def _per_row(op: Any, arrays: list[np.ndarray], ids: np.ndarray) -> list[np.ndarray]:
        name = getattr(op, "__name__", repr(op))
        rows = []
        for r in range(ids.shape[0]):
            try:
                rows.append(_outputs(name, op(*[a[r] for a in arrays]), len(arrays)))
            except Exception as error:
                raise fail(RuntimeError, "map", f"operation {name}", "a callable that runs on every sample",
                           Shown(f"{type(error).__name__} on sample {int(ids[r])}: {error}")) from error
        return [np.stack([row[j] for row in rows]) for j in range(len(arrays))]


class Dataset:
    """A pipeline: a source, ``map`` steps and an optional ``batch`` (``mindspore.dataset.Dataset``).

    ``map`` and ``batch`` return new datasets that share the source and the Generator.
    """

    def __init__(self, who: str, source: Any, shuffle: Any, num_shards: Any, shard_id: Any,
                 generator: Any) -> None:
        if not isinstance(shuffle, bool):
            raise fail_type(who, "shuffle", "a bool", shuffle)
        if (num_shards is None) != (shard_id is None):
            raise fail_value(who, "shard_id", "given together with 'num_shards' (both or neither)",
                             Shown(f"num_shards={num_shards!r} and shard_id={shard_id!r}"))
        if num_shards is not None:
            num_shards = check_int(who, "num_shards", num_shards, 1)
            shard_id = check_int(who, "shard_id", shard_id, 0, num_shards)
        if generator is not None and not isinstance(generator, Generator):
            raise fail_type(who, "generator", "a Generator or None", generator)
        self._source = source
        self._shuffle = shuffle
        self._shards = None if num_shards is None else (num_shards, shard_id)
        self.generator = Generator() if generator is None else generator
        self._steps: tuple[_MapStep, ...] = ()
        self._batch_size: int | None = None
        self._drop_remainder = False
        self._micro_batch_size = 1

    def _derive(self) -> Dataset:
        new = Dataset.__new__(Dataset)
        new.__dict__.update(self.__dict__)
        return new

    # ----- building ----------------------------------------------------------------------------
    def map(self, operations: Any, input_columns: Any = None, num_parallel_workers: Any = None) -> Dataset:
        """Apply ``operations`` (one or a list; ``Compose`` expanded) to ``input_columns``.

        Args:
            operations: minicell Transforms (vectorised over the rows) or callables (called per
                sample before ``batch``, on the shard's rows of a batch after it).
            input_columns: a column name or a list of them; None means the first column.
            num_parallel_workers: threads computing batches ahead (the largest value of all maps
                is used); None means 1, computing in the caller's thread. Never changes a value.
        """
        ops = list(operations) if isinstance(operations, (list, tuple)) else [operations]
        if not ops:
            raise fail_value("map", "operations", "a Transform, a callable or a non-empty list of them", ops)
        flat = []
        for op in ops:
            op = check_operation("map", "operations", op)
            flat.extend(op.flatten() if isinstance(op, Transform) else [op])
        names = self._source.column_names
        if input_columns is None:
            input_columns = [names[0]]
        elif isinstance(input_columns, str):
            input_columns = [input_columns]
        if not isinstance(input_columns, (list, tuple)) or not input_columns or \
                not all(isinstance(c, str) for c in input_columns):
            raise fail_type("map", "input_columns", "a column name or a non-empty list of names", input_columns)
        for column in input_columns:
            if column not in names:
                raise fail_value("map", "input_columns", f"names of columns of the dataset {names}", column)
        if len(set(input_columns)) != len(input_columns):
            raise fail_value("map", "input_columns", "distinct names", Shown(str(list(input_columns))))
        if len(input_columns) > 1 and any(isinstance(op, Transform) for op in flat):
            raise fail_value("map", "input_columns", "one column (minicell transforms take one column)",
                             Shown(str(list(input_columns))))
        workers = 1 if num_parallel_workers is None else \
            check_int("map", "num_parallel_workers", num_parallel_workers, 1, MAX_WORKERS + 1)
        first = sum(len(step.operations) for step in self._steps)
        if first + len(flat) > MAX_SLOTS:
            raise fail_value("map", "operations", f"at most {MAX_SLOTS} in a pipeline",
                             Shown(f"{first + len(flat)}"))
        new = self._derive()
        step = _MapStep(flat, first, [names.index(c) for c in input_columns], self._batch_size is not None, workers)
        new._steps = self._steps + (step,)
        return new

    def batch(self, batch_size: Any, drop_remainder: Any = False, micro_batch_size: Any = None) -> Dataset:
        """Group rows into global batches of ``batch_size`` (each shard receives its part).

        Args:
            batch_size: rows in a global batch, >= 1, whatever the number of shards.
            drop_remainder: drop a last batch shorter than ``batch_size``.
            micro_batch_size: a minicell extension: shards receive whole micro-batches of this
                many rows, ``shard_bounds(rows, W, r, unit=micro_batch_size)``, exactly the rows
                ``nn.TrainOneStepCell(..., micro_batch_size=M)`` expects on rank ``r``. None
                (default) splits rows evenly (unit 1).
        """
        batch_size = check_int("batch", "batch_size", batch_size, 1)
        unit = 1 if micro_batch_size is None else check_int("batch", "micro_batch_size", micro_batch_size, 1)
        if not isinstance(drop_remainder, bool):
            raise fail_type("batch", "drop_remainder", "a bool", drop_remainder)
        if self._batch_size is not None:
            raise fail_value("batch", "dataset", "one not batched already",
                             Shown(f"one with batch_size {self._batch_size}"))
        new = self._derive()
        new._batch_size, new._drop_remainder, new._micro_batch_size = batch_size, drop_remainder, unit
        return new

    # ----- inspecting --------------------------------------------------------------------------
    def get_dataset_size(self) -> int:
        """Global batches per epoch (rows when not batched); the same on every shard."""
        n = len(self._source)
        if self._batch_size is None:
            return n
        return n // self._batch_size if self._drop_remainder else -(-n // self._batch_size)

    def __len__(self) -> int:
        return self.get_dataset_size()

    def get_col_names(self) -> list[str]:
        return list(self._source.column_names)

    def get_batch_size(self) -> int:
        return 1 if self._batch_size is None else self._batch_size

    def is_batched(self) -> bool:
        return self._batch_size is not None

    def num_rows(self) -> int:
        """Rows (samples) in the source."""
        return len(self._source)

    def num_workers(self) -> int:
        return max([step.workers for step in self._steps], default=1)

    def shards(self) -> tuple[int, int]:
        """``(num_shards, shard_id)``: as given, else from ``minicell.communication``, else (1, 0)."""
        return self._shards if self._shards is not None else communication_shards()

    # ----- the pure function -------------------------------------------------------------------
    def order(self, seed: int, offset: int) -> np.ndarray:
        """Epoch order: ``permutation(seed, offset, n)``, or ``arange(n)`` without shuffle."""
        n = len(self._source)
        return permutation(seed, offset, n) if self._shuffle else np.arange(n, dtype=np.int64)

    def run(self, seed: int, offset: int, ids: np.ndarray) -> list[np.ndarray]:
        """The columns of samples ``ids`` after every map step."""
        cols = self._source.fetch(ids)
        for step in self._steps:
            step.run(cols, ids, seed, offset)
        return cols

    def rows(self, seed: int, offset: int, order: np.ndarray, lo: int, hi: int,
             shard: tuple[int, int]) -> tuple[list[np.ndarray], range, np.ndarray]:
        """This shard's part of epoch positions ``[lo, hi)``: (columns, global rows, sample ids)."""
        batch_ids = order[lo:hi]
        a, b = shard_bounds(hi - lo, shard[0], shard[1], self._micro_batch_size)
        ids = batch_ids[a:b]
        if a == b and hi > lo:  # an empty shard still gets the right column shapes and dtypes
            return [c[:0] for c in self.run(seed, offset, batch_ids[:1])], range(a, b), ids
        return self.run(seed, offset, ids), range(a, b), ids

    # ----- iterators ---------------------------------------------------------------------------
    def create_tuple_iterator(self, columns: Any = None, num_epochs: Any = -1,
                              output_numpy: Any = False) -> DatasetIterator:
        """An iterator Cell yielding lists of Tensors (see ``minicell.dataset.iterator``)."""
        return DatasetIterator(self, "create_tuple_iterator", columns, num_epochs, output_numpy, as_dict=False)

    def create_dict_iterator(self, num_epochs: Any = -1, output_numpy: Any = False) -> DatasetIterator:
        """An iterator Cell yielding dicts column name -> Tensor."""
        return DatasetIterator(self, "create_dict_iterator", None, num_epochs, output_numpy, as_dict=True)

    def __iter__(self) -> Any:
        return iter(self.create_tuple_iterator(num_epochs=1))
