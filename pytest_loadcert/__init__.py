"""pytest-loadcert: load-test certification as pytest tests.

The plugin (``pytest_loadcert.plugin``) turns an evidence bundle into a verdict; the
modules beside it hold the pytest-free core (evidence parsing, gates, verdict, certificate)
and the ``loadcert`` command line.
"""

from __future__ import annotations

__version__ = "0.1.0"
