"""Elasticsearch 8 single node from the official integ-test zip, started once per test session.

The zip comes from Maven Central into the local Maven repository (`.ci/elasticsearch.sh`) and is unpacked
once under `var/components/`. Each session runs the node on the machine's JDK with its own config, data
and log directories in a temporary path, on a free port of 127.0.0.1. Elasticsearch refuses to run as
root, so under root the node runs as `nobody` (its directories are handed over to that user).
`stop()` and `start()` keep the data directory and the port, so a test can take the server away and
bring it back (the outage test). Nothing here needs pytest, so the benchmarks reuse `ElasticsearchServer`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import missing, require_binary

VERSION = os.environ.get("EGOVOPS_ES_VERSION", "8.19.4")
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
INSTALL = ".ci/elasticsearch.sh (mvn dependency:get -Dartifact=" + ARTIFACT + " -Dtransitive=false)"
REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def distribution_zip() -> Path:
    m2 = Path(os.environ.get("MAVEN_REPOSITORY", Path.home() / ".m2" / "repository"))
    return (
        m2
        / "org/elasticsearch/distribution/integ-test-zip/elasticsearch"
        / VERSION
        / (f"elasticsearch-{VERSION}.zip")
    )


def _world_traversable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def unpack(archive: Path) -> Path:
    """The unpacked distribution, extracted once (atomically, so parallel sessions cannot see half of it)."""
    cache = Path(os.environ.get("EGOVOPS_COMPONENTS", REPO / "var" / "components"))
    if os.geteuid() == 0 and not _world_traversable(cache.parent):
        cache = Path("/var/tmp/egovops-components")  # the node runs as nobody and must read its home
    home = cache / f"elasticsearch-{VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, staging))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                target.chmod(mode & 0o777)
    try:
        (staging / f"elasticsearch-{VERSION}").rename(home)
    except OSError:
        if not (home / "bin" / "elasticsearch").exists():
            raise
    shutil.rmtree(staging, ignore_errors=True)
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ElasticsearchServer:
    """One node: `url` for the store, `http` for raw requests, `stop()`/`start()` keeping its data."""

    def __init__(self, home: Path, java_home: Path, workdir: Path, heap: str = "512m") -> None:
        self.home, self.java_home, self.workdir, self.heap = home, java_home, workdir, heap
        self.port, self.transport_port = free_port(), free_port()
        self.url = f"elasticsearch://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.as_nobody = os.geteuid() == 0
        self._configure()

    def _configure(self) -> None:
        conf = self.workdir / "config"
        for sub in ("data", "logs", "tmp", "snapshots", "config/jvm.options.d"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copy(self.home / "config" / name, conf / name)
        (conf / "elasticsearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: egovops-test",
                    "node.name: egovops-test",
                    f"path.data: {self.workdir / 'data'}",
                    f"path.logs: {self.workdir / 'logs'}",
                    f"path.repo: {self.workdir / 'snapshots'}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.port}",
                    f"transport.port: {self.transport_port}",
                    "discovery.type: single-node",
                    "xpack.security.enabled: false",
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )
        if self.as_nobody:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)

    def start(self, timeout: float = 240.0) -> None:
        env = {
            **os.environ,
            "ES_JAVA_HOME": str(self.java_home),
            "ES_PATH_CONF": str(self.workdir / "config"),
            "ES_TMPDIR": str(self.workdir / "tmp"),
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap} -XX:-UsePerfData",
        }
        env.pop("JAVA_HOME", None)
        log = (self.workdir / "stdout.log").open("ab")
        self.proc = subprocess.Popen(
            [str(self.home / "bin" / "elasticsearch")],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=NOBODY if self.as_nobody else None,
            group=NOBODY if self.as_nobody else None,
            extra_groups=[] if self.as_nobody else None,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Elasticsearch exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Elasticsearch did not become ready in {timeout:.0f}s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        url = f"{self.http}/_cluster/health?wait_for_status=yellow&timeout=1s"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the node: the launcher stops the server JVM on SIGTERM and reaps it; we reap the launcher."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: the launcher and its server JVM
            proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        text = (self.workdir / "stdout.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def launch(heap: str = "512m") -> ElasticsearchServer:
    """Start a node in a fresh temporary directory (FileNotFoundError when Java or the zip is missing)."""
    java = shutil.which("java")
    archive = distribution_zip()
    if java is None or not archive.exists():
        raise FileNotFoundError(f"need java and {archive}; install with {INSTALL}")
    workdir = Path(tempfile.mkdtemp(prefix="egovops-es-"))
    server = ElasticsearchServer(unpack(archive), Path(os.path.realpath(java)).parents[1], workdir, heap)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return server


def shutdown(server: ElasticsearchServer) -> None:
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def elasticsearch() -> Iterator[ElasticsearchServer]:
    """A running Elasticsearch node for the whole session (skips locally, fails under CI=true, if absent)."""
    require_binary("java", "apt-get install -y openjdk-17-jre-headless")
    if not distribution_zip().exists():
        missing(f"Elasticsearch {VERSION} integ-test zip ({distribution_zip()})", INSTALL)
    try:
        server = launch()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    shutdown(server)
