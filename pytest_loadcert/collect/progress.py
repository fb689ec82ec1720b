"""Progress of a long command, shown the way pip and k6 show it: on a terminal only.

On a terminal, :class:`StatusLine` keeps one line at the bottom of stderr and rewrites it in
place (``\\r`` and erase-line), at most ten times a second; the command's own lines (written
through :meth:`StatusLine.log`) go above it, and the status is erased when the command ends.
Anywhere else (a CI log, a file, a pipe) the status line writes nothing, so the output stays
one line per step and the same from run to run.

Thread-safe: the collectors update it from their worker threads.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

#: At most this many redraws a second; a faster status only costs the terminal.
MAX_RATE_HZ = 10.0
_ERASE = "\r\x1b[K"


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal that understands ``\\r`` and erase-line."""
    import os

    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
    return interactive and os.environ.get("TERM", "") != "dumb"


class StatusLine:
    """One rewritable status line on ``stream`` (default stderr), prefixed with ``prog``.

    ``enabled`` defaults to :func:`is_terminal`; when disabled, :meth:`update` and
    :meth:`clear` do nothing and :meth:`log` prints plain lines.
    """

    def __init__(
        self,
        prog: str,
        stream: IO[str] | None = None,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prog = prog
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._shown = ""
        self._drawn_at = -1.0

    def update(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` as the status (dropped if the last redraw was under 0.1 s ago,
        unless ``force``)."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            if not force and self._shown and now - self._drawn_at < 1.0 / MAX_RATE_HZ:
                return
            width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
            line = f"{self.prog}: {text}"
            if len(line) > width:
                line = line[: width - 3] + "..."
            self.stream.write(_ERASE + line)
            self.stream.flush()
            self._shown, self._drawn_at = line, now

    def clear(self) -> None:
        """Erase the status line (before the command's last lines, or at its end)."""
        with self._lock:
            self._erase()

    def log(self, message: str) -> None:
        """A line of its own, ``<prog>: message``, above the status line (which is redrawn by
        the next :meth:`update`)."""
        with self._lock:
            self._erase()
            print(f"{self.prog}: {message}", file=self.stream, flush=True)

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(_ERASE)
            self.stream.flush()
            self._shown = ""

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.clear()
