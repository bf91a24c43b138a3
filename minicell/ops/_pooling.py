"""``max_pool2d``, ``avg_pool2d``: Tensor wrappers of ``minicell.primitives.pool``.

They take the layers' MindSpore arguments ``kernel_size, stride, pad_mode`` (``'valid'`` or
``'same'``, case-insensitive, as ``mindspore.nn.MaxPool2d``); MindSpore's functional
``ops.max_pool2d``/``ops.avg_pool2d`` take PyTorch-style explicit ``padding`` instead, which
minicell does not offer. ``stride=None`` means ``kernel_size``.
"""
from __future__ import annotations

from typing import Any

from minicell._checks import fail_type, fail_value
from minicell.ops._window_args import float_input, int_tuple, padding_amounts
from minicell.primitives import pool as P
from minicell.tensor import Tensor, record, unwrap

POOL_MODES = ("valid", "same")


def check_pool_mode(who: str, pad_mode: Any) -> str:
    if not isinstance(pad_mode, str):
        raise fail_type(who, "pad_mode", f"one of {list(POOL_MODES)}", pad_mode)
    if pad_mode.lower() not in POOL_MODES:
        raise fail_value(who, "pad_mode", f"one of {list(POOL_MODES)} (case-insensitive)", pad_mode)
    return pad_mode.lower()


def pool2d(who: str, kind: str, x: Any, kernel_size: Any, stride: Any, pad_mode: str, arg: str = "x") -> Tensor:
    """The checked pooling shared by the functional ops and the layers (``kind``: 'max' or 'avg')."""
    float_input(who, x, (4,), "(N, C, H, W)", arg)
    kernel = int_tuple(who, "kernel_size", kernel_size, 2)
    strides = kernel if stride is None else int_tuple(who, "stride", stride, 2)
    mode = check_pool_mode(who, pad_mode)
    pads = padding_amounts(who, mode, ((0, 0), (0, 0)), tuple(x.shape[2:]), kernel, strides, (1, 1))
    primitive = P.max_pool2d if kind == "max" else P.avg_pool2d
    out, backward = primitive(unwrap(x), kernel, strides, pads)  # type: ignore[arg-type]
    return record(out, (x,), backward)


def max_pool2d(input: Tensor, kernel_size: Any = 1, stride: Any = None, pad_mode: str = "valid") -> Tensor:  # noqa: A002
    """Maximum over ``kernel_size`` windows of ``input`` ``(N, C, H, W)`` (see the module docstring)."""
    return pool2d("max_pool2d", "max", input, kernel_size, stride, pad_mode, "input")


def avg_pool2d(input: Tensor, kernel_size: Any = 1, stride: Any = None, pad_mode: str = "valid") -> Tensor:  # noqa: A002
    """Mean over ``kernel_size`` windows of ``input`` ``(N, C, H, W)``; padding is not counted."""
    return pool2d("avg_pool2d", "avg", input, kernel_size, stride, pad_mode, "input")
