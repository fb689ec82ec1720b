"""The repository's pytest configuration as committed, read without asking pytest.

pytest's ``config.getini`` answers with the run's values: ``-o`` on the command line, in
``PYTEST_ADDOPTS`` or in ``addopts`` replaces the file's value, and ``-c``/``--rootdir`` swap
the file itself. A certification run must judge the gates the repository declares, so the
plugin finds the configuration file the way pytest finds it from where it was started
(walking up from the invocation directory: ``pytest.toml``, ``.pytest.toml``, ``pytest.ini``,
``.pytest.ini``, ``pyproject.toml`` with a ``[tool.pytest]`` table, ``tox.ini`` with
``[pytest]``, ``setup.cfg`` with ``[tool:pytest]``) and reads it itself. The ``-o`` entries of
the file's own ``addopts`` are part of what is committed and are applied.

Nothing here imports pytest: the file is read with ``iniconfig`` (a pytest dependency) and
``tomllib``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Value = str | list[str] | bool | int | float

#: The files pytest reads its configuration from, in its order of preference within one
#: folder (one of them fixes the rootdir).
PYTEST_CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)

#: pytest's defaults for the keys that decide which files, classes and functions are tests.
DEFAULTS: dict[str, list[str]] = {
    "python_files": ["test_*.py", "*_test.py"],
    "python_classes": ["Test"],
    "python_functions": ["test"],
    "norecursedirs": [
        "*.egg",
        ".*",
        "_darcs",
        "build",
        "CVS",
        "dist",
        "node_modules",
        "venv",
        "{arch}",
    ],
}


class CommittedConfigError(Exception):
    """The repository's configuration file cannot be read (names the file)."""


@dataclass(frozen=True)
class Committed:
    """The configuration file pytest would use from the invocation directory, and its values
    (with the ``-o`` entries of its own ``addopts`` applied)."""

    inipath: Path | None
    values: dict[str, Value] = field(default_factory=dict)
    #: The ``-o`` entries of the committed ``addopts`` (the run sees them as overrides too).
    addopts_overrides: tuple[str, ...] = ()

    @property
    def rootdir(self) -> Path | None:
        return self.inipath.parent if self.inipath is not None else None

    def string(self, name: str) -> str:
        value = self.values.get(name, "")
        return value if isinstance(value, str) else " ".join(str(v) for v in _as_list(value))

    def args(self, name: str) -> list[str]:
        """An ``args`` key (``python_files``, ``norecursedirs``, ...): pytest's default when
        the key is not set."""
        if name not in self.values:
            return list(DEFAULTS.get(name, []))
        value = self.values[name]
        import shlex

        return shlex.split(value) if isinstance(value, str) else [str(v) for v in _as_list(value)]

    def paths(self, name: str) -> tuple[Path, ...]:
        """A ``paths`` key (``loadcert_gates``), relative to the configuration file."""
        if self.inipath is None:
            return ()
        base = self.inipath.parent
        return tuple((base / p).resolve() for p in self.args(name))

    def path(self, name: str) -> Path | None:
        """A ``string`` key naming one path (``loadcert_profile``), relative to the file."""
        text = self.string(name)
        if not text or self.inipath is None:
            return None
        return (self.inipath.parent / text).resolve()


def _as_list(value: Value) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def locate(start: Path) -> Committed:
    """The configuration pytest finds from ``start`` upward, read from the file.

    Raises :class:`CommittedConfigError` naming a file that cannot be parsed.
    """
    fallback: Path | None = None
    for folder in (start.resolve(), *start.resolve().parents):
        for name in PYTEST_CONFIG_NAMES:
            path = folder / name
            if not path.is_file():
                continue
            values = _read(path)
            if values is not None:
                return _with_addopts(path, values)
            if name == "pyproject.toml" and fallback is None:
                fallback = path
    return Committed(fallback) if fallback is not None else Committed(None)


def _read(path: Path) -> dict[str, Value] | None:
    """The pytest section of ``path``, or None when the file holds no pytest section (a
    ``pytest.ini``/``pytest.toml`` always counts, even empty)."""
    import tomllib

    import iniconfig

    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            if path.name in ("pytest.toml", ".pytest.toml"):
                return dict(data.get("pytest", {}))
            tool = data.get("tool", {}).get("pytest")
            if not isinstance(tool, dict):
                return None
            native = {k: v for k, v in tool.items() if k != "ini_options"}
            if native:
                return native
            ini = tool.get("ini_options")
            return dict(ini) if isinstance(ini, dict) else None
        parsed = iniconfig.IniConfig(str(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommittedConfigError(f"{path}: cannot be read: {exc}") from None
    except iniconfig.ParseError as exc:
        raise CommittedConfigError(f"{path}: {exc}") from None
    section = "tool:pytest" if path.suffix == ".cfg" else "pytest"
    if section in parsed:
        return dict(parsed[section].items())
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None


def _with_addopts(path: Path, values: dict[str, Value]) -> Committed:
    """Apply the ``-o key=value`` entries of the file's own ``addopts``, as pytest does."""
    import shlex

    addopts = values.get("addopts", "")
    tokens = (
        shlex.split(addopts) if isinstance(addopts, str) else [str(a) for a in _as_list(addopts)]
    )
    overrides = override_entries(tokens)
    merged = dict(values)
    for entry in overrides:
        key, _, value = entry.partition("=")
        merged[key.strip()] = value
    return Committed(path, merged, tuple(overrides))


def override_entries(tokens: list[str]) -> list[str]:
    """The ``key=value`` of every ``-o``/``--override-ini`` in ``tokens``, in order."""
    entries = []
    it = iter(tokens)
    for token in it:
        if token in ("-o", "--override-ini"):
            entries.append(next(it, ""))
        elif token.startswith("--override-ini="):
            entries.append(token.split("=", 1)[1])
        elif token.startswith("-o") and len(token) > 2 and not token.startswith("--"):
            entries.append(token[2:])
    return entries


def profile_file(committed: Committed, option: str | Path | None, start: Path) -> Path | None:
    """The profile file a run names, as the plugin and every ``loadcert`` command resolve it:
    ``--loadcert-profile``, else ``$LOADCERT_PROFILE`` (both relative to ``start``, where the
    command was started), else the committed ini key ``loadcert_profile`` (relative to the
    configuration file); None when nothing names one."""
    import os

    import pytest_loadcert.envvars as envvars

    if option:
        return (start / option).resolve()
    if os.environ.get(envvars.PROFILE):
        return (start / os.environ[envvars.PROFILE]).resolve()
    return committed.path("loadcert_profile")


def pyproject_of(committed: Committed, start: Path) -> Path | None:
    """The ``pyproject.toml`` whose ``[tool.loadcert]`` table is the profile when no file is
    named: the one beside the repository's configuration (pytest's rootdir), else in
    ``start``."""
    folder = committed.rootdir or start
    path = folder / "pyproject.toml"
    return path if path.is_file() else None
