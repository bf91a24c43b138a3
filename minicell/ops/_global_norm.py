"""``clip_by_global_norm`` (MindSpore's ``mindspore.ops.clip_by_global_norm``), differentiable.

See ``minicell.primitives.global_norm`` for the formula: the norm is the square root of the
correctly rounded exact sum of squares (``minicell._exact.norms``), so it is the same however the
arrays are cut into slices (the sharded optimizer's).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._checks import Shown, check_real, fail_type, fail_value
from minicell.primitives import global_norm as _clip
from minicell.tensor import Tensor, record


def clip_by_global_norm(x: Any, clip_norm: float = 1.0, use_norm: Any = None) -> tuple[Tensor, ...]:
    """Scale every Tensor of ``x`` by ``clip_norm / max(global_norm, clip_norm)``.

    Args:
        x: a tuple or list of floating-point Tensors (for example gradients).
        clip_norm: the largest global norm allowed, > 0.
        use_norm: None (compute the global norm of ``x``, exactly, see above), or a given global norm
            (a real >= 0, treated as a constant: MindSpore accepts only None).

    Returns:
        A tuple of Tensors with the shapes and dtypes of ``x``.
    """
    who = "clip_by_global_norm"
    if not isinstance(x, (tuple, list)):
        raise fail_type(who, "x", "a tuple or list of Tensors", x)
    for i, t in enumerate(x):
        if not isinstance(t, Tensor) or t.dtype.kind != "f":
            raise fail_type(who, "x", "a tuple or list of floating-point Tensors",
                            Shown(f"{type(t).__name__ if not isinstance(t, Tensor) else t.dtype} at index {i}"))
    clip_norm = check_real(who, "clip_norm", clip_norm, 0.0)
    if not 0 < clip_norm < float("inf"):
        raise fail_value(who, "clip_norm", "a finite float > 0", clip_norm)
    if use_norm is not None:
        use_norm = check_real(who, "use_norm", float(use_norm) if isinstance(use_norm, Tensor) else use_norm, 0.0)
    outs, backward = _clip.clip_by_global_norm([t._data for t in x], clip_norm, use_norm)
    operands = tuple(x)

    def backward_of(i: int) -> Callable[[np.ndarray], list]:
        return lambda g: backward(i, g)
    return tuple(record(np.asarray(out), operands, backward_of(i)) for i, out in enumerate(outs))
