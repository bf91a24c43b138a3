"""The sharded optimizer (ZeRO-1): bit-equal to the replicated one at W = 1..4 with Adam, AdamW,
SGD with momentum and global-norm clipping (ranks simulated by threads); state ~1/W per rank;
consolidated state equal to the replicated state; TrainOneStepCell's new arguments validated."""
import numpy as np
import pytest

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
