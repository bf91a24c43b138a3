"""User-facing functional ops: the differentiable array ops and the random ops (dropout, uniform, ...).

The implementation modules are private (``ops/_dropout.py``), so ``minicell.ops.dropout`` is only ever
the function.
"""
from minicell.ops._activation import gelu, log_softmax, relu, sigmoid, softmax, tanh
from minicell.ops._conv import conv1d, conv2d
from minicell.ops._dropout import dropout
from minicell.ops._embedding import embedding
from minicell.ops._global_norm import clip_by_global_norm
from minicell.ops._linear import linear
from minicell.ops._math import absolute as abs  # noqa: A004
from minicell.ops._math import add, clip, div, exp, log, matmul, maximum, minimum, mul, neg, sqrt, sub
from minicell.ops._math import power as pow
from minicell.ops._normalization import batch_norm, layer_norm
from minicell.ops._pooling import avg_pool2d, max_pool2d
from minicell.ops._random import bernoulli, normal, rand, randint, randn, randperm, uniform
from minicell.ops._reduce import max, mean, min, sum  # noqa: A004
from minicell.ops._sampling import multinomial, sample_logits
from minicell.ops._shape import concat, flatten, reshape, squeeze, stack, swapaxes, transpose, unsqueeze, where

__all__ = [
    "bernoulli", "dropout", "normal", "rand", "randint", "randn", "randperm", "uniform",
    "multinomial", "sample_logits",
    "abs", "add", "clip", "clip_by_global_norm", "concat", "div", "exp", "flatten", "gelu", "linear", "log",
    "log_softmax", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "pow", "relu", "reshape",
    "sigmoid", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "swapaxes", "tanh", "transpose",
    "unsqueeze", "where",
    "avg_pool2d", "batch_norm", "conv1d", "conv2d", "embedding", "layer_norm", "max_pool2d",
]
