"""``batch(..., micro_batch_size=M)``: a shard's rows are whole micro-batches, the very rows
``nn.TrainOneStepCell(..., micro_batch_size=M)`` expects on that rank (one notion of a shard)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import dataset as ds
from minicell._runtime.sharding import shard_bounds


def batches(n: int, batch: int, unit: int | None, shards: int, shard_id: int) -> list:
    data = np.arange(n, dtype=np.float32).reshape(n, 1)
    pipeline = ds.NumpySlicesDataset((data,), ["x"], num_shards=shards, shard_id=shard_id,
                                     generator=mc.Generator().manual_seed(5))
    iterator = pipeline.batch(batch, micro_batch_size=unit).create_tuple_iterator(num_epochs=1)
    return [(out.rows, out[0].asnumpy()[:, 0]) for out in iterator]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), batch=st.integers(1, 20), unit=st.integers(1, 8), shards=st.integers(1, 5))
def test_shards_are_whole_micro_batches_and_join_to_the_global_batch(n, batch, unit, shards):
    whole = batches(n, batch, None, 1, 0)
    per_shard = [batches(n, batch, unit, shards, r) for r in range(shards)]
    for k, (rows, values) in enumerate(whole):
        parts = [shard[k] for shard in per_shard]
        for r, (part_rows, _) in enumerate(parts):
            assert (part_rows.start, part_rows.stop) == shard_bounds(len(rows), shards, r, unit)
        assert np.array_equal(np.concatenate([v for _, v in parts]), values)


def test_bad_micro_batch_size():
    pipeline = ds.NumpySlicesDataset((np.zeros((4, 1), np.float32),), ["x"])
    with pytest.raises(ValueError, match=r"For 'batch', 'micro_batch_size' must be an int in \[1, inf\), but got 0\."):
        pipeline.batch(2, micro_batch_size=0)
    with pytest.raises(TypeError, match=r"For 'batch', 'micro_batch_size' must be an int, but got 1\.5\."):
        pipeline.batch(2, micro_batch_size=1.5)
