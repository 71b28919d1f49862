"""Console and API latency with one million events and ten thousand alerts in the embedded store (issue 6).

The data set is built once into `var/bench/console/` and reused: events shaped like the five datasets
(Suricata EVE, ModSecurity audit, auditd, auth log, pcap flows) over 30 days from 2,000 source
addresses, and alerts recorded through the real case store, so incidents are grouped as in production.
The benchmark then starts `egovops serve` on 127.0.0.1 (stopped by its PID), adds an analyst and a
token, logs in, and for each route sends `--requests` requests from `--clients` threads, each with its
own keep-alive session. It prints, per route, wall p50 / p95 / max and the server's CPU per request
(from /proc, so the client's own work is not counted), beside the calibration figure. Floor: p95 < 300 ms.

    .venv/bin/python benchmarks/bench_console.py [--requests 40] [--clients 4] [--json] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.calibration import calibrate  # noqa: E402
from secops.detection.alerts import Alert  # noqa: E402
from secops.events import Event, format_ts  # noqa: E402
from secops.incidents import open_cases, record_alerts  # noqa: E402
from secops.store.sqlite import SQLiteStore  # noqa: E402

CACHE = ROOT / "var" / "bench" / "console"
EVENTS = 1_000_000
ALERTS = 10_000
SOURCES = 2_000
START = datetime(2026, 10, 23, tzinfo=UTC)
SPAN = timedelta(days=30)
FLOOR_MS = 300.0
PASSWORD = "bench console password"
USERS = ("root", "admin", "oracle", "www-data", "deploy", "alice", "zhangsan", "backup")
PATHS = ("/", "/login", "/api/v1/orders", "/wp-login.php", "/portal/apply", "/search", "/static/app.js")
RULES = (
    ("web-sqli", "high", "attack.t1190"), ("ssh-brute-force", "medium", "attack.t1110"),
    ("suricata-scan", "low", "attack.t1046"), ("auditd-priv-esc", "high", "attack.t1068"),
    ("web-xss", "medium", "attack.t1059"),
)  # fmt: skip


def source_ip(n: int) -> str:
    return f"198.18.{n // 250}.{n % 250 + 1}"


def event_doc(rng: random.Random, n: int, at: str) -> tuple[str, dict[str, Any]]:
    """One event of the dataset `n` picks, with the fields its parser sets and a message for free text."""
    ip, dst = source_ip(rng.randrange(SOURCES)), f"10.20.{rng.randrange(8)}.{rng.randrange(1, 250)}"
    port, user, path = rng.choice((22, 80, 443, 3306, 8080)), rng.choice(USERS), rng.choice(PATHS)
    status = rng.choice((200, 200, 200, 302, 403, 404, 500))
    base: dict[str, Any] = {"@timestamp": at, "source": {"ip": ip}, "destination": {"ip": dst, "port": port}}
    kind = n % 5
    if kind == 0:
        sig = rng.choice(("ET SCAN Nmap Scripting Engine", "ET POLICY curl User-Agent", "ET WEB_SERVER SQLi"))
        extra = {"event": {"dataset": "suricata.eve", "kind": "alert"}, "rule": {"name": sig},
                 "message": f"{sig} {ip} -> {dst}:{port}"}  # fmt: skip
    elif kind == 1:
        action = "blocked" if status == 403 else "logged"
        extra = {"event": {"dataset": "modsecurity.audit", "action": action}, "url": {"path": path},
                 "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
                 "message": f"GET {path} status {status} from {ip}"}  # fmt: skip
    elif kind == 2:
        extra = {"event": {"dataset": "auditd.log", "action": "executed"}, "user": {"name": user},
                 "process": {"executable": rng.choice(("/usr/bin/sudo", "/bin/bash", "/usr/bin/curl"))},
                 "message": f"type=EXECVE uid={user} exe=/bin/bash"}  # fmt: skip
    elif kind == 3:
        verb = rng.choice(("Failed password", "Accepted publickey", "Invalid user"))
        outcome = "success" if verb == "Accepted publickey" else "failure"
        extra = {"event": {"dataset": "system.auth", "outcome": outcome}, "user": {"name": user},
                 "message": f"sshd: {verb} {user} from {ip} port {rng.randrange(1024, 9999)}"}  # fmt: skip
    else:
        flow = {"transport": "tcp", "bytes": rng.randrange(40, 90000)}
        extra = {"event": {"dataset": "pcap.flow"}, "network": flow}
    base.update(extra)
    dataset = base["event"]["dataset"]
    return dataset, base


def build(cache: Path) -> None:
    """Write the events in batches of 20,000, then the alerts through the case store (grouped there)."""
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    rng = random.Random(6)
    store = SQLiteStore(cache / "egovops.db")
    step = SPAN / EVENTS
    batch: list[Event] = []
    for n in range(EVENTS):
        at = format_ts(START + step * n)
        dataset, doc = event_doc(rng, n, at)
        key = f"{n:032x}"
        doc["event"]["id"] = key
        batch.append(Event(key, at, dataset, doc))
        if len(batch) == 20_000:
            store.write(batch)
            batch = []
    store.write(batch)
    store.close()
    alerts = []
    for n in range(ALERTS):
        first = rng.randrange(EVENTS - 5_000)
        rule, severity, tag = RULES[n % len(RULES)]
        alerts.append(Alert(
            id=f"alert-{n:08d}", rule_id=rule, title=rule, severity=severity,
            entity={"source.ip": source_ip(rng.randrange(SOURCES))},
            event_ids=[f"{first + k * 997:032x}" for k in range(5)], tags=[tag],
            first_seen=format_ts(START + step * first), last_seen=format_ts(START + step * (first + 4_000)),
            count=5, suppressed=rng.randrange(8),
        ))  # fmt: skip
    alerts.sort(key=lambda a: a.first_seen)
    with open_cases(f"sqlite:///{cache / 'egovops.db'}") as cases:
        for start in range(0, ALERTS, 1_000):
            record_alerts(cases, alerts[start : start + 1_000])
    (cache / "built").write_text(f"{EVENTS} events, {ALERTS} alerts\n")


def egovops(cache: Path, *args: str, stdin: str | None = None) -> str:
    command = [str(ROOT / ".venv" / "bin" / "egovops"), *args]
    return subprocess.run(command, cwd=cache, input=stdin, capture_output=True, text=True, check=True).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of the server process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """`egovops serve` on a free loopback port, with an analyst login and an analyst token."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        (cache / "egovops.toml").write_text(
            '[store]\nurl = "sqlite:///egovops.db"\n[detection]\nenabled = false\n', encoding="utf-8"
        )
        shutil.rmtree(cache / "var", ignore_errors=True)
        egovops(cache, "users", "add", "bench", "--role", "analyst", "--password-stdin", stdin=PASSWORD)
        token = egovops(cache, "tokens", "create", "bench-api", "--role", "analyst", "--json")
        self.token = json.loads(token)["token"]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (cache / "serve.log").open("w")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "egovops"), "serve", "--port", str(self.port)],
            cwd=cache, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"egovops serve did not answer on {self.base} in 60 s; see {cache / 'serve.log'}")

    def session(self, api: bool) -> requests.Session:
        http = requests.Session()
        if api:
            http.headers["Authorization"] = f"Bearer {self.token}"
            return http
        form = http.get(self.base + "/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf, "no CSRF token on the login form"
        data = {"username": "bench", "password": PASSWORD, "csrf_token": csrf.group(1)}
        http.post(self.base + "/login", data=data).raise_for_status()
        return http

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


ROUTES = (
    ("dashboard", "/", False),
    ("incident queue", "/incidents", False),
    ("incident page", "/incidents/5", False),
    ("alerts page 1", "/alerts", False),
    ("alerts page 150", "/alerts?page=150", False),
    ("events (newest)", "/events", False),
    ("events text", "/events?q=status+403", False),
    ("events text+since", "/events?q=status+403&since=3d", False),
    ("events field ip", "/events?field=source.ip%3D198.18.3.17", False),
    ("events field user", "/events?field=user.name%3Dzhangsan", False),
    ("events range", "/events?since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z", False),
    ("api events", "/api/events?limit=50", True),
    ("api events text+total", "/api/events?q=status+403&limit=50&total=true", True),
    ("api events field", "/api/events?field=source.ip%3D198.18.3.17&limit=50", True),
    ("api events field+total", "/api/events?field=source.ip%3D198.18.3.17&limit=50&total=true", True),
    ("api alerts", "/api/alerts?limit=100", True),
    ("api incidents", "/api/incidents?limit=100", True),
)
"""(name, path, API?) for every page and list issue 6 names: API routes use the token, pages the login."""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(server: Server, path: str, api: bool, total: int, clients: int) -> dict[str, float]:
    """`total` requests from `clients` threads (one keep-alive session each, warmed by one request)."""
    sessions = [server.session(api) for _ in range(clients)]
    for http in sessions:
        http.get(server.base + path).raise_for_status()
    walls: list[float] = []
    lock = threading.Lock()

    def work(http: requests.Session, count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            http.get(server.base + path).raise_for_status()
            with lock:
                walls.append(time.perf_counter() - started)

    shares = [total // clients + (i < total % clients) for i in range(clients)]
    threads = [threading.Thread(target=work, args=(s, n)) for s, n in zip(sessions, shares, strict=True)]
    cpu = server_cpu(server.process.pid)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_ms = (server_cpu(server.process.pid) - cpu) / total * 1000
    return {
        "p50_ms": percentile(walls, 0.5) * 1000, "p95_ms": percentile(walls, 0.95) * 1000,
        "max_ms": max(walls) * 1000, "server_cpu_ms": cpu_ms,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per route")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--rebuild", action="store_true", help="build the data set again")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.rebuild or not (args.cache / "built").exists():
        started = time.monotonic()
        build(args.cache)
        took = time.monotonic() - started
        print(f"built {EVENTS:,} events and {ALERTS:,} alerts in {took:.0f} s", file=sys.stderr)
    server = Server(args.cache)
    try:
        calibration = calibrate()
        n, clients = args.requests, args.clients
        results = {name: measure(server, path, api, n, clients) for name, path, api in ROUTES}
    finally:
        server.stop()
    slow = [name for name, r in results.items() if r["p95_ms"] >= FLOOR_MS]
    if args.json:
        summary = {"calibration_s": calibration, "load": os.getloadavg()[0], "routes": results}
        print(json.dumps(summary, indent=1))
    else:
        print(f"calibration {calibration:.3f} s, load average {os.getloadavg()[0]:.1f}, "
              f"{args.requests} requests per route from {args.clients} clients")  # fmt: skip
        print(f"{'route':20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu/req ms':>11}")
        for name, r in results.items():
            walls = f"{r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f}"
            print(f"{name:20} {walls} {r['server_cpu_ms']:11.1f}")
        print(f"floor p95 < {FLOOR_MS:.0f} ms: " + ("met" if not slow else "missed by " + ", ".join(slow)))
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
