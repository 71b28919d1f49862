"""A real Keystone 30, Neutron 29 and Glance 33 on 127.0.0.1 once per test session; nova-api 34 on demand.

The venvs come from `scripts/install-openstack.sh` (one per service under $EGOVOPS_OPENSTACK_HOME).
Each session gets fresh SQLite databases and fernet keys (copied from a template built once per installed
pair of venvs: schema, bootstrap and keys cost ~40 s here), configs in a temporary directory, registers
Neutron in Keystone's catalog and serves both with gunicorn on free ports; `stop()` ends each
gunicorn master by PID and reaps it. Neutron runs ML2 (flat, vlan, vxlan; mechanism driver `logger`, no
agents, so ports stay DOWN), the L3 router plugin and `transport_url = fake://`.

What it works around (learnt from ../shared/tools/openstack): Neutron's alembic migrations fail on
SQLite, so its schema is built from the models and the one seeding migration (default security-group
rules) is replayed before stamping; SQLite takes one writer, so both serve one request thread (Keystone
answers in ~0.05 s with its in-process cache on, ~2 s without);
keystone, neutron and nova parse sys.argv at import, so a tiny WSGI module hides gunicorn's argv.

Glance (2026.2 like the others) joins the session when its venv is installed: SQLite synced by
glance-manage (template as above), a file store in the workdir, no registry, the `image` service in the
catalog. nova-api is started only by the tests that ask for it (`start_compute`, the `nova_api` fixture)
and leaves the catalog again when they end: the reconciler and usage tests rely on a cloud whose catalog
has no `compute` (they skip compute quotas and report compute use as unknown). It runs on SQLite
(API, cell0 and main databases synced by nova-manage), `fake://` transport, without Placement, conductor,
scheduler or computes: quotas and flavors are real, booting a server is not possible.
Nothing here needs pytest, so the benchmarks reuse `OpenStackServers`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection
from openstack.exceptions import SDKException

from cloud.live import identity
from tests.components import missing

BASE = Path(os.environ.get("EGOVOPS_OPENSTACK_HOME", "/opt/egovops-openstack"))
INSTALL = "bash scripts/install-openstack.sh"
CLOUD = "egovops-test"
PASSWORD = "egovops-test-secret"

_NEUTRON_SCHEMA = """
import importlib.util, os, sys
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from neutron.db.migration.models import head  # noqa: F401  (imports every model)
from neutron_lib.db import model_base
import neutron.db.migration.alembic_migrations.versions as versions
engine = sa.create_engine("sqlite:///" + sys.argv[1])
metadata = model_base.BASEV2.metadata
seeded = "securitygroupdefaultrules"
metadata.create_all(engine, tables=[t for n, t in metadata.tables.items() if n != seeded])
path = os.path.join(os.path.dirname(versions.__file__), "2023.2", "expand",
                    "c33da356b165_security_group_default_rules.py")
spec = importlib.util.spec_from_file_location("sg_default_rules", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
    module.upgrade()
"""


_GLANCE_SYNC = "db_sync"
_NOVA_SYNC = """api_db sync
cell_v2 map_cell0 --database_connection sqlite:///{workdir}/nova_cell0.db
db sync"""
_CELL_PATHS = "UPDATE cell_mappings SET database_connection = replace(database_connection, ?, ?)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


CORE = ("keystone", "neutron")
"""The services every cloud session runs; the image and compute services are added when installed."""
STATE = ("keystone.db", "keystone/fernet-keys", "keystone/credential-keys", "neutron.db")
"""What a session's servers start from, copied from the template."""
PLACEHOLDER = "http://127.0.0.1:1/v3"
"""Keystone's own URL in the template's catalog, replaced by each session's."""
NOVA_STATE = ("nova_api.db", "nova.db", "nova_cell0.db")
WORKDIR_PLACEHOLDER = "/egovops-openstack-workdir"
"""The build's workdir in the template's cell mappings (nova_api.db), replaced by each session's."""
NOVA_CONFIG_FILES = f"{BASE}/nova/etc/nova/api-paste.ini;nova.conf"
"""nova-api's WSGI app reads its paste pipeline from the first file it is given, its options from all."""
WSGI = {
    "keystone": "keystone.wsgi.api",
    "neutron": "neutron.wsgi.api",
    "glance": "glance.wsgi.api",
    "nova": "nova.wsgi.osapi_compute",
}


def template_dir(services: tuple[str, ...] = CORE, recipe: str = _NEUTRON_SCHEMA) -> Path:
    """Databases after schema, bootstrap and keys, per set of installed venvs (their lock stamps)."""
    stamps = b"".join((BASE / s / ".egovops-lock").read_bytes() for s in services)
    prefix = "template" if services == CORE else f"template-{'-'.join(services)}"
    return BASE / f"{prefix}-{hashlib.sha256(stamps + recipe.encode()).hexdigest()[:12]}"


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)


def installed(*services: str) -> bool:
    """Whether the venvs of `services` (Keystone and Neutron when none are named) were built."""
    return all((BASE / s / ".egovops-lock").exists() for s in services or CORE)


class OpenStackServers:
    """Keystone, Neutron (and Glance) for one session: `clouds_yaml` and `cloud` for openstacksdk."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.keystone_port, self.neutron_port = free_port(), free_port()
        self.glance_port, self.nova_port = free_port(), free_port()
        self.keystone_url = f"http://127.0.0.1:{self.keystone_port}/v3"
        self.neutron_url = f"http://127.0.0.1:{self.neutron_port}"
        self.glance_url = f"http://127.0.0.1:{self.glance_port}"
        self.nova_url = f"http://127.0.0.1:{self.nova_port}/v2.1"
        self.has_image = installed("glance")
        """Glance serves this session (its venv is installed) and `image` is in the catalog."""
        self.clouds_yaml = workdir / "clouds.yaml"
        self.cloud = CLOUD
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.timings: dict[str, float] = {}

    def env(self) -> dict[str, str]:
        """Environment for an egovops subprocess that talks to these servers."""
        return {**os.environ, "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}

    def connect(self) -> Connection:
        """An admin openstacksdk connection to these servers."""
        # load_envvars=False: an OS_CLIENT_CONFIG_FILE in the environment would win over this file
        config = OpenStackConfig(config_files=[str(self.clouds_yaml)], load_envvars=False)
        return Connection(config=config.get_one(CLOUD))

    def start(self) -> None:
        """Databases from the template (built on first use), then both servers booting side by side."""
        self._configure()
        self._timed("databases", self._databases)
        self._serve("keystone", self.keystone_port, threads=1, env={})
        self._serve(
            "neutron",
            self.neutron_port,
            threads=1,
            env={
                "OS_NEUTRON_CONFIG_DIR": str(self.workdir / "neutron"),
                "OS_NEUTRON_CONFIG_FILES": "neutron.conf;plugins/ml2/ml2_conf.ini",
            },
        )
        if self.has_image:
            self._timed("glance databases", self._glance_database)
            glance_env = {"OS_GLANCE_CONFIG_DIR": str(self.workdir / "glance")}
            self._serve("glance", self.glance_port, threads=1, env=glance_env)
        self._timed("keystone", lambda: self._wait(self.keystone_url + "/"))
        self._timed("register", self._register_neutron)
        self._timed("neutron", lambda: self._wait(self.neutron_url + "/"))
        self._admin_quota()
        if self.has_image:
            self._timed("register glance", lambda: self._register("glance", "image", self.glance_url))
            self._timed("glance", lambda: self._wait(self.glance_url + "/versions"))

    def start_compute(self) -> None:
        """nova-api on this session's Keystone, `compute` in the catalog until `stop_compute`."""
        self._timed("nova databases", self._nova_databases)
        nova_env = {
            "OS_NOVA_CONFIG_DIR": str(self.workdir / "nova"),
            "OS_NOVA_CONFIG_FILES": NOVA_CONFIG_FILES,
        }
        self._serve("nova", self.nova_port, threads=1, env=nova_env)
        self._timed("register nova", lambda: self._register("nova", "compute", self.nova_url))
        self._timed("nova", lambda: self._wait(f"http://127.0.0.1:{self.nova_port}/"))

    def stop_compute(self) -> None:
        """Take `compute` out of the catalog again and stop nova-api (its databases stay in the workdir)."""
        conn = self.connect()
        keystone = identity(conn)
        for service in keystone.services(type="compute"):
            for endpoint in keystone.endpoints(service_id=service.id):
                keystone.delete_endpoint(endpoint)
            keystone.delete_service(service)
        conn.close()
        proc = self.procs.pop("nova", None)
        if proc is not None:
            _terminate(proc)

    def _timed(self, name: str, step: object) -> None:
        started = time.monotonic()
        step()  # type: ignore[operator]
        self.timings[name] = round(time.monotonic() - started, 1)

    def _configure(self) -> None:
        w = self.workdir
        for sub in ("keystone", "neutron/plugins/ml2", "glance", "nova", "locks", "wsgi", "log"):
            (w / sub).mkdir(parents=True, exist_ok=True)
        (w / "keystone/keystone.conf").write_text(f"""[DEFAULT]
log_file = {w}/log/keystone.log
[database]
connection = sqlite:///{w}/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = {w}/keystone/fernet-keys
[credential]
key_repository = {w}/keystone/credential-keys
[cache]
# in-process cache: without it every authenticated request costs ~2 s here, with it ~0.05 s
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt cost 4: every token issue is ~0.25 s faster; test servers only
password_hash_rounds = 4
""")
        (w / "neutron/neutron.conf").write_text(f"""[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = fake://
api_paste_config = {BASE}/neutron/etc/neutron/api-paste.ini
state_path = {w}/neutron-state
log_file = {w}/log/neutron.log
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
allow_overlapping_ips = true
ipv6_pd_enabled = false
[database]
connection = sqlite:///{w}/neutron.db
{self._authtoken("neutron")}
[oslo_concurrency]
lock_path = {w}/locks
[oslo_messaging_notifications]
driver = noop
""")
        (w / "neutron/plugins/ml2/ml2_conf.ini").write_text("""[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = logger
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:200,physnet2
[ml2_type_vxlan]
vni_ranges = 1:4000
[securitygroup]
enable_security_group = true
firewall_driver = noop
""")
        (w / "glance/glance-api.conf").write_text(f"""[DEFAULT]
log_file = {w}/log/glance.log
enabled_backends = local:file
# the centralised image cache (the default) asks for this URL even with the cache unused
worker_self_reference_url = {self.glance_url}
[database]
connection = sqlite:///{w}/glance.db
[glance_store]
default_backend = local
[local]
filesystem_store_datadir = {w}/images
[os_glance_staging_store]
filesystem_store_datadir = {w}/glance-staging
[os_glance_tasks_store]
filesystem_store_datadir = {w}/glance-tasks
[paste_deploy]
flavor = keystone
config_file = {BASE}/glance/etc/glance/glance-api-paste.ini
{self._authtoken("glance")}
[oslo_concurrency]
lock_path = {w}/locks
""")
        (w / "nova/nova.conf").write_text(f"""[DEFAULT]
log_file = {w}/log/nova.log
state_path = {w}/nova-state
transport_url = fake://
[api]
auth_strategy = keystone
[api_database]
connection = sqlite:///{w}/nova_api.db
[database]
connection = sqlite:///{w}/nova.db
{self._authtoken("nova")}
[oslo_concurrency]
lock_path = {w}/locks
[oslo_messaging_notifications]
driver = noop
""")
        for service, module in WSGI.items():
            (w / f"wsgi/{service}_app.py").write_text(
                f"import sys\nsys.argv = sys.argv[:1]\nfrom {module} import application  # noqa\n"
            )
        self.clouds_yaml.write_text(f"""clouds:
  {CLOUD}:
    auth:
      auth_url: {self.keystone_url}
      username: admin
      password: {PASSWORD}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
""")

    def _authtoken(self, user: str) -> str:
        """keystonemiddleware's section: the service validates tokens as `user` of the service project."""
        return f"""[keystone_authtoken]
www_authenticate_uri = {self.keystone_url}
auth_url = {self.keystone_url}
auth_type = password
username = {user}
password = {PASSWORD}
project_name = service
user_domain_name = Default
project_domain_name = Default"""

    def _run(self, *argv: str) -> None:
        with (self.workdir / "log/setup.log").open("ab") as log:
            subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _databases(self) -> None:
        """Copy the template's databases and keys in, pointing Keystone's catalog at this session's port."""
        self._from_template(template_dir(), STATE, self._build_databases)
        _sql(
            self.workdir / "keystone.db",
            "UPDATE endpoint SET url = replace(url, ?, ?)",
            PLACEHOLDER,
            self.keystone_url,
        )

    def _glance_database(self) -> None:
        self._from_template(
            template_dir(("glance",), _GLANCE_SYNC), ("glance.db",), self._build_glance_database
        )

    def _nova_databases(self) -> None:
        """The three databases from their template, the cell mappings pointed at this session's workdir."""
        self._from_template(
            template_dir(("nova",), _NOVA_SYNC),
            NOVA_STATE,
            self._build_nova_databases,
            lambda staging: _sql(
                staging / "nova_api.db", _CELL_PATHS, str(self.workdir), WORKDIR_PLACEHOLDER
            ),
        )
        _sql(self.workdir / "nova_api.db", _CELL_PATHS, WORKDIR_PLACEHOLDER, str(self.workdir))

    def _from_template(
        self,
        template: Path,
        state: tuple[str, ...],
        build: Callable[[], None],
        portable: Callable[[Path], None] | None = None,
    ) -> None:
        """Copy `state` from `template`, or build it here and keep a copy (made `portable`) for next time."""
        if template.exists():
            for name in state:
                copy(template / name, self.workdir / name)
            return
        build()
        staging = Path(tempfile.mkdtemp(prefix=".template-", dir=BASE))
        for name in state:
            copy(self.workdir / name, staging / name)
        if portable is not None:
            portable(staging)
        try:
            staging.rename(template)
        except OSError:  # another session built it first
            shutil.rmtree(staging, ignore_errors=True)

    def _build_databases(self) -> None:
        """Keystone's schema, keys and bootstrap; Neutron's schema from its models (SQLite cannot migrate)."""
        manage = [
            str(BASE / "keystone/bin/keystone-manage"),
            "--config-file",
            str(self.workdir / "keystone/keystone.conf"),
        ]
        self._run(*manage, "db_sync")
        for step in ("fernet_setup", "credential_setup"):
            self._run(*manage, step, "--keystone-user", "root", "--keystone-group", "root")
        urls = [
            a for i in ("admin", "internal", "public") for a in (f"--bootstrap-{i}-url", PLACEHOLDER + "/")
        ]
        self._run(
            *manage,
            "bootstrap",
            "--bootstrap-password",
            PASSWORD,
            "--bootstrap-region-id",
            "RegionOne",
            *urls,
        )
        self._run(str(BASE / "neutron/bin/python"), "-c", _NEUTRON_SCHEMA, str(self.workdir / "neutron.db"))
        self._run(
            str(BASE / "neutron/bin/neutron-db-manage"),
            "--config-file",
            str(self.workdir / "neutron/neutron.conf"),
            "--config-file",
            str(self.workdir / "neutron/plugins/ml2/ml2_conf.ini"),
            "stamp",
            "heads",
        )

    def _build_glance_database(self) -> None:
        self._run(
            str(BASE / "glance/bin/glance-manage"),
            "--config-file",
            str(self.workdir / "glance/glance-api.conf"),
            *_GLANCE_SYNC.split(),
        )

    def _build_nova_databases(self) -> None:
        """API database, cell0 mapped to its own file, then the main and cell0 schemas (SQLite migrates)."""
        manage = [str(BASE / "nova/bin/nova-manage"), "--config-file", str(self.workdir / "nova/nova.conf")]
        for step in _NOVA_SYNC.splitlines():
            self._run(*manage, *step.format(workdir=self.workdir).split())

    def _register_neutron(self) -> None:
        conn = self.connect()
        identity(conn).create_project(name="service", domain_id="default")
        conn.close()
        self._register("neutron", "network", self.neutron_url)

    def _register(self, name: str, kind: str, url: str) -> None:
        """A service user (admin and service roles in the service project), the service, its endpoints."""
        conn = self.connect()
        keystone = identity(conn)
        project = keystone.find_project("service", domain_id="default", ignore_missing=False)
        user = keystone.find_user(name, domain_id="default") or keystone.create_user(
            name=name, password=PASSWORD, domain_id="default"
        )
        for role in ("admin", "service"):
            keystone.assign_project_role_to_user(
                project, user, keystone.find_role(role, ignore_missing=False)
            )
        service = keystone.create_service(name=name, type=kind)
        for interface in ("public", "internal", "admin"):
            keystone.create_endpoint(
                service_id=service.id, interface=interface, region_id="RegionOne", url=url
            )
        conn.close()

    def _admin_quota(self) -> None:
        """Shared planes are shared by the admin project, one RBAC policy per tenant: lift its limit of 10."""
        conn = self.connect()
        conn.network.update_quota(str(conn.current_project_id), rbac_policies=-1)
        conn.close()

    def _serve(self, service: str, port: int, threads: int, env: dict[str, str]) -> None:
        log = (self.workdir / f"log/{service}-gunicorn.log").open("ab")
        self.procs[service] = subprocess.Popen(
            [
                str(BASE / f"{service}/bin/gunicorn"),
                "--no-control-socket",
                "--chdir",
                str(self.workdir / "wsgi"),
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "-k",
                "gthread",
                "--threads",
                str(threads),
                "--timeout",
                "120",
                # gunicorn closes an idle keep-alive connection after 2 s by default; a client sending
                # on it just then gets "Remote end closed connection" (seen on a POST under load)
                "--keep-alive",
                "75",
                f"{service}_app:application",
            ],
            env={**os.environ, "OS_KEYSTONE_CONFIG_DIR": str(self.workdir / "keystone"), **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _wait(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")

    def log_tail(self, service: str, lines: int = 30) -> str:
        path = self.workdir / f"log/{service}-gunicorn.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop every server, the last started first."""
        for proc in reversed(list(self.procs.values())):
            _terminate(proc)
        self.procs.clear()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a gunicorn master (it stops its worker), reap it, SIGKILL its session if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _sql(database: Path, statement: str, *params: str) -> None:
    with sqlite3.connect(database) as db:
        db.execute(statement, params)
    db.close()


def launch() -> OpenStackServers:
    """Start both services in a fresh temporary directory (FileNotFoundError when not installed)."""
    if not installed():
        raise FileNotFoundError(f"Keystone/Neutron venvs are missing under {BASE}; run {INSTALL}")
    servers = OpenStackServers(Path(tempfile.mkdtemp(prefix="egovops-openstack-")))
    try:
        servers.start()
    except BaseException:
        shutdown(servers)
        raise
    return servers


def shutdown(servers: OpenStackServers) -> None:
    servers.stop()
    shutil.rmtree(servers.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def openstack_servers() -> Iterator[OpenStackServers]:
    """Keystone, Neutron (and Glance) for the session: skips locally, fails under CI=true, when missing."""
    if not installed():
        missing(f"Keystone 30 and Neutron 29 venvs under {BASE}", INSTALL)
    try:
        servers = launch()
    except (RuntimeError, subprocess.CalledProcessError, SDKException) as exc:
        pytest.fail(f"OpenStack did not start: {exc}", pytrace=False)
    yield servers
    shutdown(servers)


@pytest.fixture(scope="module")
def nova_api(openstack_servers: OpenStackServers) -> Iterator[OpenStackServers]:
    """The session's servers with nova-api and `compute` in the catalog for one test module."""
    if not installed("nova"):
        missing(f"nova-api 34 venv under {BASE}", INSTALL)
    try:
        openstack_servers.start_compute()
    except (RuntimeError, subprocess.CalledProcessError, SDKException) as exc:
        openstack_servers.stop_compute()
        pytest.fail(f"nova-api did not start: {exc}", pytrace=False)
    yield openstack_servers
    openstack_servers.stop_compute()
