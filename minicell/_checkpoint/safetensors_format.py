"""safetensors checkpoints (https://huggingface.co/docs/safetensors), through the ``safetensors``
package's NumPy API; the package is imported only when a safetensors file is written or read.

A file is ``N`` (little-endian uint64), an ``N``-byte UTF-8 JSON header, then the tensors' bytes
(C order, little-endian). The header maps each name to ``{"dtype", "shape", "data_offsets":
[begin, end]}`` (offsets into the data that follows the header) and may hold ``"__metadata__"``
(str -> str). minicell writes one metadata entry, ``"minicell"``: the JSON ``{"names": [...],
"requires_grad": [...]}`` of the npz format, which keeps the saved order and the flags; a file
without it (written by PyTorch, MindSpore, ...) loads in the order of its data, every Parameter
with ``requires_grad=True`` as MindSpore loads.

The reader checks the header itself before handing the file to ``safetensors.safe_open``
(which memory-maps it and copies out one tensor at a time): the length field against
``MAX_HEADER_BYTES`` (safetensors' own limit) and the file's size, the JSON (no duplicate
names, no NaN), every entry (a known dtype, at most ``MAX_DIMS`` non-negative dimensions, two
ordered offsets, ``prod(shape) * itemsize == end - begin`` in exact integers), and the layout:
sorted by offset, the tensors tile the data exactly, from 0 to the end of the file, without
overlap or gap (as safetensors requires). Then what safe_open returns is checked against it
(names, dtypes, shapes: the file may have been replaced in between) and bool data must hold
only 0 and 1. Every defect is a ``MalformedArchive`` with the reason.

dtypes: BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, F32, F64, each bit for bit (uint64
generator state included). BF16 and the other safetensors dtypes have no minicell dtype and
are refused by name.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from minicell._checkpoint.atomic import write_atomically_by_name
from minicell._checkpoint.npz import MAX_DIMS, MalformedArchive, MissingPackage, c_order
from minicell._checkpoint.npz_checkpoint import name_problem, quoted

DTYPES = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
          "U16": np.dtype(np.uint16), "I16": np.dtype(np.int16), "U32": np.dtype(np.uint32),
          "I32": np.dtype(np.int32), "U64": np.dtype(np.uint64), "I64": np.dtype(np.int64),
          "F16": np.dtype(np.float16), "F32": np.dtype(np.float32), "F64": np.dtype(np.float64)}
MAX_HEADER_BYTES = 100_000_000  # safetensors' MAX_HEADER_SIZE
METADATA_KEY = "__metadata__"
MINICELL_KEY = "minicell"
Entry = tuple[str, np.ndarray, bool]


def _package() -> Any:
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise MissingPackage("safetensors") from None
    return safetensors


def write_safetensors(path: str, entries: Sequence[Entry]) -> None:
    """Write ``(name, array, requires_grad)`` entries to ``path`` atomically."""
    package = _package()
    tensors = {name: c_order(array) for name, array, _ in entries}
    meta = json.dumps({"names": [n for n, _, _ in entries], "requires_grad": [g for _, _, g in entries]})
    write_atomically_by_name(path, lambda tmp: package.numpy.save_file(tensors, tmp, metadata={MINICELL_KEY: meta}))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise MalformedArchive(f"its safetensors header names {quoted(key)} twice")
        seen[key] = value
    return seen


def _refuse_constant(text: str) -> None:
    raise MalformedArchive(f"its safetensors header holds {text}, which is not JSON")


def _header(handle: Any, size: int) -> tuple[dict[str, Any], int]:
    """The parsed header and the number of data bytes after it; lengths checked first."""
    if size < 8:
        raise MalformedArchive(f"it is truncated: {size} bytes, fewer than the 8 of a safetensors header length")
    length = int.from_bytes(handle.read(8), "little")
    if length > MAX_HEADER_BYTES:
        raise MalformedArchive(f"its safetensors header claims {length} bytes, more than the limit {MAX_HEADER_BYTES}")
    if length > size - 8:
        raise MalformedArchive(f"its safetensors header claims {length} bytes but the file holds {size - 8} "
                               f"after the length field")
    text = handle.read(length)
    if len(text) != length:
        raise MalformedArchive("its safetensors header is truncated")
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedArchive(f"its safetensors header is not UTF-8 JSON ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise MalformedArchive("its safetensors header is not a JSON object")
    return header, size - 8 - length


def _entry(name: str, spec: Any) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """``(dtype, shape, begin, end)`` of one header entry, each checked."""
    problem = name_problem(name)
    if problem is not None:
        raise MalformedArchive(f"its tensor name {quoted(name)} is not allowed: {problem}")
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise MalformedArchive(f"the tensor {quoted(name)} is not described by exactly 'dtype', 'shape' and "
                               f"'data_offsets'")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        shown = repr(dtype)[:40] if isinstance(dtype, str) else type(dtype).__name__
        raise MalformedArchive(f"the tensor {quoted(name)} has dtype {shown}, which minicell does not read "
                               f"(it reads {', '.join(DTYPES)})")
    ints = (isinstance(shape, list) and len(shape) <= MAX_DIMS
            and all(type(d) is int and d >= 0 for d in shape))
    if not ints:
        raise MalformedArchive(f"the tensor {quoted(name)} has an invalid shape "
                               f"(not a list of at most {MAX_DIMS} non-negative ints)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise MalformedArchive(f"the tensor {quoted(name)} has invalid data_offsets (not two ordered "
                               f"non-negative ints)")
    claimed = math.prod(shape) * DTYPES[dtype].itemsize
    if claimed != offsets[1] - offsets[0]:
        raise MalformedArchive(f"the tensor {quoted(name)} claims shape {tuple(shape)} of {dtype} ({claimed} "
                               f"bytes) but its offsets hold {offsets[1] - offsets[0]} bytes")
    return DTYPES[dtype], tuple(shape), offsets[0], offsets[1]


def _checked_layout(specs: dict[str, tuple[np.dtype, tuple[int, ...], int, int]], data_bytes: int) -> list[str]:
    """The names in the order of their data, once the tensors are known to tile the data exactly."""
    order = sorted(specs, key=lambda n: (specs[n][2], specs[n][3]))
    end, previous = 0, None
    for name in order:
        begin, stop = specs[name][2], specs[name][3]
        if stop > data_bytes:
            raise MalformedArchive(f"the tensor {quoted(name)} lies past the end of the file (its data ends at "
                                   f"byte {stop} of {data_bytes})")
        if begin < end:
            raise MalformedArchive(f"the tensors {quoted(previous)} and {quoted(name)} overlap")
        if begin > end:
            raise MalformedArchive(f"its data has unused bytes {end}..{begin} before the tensor {quoted(name)}")
        end, previous = max(end, stop), name
    if end != data_bytes:
        raise MalformedArchive(f"its tensors hold {end} bytes but the file holds {data_bytes} after the header")
    return order


def _minicell_metadata(metadata: Any, names: list[str]) -> tuple[list[str], list[bool]]:
    """The saved order and requires_grad flags, from the metadata when minicell wrote it."""
    if metadata is None:
        return names, [True] * len(names)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise MalformedArchive("its safetensors '__metadata__' is not a JSON object of strings")
    if MINICELL_KEY not in metadata:
        return names, [True] * len(names)
    try:
        meta = json.loads(metadata[MINICELL_KEY], parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise MalformedArchive("its minicell metadata is not JSON") from None
    if not isinstance(meta, dict) or set(meta) != {"names", "requires_grad"}:
        raise MalformedArchive("its minicell metadata is not an object with exactly 'names' and 'requires_grad'")
    saved, grads = meta["names"], meta["requires_grad"]
    if not isinstance(saved, list) or not isinstance(grads, list) or len(saved) != len(grads):
        raise MalformedArchive("its minicell metadata 'names' and 'requires_grad' are not lists of one length")
    if not all(type(g) is bool for g in grads):
        raise MalformedArchive("its minicell metadata 'requires_grad' holds values other than true and false")
    if not all(isinstance(name, str) for name in saved):
        raise MalformedArchive("its minicell metadata 'names' holds values other than strings")
    if len(saved) != len(names) or set(saved) != set(names):
        raise MalformedArchive("its minicell metadata names other tensors than the header")
    return saved, grads


def read_safetensors(path: str) -> list[Entry]:
    """``(name, array, requires_grad)`` of every tensor in the safetensors file ``path``, checked."""
    with open(path, "rb") as handle:
        header, data_bytes = _header(handle, os.fstat(handle.fileno()).st_size)
    metadata = header.pop(METADATA_KEY, None)
    specs = {name: _entry(name, spec) for name, spec in header.items()}
    names, grads = _minicell_metadata(metadata, _checked_layout(specs, data_bytes))
    package = _package()
    arrays: dict[str, np.ndarray] = {}
    try:
        with package.safe_open(path, framework="numpy") as stored:
            if set(stored.keys()) != set(names):
                raise MalformedArchive("it changed while it was read")
            for name in names:
                dtype, shape = specs[name][0], specs[name][1]
                array = stored.get_tensor(name)
                if array.dtype != dtype or array.shape != shape:
                    raise MalformedArchive("it changed while it was read")
                if dtype == np.bool_ and array.size and array.view(np.uint8).max() > 1:
                    raise MalformedArchive(f"the bool tensor {quoted(name)} holds bytes other than 0 and 1")
                arrays[name] = array if array.flags.writeable and array.flags.c_contiguous else array.copy()
    except (package.SafetensorError, OSError, ValueError) as error:
        raise MalformedArchive(f"safetensors refused it ({type(error).__name__}: {error})") from None
    return [(name, arrays[name], grad) for name, grad in zip(names, grads)]
