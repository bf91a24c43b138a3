"""MultiheadAttention: forward against a NumPy reference, gradients, masks, sharded dropout."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn
from minicell.ops._attention import dot_product_attention
from minicell.random import keep_mask
from minicell.random.dropout_scale import keep_scale
from tests.gradcheck import assert_grads_match


def params(m):
    return {name: p.asnumpy().astype(np.float64) for name, p in m.parameters_and_names()}


def reference(m, q, k, v, bias=None):
    """Multi-head attention written out per batch row and head, in float64, batch-first inputs."""
    p, e, h = params(m), m.embed_dim, m.num_heads
    d = e // h
    if m.fused:
        wq, wk, wv = np.split(p["in_proj_weight"], 3)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    bq, bk, bv = np.split(p["in_proj_bias"], 3) if m.has_bias else (0, 0, 0)
    out = np.zeros(q.shape[:2] + (e,))
    extra = int(m.add_bias_kv) + int(m.add_zero_attn)
    weights = np.zeros((q.shape[0], h, q.shape[1], k.shape[1] + extra))
    for b in range(q.shape[0]):
        qp, kp, vp = q[b] @ wq.T + bq, k[b] @ wk.T + bk, v[b] @ wv.T + bv
        if m.add_bias_kv:
            kp, vp = np.vstack([kp, p["bias_k"][0]]), np.vstack([vp, p["bias_v"][0]])
        if m.add_zero_attn:
            kp, vp = np.vstack([kp, np.zeros(e)]), np.vstack([vp, np.zeros(e)])
        heads = []
        for hh in range(h):
            cols = slice(hh * d, (hh + 1) * d)
            scores = qp[:, cols] @ kp[:, cols].T / math.sqrt(d)
            if bias is not None:
                full = np.broadcast_to(bias, (q.shape[0], h, q.shape[1], k.shape[1]))[b, hh]
                scores = scores + np.pad(full, [(0, 0), (0, extra)])
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            weights[b, hh] = probs
            heads.append(probs @ vp[:, cols])
        out[b] = np.concatenate(heads, axis=1) @ p["out_proj.weight"].T + (p["out_proj.bias"] if m.has_bias else 0)
    return out, weights


def data(rng, *shape):
    return rng.standard_normal(shape)


@settings(max_examples=15)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.sampled_from([(4, 1), (4, 2), (6, 3)]),
       st.booleans(), st.booleans(), st.integers(0, 50))
def test_forward_matches_numpy_reference(n, tgt, s, dims, batch_first, has_bias, seed):
    e, h = dims
    rng = np.random.default_rng(seed)
    m = nn.MultiheadAttention(e, h, has_bias=has_bias, batch_first=batch_first, dtype=np.float64,
                              generator=nn.Generator().manual_seed(seed))
    q, k, v = data(rng, n, tgt, e), data(rng, n, s, e), data(rng, n, s, e)
    t = (lambda x: mc.Tensor(x)) if batch_first else (lambda x: mc.Tensor(np.swapaxes(x, 0, 1)))
    out, w = m(t(q), t(k), t(v), average_attn_weights=False)
    want, want_w = reference(m, q, k, v)
    got = out.asnumpy() if batch_first else np.swapaxes(out.asnumpy(), 0, 1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.asnumpy(), want_w, rtol=1e-10, atol=1e-12)
    _, avg = m(t(q), t(k), t(v))
    np.testing.assert_allclose(avg.asnumpy(), want_w.mean(axis=1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bias_kv, zero_attn", [(True, False), (False, True), (True, True)])
def test_bias_kv_and_zero_attention_match_the_reference_with_masks(bias_kv, zero_attn):
    rng = np.random.default_rng(4)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=bias_kv, add_zero_attn=zero_attn, batch_first=True,
                              dtype=np.float64, generator=nn.Generator().manual_seed(3))
    q, kv = data(rng, 2, 3, 4), data(rng, 2, 5, 4)
    pad = np.array([[False] * 4 + [True], [False] * 5])
    out, w = m(mc.Tensor(q), mc.Tensor(kv), mc.Tensor(kv), key_padding_mask=pad, average_attn_weights=False)
    want, want_w = reference(m, q, kv, kv, bias=np.where(pad, -np.inf, 0.0)[:, None, None, :])
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.asnumpy(), want_w, rtol=1e-10, atol=1e-12)
    assert w.shape == (2, 2, 3, 5 + bias_kv + zero_attn)
    assert_grads_match(lambda a, c: m(a, c, c, is_causal=True)[0], q[:1], kv[:1, :3])


def test_unbatched_and_separate_key_value_widths():
    rng = np.random.default_rng(1)
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, dtype=np.float64, generator=nn.Generator().manual_seed(2))
    names = [n for n, _ in m.parameters_and_names()][:4]
    assert names == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias"]
    q, k, v = data(rng, 3, 4), data(rng, 2, 3), data(rng, 2, 5)
    out, w = m(mc.Tensor(q), mc.Tensor(k), mc.Tensor(v))
    want, want_w = reference(m, q[None], k[None], v[None])
    np.testing.assert_allclose(out.asnumpy(), want[0], rtol=1e-10)
    assert w.shape == (3, 2)
    np.testing.assert_allclose(w.asnumpy(), want_w[0].mean(axis=0), rtol=1e-10)
    only = m(mc.Tensor(q), mc.Tensor(k), mc.Tensor(v), need_weights=False)
    assert isinstance(only, tuple) and len(only) == 1


@settings(max_examples=10)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(0, 50), st.floats(0.0, 0.6))
def test_attention_gradients_match_finite_differences_with_dropout(b, tgt, s, seed, p):
    rng = np.random.default_rng(seed)
    q, k, v = data(rng, b, 2, tgt, 3), data(rng, b, 2, s, 3), data(rng, b, 2, s, 2)
    bias = np.where(rng.random((1, 1, tgt, s)) < 0.2, -np.inf, 0.0)
    bias[..., 0] = 0.0  # every query keeps at least one key

    def fn(qt, kt, vt):
        return dot_product_attention(qt, kt, vt, bias, 0.7, p, seed=9, offset=seed, start=5)[0]
    assert_grads_match(fn, q, k, v, rtol=1e-5, atol=1e-7)

    def weights(qt, kt):  # the returned (dropped-out) probabilities are differentiable too
        return dot_product_attention(qt, kt, mc.Tensor(v), bias, 0.7, p, seed=9, offset=seed, start=5)[1]
    assert_grads_match(weights, q, k, rtol=1e-5, atol=1e-7)


def test_layer_gradients_match_finite_differences_for_inputs_and_parameters():
    rng = np.random.default_rng(3)
    m = nn.MultiheadAttention(4, 2, dtype=np.float64, generator=nn.Generator().manual_seed(4))
    q, k = data(rng, 3, 2, 4), data(rng, 2, 2, 4)
    mask = np.array([[False, True], [False, False]])
    assert_grads_match(lambda a, c: m(a, c, c, key_padding_mask=mask)[0], q, k)
    assert_grads_match(lambda a, c: m(a, c, c, key_padding_mask=mask)[1], q, k)
    weights = m.trainable_params()
    grads = mc.grad(lambda: (m(mc.Tensor(q), mc.Tensor(k), mc.Tensor(k))[0] ** 2).sum(), None, weights)()
    for w, g in zip(weights, grads):
        numeric = np.zeros(w.shape)
        for idx in np.ndindex(w.shape):
            old = w._data[idx]
            vals = []
            for delta in (1e-6, -1e-6):
                w._data[idx] = old + delta
                vals.append((m(mc.Tensor(q), mc.Tensor(k), mc.Tensor(k))[0].asnumpy() ** 2).sum())
            w._data[idx] = old
            numeric[idx] = (vals[0] - vals[1]) / 2e-6
        np.testing.assert_allclose(g.asnumpy(), numeric, rtol=1e-5, atol=1e-7, err_msg=w.name)


def test_causal_mask_equals_a_manual_minus_infinity_mask_and_bool_equals_float():
    rng = np.random.default_rng(5)
    m = nn.MultiheadAttention(4, 2, batch_first=True, generator=nn.Generator().manual_seed(1))
    x = mc.Tensor(data(rng, 2, 5, 4).astype(np.float32))
    manual = np.where(np.arange(5)[None, :] > np.arange(5)[:, None], -np.inf, 0.0).astype(np.float32)
    causal, cw = m(x, x, x, is_causal=True)
    float_mask, fw = m(x, x, x, attn_mask=mc.Tensor(manual))
    bool_mask, bw = m(x, x, x, attn_mask=mc.Tensor(manual < 0))
    assert np.array_equal(causal.asnumpy(), float_mask.asnumpy())
    assert np.array_equal(causal.asnumpy(), bool_mask.asnumpy())
    assert np.all(cw.asnumpy()[:, np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)
    assert np.array_equal(cw.asnumpy(), bw.asnumpy())


def test_padded_keys_get_zero_attention_and_do_not_matter():
    rng = np.random.default_rng(6)
    m = nn.MultiheadAttention(6, 3, generator=nn.Generator().manual_seed(1))
    q, kv = data(rng, 4, 2, 6).astype(np.float32), data(rng, 5, 2, 6).astype(np.float32)
    pad = np.array([[False, False, False, True, True], [False, True, False, False, False]])
    out, w = m(mc.Tensor(q), mc.Tensor(kv), mc.Tensor(kv), key_padding_mask=mc.Tensor(pad), average_attn_weights=False)
    assert np.all(w.asnumpy()[0, :, :, 3:] == 0) and np.all(w.asnumpy()[1, :, :, 1] == 0)
    np.testing.assert_allclose(w.asnumpy().sum(axis=-1), 1.0, rtol=1e-6)
    changed = kv.copy()
    changed[3:, 0] += 100.0
    changed[1, 1] -= 50.0
    out2, _ = m(mc.Tensor(q), mc.Tensor(changed), mc.Tensor(changed), key_padding_mask=mc.Tensor(pad))
    np.testing.assert_allclose(out.asnumpy(), out2.asnumpy(), rtol=1e-5, atol=1e-6)
    float_pad = np.where(pad, -np.inf, 0.0)
    out3, _ = m(mc.Tensor(q), mc.Tensor(kv), mc.Tensor(kv), key_padding_mask=float_pad)
    assert np.array_equal(out.asnumpy(), out3.asnumpy())


def test_dropout_masks_follow_the_contract_and_one_offset_per_call():
    rng = np.random.default_rng(7)
    gen = nn.Generator().manual_seed(11)
    m = nn.MultiheadAttention(4, 2, dropout=0.3, batch_first=True, generator=gen)
    start = int(gen.get_state()[1])  # after the initial weights' draws
    x = mc.Tensor(data(rng, 3, 5, 4).astype(np.float32))
    eval_w = m(x, x, x, average_attn_weights=False)[1].asnumpy()
    assert int(gen.get_state()[1]) == start  # eval mode: no dropout, no offset reserved
    m.set_train()
    _, w = m(x, x, x, average_attn_weights=False)
    assert int(gen.get_state()[1]) == start + 1
    keep = keep_mask(11, start, (3, 2, 5, 5), 0.3)
    assert 0 < keep.mean() < 1
    assert np.array_equal(w.asnumpy(), eval_w * keep * keep_scale(0.3, np.float32))
    m(x, x, x)
    assert int(gen.get_state()[1]) == start + 2
    other = nn.MultiheadAttention(4, 2, dropout=0.0, generator=gen).set_train()
    before = int(gen.get_state()[1])
    other(x, x, x)
    assert int(gen.get_state()[1]) == before  # dropout=0: nothing reserved


@pytest.mark.parametrize("lo, hi", [(0, 2), (2, 5), (1, 4), (4, 5)])
def test_a_batch_shard_with_its_global_start_equals_the_slice_of_the_whole_batch(lo, hi):
    rng = np.random.default_rng(8)
    x = data(rng, 5, 4, 8).astype(np.float32)
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True, generator=nn.Generator().manual_seed(3)).set_train()
    offset = int(m.generator.get_state()[1])
    full_out, full_w = m(mc.Tensor(x), mc.Tensor(x), mc.Tensor(x), average_attn_weights=False)
    m.generator.set_state(3, offset)
    part = mc.Tensor(np.ascontiguousarray(x[lo:hi]))
    out, w = m(part, part, part, average_attn_weights=False, batch_start=lo)
    assert np.array_equal(w.asnumpy(), full_w.asnumpy()[lo:hi])
    assert np.array_equal(out.asnumpy(), full_out.asnumpy()[lo:hi])


def test_float32_stays_float32_and_gradients_are_float32():
    m = nn.MultiheadAttention(4, 2, dropout=0.1, generator=nn.Generator().manual_seed(1)).set_train()
    x = mc.Tensor(np.ones((3, 2, 4), np.float32), requires_grad=True)
    out, w = m(x, x, x)
    assert out.dtype == np.float32 and w.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and m.in_proj_weight.dtype == np.float32


def test_checkpoint_round_trip(tmp_path):
    m = nn.MultiheadAttention(6, 2, generator=nn.Generator().manual_seed(1))
    path = str(tmp_path / "mha.ckpt")
    mc.save_checkpoint(m, path)
    other = nn.MultiheadAttention(6, 2, generator=nn.Generator().manual_seed(2))
    mc.load_param_into_net(other, mc.load_checkpoint(path), strict_load=True)
    x = mc.Tensor(np.random.default_rng(0).standard_normal((3, 2, 6)).astype(np.float32))
    assert np.array_equal(m(x, x, x)[0].asnumpy(), other(x, x, x)[0].asnumpy())


X3 = mc.Tensor(np.zeros((3, 2, 4), np.float32))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.MultiheadAttention(6, 4), ValueError, r"For 'MultiheadAttention', 'embed_dim' must be divisible by "
                                                      r"'num_heads' \(4\), but got 6"),
    (lambda: nn.MultiheadAttention(0, 1), ValueError, r"'embed_dim' must be an int in \[1, inf\), but got 0"),
    (lambda: nn.MultiheadAttention(4, 2.0), TypeError, r"'num_heads' must be an int, but got 2.0"),
    (lambda: nn.MultiheadAttention(4, 2, dropout=1.5), ValueError, r"For 'MultiheadAttention', 'p' must be a float "
                                                                   r"in \[0, 1\]"),
    (lambda: nn.MultiheadAttention(4, 2, add_zero_attn=0), TypeError, r"'add_zero_attn' must be a bool, but got 0"),
    (lambda: nn.MultiheadAttention(4, 2, batch_first=1), TypeError, r"'batch_first' must be a bool, but got 1"),
    (lambda: nn.MultiheadAttention(4, 2, generator=3), TypeError, r"'generator' must be a Generator or None, but "
                                                                  r"got 3"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, np.zeros((3, 2, 4))), TypeError, r"'value' must be a "
                                                                                  r"floating-point Tensor"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, mc.Tensor(np.zeros((3, 2, 5), np.float32))), ValueError,
     r"'value' must be a 3-D Tensor with last dimension 4 \(2-D unbatched or 3-D batched\), but got shape \[3, 2, 5\]"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, mc.Tensor(np.zeros((3, 1, 4), np.float32)),
                                         mc.Tensor(np.zeros((3, 1, 4), np.float32))),
     ValueError, r"'key' must be of the batch size of 'query' \(2\), but got batch size 1"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, X3, attn_mask=np.zeros((2, 3))), ValueError,
     r"'attn_mask' must be of shape \[3, 3\] or \[4, 3, 3\], but got \[2, 3\]"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, X3, key_padding_mask=np.zeros((2, 3), np.int32)), TypeError,
     r"'key_padding_mask' must be a bool or float Tensor, but got dtype int32"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, X3, attn_mask=np.zeros((3, 3)), is_causal=True), ValueError,
     r"'attn_mask' must be None when is_causal=True \(is_causal builds the causal mask\), but got a mask as well"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, X3, batch_start=-1), ValueError, r"'batch_start' must be an int in "
                                                                                  r"\[0, inf\)"),
    (lambda: nn.MultiheadAttention(4, 2)(X3, X3, X3, need_weights=None), TypeError, r"'need_weights' must be a "
                                                                                    r"bool, but got None"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_failed_call_reserves_no_offset():
    gen = nn.Generator().manual_seed(1)
    m = nn.MultiheadAttention(4, 2, dropout=0.5, generator=gen).set_train()
    before = int(gen.get_state()[1])
    with pytest.raises(ValueError):
        m(X3, X3, X3, attn_mask=np.zeros((2, 2)))
    assert int(gen.get_state()[1]) == before
