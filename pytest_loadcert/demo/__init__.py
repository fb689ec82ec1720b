"""``loadcert demo``: the whole pipeline on this machine against a small instrumented
service (:mod:`~pytest_loadcert.demo.service`), with the example service and the assets
(profile and k6 script) it runs. Imports everything below it; nothing imports it.

``command`` (options, exit status) -> ``pipeline`` (the steps, in order) -> ``stages`` (k6 per
stage), ``prometheus_server`` (our own Prometheus), ``snapshot`` (what is bound as the code
under test) -> ``processes`` (starting and stopping local processes within a time budget).
``tools/record_example.py`` uses the same machinery to record the example bundle.
"""
