"""Parameter, Cell and the containers: registration, naming, traversal, modes, errors, copies."""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc


class Leaf(mc.Cell):
    def __init__(self, n=2, trainable=True):
        super().__init__()
        self.weight = mc.Parameter(np.arange(n, dtype=np.float32), requires_grad=trainable)

    def construct(self, x):
        return x * self.weight

    def extra_repr(self):
        return f"n={self.weight.shape[0]}"


class Net(mc.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = Leaf()
        self.blocks = mc.SequentialCell([Leaf(), Leaf(trainable=False)])
        self.step = mc.Parameter(0, requires_grad=False)

    def construct(self, x):
        return self.blocks(self.fc1(x))


# ----- Parameter -------------------------------------------------------------------------------
def test_parameter_dtypes_and_copy():
    assert mc.Parameter(1).dtype == np.int64 and mc.Parameter(1.0).dtype == np.float32
    assert mc.Parameter(np.zeros(2, np.float64)).dtype == np.float64
    assert mc.Parameter(mc.Tensor(np.zeros(2, np.float16))).dtype == np.float16
    source = np.zeros(3, np.float32)
    p = mc.Parameter(source)
    source[0] = 1
    assert p.asnumpy()[0] == 0
    assert not mc.Parameter(np.uint64(3)).requires_grad  # integer parameters are never trainable


def test_set_data_in_place_and_errors():
    p = mc.Parameter(np.zeros(3, np.float32), name="w")
    array = p._data
    assert p.set_data([1, 2, 3]) is p and p._data is array and p.asnumpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="shape"):
        p.set_data(np.zeros(4))
    q = mc.Parameter(np.zeros(2, np.int64), name="n")
    with pytest.raises(TypeError, match="float"):
        q.set_data(np.ones(2))
    assert p.asnumpy().tolist() == [1, 2, 3]


def test_clone_is_independent_and_prefixed():
    p = mc.Parameter(np.ones(2, np.float32), name="w")
    c = p.clone("copy")
    c.set_data([5, 5])
    assert c.name == "copy.w" and p.asnumpy().tolist() == [1, 1]
    assert p.clone().name == "w"


@pytest.mark.parametrize("bad", [dict(default_input="x"), dict(default_input=[1, 2]), dict(default_input=1, name=3),
                                 dict(default_input=1.0, requires_grad="yes")])
def test_parameter_errors(bad):
    with pytest.raises(TypeError, match="Parameter"):
        mc.Parameter(**bad)


# ----- Cell ------------------------------------------------------------------------------------
def test_names_follow_mindspore_auto_prefix():
    net = Net()
    names = [name for name, _ in net.parameters_and_names()]
    assert names == ["step", "fc1.weight", "blocks.0.weight", "blocks.1.weight"]
    assert all(p.name == name for name, p in net.parameters_and_names())
    assert [n for n, _ in net.parameters_and_names(name_prefix="model")][0] == "model.step"
    assert [n for n, _ in net.parameters_and_names(expand=False)] == ["step"]


def test_user_given_names_keep_their_leaf():
    cell = mc.Cell()
    cell.w = mc.Parameter(1.0, name="my_weight")
    outer = mc.Cell()
    outer.inner = cell
    assert cell.w.name == "inner.my_weight"
    assert list(outer.parameters_dict()) == ["inner.w"]


def test_parameter_added_after_placement_gets_the_full_path():
    net = Net()
    net.fc1.bias = mc.Parameter(np.zeros(2, np.float32))
    assert net.fc1.bias.name == "fc1.bias"
    net.blocks.append(Leaf())
    assert net.blocks[2].weight.name == "blocks.2.weight"


def test_trainable_filters_and_dicts():
    net = Net()
    assert [p.name for p in net.trainable_params()] == ["fc1.weight", "blocks.0.weight"]
    assert [p.name for p in net.untrainable_params()] == ["step", "blocks.1.weight"]
    assert [p.name for p in net.trainable_params(recurse=False)] == []
    assert list(net.parameters_dict()) == ["step", "fc1.weight", "blocks.0.weight", "blocks.1.weight"]
    assert [n for n, _ in net.cells_and_names()] == ["", "fc1", "blocks", "blocks.0", "blocks.1"]
    assert list(net.name_cells()) == ["fc1", "blocks"] and net.cells()[0] is net.fc1
    assert len(list(net.get_parameters())) == 4


def test_shared_parameter_listed_once_under_its_first_path():
    shared = mc.Parameter(np.ones(2, np.float32))
    a, b = mc.Cell(), mc.Cell()
    a.w = shared
    b.w = shared
    top = mc.Cell()
    top.a = a
    top.b = b
    assert [(n, p.name) for n, p in top.parameters_and_names()] == [("a.w", "a.w")]


def test_training_flag_defaults_false_and_set_train_recurses():
    net = Net()
    assert not net.training and not net.blocks[0].training
    assert net.set_train() is net
    assert all(cell.training for _, cell in net.cells_and_names())
    net.set_train(False)
    assert not any(cell.training for _, cell in net.cells_and_names())
    with pytest.raises(TypeError, match=r"^For 'Net.set_train', 'mode' must be a bool, but got 'yes'\.$"):
        net.set_train("yes")
    assert not any(cell.training for _, cell in net.cells_and_names())  # the failed call changed nothing


def test_call_runs_construct():
    assert Net()(mc.Tensor([1.0, 1.0])).asnumpy().tolist() == [0.0, 1.0]
    with pytest.raises(NotImplementedError, match=r"^For 'Cell', 'construct' must be defined by the subclass "
                                                  r"to run the cell, but got the base Cell's\.$"):
        mc.Cell()(1)


def test_registration_errors_and_delattr():
    net = Net()
    with pytest.raises(TypeError, match=r"^For 'Net', 'step' must be a Parameter \(it is one: assign a Parameter "
                                        r"or use set_data\), but got 5\.$"):
        net.step = 5
    with pytest.raises(TypeError, match=r"^For 'Net', 'fc1' must be a Cell \(it is a child Cell: assign a Cell "
                                        r"or delete it first\), but got 5\.$"):
        net.fc1 = 5
    with pytest.raises(ValueError, match="a non-empty str without '.'"):
        net.insert_param_to_cell("a.b", mc.Parameter(1.0))
    with pytest.raises(TypeError, match="Parameter"):
        net.insert_param_to_cell("x", 1.0)
    with pytest.raises(TypeError, match="Cell"):
        net.insert_child_to_cell("x", 1.0)
    del net.fc1
    assert "fc1.weight" not in net.parameters_dict()
    assert not hasattr(net, "fc1")

    class Early(mc.Cell):
        def __init__(self):
            self.x = 1
            super().__init__()

    with pytest.raises(AttributeError, match=r"^For 'Early', '__init__' must be calling super\(\).__init__\(\) "
                                             r"before assigning attributes, but got an attribute assigned first\.$"):
        Early()


def test_repr_shows_the_tree_with_settings():
    assert repr(Net()) == ("Net<\n  (fc1): Leaf<n=2>\n  (blocks): SequentialCell<\n    (0): Leaf<n=2>\n"
                           "    (1): Leaf<n=2>\n    >\n  >")


def test_deepcopy_is_independent_and_equal():
    net = Net()
    twin = copy.deepcopy(net)
    assert [(n, p.asnumpy().tolist()) for n, p in twin.parameters_and_names()] == \
           [(n, p.asnumpy().tolist()) for n, p in net.parameters_and_names()]
    twin.fc1.weight.set_data([9, 9])
    assert net.fc1.weight.asnumpy().tolist() == [0, 1]
    assert twin.fc1.weight.name == "fc1.weight"


# ----- containers ------------------------------------------------------------------------------
def test_sequential_cell_list_and_ordered_dict():
    from collections import OrderedDict
    seq = mc.SequentialCell(Leaf(), Leaf())
    assert seq(mc.Tensor([2.0, 2.0])).asnumpy().tolist() == [0.0, 2.0]
    named = mc.SequentialCell(OrderedDict([("first", Leaf()), ("second", Leaf())]))
    assert list(named.name_cells()) == ["first", "second"]
    assert len(seq) == 2 and isinstance(seq[0:1], mc.SequentialCell) and len(seq[0:1]) == 1
    seq.insert(0, Leaf(3))
    assert [c.weight.shape[0] for c in seq] == [3, 2, 2]
    assert [n for n, _ in seq.parameters_and_names()] == ["0.weight", "1.weight", "2.weight"]
    assert all(p.name == n for n, p in seq.parameters_and_names())
    seq.extend([Leaf(4)])
    seq[1] = Leaf(5)
    del seq[0]
    assert [c.weight.shape[0] for c in seq] == [5, 2, 4]
    assert all(p.name == n for n, p in seq.parameters_and_names())
    with pytest.raises(IndexError):
        seq[7]
    with pytest.raises(TypeError, match="Cell"):
        seq.append(3)


def test_cell_list_and_cell_dict():
    cells = mc.CellList([Leaf(), Leaf()])
    cells.append(Leaf())
    assert len(cells) == 3 and [n for n, _ in cells.parameters_and_names()][-1] == "2.weight"
    d = mc.CellDict({"a": Leaf()})
    d["b"] = Leaf(3)
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2 and d["b"].weight.name == "b.weight"
    assert d.pop("a").weight.shape == (2,) and d.keys() == ["b"]
    with pytest.raises(KeyError, match="'key' must be the name of a cell in it"):
        d["zzz"]
    d.clear()
    assert len(d) == 0


# ----- random trees (hypothesis) ---------------------------------------------------------------
def tree(depth):
    leaf = st.builds(lambda n, t: Leaf(n, t), st.integers(1, 3), st.booleans())
    if depth == 0:
        return leaf
    sub = tree(depth - 1)
    return st.one_of(
        leaf,
        st.lists(sub, min_size=1, max_size=3).map(lambda cs: mc.SequentialCell(cs)),
        st.lists(sub, min_size=1, max_size=3).map(lambda cs: mc.CellList(cs)),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), sub, min_size=1, max_size=3).map(mc.CellDict),
    )


@given(model=tree(3), share=st.booleans())
def test_random_trees_have_unique_stable_names(model, share):
    top = mc.Cell()
    top.body = model
    if share:  # a parameter shared by two cells is listed once
        top.extra = Leaf()
        top.extra.weight = next(model.get_parameters())
    names = [n for n, _ in top.parameters_and_names()]
    assert len(names) == len(set(names))
    assert len({id(p) for p in top.get_parameters()}) == len(names)
    assert names == [n for n, _ in top.parameters_and_names()]
    assert all(p.name == n for n, p in top.parameters_and_names())
    assert [p for p in top.trainable_params()] == [p for p in top.get_parameters() if p.requires_grad]
