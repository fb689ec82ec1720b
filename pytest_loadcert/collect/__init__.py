"""``loadcert collect <source>``: one module per live source (Prometheus, Kubernetes,
Grafana, OTel, git), each writing one part of the bundle, with the shared HTTP client,
redaction and progress line.

Imports ``cliopts``, ``evidence``, ``config``; heavy libraries (``requests``, ``kubernetes``)
only inside the command that needs them.
"""
