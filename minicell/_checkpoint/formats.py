"""Which checkpoint format a file is in, and the one reader and writer entry point for all three.

``FORMATS`` are MindSpore's ``format=`` values plus minicell's own: ``"npz"`` (minicell's
version-1 ``.npz`` format, ``npz_checkpoint``), ``"safetensors"`` (``safetensors_format``) and
``"ckpt"`` (MindSpore's protobuf, ``mindspore_ckpt``). ``detect`` decides from the first bytes,
never from the file name:

- ``PK\\x03\\x04`` or ``PK\\x05\\x06`` (a zip: local file header or empty archive): npz;
- ``{`` at byte 8 (after the little-endian uint64 header length): safetensors (when byte 0
  is also ``0x0A`` the length must fit in the file too);
- MindSpore's encryption magic numbers, or ``0x0A`` (field 1, length-delimited: the first
  byte of every non-empty ``Checkpoint``): ckpt (whose reader refuses encrypted files);
- anything else, and an empty file, is refused. (An empty file is a valid ``Checkpoint`` with
  no values, which is what MindSpore writes for nothing: it loads with ``format="ckpt"``.)
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from minicell._checkpoint.atomic import write_atomically
from minicell._checkpoint.mindspore_ckpt import CIPHER_MAGICS, read_ckpt, write_ckpt
from minicell._checkpoint.npz import MalformedArchive, MissingPackage, read_npz, write_npz
from minicell._checkpoint.npz_checkpoint import FORMAT_KEY, FORMAT_VERSION, META_KEY, metadata_bytes, split_entries
from minicell._checkpoint.safetensors_format import read_safetensors, write_safetensors
from minicell._checks import fail

FORMATS = ("npz", "safetensors", "ckpt")
SUFFIXES = {"npz": ".ckpt", "safetensors": ".safetensors", "ckpt": ".ckpt"}
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
Entry = tuple[str, np.ndarray, bool]


def detect(head: bytes, size: int) -> str:
    """The format of a file of ``size`` bytes that starts with ``head`` (at least 9 bytes if it has them)."""
    if size == 0:
        raise MalformedArchive("it is empty (an empty MindSpore checkpoint loads with format='ckpt')")
    if head[:4] in ZIP_MAGICS:
        return "npz"
    if len(head) >= 9 and head[8:9] == b"{" and (head[:1] != b"\x0a" or int.from_bytes(head[:8], "little") <= size - 8):
        return "safetensors"
    if (len(head) >= 4 and int.from_bytes(head[:4], "little") in CIPHER_MAGICS) or head[:1] == b"\x0a":
        return "ckpt"
    raise MalformedArchive(f"it is not a NumPy .npz (zip) archive, a safetensors file or a MindSpore Checkpoint "
                           f"(the formats minicell reads): it starts with {head[:8]!r}")


def missing_package(who: str, format: str, package: str) -> ModuleNotFoundError:
    expected = f"a format whose package is installed ('{format}' needs '{package}': pip install 'minicell[interop]')"
    return fail(ModuleNotFoundError, who, "format", expected, format)


def write_checkpoint(path: str, entries: Sequence[Entry], format: str) -> None:
    """Write ``(name, array, requires_grad)`` entries to ``path`` atomically in ``format``."""
    try:
        _write(path, entries, format)
    except MissingPackage as error:
        raise missing_package("save_checkpoint", format, str(error)) from None


def _write(path: str, entries: Sequence[Entry], format: str) -> None:
    if format == "safetensors":
        write_safetensors(path, entries)
    elif format == "ckpt":
        write_atomically(path, lambda handle: write_ckpt(handle, entries))
    else:
        members = [(name, array) for name, array, _ in entries]
        members.append((FORMAT_KEY, np.array(FORMAT_VERSION, dtype=np.int64)))
        members.append((META_KEY, metadata_bytes([n for n, _, _ in entries], [g for _, _, g in entries])))
        write_atomically(path, lambda handle: write_npz(handle, members))


def read_checkpoint(path: str, format: str | None) -> tuple[str, list[Entry]]:
    """``(format, entries)`` of the file ``path``, in ``format`` or the one detected."""
    found = format
    try:
        return _read(path, format)
    except MissingPackage as error:
        found = found or ("safetensors" if str(error) == "safetensors" else "ckpt")
        raise missing_package("load_checkpoint", found, str(error)) from None


def _read(path: str, format: str | None) -> tuple[str, list[Entry]]:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if format is None:
            format = detect(handle.read(16), size)
            handle.seek(0)
        if format == "ckpt":
            return format, read_ckpt(handle, allow_empty=True)
        if format == "npz":
            return format, split_entries(read_npz(handle, _DTYPES))
    return format, read_safetensors(path)


_DTYPES = tuple(np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                      np.uint32, np.uint64, np.float16, np.float32, np.float64))
