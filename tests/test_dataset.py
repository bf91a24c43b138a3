"""minicell.dataset: sources, map/batch, iterators, sharding defaults and every error."""
import sys
import threading
import types

import numpy as np
import pytest

import minicell as mc
from minicell import dataset as ds
from minicell.dataset import transforms, vision
from minicell.random import permutation


def points(n=10):
    return np.arange(2 * n, dtype=np.float32).reshape(n, 2), np.arange(n, dtype=np.int64)


def test_numpy_slices_columns_and_names():
    x, y = points()
    assert ds.NumpySlicesDataset((x, y)).get_col_names() == ["column_0", "column_1"]
    assert ds.NumpySlicesDataset({"a": x, "b": y}).get_col_names() == ["a", "b"]
    assert ds.NumpySlicesDataset(x, column_names="x").get_col_names() == ["x"]
    single = ds.NumpySlicesDataset([1, 2, 3], shuffle=False)
    assert [int(row[0].asnumpy()) for row in single] == [1, 2, 3] and len(single) == 3


def test_numpy_slices_copies_its_data():
    x, y = points()
    data = ds.NumpySlicesDataset((x, y), shuffle=False).batch(10)
    x[:] = -1
    first = next(iter(data))
    assert first[0].asnumpy()[0].tolist() == [0.0, 1.0]


def test_unshuffled_batches_in_order_with_remainder_and_tensors():
    x, y = points(10)
    data = ds.NumpySlicesDataset((x, y), ["x", "y"], shuffle=False).batch(4)
    assert len(data) == data.get_dataset_size() == 3 and data.get_batch_size() == 4
    batches = list(data.create_tuple_iterator(num_epochs=1))
    assert [b[1].asnumpy().tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert isinstance(batches[0], ds.TupleBatch) and isinstance(batches[0][0], mc.Tensor)
    assert batches[2].rows == range(0, 2) and batches[2].step == 2 and batches[2].epoch == 0
    assert [b.global_rows for b in batches] == [4, 4, 2]
    dropped = ds.NumpySlicesDataset((x, y), shuffle=False).batch(4, drop_remainder=True)
    assert len(dropped) == 2 and len(list(dropped.create_tuple_iterator(num_epochs=1))) == 2


def test_dict_iterator_columns_and_numpy_output():
    x, y = points(6)
    data = ds.NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(3)
    out = next(data.create_dict_iterator(output_numpy=True))
    assert isinstance(out, ds.DictBatch) and list(out) == ["x", "y"] and isinstance(out["y"], np.ndarray)
    assert out.sample_ids.tolist() == [0, 1, 2]
    only_y = next(data.create_tuple_iterator(columns=["y"]))
    assert len(only_y) == 1 and only_y[0].asnumpy().tolist() == [0, 1, 2]


def test_shuffled_epoch_orders_are_permutations_at_reserved_offsets():
    x, y = points(13)
    gen = mc.Generator().manual_seed(42)
    it = ds.NumpySlicesDataset((x, y), generator=gen).batch(5).create_tuple_iterator(num_epochs=2)
    for epoch in range(2):
        ids = np.concatenate([b[1].asnumpy() for b in it])
        assert ids.tolist() == permutation(42, epoch, 13).tolist()
        assert int(it.epoch_offset.asnumpy()) == epoch
    assert int(gen.get_state()[1]) == 2 and list(it) == [] and int(it.epoch.asnumpy()) == 2


def test_default_generator_is_a_new_one_not_the_process_default():
    x, y = points(8)
    mc.manual_seed(3)
    before = mc.get_rng_state()
    data = ds.NumpySlicesDataset((x, y))
    assert data.generator is not mc.default_generator()
    assert int(data.generator.initial_seed()) == 0
    list(data.batch(3).create_tuple_iterator(num_epochs=1))
    assert [int(t) for t in mc.get_rng_state()] == [int(t) for t in before]


def test_iterator_parameters_and_the_generator_sub_cell():
    x, y = points(8)
    gen = mc.Generator().manual_seed(1)
    it = ds.NumpySlicesDataset((x, y), generator=gen).batch(3).create_tuple_iterator()
    names = [name for name, _ in it.parameters_and_names()]
    assert names == ["epoch", "batch", "epoch_seed", "epoch_offset", "generator.seed", "generator.offset"]
    assert it.generator is gen and len(it) == 3
    next(it)
    next(it)
    assert int(it.batch.asnumpy()) == 2 and int(it.epoch_seed.asnumpy()) == 1 and "batch=2" in repr(it)


def test_end_of_epoch_moves_position_and_num_epochs_stops():
    x, y = points(4)
    it = ds.NumpySlicesDataset((x, y)).batch(2).create_tuple_iterator(num_epochs=2)
    assert len(list(it)) == 2 and len(list(it)) == 2 and list(it) == []
    assert (int(it.epoch.asnumpy()), int(it.batch.asnumpy())) == (2, 0)
    forever = ds.NumpySlicesDataset((x, y)).batch(4).create_tuple_iterator()
    assert sum(len(list(forever)) for _ in range(5)) == 5


def test_unbatched_iteration_yields_rows_and_matches_batched_values():
    x, y = points(70)
    data = ds.NumpySlicesDataset((x, y), generator=mc.Generator().manual_seed(9)).map(transforms.RandomNoise(1.0))
    rows = list(data.create_tuple_iterator(num_epochs=1))
    assert len(rows) == len(data) == 70 and rows[0][0].shape == (2,)
    assert rows[65].rows == range(65, 66) and rows[65].sample_ids.tolist() == [int(rows[65][1].asnumpy())]
    data.generator.manual_seed(9)
    batched = list(data.batch(70).create_tuple_iterator(num_epochs=1))[0]
    assert np.array_equal(np.stack([r[0].asnumpy() for r in rows]), batched[0].asnumpy())


def test_map_after_batch_calls_callables_on_the_batch():
    x, y = points(6)
    seen = []
    data = ds.NumpySlicesDataset((x, y), ["x", "y"], shuffle=False).batch(4).map(
        lambda b: seen.append(b.shape) or b * 2, input_columns="y")
    assert [b[1].asnumpy().tolist() for b in data] == [[0, 2, 4, 6], [8, 10]]
    assert seen == [(4,), (2,)]


def test_map_per_sample_callables_and_multiple_columns():
    x, y = points(5)
    data = ds.NumpySlicesDataset((x, y), ["x", "y"], shuffle=False).map(
        lambda a, b: (a.sum(), b + 1), input_columns=["x", "y"]).batch(5)
    out = next(iter(data))
    assert out[0].asnumpy().tolist() == [1, 5, 9, 13, 17] and out[1].asnumpy().tolist() == [1, 2, 3, 4, 5]


def test_slots_count_every_operation_in_pipeline_order():
    x, y = points(4)
    gen = mc.Generator().manual_seed(5)
    data = ds.NumpySlicesDataset((x, y), ["x", "y"], shuffle=False, generator=gen).map(
        [np.negative, transforms.Compose([np.negative])], "x").map(transforms.RandomNoise(1.0), "x").batch(4)
    got = next(iter(data))[0].asnumpy()
    start = 4 * (3 * 2 ** 56 + 2 * 1)  # slot 2, sample 2, K = 2 words
    assert np.array_equal(got[2], x[2] + mc.random.normal(5, 0, (2,), start=start))


def test_generator_dataset_random_access_source():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i]), np.int64(i)

    data = ds.GeneratorDataset(Squares(), ["pair", "i"], shuffle=False).batch(3)
    out = list(data)
    assert out[2][0].asnumpy().tolist() == [[6, 36]] and out[0][1].asnumpy().tolist() == [0, 1, 2]
    one = ds.GeneratorDataset([np.ones(2) * i for i in range(3)], "v", shuffle=False).batch(3)
    assert next(iter(one))[0].asnumpy()[:, 0].tolist() == [0, 1, 2]


def test_source_getitem_error_names_the_index():
    class Broken:
        def __len__(self):
            return 10

        def __getitem__(self, i):
            if i == 7:
                raise KeyError("missing file")
            return np.float32(i)

    for workers in (1, 3):
        data = ds.GeneratorDataset(Broken(), ["v"], shuffle=False)
        data = data.map(np.negative, num_parallel_workers=workers).batch(3)
        with pytest.raises(RuntimeError, match=r"For 'GeneratorDataset', 'source' must be indexable at every index "
                                               r"below its length, but got KeyError at index 7: 'missing file'\."):
            list(data)


def test_failing_map_raises_in_the_caller_without_hanging_or_moving():
    def fail_on_13(v):
        if v == 13:
            raise ArithmeticError("bad sample")
        return v

    x = np.arange(40, dtype=np.int64)
    gen = mc.Generator()
    it = ds.NumpySlicesDataset(x, generator=gen, shuffle=False).map(fail_on_13, num_parallel_workers=3) \
        .batch(4).create_tuple_iterator()
    errors = []

    def consume():
        try:
            for _ in it:
                pass
        except RuntimeError as error:
            errors.append(str(error))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == ["For 'map', 'operation fail_on_13' must be a callable that runs on every sample, but got "
                      "ArithmeticError on sample 13: bad sample."]
    assert (int(it.epoch.asnumpy()), int(it.batch.asnumpy())) == (0, 3)
    with pytest.raises(RuntimeError, match="ArithmeticError on sample 13"):
        next(it)  # again, deterministically
    assert int(it.batch.asnumpy()) == 3


def test_failed_first_batch_reserves_no_offset():
    x = np.zeros((4, 3, 3, 1), np.uint8)
    gen = mc.Generator().manual_seed(2)
    it = ds.NumpySlicesDataset(x, generator=gen).map(vision.RandomCrop(5)).batch(2).create_tuple_iterator()
    with pytest.raises(ValueError, match=r"For 'RandomCrop', 'size' must be at most the padded image size \(3, 3\), "
                                         r"but got \(5, 5\)\."):
        next(it)
    assert [int(t) for t in gen.get_state()] == [2, 0]
    assert [int(p.asnumpy()) for p in (it.epoch, it.batch, it.epoch_offset)] == [0, 0, 0]


def test_shards_default_from_communication(monkeypatch):
    x, y = points(6)
    data = ds.NumpySlicesDataset((x, y)).batch(6)
    monkeypatch.delitem(sys.modules, "minicell.communication", raising=False)
    assert data.shards() == (1, 0)
    fake = types.SimpleNamespace(get_group_size=lambda: 3, get_rank=lambda: 2)
    monkeypatch.setitem(sys.modules, "minicell.communication", fake)
    assert data.shards() == (3, 2)
    batch = next(data.create_tuple_iterator())
    assert batch.rows == range(4, 6) and batch[0].shape == (2, 2) and batch.global_rows == 6
    assert ds.NumpySlicesDataset((x, y), num_shards=1, shard_id=0).shards() == (1, 0)

    def not_initialized():
        raise RuntimeError("init() first")

    monkeypatch.setitem(sys.modules, "minicell.communication", types.SimpleNamespace(get_group_size=not_initialized))
    assert data.shards() == (1, 0)
    monkeypatch.setitem(sys.modules, "minicell.communication",
                        types.SimpleNamespace(is_initialized=lambda: False, get_group_size=lambda: 4))
    assert data.shards() == (1, 0)


def test_empty_shard_keeps_column_shapes():
    x = np.zeros((5, 4, 4, 3), np.uint8)
    data = ds.NumpySlicesDataset(x, num_shards=4, shard_id=0, shuffle=False).map(
        [vision.Normalize([0, 0, 0], [1, 1, 1]), vision.HWC2CHW()]).batch(4)
    last = list(data)[1]  # the short last batch has 1 row, which shard 3 holds
    assert last[0].shape == (0, 3, 4, 4) and last[0].dtype == np.float32 and last.rows == range(0, 0)
    assert last.sample_ids.shape == (0,) and last.global_rows == 1


class NoLen:
    def __getitem__(self, i):
        return i


@pytest.mark.parametrize("make, error, message", [
    (lambda: ds.NumpySlicesDataset((np.zeros(3), np.zeros(4)), ["a", "b"]), ValueError,
     r"For 'NumpySlicesDataset', 'data' must be columns of the same first dimension, but got \{'a': 3, 'b': 4\}\."),
    (lambda: ds.NumpySlicesDataset(5), TypeError,
     r"For 'NumpySlicesDataset', 'data' must be an array, a list, a tuple of arrays or a dict of arrays, but got 5\."),
    (lambda: ds.NumpySlicesDataset(()), ValueError, r"For 'NumpySlicesDataset', 'data' must be at least one column"),
    (lambda: ds.NumpySlicesDataset((np.zeros(3), np.float32(1))), ValueError,
     r"For 'NumpySlicesDataset', 'data' must be numeric arrays with a first dimension, one per column, "
     r"but got a column of dtype float32 and shape \(\)\."),
    (lambda: ds.NumpySlicesDataset([[1, 2], [3]]), ValueError,
     r"For 'NumpySlicesDataset', 'data' must be numeric arrays with a first dimension, one per column, "
     r"but got a ragged sequence\."),
    (lambda: ds.NumpySlicesDataset(np.array(["a", "b"])), ValueError,
     r"For 'NumpySlicesDataset', 'data' must be numeric arrays with a first dimension, one per column, "
     r"but got a column of dtype <U1"),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), ["a", "b"]), ValueError,
     r"For 'NumpySlicesDataset', 'column_names' must be 1 names, one per column, but got \['a', 'b'\]\."),
    (lambda: ds.NumpySlicesDataset((np.zeros(3), np.zeros(3)), ["a", "a"]), ValueError,
     r"For 'NumpySlicesDataset', 'column_names' must be distinct names"),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), [1]), TypeError,
     r"For 'NumpySlicesDataset', 'column_names' must be a list of non-empty strs"),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), shuffle=1), TypeError,
     r"For 'NumpySlicesDataset', 'shuffle' must be a bool, but got 1\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), num_shards=2, shard_id=2), ValueError,
     r"For 'NumpySlicesDataset', 'shard_id' must be an int in \[0, 2\), but got 2\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), num_shards=2, shard_id=-1), ValueError,
     r"For 'NumpySlicesDataset', 'shard_id' must be an int in \[0, 2\), but got -1\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), num_shards=0, shard_id=0), ValueError,
     r"For 'NumpySlicesDataset', 'num_shards' must be an int in \[1, inf\), but got 0\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), shard_id=0), ValueError,
     r"For 'NumpySlicesDataset', 'shard_id' must be given together with 'num_shards' \(both or neither\), "
     r"but got num_shards=None and shard_id=0\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(3), generator=7), TypeError,
     r"For 'NumpySlicesDataset', 'generator' must be a Generator or None, but got 7\."),
    (lambda: ds.GeneratorDataset(NoLen(), ["a"]), TypeError,
     r"For 'GeneratorDataset', 'source' must be a random-access object with __getitem__ and __len__"),
    (lambda: ds.GeneratorDataset([1, 2], None), TypeError,
     r"For 'GeneratorDataset', 'column_names' must be a str or a list of strs, but got None\."),
    (lambda: ds.GeneratorDataset([1, 2], ["a"], num_shards=3, shard_id=5), ValueError,
     r"For 'GeneratorDataset', 'shard_id' must be an int in \[0, 3\), but got 5\."),
])
def test_source_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


DATA = ds.NumpySlicesDataset({"x": np.zeros((4, 2), np.float32), "y": np.zeros(4)})


@pytest.mark.parametrize("make, error, message", [
    (lambda: DATA.map(vision.HWC2CHW(), input_columns="z"), ValueError,
     r"For 'map', 'input_columns' must be names of columns of the dataset \['x', 'y'\], but got 'z'\."),
    (lambda: DATA.map(vision.HWC2CHW(), input_columns=["x", "y"]), ValueError,
     r"For 'map', 'input_columns' must be one column \(minicell transforms take one column\), but got \['x', 'y'\]\."),
    (lambda: DATA.map(np.abs, input_columns=["x", "x"]), ValueError, r"For 'map', 'input_columns' must be distinct "
                                                                     r"names"),
    (lambda: DATA.map(np.abs, input_columns=[]), TypeError,
     r"For 'map', 'input_columns' must be a column name or a non-empty list of names"),
    (lambda: DATA.map(3), TypeError, r"For 'map', 'operations' must be a Transform or a callable, but got 3\."),
    (lambda: DATA.map([]), ValueError, r"For 'map', 'operations' must be a Transform, a callable or a non-empty list"),
    (lambda: DATA.map(np.abs, num_parallel_workers=0), ValueError,
     r"For 'map', 'num_parallel_workers' must be an int in \[1, 65\), but got 0\."),
    (lambda: DATA.map([np.abs] * 256), ValueError, r"For 'map', 'operations' must be at most 255 in a pipeline, but "
                                                   r"got 256\."),
    (lambda: DATA.batch(0), ValueError, r"For 'batch', 'batch_size' must be an int in \[1, inf\), but got 0\."),
    (lambda: DATA.batch(2, drop_remainder=None), TypeError, r"For 'batch', 'drop_remainder' must be a bool, but got "
                                                            r"None\."),
    (lambda: DATA.batch(2).batch(2), ValueError, r"For 'batch', 'dataset' must be one not batched already, but got "
                                                 r"one with batch_size 2\."),
    (lambda: DATA.create_tuple_iterator(num_epochs=0), ValueError,
     r"For 'create_tuple_iterator', 'num_epochs' must be -1 or an int >= 1, but got 0\."),
    (lambda: DATA.create_dict_iterator(num_epochs=-2), ValueError,
     r"For 'create_dict_iterator', 'num_epochs' must be an int in \[-1, inf\), but got -2\."),
    (lambda: DATA.create_tuple_iterator(columns=["w"]), ValueError,
     r"For 'create_tuple_iterator', 'columns' must be names of columns of the dataset \['x', 'y'\], but got 'w'\."),
    (lambda: DATA.create_tuple_iterator(output_numpy="yes"), TypeError,
     r"For 'create_tuple_iterator', 'output_numpy' must be a bool, but got 'yes'\."),
    (lambda: ds.NumpySlicesDataset(np.zeros(4), num_shards=2, shard_id=0).create_tuple_iterator(), ValueError,
     r"For 'create_tuple_iterator', 'dataset' must be batched when read by 2 shards \(shards split global "
     r"batches\), but got one without batch\(\)\."),
])
def test_pipeline_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("source, message", [
    ([(np.zeros(2), np.zeros(1)), (np.zeros(3), np.zeros(1))],
     r"For 'GeneratorDataset', 'column a' must be of one shape in every item, but got shapes \[\(2,\), \(3,\)\]\."),
    ([(np.zeros(2),)] * 2, r"For 'GeneratorDataset', 'source\[0\]' must be 2 columns \['a', 'b'\], but got 1\."),
])
def test_source_item_errors(source, message):
    with pytest.raises(ValueError, match=message):
        list(ds.GeneratorDataset(source, ["a", "b"], shuffle=False).batch(2))


def test_callable_returning_wrong_column_count():
    data = DATA.map(lambda a, b: a, input_columns=["x", "y"]).batch(2)
    with pytest.raises(RuntimeError, match=r"For 'map', 'operation <lambda>' must be a callable that runs on every "
                                           r"sample, but got ValueError on sample \d: For 'map', 'operation <lambda>' "
                                           r"must be a callable returning 2 columns, but got 1 returned\."):
        next(iter(data))


def test_compute_then_reserve_recomputes_when_another_reservation_came_first():
    from minicell.dataset.counters import compute_then_reserve

    gen = mc.Generator().manual_seed(4)
    calls = []

    def compute(seed, offset):
        calls.append(offset)
        if len(calls) == 1:
            gen(1)  # another user of the generator reserves offset 0 meanwhile
        return offset * 10

    assert compute_then_reserve(gen, compute) == (4, 1, 10)
    assert calls == [0, 1] and int(gen.get_state()[1]) == 2
