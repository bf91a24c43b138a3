"""Counter-based random numbers: the Philox4x32-10 engine and stateless distributions."""
from minicell.random.philox import philox4x32, random_words

__all__ = ["philox4x32", "random_words"]
