"""Dropout layers drawing their masks from a Generator, always registered as the sub-cell
``generator`` (the process's default generator when none is given).

In training mode each call reserves one step of the generator, even when ``p == 0``; in eval
mode (the default for a new Cell: call ``set_train()``) the layer is the identity and reserves
nothing. No mask is kept between forward and backward.

Values: a dropped element is exactly +0.0, whatever the input holds there (inf and NaN too), so
``x * 0`` never turns into NaN. A kept element is ``x * scale`` with ``scale = 65536 / (65536 - t)``
(float32 for float16 inputs, whose range cannot hold scales above 65504: ``p = 0.99999`` gives
65536). For float16 that product is computed exactly in float64 and rounded once to float16, so
it is the nearest float16, and inf only where the true product exceeds float16's range, as any
float16 overflow would be; no ``p`` is refused for float16.
"""
from __future__ import annotations

from minicell.cell import Cell
from minicell.generator import Generator, resolve
from minicell.ops._dropout import channel_dropout, check_p, dropout
from minicell.tensor import Tensor


class _DropoutBase(Cell):
    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.p = check_p(name, p)
        # the default generator when None: registered as the sub-cell 'generator' either way, so
        # its seed and offset are Parameters of the model and exact resume needs no extra state
        self.generator = resolve(generator, name)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_DropoutBase):
    """Zero each element with probability ``p``, scaling the rest by 65536 / (65536 - t).

    Args:
        p: drop probability in [0, 1].
        generator: the Generator to draw from (the default generator when None).
    """

    def construct(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, training=self.training, generator=self.generator)


class _ChannelDropout(_DropoutBase):
    RANKS: tuple[int, int] = (0, 0)

    def construct(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return channel_dropout(type(self).__name__, x, self.p, self.generator, self.RANKS)


class Dropout1d(_ChannelDropout):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` inputs with probability ``p``."""
    RANKS = (2, 3)


class Dropout2d(_ChannelDropout):
    """Zero whole channels of ``(N, C, H, W)`` or ``(C, H, W)`` inputs with probability ``p``."""
    RANKS = (3, 4)


class Dropout3d(_ChannelDropout):
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs with probability ``p``."""
    RANKS = (4, 5)
