"""Known answers computed by other systems: minicell's float32 uniform is MindSpore's CPU `Uniform`.

`tests/data/mindspore_cpu_uniform.txt` is a copy of the project's shared oracle
`../shared/oracles/mindspore_cpu_uniform.txt`: MindSpore 2.7.0's CPU kernel
`ops.operations.random_ops.Uniform(0.0, 1.0, seed=S, offset=O)` on 40 float32 values per line,
as bit patterns. That kernel keys Philox4x32-10 with (seed low, seed high), starts the counter at
(0, 0, offset low, offset high) and maps a word to `(127 << 23 | (word & 0x7FFFFF))` read as a
float minus 1 (MindSpore `uniform_cpu_kernel.cc`, `philox_random.h`): the layout and formula of
DESIGN.md sections 2.2 and 2.3, so every bit must agree, through the stateless function and
through a Generator placed at (S, O).
"""
from pathlib import Path

import numpy as np
import pytest

from minicell import nn, ops
from minicell.random import uniform

REPO = Path(__file__).resolve().parents[1]
ORACLE = REPO / "tests" / "data" / "mindspore_cpu_uniform.txt"
SHARED_ORACLE = REPO.parent / "shared" / "oracles" / "mindspore_cpu_uniform.txt"


def oracle_rows():
    """(seed, offset, index of the first value, uint32 bit patterns) for each data line."""
    rows = []
    for line in ORACLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        seed, offset, index, *bits = line.split()
        rows.append((int(seed), int(offset), int(index), np.array([int(b, 16) for b in bits], np.uint32)))
    return rows


ROWS = oracle_rows()
IDS = [f"seed={s}-offset={o}" for s, o, _, _ in ROWS]


def test_oracle_file_has_every_line_it_should():
    assert len(ROWS) == 8
    assert all(len(bits) == 40 for _, _, _, bits in ROWS)
    # (seed, offset) = (0, 0) makes MindSpore's kernel draw a random seed: the oracle avoids it
    assert all((s, o) != (0, 0) for s, o, _, _ in ROWS)


def test_copy_equals_the_shared_oracle_when_it_is_beside_the_repository():
    if not SHARED_ORACLE.exists():
        pytest.skip(f"no shared oracle at {SHARED_ORACLE}")
    assert ORACLE.read_bytes() == SHARED_ORACLE.read_bytes()


@pytest.mark.parametrize("seed,offset,index,bits", ROWS, ids=IDS)
def test_stateless_uniform_is_bit_equal_to_mindspore(seed, offset, index, bits):
    got = uniform(seed, offset, (bits.size,), start=index)
    assert got.dtype == np.float32
    assert got.view(np.uint32).tolist() == bits.tolist()


@pytest.mark.parametrize("seed,offset,index,bits", ROWS, ids=IDS)
def test_any_slice_alone_is_bit_equal_to_mindspore(seed, offset, index, bits):
    # element e depends on (seed, offset, e) only: a tail computed alone keeps MindSpore's bits
    got = uniform(seed, offset, (bits.size - 17,), start=index + 17)
    assert got.view(np.uint32).tolist() == bits[17:].tolist()


@pytest.mark.parametrize("seed,offset,index,bits", ROWS, ids=IDS)
def test_generator_draws_are_bit_equal_to_mindspore_and_reserve_one_offset(seed, offset, index, bits):
    assert index == 0  # a Generator draw starts at element 0
    gen = nn.Generator().set_state(seed, offset)
    by_rand = ops.rand(bits.size, generator=gen).asnumpy()
    assert by_rand.view(np.uint32).tolist() == bits.tolist()
    assert [int(v) for v in gen.get_state()] == [seed, offset + 1]

    gen.set_state(seed, offset)
    by_uniform = ops.uniform((bits.size,), 0.0, 1.0, generator=gen).asnumpy()
    assert by_uniform.view(np.uint32).tolist() == bits.tolist()
    assert [int(v) for v in gen.get_state()] == [seed, offset + 1]
