"""`egovops hunt`: rules over stored history give the alerts streaming gave (SQLite and Elasticsearch)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

from tests.components.elasticsearch import ElasticsearchServer
from tests.ingest.helpers import cli_json, run_cli

DATA = Path(__file__).resolve().parents[1] / "data"
# Inputs whose events arrive in time order: streaming then sees what a hunt sees. (Streaming counts a
# correlation input that arrives later than the lateness as late; a hunt replays history in order.)
LOGS = [str(DATA / "suricata" / "eve.json"), str(DATA / "modsecurity" / "serial-2.9.log")]


def test_hunt_finds_what_streaming_found(elasticsearch: ElasticsearchServer, tmp_path: Path) -> None:
    streamed = f"sqlite:///{tmp_path / 'streamed.db'}"
    report = cli_json("ingest", *LOGS, "--store", streamed, cwd=tmp_path)
    alerts = cli_json("alerts", "list", "--store", streamed, "--limit", "1000", cwd=tmp_path)
    by_rule: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        by_rule[alert["rule_id"]].add(alert["id"])
    assert report["alerts"] == len(alerts) >= 8
    assert len(by_rule) >= 3, by_rule.keys()

    env = {"EGOVOPS_STORE__INDEX_PREFIX": f"hunt{uuid.uuid4().hex[:8]}"}
    for history in (f"sqlite:///{tmp_path / 'history.db'}", elasticsearch.url):
        cli_json("ingest", "--no-detect", *LOGS, "--store", history, cwd=tmp_path, env=env)
        for rule, ids in by_rule.items():
            found = cli_json("hunt", rule, "--since", "10000d", "--store", history, cwd=tmp_path, env=env)
            assert {a["id"] for a in found} == ids, (history, rule)

    unknown = run_cli("hunt", "no-such-rule", "--store", streamed, cwd=tmp_path)
    assert unknown.returncode == 2 and b"no-such-rule" in unknown.stderr
