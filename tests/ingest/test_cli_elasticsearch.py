"""The command-line contract on the real Elasticsearch: the same commands, the same answers as SQLite."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.components.elasticsearch import ElasticsearchServer
from tests.ingest.helpers import cli_json, eve_alert, run_cli, write_lines


def test_ingest_search_export_stats_prune_on_elasticsearch_and_sqlite_agree(
    elasticsearch: ElasticsearchServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    log = tmp_path / "eve.json"
    old = [eve_alert(n, now - timedelta(days=400), src="192.0.2.1") for n in range(5)]
    write_lines(log, old + [eve_alert(n, now - timedelta(days=2)) for n in range(5, 45)] + ["{broken"])
    env = {"EGOVOPS_STORE__INDEX_PREFIX": f"cli{uuid.uuid4().hex[:8]}"}
    stores = {"es": elasticsearch.url, "sqlite": f"sqlite:///{tmp_path / 'e.db'}"}
    answers: dict[str, dict[str, object]] = {}

    for name, url in stores.items():
        def cli(*args: str, url: str = url) -> object:
            return cli_json(*args, "--store", url, cwd=tmp_path, env=env)

        first = cli("ingest", str(log))
        again = cli("ingest", str(log))
        export = run_cli("events", "export", "--store", url, cwd=tmp_path, env=env).stdout.splitlines()
        answers[name] = {
            "first": first,
            "again": again,
            "search": cli("events", "search", "test signature 7", "--since", "30d"),
            "by_field": cli("events", "search", "--field", "source.ip=192.0.2.1", "--limit", "3"),
            "export_ids": [json.loads(line)["event"]["id"] for line in export],
            "stats": cli("events", "stats"),
            "rejected": len(cli("events", "rejected")),  # type: ignore[arg-type]
            "pruned": cli("events", "prune"),
            "after": cli("events", "stats"),
        }

    es, lite = answers["es"], answers["sqlite"]
    assert es["first"]["accepted"] == 45 and es["first"]["rejected"] == 1  # type: ignore[index]
    assert es["again"]["accepted"] == 0 and es["again"]["duplicates"] == 45  # type: ignore[index]
    assert es["by_field"]["total"] == 5 and len(es["by_field"]["events"]) == 3  # type: ignore[index]
    assert len(es["export_ids"]) == 45  # type: ignore[arg-type]
    assert es["pruned"]["deleted"] == {"suricata.eve": 5}  # type: ignore[index]
    assert es["after"]["total"] == 40  # type: ignore[index]
    for key in ("first", "again", "export_ids", "rejected", "pruned"):
        assert es[key] == lite[key], key
    for key in ("search", "by_field"):
        assert es[key]["total"] == lite[key]["total"], key  # type: ignore[index]
        ids = [[doc["event"]["id"] for doc in answer[key]["events"]] for answer in (es, lite)]  # type: ignore[index]
        assert ids[0] == ids[1], key
    for key in ("stats", "after"):
        for part in ("total", "per_dataset", "per_day"):
            assert es[key][part] == lite[key][part], (key, part)  # type: ignore[index]
