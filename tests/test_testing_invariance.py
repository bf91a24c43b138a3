"""assert_reproducible, assert_slice_invariant, assert_batch_invariant: pass on sound code, catch defects."""
import contextvars
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from minicell import random as R
from minicell.ops._dropout import dropout_with_state
from minicell.testing import assert_batch_invariant, assert_reproducible, assert_slice_invariant, shard_split
from minicell.testing.strategies import generator_states, splits, world_sizes


def failure(fn, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def state(gen=None):
    s, o = (gen or mc.default_generator()).get_state()
    return int(s), int(o)


# ----- assert_reproducible --------------------------------------------------------------------
def test_reproducible_passes_on_default_generator_draws_and_restores_the_state():
    mc.manual_seed(11)
    mc.rand(2)
    before = state()
    out = assert_reproducible(lambda n: (mc.rand(n), ops.randn(2, 2)), 3, runs=3)
    assert state() == before
    assert np.array_equal(out[0].asnumpy(), R.uniform(11, 1, 3))  # the first run's output


def test_reproducible_restores_a_cell_arguments_parameters_and_generators():
    gen = mc.Generator().manual_seed(3)
    net = nn.SequentialCell(nn.Dense(4, 4, generator=gen), nn.Dropout(0.5, generator=gen)).set_train()
    x = mc.Tensor(R.normal(1, 0, (5, 4)))
    before = state(gen)
    assert_reproducible(net, x)
    assert state(gen) == before

    def train_step(model, inputs):  # changes the model's weights: restored before every run
        loss = model(inputs).sum()
        loss.backward()
        for p in model.trainable_params():
            p.set_data(p.asnumpy() - 0.1 * p.grad.asnumpy())
            p.grad = None
        return model
    assert_reproducible(train_step, net, x)


def test_reproducible_catches_numpy_global_state():
    message = failure(assert_reproducible, lambda: mc.Tensor(np.random.rand(3)))
    assert message.startswith("Not reproducible: run 2 of 2 differs from run 1, both started from the same "
                              "generator state. the top level: ")
    assert "elements differ" in message


def test_reproducible_catches_a_generator_it_was_not_told_about():
    gen = mc.Generator().manual_seed(5)
    draw = lambda: ops.rand(4, generator=gen)  # noqa: E731
    assert "run 2 of 2 differs from run 1" in failure(assert_reproducible, draw)
    gen.manual_seed(5)
    assert_reproducible(draw, generators=[gen])
    assert state(gen) == (5, 0)


def test_reproducible_catches_a_varying_number_of_reserved_offsets():
    calls = []

    def fn():
        calls.append(1)
        mc.default_generator()(len(calls))
    mc.manual_seed(2)
    message = failure(assert_reproducible, fn, runs=3)
    assert message == ("Not reproducible: after run 2 the generators are at (seed, offset) [(2, 2)], "
                       "after run 1 at [(2, 1)].")
    assert state() == (2, 0)


def test_reproducible_catches_a_cell_left_in_a_different_state():
    model = nn.Dense(2, 2, generator=mc.Generator())
    initial = model.bias.asnumpy()
    calls = []

    def fn(cell):  # returns nothing, but its update depends on a call counter
        calls.append(1)
        cell.bias.set_data(cell.bias.asnumpy() + np.float32(len(calls)))
    message = failure(assert_reproducible, fn, model)
    assert message.startswith("Not reproducible: after run 2 of 2 the Cells' Parameters differ from those after run 1. "
                              "['args[0].bias']: 2 of 2 elements differ")
    assert np.array_equal(model.bias.asnumpy(), initial)  # restored


def test_reproducible_restores_the_state_when_fn_raises():
    mc.manual_seed(4)

    def boom():
        mc.rand(3)
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        assert_reproducible(boom)
    assert state() == (4, 0)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((3,), {}, TypeError, r"For 'assert_reproducible', 'fn' must be callable, but got 3\."),
    ((len, "ab"), {"runs": 1}, ValueError,
     r"For 'assert_reproducible', 'runs' must be an int in \[2, inf\), but got 1\."),
    ((len, "ab"), {"runs": 2.0}, TypeError, r"'runs' must be an int, but got 2\.0\."),
    ((len, "ab"), {"generators": [3]}, TypeError, r"'generators' must hold Generators, but got int\."),
])
def test_reproducible_argument_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        assert_reproducible(*args, **kwargs)


# ----- assert_slice_invariant -----------------------------------------------------------------
@given(state_=generator_states(), n=st.integers(0, 40), data=st.data())
def test_stateless_draws_are_slice_invariant(state_, n, data):
    seed, offset = state_
    split = data.draw(splits(n))
    assert_slice_invariant(lambda start, count: R.uniform(seed, offset, count, start=start), n, split)
    assert_slice_invariant(lambda start, count: (R.normal(seed, offset, (count, 2), start=2 * start),
                                                 R.keep_mask(seed, offset, count, 0.3, start=start)), n, split)


@given(n=st.integers(0, 30), world=world_sizes(), unit=st.integers(1, 4))
def test_dropout_shards_of_a_world_are_slice_invariant(n, world, unit):
    gen = mc.Generator().manual_seed(n)
    x = mc.Tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3) + 1)

    def shard(start, count):  # each rank applies its rows' part of the whole mask
        return ops.dropout(x[start:start + count], 0.5, generator=gen, start=3 * start)
    pieces = shard_split(n, world, unit)
    assert len(pieces) == world
    assert_slice_invariant(shard, n, pieces, generators=[gen])
    assert state(gen) == (n, 0)


def test_slice_invariance_catches_a_draw_that_ignores_its_start():
    message = failure(assert_slice_invariant, lambda start, count: R.uniform(1, 2, count), 5, [3, 2])
    assert message.startswith("Not slice invariant: draw(3, 2) (piece 1 of 2) differs from rows [3, 5) of draw(0, 5). "
                              "the top level: 2 of 2 elements differ")


def test_slice_invariance_catches_wrong_row_counts():
    message = failure(assert_slice_invariant, lambda start, count: R.uniform(1, 2, count + (start > 0), start=start),
                      4, [1, 3])
    assert message.endswith("rows [1, 4) of draw(0, 4). the top level: shape differs: (3,) vs (4,)")


@pytest.mark.parametrize("n, split, error, match", [
    (5, [range(0, 2), range(3, 5)], ValueError,
     r"'splits' must be pieces that cover range\(5\) in order without gaps, but got the piece range\(3, 5\), "
     r"which does not start at 2\."),
    (5, [2, 2], ValueError, r"'splits' must be pieces that cover range\(5\), but got pieces that end at 4\."),
    (5, [range(0, 5, 2)], ValueError, r"'splits' must be a sequence of ranges with step 1 or of non-negative ints"),
    (5, [-1, 6], ValueError, r"'splits' must be .* but got -1\."),
    (5, 5, TypeError, r"'splits' must be a sequence of ranges or of piece sizes, but got 5\."),
    (-1, [], ValueError, r"'n' must be an int in \[0, inf\), but got -1\."),
])
def test_slice_invariance_checks_the_split(n, split, error, match):
    with pytest.raises(error, match="For 'assert_slice_invariant', " + match):
        assert_slice_invariant(lambda start, count: np.zeros(count), n, split)


def test_scalar_outputs_have_no_rows():
    with pytest.raises(ValueError, match=r"'output' must be arrays with 3 rows along axis 0 on the whole range, "
                                         r"but got an array of shape \(\)\."):
        assert_slice_invariant(lambda start, count: np.float32(count), 3, [1, 2])


# ----- assert_batch_invariant -----------------------------------------------------------------
ROW = contextvars.ContextVar("row", default=0)


@contextmanager
def row_offset(first_row):
    token = ROW.set(first_row)
    try:
        yield
    finally:
        ROW.reset(token)


class RowDropout(nn.Cell):
    """A Dropout that draws each row's mask at the row's index in the whole batch (DESIGN section 6)."""

    def __init__(self, p, generator, honour_offset=True):
        super().__init__()
        self.p, self.generator, self.honour_offset = p, generator, honour_offset

    def construct(self, x):
        row = ROW.get() if self.honour_offset else 0
        return ops.dropout(x, self.p, self.training, self.generator, start=row * (x.size // x.shape[0]))


class Affine(nn.Cell):
    """Elementwise (no matrix product): batch invariant to the bit."""

    def __init__(self, width, dropout):
        super().__init__()
        self.scale = mc.Parameter(R.normal(1, 0, width))
        self.shift = mc.Parameter(R.normal(2, 0, width))
        self.drop = dropout

    def construct(self, x):
        return self.drop((x * self.scale + self.shift).tanh())


@given(n=st.integers(1, 12), data=st.data())
def test_elementwise_cells_are_batch_invariant_in_eval_and_train(n, data):
    gen = mc.Generator().manual_seed(n)
    cell = Affine(3, RowDropout(0.4, gen))
    x = mc.Tensor(R.normal(3, 0, (n, 3)))
    split = data.draw(splits(n))
    assert_batch_invariant(cell, x, split)
    assert_batch_invariant(cell, x.asnumpy(), split, training=True, row_offset=row_offset)
    assert not cell.training and state(gen) == (n, 0)


def test_batch_invariance_catches_a_dropout_that_ignores_its_row_offset():
    cell = Affine(3, RowDropout(0.5, mc.Generator().manual_seed(1), honour_offset=False))
    x = mc.Tensor(R.normal(3, 0, (6, 3)))
    assert_batch_invariant(cell, x, [2, 4])  # eval mode: no randomness, nothing to catch
    message = failure(assert_batch_invariant, cell, x, [2, 4], training=True, row_offset=row_offset)
    assert message.startswith("Not batch invariant (training=True): rows [2, 6) (piece 1 of 2) evaluated alone differ "
                              "from those rows of the whole batch")
    assert "elements differ" in message


def test_batch_invariance_restores_modes_and_takes_several_inputs():
    class Pair(nn.Cell):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)

        def construct(self, x, y):
            return {"sum": self.drop(x + y), "y": y}
    cell = Pair()
    cell.drop.set_train()  # a mixed state: restored as it was
    assert_batch_invariant(cell, (np.ones((4, 2), np.float32), np.zeros((4, 2), np.float32)), [1, 3])
    assert cell.drop.training and not cell.training


class StartZeroDropout(nn.Cell):
    """Reserves like Dropout but always draws from element 0: ignores where its rows sit."""

    def __init__(self, p, generator):
        super().__init__()
        self.p, self.generator = p, generator

    def construct(self, x):
        seed, offset = self.generator(1)
        return dropout_with_state(x, self.p, seed, offset, 0) if self.training else x


@given(n=st.integers(1, 10), data=st.data())
def test_nn_dropout_is_batch_invariant_in_training_with_minicell_row_offsets(n, data):
    gen = mc.Generator().manual_seed(n)
    cell = nn.SequentialCell(nn.Dropout(0.5, generator=gen), nn.Tanh(), nn.Dropout(0.3, generator=gen))
    x = R.normal(4, 0, (n, 5))
    assert_batch_invariant(cell, x, data.draw(splits(n)), training=True)
    assert state(gen) == (n, 0) and not cell.training


def test_minicell_row_offsets_catch_a_dropout_that_ignores_them():
    cell = nn.SequentialCell(StartZeroDropout(0.5, mc.Generator().manual_seed(3)))
    message = failure(assert_batch_invariant, cell, R.normal(4, 0, (6, 5)), [3, 3], training=True)
    assert message.startswith("Not batch invariant (training=True): rows [3, 6) (piece 1 of 2)")


@pytest.mark.parametrize("cell, x, kwargs, error, match", [
    (None, np.ones((2, 1)), {}, TypeError, r"'cell' must be a Cell, but got None\."),
    (nn.ReLU(), np.ones(()), {}, TypeError, r"'x' must be a Tensor or ndarray with a batch axis, or a tuple of them"),
    (nn.ReLU(), (np.ones((2, 1)), np.ones((3, 1))), {}, ValueError,
     r"'x' must be inputs with the same number of rows, but got row counts \[2, 3\]\."),
    (nn.ReLU(), np.ones((2, 1)), {"training": 1}, TypeError, r"'training' must be a bool, but got 1\."),
    (nn.ReLU(), np.ones((2, 1)), {"row_offset": 3}, TypeError, r"'row_offset' must be callable, but got 3\."),
])
def test_batch_invariance_argument_errors(cell, x, kwargs, error, match):
    with pytest.raises(error, match="For 'assert_batch_invariant', " + match):
        assert_batch_invariant(cell, x, [1, 1], **kwargs)


def test_shard_split_is_the_sharding_rule():
    assert shard_split(10, 4) == (range(0, 2), range(2, 5), range(5, 7), range(7, 10))
    assert shard_split(10, 4, unit=4) == (range(0, 0), range(0, 4), range(4, 8), range(8, 10))
    assert shard_split(2, 3) == (range(0, 0), range(0, 1), range(1, 2))
