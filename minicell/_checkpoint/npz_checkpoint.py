"""The minicell checkpoint format (version 1), apart from files and Cells: names and metadata.

A checkpoint is an ``.npz`` archive (``minicell._checkpoint.npz``) with one member per parameter, named by
the parameter's name, and two entries of its own: ``__minicell_format__`` (the int64 scalar 1)
and ``__minicell_meta__`` (UTF-8 JSON as uint8: ``{"names": [...], "requires_grad": [...]}``,
the names in order). Names are non-empty strs of at most ``NAME_LIMIT`` characters without
``"\\0"`` or lone surrogates that do not start with ``"__minicell"`` (``"\\0"`` would be cut
by zip, a lone surrogate cannot be written in UTF-8, and a zip name is limited to 65535 bytes).

``split_entries`` checks what a file holds against these rules and raises ``MalformedArchive``
with the reason for anything else: a format version that is not exactly the integer 1 (``1.9``
or ``[1]`` included), metadata that is not this JSON object, lists whose lengths disagree, a bad
or repeated name, flags that are not booleans, names and arrays that do not match one to one.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from minicell._checkpoint.npz import MalformedArchive
from minicell._checks import describe, shorten

FORMAT_KEY = "__minicell_format__"
META_KEY = "__minicell_meta__"
FORMAT_VERSION = 1
NAME_LIMIT = 4096
RESERVED_PREFIX = "__minicell"
NAME_RULE = (f"a non-empty str of at most {NAME_LIMIT} characters, without '\\0' or lone surrogates, "
             f"not starting with '{RESERVED_PREFIX}'")


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a checkpoint key, or None when it can."""
    if not isinstance(name, str):
        return f"a {type(name).__name__}, not a str"
    if not name:
        return "empty"
    if len(name) > NAME_LIMIT:
        return f"{len(name)} characters long"
    if "\0" in name:
        return "it contains '\\0'"
    if name.startswith(RESERVED_PREFIX):
        return f"it starts with '{RESERVED_PREFIX}'"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it holds a lone surrogate"
    return None


def quoted(name: Any) -> str:
    """A name as error messages show it: its repr, shortened, or a description of a non-str."""
    return shorten(repr(name)) if isinstance(name, str) else describe(name)


def metadata_bytes(names: list[str], requires_grad: list[bool]) -> np.ndarray:
    """The metadata entry for these names and flags, as uint8."""
    text = json.dumps({"names": names, "requires_grad": requires_grad})
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _format_version(arrays: dict[str, np.ndarray]) -> None:
    version = arrays.pop(FORMAT_KEY, None)
    if version is None:
        raise MalformedArchive("it has no minicell format entry")
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
        shown = version.tolist() if version.size <= 4 else f"an array of shape {list(version.shape)}"
        raise MalformedArchive(f"its format version is {shown} ({version.dtype}), not the integer {FORMAT_VERSION}")


def _refuse_constant(text: str) -> None:
    raise MalformedArchive(f"its metadata is not UTF-8 JSON (it holds {text})")


def _metadata(arrays: dict[str, np.ndarray]) -> tuple[list[str], list[bool]]:
    """The names and requires_grad flags of the metadata entry, each checked against the arrays."""
    raw = arrays.pop(META_KEY, None)
    if raw is None:
        raise MalformedArchive("it has no metadata entry")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise MalformedArchive(f"its metadata entry is {raw.dtype} of shape {list(raw.shape)}, not uint8 bytes")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedArchive(f"its metadata is not UTF-8 JSON ({type(error).__name__})") from None
    if not isinstance(meta, dict) or set(meta) != {"names", "requires_grad"}:
        raise MalformedArchive("its metadata is not a JSON object with exactly the keys 'names' and 'requires_grad'")
    names, grads = meta["names"], meta["requires_grad"]
    if not isinstance(names, list) or not isinstance(grads, list):
        raise MalformedArchive("its metadata 'names' and 'requires_grad' are not both lists")
    if len(names) != len(grads):
        raise MalformedArchive(f"its metadata lists {len(names)} names but {len(grads)} requires_grad flags")
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            raise MalformedArchive(f"its metadata has the parameter name {quoted(name)}: {problem}")
    if len(set(names)) != len(names):
        twice = next(name for name, count in Counter(names).items() if count > 1)
        raise MalformedArchive(f"its metadata lists the name {quoted(twice)} twice")
    if not all(type(g) is bool for g in grads):
        raise MalformedArchive("its metadata 'requires_grad' holds values other than true and false")
    if set(names) != set(arrays):
        missing, extra = sorted(set(names) - set(arrays)), sorted(set(arrays) - set(names))
        raise MalformedArchive(f"its metadata and its arrays disagree: names without arrays "
                               f"{shorten(str(missing))}, arrays without names {shorten(str(extra))}")
    return names, grads


def split_entries(arrays: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, bool]]:
    """``(name, array, requires_grad)`` in the saved order, from the members of a checkpoint."""
    arrays = dict(arrays)
    _format_version(arrays)
    names, grads = _metadata(arrays)
    return [(name, arrays[name], grad) for name, grad in zip(names, grads)]
