"""minicell.testing.strategies, and importing minicell.testing without hypothesis."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell.testing import strategies as S

ROOT = Path(__file__).resolve().parents[1]


@given(seed=S.seeds(), offset=S.offsets(), state=S.generator_states(room=10), gen=S.generators())
def test_seeds_offsets_and_states_fit_a_generator(seed, offset, state, gen):
    assert 0 <= seed < 2**64 and 0 <= offset <= 2**64 - 1 - 2**16
    g = mc.Generator().set_state(*state)
    g(10)  # the room asked for is there
    assert isinstance(gen, mc.Generator) and gen is not g
    gen(2**16)


def test_offsets_leave_exactly_the_room_asked_for():
    largest = find(S.offsets(room=5), lambda o: o >= 2**64 - 6)
    assert largest == 2**64 - 6
    g = mc.Generator().set_state(1, largest)
    g(5)
    with pytest.raises(OverflowError):
        g(1)


@pytest.mark.parametrize("room", [0, 1, 5, 2**16, 2**63, 2**64 - 1])
def test_the_upper_bound_of_offsets_is_exactly_two_to_the_64_minus_1_minus_room(room):
    """The bound is pinned, not only sampled: the strategy is exactly the integers in
    [0, 2**64 - 1 - room] (compared with the strategy hypothesis builds for those bounds, so the
    check holds whatever hypothesis prints), and that top offset leaves exactly ``room`` steps."""
    top = 2**64 - 1 - room
    assert repr(S.offsets(room)) == repr(st.integers(0, top))
    assert repr(S.generator_states(room)) == repr(st.tuples(S.seeds(), st.integers(0, top)))
    g = mc.Generator().set_state(1, top)
    g(room)
    with pytest.raises(OverflowError):
        g(1)


@given(data=st.data())
def test_each_example_gets_its_own_generator(data):
    a, b = data.draw(S.generators()), data.draw(S.generators())
    assert a is not b


@given(shape=S.shapes(max_dims=4, max_side=3), bounded=S.shapes(2, 5, min_dims=2, min_side=1))
def test_shapes_respect_their_bounds(shape, bounded):
    assert isinstance(shape, tuple) and len(shape) <= 4 and all(0 <= s <= 3 for s in shape)
    assert len(bounded) == 2 and all(1 <= s <= 5 for s in bounded)


@given(n=st.integers(0, 50), data=st.data())
def test_splits_are_ordered_partitions_into_nonempty_ranges(n, data):
    pieces = data.draw(S.splits(n))
    assert all(isinstance(p, range) and p.step == 1 and len(p) > 0 for p in pieces)
    assert [i for p in pieces for i in p] == list(range(n))


def test_splits_reach_every_ordered_partition_of_a_small_range():
    seen = set()

    @settings(max_examples=200, derandomize=True, database=None)
    @given(S.splits(4))
    def collect(pieces):
        seen.add(tuple(len(p) for p in pieces))
    collect()
    assert len(seen) == 8  # 2**(n-1) compositions of 4


@given(size=S.world_sizes(), small=S.world_sizes(2))
def test_world_sizes(size, small):
    assert 1 <= size <= 8 and small in (1, 2)


@pytest.mark.parametrize("call, match", [
    (lambda: S.offsets(room=-1), r"For 'offsets', 'room' must be an int in \[0, 18446744073709551616\), but got -1\."),
    (lambda: S.shapes(max_dims=2, min_dims=3), r"For 'shapes', 'min_dims' must be an int in \[0, 3\), but got 3\."),
    (lambda: S.shapes(max_side=-1), r"For 'shapes', 'max_side' must be an int in \[0, inf\), but got -1\."),
    (lambda: S.splits(1.5), r"For 'splits', 'n' must be an int, but got 1\.5\."),
    (lambda: S.world_sizes(0), r"For 'world_sizes', 'max_size' must be an int in \[1, inf\), but got 0\."),
])
def test_strategy_argument_errors(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_minicell_and_minicell_testing_import_without_hypothesis_or_pytest():
    code = ("import sys; sys.modules['hypothesis'] = None; sys.modules['pytest'] = None\n"
            "import minicell, minicell.testing\n"
            "assert minicell.testing.fingerprint([1]) and 'minicell.testing.strategies' not in sys.modules\n"
            "try:\n    import minicell.testing.strategies\nexcept ImportError:\n    print('strategies need "
            "hypothesis')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "strategies need hypothesis\n"
