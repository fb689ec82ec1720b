"""``python -m pytest_loadcert``: the ``loadcert`` command line."""

from __future__ import annotations

import sys

from pytest_loadcert.cli import main

if __name__ == "__main__":
    sys.exit(main())
