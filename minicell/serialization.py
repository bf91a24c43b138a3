"""Checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``load_param_into_net``.

Keys are Parameter names, as in MindSpore: ``save_checkpoint(cell)`` writes each Parameter under
``param.name`` (its structural path when it has no name), and ``load_param_into_net`` matches
the net's Parameters by ``param.name``. So a checkpoint of a training cell loads into a fresh
network: wrapping a network does not rename its Parameters.

Format (version 1, ``minicell._checkpoint.npz_checkpoint``): a ``.ckpt`` file that is an uncompressed NumPy
``.npz`` archive with one ``.npy`` member per parameter, named by the parameter's name, plus a
format entry and a metadata entry (names in order, ``requires_grad``). Every supported dtype,
uint64 included, round-trips bit for bit.

Everything is checked before the temporary file is written, and again when reading, where
nothing in the file is trusted (see ``minicell._checkpoint.npz``): every malformed file is a ``ValueError``
naming it and what is wrong. Saving into a folder that does not exist is a
``FileNotFoundError``, like loading a file that does not exist. Files are written atomically;
temporary files left by killed savers are removed by the next save to the same path
(``minicell._checkpoint.atomic``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from minicell._checkpoint.atomic import write_atomically
from minicell._checkpoint.npz import MAX_DIMS, MalformedArchive, read_npz, write_npz
from minicell._checkpoint.npz_checkpoint import (
    FORMAT_KEY,
    FORMAT_VERSION,
    META_KEY,
    NAME_RULE,
    metadata_bytes,
    name_problem,
    quoted,
    split_entries,
)
from minicell._checks import Shown, describe, fail_type, fail_value, shorten
from minicell.cell import Cell
from minicell.parameter import Parameter, array_of
from minicell.tensor import DTYPE_NAMES

DTYPE_RULE = f"a Tensor or an array of one of the dtypes {sorted(DTYPE_NAMES.values())}"


def _check_name(name: Any) -> str:
    if name_problem(name) is not None:
        fail = fail_value if isinstance(name, str) else fail_type
        raise fail("save_checkpoint", "name", NAME_RULE, Shown(quoted(name)))
    return name


def _checked_array(who: str, arg: str, value: Any) -> np.ndarray:
    """The array of a checkpoint value: a supported dtype, and a shape the reader accepts."""
    array = array_of(value)
    if array is None or array.dtype not in DTYPE_NAMES:
        got = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else describe(value)
        raise fail_type(who, arg, DTYPE_RULE, Shown(got))
    if array.ndim > MAX_DIMS:
        raise fail_value(who, arg, f"an array of at most {MAX_DIMS} dimensions", Shown(f"{array.ndim} dimensions"))
    return array


def _named_items(save_obj: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs of what ``save_checkpoint`` accepts; duplicate names refused."""
    if isinstance(save_obj, Cell):
        items: list[tuple[Any, Any]] = []
        where: dict[str, str] = {}
        for path, param in save_obj.parameters_and_names():
            name = path if param.name is None else param.name
            if isinstance(name, str) and name in where:
                raise fail_value("save_checkpoint", "save_obj", "a Cell whose Parameters have distinct names",
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
                raise fail_type("save_checkpoint", f"save_obj[{i}]", "a dict with the keys 'name' and 'data'", entry)
            name = entry["name"]
            if isinstance(name, str) and name in index:
                raise fail_value("save_checkpoint", "save_obj", "a list of entries with distinct names",
                                 Shown(f"the name {quoted(name)} in entries {index[name]} and {i}"))
            index[name] = i
            items.append((name, entry["data"]))
        return items
    raise fail_type("save_checkpoint", "save_obj", "a Cell, a dict or a list of dicts", save_obj)


def _entries(save_obj: Any) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, requires_grad) for each parameter, all checked."""
    entries = []
    for name, value in _named_items(save_obj):
        array = _checked_array("save_checkpoint", shorten(_check_name(name)), value)
        entries.append((name, array, bool(getattr(value, "requires_grad", False))))
    return entries


def _normalize_path(path: Any, who: str) -> str:
    """The checked file name, with ``.ckpt`` appended when missing (as MindSpore does)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise fail_type(who, "ckpt_file_name", "a str or an os.PathLike of a str", path)
    if not text or "\0" in text or text.endswith(("/", os.sep)):
        raise fail_value(who, "ckpt_file_name", "a file path without '\\0'", Shown(quoted(text)))
    return text if text.endswith(".ckpt") else text + ".ckpt"


def _check_save_target(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(*fail_value("save_checkpoint", "ckpt_file_name", "a file in an existing folder",
                                            Shown(f"'{path}', whose folder '{folder}' does not exist")).args)
    if os.path.isdir(path):
        raise fail_value("save_checkpoint", "ckpt_file_name", "a file path", Shown(f"'{path}', which is a folder"))


def save_checkpoint(save_obj: Any, ckpt_file_name: Any) -> None:
    """Save every parameter (trainable or not) under its name; a shared Parameter once.

    Args:
        save_obj: a Cell (each Parameter saved under ``param.name``), a dict name ->
            Parameter/Tensor/ndarray, or a list of ``{"name": ..., "data": ...}``.
        ckpt_file_name: the file; ``.ckpt`` is appended when missing (as MindSpore does).

    Raises:
        TypeError, ValueError: a bad name, value or path, or two Parameters with one name;
            then nothing is written.
        FileNotFoundError: the folder of ``ckpt_file_name`` does not exist.
    """
    entries = _entries(save_obj)
    path = _normalize_path(ckpt_file_name, "save_checkpoint")
    _check_save_target(path)
    members = [(name, array) for name, array, _ in entries]
    members.append((FORMAT_KEY, np.array(FORMAT_VERSION, dtype=np.int64)))
    members.append((META_KEY, metadata_bytes([n for n, _, _ in entries], [g for _, _, g in entries])))
    write_atomically(path, lambda handle: write_npz(handle, members))


def _read(path: str) -> OrderedDict[str, Parameter]:
    with open(path, "rb") as handle:
        arrays = read_npz(handle, DTYPE_NAMES)
    return OrderedDict((name, Parameter(array, name=name, requires_grad=grad))
                       for name, array, grad in split_entries(arrays))


def load_checkpoint(ckpt_file_name: Any, net: Cell | None = None,
                    strict_load: bool = False) -> OrderedDict[str, Parameter]:
    """Load a checkpoint: name -> Parameter, in the saved order; into ``net`` too when given.

    Args:
        ckpt_file_name: the file; ``.ckpt`` is appended when missing.
        net: when given, the values are also loaded into it (``load_param_into_net``).
        strict_load: passed to ``load_param_into_net``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a minicell checkpoint, or is truncated, corrupted or
            malformed in any way (the message names the file and the defect). Nothing is partial.
    """
    path = _normalize_path(ckpt_file_name, "load_checkpoint")
    if net is not None and not isinstance(net, Cell):
        raise fail_type("load_checkpoint", "net", "a Cell or None", net)
    if not isinstance(strict_load, bool):
        raise fail_type("load_checkpoint", "strict_load", "a bool", strict_load)
    if os.path.isdir(path):
        raise fail_value("load_checkpoint", "ckpt_file_name", "a checkpoint file",
                         Shown(f"'{path}', which is a folder"))
    if not os.path.isfile(path):
        raise FileNotFoundError(*fail_value("load_checkpoint", "ckpt_file_name", "an existing checkpoint file",
                                            Shown(f"'{path}', which does not exist")).args)
    try:
        result = _read(path)
    except MalformedArchive as error:
        raise fail_value("load_checkpoint", "ckpt_file_name", "a readable minicell checkpoint",
                         Shown(f"'{path}': {error}")) from None
    if net is not None:
        load_param_into_net(net, result, strict_load)
    return result


def load_param_into_net(net: Cell, parameter_dict: dict, strict_load: bool = False) -> tuple[list[str], list[str]]:
    """Copy values into ``net``'s Parameters in place, matching them by ``param.name``.

    Every value is checked before any is copied: a shape or dtype mismatch raises a
    ``ValueError`` naming the parameter, and with ``strict_load=True`` so does a missing or an
    unexpected name; then nothing is changed.

    Returns:
        ``(param_not_load, ckpt_not_load)`` as MindSpore 2.x: the names of the net's Parameters
        absent from the dict, and the dict's names that match no Parameter.
    """
    if not isinstance(net, Cell):
        raise fail_type("load_param_into_net", "net", "a Cell", net)
    if not isinstance(parameter_dict, dict):
        raise fail_type("load_param_into_net", "parameter_dict", "a dict of name -> Parameter", parameter_dict)
    if not isinstance(strict_load, bool):
        raise fail_type("load_param_into_net", "strict_load", "a bool", strict_load)
    for key in parameter_dict:
        if not isinstance(key, str):
            raise fail_type("load_param_into_net", "parameter_dict", "a dict with str keys", key)
    targets: OrderedDict[str, list[Parameter]] = OrderedDict()
    for path, param in net.parameters_and_names():
        targets.setdefault(path if param.name is None else param.name, []).append(param)
    plan = []
    for name, params in targets.items():
        if name not in parameter_dict:
            continue
        array = _checked_array("load_param_into_net", f"parameter_dict[{quoted(name)}]", parameter_dict[name])
        for param in params:
            if array.shape != param.shape or array.dtype != param.dtype:
                raise fail_value("load_param_into_net", f"parameter_dict[{quoted(name)}]",
                                 f"{list(param.shape)} {DTYPE_NAMES[param.dtype]} as in the net",
                              Shown(f"{list(array.shape)} {DTYPE_NAMES.get(array.dtype, array.dtype)}"))
            plan.append((param, array))
    param_not_load = [name for name in targets if name not in parameter_dict]
    ckpt_not_load = [name for name in parameter_dict if name not in targets]
    if strict_load and (param_not_load or ckpt_not_load):
        raise fail_value("load_param_into_net", "parameter_dict",
                         "a dict with exactly the net's Parameter names when strict_load=True",
                         Shown(f"{shorten(str(param_not_load), 400)} missing and "
                               f"{shorten(str(ckpt_not_load), 400)} unexpected"))
    for param, array in plan:
        np.copyto(param._data, array)
    return param_not_load, ckpt_not_load
