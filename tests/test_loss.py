"""Losses: values against NumPy formulas, reductions, stability, gradients by finite differences."""
import numpy as np
import pytest

import minicell as mc
from minicell import nn
from tests.bad_inputs import house
from tests.gradcheck import assert_grads_match

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5))
T = rng.standard_normal((4, 5))
LABELS = np.array([0, 3, 4, 1])
PROBS = rng.dirichlet(np.ones(5), size=4)


def log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction,reduce", [("mean", np.mean), ("sum", np.sum), ("none", lambda v: v)])
def test_mse_l1_values(reduction, reduce):
    assert np.allclose(nn.MSELoss(reduction)(mc.Tensor(X), mc.Tensor(T)).asnumpy(), reduce((X - T) ** 2))
    assert np.allclose(nn.L1Loss(reduction)(mc.Tensor(X), T).asnumpy(), reduce(np.abs(X - T)))


def test_cross_entropy_integer_labels_with_smoothing_and_weights():
    lp = log_softmax(X)
    assert np.isclose(float(nn.CrossEntropyLoss()(mc.Tensor(X), LABELS)), -lp[np.arange(4), LABELS].mean())
    eps, w = 0.2, np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    per = (1 - eps) * -w[LABELS] * lp[np.arange(4), LABELS] + eps / 5 * -(w * lp).sum(1)
    loss = nn.CrossEntropyLoss(weight=w, label_smoothing=eps)(mc.Tensor(X), mc.Tensor(LABELS))
    assert np.isclose(float(loss), per.sum() / w[LABELS].sum())
    none = nn.CrossEntropyLoss(weight=w, label_smoothing=eps, reduction="none")(mc.Tensor(X), LABELS)
    assert np.allclose(none.asnumpy(), per)
    ignored = nn.CrossEntropyLoss(ignore_index=4)(mc.Tensor(X), LABELS)
    keep = LABELS != 4
    assert np.isclose(float(ignored), -lp[np.arange(4), LABELS][keep].mean())


def test_cross_entropy_probabilities_and_unbatched():
    lp = log_softmax(X)
    eps = 0.1
    smoothed = (1 - eps) * PROBS + eps / 5
    loss = float(nn.CrossEntropyLoss(label_smoothing=eps)(mc.Tensor(X), PROBS))
    assert np.isclose(loss, -(smoothed * lp).sum(1).mean())
    assert np.isclose(float(nn.CrossEntropyLoss()(mc.Tensor(X[0]), np.array(2))), -lp[0, 2])


def test_bce_with_logits_values_and_stability():
    y = (rng.random((4, 5)) > 0.5).astype(np.float64)
    sig = 1 / (1 + np.exp(-X))
    expected = -(y * np.log(sig) + (1 - y) * np.log(1 - sig))
    assert np.allclose(nn.BCEWithLogitsLoss(reduction="none")(mc.Tensor(X), y).asnumpy(), expected)
    pw = np.array([2.0, 1.0, 0.5, 3.0, 1.0])
    expected_pw = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    assert np.allclose(nn.BCEWithLogitsLoss(pos_weight=pw, reduction="none")(mc.Tensor(X), y).asnumpy(), expected_pw)
    big = mc.Tensor(np.array([1000.0, -1000.0]))
    out = nn.BCEWithLogitsLoss(reduction="none")(big, np.array([0.0, 1.0])).asnumpy()
    assert np.allclose(out, [1000.0, 1000.0])
    assert np.isfinite(float(nn.CrossEntropyLoss()(mc.Tensor(np.array([[1e4, -1e4]])), np.array([1]))))


def test_loss_gradients_against_finite_differences():
    y = (rng.random((4, 5)) > 0.5).astype(np.float64)
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    assert_grads_match(lambda x: nn.MSELoss()(x, T), X)
    assert_grads_match(lambda x: nn.L1Loss("sum")(x, T), X)
    assert_grads_match(lambda x: nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(x, LABELS), X)
    assert_grads_match(lambda x: nn.CrossEntropyLoss(reduction="none")(x, PROBS), X)
    assert_grads_match(lambda x: nn.BCEWithLogitsLoss(pos_weight=w)(x, y), X)


def test_float32_losses_stay_float32():
    x32 = mc.Tensor(X.astype(np.float32), requires_grad=True)
    loss = nn.CrossEntropyLoss()(x32, LABELS)
    loss.backward()
    assert loss.dtype == np.float32 and x32.grad.dtype == np.float32


@pytest.mark.parametrize("call,error,who,arg,expected,got", [
    (lambda: nn.MSELoss("avg"), ValueError, "MSELoss", "reduction", "one of ['mean', 'sum', 'none']", "'avg'"),
    (lambda: nn.MSELoss()(mc.Tensor(X), T[:2]), ValueError, "MSELoss", "labels", "of the logits' shape [4, 5]",
     "shape [2, 5]"),
    (lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([0, 1, 2, 9])), ValueError, "CrossEntropyLoss", "labels",
     "class indices in [0, 5) or ignore_index", "values [9]"),
    (lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array([0, 1])), ValueError, "CrossEntropyLoss", "labels",
     "of shape [4] (class indices)", "shape [2]"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, "CrossEntropyLoss", "label_smoothing",
     "a float in [0, 1]", "1.5"),
    (lambda: nn.CrossEntropyLoss()(mc.Tensor(X), np.array(["a"] * 4)), TypeError, "CrossEntropyLoss", "labels",
     "an array of one of the dtypes ['Bool', 'Float16', 'Float32', 'Float64', 'Int16', 'Int32', 'Int64', 'Int8', "
     "'UInt16', 'UInt32', 'UInt64', 'UInt8']", "dtype <U1"),
    (lambda: nn.CrossEntropyLoss(weight=np.ones(3))(mc.Tensor(X), LABELS), ValueError, "CrossEntropyLoss", "weight",
     "of shape [5] for logits with 5 classes", "shape [3]"),
])
def test_loss_errors(call, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call()
