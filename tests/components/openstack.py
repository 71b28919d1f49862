"""A real Keystone 30 and Neutron 29 on 127.0.0.1, started from nothing once per test session.

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
keystone and neutron parse sys.argv at import, so a tiny WSGI module hides gunicorn's argv.
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
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


STATE = ("keystone.db", "keystone/fernet-keys", "keystone/credential-keys", "neutron.db")
"""What a session's servers start from, copied from the template."""
PLACEHOLDER = "http://127.0.0.1:1/v3"
"""Keystone's own URL in the template's catalog, replaced by each session's."""


def template_dir() -> Path:
    """Databases after schema, bootstrap and keys, per pair of installed venvs (their lock stamps)."""
    stamps = b"".join((BASE / s / ".egovops-lock").read_bytes() for s in ("keystone", "neutron"))
    return BASE / f"template-{hashlib.sha256(stamps + _NEUTRON_SCHEMA.encode()).hexdigest()[:12]}"


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)


def installed() -> bool:
    return all((BASE / s / ".egovops-lock").exists() for s in ("keystone", "neutron"))


class OpenStackServers:
    """Keystone and Neutron for one session: `clouds_yaml` and `cloud` for openstacksdk."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.keystone_port, self.neutron_port = free_port(), free_port()
        self.keystone_url = f"http://127.0.0.1:{self.keystone_port}/v3"
        self.neutron_url = f"http://127.0.0.1:{self.neutron_port}"
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
        self._timed("keystone", lambda: self._wait(self.keystone_url + "/"))
        self._timed("register", self._register_neutron)
        self._timed("neutron", lambda: self._wait(self.neutron_url + "/"))
        self._admin_quota()

    def _timed(self, name: str, step: object) -> None:
        started = time.monotonic()
        step()  # type: ignore[operator]
        self.timings[name] = round(time.monotonic() - started, 1)

    def _configure(self) -> None:
        w = self.workdir
        for sub in ("keystone", "neutron/plugins/ml2", "locks", "wsgi", "log"):
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
[keystone_authtoken]
www_authenticate_uri = {self.keystone_url}
auth_url = {self.keystone_url}
auth_type = password
username = neutron
password = {PASSWORD}
project_name = service
user_domain_name = Default
project_domain_name = Default
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
        for service in ("keystone", "neutron"):
            (w / f"wsgi/{service}_app.py").write_text(
                f"import sys\nsys.argv = sys.argv[:1]\nfrom {service}.wsgi.api import application  # noqa\n"
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

    def _run(self, *argv: str) -> None:
        with (self.workdir / "log/setup.log").open("ab") as log:
            subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _databases(self) -> None:
        """Copy the template's databases and keys in, pointing Keystone's catalog at this session's port."""
        template = template_dir()
        if not template.exists():
            self._build_databases()
            staging = Path(tempfile.mkdtemp(prefix=".template-", dir=BASE))
            for name in STATE:
                copy(self.workdir / name, staging / name)
            try:
                staging.rename(template)
            except OSError:  # another session built it first
                shutil.rmtree(staging, ignore_errors=True)
        else:
            for name in STATE:
                copy(template / name, self.workdir / name)
        with sqlite3.connect(self.workdir / "keystone.db") as db:
            db.execute("UPDATE endpoint SET url = replace(url, ?, ?)", (PLACEHOLDER, self.keystone_url))
        db.close()

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

    def _register_neutron(self) -> None:
        conn = self.connect()
        keystone = identity(conn)
        project = keystone.create_project(name="service", domain_id="default")
        user = keystone.create_user(name="neutron", password=PASSWORD, domain_id="default")
        for role in ("admin", "service"):
            keystone.assign_project_role_to_user(
                project, user, keystone.find_role(role, ignore_missing=False)
            )
        service = keystone.create_service(name="neutron", type="network")
        for interface in ("public", "internal", "admin"):
            keystone.create_endpoint(
                service_id=service.id, interface=interface, region_id="RegionOne", url=self.neutron_url
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
        """SIGTERM each gunicorn master (it stops its worker), reap it, SIGKILL its session if it hangs."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()


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
    """Keystone + Neutron for the whole session (skips locally, fails under CI=true, if not installed)."""
    if not installed():
        missing(f"Keystone 30 and Neutron 29 venvs under {BASE}", INSTALL)
    try:
        servers = launch()
    except (RuntimeError, subprocess.CalledProcessError, SDKException) as exc:
        pytest.fail(f"OpenStack did not start: {exc}", pytrace=False)
    yield servers
    shutdown(servers)
