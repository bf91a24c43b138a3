"""Counter-based random numbers: the Philox4x32-10 engine and stateless distributions.

Every function here is a pure function of ``(seed, offset, ...)``; the stateful ``Generator``
(``minicell.Generator``) hands out ``(seed, offset)`` pairs to them.
"""
from minicell._runtime.parallel import get_num_threads, set_num_threads
from minicell.random.discrete import bernoulli, keep_mask, permutation, randint
from minicell.random.distributions import normal, truncated_normal, uniform
from minicell.random.philox import philox4x32, random_words

__all__ = ["bernoulli", "get_num_threads", "keep_mask", "normal", "permutation", "philox4x32",
           "randint", "random_words", "set_num_threads", "truncated_normal", "uniform"]
