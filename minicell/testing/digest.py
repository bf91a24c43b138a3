"""``fingerprint(obj)``: a SHA-256 (hex) of the names, dtypes, shapes and bytes of a model or data.

The hash covers the canonical tree of ``obj`` (``minicell.testing._tree``: a Cell is the mapping
of its parameters by dotted name, in sorted name order; tuples and lists are sequences; dict keys
are strs, sorted; arrays are little-endian, C order). The byte encoding is prefix-free, so two
different trees never encode to the same bytes::

    fingerprint(obj) = sha256(b"minicell.fingerprint.v1\\n" + enc(tree)).hexdigest()

    enc(None)     = b"N"
    enc(array)    = b"A" + str(dtype.str) + u64(ndim) + u64(shape[0]) ... u64(shape[-1]) + bytes
    enc(sequence) = b"L" + u64(len) + enc(item_0) + enc(item_1) + ...
    enc(mapping)  = b"D" + u64(len) + str(key_0) + enc(value_0) + ...   (keys in sorted order)
    str(s)        = u64(len(s.encode("utf-8"))) + s.encode("utf-8")
    u64(n)        = n as 8 bytes, little-endian (struct.pack("<Q", n))

``dtype.str`` is NumPy's little-endian type string (``"<f4"``, ``"<i8"``, ``"|b1"``); the
array's byte count follows from dtype and shape. Consequences: ``-0.0`` and ``0.0`` and NaNs
with different payloads give different fingerprints; ``fingerprint(cell) ==
fingerprint(cell.parameters_dict()) == fingerprint(load_checkpoint(path))`` for a checkpoint of
the cell; a float32 and a float64 array of equal values differ. A Cell's training mode and its
Python attributes that are not Parameters are not covered.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np

from minicell.testing._tree import Tree, canonical

PREFIX = b"minicell.fingerprint.v1\n"


def _u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def _str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _u64(len(raw)) + raw


def _feed(digest: Any, tree: Tree) -> None:
    if tree is None:
        digest.update(b"N")
    elif isinstance(tree, list):
        digest.update(b"L" + _u64(len(tree)))
        for item in tree:
            _feed(digest, item)
    elif isinstance(tree, dict):
        digest.update(b"D" + _u64(len(tree)))
        for key, value in tree.items():
            digest.update(_str(key))
            _feed(digest, value)
    else:
        digest.update(b"A" + _str(tree.dtype.str) + _u64(tree.ndim) + b"".join(_u64(d) for d in tree.shape))
        digest.update(tree.reshape(-1).view(np.uint8))


def fingerprint(obj: Any) -> str:
    """SHA-256 (64 hex digits) of ``obj``'s names, dtypes, shapes and bytes (encoding above).

    Args:
        obj: a Cell (its parameters, by name), a Tensor, an ndarray, a scalar, None, or a
            nested tuple/list/dict (str keys) of them.

    Raises:
        TypeError: for anything else (object arrays, non-str dict keys, other types).
    """
    digest = hashlib.sha256(PREFIX)
    _feed(digest, canonical(obj, "fingerprint"))
    return digest.hexdigest()
