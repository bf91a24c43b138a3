"""The contract of minicell.dataset, line by line (see its package docstring).

Hypothesis draws dataset sizes, batch sizes, worker counts and shard counts; the reference is
always the unsharded run with one worker. The mid-epoch checkpoint is resumed in a new process,
at another world size.
"""
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import dataset as ds
from minicell._runtime.sharding import shard_bounds
from minicell.dataset import transforms, vision
from minicell.random import permutation

ROOT = Path(__file__).resolve().parents[1]
SEED = 11


def build(n, batch, workers=1, shards=None, shard_id=None, drop=False, shuffle=True, seed=SEED):
    """Points with jitter and small images with crop, flip, normalize, erasing: every kind of step."""
    points = (np.arange(3 * n, dtype=np.float32).reshape(n, 3) * 0.5)
    images = (np.arange(n * 6 * 5 * 3) % 251).astype(np.uint8).reshape(n, 6, 5, 3)
    data = ds.NumpySlicesDataset({"x": points, "image": images, "label": np.arange(n) % 3}, shuffle=shuffle,
                                 num_shards=shards, shard_id=shard_id, generator=mc.Generator().manual_seed(seed))
    data = data.map(transforms.RandomNoise(0.5), "x", num_parallel_workers=workers)
    data = data.map(transforms.Compose([vision.RandomCrop((4, 4), padding=1), vision.RandomHorizontalFlip(),
                                        vision.RandomVerticalFlip(0.3), vision.Normalize([100, 90, 80], [50, 60, 70]),
                                        vision.HWC2CHW(), vision.RandomErasing(0.5)]), "image",
                    num_parallel_workers=workers)
    data = data.map(lambda label: label * 10, "label")
    return data.batch(batch, drop)


def record(out):
    return {"x": out[0].asnumpy(), "image": out[1].asnumpy(), "label": out[2].asnumpy(),
            "rows": out.rows, "ids": out.sample_ids}


def run(data, epochs):
    it = data.create_tuple_iterator(num_epochs=epochs)
    return [[record(out) for out in it] for _ in range(epochs)]


def assert_same(a, b):
    assert a["rows"] == b["rows"]
    for key in ("x", "image", "label", "ids"):
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def join(parts):
    """Shards of one batch, concatenated in rank order."""
    joined = {key: np.concatenate([p[key] for p in parts]) for key in ("x", "image", "label", "ids")}
    joined["rows"] = range(parts[0]["rows"].start, parts[-1]["rows"].stop)
    return joined


sizes = st.integers(0, 29)
batches = st.integers(1, 8)


@settings(max_examples=20)
@given(n=sizes, batch=batches, workers=st.integers(2, 4), drop=st.booleans(), shuffle=st.booleans())
def test_workers_never_change_a_value_or_the_order(n, batch, workers, drop, shuffle):
    reference = run(build(n, batch, drop=drop, shuffle=shuffle), 2)
    threaded = run(build(n, batch, workers, drop=drop, shuffle=shuffle), 2)
    assert [len(e) for e in threaded] == [len(e) for e in reference]
    for ours, theirs in zip(sum(threaded, []), sum(reference, [])):
        assert_same(ours, theirs)


@settings(max_examples=20)
@given(n=sizes, batch=batches, shards=st.integers(2, 5), workers=st.integers(1, 2), drop=st.booleans())
def test_shards_are_the_global_batch_cut_by_shard_bounds(n, batch, shards, workers, drop):
    reference = run(build(n, batch, drop=drop), 2)
    per_rank = [run(build(n, batch, workers, shards, r, drop), 2) for r in range(shards)]
    for e, epoch in enumerate(reference):
        for k, whole in enumerate(epoch):
            parts = [per_rank[r][e][k] for r in range(shards)]
            for r, part in enumerate(parts):
                lo, hi = shard_bounds(len(whole["ids"]), shards, r)
                assert part["rows"] == range(lo, hi) and np.array_equal(part["ids"], whole["ids"][lo:hi])
            assert_same(join(parts), whole)


@settings(max_examples=20)
@given(n=st.integers(1, 29), batch_a=batches, batch_b=batches, epochs=st.integers(1, 3))
def test_order_is_one_permutation_per_epoch_and_samples_keep_their_numbers_at_any_batch_size(n, batch_a, batch_b,
                                                                                             epochs):
    runs = [run(build(n, b), epochs) for b in (batch_a, batch_b)]
    for e in range(epochs):
        order = permutation(SEED, e, n)  # a fresh Generator reserves offsets 0, 1, 2, ... per epoch
        flat = [join(runs[i][e]) for i in range(2)]
        assert np.array_equal(flat[0]["ids"], order) and np.array_equal(flat[1]["ids"], order)
        for key in ("x", "image", "label"):
            assert np.array_equal(flat[0][key], flat[1][key])


def test_each_epoch_gives_new_numbers_and_no_shuffle_keeps_order():
    epochs = run(build(12, 12, shuffle=False), 2)
    assert epochs[0][0]["ids"].tolist() == epochs[1][0]["ids"].tolist() == list(range(12))
    jitter = [e[0]["x"] - np.arange(36, dtype=np.float32).reshape(12, 3) * 0.5 for e in epochs]
    assert not np.any(jitter[0] == jitter[1])
    assert 0.3 < float(np.std(np.concatenate(jitter))) < 0.7  # std 0.5 jitter


def test_the_same_sample_in_two_batches_of_one_epoch_gets_the_same_numbers():
    class Repeats:  # a source where index i and a copy of it at i + 5 hold the same data
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return np.full(4, i % 5, np.float32)

    out = next(iter(ds.GeneratorDataset(Repeats(), ["v"], shuffle=False).map(transforms.RandomNoise(1.0)).batch(10)))
    values = out[0].asnumpy()
    assert not np.array_equal(values[0], values[5])  # the index, not the content, picks the numbers


def snapshot(cell):
    return {name: p.asnumpy().copy() for name, p in cell.parameters_and_names()}


@settings(max_examples=20)
@given(n=st.integers(1, 25), batch=batches, stop=st.integers(0, 12), shards_after=st.integers(1, 4),
       workers=st.integers(1, 3))
def test_resume_anywhere_at_any_world_size_continues_the_uninterrupted_run(n, batch, stop, shards_after, workers):
    reference = sum(run(build(n, batch), 3), [])
    stop = min(stop, len(reference))
    it = build(n, batch, workers).create_tuple_iterator(num_epochs=3)
    taken = 0
    while taken < stop:  # consume `stop` batches across epoch ends, as a training loop would
        try:
            next(it)
            taken += 1
        except StopIteration:
            pass
    state = snapshot(it)
    resumed = []
    for r in range(shards_after):
        fresh = build(n, batch, 1, shards_after, r, seed=999).create_tuple_iterator(num_epochs=3)
        mc.load_param_into_net(fresh, state, strict_load=True)
        outputs = []
        for _ in range(3):
            outputs.extend(record(out) for out in fresh)
        resumed.append(outputs)
    assert all(len(outputs) == len(reference) - stop for outputs in resumed)
    for k, whole in enumerate(reference[stop:]):
        assert_same(join([resumed[r][k] for r in range(shards_after)]), whole)


class TrainingState(mc.Cell):
    """A model, its dropout generator and the data iterator: one checkpoint holds them all."""

    def __init__(self, iterator):
        super().__init__()
        self.model = mc.nn.Dense(3, 2, generator=mc.Generator().manual_seed(1))
        self.data = iterator


RESUME = """
import json, sys
import numpy as np
import minicell as mc
from tests.test_dataset_contract import TrainingState, build, record
ckpt, out = sys.argv[1], sys.argv[2]
params = mc.load_checkpoint(ckpt)
batches = []
for r in range(2):  # the resumed run has two shards
    state = TrainingState(build(23, 5, 2, 2, r, seed=0).create_tuple_iterator(num_epochs=2))
    not_loaded, unused = mc.load_param_into_net(state, params, strict_load=True)
    batches.append([record(b) for epoch in range(2) for b in state.data])
joined = {key: np.concatenate([b[key] for r in range(2) for b in batches[r]]) for key in ("x", "image", "label", "ids")}
np.savez(out, **joined)
print(json.dumps([[b["rows"].start, b["rows"].stop] for b in batches[0]]))
"""


def test_mid_epoch_checkpoint_resumes_in_a_new_process_at_another_world_size(tmp_path):
    reference = sum(run(build(23, 5), 2), [])  # 5 batches per epoch
    state = TrainingState(build(23, 5, 2).create_tuple_iterator(num_epochs=2))
    for _ in range(5):
        next(state.data)
    with contextlib.suppress(StopIteration):
        next(state.data)
    next(state.data)
    next(state.data)  # epoch 1, two batches in
    assert (int(state.data.epoch.asnumpy()), int(state.data.batch.asnumpy())) == (1, 2)
    mc.save_checkpoint(state, tmp_path / "state.ckpt")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "state.ckpt"), str(tmp_path / "out.npz")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    remaining = reference[7:]
    assert len(rows) == len(remaining) == 3
    assert rows == [[0, shard_bounds(len(b["ids"]), 2, 0)[1]] for b in remaining]
    with np.load(tmp_path / "out.npz", allow_pickle=False) as got:
        # shard 0's three batches, then shard 1's: regroup the reference the same way
        for key in ("x", "image", "label", "ids"):
            halves = [np.concatenate([b[key][slice(*shard_bounds(len(b["ids"]), 2, r))] for b in remaining])
                      for r in range(2)]
            assert np.array_equal(got[key], np.concatenate(halves)), key
