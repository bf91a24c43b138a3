"""The step's random reservations, per thread: sample-indexed draws and the recompute log.

Two thread-local records that random ops consult when they reserve offsets of a Generator:

- **Sample-indexed draws** (DESIGN.md section 6). Inside ``sample_indexed(reservations,
  first_row)``, which the micro-batching ``TrainOneStepCell`` opens around its forward pass, the
  k-th reservation of the pass reuses the k-th entry of the step's ``reservations`` (made when it
  was first needed), so each random layer reserves one offset per global step however the batch
  is split, and ``first_row()`` gives the global index of the pass's first row (masks are indexed
  by global row).
- **The recompute log** (``Cell.recompute``). Every reservation made while a recomputed forward
  runs is logged (``note``); when the backward re-runs that forward, the same reservations are
  served from the log in order (``replayed``) without touching any generator.

They live here, below the tensor layer, so that ``minicell._autograd.recompute``,
``minicell.generator`` and ``minicell.ops`` share one record of them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from minicell._checks import Shown, fail


class _StepDraws(threading.local):
    reservations: list[Any] | None = None  # this step's (generator, seed, offset), by call order
    calls = 0
    first_row = 0


_draws = _StepDraws()
DETERMINISTIC = "deterministic (its random calls reserve, when recomputed, what they reserved in the forward pass)"
_log = threading.local()


@contextmanager
def sample_indexed(reservations: list[Any], first_row: int) -> Iterator[None]:
    """Random calls inside share the step's ``reservations`` and index rows from ``first_row``."""
    saved = (_draws.reservations, _draws.calls, _draws.first_row)
    _draws.reservations, _draws.calls, _draws.first_row = reservations, 0, int(first_row)
    try:
        yield
    finally:
        _draws.reservations, _draws.calls, _draws.first_row = saved


def indexing() -> bool:
    """Whether a ``sample_indexed`` context is open on this thread."""
    return _draws.reservations is not None


def first_row() -> int:
    """Inside ``sample_indexed``: the global index of the pass's first row (0 outside)."""
    return _draws.first_row if _draws.reservations is not None else 0


class Recording:
    """Reservations ``(generator, step, seed, offset)`` made while a recomputed forward runs."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, int, int, int]] = []


class Replay:
    """Serves logged reservations in order during a recompute."""

    def __init__(self, entries: list[tuple[Any, int, int, int]]) -> None:
        self.entries, self.position = entries, 0


def frames() -> list[Any]:
    """This thread's stack of ``Recording`` and ``Replay`` frames (innermost last)."""
    stack = getattr(_log, "frames", None)
    if stack is None:
        stack = _log.frames = []
    return stack


def with_frame(frame: Any, run: Callable[[], Any]) -> Any:
    """``run()`` with ``frame`` pushed on this thread's stack."""
    stack = frames()
    stack.append(frame)
    try:
        return run()
    finally:
        stack.pop()


def replaying() -> bool:
    """Whether a recompute is re-running a forward on this thread (state updates are skipped)."""
    return any(isinstance(frame, Replay) for frame in frames())


def replayed(generator: Any, step: int) -> tuple[int, int] | None:
    """The logged ``(seed, offset)`` for this reservation if a recompute is replaying, else None."""
    stack = frames()
    for index in range(len(stack) - 1, -1, -1):
        frame = stack[index]
        if isinstance(frame, Replay):
            if frame.position >= len(frame.entries):
                raise fail(RuntimeError, "Cell.recompute", "construct", DETERMINISTIC,
                           Shown("more reservations in the recomputed forward than in the forward pass"))
            gen, logged_step, seed, offset = frame.entries[frame.position]
            if gen is not generator or logged_step != step:
                raise fail(RuntimeError, "Cell.recompute", "construct", DETERMINISTIC,
                           Shown("a reservation from another generator or of another step when recomputed"))
            frame.position += 1
            for above in stack[index + 1:]:
                if isinstance(above, Recording):
                    above.entries.append((generator, step, seed, offset))
            return seed, offset
    return None


def note(generator: Any, step: int, seed: int, offset: int) -> None:
    """Log a fresh reservation into every recording on this thread."""
    for frame in frames():
        if isinstance(frame, Recording):
            frame.entries.append((generator, step, seed, offset))


def reserve_step(gen: Any, who: str) -> tuple[int, int]:
    """One step of ``gen``, or inside ``sample_indexed`` this call's shared reservation of the step."""
    reservations = _draws.reservations
    if reservations is None:
        return cast("tuple[int, int]", gen(1))
    logged = replayed(gen, 1)
    if logged is not None:  # a recomputing cell (Cell.recompute) replays its forward's offsets
        return logged
    k = _draws.calls
    if k < len(reservations):
        owner, seed, offset = reservations[k]
        if owner is not gen:
            raise fail(RuntimeError, who, "generator", f"the Generator of random call {k} of the step's first pass "
                       "(the forward pass must be the same for every pass)", Shown("another Generator"))
        note(gen, 1, seed, offset)  # so that a recompute of this forward replays it
    else:
        seed, offset = gen(1)
        reservations.append((gen, seed, offset))
    _draws.calls = k + 1
    return seed, offset
