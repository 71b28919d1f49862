"""A real Prometheus scraping a running `egovops serve` (with a Bearer token, as deployed) fires the shipped
`EgovopsSourceSilent` rule when a followed file stops being fed, and not while it is fed.

The silence is the deployment's `ingest.silence` (4 s here instead of 900), exported as a gauge the rule
compares against, so the shipped rule file is the one under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.components import require_binary
from tests.components.prometheus import (
    INSTALL,
    Prometheus,
    free_port,
    scrape_config,
    start_prometheus,
    stop,
    wait_for,
)
from tests.ingest.helpers import EGOVOPS, eve_alert, write_lines

SILENCE_S = 4


def silent(prometheus: Prometheus) -> list[dict[str, Any]]:
    return [
        a for a in prometheus.alerts()
        if a["labels"]["alertname"] == "EgovopsSourceSilent" and a["state"] == "firing"
    ]  # fmt: skip


class Feeder:
    """Appends an EVE record to the followed file every half second until stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.written = 0

    def _run(self) -> None:
        while not self.stopped.is_set():
            write_lines(self.path, [eve_alert(self.written, datetime.now(UTC))], mode="a")
            self.written += 1
            self.stopped.wait(0.5)

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Prometheus, Path]]:
    require_binary("prometheus", INSTALL)
    made = subprocess.run(
        [*EGOVOPS, "tokens", "create", "prometheus", "--role", "auditor", "--json"],
        cwd=tmp_path, capture_output=True, check=True, text=True,
    )  # fmt: skip
    token = json.loads(made.stdout)["token"]
    port = free_port()
    env = {
        **os.environ, "EGOVOPS_INGEST__SILENCE": str(SILENCE_S), "EGOVOPS_INGEST__POLL_INTERVAL": "0.2",
        "EGOVOPS_DETECTION__ENABLED": "false",
    }  # fmt: skip
    (tmp_path / "var" / "inbox").mkdir(parents=True)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*EGOVOPS, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        prometheus = start_prometheus(tmp_path, [scrape_config(f"127.0.0.1:{port}", token=token)])
    except BaseException:
        stop(server)
        raise
    try:
        yield prometheus, tmp_path / "var" / "inbox" / "eve.json"
    finally:
        stop(prometheus.process)
        stop(server)


def test_a_followed_source_that_stops_sending_fires_source_silent(served: tuple[Prometheus, Path]) -> None:
    prometheus, followed = served
    with Feeder(followed) as feeder:
        threshold = wait_for(
            lambda: prometheus.query("egovops_ingest_silence_threshold_seconds"), 60, "serve's first scrape"
        )
        assert float(threshold[0]["value"][1]) == SILENCE_S
        wait_for(
            lambda: prometheus.query('egovops_ingest_last_event_timestamp_seconds{dataset="suricata.eve"}'),
            60, "serve to have read the followed file",
        )  # fmt: skip
        fed_until = time.monotonic() + 3 * SILENCE_S
        while time.monotonic() < fed_until:  # fed: the rule holds its peace
            assert silent(prometheus) == []
            time.sleep(0.5)
    assert feeder.written >= 6 * SILENCE_S - 2
    alerts = wait_for(lambda: silent(prometheus), 60, "EgovopsSourceSilent after the feed stopped")
    assert [a["labels"]["dataset"] for a in alerts] == ["suricata.eve"]
    assert alerts[0]["labels"]["severity"] == "warning"
    assert float(alerts[0]["value"]) > SILENCE_S
    stored = prometheus.query('egovops_ingest_events_stored_total{dataset="suricata.eve"}')
    assert float(stored[0]["value"][1]) >= feeder.written - 2  # serve stored what was fed (scrape lag aside)
