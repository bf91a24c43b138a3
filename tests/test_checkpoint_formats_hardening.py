"""safetensors and MindSpore ckpt files that lie: each a ValueError naming the file and the defect,
decided before anything larger than the file is allocated, the network left exactly as it was."""
import json
import re
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell._checkpoint import mindspore_ckpt
from tests.checkpoint_damage import load_damaged


# ----- safetensors files by hand -----------------------------------------------------------------
def safetensors_file(header, data=b"", length=None):
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


GOOD_ST = safetensors_file({"w": entry(), "n": entry("I64", (), (8, 16))}, np.array([1.5, 2.5], np.float32).tobytes()
                           + np.array(7, np.int64).tobytes())
HUGE = 2**40

SAFETENSORS = {
    "fewer than 8 bytes": (b"\x10\x00\x00", "fewer than the 8 of a safetensors header length"),
    "truncated header": (GOOD_ST[:20], "header claims .* bytes but the file holds"),
    "truncated data": (GOOD_ST[:-3], "the tensor 'n' lies past the end of the file"),
    "header of 100 MB": (safetensors_file(b"{}", length=100_000_001), "claims 100000001 bytes, more than the limit"),
    "header length past the end": (safetensors_file(b"{}", length=3000), "claims 3000 bytes but the file holds 2"),
    "header not JSON": (safetensors_file(b"{not json"), "not UTF-8 JSON"),
    "header not UTF-8": (safetensors_file(b'{"\xff": 1}'), "not UTF-8 JSON"),
    "header not an object": (safetensors_file([1, 2]), "not a JSON object"),
    "NaN in header": (safetensors_file(b'{"w": NaN}'), "NaN, which is not JSON"),
    "duplicate names": (safetensors_file(b'{"w": ' + json.dumps(entry()).encode() + b', "w": '
                                         + json.dumps(entry()).encode() + b"}", b"\0" * 8), "names 'w' twice"),
    "unknown dtype BF16": (safetensors_file({"w": entry("BF16", (4,))}, b"\0" * 8), "dtype 'BF16', which minicell"),
    "unknown dtype C64": (safetensors_file({"w": entry("C64", (1,))}, b"\0" * 8), "dtype 'C64'"),
    "dtype not a str": (safetensors_file({"w": entry(5)}, b"\0" * 8), "dtype int"),
    "shape disagrees with bytes": (safetensors_file({"w": entry(shape=(3,))}, b"\0" * 8),
                                   r"claims shape \(3,\) of F32 \(12 bytes\) but its offsets hold 8 bytes"),
    "huge shape": (safetensors_file({"w": entry(shape=(HUGE, HUGE), offsets=(0, 8))}, b"\0" * 8), "claims shape"),
    "huge shape and offsets": (safetensors_file({"w": entry(shape=(HUGE,), offsets=(0, 4 * HUGE))}, b"\0" * 8),
                               "lies past the end of the file"),
    "offsets past the end": (safetensors_file({"w": entry(offsets=(8, 16))}, b"\0" * 8), "past the end"),
    "overlapping tensors": (safetensors_file({"a": entry(offsets=(0, 8)), "b": entry("I32", (1,), (4, 8))},
                                             b"\0" * 8), "the tensors 'a' and 'b' overlap"),
    "gap between tensors": (safetensors_file({"a": entry("I32", (1,), (0, 4)), "b": entry("I32", (1,), (8, 12))},
                                             b"\0" * 12), "unused bytes 4..8"),
    "bytes after the tensors": (safetensors_file({"w": entry()}, b"\0" * 12), "hold 8 bytes but the file holds 12"),
    "negative dimension": (safetensors_file({"w": entry(shape=(-2,))}, b"\0" * 8), "invalid shape"),
    "33 dimensions": (safetensors_file({"w": entry(shape=(1,) * 33, offsets=(0, 4))}, b"\0" * 4), "invalid shape"),
    "bool dimension": (safetensors_file({"w": entry(shape=(True,), offsets=(0, 4))}, b"\0" * 4), "invalid shape"),
    "float dimension": (safetensors_file({"w": entry(shape=(2.0,))}, b"\0" * 8), "invalid shape"),
    "reversed offsets": (safetensors_file({"w": entry(offsets=(8, 0))}, b"\0" * 8), "invalid data_offsets"),
    "three offsets": (safetensors_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}}, b"\0" * 8),
                      "invalid data_offsets"),
    "extra key": (safetensors_file({"w": {**entry(), "x": 1}}, b"\0" * 8), "not described by exactly"),
    "entry not an object": (safetensors_file({"w": [1]}, b""), "not described by exactly"),
    "empty name": (safetensors_file({"": entry()}, b"\0" * 8), "name '' is not allowed: empty"),
    "reserved name": (safetensors_file({"__minicell_x": entry()}, b"\0" * 8), "starts with '__minicell'"),
    "bool bytes other than 0 and 1": (safetensors_file({"b": entry("BOOL", (2,), (0, 2))}, b"\x01\x02"),
                                      "holds bytes other than 0 and 1"),
    "metadata not strings": (safetensors_file({"__metadata__": {"a": 1}, "w": entry()}, b"\0" * 8),
                             "'__metadata__' is not a JSON object of strings"),
    "minicell metadata not JSON": (safetensors_file({"__metadata__": {"minicell": "{"}, "w": entry()}, b"\0" * 8),
                                   "minicell metadata is not JSON"),
    "minicell metadata other names": (safetensors_file({"__metadata__": {"minicell": json.dumps(
        {"names": ["v"], "requires_grad": [True]})}, "w": entry()}, b"\0" * 8), "names other tensors"),
    "minicell metadata flags not bools": (safetensors_file({"__metadata__": {"minicell": json.dumps(
        {"names": ["w"], "requires_grad": [1]})}, "w": entry()}, b"\0" * 8), "other than true and false"),
    "minicell metadata names not strings": (safetensors_file({"__metadata__": {"minicell": json.dumps(
        {"names": [["w"]], "requires_grad": [True]})}, "w": entry()}, b"\0" * 8), "'names' holds values other than"),
}


# ----- MindSpore ckpt files by hand --------------------------------------------------------------
def ckpt_file(*values, partial=False):
    """values: (tag, dims, tensor_type, content) tuples, or a Value already built (a callable)."""
    checkpoint_class, _ = mindspore_ckpt.message_classes()
    message = checkpoint_class()
    for value in values:
        if callable(value):
            value(message.value.add())
            continue
        tag, dims, tensor_type, content = value
        added = message.value.add(tag=tag)
        added.tensor.dims.extend(dims)
        added.tensor.tensor_type, added.tensor.tensor_content = tensor_type, content
    return message.SerializePartialToString() if partial else message.SerializeToString()


def tensor_proto(**fields):
    _, tensor_class = mindspore_ckpt.message_classes()
    return tensor_class(**fields).SerializeToString()


def without_tensor_type(value):
    value.tag = "w"
    value.tensor.dims.append(2)
    value.tensor.tensor_content = b"\0" * 8


def map_tensor(value):
    value.tag = "m"
    value.maptensor.tensor.add(dims=[1], tensor_type="Int64", tensor_content=b"\0" * 8)


W = ("w", [2], "Float32", np.array([1.5, 2.5], np.float32).tobytes())
GOOD_CKPT = ckpt_file(W, ("n", [], "Int64", np.array(7, np.int64).tobytes()))

CKPT = {
    "truncated": (GOOD_CKPT[:-5], "not a MindSpore Checkpoint protobuf"),
    "truncated in the first value": (GOOD_CKPT[:10], "not a MindSpore Checkpoint protobuf"),
    "a TensorProto, not a Checkpoint": (tensor_proto(dims=[2], tensor_type="Float32", tensor_content=b"\0" * 8),
                                        "not a MindSpore Checkpoint protobuf"),
    "fields of another schema": (b"\x0a\x03\x20\x01\x00" + GOOD_CKPT, "not a MindSpore Checkpoint protobuf"),
    "missing tensor_type": (ckpt_file(without_tensor_type, partial=True), "required fields are missing"),
    "value without a tensor": (ckpt_file(lambda v: setattr(v, "tag", "w")), "'w' holds no tensor"),
    "huge dims": (ckpt_file(("w", [HUGE, HUGE], "Float32", b"\0" * 8)),
                  r"claims dims \[1099511627776, 1099511627776\] of Float32 \(.* bytes\) but holds 8 bytes"),
    "dims disagree with the bytes": (ckpt_file(("w", [3], "Float32", b"\0" * 8)), "claims dims"),
    "negative dims": (ckpt_file(("w", [-2], "Float32", b"\0" * 8)), "invalid dims"),
    "33 dims": (ckpt_file(("w", [1] * 33, "Float32", b"\0" * 4)), "invalid dims"),
    "unknown dtype": (ckpt_file(("w", [1], "Complex64", b"\0" * 8)), "tensor_type 'Complex64', which minicell"),
    "BFloat16": (ckpt_file(("w", [4], "BFloat16", b"\0" * 8)), "tensor_type 'BFloat16'"),
    "a string": (ckpt_file(("w", [0], "str", "hi".encode("utf-32-le"))), "tensor_type 'str'"),
    "duplicate tags": (ckpt_file(W, ("n", [], "Int64", b"\0" * 8), W), "holds the tag 'w' twice"),
    "slices disagree": (ckpt_file(("w", [2], "Float32", b"\0" * 4), ("w", [2], "Int32", b"\0" * 4)),
                        "slices of 'w' disagree"),
    "map tensor": (ckpt_file(map_tensor), "'m' is a map tensor"),
    "empty tag": (ckpt_file(("", [2], "Float32", b"\0" * 8)), "tag '': empty"),
    "bool bytes other than 0 and 1": (ckpt_file(("b", [2], "Bool", b"\x01\x07")), "holds bytes other than 0 and 1"),
    "encrypted (GCM)": (struct.pack("<I", 0x7F3A5ED8) + b"\0" * 40, "encrypted MindSpore checkpoint"),
    "encrypted (CBC)": (struct.pack("<I", 0x7F3A5ED9) + b"\0" * 40, "encrypted MindSpore checkpoint"),
    "wrong CRC": (GOOD_CKPT + b"crc_num" + (12345).to_bytes(10, "big"), "not a MindSpore Checkpoint protobuf"),
}


class Small(mc.Cell):
    def __init__(self):
        super().__init__()
        self.w = mc.Parameter(np.array([1, 2], np.float32))
        self.n = mc.Parameter(np.array(3, np.int64))


@pytest.mark.parametrize("format, case", [("safetensors", c) for c in SAFETENSORS] + [("ckpt", c) for c in CKPT])
def test_every_lying_file_is_a_value_error_naming_it_and_the_network_is_unchanged(tmp_path, format, case):
    content, reason = (SAFETENSORS if format == "safetensors" else CKPT)[case]
    path = tmp_path / f"bad.{format}"
    path.write_bytes(content)
    net = Small()
    for insisted in (None, format):
        expected = "a readable checkpoint" + ("" if insisted is None else f" in the format '{format}'")
        prefix = re.escape(f"For 'load_checkpoint', 'ckpt_file_name' must be {expected}, but got '{path}': ")
        unrecognisable = ("fewer than 8 bytes", "header not an object", "a TensorProto, not a Checkpoint")
        too_broken = insisted is None and case in unrecognisable  # too broken to be recognised
        reason_here = "the formats minicell reads" if too_broken else reason
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=prefix + ".*" + f"({reason_here})"):
                mc.load_checkpoint(path, net, format=insisted)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000 + 4 * len(content)  # nothing allocated for what the file only claims
    assert net.w.asnumpy().tolist() == [1, 2] and int(net.n) == 3
    assert path.read_bytes() == content


@pytest.mark.parametrize("content", [GOOD_ST, GOOD_CKPT], ids=["safetensors", "ckpt"])
def test_the_hand_built_good_files_load(tmp_path, content):
    path = tmp_path / "good.ckpt"
    path.write_bytes(content)
    net = Small()
    loaded = mc.load_checkpoint(path, net, strict_load=True)
    assert loaded["w"].asnumpy().tolist() == [1.5, 2.5] and int(loaded["n"]) == 7
    assert net.w.asnumpy().tolist() == [1.5, 2.5] and int(net.n) == 7


def test_mindspore_scalar_convention_and_a_correct_crc_are_read(tmp_path):
    import binascii
    body = ckpt_file(("s", [0], "Float32", np.array(2.5, np.float32).tobytes()))
    (tmp_path / "s.ckpt").write_bytes(body + b"crc_num" + binascii.crc32(body).to_bytes(10, "big"))
    loaded = mc.load_checkpoint(tmp_path / "s.ckpt")
    assert loaded["s"].shape == () and float(loaded["s"]) == 2.5


@pytest.mark.parametrize("format", ["safetensors", "ckpt"])
@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3))
def test_any_damage_is_a_value_error_or_a_well_formed_result(tmp_path_factory, format, cut, flips):
    """These formats have no checksum: a flipped data byte loads as another value, but nothing
    else than a ValueError naming the file ever comes out of a damaged file."""
    folder = tmp_path_factory.mktemp("fuzz")
    arrays = {"a": np.arange(5, dtype=np.int16), "b": np.ones((2, 2), np.float64), "c": np.array([True, False])}
    mc.save_checkpoint(arrays, folder / "good", format=format)
    good = (folder / ("good." + format)).read_bytes()
    loaded, data = load_damaged(good, cut, flips, folder / "damaged.bin.ckpt")
    if loaded is None:
        return
    for name, param in loaded.items():
        assert isinstance(name, str) and param.asnumpy().nbytes <= len(data)
