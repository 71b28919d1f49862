"""Every source, through the whole pipeline: format detected, and every event carries the ECS basics.

One real sample per format from the shared corpora is ingested from a mixed directory (formats detected,
not given) and exported as NDJSON; each document must then be what a SIEM user relies on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.components import corpus, require_binary
from tests.ingest.helpers import cli_json, run_cli

ECS_KINDS = {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
ECS_CATEGORIES = {
    "api", "authentication", "configuration", "database", "driver", "email", "file", "host", "iam",
    "intrusion_detection", "library", "malware", "network", "package", "process", "registry", "session",
    "threat", "vulnerability", "web",
}
ECS_TYPES = {
    "access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "end", "error",
    "group", "indicator", "info", "installation", "protocol", "start", "user",
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

SAMPLES = {
    "suricata.eve": ("crowdsec-hub", ".tests", "suricata-eve-detect", "suricata-eve-detect.log"),
    "network.pcap": ("suricata-verify", "tests", "http-ipv6", "input.pcap"),
    "auditd.log": ("go-libaudit", "auparse", "testdata", "audit-rhel7.log"),
    "system.auth": ("crowdsec-hub", ".tests", "sshd-logs", "sshd-logs.log"),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    require_binary("tshark", "apt-get install -y tshark")
    work = tmp_path_factory.mktemp("mixed")
    inbox = work / "inbox"
    inbox.mkdir()
    for dataset, parts in SAMPLES.items():
        (inbox / f"{dataset}-{parts[-1]}").symlink_to(corpus(*parts))
    modsec = Path(__file__).resolve().parents[1] / "data" / "modsecurity"
    for sample in sorted(modsec.glob("*serial*"))[:1]:
        (inbox / f"modsecurity-{sample.name}").symlink_to(sample)
    db = f"sqlite:///{work / 'events.db'}"
    report = cli_json("ingest", "--store", db, str(inbox))
    assert not report["errors"], report["errors"]
    lines = run_cli("events", "export", "--store", db, "--format", "ndjson").stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_every_format_is_detected_and_produces_events(exported: list[dict[str, object]]) -> None:
    datasets = {doc["event"]["dataset"] for doc in exported}  # type: ignore[index]
    assert set(SAMPLES) <= datasets
    assert "modsecurity.audit" in datasets


def test_every_event_carries_the_ecs_basics(exported: list[dict[str, object]]) -> None:
    for doc in exported:
        event = doc["event"]
        assert isinstance(event, dict)
        where = f"{event.get('dataset')} at {doc.get('log')}"
        assert TIMESTAMP.match(str(doc["@timestamp"])), where
        assert len(event["id"]) == 32, where
        assert event["kind"] in ECS_KINDS, where
        assert set(event.get("category", [])) <= ECS_CATEGORIES, where
        assert set(event.get("type", [])) <= ECS_TYPES, where
        if "outcome" in event:
            assert event["outcome"] in {"success", "failure", "unknown"}, where
        assert doc["observer"]["hostname"], where  # type: ignore[index]
        assert not [key for key in doc if "." in key and key != "@timestamp"], f"dotted keys: {where}"
