"""assert_resume_exact: passes on a state that holds everything, catches every forgotten generator."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn
from minicell import random as R
from minicell.testing import assert_resume_exact, fingerprint


class TrainState(nn.Cell):
    """Model, Adam, and the Dropout generator as Parameters; ``dropout`` chooses its generator."""

    def __init__(self, seed=0, dropout="own"):
        super().__init__()
        dropout_gen = mc.Generator().manual_seed(seed + 1)
        drop = nn.Dropout(0.3, generator=None if dropout == "default" else dropout_gen)
        if dropout == "forgotten":  # used but not registered, so not in the checkpoint
            del drop.generator
            object.__setattr__(drop, "generator", dropout_gen)
        self.model = nn.SequentialCell(nn.Dense(3, 8, generator=mc.Generator().manual_seed(seed)), nn.ReLU(), drop,
                                       nn.Dense(8, 2, generator=mc.Generator().manual_seed(seed)))
        optimizer = nn.Adam(self.model.trainable_params(), learning_rate=1e-2)
        self.train = nn.TrainOneStepCell(nn.WithLossCell(self.model, nn.MSELoss()), optimizer)
        self.set_train()


def step(state, i):
    x = mc.Tensor(R.normal(100, i, (4, 3)))  # the batch of global step i
    state.train(x, mc.Tensor(R.uniform(200, i, (4, 2))))


@settings(max_examples=6)
@given(total=st.integers(0, 4), data=st.data())
def test_a_state_that_holds_everything_resumes_exactly(total, data):
    stop_at = data.draw(st.integers(0, total))
    before = mc.get_rng_state()
    result = assert_resume_exact(TrainState, step, total, stop_at)
    state = TrainState()
    for i in range(total):
        step(state, i)
    assert result == fingerprint(state)
    assert [int(v) for v in mc.get_rng_state()] == [int(v) for v in before]


def test_negative_control_a_state_that_forgets_its_dropout_generator():
    with pytest.raises(AssertionError) as info:
        assert_resume_exact(lambda: TrainState(dropout="forgotten"), step, 3, 1)
    message = str(info.value)
    assert message.startswith("Resume not exact: 3 steps in one go differ from 1 steps, a checkpoint and 2 steps "
                              "on a fresh state loaded from it: fingerprint ")
    assert "'model.0.weight': " in message and "elements differ" in message


def test_a_dropout_on_the_default_generator_holds_it_and_resumes_exactly():
    mc.manual_seed(8)
    assert "model.2.generator.offset" in TrainState(dropout="default").parameters_dict()
    assert_resume_exact(lambda: TrainState(dropout="default"), step, 3, 1)
    assert [int(v) for v in mc.get_rng_state()] == [8, 0]


def test_negative_control_a_step_that_draws_from_the_default_generator_it_does_not_hold():
    def noisy_step(state, i):
        x = mc.Tensor(R.normal(100, i, (4, 3))) + mc.randn(4, 3) * 0.1  # the default generator
        state.train(x, mc.Tensor(R.uniform(200, i, (4, 2))))
    mc.manual_seed(8)
    with pytest.raises(AssertionError, match=r"^Resume not exact: 2 steps in one go differ from 1 steps"):
        assert_resume_exact(TrainState, noisy_step, 2, 1)
    assert [int(v) for v in mc.get_rng_state()] == [8, 0]


def test_negative_control_a_step_that_draws_from_numpy_global_state():
    def noisy_step(state, i):
        step(state, i)
        weight = state.model[0].weight
        weight.set_data(weight.asnumpy() + np.float32(np.random.rand()))
    np.random.seed(3)
    expected = np.random.rand()
    np.random.seed(3)
    with pytest.raises(AssertionError, match="Resume not exact"):
        assert_resume_exact(TrainState, noisy_step, 2, 1)
    assert np.random.rand() == expected  # NumPy's global state restored


def test_make_state_that_is_not_deterministic_is_reported():
    seeds = iter(range(10))
    with pytest.raises(AssertionError, match=r"^make_state\(\) is not deterministic: two fresh states differ: "
                                             r"fingerprint [0-9a-f]{64} vs [0-9a-f]{64}\. 5 parameters "
                                             r"differ:\n'model.0.bias': 8 of 8 elements"):
        assert_resume_exact(lambda: TrainState(next(seeds)), step, 2, 1)


@pytest.mark.parametrize("args, error, match", [
    ((None, step, 2, 1), TypeError, r"'make_state' must be callable, but got None\."),
    ((TrainState, "step", 2, 1), TypeError, r"'step' must be callable, but got 'step'\."),
    ((TrainState, step, -1, 0), ValueError, r"'total' must be an int in \[0, inf\), but got -1\."),
    ((TrainState, step, 2, 3), ValueError, r"'stop_at' must be an int in \[0, total\] = \[0, 2\], but got 3\."),
    ((lambda: 5, step, 2, 1), TypeError, r"'make_state' must be a function returning a Cell, but got one returning "
                                         r"int\."),
])
def test_argument_errors(args, error, match):
    with pytest.raises(error, match="For 'assert_resume_exact', " + match):
        assert_resume_exact(*args)


def test_make_state_must_build_a_new_state():
    shared = TrainState()
    with pytest.raises(ValueError, match=r"'make_state' must be a function building a new state on every call, but "
                                         r"got one that returned the "
                                         r"same TrainState twice\."):
        assert_resume_exact(lambda: shared, step, 2, 1)
