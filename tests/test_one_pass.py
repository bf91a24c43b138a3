"""One pass per micro-batched step (DESIGN.md section 8): bit-equal to micro-batches computed alone.

Every layer minicell ships (Dense, Conv1d/2d, pools, BatchNorm1d/2d, LayerNorm, Embedding,
MultiheadAttention with dropout, Dropout/1d/2d/3d, recompute()) in networks whose one pass is
compared, micro-batch by micro-batch, with the loop of lone micro-batches; uneven last
micro-batches; batch, micro-batch, world sizes and thread counts drawn by hypothesis; ghost
BatchNorm's statistics against NumPy; ops that cannot be cut per micro-batch refused or caught.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from minicell._runtime.sharding import shard_bounds
from minicell.testing import assert_one_pass_exact
from minicell.testing.one_pass import micro_batch_gradients, one_pass_gradients


def gens(seed=0):
    return mc.Generator().manual_seed(seed), mc.Generator().manual_seed(seed + 100)


def mlp(seed=0):
    g, d = gens(seed)
    net = nn.SequentialCell(nn.Dense(5, 16, generator=g), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2, generator=d),
                            nn.Dense(16, 16, generator=g), nn.LayerNorm((16,)), nn.Tanh(), nn.Dense(16, 3, generator=g))
    return nn.WithLossCell(net, nn.CrossEntropyLoss()).set_train()


def cnn(seed=0):
    g, d = gens(seed)
    net = nn.SequentialCell(nn.Conv2d(1, 4, 3, has_bias=True, generator=g), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2, 2), nn.Dropout2d(0.25, generator=d), nn.Conv2d(4, 4, 3, pad_mode="valid",
                                                                                       generator=g),
                            nn.AvgPool2d(2, 2), nn.Flatten(), nn.Dense(4, 3, generator=g))
    return nn.WithLossCell(net, nn.CrossEntropyLoss()).set_train()


class Conv1dNet(mc.Cell):
    def __init__(self, seed=0):
        super().__init__()
        g, d = gens(seed)
        self.conv = nn.Conv1d(3, 6, 3, pad_mode="valid", has_bias=True, generator=g)
        self.bn = nn.BatchNorm1d(6)
        self.drop1 = nn.Dropout1d(0.3, generator=d)
        self.drop3 = nn.Dropout3d(0.3, generator=d)
        self.head = nn.Dense(6 * 8, 2, generator=g)

    def construct(self, x):
        h = self.drop1(self.bn(self.conv(x)).relu())
        h = self.drop3(h.reshape(h.shape[0], 6, 2, 2, 2)).reshape(h.shape[0], -1)
        return self.head(h)


class AttentionNet(mc.Cell):
    def __init__(self, seed=0):
        super().__init__()
        g, d = gens(seed)
        self.embed = nn.Embedding(11, 8, generator=g)
        self.attn = nn.MultiheadAttention(8, 2, dropout=0.2, batch_first=True, generator=g)
        self.norm = nn.LayerNorm((8,))
        self.head = nn.Dense(8, 3, generator=g)

    def construct(self, ids):
        x = self.embed(ids)
        y, _ = self.attn(x, x, x)
        return self.head(self.norm(x + y).mean(axis=1))


class RecomputedNet(mc.Cell):
    def __init__(self, seed=0):
        super().__init__()
        g, d = gens(seed)
        self.block = nn.SequentialCell(nn.Dense(4, 12, generator=g), nn.BatchNorm1d(12), nn.ReLU(),
                                       nn.Dropout(0.3, generator=d))
        self.block.recompute()
        self.head = nn.Dense(12, 2, generator=g)

    def construct(self, x):
        return self.head(self.block(x))


def data(rows, shape, classes, seed=0, ints=None):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, ints, (rows, *shape)) if ints else rng.standard_normal((rows, *shape)).astype(np.float32)
    return mc.Tensor(x), mc.Tensor(rng.integers(0, classes, rows))


NETWORKS = {
    "mlp": (mlp, (5,), 3, None),
    "cnn": (cnn, (1, 10, 10), 3, None),
    "conv1d": (lambda: nn.WithLossCell(Conv1dNet(), nn.CrossEntropyLoss()).set_train(), (3, 10), 2, None),
    "attention": (lambda: nn.WithLossCell(AttentionNet(), nn.CrossEntropyLoss()).set_train(), (5,), 3, 11),
    "recompute": (lambda: nn.WithLossCell(RecomputedNet(), nn.CrossEntropyLoss()).set_train(), (4,), 2, None),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("rows, size", [(24, 6), (22, 6), (14, 4)])
def test_one_pass_equals_lone_micro_batches_for_every_layer(name, rows, size):
    make, shape, classes, ints = NETWORKS[name]
    assert_one_pass_exact(make(), data(rows, shape, classes, ints=ints), size, first_row=size * 3)


@settings(max_examples=12, deadline=None)
@given(rows=st.integers(4, 40), size=st.integers(2, 12), world=st.integers(1, 4), threads=st.integers(1, 4))
def test_every_segment_is_its_micro_batch_at_any_world_size_and_thread_count(rows, size, world, threads):
    """Rank r's one pass over its shard gives the micro-batches of the whole batch's loop."""
    assume(rows % size != 1)  # BatchNorm1d cannot train on a micro-batch of one row
    previous = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        inputs = data(rows, (5,), 3, seed=rows)
        whole = micro_batch_gradients(mlp(), inputs, size)
        shards = []
        for rank in range(world):
            lo, hi = shard_bounds(rows, world, rank, size)
            if hi > lo:
                shards += one_pass_gradients(mlp(), tuple(mc.Tensor(t.asnumpy()[lo:hi]) for t in inputs), size, lo)
    finally:
        mc.set_num_threads(previous)
    assert len(shards) == len(whole)
    for want, got in zip(whole, shards):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(want, got))


def test_ghost_batch_norm_statistics_against_numpy():
    """Each micro-batch is normalized by its own statistics; the moving ones move once, from the mean
    over micro-batches of their means and unbiased variances (MindSpore's momentum 0.9)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((10, 3, 2)) * 2 + 1).astype(np.float32)
    bn = nn.BatchNorm1d(3)
    net = nn.SequentialCell(bn, nn.Flatten(), nn.Dense(6, 2, generator=mc.Generator().manual_seed(0)))
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.0),
                               micro_batch_size=4)
    step.set_train()
    outputs = []
    hook = bn.construct
    bn.construct = lambda t: outputs.append(hook(t)) or outputs[-1]
    step(mc.Tensor(x), mc.Tensor(rng.integers(0, 2, 10)))
    pieces = [x[0:4], x[4:8], x[8:10]]
    for (lo, hi), piece in zip([(0, 4), (4, 8), (8, 10)], pieces):
        mean = piece.astype(np.float64).mean(axis=(0, 2))
        var = piece.astype(np.float64).var(axis=(0, 2))
        expected = (piece - mean[None, :, None]) / np.sqrt(var[None, :, None] + 1e-5)
        np.testing.assert_allclose(outputs[0].asnumpy()[lo:hi], expected, rtol=1e-4, atol=1e-5)
    means = np.mean([p.astype(np.float64).mean(axis=(0, 2)) for p in pieces], axis=0)
    variances = np.mean([p.astype(np.float64).var(axis=(0, 2), ddof=1) for p in pieces], axis=0)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.1 * means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), 0.9 + 0.1 * variances, rtol=1e-5)


def test_one_micro_batch_is_exactly_plain_batch_norm():
    """micro_batch_size = the batch: the same bits as the plain step, moving statistics included."""
    def run(micro):
        net = nn.SequentialCell(nn.Conv2d(1, 3, 3, generator=mc.Generator().manual_seed(1)), nn.BatchNorm2d(3),
                                nn.ReLU(), nn.Flatten(), nn.Dense(3 * 36, 2, generator=mc.Generator().manual_seed(2)))
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-2),
                                   micro_batch_size=micro)
        step.set_train()
        rng = np.random.default_rng(0)
        for _ in range(3):
            step(mc.Tensor(rng.standard_normal((8, 1, 6, 6)).astype(np.float32)), mc.Tensor(rng.integers(0, 2, 8)))
        return [p.asnumpy().tobytes() for p in net.get_parameters()]
    assert run(8) == run(None)


class CentersWithNumPy(mc.Cell):
    """Subtracts the batch mean computed outside minicell's ops: mixes rows behind autograd's back."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(4, 2, generator=mc.Generator().manual_seed(0))

    def construct(self, x):
        return self.dense(x - mc.Tensor(x.asnumpy().mean(axis=0)))


def test_a_row_mixing_numpy_reduction_is_caught_by_the_check():
    net = nn.WithLossCell(CentersWithNumPy(), nn.CrossEntropyLoss())
    with pytest.raises(AssertionError, match="Not one-pass exact: micro-batch 0"):
        assert_one_pass_exact(net, data(8, (4,), 2), 4)


class SumsOverTheBatch(mc.Cell):
    def __init__(self, op):
        super().__init__()
        self.dense, self.op = nn.Dense(4, 2, generator=mc.Generator().manual_seed(0)), op
        self.drop = nn.Dropout(0.5, generator=mc.Generator().manual_seed(1))

    def construct(self, x):
        return self.op(self.drop(self.dense(x)))


@pytest.mark.parametrize("op, needle", [
    (lambda h: h - h.mean(axis=0), "For 'mean', 'axis' must be all axes"),
    (lambda h: h.transpose(1, 0).transpose(1, 0), "For 'transpose', 'axes' must be one that keeps the batch axis"),
    (lambda h: h[1:], "For 'Tensor.__getitem__', 'index'"),
    (lambda h: h.reshape(-1).reshape(-1, 2), "For 'reshape', 'shape'"),
    (lambda h: ops.matmul(h.transpose(), h).sum(axis=0, keepdims=True) + h, "For 'transpose'"),
])
def test_row_mixing_ops_are_refused_in_a_micro_batched_step(op, needle):
    net = SumsOverTheBatch(op).set_train()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1),
                               micro_batch_size=4)
    before = [p.asnumpy() for p in net.get_parameters()]
    with pytest.raises(ValueError, match=needle):
        step(*data(8, (4,), 2))
    assert all(np.array_equal(a, p.asnumpy()) for a, p in zip(before, net.get_parameters()))


class WeightDecayInTheLoss(mc.Cell):
    """A loss plus a term of the weights only, whose shapes can equal the segment count."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.fc = nn.Dense(6, outputs, generator=mc.Generator().manual_seed(0))

    def construct(self, x, y):
        h = self.fc(x)
        return ops.mean((h - y) * (h - y)) + 0.01 * ops.sum(self.fc.weight * self.fc.weight)


@pytest.mark.parametrize("rows, size, outputs", [(6, 2, 3), (8, 2, 4), (6, 1, 6), (8, 2, 8), (6, 2, 4)])
def test_values_of_the_parameters_alone_are_never_taken_for_segments_or_rows(rows, size, outputs):
    """fc.weight * fc.weight has shape (outputs, 6): with outputs = the number of segments (or of
    rows) its shape alone would make it look per-segment (or batched); it is marked as a value of the
    parameters, so the one pass still equals the loop of lone micro-batches."""
    rng = np.random.default_rng(rows * 10 + outputs)
    x = mc.Tensor(rng.standard_normal((rows, 6)).astype(np.float32))
    y = mc.Tensor(rng.standard_normal((rows, outputs)).astype(np.float32))
    assert_one_pass_exact(WeightDecayInTheLoss(outputs).set_train(), (x, y), size)


@pytest.mark.parametrize("draw", [
    lambda h, g: h + ops.randn(*h.shape, generator=g),
    lambda h, g: h * ops.bernoulli(0.5, h.shape, generator=g),
    lambda h, g: h + ops.uniform((h.shape[0], 1), generator=g),
    lambda h, g: h[ops.randperm(h.shape[0], generator=g)],
])
def test_random_ops_drawing_one_value_per_row_are_refused_and_reserve_nothing(draw):
    """Plain random ops index their values from 0 on every rank: per-row draws would depend on the
    world size. They are refused before reserving; a draw of another shape is fine."""
    gen = mc.Generator().manual_seed(5)
    net = SumsOverTheBatch(lambda h: draw(h, gen)).set_train()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1),
                               micro_batch_size=4)
    before = [p.asnumpy() for p in net.get_parameters()]
    for rows in (8, 4):  # two micro-batches, and one
        with pytest.raises(ValueError, match=r"'size' must be a shape whose axis 0 is not the batch's .*, but got "
                                             rf"shape \[{rows}(, \d+)?\] for a batch of {rows} rows"):
            step(*data(rows, (4,), 2))
    assert int(gen.get_state()[1]) == 0
    assert all(np.array_equal(a, p.asnumpy()) for a, p in zip(before, net.get_parameters()))
    weight_noise = SumsOverTheBatch(lambda h: h + ops.randn(1, 2, generator=gen)).set_train()
    nn.TrainOneStepCell(nn.WithLossCell(weight_noise, nn.CrossEntropyLoss()),
                        nn.SGD(weight_noise.trainable_params(), 0.1), micro_batch_size=4)(*data(8, (4,), 2))
    assert int(gen.get_state()[1]) == 1


def test_other_state_changing_forwards_are_still_refused():
    class Counts(mc.Cell):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(4, 2, generator=mc.Generator().manual_seed(0))
            self.calls = mc.Parameter(np.zeros(1, np.float32), requires_grad=False)

        def construct(self, x):
            self.calls.set_data(self.calls.asnumpy() + 1)
            return self.dense(x)
    net = Counts()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1),
                               micro_batch_size=4)
    with pytest.raises(ValueError, match="changes no state other than generator offsets and training BatchNorm"):
        step(*data(8, (4,), 2))
    assert net.calls.asnumpy()[0] == 0


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_segments_spread_over_the_pool_give_the_lone_bits(threads):
    """Products large enough to be spread over the thread pool, one segment per task."""
    previous = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        g, d = gens(4)
        net = nn.SequentialCell(nn.Dense(64, 512, generator=g), nn.ReLU(), nn.Dropout(0.1, generator=d),
                                nn.Dense(512, 512, generator=g), nn.ReLU(), nn.Dense(512, 10, generator=g))
        assert_one_pass_exact(nn.WithLossCell(net, nn.CrossEntropyLoss()).set_train(), data(40, (64,), 10), 12)
    finally:
        mc.set_num_threads(previous)


class WithWeightDecay(mc.Cell):
    """A loss with a term computed from parameters only (the same in every micro-batch)."""

    def __init__(self, loss):
        super().__init__()
        g, _ = gens(7)
        self.dense1, self.dense2, self.loss = nn.Dense(4, 6, generator=g), nn.Dense(6, 3, generator=g), loss

    def construct(self, x, y):
        w = self.dense1.weight
        decay = (w * w).sum() * 0.01 + ops.mean(self.dense2.weight[0:2] ** 2)
        return self.loss(self.dense2(self.dense1(x).tanh()), y) * 0.5 + decay


@pytest.mark.parametrize("loss, labels", [
    (nn.CrossEntropyLoss(), "ints"), (nn.CrossEntropyLoss(label_smoothing=0.1), "probs"),
    (nn.MSELoss(), "floats"), (nn.BCEWithLogitsLoss(), "binary"), (nn.L1Loss(reduction="sum"), "floats")])
def test_losses_and_parameter_only_terms_are_exact_per_micro_batch(loss, labels):
    rng = np.random.default_rng(1)
    x = mc.Tensor(rng.standard_normal((14, 4)).astype(np.float32))
    y = {"ints": lambda: rng.integers(0, 3, 14),
         "probs": lambda: rng.dirichlet(np.ones(3), 14).astype(np.float32),
         "floats": lambda: rng.standard_normal((14, 3)).astype(np.float32),
         "binary": lambda: rng.integers(0, 2, (14, 3)).astype(np.float32)}[labels]()
    assert_one_pass_exact(WithWeightDecay(loss), (x, mc.Tensor(y)), 4)


def test_a_rank_without_rows_takes_part_in_the_ghost_batch_norm_update(monkeypatch):
    """Simulated ranks (threads): W = 3 with a batch of two micro-batches leaves rank 2 without
    rows; every rank ends with the parameters and moving statistics of the plain W = 1 run."""
    import threading

    import minicell._runtime.world as world_module
    from tests.simulated_world import run_ranks

    local = threading.local()
    single = world_module.current()
    monkeypatch.setattr(world_module, "current", lambda: getattr(local, "world", single))
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((rows, 2, 5)).astype(np.float32), rng.integers(0, 2, rows)) for rows in (12, 8)]

    def train(world):
        local.world = world
        g, d = gens(3)
        net = nn.SequentialCell(nn.Conv1d(2, 3, 3, generator=g), nn.BatchNorm1d(3), nn.ReLU(),
                                nn.Dropout(0.2, generator=d), nn.Flatten(), nn.Dense(15, 2, generator=g))
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 0.01),
                                   micro_batch_size=4)
        step.set_train()
        for x, y in batches:
            lo, hi = shard_bounds(len(x), world.size, world.rank, 4)
            step(mc.Tensor(x[lo:hi]), mc.Tensor(y[lo:hi]))
        return [p.asnumpy().tobytes() for p in net.get_parameters()]

    expected = train(single)
    for result in run_ranks(3, train):
        assert result == expected
