"""``loadcert demo``: the whole pipeline on this machine against a small instrumented
service (:mod:`~pytest_loadcert.demo.service`), with the example service and the assets
(profile and k6 script) it runs. Imports everything below it; nothing imports it.
"""
