"""A strict reader and a writer for ``.npz`` archives of plain arrays (no pickle, no surprises).

The writer does what ``np.savez`` does: a zip of uncompressed (``ZIP_STORED``) members
``<key>.npy`` in NumPy's ``.npy`` format (https://numpy.org/doc/stable/reference/generated/
numpy.lib.format.html), so ``np.load`` reads its files too.

The reader trusts nothing in the file. Before it allocates anything it checks that:

- the zip's members are distinct, uncompressed, unencrypted ``.npy`` files that lie inside the
  file and whose sizes add up to at most the file's size (so overlapping members cannot make it
  allocate more than the file holds);
- each member's ``.npy`` header is format version exactly 1.0 or 2.0, at most
  ``MAX_HEADER_BYTES`` long, and declares an allowed dtype (either byte order) and a shape of at
  most ``MAX_DIMS`` non-negative dimensions whose ``prod(shape) * itemsize`` equals the bytes the
  member actually holds after its header (a header claiming ``(2**40,)`` is refused).

Then it reads each member into a fresh array of that size, checks the zip CRC, and refuses bool
data whose bytes are not 0 or 1. Every defect raises ``MalformedArchive`` with the reason; the
caller turns it into its own error naming the file. Errors raised by ``zipfile``, ``zlib`` and
``struct`` on a damaged file are turned into ``MalformedArchive`` too.
"""
from __future__ import annotations

import io
import math
import os
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Collection, Iterable
from typing import IO, BinaryIO, cast

import numpy as np

MAGIC = b"\x93NUMPY"
HEADER_LENGTH_FORMATS = {(1, 0): "<H", (2, 0): "<I"}
MAX_HEADER_BYTES = 10_000  # NumPy's own default limit (np.load's max_header_size)
MAX_DIMS = 32
READ_CHUNK = 1 << 24
SUFFIX = ".npy"


class MalformedArchive(Exception):
    """The archive is not what it claims to be; ``str(error)`` says why."""


class MissingPackage(Exception):
    """A format's package is not installed; ``str(error)`` is the package's name."""


def c_order(array: np.ndarray) -> np.ndarray:
    """``array`` in C order, its shape kept (``np.ascontiguousarray`` makes a 0-d array 1-d)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def write_npz(handle: BinaryIO, members: Iterable[tuple[str, np.ndarray]]) -> None:
    """Write ``(key, array)`` pairs as members ``<key>.npy`` of an uncompressed zip, as np.savez."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in members:
            with archive.open(key + SUFFIX, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _check_layout(infos: list[zipfile.ZipInfo], archive_size: int) -> None:
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        counts = Counter(names)
        twice = sorted(n for n, count in counts.items() if count > 1)
        raise MalformedArchive(f"the zip member {twice[0]!r} appears more than once")
    for info in infos:
        if not info.filename.endswith(SUFFIX) or info.is_dir():
            raise MalformedArchive(f"the zip member {info.filename[:80]!r} is not a .npy file")
        if info.flag_bits & 0x1:
            raise MalformedArchive(f"the zip member {info.filename[:80]!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise MalformedArchive(f"the zip member {info.filename[:80]!r} is compressed; only stored "
                                   f"(uncompressed) members are read")
        if info.header_offset + info.compress_size > archive_size:
            raise MalformedArchive(f"the zip member {info.filename[:80]!r} extends past the end of the file")
    if sum(info.file_size for info in infos) > archive_size:
        raise MalformedArchive("its zip members claim more bytes than the file holds")


def _read_exactly(stream: IO[bytes], count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise MalformedArchive(f"{what} is truncated")
    return data


def _read_header(stream: IO[bytes], member: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, header_bytes)`` of one ``.npy`` member, checked."""
    prefix = _read_exactly(stream, len(MAGIC) + 2, f"the member {member!r}")
    if prefix[:len(MAGIC)] != MAGIC:
        raise MalformedArchive(f"the member {member!r} is not in the .npy format")
    version = (prefix[-2], prefix[-1])
    if version not in HEADER_LENGTH_FORMATS:
        raise MalformedArchive(f"the member {member!r} has .npy format version {version[0]}.{version[1]}, "
                               f"not 1.0 or 2.0")
    length_format = HEADER_LENGTH_FORMATS[version]
    length_field = _read_exactly(stream, struct.calcsize(length_format), f"the header of {member!r}")
    length = struct.unpack(length_format, length_field)[0]
    if length > MAX_HEADER_BYTES:
        raise MalformedArchive(f"the member {member!r} has a {length}-byte .npy header, more than "
                               f"{MAX_HEADER_BYTES}")
    header = _read_exactly(stream, length, f"the header of {member!r}")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran_order, dtype = reader(io.BytesIO(length_field + header), max_header_size=MAX_HEADER_BYTES)
    except (ValueError, SyntaxError, TypeError) as error:
        raise MalformedArchive(f"the member {member!r} has an invalid .npy header ({error})") from None
    if len(shape) > MAX_DIMS or any(type(d) is not int or d < 0 for d in shape):
        raise MalformedArchive(f"the member {member!r} has an invalid shape {shape}")
    return tuple(shape), bool(fortran_order), dtype, len(prefix) + len(length_field) + length


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtypes: Collection[np.dtype]) -> np.ndarray:
    member = info.filename[:80]
    with archive.open(info) as stream:
        shape, fortran_order, dtype, header_bytes = _read_header(stream, member)
        native = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
        if dtype.hasobject or native not in dtypes:
            raise MalformedArchive(f"the member {member!r} has dtype {dtype.str!r}, which is not supported")
        claimed = math.prod(shape) * dtype.itemsize
        held = info.file_size - header_bytes
        if claimed != held:
            raise MalformedArchive(f"the member {member!r} claims shape {shape} of {dtype.name} "
                                   f"({claimed} bytes) but holds {held} bytes")
        array = np.empty(shape[::-1] if fortran_order else shape, dtype=dtype)
        view, reader = array.reshape(-1).view(np.uint8).data, cast(io.BufferedIOBase, stream)
        for start in range(0, claimed, READ_CHUNK):
            chunk = view[start:start + READ_CHUNK]
            if reader.readinto(chunk) != len(chunk):
                raise MalformedArchive(f"the member {member!r} is truncated")
        if stream.read(1):  # also makes zipfile check the CRC
            raise MalformedArchive(f"the member {member!r} is longer than its header says")
    if fortran_order:
        array = array.T
    if dtype != native:
        array = array.astype(native)
    if native == np.bool_ and array.size and array.view(np.uint8).max() > 1:
        raise MalformedArchive(f"the bool member {member!r} holds bytes other than 0 and 1")
    return array if array.flags.c_contiguous else array.copy(order="C")


ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error,
              zlib.error, NotImplementedError, RuntimeError, UnicodeDecodeError, KeyError, OverflowError)


def read_npz(handle: BinaryIO, dtypes: Collection[np.dtype]) -> dict[str, np.ndarray]:
    """Every member of the archive open in ``handle``, as ``key -> array``, checked as above."""
    archive_size = os.fstat(handle.fileno()).st_size
    try:
        archive = zipfile.ZipFile(handle)
    except ZIP_ERRORS as error:
        raise MalformedArchive(f"it is not a NumPy .npz (zip) archive ({type(error).__name__}: {error})") from None
    with archive:
        try:
            infos = archive.infolist()
            _check_layout(infos, archive_size)
            return {info.filename[:-len(SUFFIX)]: _read_member(archive, info, dtypes) for info in infos}
        except ZIP_ERRORS as error:
            raise MalformedArchive(f"it is damaged ({type(error).__name__}: {error})") from None
