"""Philox4x32 engine: Random123 known answers, the stream mapping, carries, memory, errors."""
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicell._runtime.parallel import get_num_threads, set_num_threads
from minicell.random import philox4x32, random_words
from tests.bad_inputs import house

# Every philox4x32 line (7 and 10 rounds) of Random123's tests/kat_vectors and old_kat_vectors.
KAT_FILE = Path(__file__).resolve().parent / "data" / "philox4x32_kat.txt"
# The three Philox4x32-10 vectors of DESIGN.md section 2.1 (Random123 tests/kat_vectors).
KAT_10 = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]
U64 = st.integers(0, 2**64 - 1)


def reference_words(seed, offset, start, count):
    """Words of the stream through the block function, straight from DESIGN.md section 2.2."""
    first, last = start // 4, (start + count + 3) // 4
    j = np.arange(first, last, dtype=object)
    counters = np.array([[b & 0xFFFFFFFF, b >> 32, offset & 0xFFFFFFFF, offset >> 32] for b in j], dtype=np.uint64)
    blocks = philox4x32(counters.astype(np.uint32).reshape(-1, 4), np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32))
    return blocks.reshape(-1)[start - 4 * first: start - 4 * first + count]


@pytest.mark.parametrize("counter,key,expected", KAT_10)
def test_design_known_answers(counter, key, expected):
    out = philox4x32(np.array(counter, np.uint32), np.array(key, np.uint32))
    assert out.tolist() == expected


def test_all_published_vectors_7_and_10_rounds():
    rows = [line.split() for line in KAT_FILE.read_text().splitlines() if line.strip()]
    assert len(rows) == 110
    counters = np.array([[int(x, 16) for x in r[2:6]] for r in rows], np.uint32)
    keys = np.array([[int(x, 16) for x in r[6:8]] for r in rows], np.uint32)
    expected = np.array([[int(x, 16) for x in r[8:12]] for r in rows], np.uint32)
    for rounds in (7, 10):
        pick = np.array([int(r[1]) == rounds for r in rows])
        assert (philox4x32(counters[pick], keys[pick], rounds) == expected[pick]).all()


def test_stream_word_zero_is_block_zero():
    assert random_words(0, 0, 4).tolist() == KAT_10[0][2]


@given(seed=U64, offset=U64, start=st.integers(0, 2**40), count=st.integers(0, 70))
def test_stream_matches_block_function(seed, offset, start, count):
    assert (random_words(seed, offset, count, start=start) == reference_words(seed, offset, start, count)).all()


@given(seed=U64, offset=U64, lane=st.integers(0, 3))
def test_block_index_carries_across_2_to_the_32(seed, offset, lane):
    start = (2**32 - 2) * 4 + lane
    got = random_words(seed, offset, 24, start=start)
    assert (got == reference_words(seed, offset, start, 24)).all()
    end = 4 * 2**64 - 8
    assert (random_words(seed, offset, 8, start=end) == reference_words(seed, offset, end, 8)).all()


@given(seed=U64, offset=U64, a=st.integers(0, 5000), b=st.integers(0, 5000))
def test_any_slice_equals_the_slice_of_the_whole(seed, offset, a, b):
    a, b = min(a, b), max(a, b)
    whole = random_words(seed, offset, 5000)
    assert (random_words(seed, offset, b - a, start=a) == whole[a:b]).all()


@given(seed=U64, offset=U64)
def test_neighbouring_seeds_and_offsets_give_different_streams(seed, offset):
    base = random_words(seed, offset, 8)
    assert (base != random_words(seed ^ 1, offset, 8)).any()
    assert (base != random_words(seed, offset ^ 1, 8)).any()
    assert (base == random_words(seed, offset, 8)).all()


def test_extreme_seed_and_offset():
    top = 2**64 - 1
    assert (random_words(top, top, 12) == reference_words(top, top, 0, 12)).all()


def test_threads_and_chunks_do_not_change_words():
    previous = get_num_threads()
    try:
        set_num_threads(1)
        serial = random_words(9, 4, 3 * 2**18 + 5, start=3)
        set_num_threads(3)
        threaded = random_words(9, 4, 3 * 2**18 + 5, start=3)
    finally:
        set_num_threads(previous)
    assert (serial == threaded).all()


def test_out_argument_is_filled_in_place():
    out = np.zeros(10, np.uint32)
    assert random_words(1, 2, 10, out=out) is out
    assert (out == random_words(1, 2, 10)).all()


def test_peak_memory_stays_within_output_plus_16_mib():
    count = 2**25
    random_words(1, 1, 2**20)  # warm the per-thread workspaces
    tracemalloc.start()
    try:
        random_words(1, 1, count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= count * 4 + 16 * 2**20


U64 = "an int in [0, 18446744073709551616)"
OUT = "a writeable C-contiguous uint32 array of shape (3,)"
BAD_WORD_ARGS = [
    (dict(seed=-1), ValueError, "seed", U64, "-1"), (dict(seed=2**64), ValueError, "seed", U64, "an int of 65 bits"),
    (dict(offset=-1), ValueError, "offset", U64, "-1"),
    (dict(offset=2**64), ValueError, "offset", U64, "an int of 65 bits"),
    (dict(count=-1), ValueError, "count", "an int in [0, inf)", "-1"),
    (dict(start=-1), ValueError, "start", "an int in [0, inf)", "-1"),
    (dict(start=4 * 2**64), ValueError, "start + count", "at most 2**66 (the stream's length)", "an int of 67 bits"),
    (dict(seed=1.0), TypeError, "seed", "an int", "1.0"), (dict(seed=True), TypeError, "seed", "an int", "True"),
    (dict(count="3"), TypeError, "count", "an int", "'3'"),
    (dict(out=np.zeros(3, np.int32)), ValueError, "out", OUT, "an object of type ndarray"),
    (dict(out=np.zeros(4, np.uint32)), ValueError, "out", OUT, "an object of type ndarray"),
]


@pytest.mark.parametrize("bad,error,arg,expected,got", BAD_WORD_ARGS)
def test_invalid_word_arguments(bad, error, arg, expected, got):
    args = dict(seed=1, offset=2, count=3, start=0)
    args.update(bad)
    with pytest.raises(error, match=house("random_words", arg, expected, got)):
        random_words(**args)


@pytest.mark.parametrize("counter,key,error,arg,expected,got", [
    (np.zeros(3, np.uint32), np.zeros(2, np.uint32), ValueError, "counter", "an array of shape (..., 4)",
     "an array of dtype uint32 and shape [3]"),
    (np.zeros(4, np.uint32), np.zeros(3, np.uint32), ValueError, "key", "an array of shape (..., 2)",
     "an array of dtype uint32 and shape [3]"),
    (np.zeros(4, np.float32), np.zeros(2, np.uint32), TypeError, "counter",
     "an array of uint32 values of shape (..., 4)", "an array of dtype float32 and shape [4]"),
    (np.array([-1, 0, 0, 0]), np.zeros(2, np.uint32), ValueError, "counter",
     "an array of uint32 values of shape (..., 4)", "values in [-1, 0]"),
])
def test_invalid_block_arguments(counter, key, error, arg, expected, got):
    with pytest.raises(error, match=house("philox4x32", arg, expected, got)):
        philox4x32(counter, key)


# The project's shared folder sits beside the clone (CI puts it there): <repo>/../shared/kat/.
SHARED_KAT_FILE = Path(__file__).resolve().parents[2] / "shared" / "kat" / "philox4x32.txt"


def _vectors(path):
    """``(rounds, counter, key, output)`` per line, words as ints (spacing and case do not matter)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [(r[0], int(r[1]), *(tuple(int(w, 16) for w in part) for part in (r[2:6], r[6:8], r[8:12]))) for r in rows]


@pytest.mark.skipif(not SHARED_KAT_FILE.parents[1].is_dir(), reason=f"the project's shared folder is not beside the "
                    f"clone ({SHARED_KAT_FILE.parents[1]} is absent), so there is nothing to compare with")
def test_the_copied_vectors_are_the_shared_known_answers():
    """tests/data/philox4x32_kat.txt is a copy of ../shared/kat/philox4x32.txt: every vector, in order."""
    ours, shared = _vectors(KAT_FILE), _vectors(SHARED_KAT_FILE)
    assert len(shared) == 110 and all(len(r) == 5 and r[0] == "philox4x32" for r in shared)
    assert ours == shared
