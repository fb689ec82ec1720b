"""Repository-level pytest configuration.

Only ``tests/`` holds the project's tests; the example service, recorders and bundles
are never collected.
"""

collect_ignore = ["evidence", "fixtures", "tools", "bench", "docs"]
