"""The gate functions a gate file defines, read from its source (never by importing it).

What a run collected can be shrunk by the run itself: a hook, an override of pytest's
collection keys, a node id naming one function. What the file defines cannot. This module
follows pytest's own rules for what is a test (``python_functions``, ``python_classes``,
``__test__``, fixtures, classes with ``__init__``; module-level code under ``try``/``with``
counts) on the file's syntax tree, at function granularity: ``Class::method`` or
``function``. Parameter ids are not predicted (a hook can rename them); the stages a gate is
judged at are checked against the profile instead.

Not seen statically, so not expected (pytest collects them all the same): tests defined under
``if`` (the file states the condition), tests imported from another module, names built at
run time (``globals()``, ``setattr``), base classes from other modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from fnmatch import fnmatch
from pathlib import Path


def matches(name: str, patterns: list[str]) -> bool:
    """pytest's rule: a prefix, or a glob when the pattern has ``*?[``."""
    return any(
        name.startswith(p) or (any(c in p for c in "*?[") and fnmatch(name, p)) for p in patterns
    )


def gate_functions(path: Path, functions: list[str], classes: list[str]) -> list[str]:
    """The test functions ``path`` defines, as ``name`` or ``Class::name`` (nested classes
    joined with ``::``), in definition order.

    Raises ``SyntaxError`` / ``OSError`` / ``UnicodeDecodeError`` for a file that cannot be
    read; pytest reports such a file as a collection error.
    """
    tree = ast.parse(path.read_bytes(), filename=str(path))
    return list(_module(tree.body, functions, classes))


def _flat(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that always run at import: module code, descending into ``with`` and
    ``try`` (its body, ``else`` and ``finally``), never into defs.

    A test defined under ``if`` (or in an ``except`` handler) exists or not by a condition
    the committed file itself states; the file's source cannot say which branch runs, so such
    a test is not expected (pytest collects it or not, as the file decides).
    """
    for stmt in body:
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from _flat(stmt.body)
        elif isinstance(stmt, ast.Try):
            for part in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _flat(part)
        elif not isinstance(stmt, ast.If):
            yield stmt


def _bindings(body: list[ast.stmt]) -> tuple[dict[str, ast.AST], dict[str, bool]]:
    """Name -> last binding, in first-binding order; and ``X.__test__ = <bool>`` flags."""
    defs: dict[str, ast.AST] = {}
    flags: dict[str, bool] = {}
    for stmt in _flat(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[stmt.name] = stmt  # the value of the last binding, the place of the first
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                defs[target.id] = stmt.value
            elif (
                isinstance(target, ast.Attribute)
                and target.attr == "__test__"
                and isinstance(target.value, ast.Name)
                and isinstance(stmt.value, ast.Constant)
            ):
                flags[target.value.id] = bool(stmt.value.value)
    return defs, flags


def _is_fixture(node: ast.AST) -> bool:
    decorators = getattr(node, "decorator_list", [])
    for dec in decorators:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "fixture":
            return True
    return False


def _is_function(node: ast.AST) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))


def _module(body: list[ast.stmt], functions: list[str], classes: list[str]) -> Iterator[str]:
    defs, flags = _bindings(body)
    local_classes = {n: d for n, d in defs.items() if isinstance(d, ast.ClassDef)}
    for name, node in defs.items():
        flag = flags.get(name)
        if flag is False:
            continue
        if _is_function(node) and (matches(name, functions) or flag) and not _is_fixture(node):
            yield name
        elif isinstance(node, ast.ClassDef) and (matches(name, classes) or flag):
            yield from _class(name, node, functions, classes, local_classes)


def _class(
    prefix: str,
    cls: ast.ClassDef,
    functions: list[str],
    classes: list[str],
    local: Mapping[str, ast.AST],
) -> Iterator[str]:
    own, flags = _bindings(cls.body)
    test_flag = own.get("__test__")
    if isinstance(test_flag, ast.Constant) and test_flag.value is False:
        return
    if "__init__" in own or "__new__" in own:
        return  # pytest warns and collects nothing from such a class
    methods: dict[str, ast.AST] = {}
    for base in cls.bases:
        parent = local.get(base.id) if isinstance(base, ast.Name) else None
        if isinstance(parent, ast.ClassDef) and parent is not cls:
            inherited, _ = _bindings(parent.body)
            methods.update({n: d for n, d in inherited.items() if _is_function(d)})
    methods.update({n: d for n, d in own.items() if _is_function(d)})
    for name, node in methods.items():
        if flags.get(name) is False or _is_fixture(node):
            continue
        if matches(name, functions) or flags.get(name):
            yield f"{prefix}::{name}"
    for name, node in own.items():
        if isinstance(node, ast.ClassDef) and matches(name, classes):
            yield from _class(f"{prefix}::{name}", node, functions, classes, local)
