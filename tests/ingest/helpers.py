"""Log lines for pipeline tests, generated so each test states exactly what it feeds in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EGOVOPS = [sys.executable, "-m", "egovops"]


def eve_alert(n: int, when: datetime | None = None, src: str = "203.0.113.7") -> str:
    moment = (when or datetime(2026, 11, 20, 10, 0, tzinfo=UTC)) + timedelta(seconds=n)
    record = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+0000",
        "flow_id": 1_000_000 + n,
        "event_type": "alert",
        "src_ip": src,
        "src_port": 40000 + n % 20000,
        "dest_ip": "198.51.100.10",
        "dest_port": 80,
        "proto": "TCP",
        "community_id": "1:abc=",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 2_000_000 + n % 50,
                  "rev": 1, "signature": f"ET WEB test signature {n % 50}", "category": "Web Attack",
                  "severity": 2},
    }
    return json.dumps(record)


def write_lines(path: Path, lines: list[str], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*EGOVOPS, *args], cwd=cwd, env=full_env, input=stdin, capture_output=True, timeout=600, check=False
    )


def cli_json(*args: str, **kwargs: Any) -> Any:
    result = run_cli(*args, "--json", **kwargs)
    assert result.stdout, result.stderr.decode()
    return json.loads(result.stdout)
