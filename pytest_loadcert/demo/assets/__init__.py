"""Package data of ``loadcert demo``: its profile (``demo.toml``) and k6 script (``script.js``)."""
