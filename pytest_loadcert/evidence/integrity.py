"""What a bundle may hold, and the one comparison of a bundle with the file set it was bound
in (the manifest's ``files``, or a certificate's ``evidence_files``).

:func:`walk_bundle` lists the regular files and refuses every entry no bundle may hold;
:func:`compare_files` returns every :class:`FileDifference`, structured, which the
integrity gate (:meth:`pytest_loadcert.evidence.bundle.Bundle.integrity_problems`) and
``loadcert verify`` each put in their own words. Sealing walks the same way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pytest_loadcert.config.committed import PYTEST_CONFIG_NAMES
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.evidence.jsonio import is_partial_write, max_file_bytes
from pytest_loadcert.evidence.layout import MANIFEST


@dataclass(frozen=True)
class Refused:
    """An entry no bundle may hold, and why."""

    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def unsafe_path_reason(rel: str) -> str | None:
    """Why ``rel`` cannot name a file inside the bundle, or None when it can."""
    if not rel or "\\" in rel or "\x00" in rel:
        return "is not a plain relative '/'-separated path"
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return "leaves the bundle or is not normalised ('..', '.', '//')"
    return None


def shown(rel: str) -> str:
    """``rel`` as printable text: bytes of a non-UTF-8 file name appear as ``\\xff`` escapes.

    ``os`` returns such names with surrogates, which no message may carry (writing the
    certificate as UTF-8 would fail).
    """
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


#: Files pytest or Python would read as configuration or run as code when the judge is started
#: in (or above) the bundle. Evidence never needs them, and they must never take part in
#: judging it.
JUDGE_CONFIG_NAMES = frozenset({"conftest.py", *PYTEST_CONFIG_NAMES})
CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth")


def judge_code_reason(name: str) -> str | None:
    """Why a file named ``name`` may not be in a bundle (code or pytest configuration).

    Compared without case: on a case-insensitive file system (macOS, Windows) pytest finds
    ``conftest.PY`` as ``conftest.py``.
    """
    folded = name.casefold()
    if folded in JUDGE_CONFIG_NAMES or folded.endswith(CODE_SUFFIXES):
        return (
            "is Python code or pytest configuration, which pytest could load while judging "
            "the bundle; evidence never needs it"
        )
    return None


def walk_bundle(root: Path) -> tuple[set[str], list[Refused]]:
    """Every regular file under ``root`` but the manifest, and every entry that may not be there.

    Links are never followed. Symbolic links, special files, backslashes and non-UTF-8 names,
    temporary files of interrupted writes, Python code and pytest configuration files
    (:func:`judge_code_reason`) and unreadable directories are returned as refusals.
    """
    files: set[str] = set()
    refused: list[Refused] = []

    def unreadable(exc: OSError) -> None:
        refused.append(Refused(shown(str(exc.filename)), f"cannot be read ({exc.strerror})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames):
            if (base / name).is_symlink():
                rel = shown((base / name).relative_to(root).as_posix())
                refused.append(Refused(rel, "is a symbolic link"))
        for name in sorted(filenames):
            full = base / name
            rel = full.relative_to(root).as_posix()
            if rel == MANIFEST:
                continue
            why = _refusal(full, rel, name)
            if why is None:
                files.add(rel)
            else:
                refused.append(Refused(shown(rel), why))
    return files, refused


def _refusal(full: Path, rel: str, name: str) -> str | None:
    mode = os.lstat(full).st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if "\\" in rel:
        return "a backslash in a bundle path is ambiguous"
    if shown(rel) != rel:
        return "the name is not UTF-8"
    if is_partial_write(name):
        return (
            "a temporary file of a write that never finished (a command killed mid-write); "
            "delete it and run that command again"
        )
    return judge_code_reason(name)


# ----------------------------------------------------------------------------- the one diff


class Kind(StrEnum):
    """How a file differs from the set it was bound in."""

    UNSAFE = "unsafe"  # a link, special file, code, unreadable entry: no bundle may hold it
    CASE = "case"  # differs from another bound or present path only in case
    SELF = "self"  # the bound set lists the manifest itself
    MISSING = "missing"  # bound, but not a regular file in the bundle
    TOO_LARGE = "too_large"  # over the per-file cap: never hashed
    CHANGED = "changed"  # its sha256 is not the bound one
    ADDED = "added"  # in the bundle, but not bound


@dataclass(frozen=True)
class FileDifference:
    """One file that differs from the set it was bound in.

    ``other``: for UNSAFE the reason, for CASE the path it collides with; ``actual``: the
    sha256 found (CHANGED); ``bound``: the sha256 it was bound with (CHANGED, MISSING);
    ``size`` and ``cap``: the file's size and the byte cap (TOO_LARGE).
    """

    kind: Kind
    path: str
    other: str = ""
    actual: str = ""
    bound: str = ""
    size: int = 0
    cap: int = 0

    def problem(self) -> str:
        """``"<path>: <what>"`` against the manifest (the integrity gate)."""
        if self.kind is Kind.MISSING:
            what = f"listed in {MANIFEST} files but not a regular file in the bundle"
        elif self.kind is Kind.CHANGED:
            what = f"sha256 is {self.actual}, {MANIFEST} records {self.bound}"
        elif self.kind is Kind.ADDED:
            what = f"in the bundle but not in {MANIFEST} files"
        else:
            what = self._what()
        return f"{self.path}: {what}"

    def line(self) -> str:
        """``"<kind>: <path>: <what>"`` against a certificate (``loadcert verify``)."""
        if self.kind is Kind.MISSING:
            what = f"certified with {self.bound}, not in the bundle"
        elif self.kind is Kind.CHANGED:
            what = f"sha256 is {self.actual}, certified {self.bound}"
        elif self.kind is Kind.ADDED:
            what = "in the bundle, but not certified"
        else:
            what = self._what()
        return f"{self.label}: {self.path}: {what}"

    @property
    def label(self) -> str:
        """The word ``loadcert verify`` says: changed, missing, added or unsafe."""
        return _LABELS[self.kind]

    def _what(self) -> str:
        """The words both say alike."""
        if self.kind is Kind.UNSAFE:
            return self.other
        if self.kind is Kind.CASE:
            return f"differs from {self.other} only in case"
        if self.kind is Kind.SELF:
            return "files lists the manifest itself"
        return f"is {self.size} bytes, over the {self.cap}-byte cap; not hashed"


_LABELS = {
    Kind.UNSAFE: "unsafe",
    Kind.CASE: "unsafe",  # one file or two, by the file system: ambiguous
    Kind.SELF: "changed",
    Kind.MISSING: "missing",
    Kind.TOO_LARGE: "changed",
    Kind.CHANGED: "changed",
    Kind.ADDED: "added",
}


def compare_files(root: Path, bound: Mapping[str, str]) -> list[FileDifference]:
    """Every difference between the bundle at ``root`` and ``bound`` (path -> sha256).

    The bundle is walked with :func:`walk_bundle`; a file over the cap
    (:func:`~pytest_loadcert.evidence.jsonio.max_file_bytes`) is never read, since a sparse
    file can be terabytes. No bound set may list the manifest itself.
    """
    cap = max_file_bytes()
    on_disk, refused = walk_bundle(root)
    differences = [FileDifference(Kind.UNSAFE, r.path, other=r.why) for r in refused]
    refused_paths = {r.path for r in refused}
    lowered: dict[str, str] = {}
    for rel in sorted(set(bound) | on_disk):
        other = lowered.setdefault(rel.lower(), rel)
        if other != rel:
            differences.append(FileDifference(Kind.CASE, rel, other=other))
    for rel in sorted(bound):
        if rel == MANIFEST:
            differences.append(FileDifference(Kind.SELF, MANIFEST))
            continue
        if rel not in on_disk:
            if rel not in refused_paths:  # already said what is wrong with it
                differences.append(FileDifference(Kind.MISSING, rel, bound=bound[rel]))
            continue
        size = os.lstat(root / rel).st_size
        if size > cap:
            differences.append(FileDifference(Kind.TOO_LARGE, rel, size=size, cap=cap))
            continue
        actual = sha256_file(root / rel)
        if actual != bound[rel]:
            differences.append(FileDifference(Kind.CHANGED, rel, actual=actual, bound=bound[rel]))
    for rel in sorted(on_disk - set(bound)):
        differences.append(FileDifference(Kind.ADDED, rel))
    return differences
