"""The built wheel holds the whole package: every subpackage, ``py.typed`` and the pytest plugin.

The wheel is built from a copy of the sources (so no ``build/`` or ``*.egg-info`` lands in the
repository) with ``pip wheel . --no-deps`` (without build isolation when setuptools is installed: no
download), and read as the zip file it is.
"""
from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "setup.cfg", "README.md", "minicell")


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "dist"
    # the installed setuptools when there is one (no download); else pip's isolated build fetches it
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", *isolation, "--quiet",
                             "-w", str(out)], cwd=source, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = list(out.glob("minicell-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_holds_every_subpackage_py_typed_and_the_plugin_entry_point(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next((archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")),
                            "")
    packages = sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "minicell").rglob("__init__.py"))
    assert len(packages) > 10, packages
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"subpackages missing from the wheel: {missing}"
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "minicell").rglob("*.py"))
    assert [m for m in modules if m not in names] == []
    assert "minicell/py.typed" in names
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser.has_section("pytest11"), entry_points
    assert parser.get("pytest11", "minicell").strip() == "minicell.testing.plugin"
