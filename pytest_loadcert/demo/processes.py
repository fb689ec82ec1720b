"""Local processes within a time budget: start them, wait until they answer, stop them.

Every process a demo or recording run starts gets a process group of its own
(:data:`NEW_GROUP`) and is stopped, with its children, by :class:`Processes`. Nothing here
knows about stages, evidence or certification; :mod:`.stages`, :mod:`.prometheus_server`
and :mod:`.pipeline` build on it.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest_loadcert.cliopts as cliopts

STOP_TIMEOUT_S = 5.0
#: Tail of a log shown when a step fails.
LOG_TAIL_CHARS = 2000


class PipelineError(cliopts.CommandError):
    """A step of the pipeline failed; the message names the step (exit status 1 unless the
    step says otherwise, e.g. 4 for a usage error)."""

    default_status = cliopts.EXIT_FAILED


class Deadline:
    """A time budget for a whole run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`PipelineError` when the budget is spent."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise PipelineError(f"over the {self.seconds:g} s time budget")
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Progress:
    """One line per step on stdout, with the seconds elapsed since the start."""

    def __init__(self, deadline: Deadline, out: IO[str] | None = None) -> None:
        self.deadline = deadline
        self.out = out if out is not None else sys.stdout

    def step(self, message: str) -> None:
        print(f"[{self.deadline.elapsed():5.1f}s] {message}", file=self.out, flush=True)

    def detail(self, message: str) -> None:
        print(f"         {message}", file=self.out, flush=True)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url`` on 127.0.0.1; (status, body), or (0, b"") when nothing answers."""
    import urllib.request

    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"{url}: only 127.0.0.1 is asked")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except OSError:
        return 0, b""


def wait_for(what: str, check: Callable[[], bool], deadline: Deadline, limit_s: float) -> None:
    """Poll ``check()`` every 0.1 s until true, at most ``limit_s``."""
    stop = time.monotonic() + min(limit_s, deadline.remaining())
    while time.monotonic() < stop:
        if check():
            return
        time.sleep(0.1)
    raise PipelineError(f"{what}: not ready after {limit_s:g} s")


def log_tail(path: Path) -> str:
    """The end of a log file, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:].strip()


def _signal(process: subprocess.Popen[Any], signum: int) -> None:
    """``signum`` to the process, and to its whole group when it leads one (see
    :class:`Processes`): a run-stage stops with the k6 it started."""
    try:
        if os.name == "posix" and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate a process we started (and its group), then kill it if it lingers; reaped."""
    if process is None:
        return
    if process.poll() is None:
        _signal(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


#: Keyword arguments for every process a run starts: a process group of its own, so that
#: stopping it stops its children too, and Ctrl-C reaches only the run, which then stops
#: each process in order (rather than all of them at once, mid-step).
NEW_GROUP: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}


@dataclass
class Processes:
    """Every process a run started, stopped in reverse order by :meth:`stop_all`."""

    started: list[subprocess.Popen[Any]] = field(default_factory=list)

    def add(self, process: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[Any] | None) -> None:
        stop_process(process)
        if process in self.started:
            self.started.remove(process)

    def stop_all(self) -> None:
        while self.started:
            stop_process(self.started.pop())


def start_listening_service(
    argv: Sequence[str],
    processes: Processes,
    deadline: Deadline,
    log: Path,
    what: str,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start a service whose first stdout line is ``listening on <url>``; (process, url)."""
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        process = processes.add(
            subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                **NEW_GROUP,
            )
        )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=min(15.0, deadline.remaining()))
    line = process.stdout.readline().strip() if ready else ""
    prefix = "listening on "
    if not line.startswith(prefix):
        processes.stop(process)
        detail = f"printed {line!r}" if line else "printed nothing within 15 s"
        raise PipelineError(f"{what} did not start ({detail}); its log: {log_tail(log)}")
    return process, line[len(prefix) :]
