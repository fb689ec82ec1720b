"""Strict JSON reading, and atomic writing, of evidence files.

Python's ``json`` accepts ``NaN``/``Infinity`` literals and silently keeps the last of
duplicate keys; evidence must do neither. Files are read with a size cap, as strict UTF-8
(a BOM is rejected), and only when they are regular files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest_loadcert.envvars as envvars
from pytest_loadcert.errors import EvidenceError

#: Default cap for one evidence file; k6 summaries and API responses are far smaller.
MAX_FILE_BYTES = 64 * 1024 * 1024


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"the literal {name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def max_file_bytes() -> int:
    """The cap for one evidence file: ``LOADCERT_MAX_FILE_BYTES`` when set, else 64 MiB."""
    raw = os.environ.get(envvars.MAX_FILE_BYTES, "").strip()
    if not raw:
        return MAX_FILE_BYTES
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise EvidenceError(
            envvars.MAX_FILE_BYTES, "", f"is {raw!r}; it must be a positive number of bytes"
        )
    return int(raw)


def read_bytes(path: Path, rel: str, max_bytes: int | None = None) -> bytes:
    """Read a regular file (no symlink, FIFO or directory), at most ``max_bytes``.

    Without ``max_bytes`` the cap is :func:`max_file_bytes`. The size is checked before
    the file is opened, so an oversized (or sparse) file is never read.
    """
    if max_bytes is None:
        max_bytes = max_file_bytes()
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise EvidenceError(rel, "", "is missing") from None
    except OSError as exc:
        raise EvidenceError(rel, "", f"cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise EvidenceError(rel, "", "is a symbolic link; evidence files must be regular files")
    if not stat.S_ISREG(info.st_mode):
        raise EvidenceError(rel, "", "is not a regular file")
    if info.st_size > max_bytes:
        raise EvidenceError(rel, "", f"is {info.st_size} bytes, over the {max_bytes}-byte cap")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise EvidenceError(rel, "", f"cannot be read ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise EvidenceError(rel, "", f"is over the {max_bytes}-byte cap")
    return data


def parse_json(data: bytes, rel: str) -> Any:
    """Parse ``data`` strictly; errors name ``rel`` and the position."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise EvidenceError(rel, "", "starts with a byte-order mark; JSON must be plain UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceError(rel, "", f"is not UTF-8 (byte {exc.start})") from None
    try:
        document = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as exc:
        raise EvidenceError(
            rel, "", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise EvidenceError(rel, "", f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise EvidenceError(rel, "", "is nested too deeply") from None
    # json accepts "\ud800" escapes that decode to no character; such a string cannot be
    # written back as UTF-8 (the certificate, the terminal) and is not text evidence.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise EvidenceError(
            rel, "", "holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): not Unicode text"
        )
    return document


def _has_lone_surrogate(document: Any) -> bool:
    stack = [document]
    while stack:  # iterative: the document may be nested as deep as json allows
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def read_json(path: Path, rel: str, max_bytes: int | None = None) -> Any:
    """Read and strictly parse the JSON file at ``path`` (``rel`` names it in errors)."""
    return parse_json(read_bytes(path, rel, max_bytes), rel)


def json_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """Render a JSON path like ``metrics.vus.values.max`` or ``queries[2].response``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text or "(document)"


#: The name :func:`write_atomic` gives its temporary file: ``.<name>.<8 random>.tmp``.
PARTIAL_WRITE_RE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def is_partial_write(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`write_atomic`. One is left behind only
    when the writing process was killed (SIGKILL, power loss) before it renamed the file."""
    return PARTIAL_WRITE_RE.fullmatch(name) is not None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory + ``os.replace``.

    A reader (or a crash) never sees a half-written evidence file. ``os.replace`` replaces
    a symbolic link at ``path`` rather than writing through it. A process killed before the
    rename leaves its temporary file (:func:`is_partial_write`), never a partial ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; evidence is meant to be read by others (CI, reviewers).
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def json_bytes(document: object) -> bytes:
    """``document`` as the bundle writes JSON: UTF-8, 2-space indent, newline, no NaN."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def write_json_atomic(path: Path, document: object) -> None:
    """Write ``document`` as JSON to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, json_bytes(document))
