"""Weight initializers with MindSpore's names, drawing from a Generator.

``initializer(init, shape, dtype=float32, generator=None)`` accepts an Initializer, an alias
(``'zeros'``, ``'ones'``, ``'uniform'``, ``'normal'``, ``'truncatedNormal'``, ``'xavier_uniform'``,
``'xavier_normal'``, ``'he_uniform'``, ``'he_normal'``, ``'orthogonal'``, ``'identity'``,
``'dirac'``, ``'sparse'``), a number or an array, and returns a Tensor.
"""
from minicell.initializer.base import Initializer, calculate_gain, initializer, plan_initializer
from minicell.initializer.deterministic import Constant, Dirac, Identity, One, Zero
from minicell.initializer.fan_scaled import HeNormal, HeUniform, VarianceScaling, XavierNormal, XavierUniform
from minicell.initializer.random_init import Normal, TruncatedNormal, Uniform
from minicell.initializer.structured import Orthogonal, Sparse

__all__ = [
    "Constant", "Dirac", "HeNormal", "HeUniform", "Identity", "Initializer", "Normal", "One",
    "Orthogonal", "Sparse", "TruncatedNormal", "Uniform", "VarianceScaling", "XavierNormal",
    "XavierUniform", "Zero", "calculate_gain", "initializer", "plan_initializer",
]
