"""Dropout: the DESIGN keep-mask, scaling, slices, channels, recomputed backward, no kept mask."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
import minicell._runtime.parallel as parallel
from minicell import nn, ops
from minicell import random as R
from minicell.testing import assert_bitwise_equal, assert_slice_invariant, shard_split
from minicell.testing.strategies import world_sizes
from tests.bad_inputs import house
from tests.stats import binomial_bounds

U64 = st.integers(0, 2**64 - 1)


def ones(*shape, dtype=np.float32, grad=False):
    return mc.Tensor(np.ones(shape, dtype), requires_grad=grad)


@given(seed=U64, offset=st.integers(0, 2**64 - 2), p=st.floats(0.0, 1.0), n=st.integers(1, 300))
def test_functional_dropout_is_the_design_keep_mask(seed, offset, p, n):
    gen = mc.Generator().set_state(seed, offset)
    x = mc.Tensor(np.linspace(-1, 1, n, dtype=np.float32))
    out = ops.dropout(x, p, generator=gen).asnumpy()
    keep = R.keep_mask(seed, offset, n, p)
    t = round(p * 65536)
    scale = np.float32(65536 / (65536 - t)) if t < 65536 else np.float32(0)
    assert np.array_equal(out, np.where(keep, x.asnumpy() * scale, np.float32(0)))
    assert int(gen.get_state()[1]) == offset + 1


def test_layer_reserves_one_step_per_training_call_even_at_p_zero_and_none_in_eval():
    gen = mc.Generator().manual_seed(4)
    layer = nn.Dropout(0.0, generator=gen)
    x = ones(5)
    assert layer(x) is x and int(gen.get_state()[1]) == 0  # a new Cell is in eval mode
    layer.set_train()
    assert np.array_equal(layer(x).asnumpy(), x.asnumpy()) and int(gen.get_state()[1]) == 1
    layer(x)
    assert int(gen.get_state()[1]) == 2
    layer.set_train(False)
    layer(x)
    assert int(gen.get_state()[1]) == 2


def test_same_seed_and_offset_same_mask_and_p_one_gives_zeros():
    a = nn.Dropout(0.3, generator=mc.Generator().manual_seed(9)).set_train()
    b = nn.Dropout(0.3, generator=mc.Generator().manual_seed(9)).set_train()
    x = ones(4, 50)
    first = a(x).asnumpy()
    assert_bitwise_equal(first, b(x))
    assert not np.array_equal(first, a(x).asnumpy())  # the next call draws at the next offset
    assert not nn.Dropout(1.0, generator=mc.Generator()).set_train()(x).asnumpy().any()


def test_generator_is_a_registered_sub_cell_and_can_be_shared():
    gen = mc.Generator()
    model = nn.SequentialCell(nn.Dropout(0.5, generator=gen), nn.Dropout(0.5, generator=gen))
    assert [n for n, _ in model.parameters_and_names()] == ["0.generator.seed", "0.generator.offset"]
    model.set_train()
    model(ones(8))
    assert int(gen.get_state()[1]) == 2


def test_default_generator_is_used_without_one():
    mc.manual_seed(3)
    layer = nn.Dropout(0.5).set_train()
    out = layer(ones(64)).asnumpy()
    assert np.array_equal(out != 0, R.keep_mask(3, 0, 64, 0.5))
    # the default generator is registered as the sub-cell 'generator': its state is saved
    assert [n for n, _ in layer.parameters_and_names()] == ["generator.seed", "generator.offset"]
    assert layer.generator is mc.default_generator()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction_and_scaled_expectation(p):
    n = 200_000
    out = ops.dropout(ones(n), p, generator=mc.Generator().manual_seed(21)).asnumpy()
    kept = int((out != 0).sum())
    lo, hi = binomial_bounds(n, 1 - p)
    assert lo <= kept <= hi
    assert abs(out.mean() - 1.0) < 6 * np.sqrt(p / (1 - p) / n)
    t = round(p * 65536)
    assert np.all(out[out != 0] == np.float32(65536 / (65536 - t)))


@given(seed=U64, a=st.integers(0, 400), b=st.integers(0, 400))
def test_start_gives_the_slice_of_the_whole_mask(seed, a, b):
    a, b = min(a, b), max(a, b)
    x = mc.Tensor(np.arange(400, dtype=np.float32) + 1)
    gen = mc.Generator().manual_seed(seed)  # restored before every draw

    def draw(start, count):
        return ops.dropout(x[start:start + count], 0.4, generator=gen, start=start)
    assert_slice_invariant(draw, 400, [a, b - a, 400 - b], generators=[gen])


@given(world=world_sizes(), unit=st.integers(1, 8))
def test_sharded_batch_equals_single_process_batch(world, unit):
    x = mc.Tensor(np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    gen = mc.Generator().manual_seed(1)

    def shard(start, count):  # what the rank holding rows [start, start + count) computes
        return ops.dropout(x[start:start + count], 0.25, generator=gen, start=start * 16)
    assert_slice_invariant(shard, 8, shard_split(8, world, unit), generators=[gen])


@pytest.mark.parametrize("cls,shape", [(nn.Dropout1d, (3, 4, 5)), (nn.Dropout1d, (4, 5)), (nn.Dropout2d, (2, 6, 3, 3)),
                                       (nn.Dropout2d, (6, 3, 3)), (nn.Dropout3d, (2, 3, 2, 2, 2)),
                                       (nn.Dropout3d, (3, 2, 2, 2))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    gen = mc.Generator().manual_seed(5)
    out = cls(0.5, generator=gen).set_train()(ones(*shape)).asnumpy()
    inner = len(shape) - (len(shape) - (cls.RANKS[0] - 1))
    channels = out.reshape(out.shape[: out.ndim - inner] + (-1,))
    assert all(len(set(row.tolist())) == 1 for row in channels.reshape(-1, channels.shape[-1]))
    keep = R.keep_mask(5, 0, out.shape[: out.ndim - inner], 0.5)
    assert np.array_equal(channels[..., 0] != 0, keep) and int(gen.get_state()[1]) == 1


def test_channel_dropout_backward_uses_the_forward_mask():
    x = mc.Tensor(np.random.default_rng(1).standard_normal((4, 6, 3, 3)).astype(np.float32), requires_grad=True)
    out = nn.Dropout2d(0.5, generator=mc.Generator().manual_seed(2)).set_train()(x)
    out.sum().backward()
    assert np.array_equal(x.grad.asnumpy(), (out.asnumpy() != 0) * np.float32(2.0))


@pytest.mark.parametrize("cls,bad_rank,ranks", [(nn.Dropout1d, 4, (2, 3)), (nn.Dropout2d, 2, (3, 4)),
                                               (nn.Dropout3d, 3, (4, 5))])
def test_channel_dropout_rejects_wrong_rank(cls, bad_rank, ranks):
    shape = [2] * bad_rank
    with pytest.raises(ValueError, match=house(cls.__name__, "input", f"a {ranks[0]}-D (unbatched) or {ranks[1]}-D "
                                               "(batched) Tensor", f"a {bad_rank}-D Tensor of shape {shape}")):
        cls(0.5, generator=mc.Generator()).set_train()(ones(*([2] * bad_rank)))


def test_backward_recomputes_the_forward_mask():
    gen = mc.Generator().manual_seed(13)
    x = mc.Tensor(np.random.default_rng(2).standard_normal(1000).astype(np.float32), requires_grad=True)
    layer = nn.Dropout(0.3, generator=gen).set_train()
    out = layer(x)
    (out * 3.0).sum().backward()
    scale = np.float32(65536 / (65536 - round(0.3 * 65536)))
    assert np.array_equal(x.grad.asnumpy(), np.where(R.keep_mask(13, 0, 1000, 0.3), np.float32(3.0) * scale, 0))
    assert int(gen.get_state()[1]) == 1  # the backward reserved nothing


def test_gradient_matches_finite_differences_float64():
    from tests.gradcheck import assert_grads_match
    x = np.random.default_rng(3).standard_normal((5, 7))
    assert_grads_match(lambda t: ops.dropout(t, 0.4, generator=mc.Generator().manual_seed(1)) * t, x)


def test_no_input_sized_array_is_kept_between_forward_and_backward():
    n = 1 << 20
    x = mc.Tensor(np.ones(n, np.float32), requires_grad=True)
    layer = nn.Dropout(0.1, generator=mc.Generator()).set_train()
    layer(x)
    # Per-thread scratch buffers are workspaces, not kept arrays: they are left out, because a pool
    # may start a new worker (with buffers of its own) between two calls.
    scratch = [tracemalloc.Filter(False, parallel.__file__)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(scratch)
        out = layer(x)
        after = tracemalloc.take_snapshot().filter_traces(scratch)
        retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        out.sum().backward()
    finally:
        tracemalloc.stop()
    # the output itself (4n bytes) is what autograd needs; a kept mask would add n more bytes
    assert retained < 4 * n + n // 8, retained
    assert out._backward is not None and x.grad is not None


@pytest.mark.parametrize("bad,error,expected", [
    (1.5, ValueError, "a float in [0, 1]"), (-0.1, ValueError, "a float in [0, 1]"),
    (float("nan"), ValueError, "a float in [0, 1]"), (True, TypeError, "a real number"),
    ("0.5", TypeError, "a real number"), (None, TypeError, "a real number")])
def test_bad_p_names_the_layer_and_argument(bad, error, expected):
    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
        with pytest.raises(error, match=house(cls.__name__, "p", expected, repr(bad))):
            cls(bad)
    with pytest.raises(error, match=house("dropout", "p", expected, repr(bad))):
        ops.dropout(ones(3), bad)


def test_functional_errors_reserve_nothing():
    gen = mc.Generator()
    for call, error, who, arg, expected, got in (
            (lambda: ops.dropout(mc.Tensor([1, 2]), 0.5, generator=gen), TypeError, "dropout", "input",
             "a floating-point Tensor", "a Tensor of dtype int64"),
            (lambda: ops.dropout(ones(2), 0.5, generator=gen, start=-1), ValueError, "dropout", "start",
             "an int in [0, inf)", "-1"),
            (lambda: ops.dropout(np.ones(2), 0.5, generator=gen), TypeError, "dropout", "input", "a Tensor",
             "an object of type ndarray"),
            (lambda: ops.dropout(ones(2), 0.5, training="yes", generator=gen), TypeError, "dropout", "training",
             "a bool", "'yes'"),
            (lambda: nn.Dropout(0.5, generator="gen"), TypeError, "Dropout", "generator", "a Generator or None",
             "'gen'")):
        with pytest.raises(error, match=house(who, arg, expected, got)):
            call()
    assert int(gen.get_state()[1]) == 0
    assert ops.dropout(ones(2), 0.5, training=False, generator=gen).asnumpy().tolist() == [1, 1]
