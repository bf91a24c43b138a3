"""``conv1d``, ``conv2d``: Tensor wrappers of ``minicell.primitives.conv`` (MindSpore's ``ops``).

``pad_mode`` is MindSpore's: ``'valid'`` (the functional default, as ``mindspore.ops.conv2d``),
``'same'`` (output ``ceil(size / stride)``, the odd padding element after) or ``'pad'`` (explicit
``padding``). PyTorch has no ``pad_mode``; its ``padding=k`` is ``pad_mode='pad', padding=k`` here.
"""
from __future__ import annotations

from typing import Any

from minicell._checks import Shown, check_int, check_option, fail_type, fail_value
from minicell.ops._window_args import float_input, int_tuple, padding_amounts, padding_value
from minicell.primitives import conv as P
from minicell.tensor import Tensor, needs_grad, record, unwrap

PAD_MODES = ("same", "valid", "pad")


def _check_operands(who: str, x: Tensor, weight: Any, bias: Any, dims: int, groups: int) -> None:
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        raise fail_type(who, "weight", f"a {dims + 2}-D Tensor", weight)
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != weight.shape[:1]):
        raise fail_value(who, "bias", f"None or a Tensor of shape [{weight.shape[0]}]",
                         bias if not isinstance(bias, Tensor) else Shown(f"shape {list(bias.shape)}"))
    channels = x.shape[1]
    if channels != weight.shape[1] * groups:
        raise fail_value(who, "x", f"a Tensor with in_channels = weight.shape[1] * groups = {weight.shape[1] * groups} "
                         f"channels", Shown(f"shape {list(x.shape)}"))
    if weight.shape[0] % groups:
        raise fail_value(who, "groups", f"a divisor of out_channels ({weight.shape[0]})", groups)


def convolution(who: str, x: Any, weight: Tensor, bias: Tensor | None, stride: Any, pad_mode: str, padding: Any,
                dilation: Any, groups: int, dims: int, arg: str = "x") -> Tensor:
    """The checked ``dims``-D convolution shared by the functional ops and the layers."""
    layout = "(N, C_in, L)" if dims == 1 else "(N, C_in, H, W)"
    float_input(who, x, (dims + 2,), layout, arg)
    groups = check_int(who, "groups", groups, 1)
    _check_operands(who, x, weight, bias, dims, groups)
    stride_t = int_tuple(who, "stride", stride, dims)
    dilation_t = int_tuple(who, "dilation", dilation, dims)
    pad_mode = check_option(who, "pad_mode", pad_mode, PAD_MODES)
    explicit = padding_value(who, pad_mode, padding, dims)
    kernel = tuple(weight.shape[2:])
    pads = padding_amounts(who, pad_mode, explicit, tuple(x.shape[2:]), kernel, stride_t, dilation_t)
    needs = (needs_grad(x), needs_grad(weight), needs_grad(bias))
    b = None if bias is None else unwrap(bias)
    if dims == 1:
        out, backward = P.conv1d(unwrap(x), unwrap(weight), b, stride_t[0], pads[0], dilation_t[0], groups, needs)
    else:
        out, backward = P.conv2d(unwrap(x), unwrap(weight), b, stride_t, pads, dilation_t, groups, needs)  # type: ignore[arg-type]
    return record(out, (x, weight, bias), backward)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           pad_mode: str = "valid", padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``input`` ``(N, C_in, H, W)`` with ``weight`` ``(C_out, C_in/groups, kh, kw)``.

    Args:
        input: a floating-point Tensor. weight: the kernel. bias: None or ``(C_out,)``.
        stride, dilation: an int or a tuple of 2 ints, >= 1.
        pad_mode: ``'valid'``, ``'same'`` or ``'pad'`` (see the module docstring).
        padding: with ``'pad'``: an int, ``(pad_h, pad_w)`` or ``(top, bottom, left, right)``.
        groups: input and output channels are split into this many independent groups.
    """
    return convolution("conv2d", input, weight, bias, stride, pad_mode, padding, dilation, groups, 2, "input")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           pad_mode: str = "valid", padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``input`` ``(N, C_in, L)`` with ``weight`` ``(C_out, C_in/groups, k)``;
    ``padding`` with ``'pad'`` is an int or ``(left, right)``; otherwise as ``conv2d``."""
    return convolution("conv1d", input, weight, bias, stride, pad_mode, padding, dilation, groups, 1, "input")
