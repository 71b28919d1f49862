"""openstacksdk through cloud.sdk: the service layer stays unimported until a name of the package is used.

Each check runs in a fresh interpreter: this test session has long since imported openstack in full.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import cloud.sdk
from openstack import exceptions
from openstack.network.v2.network import Network
from cloud.live import Live
seen = {
    "reading": "openstack.connection" in sys.modules,
    "proxies": any(m in sys.modules for m in ("openstack.network.v2._proxy", "openstack.identity.v3._proxy")),
}
try:
    getattr(sys.modules["openstack"], "__all__")
except AttributeError:
    seen["probe_kept_it_deferred"] = "openstack.connection" not in sys.modules
import openstack
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:  # the reconciler's workers all reach for openstack.connect at once
    seen["connect"] = all(pool.map(lambda _: callable(openstack.connect), range(4)))
seen["after"] = "openstack.connection" in sys.modules
seen["same_exceptions"] = openstack.exceptions is exceptions
from openstack.network.v2 import Proxy  # a deferred service package completes on its own name too
seen["network_proxy"] = Proxy.__module__ == "openstack.network.v2._proxy"
seen["reachable"] = openstack.network.v2.network.Network is Network
try:
    openstack.no_such_name
except AttributeError:
    seen["unknown_raises"] = True
print(json.dumps(seen))
"""


def _probe() -> dict[str, bool]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    seen: dict[str, bool] = json.loads(done.stdout)
    return seen


def test_reading_needs_no_service_layer_and_the_package_completes_on_first_use() -> None:
    seen = _probe()
    assert seen == {
        "reading": False,
        "proxies": False,
        "probe_kept_it_deferred": True,
        "connect": True,
        "after": True,
        "same_exceptions": True,
        "network_proxy": True,
        "reachable": True,
        "unknown_raises": True,
    }
