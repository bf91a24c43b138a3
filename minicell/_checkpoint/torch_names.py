"""Parameter names between minicell (MindSpore's names) and PyTorch's ``state_dict`` keys.

Where the names differ, by the last component of the name (the attribute):

    BatchNorm1d/2d  gamma beta moving_mean moving_variance  <->  weight bias running_mean running_var
    LayerNorm       gamma beta                              <->  weight bias
    Embedding       embedding_table                         <->  weight

Every other layer minicell ships already has PyTorch's names *and* layouts, so its entries pass
unchanged: ``Dense`` weight ``(out, in)`` as ``nn.Linear``; ``Conv1d``/``Conv2d`` weight
``(out, in / group, *kernel)`` and bias ``(out,)`` as ``nn.Conv1d``/``nn.Conv2d``;
``MultiheadAttention`` ``in_proj_weight`` ``(3E, E)`` (q, k, v stacked in that order),
``in_proj_bias`` ``(3E,)``, or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when
``kdim``/``vdim`` differ from ``E``, ``bias_k``/``bias_v`` ``(1, 1, E)`` and ``out_proj.weight``/
``out_proj.bias``, all as ``nn.MultiheadAttention``; ``Embedding`` ``(vocab, dim)``, as is.
So no value is transposed or repacked, and none can be mis-assigned: a shape that does not fit
is refused by ``load_param_into_net``.

No PyTorch name exists for (and ``to_torch`` drops, listing them in its report):

- Generator state: an entry named ``seed`` or ``offset`` (last component) holding a uint64
  scalar. (``torch.Generator`` keeps its state outside the ``state_dict``.)
- Optimizer state: ``global_step`` (last component, an int64 scalar), and
  ``moment1.<p>``, ``moment2.<p>``, ``moments.<p>`` (after any prefix) where ``<p>`` is the
  name of another entry. (PyTorch keeps it in ``optimizer.state_dict()``, keyed by index.)

``from_torch`` drops BatchNorm's ``num_batches_tracked`` (minicell has no counter; PyTorch
fills in 0 when it is missing from a loaded dict) and renames back. PyTorch's ``weight`` and
``bias`` are ambiguous (``Linear`` or ``LayerNorm``?), so the reverse map is made from the
names of the network the values are for when it is given (each of its names mapped forward,
then inverted); without it, only BatchNorm groups are recognised (a prefix that has a
``running_mean``), and ``LayerNorm``/``Embedding`` keep PyTorch's names (``load_param_into_net``
then lists them as not loaded: nothing is loaded into the wrong Parameter).
"""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

TO_TORCH = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var",
            "embedding_table": "weight"}
BATCH_NORM_FROM_TORCH = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                         "running_var": "moving_variance"}
OPTIMIZER_STATE = re.compile(r"(?:.*\.)?(?:moment1|moment2|moments)\.(.+)")
Items = Sequence[tuple[str, np.ndarray]]


class NameClash(Exception):
    """Two names would map to one; ``str(error)`` names them."""


def _split(name: str) -> tuple[str, str]:
    prefix, _, last = name.rpartition(".")
    return (prefix + "." if prefix else ""), last


def torch_name(name: str) -> str:
    """The PyTorch name of a minicell name (the same name where they agree)."""
    prefix, last = _split(name)
    return prefix + TO_TORCH.get(last, last)


def has_no_torch_name(name: str, array: np.ndarray, names: set[str]) -> bool:
    """Generator or optimizer state, by the rules above."""
    last = _split(name)[1]
    if last in ("seed", "offset") and array.dtype == np.uint64 and array.shape == ():
        return True
    if last == "global_step" and array.dtype == np.int64 and array.shape == ():
        return True
    match = OPTIMIZER_STATE.fullmatch(name)
    return match is not None and match.group(1) in names


def _renamed(pairs: Iterable[tuple[str, str, np.ndarray]]) -> OrderedDict[str, np.ndarray]:
    result: OrderedDict[str, np.ndarray] = OrderedDict()
    source: dict[str, str] = {}
    for old, new, array in pairs:
        if new in result:
            raise NameClash(f"{old!r} and {source[new]!r}, which would both be named {new!r}")
        result[new], source[new] = array, old
    return result


def to_torch(items: Items) -> tuple[OrderedDict[str, np.ndarray], list[str]]:
    """``(torch name -> array, names dropped)`` for minicell ``(name, array)`` items."""
    names = {name for name, _ in items}
    dropped = [name for name, array in items if has_no_torch_name(name, array, names)]
    left_out = set(dropped)
    kept = [(name, torch_name(name), array) for name, array in items if name not in left_out]
    return _renamed(kept), dropped


def torch_names_of(targets: Sequence[str]) -> OrderedDict[str, np.ndarray]:
    """The PyTorch names of a network's Parameter names (keys, in order); ``NameClash`` when two
    of them would get one PyTorch name."""
    return _renamed((t, torch_name(t), np.empty(0)) for t in targets)


def from_torch(items: Items, targets: Sequence[str] | None) -> tuple[OrderedDict[str, np.ndarray], list[str]]:
    """``(minicell name -> array, names dropped)`` for PyTorch ``(name, array)`` items.

    ``targets``: the names of the network's Parameters, to resolve PyTorch's ambiguous names.
    """
    dropped = [name for name, _ in items if _split(name)[1] == "num_batches_tracked"]
    left_out = set(dropped)
    kept = [(name, array) for name, array in items if name not in left_out]
    if targets is not None:
        back = torch_names_of(targets)
        inverse = {torch: target for torch, target in zip(back, targets)}
        return _renamed((name, inverse.get(name, name), array) for name, array in kept), dropped
    batch_norms = {_split(name)[0] for name, _ in kept if _split(name)[1] == "running_mean"}
    pairs = []
    for name, array in kept:
        prefix, last = _split(name)
        new = prefix + BATCH_NORM_FROM_TORCH[last] if prefix in batch_norms and last in BATCH_NORM_FROM_TORCH else name
        pairs.append((name, new, array))
    return _renamed(pairs), dropped
