"""Validation of window arguments shared by convolutions and pooling (one error voice).

``int_tuple`` reads an int or a tuple of ints (``kernel_size``, ``stride``, ``dilation``);
``padding_amounts`` turns MindSpore's ``pad_mode``/``padding`` pair into ``(before, after)`` per
spatial axis, checking that the window fits the (padded) input.
"""
from __future__ import annotations

from typing import Any

from minicell._checks import Shown, describe, fail_type, fail_value, is_integer
from minicell.primitives._window import same_padding, span
from minicell.tensor import Tensor


def shown(value: Any) -> Any:
    """Tuples and lists appear in messages as written (``describe`` names only their type)."""
    return Shown(repr(value)) if isinstance(value, (tuple, list)) and len(value) < 9 else value


def int_tuple(who: str, arg: str, value: Any, length: int, low: int = 1) -> tuple[int, ...]:
    """An int (repeated ``length`` times) or a tuple/list of ``length`` ints, each >= ``low``."""
    items = (value,) * length if is_integer(value) else value
    kind = "an int" if length == 1 else f"an int or a tuple of {length} ints"
    if not isinstance(items, (tuple, list)) or len(items) != length or not all(is_integer(v) for v in items):
        raise fail_type(who, arg, kind, shown(value))
    if any(int(v) < low for v in items):
        raise fail_value(who, arg, f"{kind} >= {low}", shown(value))
    return tuple(int(v) for v in items)


def float_input(who: str, x: Any, ndims: tuple[int, ...], layout: str, arg: str = "x") -> Tensor:
    """``x`` (called ``arg`` by the caller) must be a floating-point Tensor with one of ``ndims`` dimensions."""
    if not isinstance(x, Tensor):
        raise fail_type(who, arg, "a Tensor", x)
    if x.dtype.kind != "f":
        raise fail_type(who, arg, "a floating-point Tensor", Shown(f"a Tensor of dtype {x.dtype}"))
    if x.ndim not in ndims:
        raise fail_value(who, arg, f"a Tensor of shape {layout}", Shown(f"shape {list(x.shape)}"))
    return x


def padding_value(who: str, pad_mode: str, padding: Any, dims: int) -> tuple[tuple[int, int], ...]:
    """MindSpore's ``padding`` for ``pad_mode='pad'``: an int, ``dims`` ints (symmetric per axis) or
    ``2*dims`` ints ``(before0, after0, before1, after1, ...)``; must be 0 in the other modes."""
    if is_integer(padding):
        items: tuple = (int(padding),) * (2 * dims)
    elif isinstance(padding, (tuple, list)) and len(padding) in (dims, 2 * dims) \
            and all(is_integer(v) for v in padding):
        items = tuple(int(v) for v in padding)
        if len(items) == dims:
            items = tuple(v for v in items for _ in range(2))
    else:
        counts = f"{dims} or {2 * dims}" if dims > 1 else "2"
        raise fail_type(who, "padding", f"an int or a tuple of {counts} ints", shown(padding))
    if any(v < 0 for v in items):
        raise fail_value(who, "padding", "non-negative", shown(padding))
    if pad_mode != "pad" and any(items):
        raise fail_value(who, "padding", "0 when 'pad_mode' is not 'pad'",
                         Shown(f"padding {describe(shown(padding))} with pad_mode {describe(pad_mode)}"))
    return tuple((items[2 * k], items[2 * k + 1]) for k in range(dims))


def padding_amounts(who: str, pad_mode: str, explicit: tuple[tuple[int, int], ...], sizes: tuple[int, ...],
                    kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
                    ) -> tuple[tuple[int, int], ...]:
    """``(before, after)`` per axis for the input's spatial ``sizes``; a window that does not fit is an error."""
    if pad_mode == "same":
        pads = tuple(same_padding(s, k, st, d) for s, k, st, d in zip(sizes, kernel, stride, dilation))
    elif pad_mode == "valid":
        pads = tuple((0, 0) for _ in sizes)
    else:
        pads = explicit
    for s, (a, b), k, d in zip(sizes, pads, kernel, dilation):
        if s + a + b < span(k, d):
            raise fail_value(who, "kernel_size", f"a (dilated) kernel that fits the {'padded ' if a + b else ''}input "
                             f"of spatial size {list(sizes)} (padding {[list(p) for p in pads]})",
                             Shown(f"{list(kernel)}, whose dilated size {span(k, d)} does not fit"))
    return pads
