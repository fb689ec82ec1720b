"""The package's layout: subpackages in one order, arrows that run one way, no circle.

Read from the source with :mod:`ast` (every import: top level, inside functions and under
``TYPE_CHECKING`` alike), so a module that reaches upwards, or a circle hidden behind a
function-level import, fails here and names the file and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_loadcert"

#: Layer of each top-level part: a module may import its own subpackage, or a lower layer.
#: Parts on the same layer (evidence and cliopts; collect and report; plugin and run; cli and
#: demo) do not import each other. Keep in step with README "Layout".
LAYERS = {
    "errors": 0,
    "status": 0,
    "envvars": 0,
    "config": 1,
    "evidence": 2,
    "cliopts": 2,
    "gates": 3,
    "certify": 4,
    "collect": 5,
    "report": 5,
    "plugin": 6,
    "run": 6,
    "cli": 7,
    "demo": 7,
    "__main__": 8,
    "version": 0,
}
#: Subpackages that must never import pytest, nor the libraries of an optional extra.
PYTEST_FREE = {"errors", "status", "envvars", "version", "config", "evidence", "gates",
               "certify", "report", "collect", "run", "cliopts", "cli"}  # fmt: skip
PYTEST_MODULES = ("pytest", "_pytest", "pluggy", "xdist", "pytest_html")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part(module: str) -> str:
    return module.split(".")[0] if module else ""


def imports(path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module of the package) for every import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pytest_loadcert."):
                    yield node.lineno, alias.name.removeprefix("pytest_loadcert.")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pytest_loadcert" or node.module.startswith("pytest_loadcert."):
                base = node.module.removeprefix("pytest_loadcert").lstrip(".")
                for alias in node.names:
                    sub = f"{base}.{alias.name}".lstrip(".")
                    if sub in known:  # ``from pytest_loadcert.demo import service``
                        yield node.lineno, sub
                    elif base:
                        yield node.lineno, base
                    # ``from pytest_loadcert import __version__``: the package root, which
                    # imports nothing (tested below)


def third_party(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def graph() -> dict[str, dict[str, int]]:
    found = modules()
    known = set(found)
    return {
        name: {target: line for line, target in imports(path, known) if target != name}
        for name, path in found.items()
    }


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {part(m) for m in modules() if m}
    assert parts <= set(LAYERS), f"no layer for {sorted(parts - set(LAYERS))}: add it to LAYERS"


def test_every_subpackage_says_what_it_holds_and_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        if init.parent.name in ("schemas", "assets"):
            continue
        where = init.relative_to(PACKAGE.parent)
        assert doc and "import" in doc.lower(), f"{where}: no docstring saying what it holds " \
            "and what it may import"  # fmt: skip


def test_the_package_root_imports_nothing_of_the_package_at_run_time() -> None:
    """Its public names load lazily; only type checkers see them imported."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    eager = [ast.unparse(node) for node in tree.body
             if isinstance(node, (ast.Import, ast.ImportFrom))
             and "pytest_loadcert" in ast.unparse(node)]  # fmt: skip
    assert eager == []


def test_arrows_run_down_the_layers() -> None:
    wrong = []
    for source, targets in graph().items():
        if not source:
            continue
        for target, line in targets.items():
            if part(target) == part(source):
                continue
            if LAYERS[part(target)] >= LAYERS[part(source)]:
                wrong.append(
                    f"{module_name_to_file(source)}:{line} imports {target} "
                    f"({part(source)} is layer {LAYERS[part(source)]}, "
                    f"{part(target)} layer {LAYERS[part(target)]})"
                )
    assert not wrong, "\n".join(wrong)


def module_name_to_file(module: str) -> str:
    return str(modules()[module].relative_to(PACKAGE.parent))


def test_no_import_circle() -> None:
    edges = graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in edges.get(node, {}):
            # A module imports its package's __init__ by its own import; not an arrow back.
            if node.startswith(f"{target}.") and target:
                continue
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("name", sorted(m for m in modules() if part(m) in PYTEST_FREE))
def test_only_the_plugin_imports_pytest(name: str) -> None:
    path = modules()[name]
    found = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {mod}"
             for line, mod in third_party(path) if mod in PYTEST_MODULES]  # fmt: skip
    assert not found, "\n".join(found)


def test_the_layout_check_catches_an_arrow_upwards(tmp_path: Path) -> None:
    """The check itself can fail: a gate importing the plugin is an arrow against the order."""
    source = "import pytest_loadcert.plugin.state\nfrom pytest_loadcert.collect import git\n"
    (tmp_path / "gate.py").write_text(source)
    known = set(modules())
    found = [target for _, target in imports(tmp_path / "gate.py", known)]
    assert found == ["plugin.state", "collect.git"]
    assert all(LAYERS[part(t)] > LAYERS["gates"] for t in found)


def test_the_gate_authors_names_come_from_one_place_and_load_lazily() -> None:
    """``from pytest_loadcert import GateResult, ...`` works for every public name, and
    ``import pytest_loadcert`` alone loads no other module of the package."""
    import subprocess
    import sys

    import pytest_loadcert

    for name in pytest_loadcert.__all__:
        assert getattr(pytest_loadcert, name) is not None, name
    assert pytest_loadcert.GateResult.__module__ == "pytest_loadcert.gates.result"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_loadcert.nope  # noqa: B018
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, pytest_loadcert; "
         "print(sorted(m for m in sys.modules if m.startswith('pytest_loadcert')))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert loaded == "['pytest_loadcert']"


def test_the_gate_authors_names_other_than_fixtures_leave_pytest_out() -> None:
    """A script that reads a bundle with the gate author's names (``PrometheusLookup``
    among them) does not import pytest: only the fixtures need the plugin."""
    import subprocess
    import sys

    import pytest_loadcert

    names = [n for n in pytest_loadcert.__all__]
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys; from pytest_loadcert import {', '.join(names)}; "
         "print(sorted(m for m in ('pytest', '_pytest') if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert loaded == "[]"


def test_the_load_gates_read_the_load_summary_seam_not_the_k6_reader() -> None:
    """A second load tool's reader is one new module: no gate names k6's own reader."""
    readers = {
        f"{module_name_to_file(source)}:{line}"
        for source, targets in graph().items()
        if part(source) == "gates" or source == "plugin.builtin_gates"
        for target, line in targets.items()
        if target == "evidence.k6"
    }
    assert not readers, f"import evidence.load.LoadSummary instead: {sorted(readers)}"


SCRIPTS = ("tools", "bench", "fixtures", "tests")


def _named_imports() -> Iterator[tuple[Path, int, str, str]]:
    """(file, line, module, name) for every ``from pytest_loadcert... import name`` in the
    scripts and tests, which no type checker reads."""
    root = PACKAGE.parent
    for folder in SCRIPTS:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "pytest_loadcert"
                ):
                    for alias in node.names:
                        yield path.relative_to(root), node.lineno, str(node.module), alias.name


def test_scripts_and_tests_import_what_the_package_has() -> None:
    """A module moved or split in the package must not leave a benchmark or a recorder
    importing a name from where it used to be (mypy checks the package only)."""
    import importlib

    missing = []
    for path, line, module, name in _named_imports():
        try:
            found = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{path}:{line}: {module}: {exc}")
            continue
        if not hasattr(found, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{path}:{line}: {module} has no {name}")
    assert missing == []


#: The names of the bundle contract's files; evidence/layout.py spells each of them once.
CONTRACT_NAMES = (
    "loadcert.json",
    "stage.json",
    "prometheus.json",
    "k6-summary",
    "shard-",
    "kubernetes.json",
    "collection.json",
    "grafana.json",
    "otel-traces.json",
    "git.json",
    "k6-script.js",
    "k8s-manifest.yaml",
)


def _code_strings(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of ``path`` that is code (docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value


def test_every_path_of_the_contract_is_spelt_in_layout_only() -> None:
    """A path of the bundle is built from evidence/layout.py's names, never retyped: a
    module that spells ``"stage.json"`` itself would go on reading the old place after the
    contract moved it. Prose (a message that names a file among words) is left alone."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "evidence" / "layout.py":
            continue
        for line, text in _code_strings(path):
            if " " in text:
                continue  # prose, not a path
            if any(name in text for name in CONTRACT_NAMES):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert found == []
