"""Every environment variable the product reads, in one place (imports nothing), and the
command-line options that name the same settings in pytest and in ``loadcert``.

A setting given on the command line wins over its variable, and the variable over the ini
file (``plugin/settings.py``, ``config/committed.py``); the README lists them for users.
"""

from __future__ import annotations

from typing import Final

#: The bundle to certify (``--evidence-dir``); its presence makes a certification run.
EVIDENCE_DIR: Final = "LOADCERT_EVIDENCE_DIR"
#: The profile file (``--loadcert-profile``).
PROFILE: Final = "LOADCERT_PROFILE"
#: The commit the bundle must be bound to (``--loadcert-git-sha``).
GIT_SHA: Final = "LOADCERT_GIT_SHA"
#: Where certificate.json is written (``--loadcert-certificate``).
CERTIFICATE: Final = "LOADCERT_CERTIFICATE"
#: Where the in-toto Statement is written (``--loadcert-intoto``).
INTOTO: Final = "LOADCERT_INTOTO"
#: Turns on ``loadcert --debug`` (tracebacks of bugs) unless empty, 0, false, no or off.
DEBUG: Final = "LOADCERT_DEBUG"
#: Replaces the size cap of one evidence file (a positive number of bytes).
MAX_FILE_BYTES: Final = "LOADCERT_MAX_FILE_BYTES"
#: Names the certification session (run id of the CI job, say); a fresh random id when unset.
#: ``loadcert report`` and ``loadcert verify`` refuse a certificate of another session.
SESSION: Final = "LOADCERT_SESSION"
#: A file the plugin appends one JSON line to for every certificate it writes (session,
#: path, sha256); ``loadcert certify`` reads it to know its pytest wrote a fresh certificate.
RECEIPT: Final = "LOADCERT_RECEIPT"

#: The command-line options a certification run (pytest) and the ``loadcert`` commands share,
#: beside their variables and defined once: the flag, its value's name and what it means
#: (the plugin adds how pytest uses it).
EVIDENCE_DIR_OPTION = ("--evidence-dir", "DIR", "the evidence bundle directory")
PROFILE_OPTION = (
    "--loadcert-profile",
    "TOML",
    "profile file (keys at top level); default: $LOADCERT_PROFILE, else the ini key "
    "loadcert_profile of the pytest configuration found from here, else [tool.loadcert] in "
    "the pyproject.toml beside it, else the built-in profile",
)
