"""A tour of minicell's Generator: the seed document's example, and how it differs from PyTorch
and from MindSpore 2.3.0rc2's ``nn.Generator``, the generator of the seed document.

Run: ``python examples/generator_tour.py``. Every section prints what it shows; nothing here
needs torch or MindSpore.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import minicell as mc
from minicell import nn, ops
from minicell import random as R


def section(title: str) -> None:
    print(f"\n== {title}")


def seed_document_example() -> None:
    section("The seed document's example (MindSpore's code, minicell in its place)")
    gen = nn.Generator()
    gen.manual_seed(12)
    print(gen.initial_seed())          # 12
    seed, offset = gen.get_state()
    print(seed)                        # 12
    print(offset)                      # 0
    gen.seed()
    gen.set_state(seed, offset)
    print(gen.get_state())             # (Tensor(... UInt64, value= 12), Tensor(... UInt64, value= 0))


def step_input() -> None:
    section("Input 'step': gen(step), i.e. construct(step), returns (seed, offset) and adds step")
    gen = nn.Generator().manual_seed(7)
    print("gen(1) ->", gen(1), " gen(5) ->", gen(5), " state now", [int(v) for v in gen.get_state()])
    print("  Python ints, as MindSpore's gen(step) in PyNative mode; MindSpore's construct",
          "(graph mode) returns Int32 Tensors")


def state_is_parameters() -> None:
    section("State as Parameters of a Cell (PyTorch: an opaque ByteTensor)")
    model = nn.SequentialCell(nn.Dense(4, 4, generator=nn.Generator()), nn.Dropout(0.5, generator=nn.Generator()))
    for name, param in model.parameters_and_names():
        print(f"  {name:<22} {param.dtype}  requires_grad={param.requires_grad}")
    print("  (MindSpore 2.3.0rc2 lists a generator's Parameters as _seed and _offset, Int32)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.ckpt"
        model.set_train()
        model(mc.Tensor(np.ones((2, 4), np.float32)))
        mc.save_checkpoint(model, path)
        print("  saved offset:", int(mc.load_checkpoint(path)["1.generator.offset"].asnumpy()))


def seed_from_numpy() -> None:
    section("seed(): drawn from NumPy's global state, so np.random.seed fixes it")
    np.random.seed(10)
    print("  after np.random.seed(10), Generator().seed() =", int(nn.Generator().seed()), "(MindSpore documents "
                                                                                          "1165313289)")


def offsets_are_subsequences() -> None:
    section("Offsets pick Philox subsequences: an op's values do not depend on earlier sizes")
    gen = nn.Generator().manual_seed(3)
    mc.rand(5, generator=gen)
    after_small = mc.rand(3, generator=gen).asnumpy()
    gen.manual_seed(3)
    mc.rand(5000, generator=gen)
    after_large = mc.rand(3, generator=gen).asnumpy()
    print("  second op after a 5-element op:   ", after_small)
    print("  second op after a 5000-element op:", after_large)
    print("  offset after these two ops:", int(gen.get_state()[1]),
          "(each op reserves 1 offset; MindSpore's generator-driven ops reserve 12)")


# MindSpore 2.7.0's CPU kernel Uniform(0.0, 1.0, seed=12, offset=0), first four values as
# float32 bit patterns (the project's oracle file, pinned in full by tests/test_oracles.py).
MINDSPORE_UNIFORM_SEED_12 = ["3f565d6e", "3f5c8dae", "3eaebd68", "3da77d20"]


def same_numbers_as_mindspore() -> None:
    section("Float32 uniforms bit-equal to MindSpore's CPU Uniform kernel at the same (seed, offset)")
    gen = nn.Generator().set_state(12, 0)
    bits = [f"{b:08x}" for b in mc.rand(4, generator=gen).asnumpy().view(np.uint32)]
    print("  minicell rand, seed 12, offset 0:", " ".join(bits))
    print("  MindSpore CPU Uniform, same state:", " ".join(MINDSPORE_UNIFORM_SEED_12))


def chunking_does_not_matter() -> None:
    section("Any slice of a draw can be computed alone (sharding, resuming)")
    whole = R.normal(1, 2, (10,))
    print("  elements 6..9 of the whole draw:", whole[6:9])
    print("  the same with start=6:          ", R.normal(1, 2, (3,), start=6))
    x = mc.Tensor(np.ones(8, np.float32))
    full = ops.dropout(x, 0.5, generator=nn.Generator().manual_seed(4)).asnumpy()
    shard = ops.dropout(x[4:], 0.5, generator=nn.Generator().manual_seed(4), start=4).asnumpy()
    print("  dropout of the whole batch, second half:", full[4:], " a worker's shard:", shard)


def fork_and_restore() -> None:
    section("fork_rng: draw without disturbing the stream")
    mc.manual_seed(0)
    with mc.fork_rng():
        mc.randn(100)
    print("  offset after the fork:", int(mc.get_rng_state()[1]))


if __name__ == "__main__":
    seed_document_example()
    step_input()
    state_is_parameters()
    seed_from_numpy()
    offsets_are_subsequences()
    same_numbers_as_mindspore()
    chunking_does_not_matter()
    fork_and_restore()
