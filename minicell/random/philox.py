"""Philox4x32-10: the pure block function and the fast stream of words of a (seed, offset) pair.

Philox is the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random
numbers: as easy as 1, 2, 3" (SC'11), as implemented in Random123's ``philox.h``. One round maps
the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)`` to::

    p0 = M0 * c0 (64-bit), p1 = M1 * c2 (64-bit)
    (c0, c1, c2, c3) <- (hi(p1) ^ c1 ^ k0, lo(p1), hi(p0) ^ c3 ^ k1, lo(p0))

and the key is bumped by the Weyl constants between rounds. The stream of ``(seed, offset)``
(DESIGN.md section 2.2): key ``(seed & 0xFFFFFFFF, seed >> 32)``; block ``j`` has counter
``(j & 0xFFFFFFFF, j >> 32, offset & 0xFFFFFFFF, offset >> 32)``; word ``w`` is lane ``w % 4`` of
block ``w // 4``. Any slice of the stream is computed without what lies before it.

Speed: the stream is computed in chunks of ``CHUNK_BLOCKS`` blocks held as uint64 lanes (the
32x32->64 products then need no casts), with in-place ufuncs into preallocated buffers, so the
memory beyond the output is about ``6 * 8 * CHUNK_BLOCKS`` bytes whatever the count. In a chunk
``c1``, ``c2`` and ``c3`` start as constants, so rounds 0 and 1 need one vector product each.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from minicell._checks import UINT64_LIMIT, Shown, check_int, check_uint64, fail_type, fail_value
from minicell._runtime.parallel import run_parallel, scratch


def memory_limit() -> int:
    """Bytes of physical memory (2**63 when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 1 << 63

# Round multipliers, from Random123 philox.h (PHILOX_M4x32_0, PHILOX_M4x32_1).
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
# Key schedule (Weyl sequence) increments: the golden ratio and sqrt(3) - 1 as 32-bit fractions,
# from Random123 philox.h (PHILOX_W32_0, PHILOX_W32_1).
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
MAX_ROUNDS = 16  # Random123 philox.h instantiates Philox for 0 to 16 rounds
DEFAULT_ROUNDS = 10  # Random123's recommended count for Philox4x32 ("Crush-resistant" with margin)

MASK32 = 0xFFFFFFFF
CHUNK_BLOCKS = 32768  # 512 KiB of output per chunk; six uint64 buffers = 1.5 MiB (fastest measured here)

_M0 = np.uint64(PHILOX_M0)
_M1 = np.uint64(PHILOX_M1)
_SHIFT = np.uint64(32)
_MASK = np.uint64(MASK32)
_BLOCK_STEPS = np.arange(CHUNK_BLOCKS, dtype=np.uint64)


def round_keys(k0: int, k1: int, rounds: int) -> list[tuple[int, int]]:
    """The key of each round: round 0 uses the key as given, each later one adds the Weyl pair."""
    keys = []
    for _ in range(rounds):
        keys.append((k0, k1))
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return keys


def philox4x32(counter: Any, key: Any, rounds: int = DEFAULT_ROUNDS) -> np.ndarray:
    """Apply Philox4x32 with ``rounds`` rounds to every counter block.

    Args:
        counter: uint32 array-like of shape ``(..., 4)``.
        key: uint32 array-like of shape ``(2,)`` or ``(..., 2)`` (broadcast against the blocks).
        rounds: number of rounds (10 is Philox4x32-10; Random123 also publishes 7).

    Returns:
        uint32 array of the counter's shape: the blocks after the last round.
    """
    rounds = check_int("philox4x32", "rounds", rounds, 0, MAX_ROUNDS + 1)
    ctr = np.asarray(counter)
    k = np.asarray(key)
    for name, array, width in (("counter", ctr, 4), ("key", k, 2)):
        seen = Shown(f"an array of dtype {array.dtype} and shape {list(array.shape)}")
        if array.dtype.kind not in "ui":
            raise fail_type("philox4x32", name, f"an array of uint32 values of shape (..., {width})", seen)
        if array.size and (array.min() < 0 or array.max() > MASK32):
            raise fail_value("philox4x32", name, f"an array of uint32 values of shape (..., {width})",
                             Shown(f"values in [{array.min()}, {array.max()}]"))
        if array.ndim == 0 or array.shape[-1] != width:
            raise fail_value("philox4x32", name, f"an array of shape (..., {width})", seen)
    c0, c1, c2, c3 = (ctr[..., i].astype(np.uint64) for i in range(4))
    k0 = k[..., 0].astype(np.uint64)
    k1 = k[..., 1].astype(np.uint64)
    w0, w1 = np.uint64(PHILOX_W0), np.uint64(PHILOX_W1)
    for r in range(rounds):
        if r:
            k0 = (k0 + w0) & _MASK
            k1 = (k1 + w1) & _MASK
        p0 = c0 * _M0
        p1 = c2 * _M1
        c0, c1, c2, c3 = (p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK, (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK
    out = np.stack(np.broadcast_arrays(c0, c1, c2, c3), axis=-1)
    return out.astype(np.uint32)


def _fill_blocks(dest: np.ndarray, first_block: int, keys: list[tuple[int, int]],
                 offset: int, bufs: tuple[np.ndarray, ...]) -> None:
    """Write blocks ``first_block ..`` of the stream into ``dest`` (shape ``(n, 4)``, uint32).

    All blocks share ``first_block >> 32`` (the caller splits at multiples of 2**32).
    """
    n = dest.shape[0]
    c0, c1, c2, c3, p0, p1 = (b[:n] for b in bufs)
    lo_first = first_block & MASK32
    np.add(_BLOCK_STEPS[:n], np.uint64(lo_first), out=c0)
    hi_block = first_block >> 32
    off_lo, off_hi = offset & MASK32, offset >> 32
    (k0, k1), (k0b, k1b) = keys[0], keys[1]
    # Round 0: c1, c2, c3 are constants, so p1 is a scalar.
    s_p1 = PHILOX_M1 * off_lo
    s_c0 = (s_p1 >> 32) ^ hi_block ^ k0
    s_c1 = s_p1 & MASK32
    np.multiply(c0, _M0, out=p0)
    np.right_shift(p0, _SHIFT, out=c2)
    np.bitwise_xor(c2, np.uint64(off_hi ^ k1), out=c2)
    np.bitwise_and(p0, _MASK, out=c3)
    # Round 1: c0 and c1 are constants, so p0 is a scalar.
    s_p0 = PHILOX_M0 * s_c0
    np.multiply(c2, _M1, out=p1)
    np.right_shift(p1, _SHIFT, out=c0)
    np.bitwise_xor(c0, np.uint64(s_c1 ^ k0b), out=c0)
    np.bitwise_and(p1, _MASK, out=c1)
    np.bitwise_xor(c3, np.uint64((s_p0 >> 32) ^ k1b), out=c2)
    c3_scalar = s_p0 & MASK32
    last = len(keys) - 1
    for r in range(2, len(keys)):
        k0, k1 = keys[r]
        np.multiply(c0, _M0, out=p0)
        np.multiply(c2, _M1, out=p1)
        np.right_shift(p1, _SHIFT, out=c0)
        np.bitwise_xor(c0, c1, out=c0)
        np.bitwise_xor(c0, np.uint64(k0), out=c0)
        np.right_shift(p0, _SHIFT, out=c2)
        if c3_scalar >= 0:  # c3 is still the scalar of round 1
            np.bitwise_xor(c2, np.uint64(c3_scalar ^ k1), out=c2)
            c3_scalar = -1
        else:
            np.bitwise_xor(c2, c3, out=c2)
            np.bitwise_xor(c2, np.uint64(k1), out=c2)
        if r == last:  # the low halves go straight to the output (the cast truncates)
            np.copyto(dest[:, 1], p1, casting="unsafe")
            np.copyto(dest[:, 3], p0, casting="unsafe")
        else:
            np.bitwise_and(p1, _MASK, out=c1)
            np.bitwise_and(p0, _MASK, out=c3)
    np.copyto(dest[:, 0], c0, casting="unsafe")
    np.copyto(dest[:, 2], c2, casting="unsafe")


def stream_into(out: np.ndarray, seed: int, offset: int, start: int) -> None:
    """Fill the 1-D uint32 array ``out`` with words ``[start, start + len(out))`` (no checks).

    Uses this thread's scratch buffers ``philox.lanes`` (six uint64 rows of CHUNK_BLOCKS, 1.5 MiB)
    and ``philox.blocks`` (512 KiB) for chunks that do not start on a block boundary.
    """
    count = out.shape[0]
    if count == 0:
        return
    keys = round_keys(seed & MASK32, seed >> 32, DEFAULT_ROUNDS)
    lanes = tuple(scratch("philox.lanes", (6, CHUNK_BLOCKS), np.uint64))
    blocks_buf = scratch("philox.blocks", (CHUNK_BLOCKS, 4), np.uint32)
    word = start
    end = start + count
    while word < end:
        block = word // 4
        lane = word % 4
        # stay inside one 2**32-block segment so c1 is constant in the chunk
        segment_end = ((block >> 32) + 1) << 32
        blocks = min(CHUNK_BLOCKS, -(-(end - block * 4) // 4), segment_end - block)
        taken = min(blocks * 4 - lane, end - word)
        at = word - start
        if lane == 0 and taken == blocks * 4:
            _fill_blocks(out[at:at + taken].reshape(blocks, 4), block, keys, offset, lanes)
        else:
            _fill_blocks(blocks_buf[:blocks], block, keys, offset, lanes)
            out[at:at + taken] = blocks_buf[:blocks].reshape(-1)[lane:lane + taken]
        word += taken


def random_words(seed: int, offset: int, count: int, start: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Words ``[start, start + count)`` of the Philox4x32-10 stream of ``(seed, offset)``.

    Args:
        seed: int in [0, 2**64); the key is its low and high 32-bit halves.
        offset: int in [0, 2**64); selects the subsequence (counter words 2 and 3).
        count: number of words, >= 0.
        start: index of the first word, any int with ``start + count <= 2**66``.
        out: optional C-contiguous 1-D uint32 array of length ``count`` to fill.

    Returns:
        The uint32 words (``out`` when given).
    """
    seed = check_uint64("random_words", "seed", seed)
    offset = check_uint64("random_words", "offset", offset)
    count = check_int("random_words", "count", count, 0)
    start = check_int("random_words", "start", start, 0)
    if start + count > 4 * UINT64_LIMIT:
        raise fail_value("random_words", "start + count", "at most 2**66 (the stream's length)", start + count)
    if out is None:
        if count * 4 > memory_limit():
            raise fail_value("random_words", "count", "a count whose words fit in memory", count)
        out = np.empty(count, np.uint32)
    elif (not isinstance(out, np.ndarray) or out.dtype != np.uint32 or out.shape != (count,)
          or not out.flags.c_contiguous or not out.flags.writeable):
        raise fail_value("random_words", "out", f"a writeable C-contiguous uint32 array of shape ({count},)", out)
    run_parallel(count, lambda lo, hi: stream_into(out[lo:hi], seed, offset, start + lo))
    return out
