"""The pytest layer, the only subpackage that imports pytest: the hooks (the ``pytest11``
entry point :mod:`~pytest_loadcert.plugin.hooks`) and what they hand the work to: options,
settings, guards (what a run refuses before any gate), collection (which tests are gates),
outcomes (a report in loadcert's words), the public ``loadcert_*`` fixtures, the built-in
gates as ordinary tests, the run's state and controller, the junit properties and the
pytest-html hooks.

Imports ``report``, ``certify``, ``gates``, ``evidence``, ``config``; nothing imports it.
"""
