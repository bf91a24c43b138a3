"""What the checkpoint functions accept, checked in one place: names, values, paths, formats.

Every check raises the house error (``minicell._checks``) before anything is written or read.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from minicell._checkpoint.formats import FORMATS, SUFFIXES
from minicell._checkpoint.npz import MAX_DIMS
from minicell._checkpoint.npz_checkpoint import NAME_RULE, name_problem, quoted
from minicell._checks import Shown, check_option, describe, fail, fail_type, fail_value, shorten
from minicell.cell import Cell
from minicell.parameter import array_of
from minicell.tensor import DTYPE_NAMES

DTYPE_RULE = f"a Tensor or an array of one of the dtypes {sorted(DTYPE_NAMES.values())}"


def check_name(name: Any) -> str:
    if name_problem(name) is not None:
        fail = fail_value if isinstance(name, str) else fail_type
        raise fail("save_checkpoint", "name", NAME_RULE, Shown(quoted(name)))
    return name


def checked_array(who: str, arg: str, value: Any) -> np.ndarray:
    """The array of a checkpoint value: a supported dtype, and a shape the reader accepts."""
    array = array_of(value)
    if array is None or array.dtype not in DTYPE_NAMES:
        got = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else describe(value)
        raise fail_type(who, arg, DTYPE_RULE, Shown(got))
    if array.ndim > MAX_DIMS:
        raise fail_value(who, arg, f"an array of at most {MAX_DIMS} dimensions", Shown(f"{array.ndim} dimensions"))
    return array


def named_items(save_obj: Any, who: str = "save_checkpoint", arg: str = "save_obj") -> list[tuple[str, Any]]:
    """``(name, value)`` pairs of what ``save_checkpoint`` accepts; duplicate names refused."""
    if isinstance(save_obj, Cell):
        items: list[tuple[Any, Any]] = []
        where: dict[str, str] = {}
        for path, param in save_obj.parameters_and_names():
            name = path if param.name is None else param.name
            if isinstance(name, str) and name in where:
                raise fail_value(who, arg, "a Cell whose Parameters have distinct names",
                                 Shown(f"the name {quoted(name)} for both '{where[name]}' and '{path}'"))
            where[name] = path
            items.append((name, param))
        return items
    if isinstance(save_obj, dict):
        return list(save_obj.items())
    if isinstance(save_obj, list):
        items = []
        index: dict[Any, int] = {}
        for i, entry in enumerate(save_obj):
            if not isinstance(entry, dict) or set(entry) != {"name", "data"}:
                raise fail_type(who, f"{arg}[{i}]", "a dict with the keys 'name' and 'data'", entry)
            name = entry["name"]
            if isinstance(name, str) and name in index:
                raise fail_value(who, arg, "a list of entries with distinct names",
                                 Shown(f"the name {quoted(name)} in entries {index[name]} and {i}"))
            index[name] = i
            items.append((name, entry["data"]))
        return items
    raise fail_type(who, arg, "a Cell, a dict or a list of dicts", save_obj)


def entries_of(save_obj: Any) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, requires_grad) for each parameter, all checked."""
    entries = []
    for name, value in named_items(save_obj):
        array = checked_array("save_checkpoint", shorten(check_name(name)), value)
        entries.append((name, array, bool(getattr(value, "requires_grad", False))))
    return entries


def file_name(path: Any, who: str) -> str:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise fail_type(who, "ckpt_file_name", "a str or an os.PathLike of a str", path)
    if not text or "\0" in text or text.endswith(("/", os.sep)):
        raise fail_value(who, "ckpt_file_name", "a non-empty file path without '\\0' that does not end in a "
                         "path separator", Shown(quoted(text)))
    return text


def with_suffix(text: str, format: str) -> str:
    """``text`` with the format's suffix appended when missing, as MindSpore does (npz: ``.ckpt``)."""
    return text if text.endswith(SUFFIXES[format]) else text + SUFFIXES[format]


def load_path(text: str, format: str | None) -> str:
    """The file to load: the name as given when it ends in ``.ckpt`` or ``.safetensors``, else
    with the suffix of the format insisted on, or ``.ckpt`` (``.safetensors`` when only that exists)."""
    if text.endswith(tuple(SUFFIXES.values())):
        return text
    if format is not None:
        return with_suffix(text, format)
    if not os.path.exists(text + ".ckpt") and os.path.exists(text + ".safetensors"):
        return text + ".safetensors"
    return text + ".ckpt"


def check_format(who: str, format: Any, allow_none: bool) -> str | None:
    if format is None and allow_none:
        return None
    return check_option(who, "format", format, FORMATS)


def check_save_target(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise fail(FileNotFoundError, "save_checkpoint", "ckpt_file_name", "a file in an existing folder",
                   Shown(f"'{path}', whose folder '{folder}' does not exist"))
    if os.path.isdir(path):
        raise fail_value("save_checkpoint", "ckpt_file_name", "a file path", Shown(f"'{path}', which is a folder"))


