"""``save_checkpoint``, ``load_checkpoint`` and ``load_param_into_net`` (see the package docstring)."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from minicell._checkpoint.formats import read_checkpoint, write_checkpoint
from minicell._checkpoint.npz import MalformedArchive
from minicell._checkpoint.npz_checkpoint import quoted
from minicell._checkpoint.safetensors_format import METADATA_KEY
from minicell._checks import Shown, fail, fail_type, fail_value, shorten
from minicell.cell import Cell
from minicell.parameter import Parameter
from minicell.serialization._arguments import (
    check_format,
    check_save_target,
    checked_array,
    entries_of,
    file_name,
    load_path,
    with_suffix,
)
from minicell.tensor import DTYPE_NAMES


def save_checkpoint(save_obj: Any, ckpt_file_name: Any, *, format: str = "npz") -> None:
    """Save every parameter (trainable or not) under its name; a shared Parameter once.

    Args:
        save_obj: a Cell (each Parameter saved under ``param.name``), a dict name ->
            Parameter/Tensor/ndarray, or a list of ``{"name": ..., "data": ...}``.
        ckpt_file_name: the file; the format's suffix is appended when missing (as MindSpore
            does): ``.ckpt`` for ``"npz"`` and ``"ckpt"``, ``.safetensors`` for ``"safetensors"``.
        format: ``"npz"`` (minicell's own), ``"safetensors"`` or ``"ckpt"`` (MindSpore's protobuf).

    Raises:
        TypeError, ValueError: a bad name, value, path or format, or two Parameters with one
            name; then nothing is written.
        FileNotFoundError: the folder of ``ckpt_file_name`` does not exist.
        ModuleNotFoundError: ``safetensors`` or ``protobuf`` is needed and missing (extra ``interop``).
    """
    format = str(check_format("save_checkpoint", format, allow_none=False))
    entries = entries_of(save_obj)
    if format == "safetensors" and any(name == METADATA_KEY for name, _, _ in entries):
        raise fail_value("save_checkpoint", "save_obj", f"names other than {METADATA_KEY!r} in a safetensors file",
                         Shown(f"the name {METADATA_KEY!r}"))
    path = with_suffix(file_name(ckpt_file_name, "save_checkpoint"), format)
    check_save_target(path)
    write_checkpoint(path, entries, format)


def _adopting_parameter(array: np.ndarray, name: str, requires_grad: bool) -> Parameter:
    """A Parameter holding ``array`` itself, a fresh array the reader made and nobody else holds
    (``Parameter(array)`` would copy it: twice the time and memory for a large checkpoint)."""
    if not (array.flags.writeable and array.flags.c_contiguous and array.dtype.isnative):
        return Parameter(array, name=name, requires_grad=requires_grad)
    param = Parameter(np.empty(0, dtype=array.dtype), name=name, requires_grad=requires_grad)
    param._data = array
    return param


def load_checkpoint(ckpt_file_name: Any, net: Cell | None = None, strict_load: bool = False, *,
                    format: str | None = None) -> OrderedDict[str, Parameter]:
    """Load a checkpoint: name -> Parameter, in the saved order; into ``net`` too when given.

    Args:
        ckpt_file_name: the file; without a ``.ckpt`` or ``.safetensors`` suffix, ``.ckpt`` is
            appended (``.safetensors`` when only that file exists).
        net: when given, the values are also loaded into it (``load_param_into_net``).
        strict_load: passed to ``load_param_into_net``.
        format: None (detected from the file's content), or ``"npz"``, ``"safetensors"`` or
            ``"ckpt"`` to insist on one.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a checkpoint (of ``format`` when given), or is truncated,
            corrupted, encrypted or malformed in any way (the message names the file and the
            defect). Nothing is partial, and ``net`` is unchanged.
    """
    format = check_format("load_checkpoint", format, allow_none=True)
    path = load_path(file_name(ckpt_file_name, "load_checkpoint"), format)
    if net is not None and not isinstance(net, Cell):
        raise fail_type("load_checkpoint", "net", "a Cell or None", net)
    if not isinstance(strict_load, bool):
        raise fail_type("load_checkpoint", "strict_load", "a bool", strict_load)
    if os.path.isdir(path):
        raise fail_value("load_checkpoint", "ckpt_file_name", "a checkpoint file",
                         Shown(f"'{path}', which is a folder"))
    if not os.path.isfile(path):
        raise fail(FileNotFoundError, "load_checkpoint", "ckpt_file_name", "an existing checkpoint file",
                   Shown(f"'{path}', which does not exist"))
    try:
        _, entries = read_checkpoint(path, format)
    except MalformedArchive as error:
        expected = "a readable checkpoint" if format is None else f"a readable checkpoint in the format {format!r}"
        raise fail_value("load_checkpoint", "ckpt_file_name", expected, Shown(f"'{path}': {error}")) from None
    result = OrderedDict((name, _adopting_parameter(array, name, grad)) for name, array, grad in entries)
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
        array = checked_array("load_param_into_net", f"parameter_dict[{quoted(name)}]", parameter_dict[name])
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


