"""Cell.recompute(): no activations kept, bit-identical gradients, dropout masks replayed."""
import numpy as np
import pytest

import minicell as mc
from minicell import nn


def block(gen, width=6):
    return nn.SequentialCell([nn.Dense(width, width, generator=nn.Generator().manual_seed(width)), nn.ReLU(),
                              nn.Dropout(0.3, generator=gen)])


class Model(nn.Cell):
    def __init__(self, recompute, nested=False):
        super().__init__()
        self.gen = nn.Generator().manual_seed(5)
        blocks = [block(self.gen) for _ in range(3)]
        if nested:  # an outer recomputed cell holding recomputed blocks
            inner = nn.SequentialCell(blocks[:2])
            blocks = [inner, blocks[2]]
            if recompute:
                inner.recompute()
        if recompute:
            for b in blocks:
                b.recompute()
        self.body = nn.SequentialCell(blocks)
        self.head = nn.Dense(6, 2, generator=nn.Generator().manual_seed(9))

    def construct(self, x):
        return self.head(self.body(x))


X = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)


def grads_of(model, x=X):
    model.set_train()
    fn = mc.value_and_grad(lambda t: (model(t) ** 2).mean(), 0, model.trainable_params())
    loss, (dx, dws) = fn(mc.Tensor(x))
    return loss.asnumpy(), dx.asnumpy(), [g.asnumpy() for g in dws]


def assert_same(a, b):
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert len(a[2]) == len(b[2]) and all(np.array_equal(x, y) for x, y in zip(a[2], b[2]))


@pytest.mark.parametrize("nested", [False, True])
def test_gradients_and_generator_offsets_are_bit_identical_with_dropout(nested):
    plain, recomputed = Model(False, nested), Model(True, nested)
    assert_same(grads_of(plain), grads_of(recomputed))
    assert int(plain.gen.get_state()[1]) == int(recomputed.gen.get_state()[1]) == 3
    assert_same(grads_of(plain), grads_of(recomputed))  # and again, from the advanced state
    assert int(recomputed.gen.get_state()[1]) == 6


def test_the_graph_holds_no_activation_of_a_recomputed_cell():
    b = block(nn.Generator()).recompute().set_train()
    x = mc.Tensor(X, requires_grad=True)
    out = b(x)
    assert out._parents[0] is x and all(isinstance(p, mc.Parameter) for p in out._parents[1:])
    assert len(out._parents) == 1 + len(b.trainable_params())
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in b.trainable_params())


def test_inside_train_one_step_cell_training_is_bit_identical():
    def train(recompute):
        model = Model(recompute)
        opt = nn.Adam(model.trainable_params(), 0.01)
        step = nn.TrainOneStepCell(nn.WithLossCell(model, nn.MSELoss()), opt).set_train()
        for i in range(3):
            step(mc.Tensor(X + i), mc.Tensor(np.zeros((4, 2), np.float32)))
        return {n: p.asnumpy() for n, p in step.parameters_and_names()}
    plain, recomputed = train(False), train(True)
    assert plain.keys() == recomputed.keys()
    assert all(np.array_equal(plain[k], recomputed[k]) for k in plain)


def test_default_generator_dropout_is_replayed_too():
    def run(recompute):
        with mc.fork_rng():
            mc.manual_seed(3)
            cell = nn.SequentialCell([nn.Dense(6, 6, generator=nn.Generator()), nn.Dropout(0.5)]).set_train()
            if recompute:
                cell.recompute()
            fn = mc.grad(lambda t: (cell(t) ** 2).sum(), 0, cell.trainable_params())
            dx, dws = fn(mc.Tensor(X))
            return dx.asnumpy(), [g.asnumpy() for g in dws], int(mc.get_rng_state()[1])
    a, b = run(False), run(True)
    assert np.array_equal(a[0], b[0]) and all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
    assert a[2] == b[2] == 1


class Counting(nn.Cell):
    """Updates an untrainable Parameter in construct, as BatchNorm's moving statistics."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(6, 6, generator=nn.Generator())
        self.calls = mc.Parameter(np.zeros((), np.float32), requires_grad=False)

    def construct(self, x):
        self.calls._data += 1
        return self.dense(x)


def test_untrainable_state_is_updated_once_by_the_forward_only():
    cell = Counting().recompute()
    out = cell(mc.Tensor(X, requires_grad=True))
    out.sum().backward()
    assert float(cell.calls) == 1.0


def test_tuple_outputs_and_attention_with_dropout():
    def run(recompute):
        mha = nn.MultiheadAttention(6, 2, dropout=0.4, generator=nn.Generator().manual_seed(2)).set_train()
        if recompute:
            mha.recompute()
        x = np.random.default_rng(1).standard_normal((3, 2, 6)).astype(np.float32)
        fn = mc.grad(lambda t: (mha(t, t, t)[0] ** 2).sum(), 0, mha.trainable_params())
        dx, dws = fn(mc.Tensor(x))
        return [dx.asnumpy()] + [g.asnumpy() for g in dws], int(mha.generator.get_state()[1])
    (a, oa), (b, ob) = run(False), run(True)
    assert oa == ob and all(np.array_equal(x, y) for x, y in zip(a, b))


class Captures(nn.Cell):
    def __init__(self, outside):
        super().__init__()
        self.outside = outside

    def construct(self, x):
        return x * self.outside


class Greedy(nn.Cell):
    """Reserves one more offset each time it runs: not deterministic in its random calls."""

    def __init__(self):
        super().__init__()
        self.gen = nn.Generator()
        self.runs = 0

    def construct(self, x):
        self.runs += 1
        for _ in range(self.runs):
            self.gen(1)
        return x * 2.0


def test_errors_name_the_problem():
    captured = Captures(mc.Tensor(np.ones(6, np.float32), requires_grad=True)).recompute()
    out = captured(mc.Tensor(X, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"For 'Cell.recompute', 'construct' must be a function whose Tensors that "
                                           r"require grad are its arguments or Parameters of the cell"):
        out.sum().backward()
    out = Greedy().recompute()(mc.Tensor(X, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"reserved more random offsets than the forward pass did"):
        out.sum().backward()
    with pytest.raises(TypeError, match=r"^For 'Dense.recompute', 'fast' must be one of MindSpore's keywords "
                       r"\['mp_comm_recompute', 'parallel_optimizer_comm_recompute', 'recompute_slice_activation'\], "
                       r"but got an unexpected keyword argument\.$"):
        nn.Dense(2, 2).recompute(fast=True)
    with pytest.raises(TypeError, match=r"For 'Dense.recompute', 'mp_comm_recompute' must be a bool, but got 1"):
        nn.Dense(2, 2).recompute(mp_comm_recompute=1)


def test_outside_the_graph_recompute_is_just_the_forward():
    cell = block(nn.Generator().manual_seed(1)).recompute().set_train()
    plain = block(nn.Generator().manual_seed(1)).set_train()
    with mc.no_grad():
        assert np.array_equal(cell(mc.Tensor(X)).asnumpy(), plain(mc.Tensor(X)).asnumpy())
