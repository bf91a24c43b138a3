"""``Cell``: the base class of every model and layer (MindSpore's ``mindspore.nn.Cell``).

Subclass it, assign Parameters and sub-Cells as attributes in ``__init__`` (after
``super().__init__()``), and define ``construct``. Assignment registers them (``__setattr__``);
plain attribute access then finds them in ``__dict__`` (no ``__getattr__`` magic).

Naming follows MindSpore's auto-prefix: an unnamed Parameter takes its attribute name, and when a
Cell becomes the child ``fc1`` of another, its Parameters' names gain the prefix ``fc1.``, so in
a model ``param.name`` is its dotted path (``"fc1.weight"``). ``training`` is False on a new
Cell, as in MindSpore: call ``set_train()`` before training, or Dropout does nothing.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from minicell._autograd.grad_mode import is_grad_enabled
from minicell._autograd.recompute import run_recomputed
from minicell._checks import Shown, check_bool, fail, fail_type, fail_value
from minicell.parameter import Parameter


def _check_attr_name(owner: str, kind: str, name: Any, allow_dot: bool = False) -> str:
    if not isinstance(name, str):
        raise fail_type(owner, f"{kind} name", "a str", Shown(type(name).__name__))
    if not name or ("." in name and not allow_dot):
        raise fail_value(owner, f"{kind} name", "a non-empty str without '.'", name)
    return name


def walk(cell: Cell, name: str, by_prefix: bool) -> Iterator[tuple[Cell, str]]:
    """``(sub_cell, its name)`` for ``cell`` (named ``name``) and each sub-cell, once, depth first.

    The name is the dotted path, or with ``by_prefix`` the prefix of the cell's Parameter names:
    a child's prefix is its parent's plus the child's attribute name when the parent has
    ``auto_prefix=True`` (MindSpore's rule), and the parent's prefix unchanged otherwise.
    """
    seen: set[int] = set()
    stack = [(cell, name)]
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current, path
        extend = current._auto_prefix or not by_prefix
        for child_name, child in reversed(current._cells.items()):
            stack.append((child, (f"{path}.{child_name}" if path else child_name) if extend else path))


def check_not_ancestor(who: str, arg: str, parent: Cell, child: Any) -> None:
    """Refuse to make ``child`` a child of ``parent`` when ``parent`` is inside ``child``: the tree
    would become a cycle (``repr``, ``cells_and_names`` and checkpoint names would never end)."""
    if isinstance(child, Cell) and child is not parent and any(sub is parent for sub, _ in walk(child, "", False)):
        raise fail_value(who, arg, f"a Cell that does not contain this {type(parent).__name__} (a cell cannot be "
                         "its own descendant)", Shown(f"a {type(child).__name__} that contains it"))


def name_prefixes(cell: Cell, prefix: str) -> Iterator[tuple[Cell, str]]:
    """``(sub_cell, the prefix of its Parameters' names)`` for ``cell`` and each sub-cell, once."""
    return walk(cell, prefix, by_prefix=True)


def relative_names(cell: Cell) -> Iterator[tuple[str, Parameter]]:
    """Each Parameter's name relative to ``cell`` by the auto-prefix rule, ending in its leaf name."""
    for sub, prefix in name_prefixes(cell, ""):
        for param in sub._params.values():
            leaf = str(param._leaf_name)
            yield (f"{prefix}.{leaf}" if prefix else leaf), param


def set_scopes(cell: Cell, scope: str) -> None:
    """Record each sub-cell's name prefix, so Parameters added later get the right name."""
    for sub, prefix in name_prefixes(cell, scope):
        object.__setattr__(sub, "_scope", prefix)


class Cell:
    """Base class for layers and models: owns Parameters and child Cells, runs ``construct``.

    Args:
        auto_prefix: whether the names of a child's Parameters gain the child's attribute name
            as a prefix (MindSpore's ``auto_prefix``). Wrappers that should not rename what they
            wrap (``WithLossCell``, ``TrainOneStepCell``, optimizers) pass False, so a network's
            Parameter names are fixed when it is built, whatever wraps it later.
    """

    _params: OrderedDict[str, Parameter]
    _cells: OrderedDict[str, Cell]
    _auto_prefix: bool
    _scope: str
    training: bool

    def __init__(self, auto_prefix: bool = True) -> None:
        if not isinstance(auto_prefix, bool):
            raise fail_type(type(self).__name__, "auto_prefix", "a bool", auto_prefix)
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_cells", OrderedDict())
        object.__setattr__(self, "training", False)
        object.__setattr__(self, "_auto_prefix", auto_prefix)
        object.__setattr__(self, "_scope", "")  # the prefix of this cell's Parameters' names

    # ----- registration ------------------------------------------------------------------------
    def _registries(self) -> tuple[OrderedDict, OrderedDict]:
        try:
            return self.__dict__["_params"], self.__dict__["_cells"]
        except KeyError:
            raise fail(AttributeError, type(self).__name__, "__init__", "calling super().__init__() before "
                       "assigning attributes", Shown("an attribute assigned first")) from None

    def __setattr__(self, name: str, value: Any) -> None:
        params, cells = self._registries()
        if isinstance(value, Parameter):
            self.insert_param_to_cell(name, value, check_name_contain_dot=False)
        elif isinstance(value, Cell):
            self.insert_child_to_cell(name, value)
        elif name in params:
            raise fail_type(type(self).__name__, name, "a Parameter (it is one: assign a Parameter or use "
                                                       "set_data)", value)
        elif name in cells:
            raise fail_type(type(self).__name__, name, "a Cell (it is a child Cell: assign a Cell or delete it "
                                                       "first)", value)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        params, cells = self._registries()
        params.pop(name, None)
        cells.pop(name, None)
        object.__delattr__(self, name)

    def insert_param_to_cell(self, param_name: str, param: Parameter, check_name_contain_dot: bool = True) -> None:
        """Register ``param`` under ``param_name`` (an unnamed Parameter takes that name)."""
        params, cells = self._registries()
        _check_attr_name(type(self).__name__, "parameter", param_name, allow_dot=not check_name_contain_dot)
        if not isinstance(param, Parameter):
            raise fail_type(f"{type(self).__name__}.insert_param_to_cell", "param", "a Parameter",
                            Shown(type(param).__name__))
        if param_name in cells:
            raise fail_type(type(self).__name__, param_name, "a Cell (it is a child Cell and cannot become a "
                                                             "Parameter)",
                            Shown("a Parameter"))
        if param.name is None:
            param._leaf_name = param_name
            param.name = f"{self._scope}.{param_name}" if self._scope else param_name
        params[param_name] = param
        if not hasattr(type(self), param_name):  # never hide a method (Generator.seed stays callable)
            object.__setattr__(self, param_name, param)

    def insert_child_to_cell(self, child_name: str, child_cell: Cell) -> None:
        """Register ``child_cell`` under ``child_name`` and prefix its Parameters' names."""
        params, cells = self._registries()
        _check_attr_name(type(self).__name__, "child cell", child_name)
        if not isinstance(child_cell, Cell):
            raise fail_type(f"{type(self).__name__}.insert_child_to_cell", "child_cell", "a Cell",
                            Shown(type(child_cell).__name__))
        if child_name in params:
            raise fail_type(type(self).__name__, child_name, "a Parameter (it is one and cannot become a child Cell)",
                            Shown("a Cell"))
        if child_cell is self:
            raise fail_value(type(self).__name__, child_name, "a Cell other than this one", Shown("the Cell itself"))
        check_not_ancestor(type(self).__name__, child_name, self, child_cell)
        cells[child_name] = child_cell
        object.__setattr__(self, child_name, child_cell)
        scope = (f"{self._scope}.{child_name}" if self._scope else child_name) if self._auto_prefix else self._scope
        if scope:
            for current, param in relative_names(child_cell):
                if param.name == current:  # not yet placed under another parent (shared parameters)
                    param.name = f"{scope}.{current}"
        set_scopes(child_cell, scope)

    # ----- running -----------------------------------------------------------------------------
    def construct(self, *inputs: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise fail(NotImplementedError, type(self).__name__, "construct", "defined by the subclass to run the cell",
                   Shown("the base Cell's"))

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.__dict__.get("_recompute_on") and is_grad_enabled():
            return run_recomputed(self.construct, inputs, kwargs, self.trainable_params(),
                                             self.untrainable_params())
        return self.construct(*inputs, **kwargs)

    def recompute(self, **kwargs: Any) -> Cell:
        """Keep no activations of this cell for backward: recompute its forward during backward
        (MindSpore's ``Cell.recompute``; see ``minicell._autograd.recompute``). Dropout masks are replayed
        from the forward's reserved offsets, so gradients are bit-identical. MindSpore's keyword
        flags (``mp_comm_recompute``, ``parallel_optimizer_comm_recompute``,
        ``recompute_slice_activation``) are accepted as bools and have no effect. Returns self.
        """
        for key, value in kwargs.items():
            if key not in ("mp_comm_recompute", "parallel_optimizer_comm_recompute", "recompute_slice_activation"):
                raise fail_type(f"{type(self).__name__}.recompute", key, "one of MindSpore's keywords "
                                "['mp_comm_recompute', 'parallel_optimizer_comm_recompute', "
                                "'recompute_slice_activation']",
                                Shown("an unexpected keyword argument"))
            check_bool(f"{type(self).__name__}.recompute", key, value)
        object.__setattr__(self, "_recompute_on", True)
        return self

    def set_train(self, mode: bool = True) -> Cell:
        """Set training mode on this cell and every sub-cell; returns self."""
        mode = check_bool(f"{type(self).__name__}.set_train", "mode", mode)
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "training", mode)
        return self

    # ----- traversal ---------------------------------------------------------------------------
    def cells_and_names(self, cell_name: str = "") -> Iterator[tuple[str, Cell]]:
        """``(dotted_name, cell)`` for this cell (name ``cell_name``) and every sub-cell, once each."""
        for cell, name in walk(self, cell_name, by_prefix=False):
            yield name, cell

    def parameters_and_names(self, name_prefix: str = "", expand: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, param)`` in definition order; a shared Parameter appears once."""
        seen: set[int] = set()
        cells = self.cells_and_names(name_prefix) if expand else [(name_prefix, self)]
        for cell_name, cell in cells:
            for param_name, param in cell._params.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{cell_name}.{param_name}" if cell_name else param_name), param

    def get_parameters(self, expand: bool = True) -> Iterator[Parameter]:
        for _, param in self.parameters_and_names(expand=expand):
            yield param

    def trainable_params(self, recurse: bool = True) -> list[Parameter]:
        return [p for p in self.get_parameters(expand=recurse) if p.requires_grad]

    def untrainable_params(self, recurse: bool = True) -> list[Parameter]:
        return [p for p in self.get_parameters(expand=recurse) if not p.requires_grad]

    def parameters_dict(self, recurse: bool = True) -> OrderedDict[str, Parameter]:
        """Dotted name -> Parameter (the names checkpoints use)."""
        return OrderedDict(self.parameters_and_names(expand=recurse))

    def name_cells(self) -> OrderedDict[str, Cell]:
        """Direct children by attribute name."""
        return OrderedDict(self._cells)

    def cells(self) -> list[Cell]:
        """Direct children."""
        return list(self._cells.values())

    # ----- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """This cell's settings, shown in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        return self._tree_repr(set())

    def _tree_repr(self, ancestors: set[int]) -> str:
        """The repr of this cell's tree; a cell met again below itself is shown, not entered."""
        extra = self.extra_repr()
        if not self._cells:
            return f"{type(self).__name__}<{extra}>"
        if id(self) in ancestors:
            return f"{type(self).__name__}<{extra}> (cycle: already shown above)"
        lines = [f"{type(self).__name__}<{extra}"]
        for name, child in self._cells.items():
            child_repr = child._tree_repr(ancestors | {id(self)}).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append("  >")
        return "\n".join(lines)
