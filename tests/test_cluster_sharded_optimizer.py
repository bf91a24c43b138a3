"""The sharded optimizer (ZeRO-1): bit-equal to the replicated one at W = 1..4 with Adam, AdamW,
SGD with momentum and global-norm clipping (ranks simulated by threads); state ~1/W per rank;
consolidated state equal to the replicated state; TrainOneStepCell's new arguments validated."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from minicell._exact import norms
from minicell.nn.parallel_optimizer import ShardedOptimizer, clip_scale, clipped
from tests.simulated_world import run_ranks


def model():
    gen = mc.Generator().manual_seed(3)
    return nn.SequentialCell(nn.Dense(5, 7, generator=gen), nn.ReLU(), nn.Dense(7, 3, generator=gen))


def gradients(step):
    rng = np.random.default_rng(step)
    shapes = [(7, 5), (7,), (3, 7), (3,)]
    return tuple((rng.standard_normal(s) * 10.0 ** rng.integers(-3, 3)).astype(np.float32) for s in shapes)


OPTIMIZERS = {
    "adam": lambda params: nn.Adam(params, learning_rate=1e-2, weight_decay=1e-3),
    "adamw": lambda params: nn.AdamW(params, learning_rate=1e-2),
    "sgd": lambda params: nn.SGD(params, learning_rate=1e-2, momentum=0.9, nesterov=True),
}


def replicated(kind, clip, steps=4):
    net = model()
    opt = OPTIMIZERS[kind](net.trainable_params())
    for step in range(steps):
        grads = [mc.Tensor(g) for g in gradients(step)]
        if clip is not None:
            grads = ops.clip_by_global_norm(grads, clip)
        opt(tuple(grads))
    return net, opt


def state_of(cell):
    return {name: p.asnumpy().tobytes() for name, p in cell.parameters_and_names()}


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
@pytest.mark.parametrize("clip", [None, 0.5])
def test_sharded_updates_are_bit_equal_to_replicated_at_every_world_size(kind, clip):
    want_net, want_opt = replicated(kind, clip)
    for size in (1, 2, 3, 4):
        def body(world):
            net = model()
            opt = OPTIMIZERS[kind](net.trainable_params())
            sharded = ShardedOptimizer(opt)
            for step in range(4):
                sharded.step(gradients(step), world, clip)
            held = sharded.state_bytes()
            sharded.consolidate(world)
            return state_of(net), state_of(opt), held
        results = run_ranks(size, body)
        for params, state, _ in results:
            assert params == state_of(want_net) and state == state_of(want_opt), (size, kind)
        full = sum(len(v) for k, v in state_of(want_opt).items() if k.startswith("moment"))
        if kind != "sgd" and size > 1:
            assert max(held for _, _, held in results) <= full / size + 64


def test_clip_norm_is_exact_and_the_same_from_slices():
    grads = gradients(0)
    whole = norms.round_square_limbs(*norms.square_limbs(grads))
    pieces = [g.reshape(-1)[: g.size // 2] for g in grads], [g.reshape(-1)[g.size // 2:] for g in grads]
    merged = run_ranks(2, lambda w: norms.global_square_sum(pieces[w.rank], w))
    assert merged == [whole, whole]
    scale = clip_scale(np.sqrt(whole), 0.5)
    want = ops.clip_by_global_norm([mc.Tensor(g) for g in grads], 0.5)
    assert all(clipped(g, scale).tobytes() == w.asnumpy().tobytes() for g, w in zip(grads, want))


def test_a_plain_train_step_with_and_without_sharding_gives_the_same_bits():
    x = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    y = np.arange(8) % 3
    results = []
    for sharded in (False, True):
        net = model()
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params()),
                                   micro_batch_size=4, parallel_optimizer=sharded, clip_norm=0.1)
        for _ in range(3):
            step(mc.Tensor(x), mc.Tensor(y))
        nn.parallel_optimizer.consolidate(step)
        results.append(state_of(step))
    assert results[0] == results[1]


@pytest.mark.parametrize("kwargs,error,match", [
    ({"parallel_optimizer": 1}, TypeError, "For 'TrainOneStepCell', 'parallel_optimizer' must be a bool, but got 1."),
    ({"clip_norm": 0.0}, ValueError, "For 'TrainOneStepCell', 'clip_norm' must be None or a float > 0, but got 0.0."),
    ({"clip_norm": "1"}, TypeError, "For 'TrainOneStepCell', 'clip_norm' must be a real number, but got '1'."),
])
def test_bad_arguments(kwargs, error, match):
    net = model()
    with pytest.raises(error, match=match.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params()), **kwargs)


def contributions_of(step, count=5):
    """``count`` micro-batch contributions (gradients and a loss) and their weights."""
    rng = np.random.default_rng(100 + step)
    grads = [list(gradients(step * 10 + k)) + [np.float32(rng.random())] for k in range(count)]
    return grads, [1.0 / count] * count


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_reduce_scattered_updates_are_bit_equal_to_the_replicated_step(kind):
    """``reduce_and_update`` on W ranks (a reduce-scatter, slice updates, a gather of parameters)
    against the replicated reduction and update in one process, with clipping."""
    from minicell._runtime import world as _world
    from minicell.nn.distributed import reduce_weighted
    from minicell.nn.parallel_optimizer import reduce_and_update

    shapes = [g.shape for g in gradients(0)] + [()]
    dtypes = [np.float32] * len(shapes)

    class Step:  # what reduce_and_update reads of a training cell
        def __init__(self, sharded):
            self.net = model()
            self.optimizer = OPTIMIZERS[kind](self.net.trainable_params())
            self._sharded = ShardedOptimizer(self.optimizer) if sharded else None
            self.clip_norm = 0.05

    want = Step(False)
    losses = []
    for step in range(3):
        grads, weights = contributions_of(step)
        losses.append(reduce_and_update(want, grads, weights, shapes, dtypes, _world.SingleProcess()))
    for size in (2, 3, 4):
        def body(world, size=size):
            cell = Step(True)
            got = []
            for step in range(3):
                grads, weights = contributions_of(step)
                mine = [k for k in range(len(grads)) if k % size == world.rank]
                got.append(reduce_and_update(cell, [grads[k] for k in mine], [weights[k] for k in mine], shapes,
                                             dtypes, world))
            cell._sharded.consolidate(world)
            return state_of(cell.net), state_of(cell.optimizer), got
        for params, state, got in run_ranks(size, body):
            assert params == state_of(want.net) and state == state_of(want.optimizer)
            assert [g.tobytes() for g in got] == [g.tobytes() for g in losses]
    alone = reduce_weighted(*contributions_of(0), shapes, dtypes, _world.SingleProcess())
    assert alone[-1].tobytes() == losses[0].tobytes()


def test_a_non_finite_slice_is_the_same_error_on_every_rank():
    from minicell.nn.parallel_optimizer import reduce_and_update
    shapes = [g.shape for g in gradients(0)] + [()]

    class Step:
        def __init__(self):
            self.net = model()
            self.optimizer = nn.Adam(self.net.trainable_params())
            self._sharded = ShardedOptimizer(self.optimizer)
            self.clip_norm = None

    def body(world):
        grads, weights = contributions_of(0, 2)
        grads[0][2] = grads[0][2].copy()
        grads[0][2][-1, -1] = np.nan  # the last elements: owned by the last rank only
        cell = Step()
        try:
            reduce_and_update(cell, [grads[world.rank]], [weights[world.rank]], shapes, [np.float32] * 5, world)
        except ValueError as error:
            return str(error)
    messages = run_ranks(2, body)
    assert messages[0] == messages[1] == ("For 'Adam', 'grads' must be finite gradients (the one of '2.weight' too), "
                                          "but got NaN or inf in the gradient of '2.weight'.")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.sampled_from([np.float32, np.float64])), min_size=1, max_size=5),
       st.integers(1, 6), st.integers(0, 2))
def test_slices_cover_every_parameter_once_and_match_the_exchange(params, size, extra):
    """Every element of every parameter is owned by exactly one rank, and each rank's slices are the
    exchange's owner slices of the dtype's flat sum (parameters, then ``extra`` more elements)."""
    from minicell._runtime.sharding import shard_bounds
    from minicell.nn.parallel_optimizer import _Layout
    tensors = [mc.Parameter(np.zeros(n, dt), name=f"p{i}") for i, (n, dt) in enumerate(params)]
    first = tensors[0].dtype
    owned = [np.zeros(t.size, int) for t in tensors]
    for rank in range(size):
        layout = _Layout(tuple(tensors), size, rank, {first: extra})
        for i, (a, b) in enumerate(layout.spans):
            owned[i][a:b] += 1
        for members, widths in layout.groups:
            total = sum(tensors[i].size for i in members)
            grown = total + (extra if tensors[members[0]].dtype == first else 0)
            lo, hi = shard_bounds(grown, size, rank)
            assert sum(b - a for a, b in (layout.spans[i] for i in members)) == widths[rank] == max(0, min(hi, total)
                                                                                                   - min(lo, total))
    assert all((o == 1).all() for o in owned)
