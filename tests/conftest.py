"""Suite-wide fixtures. Servers are started once per session by the component plugins below."""

from __future__ import annotations

pytest_plugins = [
    "tests.components.elasticsearch",
    "tests.components.waf",
]
