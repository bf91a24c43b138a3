"""Hypothesis strategies for minicell's random state, shapes, splits and world sizes.

This module imports ``hypothesis`` (a test dependency); ``import minicell.testing`` does not.

- ``seeds()``: seeds in [0, 2**64), the values a Generator stores.
- ``offsets(room)``: offsets in [0, 2**64 - 1 - room], so ``room`` more steps can be reserved.
- ``generator_states(room)``: ``(seed, offset)`` pairs.
- ``generators(room)``: fresh ``Generator`` objects set to such a state (one per example).
- ``shapes(max_dims, max_side)``: tuples of sides in ``[min_side, max_side]`` (zero included).
- ``splits(n)``: ordered partitions of ``range(n)`` into contiguous non-empty pieces, as a tuple
  of ``range`` objects (``()`` for ``n == 0``); shrinks towards fewer pieces.
- ``world_sizes(max_size)``: numbers of ranks/shards in ``[1, max_size]``, for
  ``minicell._runtime.sharding.shard_bounds`` (use ``minicell.testing.shard_split`` to turn one into the
  split of a batch that the ranks hold).
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from minicell._checks import check_int
from minicell.generator import Generator

UINT64_LIMIT = 1 << 64
DEFAULT_ROOM = 1 << 16


def seeds() -> st.SearchStrategy[int]:
    """Seeds in [0, 2**64)."""
    return st.integers(0, UINT64_LIMIT - 1)


def offsets(room: int = DEFAULT_ROOM) -> st.SearchStrategy[int]:
    """Offsets in [0, 2**64 - 1 - room]: ``room`` more steps fit before the Generator's limit."""
    room = check_int("offsets", "room", room, 0, UINT64_LIMIT)
    return st.integers(0, UINT64_LIMIT - 1 - room)


def generator_states(room: int = DEFAULT_ROOM) -> st.SearchStrategy[tuple[int, int]]:
    """``(seed, offset)`` pairs as ``Generator.set_state`` and ``minicell.random`` take them."""
    return st.tuples(seeds(), offsets(room))


def _generator(state: tuple[int, int]) -> Generator:
    return Generator().set_state(*state)


def generators(room: int = DEFAULT_ROOM) -> st.SearchStrategy[Generator]:
    """A new ``Generator`` for every example, set to a drawn ``(seed, offset)``."""
    return generator_states(room).map(_generator)


def shapes(max_dims: int = 3, max_side: int = 8, *, min_dims: int = 0,
           min_side: int = 0) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with ``min_dims..max_dims`` sides, each in ``[min_side, max_side]``."""
    max_dims = check_int("shapes", "max_dims", max_dims, 0, 33)
    min_dims = check_int("shapes", "min_dims", min_dims, 0, max_dims + 1)
    max_side = check_int("shapes", "max_side", max_side, 0)
    min_side = check_int("shapes", "min_side", min_side, 0, max_side + 1)
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def _pieces(n: int, cuts: Any) -> tuple[range, ...]:
    bounds = [0, *sorted(cuts), n]
    return tuple(range(a, b) for a, b in zip(bounds, bounds[1:])) if n else ()


def splits(n: int) -> st.SearchStrategy[tuple[range, ...]]:
    """Ordered partitions of ``range(n)``: contiguous non-empty ranges in order covering it."""
    n = check_int("splits", "n", n, 0)
    if n <= 1:
        return st.just(_pieces(n, ()))
    return st.sets(st.integers(1, n - 1), max_size=n - 1).map(lambda cuts: _pieces(n, cuts))


def world_sizes(max_size: int = 8) -> st.SearchStrategy[int]:
    """World sizes (ranks, shards) in ``[1, max_size]``; shrinks towards 1."""
    max_size = check_int("world_sizes", "max_size", max_size, 1)
    return st.integers(1, max_size)
