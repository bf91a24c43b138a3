"""Embedding: lookup, accumulated gradients, padding_idx, generator initialization, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from minicell.initializer import Normal, initializer


@settings(max_examples=25)
@given(vocab=st.integers(1, 6), dim=st.integers(1, 4), shape=st.sampled_from([(3,), (2, 3), (1, 2, 2)]),
       seed=st.integers(0, 2**32 - 1), pad=st.booleans())
def test_lookup_and_gradient_accumulate_repeated_ids(vocab, dim, shape, seed, pad):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, shape)
    padding_idx = int(ids.flat[0]) if pad else None
    layer = nn.Embedding(vocab, dim, padding_idx=padding_idx, dtype=np.float64,
                         generator=mc.Generator().manual_seed(seed))
    table = layer.embedding_table.asnumpy()
    out = layer(mc.Tensor(ids))
    assert out.shape == shape + (dim,)
    np.testing.assert_array_equal(out.asnumpy(), table[ids])
    g = rng.standard_normal(out.shape)
    (out * mc.Tensor(g)).sum().backward()
    want = np.zeros_like(table)
    for position in np.ndindex(*shape):  # naive accumulation, one position at a time
        want[ids[position]] += g[position]
    if padding_idx is not None:
        want[padding_idx] = 0
        assert not table[padding_idx].any()
    np.testing.assert_allclose(layer.embedding_table.grad.asnumpy(), want, rtol=1e-12)


def test_default_table_is_mindspores_normal_from_the_generator_one_step():
    gen = mc.Generator().manual_seed(9)
    layer = nn.Embedding(5, 3, generator=gen)
    assert int(gen.get_state()[1]) == 1 and layer.embedding_table.dtype == np.float32
    want = initializer(Normal(0.01), (5, 3), generator=mc.Generator().manual_seed(9))
    assert np.array_equal(layer.embedding_table.asnumpy(), want.asnumpy())
    table = nn.Embedding(5, 3, generator=mc.Generator().manual_seed(9)).embedding_table
    assert np.array_equal(table.asnumpy(), want.asnumpy())
    padded = nn.Embedding(5, 3, padding_idx=2, generator=mc.Generator().manual_seed(9))
    assert not padded.embedding_table.asnumpy()[2].any()
    assert np.array_equal(np.delete(padded.embedding_table.asnumpy(), 2, 0), np.delete(want.asnumpy(), 2, 0))
    one_hot = nn.Embedding(5, 3, use_one_hot=True, generator=mc.Generator().manual_seed(9))
    assert np.array_equal(one_hot(mc.Tensor([1])).asnumpy(), want.asnumpy()[[1]])


def test_functional_embedding_and_checkpoint_round_trip(tmp_path):
    weight = mc.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    out = ops.embedding(mc.Tensor(np.array([2, 2, 0])), weight, padding_idx=-1)
    out.sum().backward()
    assert out.asnumpy().tolist() == [[4, 5], [4, 5], [0, 1]]
    assert weight.grad.asnumpy().tolist() == [[1, 1], [0, 0], [0, 0]]  # row 2 (= -1) is padding
    a = nn.Embedding(4, 2, generator=mc.Generator().manual_seed(1))
    b = nn.Embedding(4, 2, generator=mc.Generator().manual_seed(2))
    mc.save_checkpoint(a, tmp_path / "e.ckpt")
    mc.load_param_into_net(b, mc.load_checkpoint(tmp_path / "e.ckpt"), strict_load=True)
    assert np.array_equal(a.embedding_table.asnumpy(), b.embedding_table.asnumpy())


@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.Embedding(0, 2), ValueError, r"For 'Embedding', 'vocab_size' must be an int in \[1, inf\), but got 0"),
    (lambda: nn.Embedding(3, 2.0), TypeError, r"For 'Embedding', 'embedding_size' must be an int, but got 2.0"),
    (lambda: nn.Embedding(3, 2, use_one_hot=1), TypeError, r"'use_one_hot' must be a bool, but got 1"),
    (lambda: nn.Embedding(3, 2, padding_idx=3), ValueError, r"'padding_idx' must be an int in \[0, 3\), but got 3"),
    (lambda: nn.Embedding(3, 2, embedding_table="nope"), ValueError, r"For 'initializer', 'init' must be an "
                                                                     r"Initializer"),
    (lambda: nn.Embedding(3, 2, generator=mc.Generator())(mc.Tensor([3])), ValueError, r"For 'Embedding', 'x' must "
                                                                                       r"be ids in \[0, 3\), but "
                                                                                       r"got 3"),
    (lambda: nn.Embedding(3, 2, generator=mc.Generator())(mc.Tensor([-1])), ValueError, r"'x' must be ids in \[0, "
                                                                                        r"3\), but got -1"),
    (lambda: nn.Embedding(3, 2, generator=mc.Generator())(mc.Tensor([1.0])), TypeError, r"'x' must be an integer "
                                                                                        r"Tensor"),
    (lambda: ops.embedding(mc.Tensor([0]), mc.Tensor(np.zeros(3))), TypeError, r"For 'embedding', 'weight' must be "
                                                                               r"a 2-D Tensor"),
])
def test_bad_arguments_are_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_failed_construction_reserves_no_offset():
    gen = mc.Generator()
    with pytest.raises(ValueError):
        nn.Embedding(3, 2, padding_idx=5, generator=gen)
    assert int(gen.get_state()[1]) == 0
