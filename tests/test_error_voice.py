"""One voice for every error: no module of the package writes an error message by hand.

Every error that reports a user's mistake is made by ``minicell._checks`` (``fail(cls, who, arg,
expected, got)``, or its wrappers ``fail_type``/``fail_value`` and the ``check_*`` helpers), in the
wording ``For 'Name', 'arg' must be <expected>, but got <what came>.`` This test reads every module
of the package (``ast``) and fails, naming file:line, when an exception class is called with a
message of its own (a string literal, an f-string, ``%`` or ``.format``, a variable holding text,
or the old workaround ``XError(*fail_value(...).args)``), and when the wording ``For '...`` is
typed by hand anywhere. Calling an exception class with no argument (``raise StopIteration``,
``raise NotImplementedError``) says nothing and is fine.

Not checked, on purpose:
- ``minicell/_checks.py`` itself: the one place that writes the wording.
- ``AssertionError``: the verdict of a check in ``minicell.testing`` (``Not bitwise equal ...``),
  reporting a difference between two runs, not a user's mistake; its text is the report.
- ``REASON_CLASSES`` below: private exceptions whose text is only the ``<what came>`` part (why a
  checkpoint file is malformed, which package is missing, which two names clash). They never
  reach a user: the public function catches them and raises ``fail(...)`` with their text naming
  the file (``For 'load_checkpoint', 'ckpt_file_name' must be ..., but got '<path>': <reason>.``);
  a test below holds that each is caught somewhere in the package.
- ``INTERNAL_INVARIANTS`` below: errors that report a broken invariant of minicell itself (a bug
  in minicell, not a user's mistake), each listed with its reason.
"""
from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minicell"

# The one module that writes error text.
VOICE = "minicell/_checks.py"

# Exception classes whose text is a report, not a complaint about an argument (see the docstring),
# and the only folder where they may be raised with text.
REPORT_CLASSES = frozenset({"AssertionError"})
REPORT_HOME = "minicell/testing/"

# Private carriers of the <what came> part, re-raised through fail(...) by the public function,
# and the only folder where they may be made with text.
REASON_CLASSES = frozenset({"MalformedArchive", "MissingPackage", "NameClash"})
REASON_HOME = "minicell/_checkpoint/"

# What a `raise` may call with arguments: the voice's helpers and the small local helpers that
# return one of them (each checked by test_local_raisers_use_the_voice).
RAISERS = frozenset({"fail", "fail_type", "fail_value", "refuse", "missing_package", "_bad", "_mismatch"})
HAND_TYPED = re.compile(r"^\s*For\s*['\"{]")

# (file, enclosing function) -> why the message is not a user's mistake. Keep this list short.
INTERNAL_INVARIANTS: dict[tuple[str, str], str] = {
    ("minicell/nn/distributed.py", "piece"): "a position the exchange never held: a bug in the caller",
    ("minicell/nn/parallel_optimizer.py", "step_sliced"): "the exchange and the optimizer cut the slices alike "
                                                          "by construction; a difference is a bug",
    ("minicell/communication/agreement.py", "agree_in"): "relays to every rank the message a rank's own check "
                                                         "made (the caller's fail(...) text), unchanged",
}



def exception_names() -> set[str]:
    """Names of the builtin exception classes and of every exception class the package defines,
    subclasses of subclasses too (repeated until no new name appears, whatever the file order)."""
    names = {name for name, value in vars(builtins).items()
             if isinstance(value, type) and issubclass(value, BaseException)}
    classes = [node for path in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(), str(path))) if isinstance(node, ast.ClassDef)]
    while True:
        found = {node.name for node in classes if any(
            isinstance(base, (ast.Name, ast.Attribute)) and
            ((base.id if isinstance(base, ast.Name) else base.attr) in names or
             (base.id if isinstance(base, ast.Name) else base.attr).endswith(("Error", "Exception")))
            for base in node.bases)}
        if found <= names:
            return names
        names |= found


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Every node of ``tree`` mapped to the name of the innermost function around it ('' at top)."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else name
            owner[child] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def parsed(path: Path, root: Path) -> tuple[str, str, ast.AST, dict[ast.AST, str]]:
    """``(relative path, source, tree, enclosing function of each node)`` of a module."""
    relative = path.relative_to(root).as_posix()
    source = path.read_text()
    tree = ast.parse(source, relative)
    return relative, source, tree, enclosing_functions(tree)


def allowed_here(name: str | None, relative: str) -> bool:
    """A report class in minicell/testing/, a reason carrier in minicell/_checkpoint/."""
    return ((name in REPORT_CLASSES and relative.startswith(REPORT_HOME))
            or (name in REASON_CLASSES and relative.startswith(REASON_HOME)))


def hand_written_messages(path: Path, exceptions: set[str], root: Path = ROOT) -> list[str]:
    """``file:line  source`` of every exception class called with text of its own in ``path``."""
    relative, source, tree, owner = parsed(path, root)
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or called_name(node) not in exceptions:
            continue
        if not (node.args or node.keywords) or allowed_here(called_name(node), relative):
            continue
        if (relative, owner[node]) in INTERNAL_INVARIANTS or (relative, "*") in INTERNAL_INVARIANTS:
            continue
        line = ast.get_source_segment(source, node) or ""
        offenders.append(f"{relative}:{node.lineno}  {line.splitlines()[0][:100]}")
    for node in ast.walk(tree):  # the wording typed by hand, to be raised later from a variable
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and HAND_TYPED.match(node.value) \
                and (relative, owner[node]) not in INTERNAL_INVARIANTS and (relative, "*") not in INTERNAL_INVARIANTS:
            offenders.append(f"{relative}:{node.lineno}  the house wording typed by hand: {node.value[:60]!r}")
    return sorted(offenders, key=lambda text: int(text.split(":")[1].split()[0]))


def package_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative != VOICE:
            files.append(path)
    return files


def test_no_module_writes_its_own_error_message():
    exceptions = exception_names()
    offenders = [line for path in package_files() for line in hand_written_messages(path, exceptions)]
    assert not offenders, ("These exceptions are given a message written by hand; make them with "
                           "minicell._checks.fail(cls, who, arg, expected, got) instead:\n  "
                           + "\n  ".join(offenders))


def raises_through_other_calls(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line`` of every ``raise f(...)`` with arguments where ``f`` is neither a raiser of the
    voice nor an allowed class (a third-party class, an alias, ``type(error)(...)``, ...)."""
    relative, source, tree, owner = parsed(path, root)
    offenders = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        call, name = node.exc, called_name(node.exc)
        if not (call.args or call.keywords) or name in RAISERS or allowed_here(name, relative):
            continue
        if (relative, owner[node]) in INTERNAL_INVARIANTS:
            continue
        line = ast.get_source_segment(source, node) or ""
        offenders.append(f"{relative}:{node.lineno}  {line.splitlines()[0][:100]}")
    return offenders


def test_every_raise_with_a_message_goes_through_the_voice():
    offenders = [line for path in package_files() for line in raises_through_other_calls(path)]
    assert not offenders, "These raises make their exception another way than the voice's helpers:\n  " + \
        "\n  ".join(offenders)


def test_local_raisers_use_the_voice():
    """Each small local raiser in RAISERS returns what one of the voice's functions made."""
    voice = {"fail", "fail_type", "fail_value"}
    for path in package_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and node.name in RAISERS - voice:
                relative = path.relative_to(ROOT).as_posix()
                allowed = voice | (REPORT_CLASSES if relative.startswith(REPORT_HOME) else set())
                returned = [r.value for r in ast.walk(node) if isinstance(r, ast.Return)]
                assert returned and all(isinstance(v, ast.Call) and called_name(v) in allowed for v in returned), \
                    f"{path}: {node.name} must return fail(...), fail_type(...) or fail_value(...)"


def test_every_reason_carrier_is_caught_in_the_package():
    """A reason carrier that nothing catches would reach the user without the house wording."""
    caught: set[str] = set()
    for path in package_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught.update(called_name(ast.Call(func=kind, args=[], keywords=[])) or "" for kind in kinds)
    assert caught >= REASON_CLASSES, f"never caught: {sorted(REASON_CLASSES - caught)}"


def test_the_check_sees_every_kind_of_hand_written_message(tmp_path):
    """The reader catches each form of hand-made text, and lets the helper's calls pass."""
    module = tmp_path / "sample.py"
    module.write_text(
        "from minicell._checks import fail, fail_value\n"
        "def f(x, text):\n"
        "    if x == 1: raise ValueError('literal')\n"
        "    if x == 2: raise TypeError(f'For {x!r}')\n"
        "    if x == 3: raise KeyError('%s' % x)\n"
        "    if x == 4: raise IndexError('{}'.format(x))\n"
        "    if x == 5: raise RuntimeError(text)\n"
        "    if x == 6: raise OSError(*fail_value('f', 'x', 'good', x).args)\n"
        "    if x == 7: return LookupError(message='made, not raised')\n"
        "    if x == 8: raise fail(KeyError, 'f', 'x', 'a known key', x)\n"
        "    if x == 9: raise StopIteration\n"
        "    if x == 10: raise AssertionError('a report of a difference')\n"
        "    if x == 11: message = f\"For '{x}', ...\"\n"
        "    raise NotImplementedError()\n")
    found = hand_written_messages(module, exception_names(), tmp_path)
    # 12: an AssertionError report is allowed in minicell/testing/ only
    assert [line.split("  ")[0] for line in found] == [f"sample.py:{n}" for n in (*range(3, 10), 12, 13)]


def test_the_raise_check_sees_messages_made_another_way(tmp_path):
    """Third-party classes, aliases and computed classes called with text are caught at the raise."""
    module = tmp_path / "sample.py"
    module.write_text(
        "import numpy as np, zipfile\n"
        "from minicell._checks import fail_value\n"
        "Err = ValueError\n"
        "def f(x, error):\n"
        "    if x == 1: raise np.exceptions.AxisError('bad axis')\n"
        "    if x == 2: raise zipfile.BadZipFile('bad zip')\n"
        "    if x == 3: raise Err('aliased')\n"
        "    if x == 4: raise type(error)('computed')\n"
        "    if x == 5: raise fail_value('f', 'x', 'good', x)\n"
        "    raise KeyError\n")
    found = raises_through_other_calls(module, tmp_path)
    assert [line.split("  ")[0] for line in found] == [f"sample.py:{n}" for n in (5, 6, 7, 8)]
