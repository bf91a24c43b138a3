"""pytest plugin (entry point ``pytest11: minicell``): a per-test Generator and a replay flag.

- Fixture ``minicell_generator``: a new ``minicell.Generator`` seeded with the test's seed and
  offset 0. The seed is derived from the test's node id (``"tests/test_x.py::test_y[param]"``)
  as the first 8 bytes of its SHA-256, read as a big-endian unsigned integer::

      seed = int(hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:16], 16)

  so each test has its own stream, stable across runs, machines and test orders.
- When such a test fails, its report gets a section ``minicell`` with the seed and the command
  line flag that replays it.
- ``--minicell-seed N`` gives every ``minicell_generator`` the seed N instead (replaying a
  failure seen elsewhere, or trying another seed).

Loading the plugin imports minicell (and NumPy); it adds no autouse fixture and no hook that
acts on tests without the fixture, so other projects' runs are unchanged. Under
``@hypothesis.given`` a function-scoped fixture is shared by all examples; draw Generators with
``minicell.testing.strategies.generators()`` there instead.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from minicell._checks import fail_value
from minicell.generator import Generator

SEED_KEY = pytest.StashKey[int]()
UINT64_LIMIT = 1 << 64


def seed_from_nodeid(nodeid: str) -> int:
    """The seed of a test: the first 8 bytes of SHA-256 of its node id, big-endian."""
    return int(hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:16], 16)


def uint64(text: str) -> int:
    """An int in [0, 2**64) from the command line (decimal, or 0x hex)."""
    value = int(text, 0)
    if not 0 <= value < UINT64_LIMIT:  # argparse turns the ValueError into "invalid uint64 value"
        raise fail_value("--minicell-seed", "N", "an int in [0, 2**64)", value)
    return value


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("minicell")
    group.addoption("--minicell-seed", type=uint64, default=None, metavar="N",
                    help="seed every minicell_generator fixture with N (an int in [0, 2**64)) instead of "
                         "the seed derived from the test's node id")


def pytest_report_header(config: Any) -> str | None:
    seed = config.getoption("minicell_seed", None)
    return None if seed is None else f"minicell: every minicell_generator seeded with {seed}"


@pytest.fixture
def minicell_generator(request: Any) -> Iterator[Any]:
    """A ``minicell.Generator`` seeded from the test's node id (or ``--minicell-seed``)."""
    chosen = request.config.getoption("minicell_seed", None)
    seed = seed_from_nodeid(request.node.nodeid) if chosen is None else chosen
    request.node.stash[SEED_KEY] = seed
    request.node.user_properties.append(("minicell_seed", seed))
    yield Generator().manual_seed(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    seed = item.stash.get(SEED_KEY, None)
    if seed is not None and report.failed:
        report.sections.append(("minicell", f"minicell_generator seed: {seed}\n"
                                            f"replay with: pytest {item.nodeid!r} --minicell-seed {seed}"))
