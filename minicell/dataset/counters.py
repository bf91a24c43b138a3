"""Per-sample random words: the counters every random transform of a pipeline draws from.

The stream of an epoch is the Philox4x32-10 stream of ``(seed, offset)`` (DESIGN.md section
2.2), where ``offset`` is the one offset the dataset's Generator reserved for that epoch. Its
``2**64`` blocks are cut into 256 regions of ``2**56`` blocks:

* region 0 holds the epoch's order: ``minicell.random.permutation(seed, offset, n)`` reads
  words ``[0, 4 n)``;
* region ``s + 1`` belongs to the transform in slot ``s`` (its place in the pipeline, counted
  over every operation of every ``map`` in order, ``Compose`` expanded; ``s < 255``).

A transform that takes ``K`` words per sample uses ``B = ceil(K / 4)`` whole blocks per sample;
the sample whose index in the dataset is ``i`` (its global index, never its position in a
batch, shard or epoch) reads blocks ``(s + 1) * 2**56 + i * B + b`` for ``b < B``, that is::

    words(s, i) = random_words(seed, offset, K, start=4 * ((s + 1) * 2**56 + i * B))

so the numbers a sample gets are a pure function of (seed, epoch offset, slot, sample index),
whatever batch, worker or shard computes them, and a new epoch (a new offset) gives new ones.
``n * B < 2**56`` is required (about 7e16 blocks per slot).

From a word ``w`` (uint32):

* ``unit(w) = w * 2**-32``: a float64 in [0, 1), exact;
* ``below(w, m) = floor(w * m / 2**32)``: an int in [0, m) (Lemire's multiply-shift on one
  word; each value has probability within ``2**-32`` of ``1 / m``);
* ``chance(w, p) = w < round(p * 2**32)``: True with probability ``p`` (to within 2**-33), the
  formula of ``minicell.random.bernoulli``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from minicell._checks import Shown, fail_value
from minicell.random import philox4x32

T = TypeVar("T")

REGION_SHIFT = 56  # log2 of the blocks in one slot's region
MAX_SLOTS = 255
_MASK = np.uint64(0xFFFFFFFF)


def first_word(slot: int, index: int, words_per_sample: int) -> int:
    """Stream word where sample ``index`` of slot ``slot`` starts (the formula above)."""
    blocks = -(-words_per_sample // 4)
    return 4 * (((slot + 1) << REGION_SHIFT) + index * blocks)


class Draw:
    """The random words of one slot for some samples of one epoch.

    Args:
        seed, offset: the epoch's stream. slot: the transform's place in the pipeline.
        indices: the samples' indices in the dataset (int64, one per row of the batch).
    """

    def __init__(self, seed: int, offset: int, slot: int, indices: np.ndarray) -> None:
        self.seed, self.offset, self.slot = seed, offset, slot
        self.indices = np.asarray(indices, np.int64)

    def words(self, count: int) -> np.ndarray:
        """``(len(indices), count)`` uint32: row r holds ``words(slot, indices[r])`` of length count."""
        blocks = -(-count // 4)
        n = self.indices.shape[0]
        if n == 0 or count == 0:
            return np.zeros((n, count), np.uint32)
        if int(self.indices.max()) * blocks + blocks > 1 << REGION_SHIFT:
            raise fail_value("Draw", "indices", "such that (largest sample index + 1) * blocks per sample <= 2**56",
                             Shown(f"index {int(self.indices.max())} with {blocks} blocks per sample"))
        base = np.uint64((self.slot + 1) << REGION_SHIFT)
        block = (self.indices.astype(np.uint64)[:, None] * np.uint64(blocks)
                 + np.arange(blocks, dtype=np.uint64)[None, :] + base)
        counter = np.empty((n, blocks, 4), np.uint32)
        counter[..., 0] = block & _MASK
        counter[..., 1] = block >> np.uint64(32)
        counter[..., 2] = self.offset & 0xFFFFFFFF
        counter[..., 3] = self.offset >> 32
        key = np.array([self.seed & 0xFFFFFFFF, self.seed >> 32], np.uint32)
        return philox4x32(counter, key).reshape(n, 4 * blocks)[:, :count]


def unit(words: np.ndarray) -> np.ndarray:
    """``w * 2**-32`` as float64 in [0, 1)."""
    return words.astype(np.float64) * 2.0 ** -32


def below(words: np.ndarray, m: np.ndarray | int) -> np.ndarray:
    """``floor(w * m / 2**32)``: ints in [0, m) (int64); ``m`` in [1, 2**32]."""
    product = words.astype(np.uint64) * np.asarray(m, np.uint64)
    return (product >> np.uint64(32)).astype(np.int64)


def chance(words: np.ndarray, p: float) -> np.ndarray:
    """``w < round(p * 2**32)``: True with probability p (bool)."""
    return words.astype(np.uint64) < np.uint64(round(p * 2 ** 32))


def compute_then_reserve(generator: Any, compute: Callable[[int, int], T]) -> tuple[int, int, T]:
    """Run ``compute(seed, offset)`` on the Generator's next offset, then reserve that offset.

    A pipeline step runs user code (sources, callables) that may fail after every argument was
    checked, so the offset is reserved (``generator(1)``) only once ``compute`` succeeded: a
    failure leaves the Generator as it was. If another thread reserved in between, ``compute``
    runs again on the offset actually reserved, so a result never belongs to another offset.
    Returns ``(seed, offset, result)``.
    """
    seed, offset = (int(t) for t in generator.get_state())
    result = compute(seed, offset)
    reserved = generator(1)
    if reserved != (seed, offset):
        seed, offset = reserved
        result = compute(seed, offset)
    return seed, offset, result
