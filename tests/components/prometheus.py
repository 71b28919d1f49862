"""A real Prometheus (Debian's package) scraping a real `egovops exporter`, both on 127.0.0.1.

The session fixture `egovops_prometheus` writes an estate in which one town's uplink is below its floor,
serves it with `egovops exporter`, and starts Prometheus with the shipped rules (monitors/rules/*.yml),
a 1 s scrape and evaluation interval and its own TSDB directory; both are stopped by PID. Prometheus is
ready at once, but its first sample lands a few seconds later: tests poll its HTTP API with `wait_for`.

`scrape_config` writes the job for either face: the standalone exporter (open, on loopback) or
`egovops serve`, whose /metrics wants a Bearer token (Prometheus's `authorization` block).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.components import require_binary
from tests.monitors.estates import write_estate

INSTALL = "apt-get install -y prometheus"
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitors" / "rules"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scrape_config(target: str, *, token: str | None = None, interval: str = "1s") -> dict[str, Any]:
    """A scrape job for egovops at `target` (host:port); with `token`, sent as `Authorization: Bearer`."""
    job: dict[str, Any] = {
        "job_name": "egovops",
        "scrape_interval": interval,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [target]}],
    }
    if token is not None:
        job["authorization"] = {"type": "Bearer", "credentials": token}
    return job


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop by PID and reap it (PID 1 here does not reap orphans)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(
    probe: Callable[[], T | None], timeout: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds, or at
    once if `process` (the server being waited for) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return found


def start_prometheus(workdir: Path, jobs: list[dict[str, Any]]) -> Prometheus:
    binary = require_binary("prometheus", INSTALL)
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(p) for p in sorted(RULES.glob("*.yml"))],
                "scrape_configs": jobs,
            }
        )
    )
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process)
    try:
        wait_for(lambda: urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=2).status == 200, 30,
                 f"Prometheus to be ready (log: {workdir / 'prometheus.log'})", process)  # fmt: skip
    except AssertionError:
        stop(process)
        raise
    return prometheus


@dataclass
class Exporter:
    url: str
    estate: Path
    process: subprocess.Popen[bytes]


def start_exporter(workdir: Path, estate: Path) -> Exporter:
    """`egovops exporter` on a free loopback port, with its stores and audit trail under `workdir`."""
    port = free_port()
    env = {
        **os.environ,
        "EGOVOPS_STORE__URL": f"sqlite:///{workdir / 'egovops.db'}",
        "EGOVOPS_RESPONSE__AUDIT_LOG": str(workdir / "audit.log"),
    }
    log = (workdir / "exporter.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "egovops", "exporter", "--estate", str(estate), "--port", str(port)],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 60,
                 f"egovops exporter (log: {workdir / 'exporter.log'})", process)  # fmt: skip
    except AssertionError:
        stop(process)
        raise
    return Exporter(url, estate, process)


@pytest.fixture(scope="session")
def egovops_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping `egovops exporter` over an estate whose town c1-t1 is below its floor."""
    require_binary("prometheus", INSTALL)
    workdir = tmp_path_factory.mktemp("prometheus")
    estate = write_estate(workdir / "estate.yaml", slow_towns=1)
    exporter = start_exporter(workdir, estate)
    try:
        target = exporter.url.removeprefix("http://").removesuffix("/metrics")
        prometheus = start_prometheus(workdir, [scrape_config(target)])
    except BaseException:
        stop(exporter.process)
        raise
    try:
        yield prometheus
    finally:
        stop(prometheus.process)
        stop(exporter.process)
