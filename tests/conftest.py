"""Suite-wide fixtures. Servers are started once per session by the component plugins below."""

from __future__ import annotations

# Imported here, at start-up: imported lazily from deep inside a test (pyshark's event loop), CPython
# 3.11.7's compiler trips over pytest's assertion rewriting ("AST constructor recursion depth mismatch").
import hypothesis  # noqa: F401

pytest_plugins = [
    "tests.components.elasticsearch",
    "tests.components.openstack",
    "tests.components.waf",
]
