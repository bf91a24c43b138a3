"""Stateless sampling of categories: ``multinomial`` from weights, ``categorical`` from logits.

Every result is a pure function of ``(seed, offset)``, the sample's *global* row index
``r = batch_start + i`` (``i`` its row in the array given) and sample index ``j``, and of that
row's weights only: a row sampled alone (with ``batch_start = r``), inside any batch of rows,
or in a shard of rows ``[a, b)`` (``batch_start = a``) gives the same categories.

**The uniform of sample j of row r** is element ``e = r * 2**32 + j`` of the float64 uniform draw
of DESIGN.md section 2.3 (``minicell.random.uniform(seed, offset, (1,), dtype=float64,
start=e)``): with words ``w0, w1`` = words ``2e, 2e + 1`` of the stream of ``(seed, offset)``,
that is lanes ``2 (j mod 2)``, ``2 (j mod 2) + 1`` of block ``r * 2**31 + floor(j / 2)``,
``u(r, j) = (((w0 & 0xFFFFF) << 32) | w1) * 2**-52`` in [0, 1). The layout depends neither on
the batch size nor on ``num_samples`` (drawing more samples extends, never changes, a row's
draw with replacement). Limits: ``r < 2**33`` and ``j < 2**32``.

**With replacement** (inverse CDF, exact float64): ``w`` = the row's weights in float64 (exact
for float16/32/64), ``c_i = fl(c_{i-1} + w_i)`` summed left to right (``c_{-1} = 0``),
``t = fl(u(r, j) * c_{K-1})``; the sample is the smallest ``i`` with ``c_i > t`` (exact float64
comparisons), or, when rounding makes ``t = c_{K-1}`` (``u`` within ``2**-53`` of 1), the last
category of positive weight. A category of weight 0 is never drawn; one whose weight is absorbed
by rounding into the running sum (below ``2**-53`` of it) is never drawn either, so each
probability is ``w_i / sum(w)`` to within about ``K * 2**-53`` relative.

**Without replacement** (sequential inverse CDF): sample ``j`` is drawn as above with
``u(r, j)`` from the weights left after zeroing samples ``0 .. j-1`` (cumulative sums recomputed
from those weights), so the result is the sequence of draws of ``num_samples`` successive
categorical draws without repetition (the distribution of ``torch.multinomial(...,
replacement=False)``). Costs ``num_samples`` passes over the row.

**From logits** (``categorical``): ``x`` = logits in float64; with ``top_k = k`` below the
number of categories ``K``, every ``x_i`` below the k-th largest value becomes ``-inf`` (ties at
the k-th value are kept, so more than k may survive); with temperature ``T > 0``,
``w_i = exp((x_i - max x) / T)`` (NumPy's float64 exp) and the sample is the with-replacement
sample 0 of row ``r`` above: ``categorical(...)[i] == multinomial(seed, offset, w, 1, ...)[i, 0]``.
``T = 0`` is greedy: the first index of the largest logit (no randomness is used).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from minicell._checks import Shown, check_bool, check_int, check_real, fail_type, fail_value, is_integer
from minicell.random.distributions import check_size, check_state
from minicell.random.philox import philox4x32

ROW_LIMIT = 1 << 33  # global rows: e = r 2**32 + j must stay below 2**65 (float64 elements of the stream)
SAMPLE_LIMIT = 1 << 32  # samples per row
_M20 = np.uint64(0xFFFFF)
_S32 = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
Compute = Callable[[int, int], np.ndarray]


# ----- the uniforms ------------------------------------------------------------------------------
def row_uniforms(seed: int, offset: int, rows: np.ndarray, count: int) -> np.ndarray:
    """``u(r, j)`` for every ``r`` in ``rows`` (global row indices) and ``j < count``: float64
    ``(len(rows), count)`` (no checks: ``rows < 2**33``, ``count <= 2**32``)."""
    rows = np.asarray(rows, np.uint64).reshape(-1)
    blocks = -(-count // 2)
    if rows.size == 0 or count == 0:
        return np.zeros((rows.size, count))
    block = (rows[:, None] << np.uint64(31)) + np.arange(blocks, dtype=np.uint64)[None, :]
    counter = np.empty(block.shape + (4,), np.uint32)
    counter[..., 0] = block & _MASK32
    counter[..., 1] = block >> _S32
    counter[..., 2] = offset & 0xFFFFFFFF
    counter[..., 3] = offset >> 32
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32)
    words = philox4x32(counter, key).reshape(rows.size, 2 * blocks, 2)[:, :count].astype(np.uint64)
    mantissa = ((words[..., 0] & _M20) << _S32) | words[..., 1]
    # exact: integers below 2**52 times a power of two
    return cast(np.ndarray, mantissa.astype(np.float64) * 2.0 ** -52)


# ----- inverse CDF ---------------------------------------------------------------------------------
def _last_positive(weights: np.ndarray) -> np.ndarray:
    """Index of the last positive weight of each row (rows have one)."""
    k = weights.shape[1]
    return cast(np.ndarray, k - 1 - np.argmax(weights[:, ::-1] > 0, axis=1))


def _inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample of each (row, column) of ``u`` from the rows of float64 ``weights`` (see the module)."""
    cum = np.cumsum(weights, axis=1)
    t = u * cum[:, -1:]
    out = np.empty(u.shape, np.int64)
    for i in range(weights.shape[0]):
        out[i] = np.searchsorted(cum[i], t[i], side="right")
    over = out >= weights.shape[1]
    if over.any():
        fallback = np.broadcast_to(_last_positive(weights)[:, None], out.shape)
        out[over] = fallback[over]
    return out


def _without_replacement(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    left = weights.copy()
    n, count = u.shape
    out = np.empty((n, count), np.int64)
    rows = np.arange(n)
    for j in range(count):
        cum = np.cumsum(left, axis=1)
        t = u[:, j:j + 1] * cum[:, -1:]
        pick = np.count_nonzero(cum <= t, axis=1)
        over = pick >= left.shape[1]
        if over.any():
            pick[over] = _last_positive(left[over])
        out[:, j] = pick
        left[rows, pick] = 0.0
    return out


# ----- validation ------------------------------------------------------------------------------------
def _float_rows(who: str, arg: str, array: Any) -> np.ndarray:
    """A 1-D or 2-D float array with at least one category, as float64 rows ``(N, K)``."""
    if not isinstance(array, np.ndarray):
        raise fail_type(who, arg, "a float Tensor", array)
    if array.dtype.kind != "f":
        raise fail_type(who, arg, "a float Tensor", Shown(f"a Tensor of dtype {array.dtype}"))
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise fail_value(who, arg, "a 1-D or 2-D Tensor with at least one category (last axis)",
                         Shown(f"shape {list(array.shape)}"))
    return np.ascontiguousarray(array.reshape(-1, array.shape[-1]), dtype=np.float64)


def _row(rows: np.ndarray) -> str:
    return f"row {int(np.flatnonzero(rows)[0])}"


def _check_start(who: str, batch_start: Any, rows: int) -> int:
    start = check_int(who, "batch_start", batch_start, 0)
    if start + rows > ROW_LIMIT:
        raise fail_value(who, "batch_start", f"at most {ROW_LIMIT - rows} for {rows} rows (global rows below 2**33)",
                         start)
    return start


def check_weights(who: str, weights: Any) -> np.ndarray:
    """Rows of finite non-negative weights with a positive, finite float64 sum: ``(N, K)`` float64."""
    w = _float_rows(who, "input", weights)
    if np.isnan(w).any():
        raise fail_value(who, "input", "finite non-negative weights", Shown("NaN"))
    if np.isinf(w).any():
        raise fail_value(who, "input", "finite non-negative weights", Shown("inf"))
    if (w < 0).any():
        raise fail_value(who, "input", "finite non-negative weights", Shown(f"{float(w.min())!r}"))
    with np.errstate(over="ignore"):  # an infinite sum is refused below
        totals = np.cumsum(w, axis=1)[:, -1] if w.size else np.zeros(0)
    if (totals == 0).any():
        raise fail_value(who, "input", "rows with a positive sum", Shown(f"{_row(totals == 0)} of zeros"))
    if np.isinf(totals).any():
        raise fail_value(who, "input", "rows whose sum is finite in float64", Shown(f"{_row(np.isinf(totals))} "
                         "summing to inf"))
    return w


def prepare_multinomial(who: str, weights: Any, num_samples: Any, replacement: Any = True,
                        batch_start: Any = 0) -> Compute:
    """Validate a multinomial draw; return ``compute(seed, offset)`` (int64 ``(N, num_samples)``,
    or ``(num_samples,)`` for 1-D weights) that cannot fail."""
    w = check_weights(who, weights)
    one_row = np.ndim(weights) == 1
    n = check_int(who, "num_samples", num_samples, 1, SAMPLE_LIMIT + 1)
    replacement = check_bool(who, "replacement", replacement)
    if not replacement and w.size:
        positive = int(np.count_nonzero(w > 0, axis=1).min())
        if n > positive:
            raise fail_value(who, "num_samples", f"at most {positive} (the fewest categories of positive weight in "
                             f"a row) without replacement", n)
    start = _check_start(who, batch_start, w.shape[0])
    check_size(who, "num_samples", (w.shape[0], n), 8 * 3)

    def compute(seed: int, offset: int) -> np.ndarray:
        u = row_uniforms(seed, offset, np.arange(start, start + w.shape[0], dtype=np.uint64), n)
        out = _inverse_cdf(w, u) if replacement else _without_replacement(w, u)
        return out.reshape(n) if one_row else out
    return compute


def multinomial(seed: int, offset: int, weights: Any, num_samples: int, replacement: bool = True,
                batch_start: int = 0) -> np.ndarray:
    """Categories drawn from rows of weights (see the module docstring for the formula).

    Args:
        seed, offset: the stream. weights: a float array ``(N, K)`` or ``(K,)`` of finite
            non-negative weights, each row with a positive sum (not necessarily 1).
        num_samples: samples per row, >= 1 (at most the row's positive weights without replacement).
        replacement: draw with replacement. batch_start: the global index of the first row.

    Returns:
        int64 ``(N, num_samples)`` (``(num_samples,)`` for 1-D weights).
    """
    compute = prepare_multinomial("multinomial", weights, num_samples, replacement, batch_start)
    return compute(*check_state("multinomial", seed, offset))


def prepare_categorical(who: str, logits: Any, temperature: Any = 1.0, top_k: Any = None,
                        batch_start: Any = 0) -> Compute:
    """Validate a draw from logits; return ``compute(seed, offset)`` (int64 of shape
    ``logits.shape[:-1]``) that cannot fail."""
    x = _float_rows(who, "logits", logits)
    if np.isnan(x).any() or (x == np.inf).any():
        raise fail_value(who, "logits", "floats below +inf (-inf masks a category)",
                         Shown("NaN" if np.isnan(x).any() else "inf"))
    if x.size and (x == -np.inf).all(axis=1).any():
        raise fail_value(who, "logits", "rows with a finite value", Shown(f"{_row((x == -np.inf).all(axis=1))} "
                         "of -inf"))
    temperature = check_real(who, "temperature", temperature, 0.0)
    if top_k is not None and not is_integer(top_k):
        raise fail_type(who, "top_k", "None or an int", top_k)
    k = None if top_k is None else check_int(who, "top_k", top_k, 1)
    start = _check_start(who, batch_start, x.shape[0])
    shape = np.shape(logits)[:-1]

    def compute(seed: int, offset: int) -> np.ndarray:
        z = x.copy()
        if k is not None and k < z.shape[1]:
            kth = np.partition(z, z.shape[1] - k, axis=1)[:, z.shape[1] - k:z.shape[1] - k + 1]
            z[z < kth] = -np.inf
        if temperature == 0:
            return cast(np.ndarray, np.argmax(z, axis=1).astype(np.int64).reshape(shape))
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):  # computing cannot fail: an
            w = np.exp((z - z.max(axis=1, keepdims=True)) / temperature)  # overflow gives -inf, weight 0
        u = row_uniforms(seed, offset, np.arange(start, start + z.shape[0], dtype=np.uint64), 1)
        return cast(np.ndarray, _inverse_cdf(w, u)[:, 0].reshape(shape))
    return compute


def categorical(seed: int, offset: int, logits: Any, temperature: float = 1.0, top_k: int | None = None,
                batch_start: int = 0) -> np.ndarray:
    """One category per row of logits, with temperature and top-k (see the module docstring).

    Args:
        seed, offset: the stream. logits: a float array ``(N, K)`` or ``(K,)``, no NaN or
            +inf (-inf masks a category), each row with a finite value.
        temperature: >= 0 (0: greedy). top_k: None, or keep the k largest logits (k >= 1; a k
            of at least K keeps all). batch_start: the global index of the first row.

    Returns:
        int64 of shape ``logits.shape[:-1]``.
    """
    compute = prepare_categorical("categorical", logits, temperature, top_k, batch_start)
    return compute(*check_state("categorical", seed, offset))
