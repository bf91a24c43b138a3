"""Sources: ``NumpySlicesDataset`` over arrays and ``GeneratorDataset`` over random-access objects.

Both fetch many samples at once (``fetch(ids)`` returns one stacked array per column), so the
pipeline works on whole batches. Random access is required: the epoch's order is a permutation
of indices, and a resumed run must fetch sample ``i`` without replaying samples ``0 .. i-1``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, fail, fail_type, fail_value
from minicell.dataset.pipeline import Dataset

NUMERIC_COLUMNS = "numeric arrays with a first dimension, one per column"


def _column_names(who: str, column_names: Any, count: int, default: list[str]) -> list[str]:
    if column_names is None:
        return default
    names = [column_names] if isinstance(column_names, str) else column_names
    if not isinstance(names, (list, tuple)) or not all(isinstance(c, str) and c for c in names):
        raise fail_type(who, "column_names", "a list of non-empty strs", column_names)
    if len(names) != count:
        raise fail_value(who, "column_names", f"{count} names, one per column", Shown(str(list(names))))
    if len(set(names)) != len(names):
        raise fail_value(who, "column_names", "distinct names", Shown(str(list(names))))
    return list(names)


class _ArraySource:
    """Columns held as arrays (copied, so later changes to the caller's arrays change nothing)."""

    def __init__(self, arrays: list[np.ndarray], column_names: list[str]) -> None:
        self.arrays = arrays
        self.column_names = column_names

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def fetch(self, ids: np.ndarray) -> list[np.ndarray]:
        return [np.take(a, ids, axis=0) for a in self.arrays]


class NumpySlicesDataset(Dataset):
    """Rows sliced from arrays along their first dimension (``mindspore.dataset.NumpySlicesDataset``).

    Args:
        data: an array (one column), a list (one column, converted by ``np.asarray``), a tuple
            of arrays (columns) or a dict name -> array; every column has the same length.
            The arrays are copied.
        column_names: names of the columns; default the dict's keys, else
            ``column_0, column_1, ...``.
        shuffle: draw a new order each epoch (from the Generator); False keeps the data's order.
        num_shards, shard_id: this process's shard of every global batch; both or neither.
            None: ``minicell.communication``'s group size and rank once ``init()`` ran, else 1, 0.
        generator: the Generator the pipeline draws from (one offset per epoch). None: a new
            ``Generator()`` (seed 0, offset 0), owned by the iterator so it is checkpointed with it;
            pass ``Generator().manual_seed(s)`` for another order.
    """

    def __init__(self, data: Any, column_names: Any = None, shuffle: Any = True, num_shards: Any = None,
                 shard_id: Any = None, generator: Any = None) -> None:
        who = "NumpySlicesDataset"
        if isinstance(data, dict):
            default, values = [str(k) for k in data], list(data.values())
        elif isinstance(data, tuple):
            default, values = [], list(data)
        elif isinstance(data, (np.ndarray, list)):
            default, values = [], [data]
        else:
            raise fail_type(who, "data", "an array, a list, a tuple of arrays or a dict of arrays", data)
        if not values:
            raise fail_value(who, "data", "at least one column", data)
        arrays = []
        for value in values:
            try:
                array = np.array(value, copy=True)
            except ValueError:  # ragged nested lists
                raise fail_value(who, "data", NUMERIC_COLUMNS, Shown("a ragged sequence")) from None
            if array.dtype.kind not in "biuf" or array.ndim == 0:
                raise fail_value(who, "data", NUMERIC_COLUMNS,
                                 Shown(f"a column of dtype {array.dtype} and shape {array.shape}"))
            arrays.append(array)
        names = _column_names(who, column_names, len(arrays), default or [f"column_{i}" for i in range(len(arrays))])
        lengths = {name: a.shape[0] for name, a in zip(names, arrays)}
        if len(set(lengths.values())) != 1:
            raise fail_value(who, "data", "columns of the same first dimension", Shown(str(lengths)))
        super().__init__(who, _ArraySource(arrays, names), shuffle, num_shards, shard_id, generator)


class _RandomAccessSource:
    """Samples ``source[i]`` (a tuple of arrays, or one array for one column), stacked per column."""

    def __init__(self, source: Any, column_names: list[str]) -> None:
        self.source = source
        self.column_names = column_names

    def __len__(self) -> int:
        return len(self.source)

    def fetch(self, ids: np.ndarray) -> list[np.ndarray]:
        count = len(self.column_names)
        rows = []
        for i in ids.tolist():
            try:
                item = self.source[i]
            except Exception as error:
                raise fail(RuntimeError, "GeneratorDataset", "source", "indexable at every index below its length",
                           Shown(f"{type(error).__name__} at index {i}: {error}")) from error
            values = list(item) if isinstance(item, (tuple, list)) and count > 1 else [item]
            if len(values) != count:
                raise fail_value("GeneratorDataset", f"source[{i}]", f"{count} columns {self.column_names}",
                                 Shown(f"{len(values)}"))
            rows.append([np.asarray(v) for v in values])
        columns = []
        for j, name in enumerate(self.column_names):
            try:
                columns.append(np.stack([row[j] for row in rows]))
            except ValueError:
                shapes = sorted({row[j].shape for row in rows})
                raise fail_value("GeneratorDataset", f"column {name}", "of one shape in every item",
                                 Shown(f"shapes {shapes}")) from None
        return columns


class GeneratorDataset(Dataset):
    """Rows from any random-access source (``mindspore.dataset.GeneratorDataset``).

    Args:
        source: an object with ``__getitem__(i)`` (returning a tuple of arrays, one per column,
            or one array for one column) and ``__len__``. Iterables without random access are
            refused: resuming mid-epoch and shuffling need sample ``i`` directly.
        column_names: the column names (required, as in MindSpore).
        shuffle, num_shards, shard_id, generator: as for ``NumpySlicesDataset``.

    With ``num_parallel_workers > 1`` worker threads call ``source[i]`` concurrently, so the
    source must allow that (read-only objects do).
    """

    def __init__(self, source: Any, column_names: Any, shuffle: Any = True, num_shards: Any = None,
                 shard_id: Any = None, generator: Any = None) -> None:
        who = "GeneratorDataset"
        if not (hasattr(source, "__getitem__") and hasattr(source, "__len__")):
            raise fail_type(who, "source", "a random-access object with __getitem__ and __len__", source)
        if column_names is None:
            raise fail_type(who, "column_names", "a str or a list of strs", column_names)
        named = isinstance(column_names, (list, tuple))
        count = 1 if isinstance(column_names, str) else len(column_names) if named else 0
        names = _column_names(who, column_names, max(count, 1), [])
        try:
            size = len(source)
        except Exception as error:
            raise fail_value(who, "len(source)", "an int >= 0", Shown(f"{type(error).__name__}: {error}")) from error
        if size < 0:
            raise fail_value(who, "len(source)", "an int >= 0", size)
        super().__init__(who, _RandomAccessSource(source, names), shuffle, num_shards, shard_id, generator)
