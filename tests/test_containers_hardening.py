"""Container mutations check every item before adding any: a failed call leaves the container,
its children and their Parameters' names exactly as they were."""
import re
from collections import OrderedDict

import numpy as np
import pytest

import minicell as mc
from minicell import nn


class Leaf(mc.Cell):
    def __init__(self):
        super().__init__()
        self.weight = mc.Parameter(np.zeros(2, np.float32))


def state(cell):
    """Everything a failed call must leave alone: children, Parameters (paths and names), attributes."""
    return ([(name, id(child)) for name, child in cell.name_cells().items()],
            [(path, id(p), p.name) for path, p in cell.parameters_and_names()],
            sorted(vars(cell)), [id(p) for p in cell.get_parameters()])


def cell_list():
    return mc.CellList([Leaf(), Leaf()])


def sequential():
    return mc.SequentialCell([Leaf(), nn.ReLU()])


def cell_dict():
    return mc.CellDict({"a": Leaf(), "b": nn.ReLU()})


def with_parameter_named(container, name):
    container.insert_param_to_cell(name, mc.Parameter(np.zeros(1, np.float32)))
    return container


NOT_A_CELL = "must be a Cell, but got "
ITERABLE = "'cells' must be an iterable of Cells, but got "
PAIRS = "'cells' must be a mapping of name -> Cell or an iterable of \\(name, Cell\\) pairs, but got "
CASES = [
    # (make the container, the bad call, error, exact message)
    (cell_list, lambda c: c.extend([Leaf(), 5]), TypeError, f"For 'CellList.extend', 'cells\\[1\\]' {NOT_A_CELL}5."),
    (cell_list, lambda c: c.extend([Leaf(), None]), TypeError, f"For 'CellList.extend', 'cells\\[1\\]' "
                                                               f"{NOT_A_CELL}None."),
    (cell_list, lambda c: c.extend([Leaf(), c]), ValueError,
     "For 'CellList.extend', 'cells\\[1\\]' must be a Cell other than this CellList, but got the container itself."),
    (cell_list, lambda c: c.extend(5), TypeError, f"For 'CellList.extend', {ITERABLE}5."),
    (cell_list, lambda c: c.extend("ab"), TypeError, f"For 'CellList.extend', {ITERABLE}'ab'."),
    (cell_list, lambda c: c.extend(Leaf()), TypeError, f"For 'CellList.extend', {ITERABLE}an object of type Leaf."),
    (cell_list, lambda c: c.extend(x for x in [Leaf(), 2.5]), TypeError, f"For 'CellList.extend', 'cells\\[1\\]' "
                                                                         f"{NOT_A_CELL}2.5."),
    (cell_list, lambda c: c.append(5), TypeError, f"For 'CellList.append', 'cell' {NOT_A_CELL}5."),
    (cell_list, lambda c: c.append(np.zeros(2)), TypeError, f"For 'CellList.append', 'cell' {NOT_A_CELL}an object of "
                                                            f"type ndarray."),
    (cell_list, lambda c: c.append(c), ValueError, "For 'CellList.append', 'cell' must be a Cell other than this "
                                                   "CellList"),
    (cell_list, lambda c: c.insert(0, 5), TypeError, f"For 'CellList.insert', 'cell' {NOT_A_CELL}5."),
    (cell_list, lambda c: c.insert("0", Leaf()), TypeError, "For 'CellList.insert', 'index' must be an int, but got "
                                                            "'0'."),
    (cell_list, lambda c: c.insert(True, Leaf()), TypeError, "For 'CellList.insert', 'index' must be an int, but got "
                                                             "True."),
    (cell_list, lambda c: c.insert(1, c), ValueError, "For 'CellList.insert', 'cell' must be a Cell other than this "
                                                      "CellList"),
    (cell_list, lambda c: c.__setitem__(0, 5), TypeError, f"For 'CellList', 'cell' {NOT_A_CELL}5."),
    (cell_list, lambda c: c.__setitem__("a", Leaf()), TypeError, "For 'CellList', 'index' must be an int, but got "
                                                                 "'a'."),
    (cell_list, lambda c: c.__setitem__(2, Leaf()), IndexError, "For 'CellList', 'index' must be in \\[-2, 2\\), but "
                                                                "got 2."),
    (cell_list, lambda c: c.__setitem__(-3, Leaf()), IndexError, "For 'CellList', 'index' must be in \\[-2, 2\\), but "
                                                                 "got -3."),
    (cell_list, lambda c: c.__delitem__(7), IndexError, "For 'CellList', 'index' must be in \\[-2, 2\\), but got 7."),
    (cell_list, lambda c: c.__delitem__(1.0), TypeError, "For 'CellList', 'index' must be an int, but got 1.0."),
    (cell_list, lambda c: c[None], TypeError, "For 'CellList', 'index' must be an int, but got None."),
    (lambda: with_parameter_named(cell_list(), "2"), lambda c: c.append(Leaf()), ValueError,
     "For 'CellList.append', 'cells' must be placeable at positions not used by Parameters of this CellList, "
     "but got 3 cells while Parameters are named \\['2'\\]."),
    (lambda: with_parameter_named(cell_list(), "3"), lambda c: c.extend([Leaf(), Leaf()]), ValueError,
     "For 'CellList.extend', 'cells' must be placeable at positions not used by Parameters"),
    (lambda: with_parameter_named(cell_list(), "2"), lambda c: c.insert(0, Leaf()), ValueError,
     "For 'CellList.insert', 'cells' must be placeable at positions not used by Parameters"),
    (sequential, lambda c: c.extend([nn.Tanh(), "relu"]), TypeError, f"For 'SequentialCell.extend', 'cells\\[1\\]' "
                                                                     f"{NOT_A_CELL}'relu'."),
    (sequential, lambda c: c.append(nn.ReLU), TypeError, f"For 'SequentialCell.append', 'cell' {NOT_A_CELL}an object "
                                                         f"of type type."),
    (sequential, lambda c: c.insert(1, 3), TypeError, f"For 'SequentialCell.insert', 'cell' {NOT_A_CELL}3."),
    (sequential, lambda c: c.insert(0, c), ValueError, "For 'SequentialCell.insert', 'cell' must be a Cell other than "
                                                       "this SequentialCell"),
    (sequential, lambda c: c.__setitem__(1, "x"), TypeError, f"For 'SequentialCell', 'cell' {NOT_A_CELL}'x'."),
    (cell_dict, lambda c: c.update({"x": nn.ReLU(), "y": 5}), TypeError, f"For 'CellDict.update', 'cells\\['y'\\]' "
                                                                         f"{NOT_A_CELL}5."),
    (cell_dict, lambda c: c.update({"x": nn.ReLU(), 5: nn.ReLU()}), TypeError, "For 'CellDict.update', 'key' must be "
                                                                               "a str, but got 5."),
    (cell_dict, lambda c: c.update({"x": nn.ReLU(), "a.b": nn.ReLU()}), ValueError,
     "For 'CellDict.update', 'key' must be a non-empty str without '.', but got 'a.b'."),
    (cell_dict, lambda c: c.update({"x": nn.ReLU(), "": nn.ReLU()}), ValueError,
     "For 'CellDict.update', 'key' must be a non-empty str without '.', but got ''."),
    (cell_dict, lambda c: c.update({"x": nn.ReLU(), "update": nn.ReLU()}), ValueError,
     "For 'CellDict.update', 'key' must be a name that is not already an attribute of this CellDict, but got "
     "'update'."),
    (cell_dict, lambda c: c.update({"training": nn.ReLU()}), ValueError,
     "For 'CellDict.update', 'key' must be a name that is not already an attribute of this CellDict, but got "
     "'training'."),
    (cell_dict, lambda c: c.update({"_params": nn.ReLU()}), ValueError,
     "For 'CellDict.update', 'key' must be a name that is not already an attribute of this CellDict, but got "
     "'_params'."),
    (cell_dict, lambda c: c.update({"x": c}), ValueError,
     "For 'CellDict.update', 'cells\\['x'\\]' must be a Cell other than this CellDict, but got the container itself."),
    (cell_dict, lambda c: c.update([("x", nn.ReLU()), ("y",)]), TypeError,
     "For 'CellDict.update', 'cells\\[1\\]' must be a \\(name, Cell\\) pair, but got an object of type tuple."),
    (cell_dict, lambda c: c.update([("x", nn.ReLU()), "yz"]), TypeError,
     "For 'CellDict.update', 'cells\\[1\\]' must be a \\(name, Cell\\) pair, but got 'yz'."),
    (cell_dict, lambda c: c.update(5), TypeError, f"For 'CellDict.update', {PAIRS}5."),
    (cell_dict, lambda c: c.update("ab"), TypeError, f"For 'CellDict.update', {PAIRS}'ab'."),
    (cell_dict, lambda c: c.update(nn.ReLU()), TypeError, f"For 'CellDict.update', {PAIRS}an object of type ReLU."),
    (cell_dict, lambda c: c.__setitem__("x", 5), TypeError, f"For 'CellDict', 'cells\\['x'\\]' {NOT_A_CELL}5."),
    (cell_dict, lambda c: c.__setitem__(5, nn.ReLU()), TypeError, "For 'CellDict', 'key' must be a str, but got 5."),
    (cell_dict, lambda c: c.__setitem__("keys", nn.ReLU()), ValueError,
     "For 'CellDict', 'key' must be a name that is not already an attribute of this CellDict, but got 'keys'."),
    (lambda: with_parameter_named(cell_dict(), "w"), lambda c: c.__setitem__("w", nn.ReLU()), ValueError,
     "For 'CellDict', 'key' must be a name that is not already an attribute of this CellDict, but got 'w'."),
    (cell_dict, lambda c: c.__delitem__("missing"), KeyError,
     "For 'CellDict', 'key' must be the name of a cell in it, one of \\['a', 'b'\\], but got 'missing'."),
]


@pytest.mark.parametrize("make, call, error, message", CASES)
def test_failed_container_calls_change_nothing(make, call, error, message):
    container = make()
    before = state(container)
    with pytest.raises(error, match=message):
        call(container)
    assert state(container) == before


@pytest.mark.parametrize("make, error, message", [
    (lambda: mc.CellList([Leaf(), 5]), TypeError, f"For 'CellList', 'cells\\[1\\]' {NOT_A_CELL}5."),
    (lambda: mc.CellList(5), TypeError, f"For 'CellList', {ITERABLE}5."),
    (lambda: mc.SequentialCell(Leaf(), "x"), TypeError, f"For 'SequentialCell', 'cells\\[1\\]' {NOT_A_CELL}'x'."),
    (lambda: mc.SequentialCell(OrderedDict([("a", Leaf()), ("b", 5)])), TypeError,
     f"For 'SequentialCell', 'args\\[0\\]\\['b'\\]' {NOT_A_CELL}5."),
    (lambda: mc.SequentialCell(OrderedDict([("a.b", Leaf())])), ValueError,
     "For 'SequentialCell', 'key' must be a non-empty str without '.', but got 'a.b'."),
    (lambda: mc.SequentialCell(OrderedDict([("construct", Leaf())])), ValueError,
     "For 'SequentialCell', 'key' must be a name that is not already an attribute of this SequentialCell"),
    (lambda: mc.CellDict({"a": 5}), TypeError, f"For 'CellDict', 'cells\\['a'\\]' {NOT_A_CELL}5."),
    (lambda: mc.CellDict(7), TypeError, f"For 'CellDict', {PAIRS}7."),
])
def test_container_constructor_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_refused_item_leaves_the_cells_before_it_unregistered():
    """The good cells in a refused call are not adopted: their Parameters keep their names."""
    lst, fresh = cell_list(), Leaf()
    with pytest.raises(TypeError):
        lst.extend([fresh, 5])
    assert fresh.weight.name == "weight" and len(lst) == 2
    d, other = cell_dict(), Leaf()
    with pytest.raises(TypeError):
        d.update({"x": other, "y": 5})
    assert other.weight.name == "weight" and list(d) == ["a", "b"]


def test_containers_still_work_after_refused_calls():
    lst = cell_list()
    for bad in ([Leaf(), 5], 5, [lst]):
        with pytest.raises((TypeError, ValueError)):
            lst.extend(bad)
    lst.extend([Leaf()])
    lst.insert(0, Leaf())
    assert [n for n, _ in lst.parameters_and_names()] == [f"{i}.weight" for i in range(4)]
    assert [p.name for p in lst.get_parameters()] == [f"{i}.weight" for i in range(4)]


# ----- Cell.insert_param_to_cell / insert_child_to_cell -----------------------------------------
@pytest.mark.parametrize("name, check, error, message", [
    (5, False, TypeError, "For 'Leaf', 'parameter name' must be a str, but got int."),
    (5, True, TypeError, "For 'Leaf', 'parameter name' must be a str, but got int."),
    (None, False, TypeError, "For 'Leaf', 'parameter name' must be a str, but got NoneType."),
    ("", False, ValueError, "For 'Leaf', 'parameter name' must be a non-empty str without '.', but got ''."),
    ("a.b", True, ValueError, "For 'Leaf', 'parameter name' must be a non-empty str without '.', but got 'a.b'."),
])
def test_insert_param_to_cell_refuses_bad_names_and_leaves_nothing(name, check, error, message):
    leaf, p = Leaf(), mc.Parameter(np.ones(1, np.float32))
    before = state(leaf)
    with pytest.raises(error, match=re.escape(message) if "'" not in message else message.replace(".", "\\.")):
        leaf.insert_param_to_cell(name, p, check_name_contain_dot=check)
    assert state(leaf) == before and p.name is None and name not in leaf._params


def test_insert_param_to_cell_with_dots_allowed_when_asked():
    leaf = Leaf()
    leaf.insert_param_to_cell("moment1.weight", mc.Parameter(np.ones(1, np.float32)), check_name_contain_dot=False)
    assert "moment1.weight" in [n for n, _ in leaf.parameters_and_names()]
