"""MindSpore's native ``.ckpt`` checkpoints: a protobuf ``Checkpoint`` message, read and written
with the ``protobuf`` package (imported only when a ``.ckpt`` of this format is used).

The schema is MindSpore's ``mindspore/ccsrc/utils/checkpoint.proto`` (proto2)::

    message Checkpoint {
        message Value {
            required string tag = 1;
            oneof value { TensorProto tensor = 2; MapTensorProto maptensor = 3; }
        }
        repeated Value value = 1;
    }
    message TensorProto { repeated int64 dims = 1; required string tensor_type = 2;
                          required bytes tensor_content = 3; }
    message MapTensorProto { repeated TensorProto tensor = 1; }

The message classes are built at run time from a ``FileDescriptorProto`` in a private
descriptor pool (so MindSpore's own classes, if loaded, do not clash): protobuf parses and
serializes, nothing here reads the wire format by hand.

As MindSpore writes it: ``tensor_content`` is the array's C-order bytes (little-endian),
``dims`` its shape (``[]`` for a 0-d array), ``tensor_type`` MindSpore's dtype name (``Float32``,
``UInt64``, ... ``MINDSPORE_DTYPES``), and an array of more than ``SLICE_BYTES`` is split along
its first axis into several values with the same tag and the full ``dims``, each slice a
``Checkpoint`` message of its own appended to the file (protobuf concatenation is the merge of
the repeated field). The reader joins consecutive values of one tag; a tag that comes back after
another is refused as a duplicate. MindSpore's scalar convention ``dims == [0]`` with one
element of content reads as a 0-d array. A trailing ``crc_num`` record (MindSpore's
``crc_check=True``) is verified and removed.

Refused with the reason (``MalformedArchive``): an empty file unless asked for, encrypted files
(MindSpore's AES-GCM/CBC and SM4 magic numbers), bytes that are not a ``Checkpoint`` (a decode
error, missing required fields, or fields of another schema), map tensors, strings and unknown
dtypes (``BFloat16``, ``Int4``, ... have no minicell dtype), dims that are negative or more than
``MAX_DIMS``, content whose length is not ``prod(dims) * itemsize`` (checked in exact integers
before anything is allocated), split values that disagree on dims or dtype, bad tags, bool
bytes other than 0 and 1. MindSpore has no place for ``requires_grad``: every loaded Parameter
requires grad, as MindSpore loads them.
"""
from __future__ import annotations

import binascii
import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, cast

import numpy as np

from minicell._checkpoint.npz import MAX_DIMS, MalformedArchive, MissingPackage, c_order
from minicell._checkpoint.npz_checkpoint import name_problem, quoted

MINDSPORE_DTYPES = {"Bool": np.dtype(np.bool_), "Int8": np.dtype(np.int8), "Int16": np.dtype(np.int16),
                    "Int32": np.dtype(np.int32), "Int64": np.dtype(np.int64), "UInt8": np.dtype(np.uint8),
                    "UInt16": np.dtype(np.uint16), "UInt32": np.dtype(np.uint32), "UInt64": np.dtype(np.uint64),
                    "Float16": np.dtype(np.float16), "Float32": np.dtype(np.float32),
                    "Float64": np.dtype(np.float64)}
NAME_OF_DTYPE = {dtype: name for name, dtype in MINDSPORE_DTYPES.items()}
CIPHER_MAGICS = (0x7F3A5ED8, 0x7F3A5ED9)  # MindSpore's GCM and CBC magic numbers (utils/crypto.h)
CRC_MARK = b"crc_num"
CRC_RECORD = len(CRC_MARK) + 10  # the mark and a 10-byte big-endian CRC-32
SLICE_BYTES = 512 * 1024 * 1024  # MindSpore's SLICE_SIZE (512 * 1024 KB)
Entry = tuple[str, np.ndarray, bool]


def _protobuf() -> tuple[Any, Any, Any]:
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields
    except ImportError:
        raise MissingPackage("protobuf") from None
    return descriptor_pb2, descriptor_pool, (message_factory, unknown_fields)


@functools.lru_cache(maxsize=1)
def message_classes() -> tuple[type, type]:
    """``(Checkpoint, TensorProto)`` built from MindSpore's schema in a private pool."""
    descriptor_pb2, descriptor_pool, (message_factory, _) = _protobuf()
    fd = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="minicell/mindspore_checkpoint.proto", syntax="proto2")
    checkpoint = file.message_type.add(name="Checkpoint")
    value = checkpoint.nested_type.add(name="Value")
    value.oneof_decl.add(name="value")
    value.field.add(name="tag", number=1, type=fd.TYPE_STRING, label=fd.LABEL_REQUIRED)
    value.field.add(name="tensor", number=2, type=fd.TYPE_MESSAGE, label=fd.LABEL_OPTIONAL,
                    type_name=".TensorProto", oneof_index=0)
    value.field.add(name="maptensor", number=3, type=fd.TYPE_MESSAGE, label=fd.LABEL_OPTIONAL,
                    type_name=".MapTensorProto", oneof_index=0)
    checkpoint.field.add(name="value", number=1, type=fd.TYPE_MESSAGE, label=fd.LABEL_REPEATED,
                         type_name=".Checkpoint.Value")
    tensor = file.message_type.add(name="TensorProto")
    tensor.field.add(name="dims", number=1, type=fd.TYPE_INT64, label=fd.LABEL_REPEATED)
    tensor.field.add(name="tensor_type", number=2, type=fd.TYPE_STRING, label=fd.LABEL_REQUIRED)
    tensor.field.add(name="tensor_content", number=3, type=fd.TYPE_BYTES, label=fd.LABEL_REQUIRED)
    map_tensor = file.message_type.add(name="MapTensorProto")
    map_tensor.field.add(name="tensor", number=1, type=fd.TYPE_MESSAGE, label=fd.LABEL_REPEATED,
                         type_name=".TensorProto")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("Checkpoint")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("TensorProto")))


def write_ckpt(handle: BinaryIO, entries: Sequence[Entry]) -> None:
    """Write ``(name, array, _)`` entries as MindSpore does: one ``Checkpoint`` message per slice."""
    checkpoint_class, _ = message_classes()
    for name, array, _ in entries:
        array = c_order(array)
        pieces = [array]
        if array.nbytes > SLICE_BYTES and array.ndim:
            pieces = np.array_split(array, math.ceil(array.nbytes / SLICE_BYTES))
        for piece in pieces:
            message = checkpoint_class()
            value = message.value.add(tag=name)
            value.tensor.dims.extend(array.shape)
            value.tensor.tensor_type = NAME_OF_DTYPE[array.dtype]
            little_endian = c_order(piece).astype(array.dtype.newbyteorder("<"), copy=False)
            value.tensor.tensor_content = little_endian.tobytes()
            handle.write(message.SerializeToString())


def _without_crc(data: bytes) -> bytes:
    """``data`` without a trailing ``crc_num`` record whose CRC-32 matches (MindSpore's crc_check)."""
    if len(data) >= CRC_RECORD and data[-CRC_RECORD:-10] == CRC_MARK:
        body = data[:-CRC_RECORD]
        if binascii.crc32(body) == int.from_bytes(data[-10:], "big"):
            return body
    return data


def _parse(data: bytes) -> Any:
    checkpoint_class, _ = message_classes()
    _, _, (_, unknown_fields) = _protobuf()
    from google.protobuf.message import DecodeError
    message = checkpoint_class()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise MalformedArchive(f"it is not a MindSpore Checkpoint protobuf ({type(error).__name__}: "
                               f"{str(error)[:200]})") from None
    if not message.IsInitialized():
        missing = ", ".join(message.FindInitializationErrors()[:3])
        raise MalformedArchive(f"it is not a MindSpore Checkpoint protobuf: required fields are missing ({missing})")
    for part in _parts(message):  # one wrapper at a time: a file of a million tiny values holds no list of them
        if len(unknown_fields.UnknownFieldSet(part)):
            raise MalformedArchive("it is not a MindSpore Checkpoint protobuf: it holds fields of another schema")
    return message


def _parts(message: Any) -> Iterator[Any]:
    """The message, each of its values and each value's tensor, one after the other."""
    yield message
    for value in message.value:
        yield value
        if value.HasField("tensor"):
            yield value.tensor


def _group(message: Any) -> list[tuple[str, list[Any]]]:
    """``(tag, [TensorProto, ...])`` with consecutive values of one tag joined; duplicates refused."""
    groups: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    for value in message.value:
        tag = value.tag
        problem = name_problem(tag)
        if problem is not None:
            raise MalformedArchive(f"it has the tag {quoted(tag)}: {problem}")
        which = value.WhichOneof("value")
        if which == "maptensor":
            raise MalformedArchive(f"the value {quoted(tag)} is a map tensor (MindSpore's MapParameter), "
                                   f"which minicell does not read")
        if which != "tensor":
            raise MalformedArchive(f"the value {quoted(tag)} holds no tensor")
        _check_type(tag, value.tensor.tensor_type)  # at once: garbage is refused before it is grouped
        if groups and groups[-1][0] == tag:
            groups[-1][1].append(value.tensor)
            continue
        if tag in seen:
            raise MalformedArchive(f"it holds the tag {quoted(tag)} twice (not as consecutive slices)")
        seen.add(tag)
        groups.append((tag, [value.tensor]))
    return groups


def _check_type(tag: str, type_name: str) -> None:
    if type_name not in MINDSPORE_DTYPES:
        raise MalformedArchive(f"the value {quoted(tag)} has tensor_type {type_name[:40]!r}, which minicell "
                               f"does not read (it reads {', '.join(MINDSPORE_DTYPES)})")


def _array(tag: str, pieces: list[Any]) -> np.ndarray:
    """The array of one tag, its size checked against its dims before it is allocated."""
    first = pieces[0]
    type_name, dims = first.tensor_type, list(first.dims)
    for piece in pieces[1:]:
        if piece.tensor_type != type_name or list(piece.dims) != dims:
            raise MalformedArchive(f"the slices of {quoted(tag)} disagree on dims or tensor_type")
    _check_type(tag, type_name)
    dtype = MINDSPORE_DTYPES[type_name]
    if len(dims) > MAX_DIMS or any(d < 0 for d in dims):
        raise MalformedArchive(f"the value {quoted(tag)} has invalid dims {dims[:MAX_DIMS + 1]}")
    contents = [piece.tensor_content for piece in pieces]  # protobuf makes a bytes object on each access
    held = sum(len(content) for content in contents)
    shape = tuple(dims)
    if dims == [0] and held == dtype.itemsize:  # MindSpore's scalar convention
        shape = ()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed != held:
        raise MalformedArchive(f"the value {quoted(tag)} claims dims {dims} of {type_name} ({claimed} bytes) "
                               f"but holds {held} bytes")
    flat = np.empty(held, dtype=np.uint8)
    start = 0
    for k, content in enumerate(contents):
        flat[start:start + len(content)] = np.frombuffer(content, dtype=np.uint8)
        start += len(content)
        contents[k] = b""  # each piece freed once copied
    array = flat.view(dtype.newbyteorder("<")).reshape(shape)
    if dtype == np.bool_ and array.size and flat.max() > 1:
        raise MalformedArchive(f"the bool value {quoted(tag)} holds bytes other than 0 and 1")
    return cast(np.ndarray, array if array.dtype == dtype else array.astype(dtype))


def read_ckpt(handle: BinaryIO, *, allow_empty: bool = False) -> list[Entry]:
    """``(name, array, True)`` of every value in the MindSpore checkpoint open in ``handle``."""
    data = handle.read()
    if not data and not allow_empty:
        raise MalformedArchive("it is empty")
    if len(data) >= 4 and int.from_bytes(data[:4], "little") in CIPHER_MAGICS:
        raise MalformedArchive("it is an encrypted MindSpore checkpoint, which minicell cannot read "
                               "(decrypt it with MindSpore: load_checkpoint(..., dec_key=...) then save it)")
    message = _parse(_without_crc(data))
    del data
    return [(tag, _array(tag, pieces), True) for tag, pieces in _group(message)]
