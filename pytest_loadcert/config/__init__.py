"""What a certification requires: the profile (stages, bounds, metrics, cluster, waivers),
loaded from TOML with the built-in defaults, and the environment names that choose it.

Imports only :mod:`pytest_loadcert.errors` and the standard library: everything else may
import it, it imports nothing of the rest.
"""
