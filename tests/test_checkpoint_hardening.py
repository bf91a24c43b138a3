"""Checkpoints that cannot be corrupted or mis-read.

- Every malformed file is a ValueError naming the file and the defect (never AttributeError,
  MemoryError or struct.error), decided before anything large is allocated.
- Every bad save is refused before the temporary file is written: the old file and the folder
  are unchanged.
- A saver killed at random moments never leaves an unreadable target, and the next save removes
  the temporary files it left; a live writer's file, or another target's, is never removed.
"""
import io
import json
import os
import re
import struct
import time
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell._checkpoint import atomic as _atomic
from tests.checkpoint_damage import load_damaged

MAGIC = b"\x93NUMPY"


# ----- building files by hand ------------------------------------------------------------------
def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def raw_npy(header, data=b"", version=(1, 0), length=None):
    """A .npy member with a hand-written header text (padded as NumPy pads it)."""
    text = header.encode("latin1")
    text += b" " * (-(len(MAGIC) + 4 + len(text) + 1) % 64) + b"\n"
    field = struct.pack("<H" if version[0] == 1 else "<I", len(text) if length is None else length)
    return MAGIC + bytes(version) + field + text + data


def meta(names, grads=None):
    grads = [True] * len(names) if grads is None else grads
    return npy(np.frombuffer(json.dumps({"names": names, "requires_grad": grads}).encode(), np.uint8))


def members(**overrides):
    """The members of a good one-parameter checkpoint, with some replaced (None removes one)."""
    base = {"w.npy": npy(np.array([1.5, 2.5], np.float32)),
            "__minicell_format__.npy": npy(np.array(1, np.int64)),
            "__minicell_meta__.npy": meta(["w"])}
    for key, value in overrides.items():
        key = key.replace("__dot__", ".")
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return list(base.items())


def zipped(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate names made on purpose
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def patch_central(data, member, offset, fmt, value):
    """Overwrite a field of ``member``'s central directory entry (PKZIP APPNOTE 4.3.12)."""
    start = data.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack("<H", data[start + 28:start + 30])[0]
        if data[start + 46:start + 46 + name_length] == member.encode():
            break
        start = data.index(b"PK\x01\x02", start + 4)
    return data[:start + offset] + struct.pack(fmt, value) + data[start + offset + struct.calcsize(fmt):]


GOOD = zipped(members())
W = "w.npy"

MALFORMED = {
    "garbage": (b"not a checkpoint at all", "the formats minicell reads"),
    "empty": (b"", "it is empty"),
    "truncated": (GOOD[: len(GOOD) // 2], "not a NumPy .npz"),
    "member not npy": (zipped(members(**{"notes.txt": b"hello"})), "'notes.txt' is not a .npy file"),
    "member not in npy format": (zipped(members(**{W: b"not an npy file at all"})), "'w.npy' is not in the .npy "
                                                                                    "format"),
    "empty member": (zipped(members(**{W: b""})), "'w.npy' is truncated"),
    "npy version 3.0": (zipped(members(**{W: raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                                      b"\0" * 8, version=(3, 0))})), "version 3.0, not 1.0 or 2.0"),
    "npy version 1.9": (zipped(members(**{W: raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                                      b"\0" * 8, version=(1, 9))})), "version 1.9, not 1.0 or 2.0"),
    "header length 60000": (zipped(members(**{W: raw_npy("{}", length=60000)})), "60000-byte .npy header"),
    "header length 2**31": (zipped(members(**{W: raw_npy("{}", version=(2, 0), length=2**31)})),
                            "2147483648-byte .npy header"),
    "header claims 2**40 elements": (zipped(members(**{W: raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", b"\0" * 8)})),
        r"claims shape \(1099511627776,\) of float32 \(4398046511104 bytes\) but holds 8 bytes"),
    "header claims fewer bytes": (zipped(members(**{W: raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b"\0" * 16)})), "claims shape"),
    "negative dimension": (zipped(members(**{W: raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", b"")})), "invalid"),
    "bool dimension": (zipped(members(**{W: raw_npy(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (True, 2), }", b"\0" * 16)})), "invalid shape"),
    "pickled object array": (zipped(members(**{W: raw_npy(
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x04N.")})), "dtype '|O'"),
    "string dtype": (zipped(members(**{W: npy(np.array(["ab"]))})), "dtype '<U2'"),
    "complex dtype": (zipped(members(**{W: npy(np.zeros(1, np.complex64))})), "dtype '<c8'"),
    "structured dtype": (zipped(members(**{W: npy(np.zeros(1, [("a", "<f4")]))})), "not supported"),
    "header not a dict": (zipped(members(**{W: raw_npy("[1, 2, 3]", b"")})), "invalid .npy header"),
    "header not python": (zipped(members(**{W: raw_npy("{'descr': open('x')}", b"")})), "invalid .npy header"),
    "compressed member": (zipped(members(), zipfile.ZIP_DEFLATED), "is compressed"),
    "duplicate member": (zipped(members() + [(W, npy(np.zeros(2, np.float32)))]), "'w.npy' appears more than once"),
    "bool bytes other than 0 and 1": (zipped(members(**{W: npy(np.array([True, False]))[:-2] + b"\x02\x00"})),
                                      "holds bytes other than 0 and 1"),
    "no format entry": (zipped(members(__minicell_format__=None, **{"__minicell_format__.npy": None})),
                        "no minicell format entry"),
    "format version 1.9": (zipped(members(**{"__minicell_format__.npy": npy(np.array(1.9))})),
                           r"format version is 1.9 \(float64\), not the integer 1"),
    "format version 1.0 float": (zipped(members(**{"__minicell_format__.npy": npy(np.array(1.0))})),
                                 r"format version is 1.0 \(float64\)"),
    "format version 2": (zipped(members(**{"__minicell_format__.npy": npy(np.array(2))})), "format version is 2"),
    "format version as a list": (zipped(members(**{"__minicell_format__.npy": npy(np.array([1]))})),
                                 r"format version is \[1\]"),
    "no metadata": (zipped(members(**{"__minicell_meta__.npy": None})), "no metadata entry"),
    "metadata int32": (zipped(members(**{"__minicell_meta__.npy": npy(np.zeros(3, np.int32))})), "not uint8 bytes"),
    "metadata not utf-8": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(b"\xff\xfe", np.uint8))})),
                           "not UTF-8 JSON"),
    "metadata bad json": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(b'{"names": [', np.uint8))})),
                          "not UTF-8 JSON"),
    "metadata NaN": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(
        b'{"names": ["w"], "requires_grad": NaN}', np.uint8))})), "not UTF-8 JSON"),
    "metadata nested 100000 deep": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(
        b"[" * 100000, np.uint8))})), "not UTF-8 JSON"),
    "metadata a list": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(b'["w"]', np.uint8))})),
                        "exactly the keys"),
    "metadata extra key": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(
        b'{"names": ["w"], "requires_grad": [true], "x": 1}', np.uint8))})), "exactly the keys"),
    "metadata names a str": (zipped(members(**{"__minicell_meta__.npy": npy(np.frombuffer(
        b'{"names": "w", "requires_grad": [true]}', np.uint8))})), "not both lists"),
    "requires_grad shorter than names": (zipped(members(**{"v.npy": npy(np.zeros(1, np.float32)),
                                                            "__minicell_meta__.npy": meta(["w", "v"], [True])})),
                                         "lists 2 names but 1 requires_grad flags"),
    "requires_grad longer than names": (zipped(members(**{"__minicell_meta__.npy": meta(["w"], [True, False])})),
                                        "lists 1 names but 2 requires_grad flags"),
    "requires_grad an int": (zipped(members(**{"__minicell_meta__.npy": meta(["w"], [1])})), "other than true and "
                                                                                             "false"),
    "70000-character name": (zipped(members(**{"__minicell_meta__.npy": meta(["w", "n" * 70000])})),
                             "70000 characters long"),
    "name with NUL": (zipped(members(**{"__minicell_meta__.npy": meta(["w\0x"])})), r"contains '\\0'"),
    "empty name": (zipped(members(**{"__minicell_meta__.npy": meta([""])})), "empty"),
    "name not a str": (zipped(members(**{"__minicell_meta__.npy": meta([5])})), "a int, not a str"),
    "reserved name": (zipped(members(**{"__minicell_meta__.npy": meta(["__minicell_x"])})), "starts with '__minicell'"),
    "name twice": (zipped(members(**{"__minicell_meta__.npy": meta(["w", "w"])})), "the name 'w' twice"),
    "names and arrays disagree": (zipped(members(**{"__minicell_meta__.npy": meta(["v"])})),
                                  r"names without arrays \['v'\], arrays without names \['w'\]"),
    "member past the end": (patch_central(patch_central(GOOD, W, 20, "<I", 10**9), W, 24, "<I", 10**9),
                            "extends past the end of the file"),
    "members claim more than the file": (patch_central(patch_central(GOOD, W, 20, "<I", len(GOOD) - 60), W, 24, "<I",
                                                       len(GOOD) - 60), "claim more bytes than the file holds"),
    "encrypted member": (patch_central(GOOD, W, 8, "<H", 1), "'w.npy' is encrypted"),
    "bad crc": (patch_central(GOOD, W, 16, "<I", 12345), "damaged .*CRC"),
}


def assert_refused(tmp_path, content: bytes, reason: str, format: str | None = None) -> None:
    """Loading ``content`` is a ValueError naming the file (and the format insisted on) and ``reason``;
    the file is left as it was."""
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    insisted = "" if format is None else f" in the format '{format}'"
    prefix = re.escape(f"For 'load_checkpoint', 'ckpt_file_name' must be a readable checkpoint{insisted}, "
                       f"but got '{path}': ")
    with pytest.raises(ValueError, match=prefix + ".*" + f"({reason})"):
        mc.load_checkpoint(path, format=format)
    assert path.read_bytes() == content


@pytest.mark.parametrize("case", list(MALFORMED))
def test_every_malformed_file_is_a_value_error_naming_the_file_and_the_defect(tmp_path, case):
    assert_refused(tmp_path, *MALFORMED[case])


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated", "member not npy", "bad crc"])
def test_malformed_files_read_as_npz_on_request_name_the_format(tmp_path, case):
    content, reason = MALFORMED[case]
    expected = reason if case in ("member not npy", "bad crc") else "not a NumPy .npz"
    assert_refused(tmp_path, content, expected, format="npz")


def test_the_hand_built_good_file_loads(tmp_path):
    """The builder above makes real checkpoints: each malformed case differs from it in one defect."""
    (tmp_path / "good.ckpt").write_bytes(GOOD)
    loaded = mc.load_checkpoint(tmp_path / "good.ckpt")
    assert list(loaded) == ["w"] and loaded["w"].asnumpy().tolist() == [1.5, 2.5]


def test_files_of_the_earlier_np_savez_writer_load_and_np_load_reads_ours(tmp_path):
    meta_json = json.dumps({"names": ["b", "a"], "requires_grad": [True, False]}).encode()
    with open(tmp_path / "old.ckpt", "wb") as handle:
        np.savez(handle, b=np.array([1.5], np.float32), a=np.array(7, np.uint64),
                 __minicell_format__=np.array(1, np.int64), __minicell_meta__=np.frombuffer(meta_json, np.uint8))
    loaded = mc.load_checkpoint(tmp_path / "old.ckpt")
    assert list(loaded) == ["b", "a"] and loaded["b"].requires_grad and int(loaded["a"]) == 7
    mc.save_checkpoint(loaded, tmp_path / "new.ckpt")
    with np.load(tmp_path / "new.ckpt", allow_pickle=False) as archive:
        assert archive["b"].tolist() == [1.5] and int(archive["a"]) == 7


def test_fortran_order_and_big_endian_members_load_as_native_c_arrays(tmp_path):
    value = np.arange(6, dtype=np.float64).reshape(2, 3)
    entries = members(**{W: npy(np.asfortranarray(value)), "v.npy": npy(value.astype(">i4")),
                         "__minicell_meta__.npy": meta(["w", "v"])})
    (tmp_path / "f.ckpt").write_bytes(zipped(entries))
    loaded = mc.load_checkpoint(tmp_path / "f.ckpt")
    assert loaded["w"].asnumpy().tolist() == value.tolist() and loaded["w"].asnumpy().flags.c_contiguous
    assert loaded["v"].dtype == np.int32 and loaded["v"].asnumpy().tolist() == value.tolist()


@settings(max_examples=60)
@given(cut=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3))
def test_any_damage_is_refused_or_harmless(tmp_path_factory, cut, flips):
    """Truncations and byte flips anywhere: a ValueError naming the file, or the exact values."""
    folder = tmp_path_factory.mktemp("fuzz")
    mc.save_checkpoint({"a": np.arange(5, dtype=np.int16), "b": np.ones((2, 2), np.float64)}, folder / "good.ckpt")
    loaded, _ = load_damaged((folder / "good.ckpt").read_bytes(), cut, flips, folder / "damaged.ckpt")
    if loaded is None:
        return
    assert loaded["a"].asnumpy().tolist() == list(range(5)) and loaded["b"].asnumpy().tolist() == [[1, 1], [1, 1]]


def test_load_checkpoint_argument_errors(tmp_path):
    mc.save_checkpoint({"w": np.zeros(1)}, tmp_path / "g.ckpt")
    cases = [
        (dict(ckpt_file_name=5), TypeError, "'ckpt_file_name' must be a str or an os.PathLike of a str, but got 5."),
        (dict(ckpt_file_name=b"g.ckpt"), TypeError, "'ckpt_file_name' must be a str or an os.PathLike"),
        (dict(ckpt_file_name=""), ValueError, "'ckpt_file_name' must be a non-empty file path without '\\\\0' that "
                                             "does not end in a path separator, but got ''."),
        (dict(ckpt_file_name="a\0b"), ValueError, "'ckpt_file_name' must be a non-empty file path without"),
        (dict(ckpt_file_name=tmp_path / "g", net=5), TypeError, "'net' must be a Cell or None, but got 5."),
        (dict(ckpt_file_name=tmp_path / "g", strict_load="yes"), TypeError, "'strict_load' must be a bool"),
        (dict(ckpt_file_name=tmp_path / "missing"), FileNotFoundError, "'ckpt_file_name' must be an existing "
                                                                       "checkpoint file, but got .*missing.ckpt', "
                                                                       "which does not exist."),
    ]
    (tmp_path / "folder.ckpt").mkdir()
    cases.append((dict(ckpt_file_name=tmp_path / "folder"), ValueError,
                  "'ckpt_file_name' must be a checkpoint file, but got '.*folder.ckpt', which is a folder."))
    for kwargs, error, message in cases:
        with pytest.raises(error, match="For 'load_checkpoint', " + message):
            mc.load_checkpoint(**kwargs)


# ----- saving: everything checked before the temporary file is written ---------------------------
class Twins(mc.Cell):
    def __init__(self):
        super().__init__()
        self.a = mc.Parameter(np.zeros(2, np.float32), name="w")
        self.b = mc.Parameter(np.ones(2, np.float32), name="w")


class NamedWithNul(mc.Cell):
    def __init__(self):
        super().__init__()
        self.a = mc.Parameter(np.zeros(2, np.float32), name="bad\0name")


NAME_RULE = re.escape("'name' must be a non-empty str of at most 4096 characters, without '\\0' or lone "
                      "surrogates, not starting with '__minicell', but got ")
SAVE_CASES = [
    (3, TypeError, "'save_obj' must be a Cell, a dict or a list of dicts, but got 3."),
    ("x", TypeError, "'save_obj' must be a Cell, a dict or a list of dicts, but got 'x'."),
    (None, TypeError, "'save_obj' must be a Cell, a dict or a list of dicts, but got None."),
    ([1], TypeError, re.escape("'save_obj[0]' must be a dict with the keys 'name' and 'data', but got 1.")),
    ([{"name": "a"}], TypeError, re.escape("'save_obj[0]' must be a dict with the keys 'name' and 'data'")),
    ([{"name": "a", "data": 1, "x": 2}], TypeError, re.escape("'save_obj[0]' must be a dict with the keys")),
    ({"": 1}, ValueError, NAME_RULE + "''."),
    ({"a\0b": 1}, ValueError, NAME_RULE + re.escape("'a\\x00b'.")),
    ({"n" * 70000: 1}, ValueError, NAME_RULE + "'n{79}... \\(70002 characters\\)."),
    ({"__minicell_meta__": 1}, ValueError, NAME_RULE + "'__minicell_meta__'."),
    ({"__minicell_x": 1}, ValueError, NAME_RULE + "'__minicell_x'."),
    ({"\ud800": 1}, ValueError, NAME_RULE),
    ({5: 1}, TypeError, NAME_RULE + "5."),
    ({None: 1}, TypeError, NAME_RULE + "None."),
    ({"ok": 1, "a": "string"}, TypeError, "'a' must be a Tensor or an array of one of the dtypes .*, but got "
                                          "'string'."),
    ({"a": np.array(["x"])}, TypeError, "'a' must be a Tensor or an array .*, but got an array of dtype <U1."),
    ({"a": object()}, TypeError, "'a' must be a Tensor or an array .*, but got an object of type object."),
    ({"a": [[1], [1, 2]]}, TypeError, "'a' must be a Tensor or an array .*, but got an object of type list."),
    ({"a": np.zeros(2, complex)}, TypeError, "'a' must be a Tensor or an array .*, but got an array of dtype "
                                             "complex128."),
    ({"a": 2**64}, TypeError, "'a' must be a Tensor or an array .*, but got an int of 65 bits."),
    ({"a": None}, TypeError, "'a' must be a Tensor or an array .*, but got None."),
    ({"a": np.zeros((1,) * 33)}, ValueError, "'a' must be an array of at most 32 dimensions, but got 33 dimensions."),
    ([{"name": "a", "data": 1}, {"name": "a", "data": 2}], ValueError,
     re.escape("'save_obj' must be a list of entries with distinct names, but got the name 'a' in entries 0 and 1.")),
    (Twins(), ValueError, re.escape("'save_obj' must be a Cell whose Parameters have distinct names, but got the "
                                    "name 'w' for both 'a' and 'b'.")),
    (NamedWithNul(), ValueError, NAME_RULE + re.escape("'bad\\x00name'.")),
]


@pytest.mark.parametrize("save_obj, error, message", SAVE_CASES)
def test_bad_saves_write_nothing(tmp_path, save_obj, error, message):
    path = tmp_path / "model.ckpt"
    mc.save_checkpoint({"keep": np.arange(3)}, path)
    before = path.read_bytes()
    with pytest.raises(error, match="For 'save_checkpoint', " + message):
        mc.save_checkpoint(save_obj, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.ckpt"]


@pytest.mark.parametrize("target, error, message", [
    (5, TypeError, "'ckpt_file_name' must be a str or an os.PathLike of a str, but got 5."),
    (None, TypeError, "'ckpt_file_name' must be a str or an os.PathLike of a str, but got None."),
    (b"x.ckpt", TypeError, "'ckpt_file_name' must be a str or an os.PathLike of a str"),
    ("", ValueError, "'ckpt_file_name' must be a non-empty file path without '\\\\0' that does not end in a path "
                     "separator, but got ''."),
    ("a\0b", ValueError, "'ckpt_file_name' must be a non-empty file path without '\\\\0' that does not end in a "
                        "path separator, but got 'a\\\\x00b'."),
    ("{tmp}/sub/", ValueError, "'ckpt_file_name' must be a non-empty file path without '\\\\0' that does not end "
                               "in a path separator, but got '"),
    ("{tmp}/missing/m", FileNotFoundError, "'ckpt_file_name' must be a file in an existing folder, but got "
                                           "'.*/missing/m.ckpt', whose folder '.*/missing' does not exist."),
    ("{tmp}/sub", ValueError, "'ckpt_file_name' must be a file path, but got '.*/sub.ckpt', which is a folder."),
])
def test_bad_targets_write_nothing(tmp_path, target, error, message):
    (tmp_path / "sub.ckpt").mkdir()
    if isinstance(target, str):
        target = target.replace("{tmp}", str(tmp_path))
    with pytest.raises(error, match="For 'save_checkpoint', " + message):
        mc.save_checkpoint({"w": np.zeros(2)}, target)
    assert os.listdir(tmp_path) == ["sub.ckpt"] and os.listdir(tmp_path / "sub.ckpt") == []


@settings(max_examples=30)
@given(names=st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                              min_size=1, max_size=12).filter(lambda n: not n.startswith("__minicell")),
                      min_size=1, max_size=4, unique=True))
def test_any_valid_name_round_trips(tmp_path_factory, names):
    """Unicode, '/', '..', leading '/', '.npy' suffixes, spaces: names are only data."""
    path = tmp_path_factory.mktemp("names") / "n.ckpt"
    mc.save_checkpoint({name: np.array([i], np.int32) for i, name in enumerate(names)}, path)
    loaded = mc.load_checkpoint(path)
    assert list(loaded) == names and [int(p.asnumpy()[0]) for p in loaded.values()] == list(range(len(names)))


def test_names_that_look_like_paths_or_members_round_trip(tmp_path):
    names = ["/lead", "x/../y", "back\\slash", "w.npy", "w.npy.npy", "é😀", " ", "tab\tand\nnewline", "__minicel",
             "a.b.c", "..", "."]
    mc.save_checkpoint({name: np.array([i]) for i, name in enumerate(names)}, tmp_path / "odd")
    loaded = mc.load_checkpoint(tmp_path / "odd")
    assert list(loaded) == names and [int(p.asnumpy()[0]) for p in loaded.values()] == list(range(len(names)))
    assert os.listdir(tmp_path) == ["odd.ckpt"]  # names are only data: nothing written outside the file


def test_names_of_exactly_the_limit_round_trip(tmp_path):
    name = "é" * 4096  # 8192 UTF-8 bytes, within zip's limit
    mc.save_checkpoint({name: np.zeros(1)}, tmp_path / "long")
    assert list(mc.load_checkpoint(tmp_path / "long")) == [name]


# ----- load_param_into_net ----------------------------------------------------------------------
class Small(mc.Cell):
    def __init__(self):
        super().__init__()
        self.w = mc.Parameter(np.array([1, 2], np.float32))
        self.n = mc.Parameter(np.array(3, np.int64))


GOOD_VALUES = {"w": np.array([5, 6], np.float32), "n": np.array(9, np.int64)}
LOAD_CASES = [
    (dict(net=5), TypeError, "'net' must be a Cell, but got 5."),
    (dict(parameter_dict=[("w", 1)]), TypeError, "'parameter_dict' must be a dict of name -> Parameter, but got an "
                                                 "object of type list."),
    (dict(strict_load=1), TypeError, "'strict_load' must be a bool, but got 1."),
    (dict(parameter_dict={**GOOD_VALUES, 5: np.zeros(1)}), TypeError, "'parameter_dict' must be a dict with str keys, "
                                                                       "but got 5."),
    (dict(parameter_dict={**GOOD_VALUES, "n": [[1], [1, 2]]}), TypeError, "'parameter_dict\\['n'\\]' must be a Tensor "
                                                                           "or an array of one of the dtypes"),
    (dict(parameter_dict={**GOOD_VALUES, "n": np.array(9, np.int32)}), ValueError,
     "'parameter_dict\\['n'\\]' must be \\[\\] Int64 as in the net, but got \\[\\] Int32."),
    (dict(parameter_dict={**GOOD_VALUES, "n": np.array([9], np.int64)}), ValueError,
     "'parameter_dict\\['n'\\]' must be \\[\\] Int64 as in the net, but got \\[1\\] Int64."),
    (dict(parameter_dict={**GOOD_VALUES, "n": "nine"}), TypeError,
     "'parameter_dict\\['n'\\]' must be a Tensor or an array of one of the dtypes .*, but got 'nine'."),
    (dict(parameter_dict={"w": GOOD_VALUES["w"]}, strict_load=True), ValueError,
     "'parameter_dict' must be a dict with exactly the net's Parameter names when strict_load=True, but got "
     "\\['n'\\] missing and \\[\\] unexpected."),
    (dict(parameter_dict={**GOOD_VALUES, "x": np.zeros(1)}, strict_load=True), ValueError,
     "'parameter_dict' must be .*, but got \\[\\] missing and \\['x'\\] unexpected."),
]


@pytest.mark.parametrize("kwargs, error, message", LOAD_CASES)
def test_bad_loads_change_no_parameter(kwargs, error, message):
    net = Small()
    arguments = dict(net=net, parameter_dict=GOOD_VALUES, strict_load=False)
    arguments.update(kwargs)
    with pytest.raises(error, match="For 'load_param_into_net', " + message):
        mc.load_param_into_net(**arguments)
    assert net.w.asnumpy().tolist() == [1, 2] and int(net.n) == 3


# ----- temporary files ---------------------------------------------------------------------------
def dead_pid():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_stale_temporary_files_are_removed_only_when_their_writer_is_gone(tmp_path):
    target = str(tmp_path / "m.ckpt")
    tag, me, gone = _atomic.host_tag(), os.getpid(), dead_pid()
    other_tag = "0" * 8 if tag != "0" * 8 else "1" * 8
    hexes = iter(f"{i:016x}" for i in range(100))

    def temp(base, host, pid):
        return f".{base}.{host}.{pid}.{next(hexes)}.minicell-tmp"

    removed = {temp("m.ckpt", tag, gone), temp("m.ckpt", tag, 0), temp("m.ckpt", tag, 2**33)}
    kept = {temp("m.ckpt", tag, me), temp("m.ckpt", tag, os.getppid()),   # live writers
            temp("m.ckpt", other_tag, gone),                              # another host: PID unknown
            temp("other.ckpt", tag, gone),                                # another target
            temp("m.ckpt.x.ckpt", tag, gone), temp("m", tag, gone),       # other targets, prefix-alike
            f".m.ckpt.{tag}.{gone}.short.minicell-tmp",                   # not the scheme
            f"m.ckpt.{tag}.{gone}.{next(hexes)}.minicell-tmp",            # no leading dot
            f".m.ckpt.{tag}.{gone}.{next(hexes)}.minicell-tmp.bak",       # not the scheme
            "m.ckpt"}
    old = temp("m.ckpt", other_tag, me)  # long idle: removed whoever wrote it
    for name in kept | removed | {old}:
        (tmp_path / name).write_bytes(b"x")
    os.utime(tmp_path / old, (time.time() - 2 * _atomic.STALE_AFTER_SECONDS,) * 2)
    folder_like = temp("m.ckpt", tag, gone)
    (tmp_path / folder_like).mkdir()                 # not a regular file: kept
    link = temp("m.ckpt", tag, gone)
    (tmp_path / link).symlink_to(tmp_path / "m.ckpt")  # a symlink: kept, and its target untouched
    kept |= {folder_like, link}
    assert sorted(_atomic.remove_stale_temps(target)) == sorted(str(tmp_path / n) for n in removed | {old})
    assert set(os.listdir(tmp_path)) == kept


def test_temporary_name_follows_the_scheme(tmp_path):
    name = os.path.basename(_atomic.temp_name(str(tmp_path / "m.ckpt")))
    assert re.fullmatch(rf"\.m\.ckpt\.{_atomic.host_tag()}\.{os.getpid()}\.[0-9a-f]{{16}}\.minicell-tmp", name)


# Savers killed at random moments, in every format: tests/test_checkpoint_formats.py.
