"""Checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``load_param_into_net``, and the
PyTorch name maps ``to_torch_names``, ``from_torch_names``.

Keys are Parameter names, as in MindSpore: ``save_checkpoint(cell)`` writes each Parameter under
``param.name`` (its structural path when it has no name), and ``load_param_into_net`` matches
the net's Parameters by ``param.name``. So a checkpoint of a training cell loads into a fresh
network: wrapping a network does not rename its Parameters.

Formats (``format=``, DESIGN.md section 9; the readers and writers are in
``minicell._checkpoint``): ``"npz"`` (the default: minicell's version-1 format, an uncompressed
NumPy ``.npz`` archive with the names in order and ``requires_grad``), ``"safetensors"`` (read by
PyTorch, MindSpore 2.7, JAX and NumPy through the ``safetensors`` package) and ``"ckpt"``
(MindSpore's protobuf ``Checkpoint``). ``load_checkpoint`` detects the format from the file's
first bytes; ``format=`` insists on one. Every dtype, uint64 included, round-trips bit for bit
in all three. The ``safetensors`` and ``protobuf`` packages (extra ``interop``) are imported only
when those formats are used.

Everything is checked before the temporary file is written, and again when reading, where
nothing in the file is trusted: every malformed file is a ``ValueError`` naming it and what is
wrong, decided before anything larger than the file is allocated. Saving into a folder that
does not exist is a ``FileNotFoundError``, like loading a file that does not exist. Files are
written atomically; temporary files left by killed savers are removed by the next save to the
same path (``minicell._checkpoint.atomic``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from minicell._checkpoint.formats import FORMATS, SUFFIXES, read_checkpoint, write_checkpoint
from minicell._checkpoint.npz import MAX_DIMS, MalformedArchive
from minicell._checkpoint.npz_checkpoint import NAME_RULE, name_problem, quoted
from minicell._checkpoint.safetensors_format import METADATA_KEY
from minicell._checkpoint.torch_names import NameClash, from_torch, to_torch
from minicell._checks import Shown, check_option, describe, fail, fail_type, fail_value, shorten
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


def _named_items(save_obj: Any, who: str = "save_checkpoint", arg: str = "save_obj") -> list[tuple[str, Any]]:
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


def _entries(save_obj: Any) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, requires_grad) for each parameter, all checked."""
    entries = []
    for name, value in _named_items(save_obj):
        array = _checked_array("save_checkpoint", shorten(_check_name(name)), value)
        entries.append((name, array, bool(getattr(value, "requires_grad", False))))
    return entries


def _file_name(path: Any, who: str) -> str:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise fail_type(who, "ckpt_file_name", "a str or an os.PathLike of a str", path)
    if not text or "\0" in text or text.endswith(("/", os.sep)):
        raise fail_value(who, "ckpt_file_name", "a file path without '\\0'", Shown(quoted(text)))
    return text


def _with_suffix(text: str, format: str) -> str:
    """``text`` with the format's suffix appended when missing, as MindSpore does (npz: ``.ckpt``)."""
    return text if text.endswith(SUFFIXES[format]) else text + SUFFIXES[format]


def _load_path(text: str, format: str | None) -> str:
    """The file to load: the name as given when it ends in ``.ckpt`` or ``.safetensors``, else
    with the suffix of the format insisted on, or ``.ckpt`` (``.safetensors`` when only that exists)."""
    if text.endswith(tuple(SUFFIXES.values())):
        return text
    if format is not None:
        return _with_suffix(text, format)
    if not os.path.exists(text + ".ckpt") and os.path.exists(text + ".safetensors"):
        return text + ".safetensors"
    return text + ".ckpt"


def _check_format(who: str, format: Any, allow_none: bool) -> str | None:
    if format is None and allow_none:
        return None
    return check_option(who, "format", format, FORMATS)


def _check_save_target(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise fail(FileNotFoundError, "save_checkpoint", "ckpt_file_name", "a file in an existing folder",
                   Shown(f"'{path}', whose folder '{folder}' does not exist"))
    if os.path.isdir(path):
        raise fail_value("save_checkpoint", "ckpt_file_name", "a file path", Shown(f"'{path}', which is a folder"))


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
    format = str(_check_format("save_checkpoint", format, allow_none=False))
    entries = _entries(save_obj)
    if format == "safetensors" and any(name == METADATA_KEY for name, _, _ in entries):
        raise fail_value("save_checkpoint", "save_obj", f"names other than {METADATA_KEY!r} in a safetensors file",
                         Shown(f"the name {METADATA_KEY!r}"))
    path = _with_suffix(_file_name(ckpt_file_name, "save_checkpoint"), format)
    _check_save_target(path)
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
    format = _check_format("load_checkpoint", format, allow_none=True)
    path = _load_path(_file_name(ckpt_file_name, "load_checkpoint"), format)
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


def _arrays(who: str, params: Any) -> list[tuple[str, np.ndarray]]:
    """``(name, array copy)`` of a Cell, a dict or a list as ``save_checkpoint`` takes them."""
    items = _named_items(params, who, "params")
    result = []
    for name, value in items:
        if not isinstance(name, str):
            raise fail_type(who, "params", "names that are strs", name)
        result.append((name, np.array(_checked_array(who, f"params[{quoted(name)}]", value))))
    return result


def to_torch_names(params: Any) -> tuple[OrderedDict[str, np.ndarray], list[str]]:
    """PyTorch ``state_dict`` names for minicell's: ``(torch name -> array, dropped names)``.

    ``params`` is a Cell, a dict (``load_checkpoint``'s result, say) or a list of
    ``{"name", "data"}``. BatchNorm's ``gamma beta moving_mean moving_variance`` become
    ``weight bias running_mean running_var``, LayerNorm's ``gamma beta`` ``weight bias``,
    Embedding's ``embedding_table`` ``weight``; every other layer minicell ships has PyTorch's
    names and layouts already (``minicell._checkpoint.torch_names`` lists them). Generator state
    (uint64 ``seed``/``offset``) and optimizer state (``global_step``, ``moment1.*``,
    ``moment2.*``, ``moments.*``) have no PyTorch name: they are left out, and their names are
    returned as the second item. The arrays are copies (NumPy; ``torch.from_numpy`` takes them,
    ``safetensors.numpy.save_file`` saves them).

    Raises:
        TypeError, ValueError: bad ``params``, or two names that would get one PyTorch name.
    """
    try:
        return to_torch(_arrays("to_torch_names", params))
    except NameClash as error:
        raise fail_value("to_torch_names", "params", "names that map to distinct PyTorch names",
                         Shown(str(error))) from None


def from_torch_names(params: Any, net: Cell | None = None) -> tuple[OrderedDict[str, np.ndarray], list[str]]:
    """minicell names for a PyTorch ``state_dict``'s: ``(minicell name -> array, dropped names)``.

    ``params``: a dict name -> array (``safetensors.numpy.load_file``'s result; CPU torch
    tensors work too, through ``np.asarray``). ``net``: the network the values are for; its
    names resolve PyTorch's ambiguous ``weight``/``bias`` (``LayerNorm.gamma`` or
    ``Dense.weight``?). Without it only BatchNorm layers (recognised by their ``running_mean``)
    are renamed. BatchNorm's ``num_batches_tracked`` has no minicell Parameter: it is left out
    and listed in the second item. The result goes to ``load_param_into_net``, which checks
    every shape and dtype and reports the names that matched nothing.

    Raises:
        TypeError, ValueError: bad ``params`` or ``net``, or two names that would get one name.
    """
    if net is not None and not isinstance(net, Cell):
        raise fail_type("from_torch_names", "net", "a Cell or None", net)
    targets = None if net is None else [path if p.name is None else p.name for path, p in net.parameters_and_names()]
    try:
        return from_torch(_arrays("from_torch_names", params), targets)
    except NameClash as error:
        raise fail_value("from_torch_names", "params", "names that map to distinct minicell names",
                         Shown(str(error))) from None
