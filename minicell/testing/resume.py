"""``assert_resume_exact``: stopping, checkpointing and resuming changes nothing.

The check runs the same training three ways and compares the fingerprints of the results:

1. ``state = make_state()``, then ``step(state, i)`` for ``i`` in ``range(total)``;
2. another ``make_state()``, ``step`` for ``i < stop_at``, ``save_checkpoint`` to a temporary file;
3. a third ``make_state()`` (as a new process would build it), ``load_param_into_net`` from that
   file (``strict_load=True``), ``step`` for ``stop_at <= i < total``.

Runs 1 and 2 start from the same default-generator and NumPy global states. Run 3 starts with
both reseeded to states of their own, as in a new process (where the default generator is
seeded afresh): a training state that draws from the default generator or NumPy's global state
without holding it, or from a Generator it does not hold as a Parameter, does not resume exactly,
and the check says so. (A Dropout built without a generator registers the default generator as
its sub-cell, so a state holding it does hold the default generator.) Parameters are copied as
soon as each run ends, so states that share objects (the default generator) still compare
correctly. The default generator and NumPy's global state are restored at the end.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._checks import Shown, check_int, fail_type, fail_value
from minicell.cell import Cell
from minicell.generator import default_generator
from minicell.serialization import load_checkpoint, load_param_into_net, save_checkpoint
from minicell.testing._tree import cell_parameters
from minicell.testing.compare import cell_differences
from minicell.testing.digest import fingerprint

# The default-generator seed and NumPy seed of the "new process" that resumes (any fixed values
# other than the running process's own would do).
RESUME_SEED = 0x5EED_2E5E
WHO = "assert_resume_exact"


def _fresh(make_state: Callable[[], Cell]) -> Cell:
    state = make_state()
    if not isinstance(state, Cell):
        raise fail_type(WHO, "make_state", "a function returning a Cell", Shown(f"one returning "
                                                                                f"{type(state).__name__}"))
    return state


def _run(state: Cell, step: Callable[[Cell, int], Any], first: int, stop: int) -> Cell:
    for i in range(first, stop):
        step(state, i)
    return state


def _mismatch(what: str, a: dict, b: dict) -> AssertionError:
    """A failure comparing two parameter snapshots (``cell_parameters``)."""
    return AssertionError(f"{what}: fingerprint {fingerprint(a)} vs {fingerprint(b)}. "
                          + "\n".join(cell_differences(a, b)))


def assert_resume_exact(make_state: Callable[[], Cell], step: Callable[[Cell, int], Any], total: int,
                        stop_at: int) -> str:
    """Check that ``total`` steps equal ``stop_at`` steps, a checkpoint, a fresh state loaded from
    it and the remaining steps, by fingerprint (see the module docstring for the three runs).

    Args:
        make_state: builds a fresh training state: a Cell holding everything a run needs as
            Parameters (model, optimizer state, Generators, counters). Called three times; two
            calls must give equal states.
        step: ``step(state, i)`` performs global step ``i`` (0-based) on ``state``.
        total: the number of steps, >= 0.
        stop_at: where the interrupted run stops and checkpoints, in ``[0, total]``.

    Returns:
        The fingerprint of the final state.
    """
    __tracebackhide__ = True
    for arg, fn in (("make_state", make_state), ("step", step)):
        if not callable(fn):
            raise fail_type(WHO, arg, "callable", fn)
    total = check_int(WHO, "total", total, 0)
    stop_at = check_int(WHO, "stop_at", stop_at, 0)
    if stop_at > total:
        raise fail_value(WHO, "stop_at", f"an int in [0, total] = [0, {total}]", stop_at)
    gen = default_generator()
    saved_gen, saved_numpy = gen.get_state(), np.random.get_state()
    try:
        straight, interrupted = _fresh(make_state), _fresh(make_state)
        if straight is interrupted:
            raise fail_value(WHO, "make_state", "a function building a new state on every call",
                             Shown(f"one that returned the same {type(straight).__name__} twice"))
        first, second = cell_parameters(straight, WHO), cell_parameters(interrupted, WHO)
        if fingerprint(first) != fingerprint(second):
            raise _mismatch("make_state() is not deterministic: two fresh states differ", first, second)
        expected = cell_parameters(_run(straight, step, 0, total), WHO)  # copies, taken now: the
        gen.set_state(*saved_gen)                                          # states may share objects
        np.random.set_state(saved_numpy)
        _run(interrupted, step, 0, stop_at)
        with tempfile.TemporaryDirectory(prefix="minicell-resume-") as folder:
            path = os.path.join(folder, "state.ckpt")
            save_checkpoint(interrupted, path)
            gen.manual_seed(RESUME_SEED)  # a new process: its own default generator and NumPy state
            np.random.seed(RESUME_SEED)
            resumed = _fresh(make_state)
            load_param_into_net(resumed, load_checkpoint(path), strict_load=True)
        got = cell_parameters(_run(resumed, step, stop_at, total), WHO)
    finally:
        gen.set_state(*saved_gen)
        np.random.set_state(saved_numpy)
    if fingerprint(expected) != fingerprint(got):
        raise _mismatch(f"Resume not exact: {total} steps in one go differ from {stop_at} steps, a checkpoint "
                        f"and {total - stop_at} steps on a fresh state loaded from it", expected, got)
    return fingerprint(got)
