"""MindSpore's naming: Parameter names are fixed when a network is built, never by what wraps it.

``Cell(auto_prefix=True)`` prefixes a child's Parameter names with the child's attribute name;
``WithLossCell``, ``TrainOneStepCell`` and optimizers use ``auto_prefix=False``; optimizer state
is ``moment1.<name>``, ``moment2.<name>``, ``moments.<name>``, ``global_step``; checkpoints are
keyed by ``param.name``.
"""
from __future__ import annotations

import numpy as np
import pytest

import minicell as mc
from minicell import nn


class Block(nn.Cell):
    def __init__(self, gen: mc.Generator) -> None:
        super().__init__()
        self.fc = nn.Dense(3, 3, generator=gen)
        self.drop = nn.Dropout(0.1, generator=gen)

    def construct(self, x: mc.Tensor) -> mc.Tensor:
        return self.drop(self.fc(x))


class Net(nn.Cell):
    def __init__(self) -> None:
        super().__init__()
        gen = mc.Generator().manual_seed(0)
        self.body = nn.SequentialCell([Block(gen), nn.ReLU(), Block(gen)])
        self.head = nn.Dense(3, 2, generator=gen)

    def construct(self, x: mc.Tensor) -> mc.Tensor:
        return self.head(self.body(x))


def build(order: str) -> tuple[nn.Cell, nn.Cell]:
    """A training cell; ``order`` says whether the optimizer is made before or after wrapping."""
    net = Net()
    if order == "optimizer first":
        optimizer = nn.Adam(net.trainable_params(), 1e-3)
        loss_net = nn.WithLossCell(net, nn.CrossEntropyLoss())
    else:
        loss_net = nn.WithLossCell(net, nn.CrossEntropyLoss())
        optimizer = nn.Adam(net.trainable_params(), 1e-3)
    return net, nn.TrainOneStepCell(loss_net, optimizer)


def test_a_parameter_name_is_its_path_in_the_network():
    net = Net()
    for path, param in net.parameters_and_names():
        assert param.name == path
    assert "body.0.fc.weight" in dict(net.parameters_and_names())


def test_wrapping_does_not_rename_and_optimizer_state_is_named_as_mindspore():
    net, train = build("optimizer first")
    names_before = [p.name for p in net.get_parameters()]
    assert names_before == [path for path, _ in net.parameters_and_names()]
    state = [p.name for p in train.optimizer.get_parameters()]
    trained = [p.name for p in net.trainable_params()]
    assert state == (["global_step"] + [f"moment1.{n}" for n in trained] + [f"moment2.{n}" for n in trained])
    assert [p.name for p in net.get_parameters()] == names_before


def test_momentum_state_is_named_moments():
    net = Net()
    opt = nn.Momentum(net.trainable_params(), 0.1, 0.9)
    assert [p.name for p in opt.moments.get_parameters()] == [f"moments.{p.name}" for p in net.trainable_params()]


def test_the_names_do_not_depend_on_the_order_a_script_builds_things_in():
    names = {}
    for order in ("optimizer first", "wrap first"):
        _, train = build(order)
        names[order] = [p.name for p in train.get_parameters()]
    assert names["optimizer first"] == names["wrap first"]
    assert len(set(names["wrap first"])) == len(names["wrap first"])


@pytest.mark.parametrize("order", ["optimizer first", "wrap first"])
def test_a_training_checkpoint_loads_into_a_fresh_network(tmp_path, order):
    _, train = build(order)
    train.set_train()
    x, y = mc.Tensor(np.ones((4, 3), np.float32)), mc.Tensor(np.array([0, 1, 0, 1]))
    train(x, y)
    path = str(tmp_path / "train.ckpt")
    mc.save_checkpoint(train, path)
    keys = set(mc.load_checkpoint(path))
    assert keys == {p.name for p in train.get_parameters()}
    fresh = Net()
    not_loaded, _ = mc.load_param_into_net(fresh, mc.load_checkpoint(path))
    assert not_loaded == []
    for (_, a), (_, b) in zip(fresh.parameters_and_names(), train.network.backbone.parameters_and_names()):
        assert np.array_equal(a.asnumpy(), b.asnumpy())


def test_parameters_added_after_placement_get_the_full_name():
    net = Net()
    net.body[0].fc.insert_param_to_cell("scale", mc.Parameter(np.float32(1.0)))
    assert net.body[0].fc.scale.name == "body.0.fc.scale"


def test_an_auto_prefix_false_cell_inside_a_model_passes_its_parent_prefix_on():
    class Outer(nn.Cell):
        def __init__(self) -> None:
            super().__init__()
            self.wrapped = nn.WithLossCell(nn.Dense(2, 2), nn.MSELoss())

    outer = Outer()
    assert sorted(p.name for p in outer.get_parameters()) == ["wrapped.bias", "wrapped.weight"]


def test_auto_prefix_must_be_a_bool():
    with pytest.raises(TypeError, match=r"For 'Cell', 'auto_prefix' must be a bool, but got 1\."):
        nn.Cell(auto_prefix=1)
