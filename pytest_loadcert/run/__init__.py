"""Producing and closing the bundle: ``loadcert run-stage`` (and the k6 binary it runs),
``merge-shards``, ``seal`` and ``verify``.

Imports ``collect`` (the git state), ``certify`` (reading a certificate back), ``gates``,
``evidence``, ``config`` and ``cliopts``.
"""
