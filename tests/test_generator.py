"""The Generator Cell, the default generator, module functions, threads and checkpoints."""
import copy
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell.nn import Generator
from minicell.testing import assert_bitwise_equal, assert_cells_equal
from tests.bad_inputs import house


def state(gen):
    seed, offset = gen.get_state()
    return int(seed), int(offset)


def test_starts_at_zero_and_construct_reserves_steps():
    gen = Generator()
    assert state(gen) == (0, 0)
    assert gen(1) == (0, 0) and gen.construct(5) == (0, 1) and gen() == (0, 6)
    assert state(gen) == (0, 7) and gen(0) == (0, 7) and state(gen) == (0, 7)


def test_parameters_are_uint64_untrainable_and_named():
    gen = Generator()
    params = dict(gen.parameters_and_names())
    assert list(params) == ["seed", "offset"]
    assert all(p.dtype == np.uint64 and not p.requires_grad for p in params.values())
    assert gen.trainable_params() == []


def test_seed_document_example(capsys):
    gen = Generator()
    gen.manual_seed(12)
    print(gen.initial_seed())
    seed, offset = gen.get_state()
    print(seed)
    print(offset)
    gen.seed()
    gen.set_state(seed, offset)
    print(gen.get_state())
    assert capsys.readouterr().out.splitlines() == [
        "12", "12", "0",
        "(Tensor(shape=[], dtype=UInt64, value= 12), Tensor(shape=[], dtype=UInt64, value= 0))"]


def test_mindspore_documented_seed_value():
    np.random.seed(10)
    assert int(Generator().seed()) == 1165313289


def test_seed_follows_numpy_global_state_and_resets_offset():
    gen = Generator()
    gen(10)
    np.random.seed(123)
    first = int(gen.seed())
    assert state(gen) == (first, 0)
    np.random.seed(123)
    expected = int(np.random.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max)) % 2**64
    assert first == expected


@given(seed=st.integers(-2**63, 2**64 - 1), offset=st.integers(0, 2**64 - 1))
def test_state_round_trips(seed, offset):
    gen = Generator().manual_seed(seed)
    assert state(gen) == (seed % 2**64, 0)
    gen.set_state(seed, offset)
    assert state(gen) == (seed % 2**64, offset)
    copy_seed, copy_offset = gen.get_state()
    gen(0)
    other = Generator().set_state(copy_seed, copy_offset)
    assert state(other) == state(gen)
    assert state(Generator().set_state(seed)) == (seed % 2**64, 0)


def test_get_state_returns_copies():
    gen = Generator().manual_seed(5)
    seed, offset = gen.get_state()
    gen(3)
    assert int(offset) == 0 and int(gen.initial_seed()) == 5


SEED_RANGE = "an int in [-9223372036854775808, 18446744073709551616)"
OFFSET_RANGE = "an int in [0, 18446744073709551616)"
BAD_SEEDS = [(True, TypeError, "an int", "True"), (1.0, TypeError, "an int", "1.0"), ("1", TypeError, "an int", "'1'"),
             (mc.Tensor(1.0), TypeError, "an int or a one-element integer Tensor", "a Tensor of dtype float32 and "
                                                                                   "shape []"),
             (mc.Tensor([1, 2]), TypeError, "an int or a one-element integer Tensor",
              "a Tensor of dtype int64 and shape [2]"),
             (None, TypeError, "an int", "None"), (2**64, ValueError, SEED_RANGE, "an int of 65 bits"),
             (-2**63 - 1, ValueError, SEED_RANGE, "-9223372036854775809")]


@pytest.mark.parametrize("bad,error,expected,got", BAD_SEEDS)
def test_invalid_seeds_change_nothing(bad, error, expected, got):
    gen = Generator().manual_seed(9)
    gen(4)
    with pytest.raises(error, match=house("Generator.manual_seed", "seed", expected, got)):
        gen.manual_seed(bad)
    with pytest.raises(error, match=house("Generator.set_state", "seed", expected, got)):
        gen.set_state(bad, 1)
    assert state(gen) == (9, 4)


@pytest.mark.parametrize("bad,error,expected,got", [(-1, ValueError, OFFSET_RANGE, "-1"),
                                                    (2**64, ValueError, OFFSET_RANGE, "an int of 65 bits"),
                                                    (1.5, TypeError, "an int", "1.5"),
                                                    (True, TypeError, "an int", "True")])
def test_invalid_offsets_and_steps_change_nothing(bad, error, expected, got):
    gen = Generator().manual_seed(9)
    gen(4)
    with pytest.raises(error, match=house("Generator.set_state", "offset", expected, got)):
        gen.set_state(1, bad)
    if bad != 2**64:
        step_expected = "an int in [0, inf)" if bad == -1 else expected
        with pytest.raises(error, match=house("Generator", "step", step_expected, got)):
            gen(bad)
    assert state(gen) == (9, 4)


def test_offset_never_wraps():
    gen = Generator().set_state(1, 2**64 - 3)
    assert gen(2) == (1, 2**64 - 3)
    full = house("Generator", "step", f"at most 0 at offset {2**64 - 1} (the offset stays below 2**64; reseed with "
                 "manual_seed())", "1")
    with pytest.raises(OverflowError, match=full):
        gen(1)
    assert state(gen) == (1, 2**64 - 1)
    with pytest.raises(OverflowError, match=full):
        mc.rand(3, generator=gen)
    assert state(gen) == (1, 2**64 - 1)


def test_threads_reserve_disjoint_ranges():
    gen = Generator()
    seen = [[] for _ in range(8)]

    def worker(i):
        for _ in range(10_000):
            seen[i].append(gen(1)[1])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [o for chunk in seen for o in chunk]
    assert len(set(everything)) == 80_000 and state(gen) == (0, 80_000)
    assert sorted(everything) == list(range(80_000))


def test_threads_drawing_random_ops_get_distinct_offsets():
    gen = Generator().manual_seed(3)
    results = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            value = mc.rand(4, generator=gen).asnumpy()
            with lock:
                results.append(value.tobytes())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {mc.random.uniform(3, o, 4).tobytes() for o in range(200)}
    assert set(results) == expected and state(gen) == (3, 200)


def test_deepcopy_is_independent_with_same_state():
    gen = Generator().manual_seed(77)
    gen(3)
    twin = copy.deepcopy(gen)
    assert_cells_equal(twin, gen)
    assert state(twin) == (77, 3)
    twin(5)
    assert state(gen) == (77, 3)


class Model(mc.Cell):
    def __init__(self):
        super().__init__()
        self.w = mc.Parameter(np.ones(2, np.float32))
        self.drop = mc.Cell()
        self.drop.generator = Generator()
        self.other = mc.Cell()
        self.other.generator = self.drop.generator  # shared: saved once


def test_generator_state_lives_in_the_model_and_its_checkpoint(tmp_path):
    model = Model()
    names = [n for n, _ in model.parameters_and_names()]
    assert names == ["w", "drop.generator.seed", "drop.generator.offset"]
    assert model.drop.generator._params["offset"].name == "drop.generator.offset"
    model.drop.generator.manual_seed(2024)
    model.drop.generator(7)
    mc.save_checkpoint(model, tmp_path / "m.ckpt")
    expected = mc.rand(5, generator=model.drop.generator).asnumpy()
    fresh = Model()
    mc.load_param_into_net(fresh, mc.load_checkpoint(tmp_path / "m.ckpt"), strict_load=True)
    assert state(fresh.drop.generator) == (2024, 7)
    assert_bitwise_equal(mc.rand(5, generator=fresh.other.generator), expected)


# ----- module level ----------------------------------------------------------------------------
def test_default_generator_and_module_functions():
    gen = mc.default_generator()
    assert gen is mc.default_generator() and isinstance(gen, Generator)
    assert mc.manual_seed(42) is gen
    assert int(mc.initial_seed()) == 42
    mc.rand(3)
    assert [int(v) for v in mc.get_rng_state()] == [42, 1]
    mc.set_rng_state(7, 9)
    assert [int(v) for v in mc.get_rng_state()] == [7, 9]
    mc.set_rng_state(7)
    assert [int(v) for v in mc.get_rng_state()] == [7, 0]
    np.random.seed(10)
    assert int(mc.seed()) == 1165313289 and int(mc.get_rng_state()[1]) == 0


def test_fork_rng_restores_on_exit_and_on_exception():
    mc.manual_seed(5)
    before = mc.rand(3).asnumpy()
    mc.manual_seed(5)
    with mc.fork_rng():
        mc.rand(100)
        mc.manual_seed(99)
    assert_bitwise_equal(mc.rand(3), before)
    gens = [Generator().manual_seed(1), Generator().manual_seed(2)]
    with pytest.raises(RuntimeError), mc.fork_rng(gens):
        gens[0](10)
        gens[1].manual_seed(50)
        raise RuntimeError("boom")
    assert [state(g) for g in gens] == [(1, 0), (2, 0)]
    with pytest.raises(TypeError, match=house("fork_rng", "generators", "an iterable of Generators", "3")), \
            mc.fork_rng([3]):
        pass
