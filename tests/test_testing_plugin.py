"""The pytest plugin: minicell_generator seeded from the node id, seed shown on failure, --minicell-seed."""
import configparser
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import minicell as mc
from minicell.testing.plugin import seed_from_nodeid

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]

TESTS = '''
import minicell as mc

def test_draws(minicell_generator):
    values = mc.ops.rand(3, generator=minicell_generator).asnumpy()
    print("seed", int(minicell_generator.initial_seed()), "values", values.tolist())
    assert False

def test_plain():
    pass

def test_passes(minicell_generator):
    assert int(minicell_generator.get_state()[1]) == 0
'''


@pytest.fixture
def run(pytester, monkeypatch):
    """Run pytest on TESTS with only this plugin (entry points off, so an installed copy does not
    register it twice)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_sample=TESTS)

    def go(*args):
        return pytester.runpytest("-p", "minicell.testing.plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                  "-s", *args)
    return go


def printed(result):
    match = re.search(r"seed (\d+) values (\[.*\])", "\n".join(result.outlines))
    assert match, result.outlines
    return int(match.group(1)), match.group(2)


def test_seed_is_the_first_8_bytes_of_sha256_of_the_node_id():
    nodeid = "test_sample.py::test_draws"
    assert seed_from_nodeid(nodeid) == int.from_bytes(hashlib.sha256(nodeid.encode()).digest()[:8], "big")


def test_fixture_seed_comes_from_the_node_id_and_is_shown_on_failure(run):
    result = run()
    result.assert_outcomes(failed=1, passed=2)
    expected = int.from_bytes(hashlib.sha256(b"test_sample.py::test_draws").digest()[:8], "big")
    seed, values = printed(result)
    assert seed == expected
    assert values == str(mc.random.uniform(expected, 0, 3).tolist())
    result.stdout.fnmatch_lines([
        "*- minicell -*",
        f"minicell_generator seed: {expected}",
        f"replay with: pytest 'test_sample.py::test_draws' --minicell-seed {expected}",
    ])
    assert result.stdout.str().count("minicell_generator seed:") == 1  # not for passing tests


def test_minicell_seed_replays_a_failure_under_another_test(run, pytester):
    first = printed(run())
    seed = seed_from_nodeid("test_sample.py::test_draws")
    other = seed_from_nodeid("test_sample.py::test_passes")
    pytester.makepyfile(test_replay='''
import minicell as mc

def test_replay(minicell_generator):
    values = mc.ops.rand(3, generator=minicell_generator).asnumpy()
    print("seed", int(minicell_generator.initial_seed()), "values", values.tolist())
''')
    replay = pytester.runpytest("-p", "minicell.testing.plugin", "-s", "-W",
                                "ignore::pytest.PytestAssertRewriteWarning", "test_replay.py", "--minicell-seed",
                                str(seed))
    replay.assert_outcomes(passed=1)
    assert printed(replay) == first
    assert f"minicell: every minicell_generator seeded with {seed}" in replay.stdout.str()
    assert seed != other


def test_minicell_seed_must_be_a_uint64(run):
    result = run("--minicell-seed", "-1")
    assert result.ret != 0
    assert "argument --minicell-seed: invalid uint64 value: '-1'" in result.stderr.str()
    assert run("--minicell-seed", "0x10").ret == 1  # hex is accepted; test_draws fails as written


def test_a_run_without_the_fixture_is_unchanged(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_other="def test_x():\n    assert 1 == 2\n")
    result = pytester.runpytest("-p", "minicell.testing.plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(failed=1)
    assert "minicell_generator seed" not in result.stdout.str() and "minicell:" not in result.stdout.str()


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    entries = [line.strip() for line in config["options.entry_points"]["pytest11"].splitlines() if line.strip()]
    assert entries == ["minicell = minicell.testing.plugin"]


AUTOLOADED = '''
from minicell.testing.plugin import seed_from_nodeid


def test_fixture_from_the_entry_point(minicell_generator, request):
    assert int(minicell_generator.initial_seed()) == seed_from_nodeid(request.node.nodeid)
    print("MARKER fixture seeded from the node id")
'''


def test_the_installed_entry_point_loads_the_plugin_with_autoload_on(tmp_path):
    """pytest in a subprocess with plugin autoload on and no ``-p``: the installed ``pytest11``
    entry point ``minicell`` alone must provide the fixture (and ``-p no:minicell``, which
    blocks that entry point by name, must take it away)."""
    (tmp_path / "test_autoloaded.py").write_text(AUTOLOADED)
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's minicell, under the installed entry point
    command = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", str(tmp_path / "test_autoloaded.py")]
    loaded = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "MARKER fixture seeded from the node id" in loaded.stdout and "1 passed" in loaded.stdout
    assert re.search(r"^plugins: .*\bminicell-", loaded.stdout, re.M), loaded.stdout  # listed as an entry point
    blocked = subprocess.run(command + ["-p", "no:minicell"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env=env)
    assert blocked.returncode != 0 and "fixture 'minicell_generator' not found" in blocked.stdout, blocked.stdout
