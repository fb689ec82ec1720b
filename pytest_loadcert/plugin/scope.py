"""What a certification run was told to judge, checked against what it collected.

The team's gates are the test files under the declared gate paths (ini ``loadcert_gates``),
found by walking the file system, not by asking pytest what survived collection. Every
collected item is recorded as pytest collects it (``pytest_itemcollected``), before any
``pytest_collection_modifyitems`` hook of the repository or another plugin runs. Then:

- a declared gate file that collected no test (left out by ``--ignore``, ``--ignore-glob``,
  a positional path, or a test file without tests) is a run problem;
- a gate collected from outside the declared gate paths and the built-in gates is a run
  problem (the gates are the declared ones, not whatever the command line named); a unit
  test collected from there is no gate and is deselected;
- a gate removed from the items before loadcert's own hook saw it is a run problem;
- a test in a gate file that uses no ``loadcert_*`` fixture reads no evidence: a run problem,
  never a silent deselection.

Options that change the rules of collection themselves (``-o`` of pytest's collection keys or
``loadcert_gates``, ``-c``, ``--noconftest``, ...) never get this far: they are refused
before any conftest is imported (:func:`pytest_loadcert.plugin.guards.check_rules_of_collection`).

Each problem blocks the verdict. ``-k``, ``-m`` and ``--deselect`` need no rule of their own:
a gate they deselect was collected, so it is expected, and it did not run.

Collection can be shrunk in more ways than any list of options names (a conftest hook, a
plugin, a node id naming one function of a file). So the last word is not about collection
at all: every gate function the declared gate files define, read from their source under the
repository's committed configuration (:mod:`pytest_loadcert.plugin.gatedefs`), must have
been judged (a gate report reached the certificate) at every stage of the profile, or the
run is blocked naming it (:func:`unjudged_functions`). Every ``conftest.py`` under the gate
paths is bound on the certificate whether or not the run loaded it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_loadcert.gates.catalogue import GateKey


@dataclass(frozen=True)
class GateFunction:
    """A gate function a declared gate file defines: ``path::name`` (``Class::name``)."""

    path: Path
    name: str


@dataclass(frozen=True)
class Discovered:
    """One item as pytest collected it, before any hook could remove it."""

    nodeid: str
    path: Path
    key: GateKey | None


def _walk(root: Path, norecurse: list[str], bundle: Path) -> Iterator[tuple[Path, list[str]]]:
    """Each folder under ``root`` (itself included) as pytest walks it, with its file names:
    ``norecursedirs`` honoured, ``__pycache__`` and the bundle never entered."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder).resolve()
        dirs[:] = sorted(
            d
            for d in dirs
            if d != "__pycache__"
            and not any(fnmatch(d, pattern) for pattern in norecurse)
            and here / d != bundle
        )
        yield here, sorted(names)


def declared_gate_files(
    gate_paths: tuple[Path, ...], python_files: list[str], norecurse: list[str], bundle: Path
) -> tuple[Path, ...]:
    """The test files under the declared gate paths (pytest's ``python_files`` patterns,
    ``norecursedirs`` honoured, the bundle never). A declared path that does not exist was
    refused before the run (:func:`pytest_loadcert.plugin.guards.check_gate_paths_exist`)."""
    files: list[Path] = []
    bundle = bundle.resolve()
    for root in gate_paths:
        if root.is_file():
            files.append(root.resolve())
            continue
        if not root.is_dir():
            continue
        for here, names in _walk(root, norecurse, bundle):
            files += [
                here / name
                for name in names
                if name.endswith(".py") and any(fnmatch(name, p) for p in python_files)
            ]
    return tuple(dict.fromkeys(files))


def expected_functions(
    files: tuple[Path, ...], functions: list[str], classes: list[str]
) -> tuple[GateFunction, ...]:
    """The gate functions ``files`` define (``python_functions``/``python_classes`` as
    committed). A file that cannot be parsed defines none here: pytest reports it as a
    collection error, or the file-level rule names it when it was left out."""
    from pytest_loadcert.plugin.gatedefs import gate_functions

    expected: list[GateFunction] = []
    for path in files:
        try:
            names = gate_functions(path, functions, classes)
        except (SyntaxError, ValueError, OSError, UnicodeDecodeError):
            continue
        expected += [GateFunction(path, name) for name in names]
    return tuple(expected)


def function_of(nodeid: str, rootdir: Path) -> GateFunction:
    """The gate function a report's node id belongs to (its parameter ids dropped)."""
    file, _, rest = nodeid.partition("::")
    bracket = rest.find("[")
    name = rest[:bracket] if bracket >= 0 else rest
    return GateFunction((rootdir / file).resolve(), name)


def unjudged_functions(
    expected: tuple[GateFunction, ...],
    judged: dict[GateFunction, set[tuple[str | None, str | None]]],
    stages: tuple[str, ...],
    relative: Any,
) -> list[str]:
    """A run problem for each expected gate function that no gate report judged, or that was
    judged at some of the profile's stages only (for any one of its subjects).

    ``judged`` maps a function to the (subject, stage) pairs its gate reports carry (stage
    None for a gate not parametrized over stages, subject None for a gate with no subject).
    """
    problems = []
    for function in expected:
        name = f"{relative(function.path)}::{function.name}"
        seen = judged.get(function)
        if not seen:
            problems.append(
                f"gate function {name} was not judged: the declared gate file defines it, and "
                "no report of it reached the certificate (an option, a node id, a hook or a "
                "conftest left it out of the run)"
            )
            continue
        for subject in sorted({s for s, _ in seen}, key=lambda s: (s is not None, s or "")):
            at = {stage for s, stage in seen if s == subject and stage is not None}
            missing = [stage for stage in stages if stage not in at]
            if at and missing:
                which = f" for {subject}" if subject is not None else ""
                problems.append(
                    f"gate function {name} was not judged at stage(s) {', '.join(missing)}"
                    f"{which}: a gate is judged at every stage of the profile"
                )
    return problems


def gate_conftests(
    gate_paths: tuple[Path, ...], norecurse: list[str], rootdir: Path, bundle: Path
) -> tuple[Path, ...]:
    """Every ``conftest.py`` that takes part in judging the gate paths: those under them
    (``norecursedirs`` as committed, the bundle never) and those in the folders from the
    rootdir down to each of them, as pytest loads them."""
    root = rootdir.resolve()
    bundle = bundle.resolve()
    found: list[Path] = []
    for gate_path in gate_paths:
        start = (gate_path if gate_path.is_dir() else gate_path.parent).resolve()
        if start == root or root in start.parents:
            chain = [start, *start.parents]
            found += [d / "conftest.py" for d in reversed(chain[: chain.index(root) + 1])]
        if gate_path.is_dir():
            found += [here / "conftest.py" for here, _ in _walk(gate_path, norecurse, bundle)]
    return tuple(p for p in dict.fromkeys(found) if p.is_file())


def unloaded_conftests(
    conftests: tuple[Path, ...], loaded: set[Path], collected: set[Path], relative: Any
) -> list[str]:
    """A run problem for each ``conftest.py`` of a folder the run collected gates from that
    the run did not load (its fixtures and hooks are part of those gates)."""
    problems = []
    for conftest in conftests:
        folder = conftest.parent
        if conftest in loaded:
            continue
        if any(folder in path.parents for path in collected):
            problems.append(
                f"{relative(conftest)} was not loaded, yet gates were collected beside it: "
                "its fixtures and hooks are part of those gates"
            )
    return problems


def scope_problems(
    *,
    declared: tuple[Path, ...],
    builtin: Path,
    required: set[GateKey],
    discovered: list[Discovered],
    present: set[str],
    relative: Any,
) -> list[str]:
    """The run problems of a certification run's scope (see the module docstring).

    ``present`` is the node ids still in the items when loadcert's collection hook runs;
    ``relative`` names a path for a message.
    """
    problems: list[str] = []
    declared_set = set(declared)
    collected_files = set()
    for item in discovered:
        path = item.path.resolve()
        collected_files.add(path)
        is_builtin = path == builtin
        if not is_builtin and path not in declared_set:
            if item.key is not None:
                problems.append(
                    f"{item.nodeid}: a gate collected from {relative(path)}, outside the "
                    "declared gate paths (loadcert_gates); a positional path does not choose "
                    "what is certified"
                )
            continue  # a unit test named on the command line: not a gate, deselected
        if item.key is None:
            if not is_builtin:
                problems.append(
                    f"{item.nodeid}: a test in a gate file that uses no loadcert_* fixture "
                    "reads no evidence; give it a loadcert_* fixture or move it out of the "
                    "gate paths"
                )
            continue
        if item.nodeid not in present and (not is_builtin or item.key in required):
            problems.append(
                f"{item.nodeid}: gate {item.key.id} was removed from the collected items "
                "before loadcert saw them (a collection hook of the repository or another "
                "plugin); every collected gate is expected"
            )
    for path in declared:
        if path not in collected_files:
            problems.append(
                f"gate file {relative(path)} is declared (loadcert_gates) but collected no "
                "test: --ignore, --ignore-glob, a positional path, or a file without tests "
                "left its gates out"
            )
    return problems


def gate_file_digests(
    declared: tuple[Path, ...], loaded_conftests: list[Path], rootdir: Path
) -> dict[str, str]:
    """The digest of every declared gate file and every conftest.py (of the gate paths, and
    any other the run loaded under the rootdir), by path (relative to ``rootdir`` where it
    lies under it): the certificate names the code that judged, as it names the evidence."""
    from pytest_loadcert.evidence.hashing import sha256_file

    digests = {}
    root = rootdir.resolve()
    # pytest loads conftest.py files from its rootdir down (confcutdir defaults to it).
    conftests = {p.resolve() for p in loaded_conftests if root in p.resolve().parents}
    for path in sorted({*declared, *conftests}):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix() if root in path.parents else str(path)
        digests[name] = sha256_file(path)
    return digests
