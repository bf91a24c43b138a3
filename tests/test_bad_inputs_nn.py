"""Bad inputs to nn: layers, losses, optimizers and training cells. Each raises the expected type
with the exact house-voice message and changes nothing: parameters, optimizer state, generators
and training flags keep their bytes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import initializer as I
from minicell import nn
from tests.bad_inputs import HUGE, INF, NAN, got_of, house, int_error, real_error, snapshot

BAD_REALS = [INF, -INF, NAN, "a", None, True, HUGE, [0.1], 1j]
ACTIVATIONS = "one of ['relu', 'tanh', 'sigmoid', 'gelu', 'softmax', 'log_softmax', 'logsoftmax']"
REDUCTIONS = "one of ['mean', 'sum', 'none']"
DATA = "numbers (bool, int, float) in a rectangular nesting"


def params():
    return [mc.Parameter(np.array([1.0, -2.0], np.float32), name="w"),
            mc.Parameter(np.array([[0.5]], np.float32), name="b")]


# ----- optimizer hyper-parameters -------------------------------------------------------------------
OPTIMIZERS = {
    "SGD": (nn.SGD, {"learning_rate": ("0", "inf", "]"), "momentum": ("0", "inf", "]"),
                     "weight_decay": ("0", "inf", "]")}),
    "Momentum": (nn.Momentum, {"learning_rate": ("0", "inf", "]"), "momentum": ("0", "inf", "]"),
                               "weight_decay": ("0", "inf", "]")}),
    "Adam": (nn.Adam, {"learning_rate": ("0", "inf", "]"), "beta1": ("0", "1", ")"), "beta2": ("0", "1", ")"),
                       "eps": ("0", "inf", "]"), "weight_decay": ("0", "inf", "]")}),
    "AdamW": (nn.AdamW, {"learning_rate": ("0", "inf", "]"), "beta1": ("0", "1", ")"), "beta2": ("0", "1", ")"),
                         "eps": ("0", "inf", "]"), "weight_decay": ("0", "inf", "]")}),
}
DEFAULTS = {"Momentum": {"learning_rate": 0.1, "momentum": 0.9}}


def _hyper_cases():
    cases = []
    for name, (cls, hypers) in OPTIMIZERS.items():
        for arg, bounds in hypers.items():
            for value in BAD_REALS + [-1.0, -1e-300] + ([1.0, 1.5] if bounds[1] == "1" else []):
                if isinstance(value, (list, complex)):
                    expected = (TypeError, house(name, arg, "a real number", got_of(value)))
                else:
                    expected = real_error(name, arg, value, *bounds)
                kwargs = dict(DEFAULTS.get(name, {}), **{arg: value})
                cases.append(pytest.param(cls, kwargs, *expected, id=f"{name}({arg}={value!r})"))
    specific = [
        (nn.Adam, dict(eps=0.0), ValueError, house("Adam", "eps", "a float > 0", "0.0")),
        (nn.AdamW, dict(eps=0), ValueError, house("AdamW", "eps", "a float > 0", "0")),
        (nn.SGD, dict(nesterov=True), ValueError, house("SGD", "momentum", "> 0 with Nesterov momentum", "0.0")),
        (nn.SGD, dict(momentum=0.9, nesterov=1), TypeError, house("SGD", "nesterov", "a bool", "1")),
        (nn.SGD, dict(momentum=0.9, nesterov="yes"), TypeError, house("SGD", "nesterov", "a bool", "'yes'")),
        (nn.Momentum, dict(learning_rate=0.1, momentum=0.0), ValueError,
         house("Momentum", "momentum", "a float > 0 (use SGD for plain gradient descent)", "0.0")),
        (nn.Momentum, dict(learning_rate=0.1, momentum=0.9, use_nesterov=None), TypeError,
         house("Momentum", "use_nesterov", "a bool", "None")),
    ]
    cases += [pytest.param(*case, id=f"{case[0].__name__}({case[1]})") for case in specific]
    return cases


@pytest.mark.parametrize("cls, kwargs, error, message", _hyper_cases())
def test_optimizer_hyper_parameters_are_finite_and_in_range(cls, kwargs, error, message):
    ps = params()
    before = snapshot(*ps)
    with pytest.raises(error, match=message):
        cls(ps, **kwargs)
    assert snapshot(*ps) == before


@pytest.mark.parametrize("make, error, expected, got", [
    (lambda ps: nn.SGD([]), ValueError, "a non-empty iterable of Parameters", "an empty one"),
    (lambda ps: nn.SGD([1.0]), TypeError, "an iterable of Parameters", "1.0 at index 0"),
    (lambda ps: nn.SGD(ps[0]), TypeError, "an iterable of Parameters (e.g. net.trainable_params())",
     "an object of type Parameter"),
    (lambda ps: nn.SGD(5), TypeError, "an iterable of Parameters (e.g. net.trainable_params())", "5"),
    (lambda ps: nn.SGD(nn.Dense(1, 1, generator=nn.Generator())), TypeError,
     "an iterable of Parameters (e.g. net.trainable_params())", "an object of type Dense"),
    (lambda ps: nn.SGD([mc.Parameter(1.0, requires_grad=False, name="f")]), ValueError, "trainable float Parameters",
     "'f' (dtype float32, requires_grad=False) at index 0"),
    (lambda ps: nn.SGD([mc.Parameter(np.array([1], np.int64), name="i")]), ValueError, "trainable float Parameters",
     "'i' (dtype int64, requires_grad=False) at index 0"),
    (lambda ps: nn.SGD([ps[0], ps[0]]), ValueError, "Parameters with unique names", "two named 'w'"),
    (lambda ps: nn.SGD([ps[0], mc.Tensor([1.0])]), TypeError, "an iterable of Parameters",
     "an object of type Tensor at index 1"),
])
def test_optimizer_params_are_checked(make, error, expected, got):
    with pytest.raises(error, match=house("SGD", "params", expected, got)):
        make(params())


GRAD_CASES = [
    ("one gradient missing", lambda: (np.ones(2),), ValueError, "a tuple of 2 gradients", "1"),
    ("empty", lambda: (), ValueError, "a tuple of 2 gradients", "0"),
    ("None", lambda: None, TypeError, "a tuple of gradients, one per parameter", "None"),
    ("a Tensor", lambda: mc.Tensor([1.0, 1.0]), TypeError, "a tuple of gradients, one per parameter",
     "an object of type Tensor"),
    ("an ndarray", lambda: np.ones(2), TypeError, "a tuple of gradients, one per parameter",
     "an object of type ndarray"),
    ("5", lambda: 5, TypeError, "a tuple of gradients, one per parameter", "5"),
    ("wrong shape", lambda: (np.ones(3), np.ones((1, 1))), ValueError,
     "gradients of their parameters' shapes ([2] for 'w')", "shape [3] for 'w'"),
    ("second wrong shape", lambda: (np.ones(2), np.ones(1)), ValueError,
     "gradients of their parameters' shapes ([1, 1] for 'b')", "shape [1] for 'b'"),
    ("int gradient", lambda: (np.ones(2, np.int32), np.ones((1, 1))), TypeError,
     "float gradients (the one of 'w' too)", "dtype Int32 for 'w'"),
    ("str gradient", lambda: (["a", "b"], np.ones((1, 1))), TypeError, "float gradients (the one of 'w' too)",
     "dtype <U1 for 'w'"),
    ("str", lambda: ("ab", np.ones((1, 1))), TypeError, "float gradients (the one of 'w' too)", "dtype object for 'w'"),
    ("ragged", lambda: ([[1.0], [1.0, 2.0]], np.ones((1, 1))), TypeError, "float gradients (the one of 'w' too)",
     "dtype object for 'w'"),
    ("None gradient", lambda: (None, np.ones((1, 1))), TypeError, "float gradients (the one of 'w' too)",
     "dtype object for 'w'"),
    ("NaN", lambda: (np.array([NAN, 1.0]), np.ones((1, 1))), ValueError, "finite gradients (the one of 'w' too)",
     "NaN or inf in the gradient of 'w'"),
    ("inf in the last", lambda: (np.ones(2), np.array([[INF]])), ValueError, "finite gradients (the one of 'b' too)",
     "NaN or inf in the gradient of 'b'"),
    ("+inf and -inf", lambda: (np.array([INF, -INF]), np.ones((1, 1))), ValueError,
     "finite gradients (the one of 'w' too)", "NaN or inf in the gradient of 'w'"),
    ("float64 beyond float32", lambda: (np.array([1e300, 1.0]), np.ones((1, 1))), ValueError,
     "within the range of float32 (max 3.40282e+38)", "np.float64(1e+300)"),
]


@pytest.mark.parametrize("optimizer", ["SGD", "Momentum", "Adam", "AdamW"])
@pytest.mark.parametrize("grads, error, expected, got", [pytest.param(*c[1:], id=c[0]) for c in GRAD_CASES])
def test_bad_gradients_change_nothing(optimizer, grads, error, expected, got):
    ps = params()
    cls = OPTIMIZERS[optimizer][0]
    opt = cls(ps, **DEFAULTS.get(optimizer, {"learning_rate": 0.1}))
    opt((np.ones(2, np.float32), np.ones((1, 1), np.float32)))  # some state to keep
    before = snapshot(*ps, opt)
    with pytest.raises(error, match=house(optimizer, "grads", expected, got)):
        opt(grads())
    assert snapshot(*ps, opt) == before


# ----- layers -----------------------------------------------------------------------------------------
def _layer_cases():
    g = None  # each call gets a fresh generator through the test
    cases = [
        ("Dense(0, 2)", lambda g: nn.Dense(0, 2, generator=g), *int_error("Dense", "in_channels", 0, "1")),
        ("Dense(2.0, 2)", lambda g: nn.Dense(2.0, 2, generator=g), *int_error("Dense", "in_channels", 2.0)),
        ("Dense(True, 2)", lambda g: nn.Dense(True, 2, generator=g), *int_error("Dense", "in_channels", True)),
        ("Dense(2, -3)", lambda g: nn.Dense(2, -3, generator=g), *int_error("Dense", "out_channels", -3, "1")),
        ("Dense(2, '3')", lambda g: nn.Dense(2, "3", generator=g), *int_error("Dense", "out_channels", "3")),
        ("Dense(activation='swish')", lambda g: nn.Dense(2, 2, activation="swish", generator=g), ValueError,
         house("Dense", "activation", ACTIVATIONS, "'swish'")),
        ("Dense(activation=5)", lambda g: nn.Dense(2, 2, activation=5, generator=g), TypeError,
         house("Dense", "activation", ACTIVATIONS, "5")),
        ("Dense(has_bias=1)", lambda g: nn.Dense(2, 2, has_bias=1, generator=g), TypeError,
         house("Dense", "has_bias", "a bool", "1")),
        ("Dense(has_bias=None)", lambda g: nn.Dense(2, 2, has_bias=None, generator=g), TypeError,
         house("Dense", "has_bias", "a bool", "None")),
        ("Dense(bias_init='bogus')", lambda g: nn.Dense(2, 3, bias_init="bogus", generator=g), ValueError, house(
            "Dense", "bias_init", "an Initializer or one of ['dirac', 'eye', 'he_normal', 'he_uniform', 'identity', "
            "'normal', 'ones', 'orthogonal', 'sparse', 'truncated_normal', 'truncatednormal', 'uniform', "
            "'variance_scaling', 'xavier_normal', 'xavier_uniform', 'zeros']", "'bogus'")),
        ("Dense(weight_init=5j)", lambda g: nn.Dense(2, 3, weight_init=5j, generator=g), TypeError,
         house("Dense", "weight_init", "an Initializer, an alias, a number or an array", "an object of type complex")),
        ("Dense(bias_init=array of 2)", lambda g: nn.Dense(2, 3, bias_init=np.zeros(2), generator=g), ValueError,
         house("Dense", "bias_init", "an array of shape [3]", "an array of shape [2]")),
        ("Dense(bias_init=Constant(1e39))", lambda g: nn.Dense(2, 3, bias_init=I.Constant(1e39), generator=g),
         ValueError, house("Constant", "value", "within the range of float32 (max 3.40282e+38)", "np.float64(1e+39)")),
        ("Dense(bias_init=Sparse)", lambda g: nn.Dense(2, 3, bias_init=I.Sparse(0.5), generator=g), ValueError,
         house("Sparse", "shape", "a 2-D shape", "(3,)")),
        ("Dense(dtype=None)", lambda g: nn.Dense(2, 3, dtype=None, generator=g), TypeError,
         house("Dense", "dtype", "one of ['float16', 'float32', 'float64']", "None")),
        ("Dense(dtype=int32)", lambda g: nn.Dense(2, 3, dtype=np.int32, generator=g), TypeError,
         house("Dense", "dtype", "one of ['float16', 'float32', 'float64']", "int32")),
        ("Dense(float16 overflow)", lambda g: nn.Dense(2, 3, weight_init=I.Uniform(1e5), dtype=np.float16,
                                                       generator=g), ValueError,
         house("Dense", "dtype", "a dtype that holds values up to 100000 (float16 stops at 65504)", "float16")),
        ("Dense(generator=5)", lambda g: nn.Dense(2, 3, generator=5), TypeError,
         house("Dense", "generator", "a Generator or None", "5")),
        ("Dropout(p=1.5)", lambda g: nn.Dropout(1.5, generator=g), *real_error("Dropout", "p", 1.5, "0", "1")),
        ("Dropout(generator='g')", lambda g: nn.Dropout(0.5, generator="g"), TypeError,
         house("Dropout", "generator", "a Generator or None", "'g'")),
        ("Dropout2d(generator=5)", lambda g: nn.Dropout2d(0.5, generator=5), TypeError,
         house("Dropout2d", "generator", "a Generator or None", "5")),
        ("GELU('fast')", lambda g: nn.GELU(approximate="fast"), ValueError,
         house("GELU", "approximate", "one of ['none', 'tanh']", "'fast'")),
        ("GELU(1)", lambda g: nn.GELU(approximate=1), TypeError,
         house("GELU", "approximate", "one of ['none', 'tanh']", "1")),
        ("Softmax('a')", lambda g: nn.Softmax("a"), *int_error("Softmax", "axis", "a")),
        ("LogSoftmax(1.0)", lambda g: nn.LogSoftmax(1.0), *int_error("LogSoftmax", "axis", 1.0)),
        ("Softmax(None)", lambda g: nn.Softmax(None), *int_error("Softmax", "axis", None)),
        ("Flatten(1.5)", lambda g: nn.Flatten(1.5), *int_error("Flatten", "start_dim", 1.5)),
        ("Flatten(1, 'x')", lambda g: nn.Flatten(1, "x"), *int_error("Flatten", "end_dim", "x")),
        ("Cell(auto_prefix=1)", lambda g: nn.Cell(auto_prefix=1), TypeError,
         house("Cell", "auto_prefix", "a bool", "1")),
        ("WithLossCell(5, loss)", lambda g: nn.WithLossCell(5, nn.MSELoss()), TypeError,
         house("WithLossCell", "backbone", "a Cell", "5")),
        ("WithLossCell(net, 5)", lambda g: nn.WithLossCell(nn.ReLU(), 5), TypeError,
         house("WithLossCell", "loss_fn", "callable (a loss Cell or function)", "5")),
        ("TrainOneStepCell(5, opt)", lambda g: nn.TrainOneStepCell(5, nn.SGD(params())), TypeError,
         house("TrainOneStepCell", "network", "a Cell", "5")),
        ("TrainOneStepCell(net, 5)", lambda g: nn.TrainOneStepCell(nn.ReLU(), 5), TypeError,
         house("TrainOneStepCell", "optimizer", "an Optimizer", "5")),
    ]
    for p in BAD_REALS:
        if isinstance(p, (list, complex)):
            continue
        for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
            cases.append((f"{cls.__name__}(p={p!r})", lambda g, c=cls, v=p: c(v, generator=g),
                          *real_error(cls.__name__, "p", p, "0", "1")))
    del g
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


@pytest.mark.parametrize("make, error, message", _layer_cases())
def test_layer_construction_refuses_bad_input_and_draws_nothing(make, error, message):
    g = nn.Generator().manual_seed(6)
    default_before = snapshot(mc.default_generator())
    with pytest.raises(error, match=message):
        make(g)
    assert int(g.get_state()[1].asnumpy()) == 0
    assert snapshot(mc.default_generator()) == default_before


def _call_cases():
    dense = lambda: nn.Dense(2, 3, generator=nn.Generator())  # noqa: E731
    return [
        ("Dense(x of 3)", dense, lambda: mc.Tensor(np.zeros((1, 3), np.float32)), ValueError,
         house("Dense", "x", "a Tensor whose last dimension is in_channels=2", "shape [1, 3]")),
        ("Dense(list)", dense, lambda: [1.0, 2.0], TypeError, house("Dense", "x", "a Tensor",
                                                                       "an object of type list")),
        ("Dense(ndarray)", dense, lambda: np.ones(2), TypeError, house("Dense", "x", "a Tensor",
                                                                        "an object of type ndarray")),
        ("Dense(int Tensor)", dense, lambda: mc.Tensor([1, 2]), TypeError,
         house("Dense", "x", "a floating-point Tensor", "a Tensor of dtype int64")),
        ("Dense(0-d)", dense, lambda: mc.Tensor(1.0), ValueError,
         house("Dense", "x", "a Tensor whose last dimension is in_channels=2", "shape []")),
        ("Dropout(int Tensor)", lambda: nn.Dropout(0.5, generator=nn.Generator()).set_train(),
         lambda: mc.Tensor([1, 2]), TypeError, house("dropout", "input", "a floating-point Tensor",
                                                     "a Tensor of dtype int64")),
        ("Dropout(list)", lambda: nn.Dropout(0.5, generator=nn.Generator()).set_train(), lambda: [1.0],
         TypeError, house("dropout", "input", "a Tensor", "an object of type list")),
        ("Dropout2d(2-D)", lambda: nn.Dropout2d(0.5, generator=nn.Generator()).set_train(),
         lambda: mc.Tensor(np.ones((2, 2), np.float32)), ValueError,
         house("Dropout2d", "input", "a 3-D (unbatched) or 4-D (batched) Tensor", "a 2-D Tensor of shape [2, 2]")),
        ("Dropout1d(4-D)", lambda: nn.Dropout1d(0.5, generator=nn.Generator()).set_train(),
         lambda: mc.Tensor(np.ones((2, 2, 2, 2), np.float32)), ValueError,
         house("Dropout1d", "input", "a 2-D (unbatched) or 3-D (batched) Tensor", "a 4-D Tensor of shape [2, 2, 2, "
                                                                                  "2]")),
        ("Dropout3d(int)", lambda: nn.Dropout3d(0.5, generator=nn.Generator()).set_train(),
         lambda: mc.Tensor(np.ones((2, 2, 2, 2), np.int32)), TypeError,
         house("Dropout3d", "input", "a floating-point Tensor", "a Tensor of dtype int32")),
        ("Softmax(axis=5)", lambda: nn.Softmax(5), lambda: mc.Tensor([1.0, 2.0]), ValueError,
         house("softmax", "axis", "in [-1, 1) for a 1-D tensor", "5")),
        ("Flatten(start_dim=4)", lambda: nn.Flatten(4), lambda: mc.Tensor(np.ones((2, 3))), ValueError,
         house("flatten", "start_dim", "in [-2, 2) for a 2-D tensor", "4")),
        ("ReLU('a')", lambda: nn.ReLU(), lambda: "a", TypeError, house("relu", "input", DATA, "'a'")),
        ("Sigmoid(None)", lambda: nn.Sigmoid(), lambda: None, TypeError, house("sigmoid", "input", DATA, "None")),
    ]


@pytest.mark.parametrize("make, data, error, message", [pytest.param(*c[1:], id=c[0]) for c in _call_cases()])
def test_layer_calls_refuse_bad_input_and_change_nothing(make, data, error, message):
    layer = make()
    before = snapshot(layer)
    with pytest.raises(error, match=message):
        layer(data())
    assert snapshot(layer) == before


# ----- losses ----------------------------------------------------------------------------------------
X = np.array([[0.5, -1.0, 2.0], [0.0, 0.1, -0.2]], np.float32)


def _loss_cases():
    cases = [
        ("MSELoss('avg')", lambda: nn.MSELoss("avg"), ValueError, house("MSELoss", "reduction", REDUCTIONS, "'avg'")),
        ("L1Loss(None)", lambda: nn.L1Loss(None), TypeError, house("L1Loss", "reduction", REDUCTIONS, "None")),
        ("MSELoss(shapes)", lambda: nn.MSELoss()(mc.Tensor(X), mc.Tensor(X[:1])), ValueError,
         house("MSELoss", "labels", "of the logits' shape [2, 3]", "shape [1, 3]")),
        ("L1Loss(shapes)", lambda: nn.L1Loss()(mc.Tensor(X), X.T), ValueError,
         house("L1Loss", "labels", "of the logits' shape [2, 3]", "shape [3, 2]")),
        ("MSELoss('a')", lambda: nn.MSELoss()("a", 1.0), TypeError, house("MSELoss", "logits", DATA, "'a'")),
        ("MSELoss(int logits)", lambda: nn.MSELoss()(mc.Tensor([1, 2]), mc.Tensor([1, 2])), TypeError,
         house("MSELoss", "logits", "a floating-point Tensor", "a Tensor of dtype int64")),
        ("MSELoss(str labels)", lambda: nn.MSELoss()(mc.Tensor(X), np.array([["a"] * 3] * 2)), TypeError,
         house("MSELoss", "labels", "an array of one of the dtypes ['Bool', 'Float16', 'Float32', 'Float64', 'Int16', "
               "'Int32', 'Int64', 'Int8', 'UInt16', 'UInt32', 'UInt64', 'UInt8']", "dtype <U1")),
        ("MSELoss(NaN labels)", lambda: nn.MSELoss()(mc.Tensor(X), np.full((2, 3), NAN)), ValueError,
         house("MSELoss", "labels", "finite", "NaN or inf")),
        ("CE(labels 9)", lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([0, 9])), ValueError,
         house("CrossEntropyLoss", "labels", "class indices in [0, 3) or ignore_index", "values [9]")),
        ("CE(labels -2)", lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([-2, 1])), ValueError,
         house("CrossEntropyLoss", "labels", "class indices in [0, 3) or ignore_index", "values [-2]")),
        ("CE(labels shape)", lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([0])), ValueError,
         house("CrossEntropyLoss", "labels", "of shape [2] (class indices)", "shape [1]")),
        ("CE(prob shape)", lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.ones((2, 2))), ValueError,
         house("CrossEntropyLoss", "labels", "of shape [2, 3] (class probabilities)", "shape [2, 2]")),
        ("CE(bool labels)", lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([True, False])), TypeError,
         house("CrossEntropyLoss", "labels", "integer class indices or float probabilities", "dtype bool")),
        ("CE(3-D logits)", lambda: nn.CrossEntropyLoss()(mc.Tensor(np.ones((2, 2, 2))), np.array([0, 1])),
         ValueError, house("CrossEntropyLoss", "logits", "of shape (N, C) or (C,)", "shape [2, 2, 2]")),
        ("CE(int logits)", lambda: nn.CrossEntropyLoss()(mc.Tensor([[1, 2]]), mc.Tensor([0])), TypeError,
         house("CrossEntropyLoss", "logits", "a floating-point Tensor", "a Tensor of dtype int64")),
        ("CE(weight shape)", lambda: nn.CrossEntropyLoss(weight=np.ones(2))(mc.Tensor(X), np.array([0, 1])),
         ValueError, house("CrossEntropyLoss", "weight", "of shape [3] for logits with 3 classes", "shape [2]")),
        ("CE(weight 'a')", lambda: nn.CrossEntropyLoss(weight="a"), TypeError,
         house("CrossEntropyLoss", "weight", "None, a number or a Tensor of numbers", "'a'")),
        ("CE(weight True)", lambda: nn.CrossEntropyLoss(weight=True), TypeError,
         house("CrossEntropyLoss", "weight", "None, a number or a Tensor of numbers", "True")),
        ("CE(weight NaN)", lambda: nn.CrossEntropyLoss(weight=[NAN, 1.0]), ValueError,
         house("CrossEntropyLoss", "weight", "finite and non-negative", "NaN or inf")),
        ("CE(weight inf)", lambda: nn.CrossEntropyLoss(weight=mc.Tensor([INF, 1.0])), ValueError,
         house("CrossEntropyLoss", "weight", "finite and non-negative", "NaN or inf")),
        ("CE(weight negative)", lambda: nn.CrossEntropyLoss(weight=[-1.0, 1.0]), ValueError,
         house("CrossEntropyLoss", "weight", "finite and non-negative", "values in [-1.0, 1.0]")),
        ("CE(weight 2-D)", lambda: nn.CrossEntropyLoss(weight=[[1.0]]), ValueError,
         house("CrossEntropyLoss", "weight", "a 1-D Tensor with one weight per class", "shape [1, 1]")),
        ("CE(weight str array)", lambda: nn.CrossEntropyLoss(weight=np.array(["a"])), TypeError,
         house("CrossEntropyLoss", "weight", "an array of one of the dtypes ['Bool', 'Float16', 'Float32', "
               "'Float64', 'Int16', 'Int32', 'Int64', 'Int8', 'UInt16', 'UInt32', 'UInt64', 'UInt8']", "dtype <U1")),
        ("CE(ignore_index 1.5)", lambda: nn.CrossEntropyLoss(ignore_index=1.5), *int_error(
            "CrossEntropyLoss", "ignore_index", 1.5)),
        ("CE(ignore_index 'a')", lambda: nn.CrossEntropyLoss(ignore_index="a"), *int_error(
            "CrossEntropyLoss", "ignore_index", "a")),
        ("CE(ignore_index True)", lambda: nn.CrossEntropyLoss(ignore_index=True), *int_error(
            "CrossEntropyLoss", "ignore_index", True)),
        ("CE(reduction 'avg')", lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
         house("CrossEntropyLoss", "reduction", REDUCTIONS, "'avg'")),
        ("BCE(weight 'a')", lambda: nn.BCEWithLogitsLoss(weight="a"), TypeError,
         house("BCEWithLogitsLoss", "weight", "None, a number or a Tensor of numbers", "'a'")),
        ("BCE(pos_weight inf)", lambda: nn.BCEWithLogitsLoss(pos_weight=INF), ValueError,
         house("BCEWithLogitsLoss", "pos_weight", "finite and non-negative", "NaN or inf")),
        ("BCE(pos_weight NaN)", lambda: nn.BCEWithLogitsLoss(pos_weight=[1.0, NAN]), ValueError,
         house("BCEWithLogitsLoss", "pos_weight", "finite and non-negative", "NaN or inf")),
        ("BCE(pos_weight -1)", lambda: nn.BCEWithLogitsLoss(pos_weight=-1.0), ValueError,
         house("BCEWithLogitsLoss", "pos_weight", "finite and non-negative", "values in [-1.0, -1.0]")),
        ("BCE(weight shape)", lambda: nn.BCEWithLogitsLoss(weight=[1.0, 2.0])(mc.Tensor(X), np.zeros((2, 3))),
         ValueError, house("BCEWithLogitsLoss", "weight", "broadcastable to the logits' shape [2, 3]", "shape [2]")),
        ("BCE(pos_weight shape)", lambda: nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])(mc.Tensor(X), np.zeros((2, 3))),
         ValueError, house("BCEWithLogitsLoss", "pos_weight", "broadcastable to the logits' shape [2, 3]",
                           "shape [2]")),
        ("BCE(labels shape)", lambda: nn.BCEWithLogitsLoss()(mc.Tensor(X), np.zeros(3)), ValueError,
         house("BCEWithLogitsLoss", "labels", "of the logits' shape [2, 3]", "shape [3]")),
        ("BCE(NaN labels)", lambda: nn.BCEWithLogitsLoss()(mc.Tensor(X), np.full((2, 3), NAN)), ValueError,
         house("BCEWithLogitsLoss", "labels", "finite", "NaN or inf")),
    ]
    for value in BAD_REALS + [1.5, -0.1]:
        error = real_error("CrossEntropyLoss", "label_smoothing", value, "0", "1")
        if isinstance(value, (list, complex)):
            error = (TypeError, house("CrossEntropyLoss", "label_smoothing", "a real number", got_of(value)))
        cases.append((f"CE(label_smoothing={value!r})", lambda v=value: nn.CrossEntropyLoss(label_smoothing=v), *error))
    return [pytest.param(*c[1:], id=c[0]) for c in cases]


@pytest.mark.parametrize("call, error, message", _loss_cases())
def test_losses_refuse_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- training cells and modes ------------------------------------------------------------------------
class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(2, 3, generator=nn.Generator().manual_seed(1))
        self.drop = nn.Dropout(0.5, generator=nn.Generator().manual_seed(2))

    def construct(self, x):
        return self.drop(self.fc(x))


@pytest.mark.parametrize("mode", ["yes", 1, 0, None, 1.0, [True]])
def test_set_train_with_a_non_bool_changes_nothing(mode):
    net = Net().set_train()
    with pytest.raises(TypeError, match=house("Net.set_train", "mode", "a bool", got_of(mode))):
        net.set_train(mode)
    assert all(cell.training for _, cell in net.cells_and_names())


@pytest.mark.parametrize("x, y, error, message", [
    (np.ones((4, 3), np.float32), np.zeros(4, np.int64), TypeError,
     house("Dense", "x", "a Tensor", "an object of type ndarray")),
    (mc.Tensor(np.ones((4, 3), np.float32)), mc.Tensor(np.zeros(4, np.int64)), ValueError,
     house("Dense", "x", "a Tensor whose last dimension is in_channels=2", "shape [4, 3]")),
    (mc.Tensor(np.ones((4, 2), np.float32)), mc.Tensor(np.full(4, 7)), ValueError,
     house("CrossEntropyLoss", "labels", "class indices in [0, 3) or ignore_index", "values [7]")),
    (mc.Tensor(np.ones((4, 2), np.float32)), mc.Tensor(np.zeros(3, np.int64)), ValueError,
     house("CrossEntropyLoss", "labels", "of shape [4] (class indices)", "shape [3]")),
])
def test_a_failed_training_step_changes_no_weight_and_no_optimizer_state(x, y, error, message):
    net = Net().set_train()
    opt = nn.Adam(net.trainable_params(), 0.1)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt).set_train()
    train(mc.Tensor(np.ones((4, 2), np.float32)), mc.Tensor(np.zeros(4, np.int64)))
    before = snapshot(train)
    with pytest.raises(error, match=message):
        train(x, y)
    after = snapshot(train)
    # the Dropout generator reserved its step only if the forward reached it; weights and Adam state never move
    weights = [b for b, (name, _) in zip(before, train.parameters_and_names()) if "generator" not in name]
    assert [b for b, (name, _) in zip(after, train.parameters_and_names()) if "generator" not in name] == weights


@given(st.one_of(st.sampled_from([INF, -INF, NAN]), st.integers(2 ** 1024, 2 ** 1100),
                 st.integers(-(2 ** 1100), -(2 ** 1024))),
       st.sampled_from(["learning_rate", "weight_decay", "eps", "beta1", "beta2"]))
def test_adam_refuses_every_non_finite_hyper_parameter(value, arg):
    bounds = ("0", "1", ")") if arg.startswith("beta") else ("0", "inf", "]")
    with pytest.raises(ValueError, match=real_error("Adam", arg, value, *bounds)[1]):
        nn.Adam(params(), **{arg: value})


@pytest.mark.parametrize("x, y, message", [
    (np.ones((4, 2), np.float32), np.zeros(3, np.int64),
     house("TrainOneStepCell", "inputs", "batched along axis 0 with the same number of rows (micro-batches)",
           "row counts [3, 4]")),
    (np.ones((0, 2), np.float32), np.zeros(0, np.int64),
     house("TrainOneStepCell", "inputs", "a non-empty global batch", "0 rows")),
])
def test_micro_batched_step_refuses_bad_batches_and_changes_nothing(x, y, message):
    net = Net().set_train()
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 0.1),
                                micro_batch_size=2).set_train()
    before = snapshot(train)
    with pytest.raises(ValueError, match=message):
        train(mc.Tensor(x), mc.Tensor(y))
    assert snapshot(train) == before
