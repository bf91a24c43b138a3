"""Checkpoints: round trips for every dtype, load semantics, atomic writes, corrupt files."""
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minicell as mc
from tests.test_cell import Net, tree

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64]


@given(data=st.data())
def test_every_dtype_round_trips_bit_exactly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("ckpt") / "all.ckpt"
    arrays = {f"p{i}": data.draw(hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_side=3)))
              for i, dt in enumerate(DTYPES)}
    mc.save_checkpoint(arrays, path)
    loaded = mc.load_checkpoint(path)
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].asnumpy().tobytes() == array.tobytes()


def test_uint64_extremes_round_trip(tmp_path):
    values = np.array([0, 2**63, 2**64 - 1], np.uint64)
    mc.save_checkpoint([{"name": "state", "data": values}], tmp_path / "u")
    assert (tmp_path / "u.ckpt").exists()
    assert mc.load_checkpoint(tmp_path / "u")["state"].asnumpy().tolist() == values.tolist()


@given(model=tree(2))
def test_random_trees_round_trip_through_a_net(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("tree") / "m.ckpt"
    rng = np.random.default_rng(0)
    for p in model.get_parameters():
        p.set_data(rng.standard_normal(p.shape))
    mc.save_checkpoint(model, path)
    loaded = mc.load_checkpoint(path)
    assert [(n, p.requires_grad) for n, p in loaded.items()] == \
           [(n, p.requires_grad) for n, p in model.parameters_and_names()]
    before = {n: p.asnumpy() for n, p in model.parameters_and_names()}
    for p in model.get_parameters():
        p.set_data(np.zeros(p.shape))
    assert mc.load_param_into_net(model, loaded, strict_load=True) == ([], [])
    assert all((p.asnumpy() == before[n]).all() for n, p in model.parameters_and_names())


def test_load_param_into_net_reports_and_copies_in_place(tmp_path):
    net = Net()
    weight = net.fc1.weight
    values = {"fc1.weight": np.array([7, 8], np.float32), "unknown": np.zeros(1)}
    missing, unexpected = mc.load_param_into_net(net, values)
    assert net.fc1.weight is weight and weight.asnumpy().tolist() == [7, 8]
    assert missing == ["step", "blocks.0.weight", "blocks.1.weight"] and unexpected == ["unknown"]


@pytest.mark.parametrize("bad", [
    {"fc1.weight": np.zeros(3, np.float32)},               # shape
    {"fc1.weight": np.zeros(2, np.float64)},               # dtype
    {"blocks.0.weight": np.ones(2, np.float32), "step": np.zeros((), np.int32)},  # second one bad
])
def test_mismatch_raises_naming_the_parameter_and_changes_nothing(bad):
    net = Net()
    before = {n: p.asnumpy() for n, p in net.parameters_and_names()}
    with pytest.raises(ValueError, match="load_param_into_net.*'(fc1.weight|step)'"):
        mc.load_param_into_net(net, bad)
    assert all((p.asnumpy() == before[n]).all() for n, p in net.parameters_and_names())


def test_strict_load_refuses_missing_or_unexpected_names_and_changes_nothing():
    net = Net()
    full = {n: p.asnumpy() + 1 for n, p in net.parameters_and_names()}
    partial = dict(list(full.items())[1:])
    for values in (partial, {**full, "extra": np.zeros(1)}):
        with pytest.raises(ValueError, match="strict_load"):
            mc.load_param_into_net(net, values, strict_load=True)
        assert net.fc1.weight.asnumpy().tolist() == [0, 1]


def test_corrupt_truncated_and_foreign_files_raise_value_errors_naming_the_file(tmp_path):
    good = tmp_path / "good.ckpt"
    mc.save_checkpoint(Net(), good)
    data = good.read_bytes()
    cases = {
        "truncated.ckpt": data[: len(data) // 2],
        "garbage.ckpt": b"not a checkpoint at all",
        "flipped.ckpt": data[:40] + bytes(b ^ 0xFF for b in data[40:200]) + data[200:],
        "empty.ckpt": b"",
    }
    foreign = tmp_path / "foreign.ckpt"
    with open(foreign, "wb") as f:
        np.savez(f, x=np.zeros(2))
    pickled = tmp_path / "pickled.ckpt"
    with open(pickled, "wb") as f:
        np.savez(f, __minicell_format__=np.array(1),
                 __minicell_meta__=np.frombuffer(b'{"names": ["x"], "requires_grad": [false]}', np.uint8),
                 x=np.array([object()], dtype=object))
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    for name in list(cases) + ["foreign.ckpt", "pickled.ckpt"]:
        with pytest.raises(ValueError, match=f"load_checkpoint.*{name}"):
            mc.load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mc.load_checkpoint(tmp_path / "missing.ckpt")


def test_save_errors(tmp_path):
    never = tmp_path / "never.ckpt"
    with pytest.raises(TypeError, match="save_obj"):
        mc.save_checkpoint(3, never)
    with pytest.raises(TypeError, match="'name' and 'data'"):
        mc.save_checkpoint([{"name": "a"}], never)
    with pytest.raises(ValueError, match="'name' must be a non-empty str"):
        mc.save_checkpoint({"": np.zeros(1)}, never)
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


# The saver saves in a loop; in save number AT it stops at STAGE, prints where, and waits for the
# test's SIGKILL. The stages hook the os calls every atomic write makes (open the temporary file,
# write, fsync, rename), so the kill is known to land inside a save, at that point of it.
SAVER = """
import os, sys, threading, numpy as np, minicell as mc
path, stage, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
big = np.arange(200_000, dtype=np.float64)
count = [0]
real_fdopen, real_fsync, real_replace = os.fdopen, os.fsync, os.replace

def stop(where):
    print(f"stopped {where} in save {count[0]}", flush=True)
    threading.Event().wait()  # until SIGKILL

class HalfWriter:
    def __init__(self, handle):
        self.handle, self.written = handle, 0
    def write(self, data):
        data = memoryview(data).cast("B")
        if self.written + len(data) > 400_000:  # a quarter of the 1.6 MB array: stop mid-write
            cut = 400_000 - self.written
            self.handle.write(data[:cut])
            self.handle.flush()
            stop("mid-write")
        self.written += len(data)
        return self.handle.write(data)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)
    def __getattr__(self, name):
        return getattr(self.handle, name)

def fdopen(fd, *args, **kwargs):
    handle = real_fdopen(fd, *args, **kwargs)
    return HalfWriter(handle) if stage == "mid-write" and count[0] == at else handle

def fsync(fd):
    real_fsync(fd)
    if stage == "after-fsync" and count[0] == at and os.path.isfile(f"/proc/self/fd/{fd}"):
        stop("after-fsync")

def replace(src, dst):
    real_replace(src, dst)
    if stage == "after-rename" and count[0] == at:
        stop("after-rename")

os.fdopen, os.fsync, os.replace = fdopen, fsync, replace
while True:
    count[0] += 1
    mc.save_checkpoint({"counter": np.array(count[0]), "big": big + count[0]}, path)
    print(count[0], flush=True)
"""


@pytest.mark.parametrize("stage, at, survivor", [
    ("mid-write", 1, None),  # the first save never completed: no checkpoint at all
    ("mid-write", 3, 2),
    ("after-fsync", 2, 1),  # written and on disk, not yet renamed: the old file stays
    ("after-rename", 2, 2),  # renamed, folder not yet synced: the new file is there
])
def test_saver_killed_inside_a_save_leaves_the_old_or_the_new_checkpoint_and_no_torn_file(tmp_path, stage, at,
                                                                                          survivor):
    path = tmp_path / "live.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), stage, str(at)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    safety_net = threading.Timer(60, proc.kill)  # only if the saver never reaches the marker
    safety_net.start()
    try:
        lines = [proc.stdout.readline() for _ in range(at)]  # saves 1 .. at-1 completed, then the marker
    finally:
        safety_net.cancel()
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    assert lines == [f"{i}\n" for i in range(1, at)] + [f"stopped {stage} in save {at}\n"], err
    assert proc.returncode == -signal.SIGKILL  # killed by the test, inside save number `at`
    temps = [name for name in os.listdir(tmp_path) if name.endswith(".minicell-tmp")]
    assert len(temps) == (0 if stage == "after-rename" else 1)  # the kill left the save unfinished
    if survivor is None:
        assert not path.exists()
    else:
        loaded = mc.load_checkpoint(path)
        assert int(loaded["counter"]) == survivor
        assert (loaded["big"].asnumpy() == np.arange(200_000) + survivor).all()
    mc.save_checkpoint({"counter": np.array(0), "big": np.zeros(1)}, path)  # removes what the killed saver left
    assert os.listdir(tmp_path) == ["live.ckpt"]


# ----- keys are Parameter names (MindSpore), not structural paths ---------------------------------
class Flat(mc.Cell):
    def __init__(self):
        super().__init__()
        self.x = mc.Parameter(np.array([1, 2], np.float32), name="enc.w")
        self.y = mc.Parameter(np.array(3, np.int64), name="step")


class Nested(mc.Cell):
    def __init__(self):
        super().__init__()
        self.enc = mc.Cell()
        self.enc.w = mc.Parameter(np.zeros(2, np.float32))
        self.step = mc.Parameter(np.array(0, np.int64))


def test_checkpoints_are_keyed_by_parameter_name_and_load_by_name(tmp_path):
    flat, nested = Flat(), Nested()
    assert [n for n, _ in flat.parameters_and_names()] == ["x", "y"]  # paths stay structural
    assert [p.name for p in nested.get_parameters()] == ["step", "enc.w"]
    mc.save_checkpoint(flat, tmp_path / "flat")
    loaded = mc.load_checkpoint(tmp_path / "flat")
    assert list(loaded) == ["enc.w", "step"] and [p.name for p in loaded.values()] == ["enc.w", "step"]
    assert mc.load_param_into_net(nested, loaded, strict_load=True) == ([], [])
    assert nested.enc.w.asnumpy().tolist() == [1, 2] and int(nested.step) == 3
    assert mc.load_param_into_net(flat, {"x": np.zeros(2, np.float32)}) == (["enc.w", "step"], ["x"])


def test_a_parameter_without_a_name_is_saved_under_its_path(tmp_path):
    net = Nested()
    net.enc.w.name = None
    mc.save_checkpoint(net, tmp_path / "n")
    assert list(mc.load_checkpoint(tmp_path / "n")) == ["step", "enc.w"]
    fresh = Nested()
    fresh.enc.w.name = None
    assert mc.load_param_into_net(fresh, mc.load_checkpoint(tmp_path / "n")) == ([], [])


def test_load_checkpoint_into_a_net(tmp_path):
    mc.save_checkpoint(Flat(), tmp_path / "f")
    net = Nested()
    mc.load_checkpoint(tmp_path / "f", net=net, strict_load=True)
    assert net.enc.w.asnumpy().tolist() == [1, 2]
