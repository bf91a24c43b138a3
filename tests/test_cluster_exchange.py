"""The exchange of exact partial sums: every tier of the wire format, the one rounding of float64
partials to float32 (the halfway case), and off-rank bytes that do not grow with micro-batches."""
import numpy as np
import pytest

from minicell._exact import exact_sum as _exact_sum
from minicell._exact import partials as _partials
from minicell._runtime import world as _world
from minicell.nn.distributed import reduce_weighted
from tests.simulated_world import run_ranks
from tests.test_reproducible_sum import expected, same_bits


def spread(parts, owners, size, dtype=np.float32):
    shape = parts[0].shape
    return run_ranks(size, lambda w: _exact_sum.reproducible_sum(
        [p for p, o in zip(parts, owners) if o == w.rank], w, shape, dtype))


def test_each_chunk_code_and_column_tier_is_chosen_by_its_check_and_decodes_to_the_same_value():
    assert _partials.encode_chunk(np.array([[1.0, 3.0], [2.0, -0.0]], np.float32))[0] == 0
    code, data = _partials.encode_chunk(np.array([[1.0, 3.0], [2.0 ** -30, -0.0]], np.float32))
    assert code == 1 and data.view(np.float64).tolist() == [1 + 2.0 ** -30, 3.0]
    code, data = _partials.encode_chunk(np.array([[1.0, 3.0], [2.0 ** -60, 1.0]], np.float32))
    assert code == 3 and data.view(np.float64).tolist() == [1.0, 4.0, 2.0 ** -60, -0.0]
    rows = np.array([[1.0, 1.0, 1.0, np.inf, 3.0],
                     [2.0 ** -20, 2.0 ** -30, 2.0 ** -60, 1.0, -0.0]], np.float32)
    code, data = _partials.encode_chunk(rows)
    assert code == 2 and data.size == 2 + 4 * 2 + 8 + 16 + 2 * 4
    hi, lo, columns, raw = _partials._decode_columns(data, 5, 2, np.float32)
    assert columns.tolist() == [3] and same_bits(raw[:, 0], rows[:, 3])
    assert hi[2] == 1.0 and lo[2] == 2.0 ** -60 and hi[1] == 1 + 2.0 ** -30
    assert _partials._chunk_bytes(2, 5, data, 0, 2, 4) == data.size


def test_a_float64_partial_halfway_between_float32s_is_rounded_once_from_the_exact_sum():
    # rank 0's exact partial 1 + 2**-24 is halfway between float32s; rank 1's 2**-60 decides
    parts = [np.array([1.0], np.float32), np.array([2.0 ** -24], np.float32), np.array([2.0 ** -60], np.float32)]
    want = expected(parts, np.float32)
    assert want[0] == np.float32(1 + 2.0 ** -23)
    for result in spread(parts, [0, 0, 1], 2):
        assert same_bits(result, want)
    negative = [-p for p in parts]
    for result in spread(negative, [1, 1, 0], 2):
        assert same_bits(result, expected(negative, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adversarial_columns_on_many_ranks_match_the_fraction_oracle(dtype):
    rng = np.random.default_rng(11)
    big = 3e38 if dtype == np.float32 else 1e308
    parts = [(rng.standard_normal(40) * np.exp2(rng.integers(-120, 120, 40))).astype(dtype) for _ in range(9)]
    parts[2][:4] = [np.inf, big, -0.0, np.nan]
    parts[5][:4] = [1.0, big, -0.0, 1.0]
    parts[7][1] = -big
    for size in (2, 3, 4):
        owners = [i % size for i in range(len(parts))]
        for result in spread(parts, owners, size, dtype):
            assert same_bits(result, expected(parts, dtype))


def test_off_rank_bytes_do_not_grow_with_micro_batches_per_rank():
    rng = np.random.default_rng(5)
    size, elements = 2, 30000
    ring = 2 * 4 * elements * (size - 1) / size
    sent = {}
    for per_rank in (1, 2, 4):
        grads = [[rng.standard_normal(elements).astype(np.float32)] for _ in range(size * per_rank)]
        weights = [1.0 / len(grads)] * len(grads)

        def body(w, grads=grads, weights=weights, per_rank=per_rank):
            mine = slice(w.rank * per_rank, (w.rank + 1) * per_rank)
            out = reduce_weighted(grads[mine], weights[mine], [(elements,)], [np.float32], w)
            return out, dict(_exact_sum.last_exchange)

        results = run_ranks(size, body)
        alone = reduce_weighted(grads, weights, [(elements,)], [np.float32], _world.SingleProcess())
        assert all(same_bits(out[0], alone[0]) for out, _ in results)
        sent[per_rank] = results[0][1]["alltoallv_bytes_off_rank"] + results[0][1]["allgatherv_bytes_off_rank"]
    # bounded whatever the count: float32 where exact (one per rank), else float64 plus 2 bits
    assert sent[1] <= 1.05 * ring and max(sent.values()) <= (8.25 + 4) / 8 * ring <= 2.1 * ring


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_chunks_with_every_code_across_ranks_give_the_bits_of_one_process(dtype):
    rng = np.random.default_rng(8)
    width = 2 * _exact_sum.CHUNK + 1001
    rows = [(rng.standard_normal(width) * 1e-3).astype(dtype) for _ in range(6)]
    rows[3][5] = np.inf                                  # a code-2 chunk with a raw column
    rows[4][_exact_sum.CHUNK + 7] = 1e30                 # a pair: errors spanning far more than 53 bits
    rows[5][_exact_sum.CHUNK + 7] = 1e-30
    rows[5][-1] = np.nan
    want = _exact_sum.exact_sum_rows(np.stack(rows))
    for size, owners in ((3, [0, 1, 1, 2, 2, 2]), (2, [1, 1, 1, 1, 1, 0]), (4, [3, 0, 0, 0, 2, 2])):
        for result in spread(rows, owners, size, dtype):
            assert same_bits(result, want)
