"""The shared notion of a shard's rows (minicell/_sharding.py)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicell._runtime.sharding import shard_bounds, unit_bounds


@given(rows=st.integers(0, 300), shards=st.integers(1, 9), unit=st.integers(1, 40))
def test_shards_partition_the_batch_in_rank_order_on_unit_boundaries(rows, shards, unit):
    bounds = [shard_bounds(rows, shards, r, unit) for r in range(shards)]
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    for (lo, hi), (next_lo, _) in zip(bounds, bounds[1:]):
        assert lo <= hi == next_lo
    units = [len(unit_bounds(lo, hi, unit)) for lo, hi in bounds]
    assert sum(units) == -(-rows // unit) and max(units) - min(units) <= 1
    for lo, _ in bounds:
        assert lo % unit == 0 or lo == rows


def test_known_split():
    assert [shard_bounds(10, 3, r) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]
    assert [shard_bounds(10, 3, r, unit=4) for r in range(3)] == [(0, 4), (4, 8), (8, 10)]
    assert [shard_bounds(10, 4, r, unit=4) for r in range(4)] == [(0, 0), (0, 4), (4, 8), (8, 10)]
    assert unit_bounds(4, 10, 4) == [(4, 8), (8, 10)]


@pytest.mark.parametrize("args, error, match", [
    ((10, 0, 0), ValueError, r"For 'shard_bounds', 'num_shards' must be an int in \[1, inf\), but got 0\."),
    ((10, 2, 2), ValueError, r"For 'shard_bounds', 'shard_id' must be an int in \[0, 2\), but got 2\."),
    ((10, 2, 0, 0), ValueError, r"'unit' must be an int in \[1, inf\)"),
    ((-1, 2, 0), ValueError, r"'rows' must be an int in \[0, inf\)"),
    ((1.5, 2, 0), TypeError, r"For 'shard_bounds', 'rows' must be an int, but got 1\.5\."),
])
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        shard_bounds(*args)
