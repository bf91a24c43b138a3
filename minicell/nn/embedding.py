"""``Embedding``: a lookup table of ``vocab_size`` vectors, drawn from a generator.

MindSpore's signature ``Embedding(vocab_size, embedding_size, use_one_hot=False,
embedding_table='normal', dtype=float32, padding_idx=None)``, plus ``generator``. The default
table is ``Normal(sigma=0.01)`` (MindSpore's 'normal'; PyTorch draws N(0, 1)). The
``padding_idx`` row starts at zero and receives no gradient (PyTorch's behaviour; MindSpore
documents the option as inactive). ``use_one_hot`` is accepted and gives the same values (a
one-hot product picks the same rows exactly); ids outside ``[0, vocab_size)`` are an error
where MindSpore returns zeros.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell._checks import check_bool, check_int, fail_type
from minicell.cell import Cell
from minicell.generator import Generator
from minicell.initializer import initializer
from minicell.ops._embedding import embedding_impl
from minicell.parameter import Parameter
from minicell.tensor import Tensor


class Embedding(Cell):
    """Map integer ids of any shape to vectors: output shape ``x.shape + (embedding_size,)``.

    Args:
        vocab_size, embedding_size: positive ints.
        use_one_hot: accepted for MindSpore compatibility (same result).
        embedding_table: anything ``initializer`` accepts (default 'normal', sigma 0.01).
        dtype: the table's float dtype.
        padding_idx: None or a row in ``[0, vocab_size)`` that is zero and never trained.
        generator: the Generator the table is drawn from (one step; the default one when None).
    """

    def __init__(self, vocab_size: int, embedding_size: int, use_one_hot: bool = False,
                 embedding_table: Any = "normal", dtype: Any = np.float32, padding_idx: int | None = None,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.vocab_size = check_int("Embedding", "vocab_size", vocab_size, 1)
        self.embedding_size = check_int("Embedding", "embedding_size", embedding_size, 1)
        self.use_one_hot = check_bool("Embedding", "use_one_hot", use_one_hot)
        if padding_idx is not None:
            padding_idx = check_int("Embedding", "padding_idx", padding_idx, 0, self.vocab_size)
        if generator is not None and not isinstance(generator, Generator):
            raise fail_type("Embedding", "generator", "a Generator or None", generator)
        self.padding_idx = padding_idx
        table = initializer(embedding_table, (self.vocab_size, self.embedding_size), dtype, generator)
        if padding_idx is not None:
            table._data[padding_idx] = 0
        self.embedding_table = Parameter(table)

    def construct(self, x: Tensor) -> Tensor:
        return embedding_impl("Embedding", x, self.embedding_table, self.padding_idx)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, "
                f"use_one_hot={self.use_one_hot}, padding_idx={self.padding_idx}")
