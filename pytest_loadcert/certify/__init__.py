"""From gate outcomes to a verdict and its documents: the verdict rule and the status words
(:mod:`~pytest_loadcert.certify.verdict`), ``certificate.json``
(:mod:`~pytest_loadcert.certify.certificate`, read back and checked by
:mod:`~pytest_loadcert.certify.read`) and the in-toto Statement.

pytest-free. Imports ``gates``, ``evidence``, ``config`` and ``errors``.
"""
