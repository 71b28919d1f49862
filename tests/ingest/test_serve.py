"""`egovops serve`, the main job of `make run`: a real server that ingests whatever lands in the inbox."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.ingest.helpers import EGOVOPS, eve_alert, write_lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(url: str, token: str, ready: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            status, last = get(url, token)
            if status == 200 and ready(last):
                return last
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never became ready; last answer {last!r}")


def test_serve_ingests_the_inbox_and_answers_the_api(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    made = subprocess.run(
        [*EGOVOPS, "tokens", "create", "ci", "--role", "analyst", "--json"],
        cwd=tmp_path, capture_output=True, check=True, text=True,
    )  # fmt: skip
    token = json.loads(made.stdout)["token"]  # what scripts use; the console's logins are tested elsewhere
    server = subprocess.Popen(
        [*EGOVOPS, "serve", "--port", str(port)], cwd=tmp_path,
        env={**os.environ, "EGOVOPS_INGEST__POLL_INTERVAL": "0.2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"{base}/healthz", token, lambda body: body["ok"])
        write_lines(tmp_path / "var" / "inbox" / "eve.json", [eve_alert(n) for n in range(12)] + ["{bad"])

        stats = wait_for(f"{base}/api/stats", token, lambda body: body["total"] == 12)
        status, found = get(f"{base}/api/events?field=source.ip=203.0.113.7&limit=5&total=true", token)
        _, uncounted = get(f"{base}/api/events?field=source.ip=203.0.113.7&limit=5", token)
        bad_status, bad = get(f"{base}/api/events?since=yesterday-ish", token)

        assert stats["per_dataset"] == {"suricata.eve": 12}
        assert stats["dead_letters"] == 1
        assert (tmp_path / "var" / "egovops.db").is_file(), "the embedded SQLite store under ./var/"
        assert status == 200 and found["total"] == 12 and len(found["events"]) == 5
        assert uncounted["total"] is None and len(uncounted["events"]) == 5  # counted only when asked
        assert bad_status == 400 and "yesterday-ish" in bad["detail"]

        # Detection ran on what the inbox brought: IDS alerts, grouped into one incident by source.
        alerts = wait_for(f"{base}/api/alerts", token, lambda body: len(body) > 0)
        assert {a["entity"].get("source.ip") for a in alerts} == {"203.0.113.7"}
        assert all(len(a["event_ids"]) >= 1 and a["rule_id"] for a in alerts)
        status, incidents = get(f"{base}/api/incidents", token)
        assert status == 200 and [i["state"] for i in incidents] == ["new"]
        status, detail = get(f"{base}/api/incidents/{incidents[0]['id']}", token)
        assert status == 200 and {a["id"] for a in detail["alerts"]} == {a["id"] for a in alerts}
        assert get(f"{base}/api/incidents/9999", token)[0] == 404
        assert get(f"{base}/api/alerts?severity=dreadful", token)[0] == 400

        # What Prometheus scrapes: the follower's rounds, the engine's batches and windows, the stores.
        scrape = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(scrape, timeout=30) as response:
            metrics = response.read().decode()
        assert "egovops_ingest_last_poll_timestamp_seconds " in metrics
        assert 'egovops_ingest_events_read_total{dataset="suricata.eve"} 13.0' in metrics  # 12 + bad
        assert 'egovops_ingest_events_rejected_total{dataset="suricata.eve"} 1.0' in metrics
        assert 'egovops_ingest_events_stored_total{dataset="suricata.eve"} 12.0' in metrics
        assert "egovops_detection_batch_duration_seconds_count " in metrics
        assert 'egovops_store_events{dataset="suricata.eve"} 12.0' in metrics
        assert f'egovops_incidents{{severity="{incidents[0]["severity"]}",state="new"}} 1.0' in metrics
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert (tmp_path / "var" / "detection.state").is_file(), "serve keeps its windows for the next start"
