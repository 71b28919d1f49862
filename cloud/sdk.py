"""The door to openstacksdk: its configuration layer at once, its service layer when a change needs it.

`import openstack` runs the package's `__init__`, which imports `openstack.connection` and with it every
service's proxy (compute, block storage, object store, ...): about 0.2 s of CPU, a tenth of the 2 s a
no-change `tenant apply` may take. Reading the estate's part of the cloud needs only `clouds.yaml`
(`openstack.config`), keystoneauth and the resource definitions, so `defer_service_layer` registers the
package without running its `__init__` (as Mercurial's demandimport does for whole modules). The first
use of one of the package's own names (`openstack.connect`, ...) runs it, so code that imports
`openstack` as usual keeps working; submodules import as they always do. The network and identity
packages get the same treatment: their `__init__` imports the service's proxy (with every resource of the
service) only to re-export `Proxy`, while a snapshot needs a dozen resource modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests
    from openstack.config.cloud_region import CloudRegion
    from openstack.connection import Connection

PACKAGES = ("openstack", "openstack.network.v2", "openstack.identity.v3")
"""Parents before children: finding a child's spec imports its parents."""


def defer_service_layer() -> None:
    """Register openstacksdk's `PACKAGES` with their `__init__` not yet run."""
    for name in PACKAGES:
        if not _defer(name):
            return


def _defer(name: str) -> bool:
    """Register package `name` with its `__init__` not yet run; False when it is not installed."""
    if name in sys.modules:
        return True  # imported already (in full or deferred): nothing to do
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return False  # not installed: the import error comes where openstacksdk is first used
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader
    lock = threading.RLock()  # held while the package's __init__ runs: other threads wait for it
    ran = False

    def complete(attr: str) -> Any:
        """PEP 562 hook: a submodule imports alone; any other name first runs the package's `__init__`."""
        nonlocal ran
        if attr.startswith("__"):  # probes (`__all__`, `__wrapped__` ...) do not start the package
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        if importlib.util.find_spec(f"{name}.{attr}") is not None:
            return importlib.import_module(f"{name}.{attr}")
        with lock:
            if not ran:
                ran = True
                loader.exec_module(package)
        try:
            return package.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: `openstack.network.v2` is reachable from `openstack.network`
        setattr(sys.modules[parent], child, package)
    return True


defer_service_layer()  # before anything below imports openstack (cloud/__init__ imports this module first)

from openstack import exceptions  # noqa: E402  (a submodule: imported alone, the package stays deferred)

__all__ = ["Reader", "cloud_region", "connect", "defer_service_layer", "exceptions"]

_METRICS = (
    "statsd_prefix",
    "statsd_client",
    "prometheus_counter",
    "prometheus_histogram",
    "influxdb_config",
    "influxdb_client",
)


def _plain_adapter(**kwargs: Any) -> Any:
    """keystoneauth's Adapter without the metrics hooks openstacksdk's proxies take (a snapshot reports
    none), for `CloudRegion.get_session_client`, which finds the endpoint and version as for a proxy."""
    from keystoneauth1.adapter import Adapter

    return Adapter(**{k: v for k, v in kwargs.items() if k not in _METRICS})


class Reader:
    """GET requests to the cloud's services with one token: what a snapshot needs and no more.

    From a cloud's name it is built on `openstack.config` alone; from a `Connection` it uses the
    connection's proxies (tests, compliance evidence), so both answer the same way.
    """

    def __init__(self, client: Callable[[str], Any], project_id: Callable[[], str]) -> None:
        self._client = client
        self._clients: dict[str, Any] = {}
        self._project_id = project_id

    @classmethod
    def of_cloud(cls, name: str | None) -> Reader:
        region = cloud_region(name)
        return cls(
            lambda service: region.get_session_client(service, constructor=_plain_adapter),  # type: ignore[call-overload]
            lambda: str(region.get_session().get_project_id()),
        )

    @classmethod
    def of_connection(cls, conn: Connection) -> Reader:
        return cls(lambda service: getattr(conn, service), lambda: str(conn.current_project_id))

    @property
    def project_id(self) -> str:
        """The project the token is scoped to (the admin's)."""
        return self._project_id()

    def get(self, service: str, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """One GET; an error answer raises openstacksdk's exception for it (NotFound, ...)."""
        client = self._clients.get(service)
        if client is None:  # threads may both build one: either serves
            client = self._clients[service] = self._client(service)
        response: requests.Response = client.get(path, params=params, raise_exc=False)
        exceptions.raise_from_response(response)
        return response


def cloud_region(name: str | None) -> CloudRegion:
    """The `clouds.yaml` entry `name` (openstacksdk's rules: OS_CLIENT_CONFIG_FILE, OS_CLOUD ...)."""
    import openstack.config

    return openstack.config.get_cloud_region(cloud=name)


def connect(name: str | None) -> Connection:
    """A full openstacksdk connection (its service layer imported now, if not yet)."""
    import openstack

    return openstack.connect(cloud=name)
