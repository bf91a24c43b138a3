"""Checkpoint formats: npz, safetensors and MindSpore's ckpt round-trip every dtype and layer bit for
bit, through each other too; the formats' own readers read minicell's files; the format is
detected from content; files written by MindSpore 2.7.0 load; import minicell stays light."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minicell as mc
from minicell import nn
from minicell._checkpoint import mindspore_ckpt

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "mindspore270"
FORMATS = ["npz", "safetensors", "ckpt"]
SUFFIX = {"npz": ".ckpt", "safetensors": ".safetensors", "ckpt": ".ckpt"}
DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64]


def reference():
    """The values of the MindSpore-written files in tests/data/mindspore270 (see its README)."""
    ref = {f"p_{np.dtype(dt).name}": ((np.arange(6) % 2) if dt == np.bool_ else (np.arange(6) * 7 + 1)).astype(dt)
           .reshape(2, 3) for dt in DTYPES}
    ref["gen.seed"] = np.array(2**64 - 1, np.uint64)
    ref["scalar_f"] = np.array(1.5, np.float32)
    return ref


def parse_ckpt(path):
    """The file parsed with the Checkpoint schema (protobuf), as MindSpore parses it."""
    checkpoint_class, _ = mindspore_ckpt.message_classes()
    message = checkpoint_class()
    message.ParseFromString(Path(path).read_bytes())
    return message


# ----- every dtype, bit for bit ----------------------------------------------------------------
@pytest.mark.parametrize("format", FORMATS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_dtype_round_trips_bit_exactly(tmp_path_factory, format, data):
    path = tmp_path_factory.mktemp(format) / "all"
    arrays = {f"p{i}": data.draw(hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_side=3)))
              for i, dt in enumerate(DTYPES)}
    arrays["seed"] = np.array(2**64 - 1, np.uint64)
    mc.save_checkpoint(arrays, path, format=format)
    loaded = mc.load_checkpoint(str(path) + SUFFIX[format])
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].asnumpy().tobytes() == array.tobytes()


def test_npz_to_safetensors_to_ckpt_to_npz_is_bit_equal(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {f"x.{np.dtype(dt).name}": rng.integers(0, 2, (3, 2, 2)).astype(dt) if dt == np.bool_ else
              rng.standard_normal((3, 2, 2)).astype(dt) if np.dtype(dt).kind == "f" else
              rng.integers(np.iinfo(dt).min, np.iinfo(dt).max, (3, 2, 2), dtype=dt, endpoint=True) for dt in DTYPES}
    arrays["nan"] = np.array([np.nan, -0.0, np.inf], np.float32)
    mc.save_checkpoint(arrays, tmp_path / "a", format="npz")
    mc.save_checkpoint(mc.load_checkpoint(tmp_path / "a.ckpt"), tmp_path / "b", format="safetensors")
    mc.save_checkpoint(mc.load_checkpoint(tmp_path / "b.safetensors"), tmp_path / "c", format="ckpt")
    mc.save_checkpoint(mc.load_checkpoint(tmp_path / "c.ckpt"), tmp_path / "d.npz.ckpt", format="npz")
    final = mc.load_checkpoint(tmp_path / "d.npz.ckpt")
    assert list(final) == list(arrays)
    assert all(final[k].asnumpy().tobytes() == v.tobytes() and final[k].dtype == v.dtype for k, v in arrays.items())


# ----- every layer: a network round-trips with the same outputs --------------------------------
class Zoo(mc.Cell):
    """One of every layer with Parameters, a Generator, and Adam's state."""

    def __init__(self, seed):
        super().__init__()
        g = mc.Generator().manual_seed(seed)
        self.dense = nn.Dense(4, 3, generator=g)
        self.conv1 = nn.Conv1d(2, 3, 3, has_bias=True, generator=g)
        self.conv2 = nn.Conv2d(2, 3, 3, has_bias=True, generator=g)
        self.bn1 = nn.BatchNorm1d(3)
        self.bn2 = nn.BatchNorm2d(3)
        self.ln = nn.LayerNorm((4,))
        self.embedding = nn.Embedding(10, 4, generator=g)
        self.attention = nn.MultiheadAttention(4, 2, add_bias_kv=True, generator=g)
        self.cross = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, generator=g)
        self.generator = g
        for p in (self.bn1.moving_mean, self.bn1.moving_variance, self.bn2.gamma, self.ln.beta):
            p.set_data(np.abs(ops_normal(p.shape, g)) + 0.5)

    def construct(self, x):
        seq = self.embedding(mc.Tensor(np.array([[1, 2, 3], [4, 5, 9]])))  # (2, 3, 4)
        image = x.reshape(2, 2, 2, 2)
        outputs = (self.dense(x), self.conv1(x.reshape(2, 2, 4)), self.bn2(self.conv2(image)),
                   self.bn1(self.conv1(x.reshape(2, 2, 4))), self.ln(x),
                   self.attention(seq, seq, seq)[0],
                   self.cross(seq, mc.Tensor(np.ones((5, 3, 3), np.float32)),
                              mc.Tensor(np.ones((5, 3, 5), np.float32)))[0])
        return tuple(o.asnumpy() for o in outputs)


def ops_normal(shape, generator):
    return mc.ops.normal(shape, 0.0, 1.0, generator=generator).asnumpy()


def zoo_with_optimizer(seed):
    net = Zoo(seed)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=0.1)
    state = mc.Cell()
    state.net, state.optimizer = net, optimizer
    return state


INPUT = mc.Tensor(np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)[:, :4].repeat(2, axis=1).reshape(4, 4))


@pytest.mark.parametrize("format", FORMATS)
def test_a_network_of_every_layer_round_trips_with_equal_outputs(tmp_path, format):
    source, target = zoo_with_optimizer(1), zoo_with_optimizer(2)
    source.net.set_train(False)
    target.net.set_train(False)
    source.optimizer.global_step.set_data(np.array(7, np.int64))
    expected = source.net(INPUT)
    assert any(not np.array_equal(a, b) for a, b in zip(expected, target.net(INPUT)))  # the test tests something
    mc.save_checkpoint(source, tmp_path / "zoo", format=format)
    loaded = mc.load_checkpoint(str(tmp_path / "zoo") + SUFFIX[format])
    assert mc.load_param_into_net(target, loaded, strict_load=True) == ([], [])
    for (name, a), (_, b) in zip(source.parameters_and_names(), target.parameters_and_names()):
        assert a.asnumpy().tobytes() == b.asnumpy().tobytes() and a.dtype == b.dtype, name
    assert all(np.array_equal(a, b) for a, b in zip(expected, target.net(INPUT)))
    assert target.net.generator.get_state()[0].asnumpy() == source.net.generator.get_state()[0].asnumpy()


# ----- the formats' own readers read our files ------------------------------------------------
def test_safetensors_numpy_reads_our_files_and_we_read_its_files(tmp_path):
    arrays = reference()
    mc.save_checkpoint(arrays, tmp_path / "ours", format="safetensors")
    theirs = safetensors.numpy.load_file(tmp_path / "ours.safetensors")
    assert set(theirs) == set(arrays)
    assert all(theirs[k].tobytes() == v.tobytes() and theirs[k].dtype == v.dtype and theirs[k].shape == v.shape
               for k, v in arrays.items())
    safetensors.numpy.save_file(arrays, tmp_path / "theirs.safetensors")
    loaded = mc.load_checkpoint(tmp_path / "theirs.safetensors")
    assert all(loaded[k].asnumpy().tobytes() == v.tobytes() for k, v in arrays.items())
    assert all(p.requires_grad for p in loaded.values() if p.dtype.kind == "f")  # no minicell metadata


def test_safetensors_keeps_order_and_requires_grad(tmp_path):
    net = mc.Cell()
    net.b = mc.Parameter(np.zeros(2, np.float32))
    net.a = mc.Parameter(np.ones((), np.int64), requires_grad=False)
    mc.save_checkpoint(net, tmp_path / "n", format="safetensors")
    loaded = mc.load_checkpoint(tmp_path / "n.safetensors")
    assert [(k, p.requires_grad) for k, p in loaded.items()] == [("b", True), ("a", False)]


def test_the_ckpt_file_parses_with_the_checkpoint_schema(tmp_path):
    arrays = reference()
    mc.save_checkpoint(arrays, tmp_path / "ours", format="ckpt")
    message = parse_ckpt(tmp_path / "ours.ckpt")
    assert [v.tag for v in message.value] == list(arrays)
    for value in message.value:
        array = arrays[value.tag]
        assert list(value.tensor.dims) == list(array.shape)
        assert value.tensor.tensor_type == mc.tensor.DTYPE_NAMES[array.dtype]
        assert value.tensor.tensor_content == array.tobytes()
    assert (tmp_path / "ours.ckpt").read_bytes() == (DATA / "all_dtypes.ckpt").read_bytes()  # as MindSpore writes


def test_large_arrays_are_split_as_mindspore_splits_and_joined_on_read(tmp_path, monkeypatch):
    monkeypatch.setattr(mindspore_ckpt, "SLICE_BYTES", 100)
    big = np.arange(7 * 5, dtype=np.float64).reshape(7, 5)  # 280 bytes: 3 slices of rows
    mc.save_checkpoint({"big": big, "small": np.array([1], np.int8)}, tmp_path / "s", format="ckpt")
    message = parse_ckpt(tmp_path / "s.ckpt")
    assert [v.tag for v in message.value] == ["big"] * 3 + ["small"]
    assert all(list(v.tensor.dims) == [7, 5] for v in message.value[:3])
    assert b"".join(v.tensor.tensor_content for v in message.value[:3]) == big.tobytes()
    assert mc.load_checkpoint(tmp_path / "s.ckpt")["big"].asnumpy().tobytes() == big.tobytes()


# ----- files written by MindSpore 2.7.0 --------------------------------------------------------
@pytest.mark.parametrize("name", ["all_dtypes.ckpt", "all_dtypes_crc.ckpt", "all_dtypes.safetensors"])
def test_files_written_by_mindspore_load_bit_exactly(name):
    loaded = mc.load_checkpoint(DATA / name)
    ref = reference()
    assert set(loaded) == set(ref)
    for k, v in ref.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        assert loaded[k].asnumpy().tobytes() == v.tobytes()


def test_an_encrypted_mindspore_file_is_refused_clearly():
    with pytest.raises(ValueError, match="it is an encrypted MindSpore checkpoint, which minicell cannot read"):
        mc.load_checkpoint(DATA / "all_dtypes_encrypted.ckpt")


# ----- detection and format= ---------------------------------------------------------------------
@pytest.mark.parametrize("format", FORMATS)
def test_the_format_is_detected_from_content_not_from_the_name(tmp_path, format):
    mc.save_checkpoint({"w": np.arange(3.0)}, tmp_path / "m", format=format)
    os.rename(str(tmp_path / "m") + SUFFIX[format], tmp_path / "misnamed.safetensors")
    loaded = mc.load_checkpoint(tmp_path / "misnamed.safetensors")
    assert loaded["w"].asnumpy().tolist() == [0, 1, 2]
    assert mc.load_checkpoint(tmp_path / "misnamed.safetensors", format=format)["w"].asnumpy().tolist() == [0, 1, 2]
    other = next(f for f in FORMATS if f != format)
    with pytest.raises(ValueError, match=f"must be a readable checkpoint in the format '{other}', but got "):
        mc.load_checkpoint(tmp_path / "misnamed.safetensors", format=other)


def test_names_without_suffix_get_the_formats_suffix(tmp_path):
    mc.save_checkpoint({"w": np.zeros(1)}, tmp_path / "m", format="safetensors")
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert list(mc.load_checkpoint(tmp_path / "m")) == ["w"]  # only m.safetensors exists
    mc.save_checkpoint({"v": np.zeros(1)}, tmp_path / "m", format="ckpt")
    assert list(mc.load_checkpoint(tmp_path / "m")) == ["v"]  # m.ckpt first, as MindSpore's default
    assert list(mc.load_checkpoint(tmp_path / "m", format="safetensors")) == ["w"]


def test_an_empty_checkpoint_round_trips_in_each_format(tmp_path):
    for format in FORMATS:
        mc.save_checkpoint({}, tmp_path / format, format=format)
        assert mc.load_checkpoint(str(tmp_path / format) + SUFFIX[format], format=format) == {}
    with pytest.raises(ValueError, match="it is empty"):
        mc.load_checkpoint(tmp_path / "ckpt.ckpt")


@pytest.mark.parametrize("call, error, message", [
    (lambda p: mc.save_checkpoint({"__metadata__": np.zeros(1)}, p, format="safetensors"), ValueError,
     "For 'save_checkpoint', 'save_obj' must be names other than '__metadata__' in a safetensors file, but got "
     "the name '__metadata__'."),
    (lambda p: mc.save_checkpoint({"w": np.zeros(1)}, p, format="pt"), ValueError,
     "For 'save_checkpoint', 'format' must be one of ['npz', 'safetensors', 'ckpt'], but got 'pt'."),
    (lambda p: mc.save_checkpoint({"w": np.zeros(1)}, p, format=None), TypeError,  # type: ignore[arg-type]
     "For 'save_checkpoint', 'format' must be one of ['npz', 'safetensors', 'ckpt'], but got None."),
    (lambda p: mc.load_checkpoint(p, format="CKPT"), ValueError,
     "For 'load_checkpoint', 'format' must be one of ['npz', 'safetensors', 'ckpt'], but got 'CKPT'."),
])
def test_bad_formats_are_refused_listing_the_options(tmp_path, call, error, message):
    with pytest.raises(error) as caught:
        call(tmp_path / "m")
    assert str(caught.value) == message
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("format", FORMATS)
def test_writes_clean_stale_temporaries_and_leave_one_file_in_every_format(tmp_path, format):
    from minicell._checkpoint import atomic
    stale = tmp_path / f".m{SUFFIX[format]}.{atomic.host_tag()}.0.{'0' * 16}.minicell-tmp"
    stale.write_bytes(b"x")
    mc.save_checkpoint({"w": np.zeros(2)}, tmp_path / "m", format=format)
    assert os.listdir(tmp_path) == ["m" + SUFFIX[format]]
    assert os.stat(tmp_path / ("m" + SUFFIX[format])).st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----- import minicell stays light --------------------------------------------------------------
def test_import_minicell_imports_neither_safetensors_nor_protobuf():
    code = "import sys, minicell; print(sorted(m for m in ('safetensors', 'google.protobuf') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_format_packages_are_imported_inside_functions_only():
    for path in (ROOT / "minicell").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level statements only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("safetensors", "google") for n in names), path
        if "_checkpoint" not in path.parts:
            text = path.read_text()
            assert "import safetensors" not in text and "google.protobuf" not in text, path


@pytest.mark.parametrize("format, module, package", [("safetensors", "safetensors", "safetensors"),
                                                     ("ckpt", "google.protobuf", "protobuf")])
def test_a_missing_format_package_is_a_clear_error(tmp_path, monkeypatch, format, module, package):
    mc.save_checkpoint({"w": np.zeros(1)}, tmp_path / "m", format=format)
    before = sorted(os.listdir(tmp_path))
    monkeypatch.setitem(sys.modules, module, None)
    mindspore_ckpt.message_classes.cache_clear()
    expected = (f"'format' must be a format whose package is installed ('{format}' needs '{package}': "
                f"pip install 'minicell[interop]'), but got '{format}'.")
    with pytest.raises(ModuleNotFoundError) as caught:
        mc.save_checkpoint({"w": np.zeros(1)}, tmp_path / "n", format=format)
    assert str(caught.value) == "For 'save_checkpoint', " + expected
    with pytest.raises(ModuleNotFoundError) as caught:
        mc.load_checkpoint(tmp_path / ("m" + SUFFIX[format]))
    assert str(caught.value) == "For 'load_checkpoint', " + expected
    assert sorted(os.listdir(tmp_path)) == before
    monkeypatch.undo()
    mindspore_ckpt.message_classes.cache_clear()


# ----- killed savers ---------------------------------------------------------------------------------
def _save_forever(path, format, pipe):
    big = np.arange(300_000, dtype=np.float64)
    i = 0
    while True:
        i += 1
        mc.save_checkpoint({"counter": np.array(i), "big": big + i}, path, format=format)
        os.write(pipe, b"s")


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("format", ["npz", "safetensors", "ckpt"])
def test_savers_killed_at_random_moments_leave_a_readable_file_in_every_format(tmp_path, format):
    import signal
    import time
    path = tmp_path / ("live" + SUFFIX[format])
    rng = np.random.default_rng(1)
    leftovers = 0
    for _ in range(10):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                _save_forever(str(path), format, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        try:
            assert os.read(read_end, 1) == b"s"  # one save finished; kill during a later one
            time.sleep(float(rng.uniform(0, 0.02)))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
        loaded = mc.load_checkpoint(path)
        assert (loaded["big"].asnumpy() == np.arange(300_000) + int(loaded["counter"])).all()
        leftovers += sum(name.endswith((".minicell-tmp", ".minicell-tmpdir")) for name in os.listdir(tmp_path))
    assert leftovers > 0, "no kill landed during a save: the test tested nothing"
    mc.save_checkpoint({"counter": np.array(0), "big": np.zeros(3)}, path, format=format)
    assert os.listdir(tmp_path) == [path.name]


def test_stale_temporary_folders_are_removed_only_when_their_writer_is_gone(tmp_path):
    from minicell._checkpoint import atomic
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    tag = atomic.host_tag()
    dead = tmp_path / f".m.safetensors.{tag}.{pid}.{'1' * 16}.minicell-tmpdir"
    live = tmp_path / f".m.safetensors.{tag}.{os.getpid()}.{'2' * 16}.minicell-tmpdir"
    other = tmp_path / f".n.safetensors.{tag}.{pid}.{'3' * 16}.minicell-tmpdir"
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "data").write_bytes(b"x")
        (folder / ".tmpAbCdEf").write_bytes(b"y")  # what safetensors leaves when killed
    assert atomic.remove_stale_temps(str(tmp_path / "m.safetensors")) == [str(dead)]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name])
    mc.save_checkpoint({"w": np.zeros(1)}, tmp_path / "m", format="safetensors")
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, "m.safetensors"])


def test_a_ckpt_that_looks_like_safetensors_at_byte_8_is_still_a_ckpt(tmp_path):
    mc.save_checkpoint({"abcd{x": np.arange(3.0)}, tmp_path / "m", format="ckpt")
    assert (tmp_path / "m.ckpt").read_bytes()[8:9] == b"{"
    assert mc.load_checkpoint(tmp_path / "m.ckpt")["abcd{x"].asnumpy().tolist() == [0, 1, 2]
