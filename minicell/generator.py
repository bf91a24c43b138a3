"""``Generator``: random state as a Cell (MindSpore 2.3's ``mindspore.nn.Generator``).

Unlike ``torch.Generator``, whose state is an opaque ByteTensor updated in C++, the state here is
two uint64 Parameters, ``seed`` and ``offset``, so it lives in the model, is listed by
``parameters_and_names`` and is saved by ``save_checkpoint``. ``gen(step)`` (``construct``)
returns ``(seed, offset)`` and adds ``step`` to the offset: a random op that reserves one step
draws from the Philox subsequence ``offset`` (DESIGN.md section 2.2), so what it draws never
depends on how much earlier ops drew.

Also the process-wide default generator and the module functions that act on it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from minicell._autograd.recompute import note, replayed
from minicell._checks import UINT64_LIMIT, Shown, check_int, check_uint64, fail, fail_type
from minicell._runtime.fork import on_fork_in_child
from minicell.cell import Cell
from minicell.parameter import Parameter
from minicell.tensor import Tensor

_STATE_LOCK = threading.Lock()  # one lock for all generators: updates are a few instructions
SEED_MIN = -(1 << 63)


def _as_int(who: str, arg: str, value: Any) -> Any:
    """A one-element integer Tensor as its int (MindSpore passes state as Tensors); else as given."""
    if isinstance(value, Tensor):
        if value.dtype.kind not in "iu" or value.size != 1:
            raise fail_type(who, arg, "an int or a one-element integer Tensor",
                            Shown(f"a Tensor of dtype {value.dtype} and shape {list(value.shape)}"))
        return int(value._data.reshape(()))
    return value


def check_seed(who: str, seed: Any) -> int:
    """A seed in [-2**63, 2**64), negatives taken modulo 2**64."""
    return check_int(who, "seed", _as_int(who, "seed", seed), SEED_MIN, UINT64_LIMIT) % UINT64_LIMIT


def check_offset(who: str, offset: Any) -> int:
    """An offset in [0, 2**64)."""
    return check_uint64(who, "offset", _as_int(who, "offset", offset))


def _check_room(offset: int, step: int) -> None:
    """The offset never wraps: reserving past 2**64 - 1 is an OverflowError."""
    if offset + step >= UINT64_LIMIT:
        raise fail(OverflowError, "Generator", "step", f"at most {UINT64_LIMIT - 1 - offset} at offset {offset} "
                   f"(the offset stays below 2**64; reseed with manual_seed())", step)


class Generator(Cell):
    """A Philox random-state Cell with Parameters ``seed`` and ``offset`` (uint64, untrainable).

    ``Generator()`` starts at seed 0, offset 0. Calling it reserves offsets::

        seed, offset = gen(step)   # offset before the update; then offset += step
    """

    def __init__(self) -> None:
        super().__init__()
        for name in ("seed", "offset"):
            # no attribute is made for them: ``gen.seed`` stays the method, as in MindSpore
            self.insert_param_to_cell(name, Parameter(np.uint64(0), requires_grad=False))

    @property
    def _seed_param(self) -> Parameter:
        return self._params["seed"]

    @property
    def _offset_param(self) -> Parameter:
        return self._params["offset"]

    def _read(self) -> tuple[int, int]:
        return int(self._seed_param._data), int(self._offset_param._data)

    def _write(self, seed: int, offset: int) -> None:
        self._seed_param._data[...] = np.uint64(seed)
        self._offset_param._data[...] = np.uint64(offset)

    def construct(self, step: int = 1) -> tuple[int, int]:
        """Return ``(seed, offset)`` and add ``step`` to the offset, atomically."""
        step = check_int("Generator", "step", step, 0)
        logged = replayed(self, step)  # a recomputing cell reuses its forward's offsets
        if logged is not None:
            return logged
        with _STATE_LOCK:
            seed, offset = self._read()
            _check_room(offset, step)
            self._offset_param._data[...] = np.uint64(offset + step)
        note(self, step, seed, offset)
        return seed, offset

    def manual_seed(self, seed: Any) -> Generator:
        """Set the seed (ints in [-2**63, 2**64), negatives modulo 2**64) and reset the offset."""
        value = check_seed("Generator.manual_seed", seed)
        with _STATE_LOCK:
            self._write(value, 0)
        return self

    def seed(self) -> Tensor:
        """A new seed from NumPy's global state, as MindSpore does it, offset reset; returns it.

        ``np.random.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max)``: fixing NumPy's
        randomness (``np.random.seed``) fixes this one. Negative draws are stored modulo 2**64.
        """
        drawn = int(np.random.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max))
        with _STATE_LOCK:
            self._write(drawn % UINT64_LIMIT, 0)
        return self.initial_seed()

    def initial_seed(self) -> Tensor:
        """The seed, as a 0-d uint64 Tensor."""
        return Tensor(self._seed_param._data.copy())

    def get_state(self) -> tuple[Tensor, Tensor]:
        """``(seed, offset)`` as 0-d uint64 Tensor copies."""
        with _STATE_LOCK:
            return Tensor(self._seed_param._data.copy()), Tensor(self._offset_param._data.copy())

    def set_state(self, seed: Any, offset: Any = None) -> Generator:
        """Restore a state; ``offset=None`` means 0. Both are checked before anything changes."""
        seed_value = check_seed("Generator.set_state", seed)
        offset_value = 0 if offset is None else check_offset("Generator.set_state", offset)
        with _STATE_LOCK:
            self._write(seed_value, offset_value)
        return self

    def extra_repr(self) -> str:
        seed, offset = self._read()
        return f"seed={seed}, offset={offset}"


_default: list[Generator] = []
_default_lock = threading.Lock()


@on_fork_in_child
def _new_locks_after_fork() -> None:
    """A child forked while another thread held a lock inherits it held by a thread that does
    not exist there, and would wait for ever: give the child fresh locks. The state they guard
    is consistent in the child: each write under them is one array assignment, never torn."""
    global _STATE_LOCK, _default_lock
    _STATE_LOCK = threading.Lock()
    _default_lock = threading.Lock()


def default_generator() -> Generator:
    """The process-wide generator, created on first use and seeded then with ``seed()``."""
    with _default_lock:
        if not _default:
            gen = Generator()
            gen.seed()
            _default.append(gen)
        return _default[0]


def resolve(generator: Any, who: str) -> Generator:
    """``generator`` itself, or the default one for None; anything else is a TypeError."""
    if generator is None:
        return default_generator()
    if not isinstance(generator, Generator):
        raise fail_type(who, "generator", "a Generator or None", generator)
    return generator


def manual_seed(seed: Any) -> Generator:
    """Seed the default generator (offset reset to 0); returns it."""
    return default_generator().manual_seed(seed)


def seed() -> Tensor:
    """Reseed the default generator from NumPy's global state; returns the seed."""
    return default_generator().seed()


def initial_seed() -> Tensor:
    """The default generator's seed."""
    return default_generator().initial_seed()


def get_rng_state() -> tuple[Tensor, Tensor]:
    """The default generator's ``(seed, offset)``."""
    return default_generator().get_state()


def set_rng_state(seed: Any, offset: Any = None) -> Generator:
    """Restore the default generator's state (``offset=None`` means 0)."""
    return default_generator().set_state(seed, offset)


@contextmanager
def fork_rng(generators: Iterable[Generator] | None = None) -> Iterator[None]:
    """Save the state of the default generator (or of ``generators``) and restore it on exit,
    on an exception too."""
    if generators is not None and (isinstance(generators, (Generator, str, bytes))
                                   or not hasattr(generators, "__iter__")):
        raise fail_type("fork_rng", "generators", "None or an iterable of Generators", generators)
    gens = [default_generator()] if generators is None else list(generators)
    for g in gens:
        if not isinstance(g, Generator):
            raise fail_type("fork_rng", "generators", "an iterable of Generators", g)
    saved = [g.get_state() for g in gens]
    try:
        yield
    finally:
        for g, (s, o) in zip(gens, saved):
            g.set_state(s, o)
