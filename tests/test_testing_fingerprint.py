"""minicell.testing.fingerprint (in minicell/testing/digest.py): the byte encoding pinned by hand, and what
it tells apart."""
import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import nn
from minicell.testing import fingerprint
from minicell.testing.strategies import shapes

PREFIX = b"minicell.fingerprint.v1\n"


def u64(n):
    return struct.pack("<Q", n)


def text(s):
    return u64(len(s.encode())) + s.encode()


def test_known_answer_for_an_array_by_hand():
    array = np.array([[1.0, -0.0, 2.5]], np.float32)
    raw = bytes.fromhex("0000803f" "00000080" "00002040")  # 1.0, -0.0, 2.5 as little-endian float32
    expected = hashlib.sha256(PREFIX + b"A" + text("<f4") + u64(2) + u64(1) + u64(3) + raw).hexdigest()
    assert fingerprint(array) == expected
    assert fingerprint(mc.Tensor(array)) == expected


def test_known_answer_for_a_nested_structure_by_hand():
    obj = {"b": None, "a": [np.uint8(7), True]}  # keys sorted; scalars are 0-d arrays
    encoded = (b"D" + u64(2) + text("a") + b"L" + u64(2) + b"A" + text("|u1") + u64(0) + b"\x07"
               + b"A" + text("|b1") + u64(0) + b"\x01" + text("b") + b"N")
    assert fingerprint(obj) == hashlib.sha256(PREFIX + encoded).hexdigest()


def test_known_answer_for_a_cell_by_hand():
    gen = mc.Generator().set_state(5, 9)  # parameters 'offset' and 'seed', uint64 scalars
    encoded = (b"D" + u64(2) + text("offset") + b"A" + text("<u8") + u64(0) + u64(9)
               + text("seed") + b"A" + text("<u8") + u64(0) + u64(5))
    assert fingerprint(gen) == hashlib.sha256(PREFIX + encoded).hexdigest()


def test_python_scalars_are_int64_float64_and_bool():
    assert fingerprint(3) == fingerprint(np.int64(3)) and fingerprint(0.5) == fingerprint(np.float64(0.5))
    assert fingerprint(True) == fingerprint(np.bool_(True)) != fingerprint(1)


def net(seed):
    return nn.SequentialCell(nn.Dense(3, 4, generator=mc.Generator().manual_seed(seed)),
                             nn.Dropout(0.5, generator=mc.Generator().manual_seed(seed)))


def test_a_cell_its_parameters_dict_and_its_checkpoint_share_a_fingerprint(tmp_path):
    model = net(1)
    mc.save_checkpoint(model, str(tmp_path / "m.ckpt"))
    assert fingerprint(model) == fingerprint(model.parameters_dict())
    assert fingerprint(model) == fingerprint(mc.load_checkpoint(str(tmp_path / "m.ckpt")))
    assert fingerprint(model) == fingerprint(net(1)) != fingerprint(net(2))
    model[1].generator(1)  # only the Dropout's generator offset moves
    assert fingerprint(model) != fingerprint(net(1))


def test_signed_zeros_and_nan_payloads_change_the_fingerprint():
    assert fingerprint(np.float32(0.0)) != fingerprint(np.float32(-0.0))
    nan = np.array([np.nan], np.float32)
    other = (nan.view(np.uint32) + 1).view(np.float32)
    assert np.isnan(other).all() and fingerprint(nan) != fingerprint(other)


def test_dtype_shape_names_and_structure_are_all_covered():
    base = np.arange(6, dtype=np.int32)
    prints = {fingerprint(base), fingerprint(base.reshape(2, 3)), fingerprint(base.reshape(3, 2)),
              fingerprint(base.astype(np.uint32)), fingerprint([base]), fingerprint({"x": base}),
              fingerprint({"y": base}), fingerprint([base[:3], base[3:]]), fingerprint([base[:2], base[2:]]),
              fingerprint(None), fingerprint([]), fingerprint({})}
    assert len(prints) == 12


def test_order_of_dict_keys_and_list_versus_tuple_do_not_matter():
    a, b = np.zeros(2), np.ones(3)
    assert fingerprint({"a": a, "b": b}) == fingerprint({"b": b, "a": a})
    assert fingerprint((a, b)) == fingerprint([a, b]) != fingerprint([b, a])


@given(shape=shapes(3, 4), dtype=st.sampled_from(["<f4", ">f4", "<f8", ">i2", "u1", "?", "<c8"]))
def test_byte_order_and_memory_layout_do_not_matter(shape, dtype):
    values = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) % 7
    array = values.astype(dtype)
    assert fingerprint(array) == fingerprint(values.astype(np.dtype(dtype).newbyteorder("<")))
    assert fingerprint(np.array(array, order="F")) == fingerprint(array)
    assert fingerprint(array.T) == fingerprint(np.array(array.T, order="C"))


@pytest.mark.parametrize("obj, match", [
    (object(), r"For 'fingerprint', 'object' must be a Cell, Tensor, ndarray, scalar, None or a "
               r"tuple/list/dict of them, but got an object of type object\."),
    ([1, {"a": "s"}], r"'object at \[1\]\['a'\]' must be .* but got an object of type str\."),
    ({1: np.zeros(1)}, r"but got a dict with the non-str key 1\."),
    (np.array(["x"]), r"but got an array of dtype <U1\."),
    (np.array([None]), r"but got an array of dtype object\."),
    (2**63, r"but got the int 9223372036854775808, outside int64\."),
])
def test_what_cannot_be_fingerprinted_is_a_type_error(obj, match):
    with pytest.raises(TypeError, match=match):
        fingerprint(obj)
