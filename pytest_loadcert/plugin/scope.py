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
  never a silent deselection;
- ``-o loadcert_gates=...`` (on the command line or in ``PYTEST_ADDOPTS``) replacing the
  repository's declared gate paths is a run problem.

Each problem blocks the verdict. ``-k``, ``-m`` and ``--deselect`` need no rule of their own:
a gate they deselect was collected, so it is expected, and it did not run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_loadcert.gates.catalogue import GateKey


@dataclass(frozen=True)
class Discovered:
    """One item as pytest collected it, before any hook could remove it."""

    nodeid: str
    path: Path
    key: GateKey | None


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
        for folder, dirs, names in os.walk(root):
            here = Path(folder).resolve()
            dirs[:] = sorted(
                d
                for d in dirs
                if d != "__pycache__"
                and not any(fnmatch(d, pattern) for pattern in norecurse)
                and here / d != bundle
            )
            files += [
                here / name
                for name in sorted(names)
                if name.endswith(".py") and any(fnmatch(name, p) for p in python_files)
            ]
    return tuple(dict.fromkeys(files))


def scope_problems(
    *,
    declared: tuple[Path, ...],
    builtin: Path,
    required: set[GateKey],
    discovered: list[Discovered],
    present: set[str],
    override_ini: list[str],
    relative: Any,
) -> list[str]:
    """The run problems of a certification run's scope (see the module docstring).

    ``present`` is the node ids still in the items when loadcert's collection hook runs;
    ``relative`` names a path for a message.
    """
    problems: list[str] = []
    for option in override_ini:
        if option.split("=", 1)[0].strip() == "loadcert_gates":
            problems.append(
                f"-o {option} replaces the repository's declared gate paths (loadcert_gates): "
                "a certification run judges the gates the repository declares"
            )
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
    """The digest of every declared gate file and every conftest.py the run loaded under the
    rootdir, by path
    (relative to ``rootdir`` where it lies under it): the certificate names the code that
    judged, as it names the evidence."""
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
