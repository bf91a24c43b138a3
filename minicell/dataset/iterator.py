"""``DatasetIterator``: the position in a pipeline, as a Cell that checkpoints with the model.

``create_tuple_iterator()`` / ``create_dict_iterator()`` return one. Its state is Parameters:

* ``epoch``, ``batch``: the position (int64): the next output is step ``batch`` of epoch
  ``epoch`` (a global batch, or a row when the dataset is not batched);
* ``epoch_seed``, ``epoch_offset``: the ``(seed, offset)`` reserved from the Generator for the
  running epoch (uint64; meaningful once ``batch > 0``), kept so that the rest of the epoch never
  depends on who else draws from a shared Generator;
* the dataset's ``Generator`` as the sub-cell ``generator`` (its ``seed`` and ``offset``).

One ``for`` loop over the iterator is one epoch, as in MindSpore. Step 0 of an epoch reserves
one offset of the Generator (only once step 0 was computed without error); the last step of an
epoch is followed by ``StopIteration``, which moves the position to ``(epoch + 1, 0)``; after
``num_epochs`` epochs (-1: no limit) the iterator only raises ``StopIteration``. Every output is
a pure function of (Parameters, pipeline, shard), so ``save_checkpoint`` of a Cell owning the
iterator and ``load_param_into_net`` into a fresh iterator of the same pipeline (any shard count)
continue with the batch the uninterrupted run would have produced.

Outputs: a ``TupleBatch`` (a list of Tensors) or a ``DictBatch`` (a dict name -> Tensor) with the
attributes ``rows`` (a ``range``: the global row indices of this shard's rows in the global
batch, e.g. for dropout's ``start = rows.start * elements_per_row``; for an unbatched dataset the
row's position in the epoch), ``sample_ids`` (int64 array: the rows' indices in the dataset),
``global_rows`` (rows in the whole global batch, all shards together), ``epoch`` and ``step``.

With ``num_parallel_workers = w > 1`` the ``"dataset"`` pool of ``w`` threads (shared by the
iterators of the process, ``minicell._runtime.pools``) computes up to ``2 w`` blocks ahead
inside the running epoch; results are taken in order and only for the current position.
A worker's exception is raised from ``next()`` in the caller's thread and the rest is cancelled,
so nothing waits on a dead worker. Use one iterator from one thread.
"""
from __future__ import annotations

import weakref
from concurrent.futures import Future
from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, fail_type, fail_value
from minicell._runtime.pools import shared_pool
from minicell.cell import Cell
from minicell.dataset.counters import compute_then_reserve
from minicell.parameter import Parameter
from minicell.tensor import Tensor

CHUNK_ROWS = 64  # rows computed together when the dataset is not batched


class _BatchInfo:
    rows: range
    sample_ids: np.ndarray
    epoch: int
    step: int
    global_rows: int

    def _where(self, rows: range, sample_ids: np.ndarray, epoch: int, step: int, global_rows: int) -> None:
        self.rows, self.sample_ids, self.epoch, self.step = rows, sample_ids, epoch, step
        self.global_rows = global_rows


class TupleBatch(list, _BatchInfo):
    """The columns of one output, in order, with ``rows``, ``sample_ids``, ``global_rows``, ``epoch``, ``step``."""


class DictBatch(dict, _BatchInfo):
    """Column name -> data of one output, with ``rows``, ``sample_ids``, ``global_rows``, ``epoch``, ``step``."""


def _cancel_all(futures: dict[tuple[int, int, int], Future]) -> None:
    """Cancel the blocks computed ahead that no worker started (a worker's running block finishes)."""
    for future in futures.values():
        future.cancel()
    futures.clear()


def _compute(dataset: Any, seed: int, offset: int, order: np.ndarray, lo: int, hi: int,
             shard: tuple[int, int]) -> tuple[list[np.ndarray], range, np.ndarray]:
    return dataset.rows(seed, offset, order, lo, hi, shard)


class DatasetIterator(Cell):
    """Iterator over a pipeline whose position and Generator are Parameters (see the module)."""

    def __init__(self, dataset: Any, who: str, columns: Any, num_epochs: Any, output_numpy: Any,
                 as_dict: bool) -> None:
        if check_int(who, "num_epochs", num_epochs, -1) == 0:
            raise fail_value(who, "num_epochs", "-1 or an int >= 1", num_epochs)
        if not isinstance(output_numpy, bool):
            raise fail_type(who, "output_numpy", "a bool", output_numpy)
        names = dataset.get_col_names()
        if columns is None:
            columns = names
        elif isinstance(columns, str):
            columns = [columns]
        if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
            raise fail_type(who, "columns", "a list of column names", columns)
        for column in columns:
            if column not in names:
                raise fail_value(who, "columns", f"names of columns of the dataset {names}", column)
        shard = dataset.shards()
        batched = dataset.is_batched()
        if not batched and shard[0] > 1:
            raise fail_value(who, "dataset", f"batched when read by {shard[0]} shards (shards split global batches)",
                             Shown("one without batch()"))
        super().__init__()
        self.epoch = Parameter(np.array(0, np.int64), requires_grad=False)
        self.batch = Parameter(np.array(0, np.int64), requires_grad=False)
        self.epoch_seed = Parameter(np.array(0, np.uint64), requires_grad=False)
        self.epoch_offset = Parameter(np.array(0, np.uint64), requires_grad=False)
        self.generator = dataset.generator
        self._dataset = dataset
        self._num_epochs = int(num_epochs)
        self._columns = [names.index(c) for c in columns]
        self._names = list(columns)
        self._as_dict, self._output_numpy = as_dict, output_numpy
        self._shard = shard if batched else (1, 0)
        self._block_rows = dataset.get_batch_size() if batched else CHUNK_ROWS
        self._batched = batched
        self._steps = len(dataset)
        self._blocks = -(-self._steps // CHUNK_ROWS) if not batched else self._steps
        self._order_key: tuple[int, int] | None = None
        self._order = np.empty(0, np.int64)
        self._futures: dict[tuple[int, int, int], Future] = {}
        self._done: dict[tuple[int, int, int], Any] = {}
        workers = dataset.num_workers()
        self._depth = 2 * workers if workers > 1 else 0
        self._workers = workers
        weakref.finalize(self, _cancel_all, self._futures)  # a dropped iterator's work ahead is not run

    # ----- position ----------------------------------------------------------------------------
    def _position(self) -> tuple[int, int]:
        return int(self.epoch._data), int(self.batch._data)

    def _move(self, epoch: int, step: int) -> None:
        self.epoch._data[...] = epoch
        self.batch._data[...] = step

    def __len__(self) -> int:
        """Steps per epoch: global batches (rows when not batched)."""
        return self._steps

    def __iter__(self) -> DatasetIterator:
        return self

    def construct(self) -> Any:
        """The next output (``next(iterator)``)."""
        return next(self)

    def __next__(self) -> Any:
        epoch, step = self._position()
        if self._num_epochs != -1 and epoch >= self._num_epochs:
            raise StopIteration
        if step >= self._steps:
            self._cancel()
            self._move(epoch + 1, 0)
            raise StopIteration
        block = step // CHUNK_ROWS if not self._batched else step
        if step == 0:
            seed, offset, result = compute_then_reserve(self.generator, lambda s, o: self._block(s, o, block))
            self.epoch_seed._data[...] = np.uint64(seed)
            self.epoch_offset._data[...] = np.uint64(offset)
        else:
            seed, offset = int(self.epoch_seed._data), int(self.epoch_offset._data)
            result = self._block(seed, offset, block)
        output = self._output(result, epoch, step)
        self._move(epoch, step + 1)
        return output

    # ----- computing blocks --------------------------------------------------------------------
    def _epoch_order(self, seed: int, offset: int) -> np.ndarray:
        if self._order_key != (seed, offset):
            self._order = self._dataset.order(seed, offset)
            self._order_key = (seed, offset)
        return self._order

    def _bounds(self, block: int) -> tuple[int, int]:
        lo = block * self._block_rows
        return lo, min(lo + self._block_rows, self._dataset.num_rows())

    def _cancel(self) -> None:
        _cancel_all(self._futures)

    def _block(self, seed: int, offset: int, block: int) -> tuple[list[np.ndarray], range, np.ndarray]:
        key = (seed, offset, block)
        if key in self._done:
            return self._done[key]
        if any(k[:2] != key[:2] for k in self._futures):
            self._cancel()
        order = self._epoch_order(seed, offset)
        future = self._futures.pop(key, None)
        try:
            if future is not None:
                result = future.result()
            else:
                result = _compute(self._dataset, seed, offset, order, *self._bounds(block), self._shard)
        except BaseException:
            self._cancel()
            raise
        if self._workers > 1:
            for ahead in range(block + 1, min(block + 1 + self._depth, self._blocks)):
                if (seed, offset, ahead) not in self._futures:
                    self._futures[(seed, offset, ahead)] = shared_pool("dataset", self._workers).submit(
                        _compute, self._dataset, seed, offset, order, *self._bounds(ahead), self._shard)
        self._done = {key: result} if not self._batched else {}
        return result

    def _output(self, result: tuple[list[np.ndarray], range, np.ndarray], epoch: int, step: int) -> Any:
        columns, rows, ids = result
        lo, hi = self._bounds(step) if self._batched else (0, 1)
        global_rows = hi - lo
        if not self._batched:
            r = step % CHUNK_ROWS
            columns, rows, ids = [c[r] for c in columns], range(step, step + 1), ids[r:r + 1]
        values = [columns[j] if self._output_numpy else Tensor(columns[j]) for j in self._columns]
        out: Any = DictBatch(zip(self._names, values)) if self._as_dict else TupleBatch(values)
        out._where(rows, ids, epoch, step, global_rows)
        return out

    def extra_repr(self) -> str:
        epoch, step = self._position()
        return f"epoch={epoch}, batch={step}, steps_per_epoch={self._steps}"
