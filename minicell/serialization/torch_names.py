"""PyTorch ``state_dict`` names for minicell's, and back (``minicell._checkpoint.torch_names`` holds the maps)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from minicell._checkpoint.npz_checkpoint import quoted
from minicell._checkpoint.torch_names import NameClash, from_torch, to_torch, torch_names_of
from minicell._checks import Shown, fail_type, fail_value
from minicell.cell import Cell
from minicell.serialization._arguments import checked_array, named_items


def _arrays(who: str, params: Any) -> list[tuple[str, np.ndarray]]:
    """``(name, array copy)`` of a Cell, a dict or a list as ``save_checkpoint`` takes them."""
    items = named_items(params, who, "params")
    result = []
    for name, value in items:
        if not isinstance(name, str):
            raise fail_type(who, "params", "names that are strs", name)
        result.append((name, np.array(checked_array(who, f"params[{quoted(name)}]", value))))
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
    if targets is not None:
        try:
            torch_names_of(targets)
        except NameClash as error:
            raise fail_value("from_torch_names", "net", "a Cell whose Parameter names map to distinct PyTorch names",
                             Shown(str(error))) from None
    try:
        return from_torch(_arrays("from_torch_names", params), targets)
    except NameClash as error:
        raise fail_value("from_torch_names", "params", "names that map to distinct minicell names",
                         Shown(str(error))) from None
