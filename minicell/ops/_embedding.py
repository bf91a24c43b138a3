"""``embedding``: rows of a table picked by integer ids (``mindspore.ops.embedding``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, fail_type, fail_value
from minicell.primitives import embedding as P
from minicell.tensor import Tensor, record, unwrap


def embedding_impl(who: str, ids: Any, table: Tensor, padding_idx: int | None, arg: str = "x") -> Tensor:
    """Checked lookup: ``ids`` an integer Tensor with values in ``[0, vocab)``."""
    if not isinstance(ids, Tensor) or ids.dtype.kind not in "iu":
        raise fail_type(who, arg, "an integer Tensor",
                        ids if not isinstance(ids, Tensor) else Shown(f"dtype {ids.dtype}"))
    vocab = table.shape[0]
    data = unwrap(ids)
    if data.size and (int(data.min()) < 0 or int(data.max()) >= vocab):
        bad = int(data.min()) if int(data.min()) < 0 else int(data.max())
        raise fail_value(who, arg, f"ids in [0, {vocab})", bad)
    out, backward = P.embedding(data.astype(np.intp, copy=False), unwrap(table), padding_idx)
    return record(out, (ids, table), backward)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """``weight[input]`` for an integer Tensor ``input`` and a 2-D ``weight`` ``(vocab, dim)``; the
    ``padding_idx`` row (negative counts from the end) receives no gradient."""
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise fail_type("embedding", "weight", "a 2-D Tensor", weight)
    if padding_idx is not None:
        padding_idx = check_int("embedding", "padding_idx", padding_idx, -weight.shape[0], weight.shape[0])
        padding_idx %= weight.shape[0]
    return embedding_impl("embedding", input, weight, padding_idx, "input")
