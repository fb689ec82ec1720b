"""The package's version (layer 0: imports nothing), read by the certificate, the in-toto
Statement, the demo service and ``loadcert --version``."""

__version__ = "0.1.0"
