"""The package's import layers (DESIGN.md section 1): imports go one way, and nothing is circular.

Every ``import`` statement of every module is read from its source (those inside functions too)
and checked against the layer table; each module is also imported first in a fresh interpreter.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minicell"

# (layer, module-name prefixes), bottom first; a module may import only from its own layer or below
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("helpers", ("minicell._checks", "minicell._special", "minicell._array", "minicell._runtime", "minicell._exact",
                 "minicell._checkpoint")),
    ("primitives", ("minicell.primitives",)),
    ("random", ("minicell.random",)),
    ("tensor", ("minicell._autograd", "minicell.tensor", "minicell.autograd")),
    ("cells", ("minicell.parameter", "minicell.cell", "minicell.containers", "minicell.serialization")),
    ("generator", ("minicell.generator",)),
    ("ops", ("minicell.ops",)),
    ("initializer and nn", ("minicell.initializer", "minicell.nn")),
    ("communication, dataset, testing", ("minicell.communication", "minicell.dataset", "minicell.testing",
                                         "minicell.run")),
]
NUMPY_ONLY = {"helpers", "primitives", "random"}
FORBIDDEN_IN_PURE = ("threading", "multiprocessing", "concurrent")


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def source_of(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def imports_of(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in its source, as absolute names."""
    tree = ast.parse(source_of(module).read_text(), str(source_of(module)))
    is_package = source_of(module).name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # ``from minicell import ops`` imports the module minicell.ops
                if source_of(f"{target}.{alias.name}").exists() if target.startswith("minicell") else False:
                    found.add(f"{target}.{alias.name}")
    return found


def minicell_edges() -> dict[str, set[str]]:
    modules = set(module_names())
    edges = {}
    for module in modules:
        targets = {t for t in imports_of(module) if t.split(".")[0] == "minicell"}
        # ``from minicell.x import name`` where name is not a module: the edge is to minicell.x
        edges[module] = {t for t in targets if t in modules} | {
            t.rsplit(".", 1)[0] for t in targets if t not in modules and t.rsplit(".", 1)[0] in modules}
    return edges


def test_every_module_has_a_layer():
    unassigned = [m for m in module_names() if m != "minicell" and layer_of(m) is None]
    assert not unassigned, f"modules missing from the layer table: {unassigned}"


def test_imports_go_one_way():
    wrong = []
    for module, targets in minicell_edges().items():
        if module == "minicell":
            continue  # the facade re-exports everything
        for target in targets:
            if target == "minicell":
                wrong.append(f"{module} imports the package facade 'minicell'")
            elif layer_of(target) > layer_of(module):
                wrong.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                             f"({LAYERS[layer_of(target)][0]})")
    assert not wrong, "upward imports:\n" + "\n".join(sorted(wrong))


def test_lower_layers_import_only_numpy_and_the_standard_library():
    wrong = []
    for module in module_names():
        layer = layer_of(module)
        if layer is None or LAYERS[layer][0] not in NUMPY_ONLY:
            continue
        for target in imports_of(module):
            top = target.split(".")[0]
            allowed = top in ("minicell", "numpy", "__future__") or top in sys.stdlib_module_names
            format_package = module.startswith("minicell._checkpoint.") and top in ("safetensors", "google")
            blas_limits = module == "minicell._runtime.blas" and top == "threadpoolctl"
            if not allowed and not blas_limits and not format_package:
                wrong.append(f"{module} imports {target}")
            if LAYERS[layer][0] in ("primitives", "random") and top in FORBIDDEN_IN_PURE:
                wrong.append(f"{module} (pure) imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    edges = minicell_edges()
    edges.pop("minicell", None)
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt == "minicell" or nxt.startswith(node + ".") and source_of(node).name == "__init__.py":
                continue  # a package's __init__ re-exporting its own submodules is not a circle
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def _import_alone(module: str) -> tuple[str, int, str]:
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    return module, result.returncode, result.stderr[-2000:]


def test_each_module_imports_first_in_a_fresh_interpreter():
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_import_alone, module_names()))
    failed = [f"{m}:\n{err}" for m, code, err in results if code]
    assert not failed, "\n\n".join(failed)


def test_import_minicell_does_not_import_mpi4py_or_hypothesis():
    code = "import sys, minicell; print(sorted(m for m in ('mpi4py', 'hypothesis', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("bad_source, message", [
    ("from minicell.nn import Dense\n", "imports minicell.nn"),
    ("import minicell.ops\n", "imports minicell.ops"),
])
def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch, bad_source, message):
    # a negative control: plant an upward import in a copy of a helper and run the check on it
    fake_root = tmp_path / "repo"
    (fake_root / "minicell").mkdir(parents=True)
    (fake_root / "minicell" / "__init__.py").write_text("")
    (fake_root / "minicell" / "_checks.py").write_text(bad_source)
    for name in ("nn", "ops"):
        (fake_root / "minicell" / name).mkdir()
        (fake_root / "minicell" / name / "__init__.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake_root / "minicell")
    with pytest.raises(AssertionError, match=message):
        test_imports_go_one_way()


# Runtime state has one home, minicell/_runtime/ (DESIGN.md section 1): name -> the one module allowed.
RUNTIME_OWNERS = {
    "threadpoolctl": "minicell/_runtime/blas.py",
    "ThreadPoolExecutor": "minicell/_runtime/pools.py",
    "register_at_fork": "minicell/_runtime/fork.py",
}


def test_threads_blas_limits_and_fork_handlers_live_in_runtime():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), relative)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]] + [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.Name):
                names = [node.id]
            wrong += [f"{relative}:{node.lineno} uses {name} (its home is {RUNTIME_OWNERS[name]})"
                      for name in names if name in RUNTIME_OWNERS and RUNTIME_OWNERS[name] != relative]
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_few_private_modules_sit_at_the_top_and_no_submodule_is_shadowed():
    """At most four private modules directly in minicell/ (the rest live in private subpackages
    named for their concern), and no package attribute hides a submodule of the same name
    (``import minicell.ops.dropout as m`` must give the module, not the function)."""
    top = sorted(p.name for p in PACKAGE.glob("_*.py") if p.name != "__init__.py")
    assert len(top) <= 4, top
    code = ("import importlib, pkgutil, sys, minicell\n"
            "bad = []\n"
            "for info in pkgutil.walk_packages(minicell.__path__, 'minicell.'):\n"
            "    module = importlib.import_module(info.name)\n"
            "    parent, _, leaf = info.name.rpartition('.')\n"
            "    if getattr(sys.modules[parent], leaf) is not module: bad.append(info.name)\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"shadowed submodules: {out.stdout}"
