"""Vision transforms (``mindspore.dataset.vision``), vectorised over a batch of images.

Images are NumPy arrays, one per sample: HWC (or HW) for the crops, flips and ``Normalize``
(MindSpore's layout), CHW for ``RandomErasing`` (torchvision's, as it follows ``HWC2CHW`` and
``Normalize`` there). Each random transform reads its own per-sample words (formulas in
``minicell.dataset.counters``; sample ``i`` in slot ``s`` reads
``random_words(seed, offset, K, start=4 * ((s + 1) * 2**56 + i * ceil(K / 4)))``):

* ``RandomCrop``: ``K = 2``; ``top = below(w0, Hp - h + 1)``, ``left = below(w1, Wp - w + 1)``
  on the image padded with ``fill_value`` to ``Hp x Wp`` (torchvision's order: pad, then, with
  ``pad_if_needed``, pad both sides of a dimension still shorter than the crop by the
  shortfall, then crop).
* ``RandomHorizontalFlip`` / ``RandomVerticalFlip``: ``K = 1``; flip iff ``chance(w0, prob)``.
* ``RandomErasing``: ``K = 1 + 4 * max_attempts``; torchvision's algorithm: erase iff
  ``chance(w0, prob)``; attempt ``a`` reads words ``1 + 4a .. 4 + 4a``:
  ``area = H W (s0 + (s1 - s0) unit(w))``, ``r = exp(log r0 + (log r1 - log r0) unit(w'))``,
  ``h = round(sqrt(area r))``, ``w = round(sqrt(area / r))`` (float64, half to even, as Python's
  ``round``); the first attempt with ``h < H`` and ``w < W`` erases rows
  ``[below(w'', H - h + 1), + h)`` and columns ``[below(w''', W - w + 1), + w)`` with ``value``;
  none valid: the image is unchanged.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minicell._checks import Shown, check_int, check_real, fail_type, fail_value, is_integer
from minicell._runtime.parallel import scratch
from minicell.dataset.counters import Draw, below, chance, unit
from minicell.dataset.transforms import Transform


def _pair(who: str, arg: str, value: Any) -> tuple[int, int]:
    """A size: a positive int or a sequence of two positive ints, as (height, width)."""
    if is_integer(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(is_integer(v) for v in value):
        raise fail_type(who, arg, "an int or a sequence of 2 ints", value)
    if min(value) <= 0:
        raise fail_value(who, arg, "positive", Shown(str(tuple(int(v) for v in value))))
    return int(value[0]), int(value[1])


def _padding(who: str, padding: Any) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` from None, an int, 2 ints (left/right, top/bottom) or 4 ints."""
    if padding is None:
        return (0, 0, 0, 0)
    if is_integer(padding):
        padding = (padding,) * 4
    if not isinstance(padding, (tuple, list)) or len(padding) not in (2, 4) or not all(is_integer(p) for p in padding):
        raise fail_type(who, "padding", "None, an int or a sequence of 2 or 4 ints", padding)
    if min(padding) < 0:
        raise fail_value(who, "padding", "non-negative", Shown(str(tuple(int(p) for p in padding))))
    p = [int(v) for v in padding]
    return (p[0], p[1], p[0], p[1]) if len(p) == 2 else (p[0], p[1], p[2], p[3])


def _check_image(who: str, x: np.ndarray, ndims: tuple[int, ...], layout: str) -> None:
    if x.ndim - 1 not in ndims:
        raise fail_value(who, "x", f"a batch of images of shape {layout}", Shown(f"samples of shape "
                                                                                 f"{tuple(x.shape[1:])}"))


def _probability(who: str, prob: Any) -> float:
    return check_real(who, "prob", prob, 0.0, 1.0)


class RandomCrop(Transform):
    """Crop a random ``size`` window after padding (torchvision's ``RandomCrop``, constant padding).

    Args:
        size: output ``(height, width)``, or an int for a square.
        padding: None, an int (all sides), 2 ints (left/right, top/bottom) or 4 ints
            (left, top, right, bottom).
        pad_if_needed: when the padded image is still smaller than ``size``, pad both sides of
            that dimension by the shortfall (torchvision's rule); otherwise that is an error.
        fill_value: the padding value (an int in [0, 255]). Only constant padding is supported.
    """

    random = True

    def __init__(self, size: Any, padding: Any = None, pad_if_needed: Any = False, fill_value: Any = 0) -> None:
        self.size = _pair("RandomCrop", "size", size)
        self.padding = _padding("RandomCrop", padding)
        if not isinstance(pad_if_needed, bool):
            raise fail_type("RandomCrop", "pad_if_needed", "a bool", pad_if_needed)
        self.pad_if_needed = pad_if_needed
        self.fill_value = check_int("RandomCrop", "fill_value", fill_value, 0, 256)

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        _check_image("RandomCrop", x, (2, 3), "(H, W) or (H, W, C)")
        n, h, w = x.shape[:3]
        left, top, right, bottom = self.padding
        th, tw = self.size
        if self.pad_if_needed:
            short_h, short_w = max(th - (h + top + bottom), 0), max(tw - (w + left + right), 0)
            left, top, right, bottom = left + short_w, top + short_h, right + short_w, bottom + short_h
        hp, wp = h + top + bottom, w + left + right
        if th > hp or tw > wp:
            raise fail_value("RandomCrop", "size", f"at most the padded image size {(hp, wp)}", Shown(str(self.size)))
        words = draw.words(2)
        rows = below(words[:, 0], hp - th + 1)
        cols = below(words[:, 1], wp - tw + 1)
        if (hp, wp) != (h, w):  # this thread's buffer: the crop below copies out of it
            padded = scratch("dataset.random_crop", (n, hp, wp) + x.shape[3:], x.dtype)
            padded[...] = self.fill_value
            padded[:, top:top + h, left:left + w] = x
        else:
            padded = x
        windows = sliding_window_view(padded, (th, tw), axis=(1, 2))  # (n, hp-th+1, wp-tw+1, [C,] th, tw)
        picked = windows[np.arange(n), rows, cols]
        return np.ascontiguousarray(np.moveaxis(picked, (-2, -1), (1, 2))) if x.ndim == 4 else picked


class _RandomFlip(Transform):
    random = True
    axis = 0
    who = ""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = _probability(self.who, prob)

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        _check_image(self.who, x, (2, 3), "(H, W) or (H, W, C)")
        picked = np.flatnonzero(chance(draw.words(1)[:, 0], self.prob))
        x = np.ascontiguousarray(x)
        n, h, w = x.shape[:3]
        channels = int(np.prod(x.shape[3:], dtype=np.int64))
        lines = x.reshape(n, h, w * channels)  # a row of pixels is one line: flips become one gather
        if self.axis == 1:
            lines[picked] = lines[picked, ::-1]
        else:
            reverse = (np.arange(w - 1, -1, -1)[:, None] * channels + np.arange(channels)).reshape(-1)
            lines[picked] = np.take(lines[picked], reverse, axis=2)
        return x


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``prob`` (HWC or HW images).

    Args:
        prob: the probability of a flip, in [0, 1].
    """

    axis = 2
    who = "RandomHorizontalFlip"


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``prob`` (HWC or HW images).

    Args:
        prob: the probability of a flip, in [0, 1].
    """

    axis = 1
    who = "RandomVerticalFlip"


def _floats(who: str, arg: str, value: Any, positive: bool = False) -> np.ndarray:
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if not values:
        raise fail_value(who, arg, "a non-empty sequence of floats", value)
    checked = [check_real(who, arg, v) for v in values]
    if not all(math.isfinite(v) for v in checked) or (positive and min(checked) <= 0):
        raise fail_value(who, arg, f"finite floats{' > 0' if positive else ''}", Shown(str(checked)))
    return np.array(checked, np.float32)


class Normalize(Transform):
    """``(x - mean) / std`` per channel, in float32 (MindSpore's and torchvision's ``Normalize``).

    Args:
        mean, std: one float per channel (std > 0), on the image's own scale (0..255 for uint8).
        is_hwc: channels last (HWC, the default) or first (CHW).
    """

    def __init__(self, mean: Any, std: Any, is_hwc: bool = True) -> None:
        self.mean = _floats("Normalize", "mean", mean)
        self.std = _floats("Normalize", "std", std, positive=True)
        if len(self.mean) != len(self.std):
            raise fail_value("Normalize", "std", f"of the length of 'mean' ({len(self.mean)})",
                             Shown(f"length {len(self.std)}"))
        if not isinstance(is_hwc, bool):
            raise fail_type("Normalize", "is_hwc", "a bool", is_hwc)
        self.is_hwc = is_hwc

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        _check_image("Normalize", x, (3,), "(H, W, C)" if self.is_hwc else "(C, H, W)")
        channels = x.shape[3] if self.is_hwc else x.shape[1]
        if channels != len(self.mean):
            raise fail_value("Normalize", "x", f"images of {len(self.mean)} channels",
                             Shown(f"{channels} (shape {tuple(x.shape[1:])})"))
        shape = (1, 1, channels) if self.is_hwc else (channels, 1, 1)
        # tiled to a whole image, so NumPy's inner loops run over images, not over 3 channels
        mean = np.broadcast_to(self.mean.reshape(shape), x.shape[1:]).copy()
        std = np.broadcast_to(self.std.reshape(shape), x.shape[1:]).copy()
        out = x.astype(np.float32, copy=x.dtype != np.float32)
        out -= mean
        out /= std
        return out


class HWC2CHW(Transform):
    """Move channels first: ``(H, W, C) -> (C, H, W)``; an HW image is left unchanged."""

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        _check_image("HWC2CHW", x, (2, 3), "(H, W) or (H, W, C)")
        return x if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class RandomErasing(Transform):
    """Erase a random rectangle of a CHW image (torchvision's ``RandomErasing``; see the module).

    Args:
        prob: probability of erasing, in [0, 1].
        scale: ``(min, max)`` fraction of the image's area to erase, ``0 <= min <= max``.
        ratio: ``(min, max)`` aspect ratio of the rectangle, ``0 < min <= max``.
        value: the fill, a number or one number per channel.
        inplace: accepted for MindSpore's signature; the pipeline always works on its own copy.
        max_attempts: rectangles tried before giving up, >= 1.
    """

    random = True

    def __init__(self, prob: float = 0.5, scale: Any = (0.02, 0.33), ratio: Any = (0.3, 3.3),
                 value: Any = 0, inplace: bool = False, max_attempts: int = 10) -> None:
        who = "RandomErasing"
        self.prob = _probability(who, prob)
        self.scale = self._range(who, "scale", scale, 0.0)
        self.ratio = self._range(who, "ratio", ratio, None)
        self.value = _floats(who, "value", value).astype(np.float64)
        if not isinstance(inplace, bool):
            raise fail_type(who, "inplace", "a bool", inplace)
        self.inplace = inplace
        self.max_attempts = check_int(who, "max_attempts", max_attempts, 1)

    @staticmethod
    def _range(who: str, arg: str, value: Any, low: float | None) -> tuple[float, float]:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise fail_type(who, arg, "a sequence of 2 floats", value)
        a, b = (check_real(who, arg, v) for v in value)
        if not (math.isfinite(a) and math.isfinite(b)) or a > b or (a < 0 if low is not None else a <= 0):
            bound = "0 <= min <= max" if low is not None else "0 < min <= max"
            raise fail_value(who, arg, f"(min, max) with {bound}", Shown(str((a, b))))
        return a, b

    def apply(self, x: np.ndarray, draw: Draw) -> np.ndarray:
        _check_image("RandomErasing", x, (3,), "(C, H, W)")
        n, c, h, w = x.shape
        if len(self.value) not in (1, c):
            raise fail_value("RandomErasing", "value", f"1 or {c} entries for a {c}-channel image",
                             Shown(str(len(self.value))))
        attempts = self.max_attempts
        words = draw.words(1 + 4 * attempts)
        erase = chance(words[:, 0], self.prob)
        tries = words[:, 1:].reshape(n, attempts, 4)
        (s0, s1), (r0, r1) = self.scale, (math.log(self.ratio[0]), math.log(self.ratio[1]))
        area = (h * w) * (s0 + (s1 - s0) * unit(tries[..., 0]))
        aspect = np.exp(r0 + (r1 - r0) * unit(tries[..., 1]))
        eh = np.round(np.sqrt(area * aspect)).astype(np.int64)
        ew = np.round(np.sqrt(area / aspect)).astype(np.int64)
        fits = (eh < h) & (ew < w)
        first = fits.argmax(axis=1)
        rows = np.arange(n)
        erase &= fits[rows, first]
        eh, ew = eh[rows, first], ew[rows, first]
        top = below(tries[rows, first, 2], np.maximum(h - eh + 1, 1))
        left = below(tries[rows, first, 3], np.maximum(w - ew + 1, 1))
        ys, xs = np.arange(h), np.arange(w)
        in_rows = (ys >= top[:, None]) & (ys < (top + eh)[:, None]) & erase[:, None]
        in_cols = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
        mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]
        fill = np.broadcast_to(self.value.astype(x.dtype).reshape(1, -1, 1, 1), x.shape)
        np.copyto(x, fill, where=mask)
        return x
