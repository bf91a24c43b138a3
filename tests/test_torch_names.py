"""PyTorch names: ``to_torch_names`` and ``from_torch_names`` for every layer minicell ships.

The PyTorch key lists below are what ``torch.nn`` 2.13's ``state_dict()`` gives for the same
layers (checked against torch by the last tests, which run only when torch is installed: the
suite does not need it)."""
import numpy as np
import pytest

import minicell as mc
from minicell import nn

TORCH_KEYS = {  # layer -> (minicell names, PyTorch state_dict keys) in the same order
    "dense": (["weight", "bias"], ["weight", "bias"]),
    "conv": (["weight", "bias"], ["weight", "bias"]),
    "bn": (["gamma", "beta", "moving_mean", "moving_variance"], ["weight", "bias", "running_mean", "running_var"]),
    "ln": (["gamma", "beta"], ["weight", "bias"]),
    "embedding": (["embedding_table"], ["weight"]),
    "mha": (["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias", "bias_k", "bias_v"],
            ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias", "bias_k", "bias_v"]),
    "mha_kv": (["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight",
                "out_proj.bias"],
               ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight",
                "out_proj.bias"]),
}


def layers(seed=0):
    g = mc.Generator().manual_seed(seed)
    return {"dense": nn.Dense(4, 3, generator=g), "conv": nn.Conv2d(2, 3, 3, has_bias=True, generator=g),
            "conv1d": nn.Conv1d(2, 3, 3, has_bias=True, generator=g), "bn": nn.BatchNorm2d(3),
            "bn1d": nn.BatchNorm1d(3), "ln": nn.LayerNorm((4,)), "embedding": nn.Embedding(10, 4, generator=g),
            "mha": nn.MultiheadAttention(4, 2, add_bias_kv=True, generator=g),
            "mha_kv": nn.MultiheadAttention(4, 2, kdim=3, vdim=5, generator=g)}


def net_of(seed=0):
    net = mc.Cell()
    for name, layer in layers(seed).items():
        setattr(net, name, layer)
    return net


@pytest.mark.parametrize("layer", list(TORCH_KEYS))
def test_each_layer_maps_to_pytorchs_names(layer):
    cell = layers()[layer]
    ours, theirs = TORCH_KEYS[layer]
    mapped, dropped = mc.serialization.to_torch_names(cell)
    assert sorted(mapped) == sorted(theirs)
    assert dropped == (["generator.seed", "generator.offset"] if layer.startswith("mha") else [])  # its Generator
    for mine, torch_key in zip(ours, theirs):
        assert mapped[torch_key].tobytes() == dict(cell.parameters_and_names())[mine].asnumpy().tobytes()
    back, dropped = mc.serialization.from_torch_names(mapped, cell)
    assert sorted(back) == sorted(ours) and dropped == []


def test_a_whole_network_round_trips_through_pytorch_names():
    source, target = net_of(1), net_of(2)
    mapped, dropped = mc.serialization.to_torch_names(source)
    assert [n.split(".")[-1] for n in dropped] == ["seed", "offset"]
    assert "bn.running_var" in mapped and "embedding.weight" in mapped
    back, _ = mc.serialization.from_torch_names(mapped, target)
    assert mc.load_param_into_net(target, back) == (dropped, [])
    assert all(a.asnumpy().tobytes() == b.asnumpy().tobytes() for (name, a), (_, b)
               in zip(source.parameters_and_names(), target.parameters_and_names()) if "generator" not in name)


def test_generator_and_optimizer_state_are_dropped_and_reported():
    net = mc.Cell()
    net.dense = nn.Dense(2, 2)
    net.drop = nn.Dropout(0.5, generator=mc.Generator())
    net.optimizer = nn.Adam(net.dense.trainable_params())
    momentum = nn.Momentum(net.dense.trainable_params(), 0.1, 0.9)
    state = {**{p.name: p for p in net.get_parameters()}, **{p.name: p for p in momentum.get_parameters()}}
    mapped, dropped = mc.serialization.to_torch_names(state)
    assert list(mapped) == ["dense.weight", "dense.bias"]
    assert sorted(dropped) == sorted(set(state) - {"dense.weight", "dense.bias"})
    assert len(dropped) == 2 + 2 + 6  # the generator, two global_steps, three moments of two weights


def test_look_alike_user_parameters_are_kept():
    values = {"seed": np.array(3, np.int64), "offset": np.zeros(2, np.uint64), "moment1.x": np.zeros(1),
              "global_step": np.zeros(2, np.int64)}
    mapped, dropped = mc.serialization.to_torch_names(values)
    assert list(mapped) == list(values) and dropped == []


def test_without_the_network_only_batch_norm_is_recognised():
    torch_state = {"bn.weight": np.ones(3, np.float32), "bn.bias": np.zeros(3, np.float32),
                   "bn.running_mean": np.zeros(3, np.float32), "bn.running_var": np.ones(3, np.float32),
                   "bn.num_batches_tracked": np.array(5, np.int64),
                   "ln.weight": np.full(4, 2, np.float32), "ln.bias": np.zeros(4, np.float32)}
    back, dropped = mc.serialization.from_torch_names(torch_state)
    assert list(back) == ["bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance", "ln.weight", "ln.bias"]
    assert dropped == ["bn.num_batches_tracked"]
    net = mc.Cell()
    net.bn, net.ln = nn.BatchNorm2d(3), nn.LayerNorm((4,))
    missing, unused = mc.load_param_into_net(net, back)
    assert missing == ["ln.gamma", "ln.beta"] and unused == ["ln.weight", "ln.bias"]  # nothing mis-assigned
    assert net.ln.gamma.asnumpy().tolist() == [1, 1, 1, 1]
    back, dropped = mc.serialization.from_torch_names(torch_state, net)
    assert mc.load_param_into_net(net, back, strict_load=True) == ([], [])
    assert net.ln.gamma.asnumpy().tolist() == [2, 2, 2, 2]


def test_a_layout_that_does_not_fit_is_refused_not_mis_assigned():
    net = mc.Cell()
    net.fc = nn.Dense(4, 3)
    before = net.fc.weight.asnumpy()
    back, _ = mc.serialization.from_torch_names({"fc.weight": np.zeros((4, 3), np.float32)}, net)  # transposed
    with pytest.raises(ValueError, match=r"'parameter_dict\['fc.weight'\]' must be \[3, 4\] Float32 as in the net"):
        mc.load_param_into_net(net, back)
    assert np.array_equal(net.fc.weight.asnumpy(), before)


class GammaAndWeight(nn.Cell):
    """A Cell whose Parameter names collide once mapped to PyTorch's (gamma -> weight)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = mc.Parameter(np.ones(1, np.float32))
        self.weight = mc.Parameter(np.ones(1, np.float32))


@pytest.mark.parametrize("call, error, message", [
    (lambda: mc.serialization.to_torch_names({"a.gamma": np.zeros(1), "a.weight": np.zeros(1)}), ValueError,
     "For 'to_torch_names', 'params' must be names that map to distinct PyTorch names, but got 'a.weight' and "
     "'a.gamma', which would both be named 'a.weight'."),
    (lambda: mc.serialization.from_torch_names({"foo": np.ones(1)}, GammaAndWeight()), ValueError,
     "For 'from_torch_names', 'net' must be a Cell whose Parameter names map to distinct PyTorch names, but got "
     "'weight' and 'gamma', which would both be named 'weight'."),
    (lambda: mc.serialization.to_torch_names(5), TypeError,
     "For 'to_torch_names', 'params' must be a Cell, a dict or a list of dicts, but got 5."),
    (lambda: mc.serialization.to_torch_names({"a": "text"}), TypeError, "For 'to_torch_names', 'params['a']' must be"),
    (lambda: mc.serialization.from_torch_names({"a": np.zeros(1)}, net=5),  # type: ignore[arg-type]
     TypeError, "For 'from_torch_names', 'net' must be a Cell or None, but got 5."),
    (lambda: mc.serialization.from_torch_names({5: np.zeros(1)}), TypeError,
     "For 'from_torch_names', 'params' must be names that are strs, but got 5."),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error) as caught:
        call()
    assert str(caught.value).startswith(message)


# ----- against PyTorch itself (only where torch is installed) -------------------------------------
def torch_twins(torch):
    tnn = torch.nn
    return {"dense": tnn.Linear(4, 3), "conv": tnn.Conv2d(2, 3, 3, padding="same"),
            "conv1d": tnn.Conv1d(2, 3, 3, padding="same"), "bn": tnn.BatchNorm2d(3), "bn1d": tnn.BatchNorm1d(3),
            "ln": tnn.LayerNorm(4, eps=1e-7), "embedding": tnn.Embedding(10, 4),
            "mha": tnn.MultiheadAttention(4, 2, add_bias_kv=True),
            "mha_kv": tnn.MultiheadAttention(4, 2, kdim=3, vdim=5)}


def outputs(name, layer, x, tokens, is_torch, torch=None):
    wrap = (lambda a: torch.from_numpy(a)) if is_torch else mc.Tensor
    seq, key, value = (np.linspace(-1, 1, 3 * 2 * d, dtype=np.float32).reshape(3, 2, d) for d in (4, 3, 5))
    if name == "embedding":
        out = layer(wrap(tokens))
    elif name.startswith("mha"):
        k, v = (seq, seq) if name == "mha" else (key, value)
        out = layer(wrap(seq), wrap(k), wrap(v))[0]
    elif name == "conv1d" or name == "bn1d":
        out = layer(wrap(x.reshape(2, 3, 4)[:, :2] if name == "conv1d" else x.reshape(2, 3, 4)))
    elif name in ("conv", "bn"):
        out = layer(wrap(np.tile(x.reshape(2, 3, 2, 2), (1, 1, 2, 2))[:, :2 if name == "conv" else 3]))
    else:
        out = layer(wrap(x.reshape(6, 4)))
    return out.detach().numpy() if is_torch else out.asnumpy()


def test_pytorch_loads_our_weights_and_we_load_its_weights_with_equal_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.linspace(-2, 2, 24, dtype=np.float32)
    tokens = np.array([[1, 2, 9], [0, 4, 4]])
    for name, ours in layers(3).items():
        theirs = torch_twins(torch)[name].eval()
        ours.set_train(False)
        if name.startswith("bn"):
            ours.moving_mean.set_data(np.array([0.1, -0.2, 0.3], np.float32))
            ours.moving_variance.set_data(np.array([0.5, 2.0, 1.5], np.float32))
        mapped, _ = mc.serialization.to_torch_names(ours)
        assert sorted(mapped) == sorted(k for k in theirs.state_dict() if not k.endswith("num_batches_tracked"))
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in mapped.items()}, strict=False)
        with torch.no_grad():
            np.testing.assert_allclose(outputs(name, theirs, x, tokens, True, torch),
                                       outputs(name, ours, x, tokens, False), rtol=1e-5, atol=1e-6, err_msg=name)
        # and back: PyTorch's freshly initialised weights into a fresh minicell layer
        fresh, trained = layers(4)[name], torch_twins(torch)[name].eval()
        fresh.set_train(False)
        back, _ = mc.serialization.from_torch_names({k: v.numpy() for k, v in trained.state_dict().items()}, fresh)
        missing, unused = mc.load_param_into_net(fresh, back)
        assert unused == [] and all("generator" in n for n in missing)
        with torch.no_grad():
            np.testing.assert_allclose(outputs(name, trained, x, tokens, True, torch),
                                       outputs(name, fresh, x, tokens, False), rtol=1e-5, atol=1e-6, err_msg=name)
