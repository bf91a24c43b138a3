"""Checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``load_param_into_net``.

Format: a ``.ckpt`` file that is a NumPy ``.npz`` archive with one array per parameter (named by
its dotted name) and two entries of its own: ``__minicell_format__`` (the format version, an
int64 scalar) and ``__minicell_meta__`` (UTF-8 JSON as uint8: the names in order and their
``requires_grad``). It is read with ``allow_pickle=False``; object arrays are refused; every
dtype, uint64 included, round-trips bit for bit. Files are written atomically.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from minicell._atomic import write_atomically
from minicell.cell import Cell
from minicell.parameter import Parameter
from minicell.tensor import DTYPE_NAMES, Tensor

FORMAT_KEY = "__minicell_format__"
META_KEY = "__minicell_meta__"
FORMAT_VERSION = 1


def _entries(save_obj: Any) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, requires_grad) for what ``save_checkpoint`` accepts."""
    if isinstance(save_obj, Cell):
        return [(name, p._data, p.requires_grad) for name, p in save_obj.parameters_and_names()]
    if isinstance(save_obj, dict):
        items = list(save_obj.items())
    elif isinstance(save_obj, list):
        items = []
        for i, entry in enumerate(save_obj):
            if not isinstance(entry, dict) or set(entry) != {"name", "data"}:
                raise TypeError(f"For 'save_checkpoint', save_obj[{i}] must be a dict with keys 'name' and "
                                f"'data', but got {entry!r:.80}.")
            items.append((entry["name"], entry["data"]))
    else:
        raise TypeError(f"For 'save_checkpoint', 'save_obj' must be a Cell, a dict or a list of dicts, "
                        f"but got {type(save_obj).__name__}.")
    entries, seen = [], set()
    for name, value in items:
        if not isinstance(name, str) or not name or name.startswith("__minicell"):
            raise ValueError(f"For 'save_checkpoint', parameter names must be non-empty strs not starting "
                             f"with '__minicell', but got {name!r}.")
        if name in seen:
            raise ValueError(f"For 'save_checkpoint', the name {name!r} appears twice.")
        seen.add(name)
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype not in DTYPE_NAMES:
            raise TypeError(f"For 'save_checkpoint', '{name}' has dtype {array.dtype}, which is not supported.")
        entries.append((name, array, bool(getattr(value, "requires_grad", False))))
    return entries


def _normalize_path(path: Any, who: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"For '{who}', 'ckpt_file_name' must be a str or a path, but got {type(path).__name__}.")
    path = os.fspath(path)
    return path if path.endswith(".ckpt") else path + ".ckpt"


def save_checkpoint(save_obj: Any, ckpt_file_name: Any) -> None:
    """Save every parameter (trainable or not) under its dotted name; shared ones once.

    Args:
        save_obj: a Cell, a dict name -> Parameter/Tensor/ndarray, or a list of
            ``{"name": ..., "data": ...}``.
        ckpt_file_name: the file; ``.ckpt`` is appended when missing (as MindSpore does).
    """
    path = _normalize_path(ckpt_file_name, "save_checkpoint")
    entries = _entries(save_obj)
    meta = json.dumps({"names": [n for n, _, _ in entries],
                       "requires_grad": [g for _, _, g in entries]}).encode("utf-8")
    arrays = OrderedDict((name, np.array(array, order="C", copy=True)) for name, array, _ in entries)
    arrays[FORMAT_KEY] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays[META_KEY] = np.frombuffer(meta, dtype=np.uint8)
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def _corrupt(path: str, why: str) -> ValueError:
    return ValueError(f"For 'load_checkpoint', the file '{path}' is not a readable minicell checkpoint: {why}.")


def load_checkpoint(ckpt_file_name: Any) -> "OrderedDict[str, Parameter]":
    """Load a checkpoint: dotted name -> Parameter, in the saved order. Nothing is partial:
    a truncated, corrupted or foreign file raises a ``ValueError`` naming it."""
    path = _normalize_path(ckpt_file_name, "load_checkpoint")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"For 'load_checkpoint', the file '{path}' does not exist.")
    if not zipfile.is_zipfile(path):
        raise _corrupt(path, "it is not a NumPy .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if FORMAT_KEY not in archive.files or META_KEY not in archive.files:
                raise _corrupt(path, "it has no minicell format entry")
            version = int(archive[FORMAT_KEY])
            if version != FORMAT_VERSION:
                raise _corrupt(path, f"format version {version} is not {FORMAT_VERSION}")
            meta = json.loads(archive[META_KEY].tobytes().decode("utf-8"))
            names, grads = meta["names"], meta["requires_grad"]
            if sorted(names) != sorted(set(archive.files) - {FORMAT_KEY, META_KEY}):
                raise _corrupt(path, "its parameter list does not match its arrays")
            arrays = [(name, archive[name]) for name in names]
    except ValueError as error:
        if str(error).startswith("For 'load_checkpoint'"):
            raise
        raise _corrupt(path, str(error).rstrip(".")) from None
    except (OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zipfile.LargeZipFile,
            UnicodeDecodeError) as error:
        raise _corrupt(path, f"{type(error).__name__}: {str(error).rstrip('.')}") from None
    result: OrderedDict[str, Parameter] = OrderedDict()
    for (name, array), requires_grad in zip(arrays, grads):
        if array.dtype not in DTYPE_NAMES:
            raise _corrupt(path, f"'{name}' has unsupported dtype {array.dtype}")
        result[name] = Parameter(array, name=name, requires_grad=bool(requires_grad))
    return result


def load_param_into_net(net: Cell, parameter_dict: dict, strict_load: bool = False) -> tuple[list[str], list[str]]:
    """Copy values into ``net``'s Parameters in place, by dotted name.

    Every value is checked before any is copied: a shape or dtype mismatch raises a
    ``ValueError`` naming the parameter, and with ``strict_load=True`` so does a missing or an
    unexpected name; then nothing is changed.

    Returns:
        ``(param_not_load, ckpt_not_load)``: net names absent from the dict, dict names unused.
    """
    if not isinstance(net, Cell):
        raise TypeError(f"For 'load_param_into_net', 'net' must be a Cell, but got {type(net).__name__}.")
    if not isinstance(parameter_dict, dict):
        raise TypeError(f"For 'load_param_into_net', 'parameter_dict' must be a dict, "
                        f"but got {type(parameter_dict).__name__}.")
    targets = net.parameters_dict()
    plan = []
    for name, param in targets.items():
        if name not in parameter_dict:
            continue
        value = parameter_dict[name]
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.shape != param.shape or array.dtype != param.dtype:
            raise ValueError(f"For 'load_param_into_net', '{name}' is {list(param.shape)} "
                             f"{DTYPE_NAMES[param.dtype]} in the net but {list(array.shape)} "
                             f"{DTYPE_NAMES.get(array.dtype, array.dtype)} in the checkpoint.")
        plan.append((param, array))
    param_not_load = [name for name in targets if name not in parameter_dict]
    ckpt_not_load = [name for name in parameter_dict if name not in targets]
    if strict_load and (param_not_load or ckpt_not_load):
        raise ValueError(f"For 'load_param_into_net', with strict_load=True the names must match: "
                         f"missing from the checkpoint {param_not_load}, unexpected {ckpt_not_load}.")
    for param, array in plan:
        np.copyto(param._data, array)
    return param_not_load, ckpt_not_load
