"""The bad inputs issue 18 found still slipping through, each refused in the house voice with
nothing changed: shape elements that are strings or None, NumPy timedelta64/NaT where an int (a
seed) is due, ``Parameter.clone(prefix=5)``, ``CrossEntropyLoss`` on a list or logits with no
class, a Cell made a child of its own descendant; and float16 dropout whose scale overflows
float16 (dropped elements exactly 0, kept ones rounded once)."""
from __future__ import annotations

import numpy as np
import pytest

import minicell as mc
import minicell.random as R
from minicell import nn, ops
from minicell.random.discrete import drop_threshold
from tests.bad_inputs import got_of, house

BAD_ELEMENT_SHAPES = [(2, "3"), (2, None), ("3",), [None], (2, np.str_("3"))]
TIMES = [np.timedelta64(5, "s"), np.timedelta64(5), np.timedelta64("NaT"), np.datetime64("NaT")]


# ----- shape elements that are strings or None -------------------------------------------------
def _stateless(shape):
    return {
        "uniform": lambda: R.uniform(1, 0, shape),
        "normal": lambda: R.normal(1, 0, shape),
        "truncated_normal": lambda: R.truncated_normal(1, 0, shape),
        "randint": lambda: R.randint(1, 0, 0, 5, shape),
        "keep_mask": lambda: R.keep_mask(1, 0, shape, 0.5),
        "bernoulli": lambda: R.bernoulli(1, 0, shape, 0.5),
    }


@pytest.mark.parametrize("shape", BAD_ELEMENT_SHAPES, ids=repr)
@pytest.mark.parametrize("who", list(_stateless((1,))))
def test_stateless_draws_refuse_shape_elements_that_are_not_ints(who, shape):
    with pytest.raises(TypeError, match=house(who, "shape", "a tuple of ints", repr(tuple(shape)))):
        _stateless(shape)[who]()


def _ops(shape):
    return {
        ("rand", "size"): lambda g: ops.rand(shape, generator=g),
        ("randn", "size"): lambda g: ops.randn(shape, generator=g),
        ("uniform", "shape"): lambda g: ops.uniform(shape, generator=g),
        ("normal", "shape"): lambda g: ops.normal(shape, generator=g),
        ("randint", "size"): lambda g: ops.randint(0, 5, shape, generator=g),
        ("bernoulli", "size"): lambda g: ops.bernoulli(0.5, shape, generator=g),
    }


@pytest.mark.parametrize("shape", BAD_ELEMENT_SHAPES, ids=repr)
@pytest.mark.parametrize("who_arg", list(_ops((1,))), ids=lambda w: w[0])
def test_random_ops_refuse_shape_elements_that_are_not_ints_and_reserve_nothing(who_arg, shape):
    g = nn.Generator().manual_seed(3)
    with pytest.raises(TypeError, match=house(*who_arg, "a tuple of ints", repr(tuple(shape)))):
        _ops(shape)[who_arg](g)
    assert int(g.get_state()[1].asnumpy()) == 0


def test_initializer_refuses_shape_elements_that_are_not_ints():
    with pytest.raises(TypeError, match=house("initializer", "shape", "a tuple of ints", "(2, None)")):
        mc.initializer.initializer("normal", (2, None))


# ----- timedelta64 and NaT where an int is due ----------------------------------------------------
@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_generator_refuses_timedeltas_as_seeds_offsets_and_steps(value):
    g = nn.Generator().manual_seed(11)
    g(3)
    before = [t.asnumpy().tobytes() for t in g.get_state()]
    calls = [
        (lambda: g.manual_seed(value), house("Generator.manual_seed", "seed", "an int", got_of(value))),
        (lambda: g.set_state(value), house("Generator.set_state", "seed", "an int", got_of(value))),
        (lambda: g.set_state(1, value), house("Generator.set_state", "offset", "an int", got_of(value))),
        (lambda: g(value), house("Generator", "step", "an int", got_of(value))),
    ]
    for call, message in calls:
        with pytest.raises(TypeError, match=message):
            call()
        assert [t.asnumpy().tobytes() for t in g.get_state()] == before


@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_module_seed_functions_refuse_timedeltas_and_keep_the_default_state(value):
    before = [t.asnumpy().tobytes() for t in mc.get_rng_state()]
    with pytest.raises(TypeError, match=house("Generator.manual_seed", "seed", "an int", got_of(value))):
        mc.manual_seed(value)
    with pytest.raises(TypeError, match=house("Generator.set_state", "seed", "an int", got_of(value))):
        mc.set_rng_state(value)
    assert [t.asnumpy().tobytes() for t in mc.get_rng_state()] == before


@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_stateless_functions_refuse_timedeltas_as_seed_offset_start_and_shape(value):
    cases = [
        (lambda: R.uniform(value, 0, (2,)), house("uniform", "seed", "an int", got_of(value))),
        (lambda: R.normal(0, value, (2,)), house("normal", "offset", "an int", got_of(value))),
        (lambda: R.randint(value, 0, 0, 5, (2,)), house("randint", "seed", "an int", got_of(value))),
        (lambda: R.permutation(value, 0, 3), house("permutation", "seed", "an int", got_of(value))),
        (lambda: R.keep_mask(0, 0, (2,), 0.5, start=value), house("keep_mask", "start", "an int", got_of(value))),
        (lambda: R.random_words(value, 0, 2), house("random_words", "seed", "an int", got_of(value))),
        (lambda: R.uniform(0, 0, (value,)), house("uniform", "shape", "a tuple of ints", repr((value,)))),
        (lambda: ops.randperm(value), house("randperm", "n", "an int", got_of(value))),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()


@pytest.mark.parametrize("value", TIMES[:3], ids=repr)
def test_a_timedelta_is_not_a_real_number_either(value):
    g = nn.Generator()
    with pytest.raises(TypeError, match=house("dropout", "p", "a real number", got_of(value))):
        ops.dropout(mc.Tensor([1.0]), value, generator=g)
    with pytest.raises(TypeError, match=house("uniform", "low", "a real number", got_of(value))):
        ops.uniform((2,), value, 1.0, generator=g)
    assert int(g.get_state()[1].asnumpy()) == 0


# ----- Parameter.clone ----------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", [5, None, b"net", 1.5, ["net"]], ids=repr)
def test_parameter_clone_refuses_a_prefix_that_is_not_a_str(prefix):
    p = mc.Parameter(np.ones(2, np.float32), name="w")
    with pytest.raises(TypeError, match=house("Parameter.clone", "prefix", "a str", got_of(prefix))):
        p.clone(prefix=prefix)
    assert p.name == "w" and np.array_equal(p.asnumpy(), np.ones(2, np.float32))
    assert p.clone(prefix="net").name == "net.w" and p.clone().name == "w"


# ----- CrossEntropyLoss -------------------------------------------------------------------------------
NO_CLASS = "of shape (N, C) or (C,) with at least one class (C >= 1)"


@pytest.mark.parametrize("logits, labels, shown", [
    ([], [], "shape [0]"),
    ([], 0, "shape [0]"),
    ([[]], [0], "shape [1, 0]"),
    ([[]], [[]], "shape [1, 0]"),
    (np.zeros((2, 0), np.float32), np.array([0, 0]), "shape [2, 0]"),
    (np.zeros((2, 0), np.float32), np.array([-100, -100]), "shape [2, 0]"),  # every row ignored
    (np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32), "shape [2, 0]"),  # probabilities
    (np.zeros((0, 0), np.float32), np.zeros(0, np.int64), "shape [0, 0]"),
])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_refuses_logits_without_a_class(logits, labels, shown, reduction, smoothing):
    """Was a ZeroDivisionError (probabilities) or an IndexError (ignored rows)."""
    loss = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    x = mc.Tensor(logits) if isinstance(logits, np.ndarray) else logits
    with pytest.raises(ValueError, match=house("CrossEntropyLoss", "logits", NO_CLASS, shown)):
        loss(x, labels)


@pytest.mark.parametrize("logits, labels, expected, shown", [
    ([1.0, 2.0], [1], "of shape [] (one class index) for logits of shape [2]", "shape [1]"),
    ([1.0, 2.0], [[0.5, 0.5]], "of shape [2] for logits of shape [2]", "shape [1, 2]"),
    ([1.0, 2.0], 0.5, "of shape [2] for logits of shape [2]", "shape []"),
])
def test_cross_entropy_of_one_sample_names_the_label_shape_it_needs(logits, labels, expected, shown):
    with pytest.raises(ValueError, match=house("CrossEntropyLoss", "labels", expected, shown)):
        nn.CrossEntropyLoss()(logits, labels)


def test_cross_entropy_takes_python_lists_as_every_op_does():
    """Lists are wrapped as Tensors (as ops take them); a well-formed list gives the Tensor's loss."""
    loss = nn.CrossEntropyLoss()
    want = loss(mc.Tensor(np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)), mc.Tensor([1, 0])).asnumpy()
    assert np.array_equal(loss([[1.0, 2.0], [0.5, -1.0]], [1, 0]).asnumpy(), want)
    assert np.array_equal(loss([1.0, 2.0], 1).asnumpy(), loss(mc.Tensor([[1.0, 2.0]]), [1]).asnumpy())


# ----- a Cell made a child of its own descendant ---------------------------------------------------
class Box(mc.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(2, 2)


def _cycle(who: str, arg: str, parent: mc.Cell, child: mc.Cell) -> str:
    return house(who, arg, f"a Cell that does not contain this {type(parent).__name__} (a cell cannot be its own "
                 "descendant)", f"a {type(child).__name__} that contains it")


def _tree(cell: mc.Cell):
    """Everything a refused call must leave as it was: the cells, their names and param names."""
    return [(name, id(c), tuple(c._cells)) for name, c in cell.cells_and_names()], \
        [(name, p.name) for name, p in cell.parameters_and_names()]


def _cycle_attempts():
    """(id, build() -> (root, call, who, arg, parent, child))."""
    def setattr_on_child():
        top, mid = Box(), Box()
        top.mid = mid
        return top, lambda: setattr(mid, "top", top), "Box", "top", mid, top

    def insert_on_grandchild():
        top, mid = Box(), Box()
        top.mid = mid
        return top, lambda: mid.dense.insert_child_to_cell("up", top), "Dense", "up", mid.dense, top

    def through_a_sequential():
        seq = nn.SequentialCell([nn.ReLU()])
        box = Box()
        box.seq = seq
        return box, lambda: seq.append(box), "SequentialCell.append", "cell", seq, box

    def extend_checks_all_first():
        seq = nn.SequentialCell([nn.ReLU()])
        box = Box()
        box.seq = seq
        return box, lambda: seq.extend([nn.Tanh(), box]), "SequentialCell.extend", "cells[1]", seq, box

    def setitem():
        cells = nn.CellList([nn.ReLU(), nn.Tanh()])
        box = Box()
        box.cells = cells
        return box, lambda: cells.__setitem__(1, box), "CellList", "cell", cells, box

    def insert():
        cells = nn.CellList([nn.ReLU()])
        box = Box()
        box.cells = cells
        return box, lambda: cells.insert(0, box), "CellList.insert", "cell", cells, box

    def cell_dict_update():
        d = nn.CellDict({"a": nn.ReLU()})
        box = Box()
        box.d = d
        return box, lambda: d.update({"b": nn.Tanh(), "c": box}), "CellDict.update", "cells['c']", d, box

    def cell_dict_setitem():
        d = nn.CellDict()
        box = Box()
        box.d = d
        return box, lambda: d.__setitem__("c", box), "CellDict", "cells['c']", d, box

    return [setattr_on_child, insert_on_grandchild, through_a_sequential, extend_checks_all_first, setitem,
            insert, cell_dict_update, cell_dict_setitem]


@pytest.mark.parametrize("build", _cycle_attempts(), ids=lambda f: f.__name__)
def test_a_cell_cannot_become_a_child_of_its_own_descendant(build):
    root, call, who, arg, parent, child = build()
    before = _tree(root)
    with pytest.raises(ValueError, match=_cycle(who, arg, parent, child)):
        call()
    assert _tree(root) == before
    assert "Dense<" in repr(root)  # finite: the tree is still a tree


def test_repr_of_a_forced_cycle_ends():
    """Cycles are refused; repr still ends if one is forced past the checks (defence in depth)."""
    top, mid = Box(), Box()
    top.mid = mid
    mid._cells["top"] = top  # bypasses insert_child_to_cell on purpose
    text = repr(top)
    assert text.count("(cycle: already shown above)") == 1


def test_shared_children_and_siblings_are_still_accepted():
    shared = nn.Dense(2, 2)
    a, b = Box(), Box()
    a.shared, b.shared = shared, shared
    top = nn.SequentialCell([a, b])
    top.append(nn.SequentialCell([shared]))  # a container holding an existing descendant is fine
    assert len(top) == 3


# ----- float16 dropout whose scale does not fit float16 --------------------------------------------
def _reference(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """Kept: x times the float32 scale 65536 / (65536 - t), exact in float64, rounded once; dropped: +0.0."""
    scale = np.float64(np.float32(65536.0 / (65536 - drop_threshold(p))))
    with np.errstate(over="ignore"):
        kept = (x.astype(np.float64) * scale).astype(np.float16)
    return np.where(keep, kept, np.float16(0))


@pytest.mark.parametrize("p", [0.99999, 0.9999, 0.999, 0.5])
def test_float16_dropout_zeroes_dropped_elements_and_rounds_kept_ones_once(p):
    n = 1 << 18
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, n).astype(np.float16)
    x[::97] = np.float16(60000.0)  # overflows once scaled: inf when kept
    x[::89] = np.float16(np.inf)
    x[::83] = np.float16(np.nan)
    keep = R.keep_mask(21, 0, (n,), p)
    assert keep.any() and not keep.all()
    g = nn.Generator().manual_seed(21)
    with np.errstate(all="raise"):  # no overflow warning escapes: inf is the documented result
        y = ops.dropout(mc.Tensor(x), p, generator=g).asnumpy()
    assert y.dtype == np.float16
    assert np.array_equal(y[~keep].view(np.uint16), np.zeros((~keep).sum(), np.uint16))  # +0.0, bit for bit
    assert np.array_equal(y.view(np.uint16), _reference(x, keep, p).view(np.uint16))  # NaN kept as NaN's bits


def test_float16_dropout_backward_zeroes_dropped_gradients():
    p, n = 0.99999, 1 << 18
    keep = R.keep_mask(4, 0, (n,), p)
    x = mc.Tensor(np.ones(n, np.float16))
    g = nn.Generator().manual_seed(4)
    grad = mc.grad(lambda t: ops.dropout(t, p, generator=g).sum())(x).asnumpy()
    assert np.array_equal(grad, _reference(np.ones(n, np.float16), keep, p))
    assert np.isinf(grad[keep]).all() and (grad[~keep] == 0).all()  # 65536 overflows float16


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dropped_elements_are_zero_even_where_the_input_is_inf_or_nan(dtype):
    x = np.array([np.inf, -np.inf, np.nan, -1.0] * 64, dtype)
    keep = R.keep_mask(9, 0, x.shape, 0.5)
    y = ops.dropout(mc.Tensor(x), 0.5, generator=nn.Generator().manual_seed(9)).asnumpy()
    assert (y[~keep] == 0).all() and not np.signbit(y[~keep]).any()
    assert np.array_equal(np.isnan(y), np.isnan(x) & keep)


def test_channel_dropout_follows_the_same_rules():
    """Dropout2d on float16: a dropped channel is +0.0 (even where NaN), a kept one overflows to inf."""
    x = np.full((4, 8, 3, 3), 60000.0, np.float16)
    x[:, :, 0, 0] = np.nan
    y = nn.Dropout2d(0.5, generator=nn.Generator().manual_seed(2)).set_train()(mc.Tensor(x)).asnumpy()
    keep = np.broadcast_to(R.keep_mask(2, 0, (4, 8), 0.5)[:, :, None, None], x.shape)
    assert keep.any() and not keep.all()
    assert y.dtype == np.float16
    assert np.array_equal(y.view(np.uint16), _reference(x, keep, 0.5).view(np.uint16))
    assert (y[~keep] == 0).all() and np.isinf(y[keep & ~np.isnan(x)]).all()
