"""mypy sees minicell's public API: Tensor's methods and operators, the examples, the package.

The package ships ``py.typed``; a user's script that uses Tensor methods must type-check, and a
script that misuses them must not (the negative control shows mypy really sees the methods).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

GOOD = '''
import numpy as np
import minicell as mc
from minicell import nn, ops

x = mc.Tensor([1.0, 2.0], requires_grad=True)
y = (x.relu() * 2 + x.exp().sum() - 1.0) / 3.0
z: mc.Tensor = (y ** 2).mean() + abs(-x).max() + (x @ x) + x.T.sum()
w = x.reshape(2, 1).transpose().flatten().unsqueeze(0).squeeze(0)[0]
z.backward()
grad: mc.Tensor | None = x.grad
value: float = float(z.item()) + float(w.sum())
net = nn.SequentialCell([nn.Dense(2, 3), nn.ReLU(), nn.Dropout(0.1)])
out: mc.Tensor = net(ops.rand(4, 2))
names: list[str] = [name for name, _ in net.parameters_and_names()]
mask: mc.Tensor = x > 1.0
array: np.ndarray = out.asnumpy()
'''

BAD = '''
import minicell as mc

x = mc.Tensor([1.0, 2.0])
x.relu(5)
x.no_such_method()
y: int = x.sum()
'''


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory):
    pytest.importorskip("mypy")
    folder = tmp_path_factory.mktemp("typing")
    (folder / "good.py").write_text(GOOD)
    (folder / "bad.py").write_text(BAD)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(folder / "cache"), "--config-file", str(ROOT / "setup.cfg"),
         "--no-error-summary", "--show-error-codes", str(folder / "good.py"), str(folder / "bad.py"),
         str(ROOT / "examples")], capture_output=True, text=True, timeout=600, cwd=ROOT)
    return folder, result


def test_the_package_the_examples_and_a_user_script_type_check(mypy_report):
    folder, result = mypy_report
    errors = [line for line in result.stdout.splitlines() if ": error:" in line and "bad.py" not in line]
    assert not errors, "\n".join(errors)


def test_mypy_sees_tensor_methods_negative_control(mypy_report):
    folder, result = mypy_report
    lines = sorted({int(m.group(1)) for m in re.finditer(r"bad\.py:(\d+): error", result.stdout)})
    assert lines == [5, 6, 7], result.stdout
