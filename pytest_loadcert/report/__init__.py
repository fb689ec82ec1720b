"""``certificate.json`` for people: the document model, its Markdown and HTML rendering,
the chart, the bottleneck playbook and the ``loadcert report`` command.

pytest-free. Imports ``certify``, ``evidence``, ``cliopts`` and ``errors``.
"""
