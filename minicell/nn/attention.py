"""``MultiheadAttention`` (MindSpore 2.x's ``mindspore.nn.MultiheadAttention``).

``out = Concat(head_1, ..., head_H) W_O`` with ``head_h = softmax(Q_h K_h^T / sqrt(D) + mask)
V_h`` (Vaswani et al., 2017). Parameters as MindSpore (and PyTorch) name them: one fused
``in_proj_weight`` of shape ``(3E, E)`` (XavierUniform) and ``in_proj_bias`` ``(3E,)`` (zeros)
when ``kdim == vdim == embed_dim``, else ``q_proj_weight``, ``k_proj_weight``,
``v_proj_weight``; the output projection is the ``Dense`` child ``out_proj`` (HeUniform(sqrt(5))
weight, U(+-1/sqrt(E)) bias). Every initial value is drawn from ``generator``.

Dropout on the attention probabilities follows the Dropout contract: in training mode with
``dropout > 0`` each call reserves exactly one offset of ``generator``, and the mask of element
``(b, h, i, j)`` of the ``(N, H, L, S)`` probability tensor is a pure function of that
``(seed, offset)`` and the global index ``((b_global H + h) L + i) S + j``, where
``b_global = batch_start + b``: a data-parallel shard with rows ``[a, b)`` of the global batch
calls with ``batch_start=a`` and gets exactly the slice of the full batch's result. The mask is
never stored (the backward recomputes it).

Differences from PyTorch's ``torch.nn.MultiheadAttention``: ``has_bias`` (PyTorch: ``bias``);
a new Cell is in eval mode (no dropout until ``set_train()``); with ``need_weights=False`` the
result is the 1-tuple ``(attn_output,)`` as in MindSpore (PyTorch: ``(attn_output, None)``);
the returned weights are the dropped-out probabilities (as PyTorch), differentiable;
``is_causal=True`` *builds* the causal mask (in PyTorch it is only a hint about ``attn_mask``)
and may not be combined with ``attn_mask``; ``batch_start`` and ``generator`` are minicell's.
``add_bias_kv`` appends the learned ``bias_k``, ``bias_v`` (XavierNormal, shape ``(1, 1, E)``)
and ``add_zero_attn`` a zero vector to the key and value sequences (after the projection), as
PyTorch and MindSpore do: S grows by one for each, masks get a zero (visible) column, and the
weights cover the extra keys.
Masks follow MindSpore/PyTorch: a bool mask is True where attention is *not* allowed, a float
mask is added to the scores; masks are not differentiated.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, fail_type, fail_value
from minicell.cell import Cell
from minicell.generator import Generator, resolve
from minicell.initializer import HeUniform, Uniform, XavierNormal, XavierUniform, initializer
from minicell.nn.dense import Dense
from minicell.ops import _shape
from minicell.ops._attention import dot_product_attention
from minicell.ops._dropout import check_p, first_row, reserve_step
from minicell.ops._linear import linear
from minicell.parameter import Parameter
from minicell.tensor import Tensor

WHO = "MultiheadAttention"


def _bool(arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail_type(WHO, arg, "a bool", value)
    return value


def _mask_array(arg: str, mask: Any, shapes: list[tuple[int, ...]], dtype: np.dtype) -> np.ndarray:
    """A bool or float mask (Tensor or ndarray) of one of ``shapes``, as an additive float array."""
    array = mask._data if isinstance(mask, Tensor) else mask
    if not isinstance(array, np.ndarray):
        raise fail_type(WHO, arg, "None or a bool or float Tensor", mask)
    if array.dtype != np.bool_ and array.dtype.kind != "f":
        raise fail_type(WHO, arg, "a bool or float Tensor", Shown(f"dtype {array.dtype}"))
    if array.shape not in shapes:
        raise fail_value(WHO, arg, f"of shape {' or '.join(str(list(s)) for s in shapes)}",
                         Shown(str(list(array.shape))))
    if array.dtype == np.bool_:
        return np.where(array, dtype.type(-np.inf), dtype.type(0))
    return array.astype(dtype, copy=False)


class MultiheadAttention(Cell):
    """Multi-head attention.

    Args:
        embed_dim: model width E, >= 1. num_heads: H, >= 1, dividing ``embed_dim``.
        dropout: drop probability of the attention weights, in [0, 1].
        has_bias: add biases in the input and output projections.
        add_bias_kv: append learned biases to the key and value sequences.
        add_zero_attn: append a zero key and value (after the biases).
        kdim, vdim: feature sizes of key and value (default ``embed_dim``).
        batch_first: inputs are ``(N, L, E)`` instead of ``(L, N, E)``.
        dtype: the Parameters' float dtype.
        generator: the Generator for the initial weights and the dropout masks (the default
            generator when None); registered as the sub-cell ``generator`` when given.

    Inputs (``construct``): ``query`` ``(L, N, E)`` (``(N, L, E)`` if batch_first, ``(L, E)``
    unbatched), ``key`` ``(S, N, kdim)``, ``value`` ``(S, N, vdim)``; ``key_padding_mask``
    ``(N, S)`` (``(S,)`` unbatched); ``need_weights``; ``attn_mask`` ``(L, S)`` or
    ``(N * H, L, S)``; ``average_attn_weights``; keyword-only ``is_causal`` (mask key ``j > i``)
    and ``batch_start`` (global index of this batch's first row, for sharded dropout).

    Outputs: ``(attn_output, attn_weights)``, or ``(attn_output,)`` when ``need_weights=False``;
    weights are ``(N, L, S)`` averaged over heads or ``(N, H, L, S)`` (batch axis dropped when
    unbatched).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, has_bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, dtype: Any = np.float32,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.embed_dim = check_int(WHO, "embed_dim", embed_dim, 1)
        self.num_heads = check_int(WHO, "num_heads", num_heads, 1)
        if embed_dim % num_heads:
            raise fail_value(WHO, "embed_dim", f"divisible by 'num_heads' ({num_heads})", embed_dim)
        self.dropout = check_p(WHO, dropout)
        self.has_bias = _bool("has_bias", has_bias)
        self.add_bias_kv = _bool("add_bias_kv", add_bias_kv)
        self.add_zero_attn = _bool("add_zero_attn", add_zero_attn)
        self.kdim = embed_dim if kdim is None else check_int(WHO, "kdim", kdim, 1)
        self.vdim = embed_dim if vdim is None else check_int(WHO, "vdim", vdim, 1)
        self.batch_first = _bool("batch_first", batch_first)
        if np.dtype(dtype).kind != "f":
            raise fail_type(WHO, "dtype", "a float dtype", dtype)
        if generator is not None and not isinstance(generator, Generator):
            raise fail_type(WHO, "generator", "a Generator or None", generator)
        self.head_dim = embed_dim // num_heads
        e = embed_dim
        self.fused = self.kdim == e and self.vdim == e
        if self.fused:
            self.in_proj_weight = Parameter(initializer(XavierUniform(), (3 * e, e), dtype, generator))
        else:
            self.q_proj_weight = Parameter(initializer(XavierUniform(), (e, e), dtype, generator))
            self.k_proj_weight = Parameter(initializer(XavierUniform(), (e, self.kdim), dtype, generator))
            self.v_proj_weight = Parameter(initializer(XavierUniform(), (e, self.vdim), dtype, generator))
        self.in_proj_bias = Parameter(initializer("zeros", (3 * e,), dtype)) if has_bias else None
        self.out_proj = Dense(e, e, weight_init=HeUniform(math.sqrt(5)), bias_init=Uniform(1 / math.sqrt(e)),
                              has_bias=has_bias, dtype=dtype, generator=generator)
        if add_bias_kv:
            self.bias_k = Parameter(initializer(XavierNormal(), (1, 1, e), dtype, generator))
            self.bias_v = Parameter(initializer(XavierNormal(), (1, 1, e), dtype, generator))
        self.generator = generator  # a Generator registers as the sub-cell 'generator'

    def _weights(self) -> tuple[Tensor, Tensor, Tensor]:
        if self.fused:
            e, w = self.embed_dim, self.in_proj_weight
            return w[0:e], w[e:2 * e], w[2 * e:]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def _biases(self) -> tuple[Any, Any, Any]:
        if self.in_proj_bias is None:
            return None, None, None
        e, b = self.embed_dim, self.in_proj_bias
        return b[0:e], b[e:2 * e], b[2 * e:]

    def _check_inputs(self, query: Any, key: Any, value: Any) -> tuple[int, int, int, bool]:
        for arg, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not isinstance(t, Tensor) or t.dtype.kind != "f":
                raise fail_type(WHO, arg, "a floating-point Tensor", t if not isinstance(t, Tensor) else t.dtype)
            if t.ndim not in (2, 3) or t.ndim != query.ndim or t.shape[-1] != width:
                raise fail_value(WHO, arg, f"a {query.ndim}-D Tensor with last dimension {width} (2-D unbatched "
                                 "or 3-D batched)", Shown(f"shape {list(t.shape)}"))
        batched = query.ndim == 3
        n_axis = (0 if self.batch_first else 1) if batched else None
        seq_axis = (1 if self.batch_first else 0) if batched else 0
        if key.shape[:-1] != value.shape[:-1]:
            raise fail_value(WHO, "value", "of the shape of 'key' in every dimension but the last",
                             Shown(f"{list(value.shape)} for a 'key' of {list(key.shape)}"))
        n = query.shape[n_axis] if n_axis is not None else 1
        if n_axis is not None and key.shape[n_axis] != n:
            raise fail_value(WHO, "key", f"of the batch size of 'query' ({n})",
                             Shown(f"batch size {key.shape[n_axis]}"))
        return n, query.shape[seq_axis], key.shape[seq_axis], batched

    def _bias(self, n: int, tgt: int, s: int, batched: bool, key_padding_mask: Any, attn_mask: Any,
              is_causal: bool, dtype: np.dtype) -> np.ndarray | None:
        h = self.num_heads
        terms: list[np.ndarray] = []
        if attn_mask is not None:
            mask = _mask_array("attn_mask", attn_mask, [(tgt, s), (n * h, tgt, s)], dtype)
            terms.append(mask.reshape((1, 1, tgt, s) if mask.ndim == 2 else (n, h, tgt, s)))
        if is_causal:
            causal = np.triu(np.ones((tgt, s), dtype=np.bool_), k=1)
            terms.append(np.where(causal, dtype.type(-np.inf), dtype.type(0)).reshape(1, 1, tgt, s))
        if key_padding_mask is not None:
            mask = _mask_array("key_padding_mask", key_padding_mask, [(n, s)] if batched else [(s,)], dtype)
            terms.append(mask.reshape(n, 1, 1, s))
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        extra = int(self.add_bias_kv) + int(self.add_zero_attn)  # appended keys: visible to every query
        return np.pad(total, [(0, 0)] * 3 + [(0, extra)]) if extra else total

    def construct(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                  need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                  *, is_causal: bool = False, batch_start: int = 0) -> tuple[Tensor, ...]:
        n, tgt, s, batched = self._check_inputs(query, key, value)
        need_weights = _bool("need_weights", need_weights)
        average_attn_weights = _bool("average_attn_weights", average_attn_weights)
        if _bool("is_causal", is_causal) and attn_mask is not None:
            raise fail_value(WHO, "attn_mask", "None when is_causal=True (is_causal builds the causal mask)",
                             Shown("a mask as well"))
        batch_start = check_int(WHO, "batch_start", batch_start, 0)
        dtype = np.result_type(query.dtype, self.out_proj.weight.dtype)
        bias = self._bias(n, tgt, s, batched, key_padding_mask, attn_mask, is_causal, dtype)
        h, d = self.num_heads, self.head_dim
        active = self.training and self.dropout > 0
        # after every check; inside a micro-batched step, the step's shared reservation and the
        # micro-batch's global first row (ops.dropout.sample_indexed), as for Dropout
        seed, offset = reserve_step(resolve(self.generator, WHO), WHO) if active else (0, 0)
        batch_start += first_row() if batched else 0

        def batch_first(x: Tensor) -> Tensor:
            if not batched:
                return _shape.unsqueeze(x, 0)
            return x if self.batch_first else _shape.swapaxes(x, 0, 1)

        def heads(x: Tensor, length: int) -> Tensor:  # (N, length, E) -> (N, H, length, D)
            return _shape.transpose(_shape.reshape(x, n, length, h, d), 0, 2, 1, 3)

        (wq, wk, wv), (bq, bk, bv) = self._weights(), self._biases()
        q = heads(linear(batch_first(query), wq, bq), tgt)
        k, v = linear(batch_first(key), wk, bk), linear(batch_first(value), wv, bv)
        if self.add_bias_kv:  # (N, S, E) -> (N, S + 1, E)
            ones = np.ones((n, 1, 1), dtype=dtype)
            k = _shape.concat([k, self.bias_k * ones], axis=1)
            v = _shape.concat([v, self.bias_v * ones], axis=1)
            s += 1
        k, v = heads(k, s), heads(v, s)
        if self.add_zero_attn:  # (N, H, S, D) -> (N, H, S + 1, D)
            zeros = Tensor._wrap(np.zeros((n, h, 1, d), dtype=dtype))
            k, v = _shape.concat([k, zeros], axis=2), _shape.concat([v, zeros], axis=2)
            s += 1
        out, weights = dot_product_attention(q, k, v, bias, 1.0 / math.sqrt(d), self.dropout if active else 0.0,
                                             seed, offset, batch_start * h * tgt * s)
        out = self.out_proj(_shape.reshape(_shape.transpose(out, 0, 2, 1, 3), n, tgt, self.embed_dim))
        if not batched:
            out = _shape.squeeze(out, 0)
        elif not self.batch_first:
            out = _shape.swapaxes(out, 0, 1)
        if not need_weights:
            return (out,)
        w = weights.mean(axis=1) if average_attn_weights else weights
        return out, (w if batched else w[0])

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"has_bias={self.has_bias}, batch_first={self.batch_first}")
