"""Counter-based random numbers: the Philox4x32-10 engine and stateless distributions.

Every function here is a pure function of ``(seed, offset, ...)``; the stateful ``Generator``
(``minicell.Generator``) hands out ``(seed, offset)`` pairs to them. Large draws are cut into
pieces computed on minicell's threads; the thread count (``minicell.set_num_threads``, a runtime
setting, not part of this package) changes only the speed, never a bit of the result.
"""
from minicell.random.discrete import bernoulli, keep_mask, permutation, randint
from minicell.random.distributions import uniform
from minicell.random.gaussian import normal, truncated_normal
from minicell.random.philox import philox4x32, random_words

__all__ = ["bernoulli", "keep_mask", "normal", "permutation", "philox4x32", "randint", "random_words",
           "truncated_normal", "uniform"]
