"""Checkpoints: round trips for every dtype, load semantics, atomic writes, corrupt files."""
import os
import signal
import subprocess
import sys
import time

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


def test_save_errors():
    with pytest.raises(TypeError, match="save_obj"):
        mc.save_checkpoint(3, "/tmp/never.ckpt")
    with pytest.raises(TypeError, match="'name' and 'data'"):
        mc.save_checkpoint([{"name": "a"}], "/tmp/never.ckpt")
    with pytest.raises(ValueError, match="'name' must be a non-empty str"):
        mc.save_checkpoint({"": np.zeros(1)}, "/tmp/never.ckpt")
    assert not os.path.exists("/tmp/never.ckpt")


SAVER = """
import sys, numpy as np, minicell as mc
path = sys.argv[1]
big = np.arange(200_000, dtype=np.float64)
i = 0
while True:
    i += 1
    mc.save_checkpoint({"counter": np.array(i), "big": big + i}, path)
    print(i, flush=True)
"""


def test_killed_saver_process_never_leaves_an_unreadable_checkpoint_nor_temporary_files(tmp_path):
    path = tmp_path / "live.ckpt"
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()  # at least one complete save
            assert first.strip(), "saver produced nothing"
            time.sleep(0.05 * attempt)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        loaded = mc.load_checkpoint(path)
        i = int(loaded["counter"])
        assert (loaded["big"].asnumpy() == np.arange(200_000) + i).all()
    mc.save_checkpoint({"counter": np.array(0), "big": np.zeros(1)}, path)  # removes what the killed savers left
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
