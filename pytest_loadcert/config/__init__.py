"""What a certification requires: the profile (stages, bounds, metrics, cluster, waivers).

``profile`` is the typed model the gates read, ``defaults`` the built-in profile, ``load``
reads TOML over the defaults. Imports only :mod:`pytest_loadcert.errors` and the standard
library: everything else may import it, it imports nothing of the rest.
"""
