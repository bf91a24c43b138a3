"""Conv1d / Conv2d: forward against a naive loop, gradients against finite differences,
MindSpore's padding modes, errors, dtypes, deterministic initialization and checkpoints."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from minicell.initializer import HeUniform, Uniform, initializer
from tests.gradcheck import assert_grads_match


def naive_conv2d(x, w, b, stride, pads, dilation, group):
    """Direct definition: one output pixel at a time, written independently of the im2col code."""
    (top, bottom), (left, right) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = xp.shape
    o, cg, kh, kw = w.shape
    og = o // group
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    for y in range(ho):
        for x_ in range(wo):
            for g in range(group):
                patch = xp[:, g * cg:(g + 1) * cg,
                           y * stride[0]: y * stride[0] + dilation[0] * (kh - 1) + 1: dilation[0],
                           x_ * stride[1]: x_ * stride[1] + dilation[1] * (kw - 1) + 1: dilation[1]]
                out[:, g * og:(g + 1) * og, y, x_] = np.einsum("nckl,ockl->no", patch, w[g * og:(g + 1) * og])
    return out if b is None else out + b[None, :, None, None]


def same_pads(size, k, s, d):
    """MindSpore's 'same': output ceil(size / s), the odd padding element at the end."""
    total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


conv_cases = st.fixed_dictionaries({
    "n": st.integers(1, 2), "group": st.integers(1, 2), "cg": st.integers(1, 2), "og": st.integers(1, 2),
    "h": st.integers(1, 6), "w": st.integers(1, 6), "kh": st.integers(1, 3), "kw": st.integers(1, 3),
    "sh": st.integers(1, 3), "sw": st.integers(1, 3), "dh": st.integers(1, 2), "dw": st.integers(1, 2),
    "mode": st.sampled_from(["same", "valid", "pad"]), "pad": st.tuples(*[st.integers(0, 2)] * 4),
    "bias": st.booleans(), "seed": st.integers(0, 2**32 - 1),
})


def materialize(case):
    rng = np.random.default_rng(case["seed"])
    c, o = case["group"] * case["cg"], case["group"] * case["og"]
    x = rng.standard_normal((case["n"], c, case["h"], case["w"]))
    w = rng.standard_normal((o, case["cg"], case["kh"], case["kw"]))
    b = rng.standard_normal(o) if case["bias"] else None
    if case["mode"] == "same":
        pads = (same_pads(case["h"], case["kh"], case["sh"], case["dh"]),
                same_pads(case["w"], case["kw"], case["sw"], case["dw"]))
    elif case["mode"] == "valid":
        pads = ((0, 0), (0, 0))
    else:
        pads = (case["pad"][:2], case["pad"][2:])
    fits = all(size + p[0] + p[1] >= d * (k - 1) + 1 for size, p, k, d in
               ((case["h"], pads[0], case["kh"], case["dh"]), (case["w"], pads[1], case["kw"], case["dw"])))
    return x, w, b, pads, fits


def call(case, x, w, b):
    padding = case["pad"] if case["mode"] == "pad" else 0
    return ops.conv2d(x, w, b, stride=(case["sh"], case["sw"]), pad_mode=case["mode"], padding=padding,
                      dilation=(case["dh"], case["dw"]), groups=case["group"])


@settings(max_examples=30)
@given(case=conv_cases)
def test_conv2d_forward_matches_the_direct_definition(case):
    x, w, b, pads, fits = materialize(case)
    if not fits:
        with pytest.raises(ValueError, match="does not fit"):
            call(case, mc.Tensor(x), mc.Tensor(w), None if b is None else mc.Tensor(b))
        return
    got = call(case, mc.Tensor(x), mc.Tensor(w), None if b is None else mc.Tensor(b)).asnumpy()
    want = naive_conv2d(x, w, b, (case["sh"], case["sw"]), pads, (case["dh"], case["dw"]), case["group"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if case["mode"] == "same":
        assert got.shape[2:] == (math.ceil(case["h"] / case["sh"]), math.ceil(case["w"] / case["sw"]))


@settings(max_examples=12)
@given(case=conv_cases)
def test_conv2d_gradients_match_finite_differences(case):
    x, w, b, _, fits = materialize(case)
    assume(fits)  # (the cases that do not fit are the forward test's error cases)
    if b is None:
        assert_grads_match(lambda x_, w_: call(case, x_, w_, None), x, w)
    else:
        assert_grads_match(lambda x_, w_, b_: call(case, x_, w_, b_), x, w, b)


@settings(max_examples=12)
@given(n=st.integers(1, 2), group=st.integers(1, 2), length=st.integers(1, 7), k=st.integers(1, 3),
       stride=st.integers(1, 3), dilation=st.integers(1, 2), pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       seed=st.integers(0, 2**32 - 1))
def test_conv1d_is_conv2d_on_a_single_row(n, group, length, k, stride, dilation, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2 * group, length))
    w = rng.standard_normal((group, 2, k))
    b = rng.standard_normal(group)
    assume(length + sum(pad) >= dilation * (k - 1) + 1)  # the kernel fits the padded row
    got = ops.conv1d(mc.Tensor(x), mc.Tensor(w), mc.Tensor(b), stride, "pad", pad, dilation, group).asnumpy()
    want = naive_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), ((0, 0), pad), (1, dilation), group)[:, :, 0]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert_grads_match(lambda x_, w_, b_: ops.conv1d(x_, w_, b_, stride, "pad", pad, dilation, group), x, w, b)


def test_same_padding_known_answers():
    # 5 wide, kernel 2, stride 2: output 3, total padding 1, all of it on the right (MindSpore/TF)
    x = mc.Tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    w = mc.Tensor(np.ones((1, 1, 1, 2)))
    assert ops.conv2d(x, w, pad_mode="same", stride=(1, 2)).asnumpy().ravel().tolist() == [1.0, 5.0, 4.0]
    # 4 wide, kernel 3, stride 1: total padding 2, one each side
    x = mc.Tensor(np.arange(1.0, 5.0).reshape(1, 1, 1, 4))
    w = mc.Tensor(np.ones((1, 1, 1, 3)))
    assert ops.conv2d(x, w, pad_mode="same").asnumpy().ravel().tolist() == [3.0, 6.0, 9.0, 7.0]
    # 'pad' with (top, bottom, left, right)
    out = ops.conv2d(mc.Tensor(np.ones((1, 1, 2, 2))), mc.Tensor(np.ones((1, 1, 1, 1))), pad_mode="pad",
                     padding=(1, 0, 0, 2))
    assert out.asnumpy()[0, 0].tolist() == [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]


def test_conv2d_layer_defaults_are_mindsporeS_and_draw_one_step_per_random_init():
    gen = mc.Generator().manual_seed(3)
    layer = nn.Conv2d(4, 6, 3, generator=gen)
    assert layer.pad_mode == "same" and layer.bias is None and int(gen.get_state()[1]) == 1
    want = initializer(HeUniform(negative_slope=math.sqrt(5)), (6, 4, 3, 3), generator=mc.Generator().manual_seed(3))
    assert np.array_equal(layer.weight.asnumpy(), want.asnumpy())
    assert np.abs(layer.weight.asnumpy()).max() <= 1 / math.sqrt(36)
    gen = mc.Generator().manual_seed(3)
    grouped = nn.Conv2d(4, 6, (3, 1), group=2, has_bias=True, generator=gen)
    assert grouped.weight.shape == (6, 2, 3, 1) and int(gen.get_state()[1]) == 2
    bias = initializer(Uniform(1 / math.sqrt(6)), (6,), generator=mc.Generator().set_state(3, 1))
    assert np.array_equal(grouped.bias.asnumpy(), bias.asnumpy())
    again = nn.Conv2d(4, 6, (3, 1), group=2, has_bias=True, generator=mc.Generator().manual_seed(3))
    assert np.array_equal(again.weight.asnumpy(), grouped.weight.asnumpy())
    other = nn.Conv2d(4, 6, (3, 1), group=2, has_bias=True, generator=mc.Generator().manual_seed(4))
    assert not np.array_equal(other.weight.asnumpy(), grouped.weight.asnumpy())
    conv1 = nn.Conv1d(2, 3, 5, has_bias=True, generator=mc.Generator().manual_seed(0))
    assert conv1.weight.shape == (3, 2, 5) and conv1(mc.Tensor(np.ones((1, 2, 7), np.float32))).shape == (1, 3, 7)


def test_float32_stays_float32_through_forward_and_backward():
    layer = nn.Conv2d(2, 3, 3, stride=2, has_bias=True, generator=mc.Generator())
    x = mc.Tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True)
    out = layer(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


def test_checkpoint_round_trip(tmp_path):
    make = lambda seed: nn.SequentialCell(nn.Conv2d(1, 2, 3, has_bias=True, generator=mc.Generator().manual_seed(seed)),  # noqa: E731
                                          nn.Conv1d(2, 2, 1, generator=mc.Generator().manual_seed(seed)))
    a, b = make(1), make(2)
    mc.save_checkpoint(a, tmp_path / "conv.ckpt")
    mc.load_param_into_net(b, mc.load_checkpoint(tmp_path / "conv.ckpt"), strict_load=True)
    for (na, pa), (nb, pb) in zip(a.parameters_and_names(), b.parameters_and_names()):
        assert na == nb and np.array_equal(pa.asnumpy(), pb.asnumpy())


X4 = mc.Tensor(np.zeros((1, 2, 4, 4), np.float32))
W = mc.Tensor(np.zeros((2, 2, 3, 3), np.float32))


@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.Conv2d(0, 2, 3), ValueError, r"For 'Conv2d', 'in_channels' must be an int in \[1, inf\), but got 0"),
    (lambda: nn.Conv2d(2, 2, 3.0), TypeError, r"For 'Conv2d', 'kernel_size' must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(2, 2, (3, 3, 3)), TypeError, r"'kernel_size' must be an int or a tuple of 2 ints, but got"),
    (lambda: nn.Conv2d(2, 2, 3, stride=0), ValueError, r"'stride' must be an int or a tuple of 2 ints >= 1, but got 0"),
    (lambda: nn.Conv2d(2, 2, 3, pad_mode="SAME"), ValueError, r"'pad_mode' must be one of \['same', 'valid', 'pad'\]"),
    (lambda: nn.Conv2d(2, 2, 3, padding=1), ValueError, r"'padding' must be 0 when 'pad_mode' is not 'pad'"),
    (lambda: nn.Conv2d(2, 2, 3, pad_mode="pad", padding=-1), ValueError, r"'padding' must be non-negative"),
    (lambda: nn.Conv2d(2, 2, 3, pad_mode="pad", padding=(1, 2, 3)), TypeError,
         r"'padding' must be an int or a tuple of 2 or 4"),
    (lambda: nn.Conv2d(3, 2, 3, group=2), ValueError, r"'in_channels' must be divisible by group \(2\), but got 3"),
    (lambda: nn.Conv2d(2, 3, 3, group=2), ValueError, r"'out_channels' must be divisible by group \(2\), but got 3"),
    (lambda: nn.Conv2d(2, 2, 3, has_bias=1), TypeError, r"'has_bias' must be a bool, but got 1"),
    (lambda: nn.Conv2d(2, 2, 3, generator=0), TypeError, r"'generator' must be a Generator or None"),
    (lambda: nn.Conv1d(2, 2, (3, 3)), TypeError, r"For 'Conv1d', 'kernel_size' must be an int, but got"),
    (lambda: nn.Conv2d(3, 2, 3, generator=mc.Generator())(X4), ValueError,
         r"^For 'Conv2d', 'x' must be a Tensor with in_channels = weight.shape\[1\] \* groups = 3 channels, "
     r"but got shape \[1, 2, 4, 4\]\.$"),
    (lambda: nn.Conv2d(2, 2, 3, generator=mc.Generator())(X4[0]), ValueError,
         r"'x' must be a Tensor of shape \(N, C_in, H, W\)"),
    (lambda: nn.Conv2d(2, 2, 3, generator=mc.Generator())(np.zeros((1, 2, 4, 4))), TypeError, r"'x' must be a Tensor"),
    (lambda: nn.Conv2d(2, 2, 5, pad_mode="valid", generator=mc.Generator())(X4), ValueError,
         r"^For 'Conv2d', 'kernel_size' must be a \(dilated\) kernel that fits the input of spatial size \[4, 4\] "
     r"\(padding \[\[0, 0\], \[0, 0\]\]\), but got \[5, 5\], whose dilated size 5 does not fit\.$"),
    (lambda: ops.conv2d(X4.astype(np.int32), W), TypeError, r"For 'conv2d', 'input' must be a floating-point Tensor"),
    (lambda: ops.conv2d(X4, W, mc.Tensor(np.zeros(3))), ValueError, r"'bias' must be None or a Tensor of shape \[2\]"),
    (lambda: ops.conv2d(X4, W, groups=0), ValueError, r"For 'conv2d', 'groups' must be an int in \[1, inf\)"),
])
def test_bad_arguments_are_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_failed_construction_reserves_no_offset():
    gen = mc.Generator().manual_seed(1)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 2, 3, group=2, generator=gen)
    assert int(gen.get_state()[1]) == 0


def test_conv2d_matches_torch_convention_by_an_independent_loop_reference():
    """torch.nn.functional.conv2d's definition (a cross-correlation, kernel not flipped; output
    channel o of group g = o // (C_out / groups) sees input channels g*C_in/groups ...; zero padding
    on both sides), written tap by tap here: the case the torch comparison below checks."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    (sh, sw), (ph, pw), (dh, dw), groups = (2, 1), (1, 2), (1, 2), 2
    got = ops.conv2d(mc.Tensor(x), mc.Tensor(w), mc.Tensor(b), stride=(sh, sw), pad_mode="pad", padding=(ph, pw),
                     dilation=(dh, dw), groups=groups).asnumpy()
    n, c_in, h, wd = x.shape
    c_out, c_group, kh, kw = w.shape
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    want = np.zeros((n, c_out, ho, wo))
    for o in range(c_out):
        g = o // (c_out // groups)
        for y in range(ho):
            for q in range(wo):
                total = np.full(n, b[o])
                for c in range(c_group):
                    for i in range(kh):
                        for j in range(kw):
                            r, s = y * sh + i * dh - ph, q * sw + j * dw - pw
                            if 0 <= r < h and 0 <= s < wd:
                                total = total + w[o, c, i, j] * x[:, g * c_group + c, r, s]
                want[:, o, y, q] = total
    assert got.shape == (2, 6, 5, 10)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv2d_known_answer_is_a_cross_correlation():
    """By hand: x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], kernel [[1, 0], [0, -1]] -> x[i, j] - x[i+1, j+1]."""
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    assert ops.conv2d(mc.Tensor(x), mc.Tensor(w)).asnumpy().tolist() == [[[[-4.0, -4.0], [-4.0, -4.0]]]]
    w = np.array([[[[0.0, 1.0], [2.0, 0.0]]]])  # x[i, j+1] + 2 x[i+1, j]: a flipped kernel would differ
    assert ops.conv2d(mc.Tensor(x), mc.Tensor(w)).asnumpy().tolist() == [[[[10.0, 13.0], [19.0, 22.0]]]]


def test_matches_torch_when_installed():
    """An extra, when torch is installed (it is not a test dependency): the loop reference above is the check."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    got = ops.conv2d(mc.Tensor(x), mc.Tensor(w), mc.Tensor(b), stride=(2, 1), pad_mode="pad", padding=(1, 2),
                     dilation=(1, 2), groups=2).asnumpy()
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 1),
                                      padding=(1, 2), dilation=(1, 2), groups=2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_im2col_and_col2im_split_across_threads_give_identical_bits():
    from minicell._runtime.parallel import get_num_threads, set_num_threads
    from minicell.primitives import _window as W
    xp = np.random.default_rng(0).standard_normal((1, 3, 200, 200)).astype(np.float32)  # large enough to split
    geometry = ((3, 3), (1, 1), (1, 1), (198, 198))
    before = get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            set_num_threads(threads)
            cols = W.gather(xp, *geometry)
            results.append((cols, W.scatter_add(cols, xp.shape, *geometry[:3], ((0, 0), (0, 0)))))
    finally:
        set_num_threads(before)
    assert results[0][0].tobytes() == results[1][0].tobytes() and results[0][1].tobytes() == results[1][1].tobytes()
    # cols[c, i, j, n] = xp[n, c, i + y, j + x]
    assert np.array_equal(results[0][0][:, 1, 2, 0], xp[0, :, 1:199, 2:200])
