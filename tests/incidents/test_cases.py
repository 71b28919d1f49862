"""Where cases live: beside the events in the same SQLite file, or in a local file next to Elasticsearch."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from secops.incidents import open_cases, record_alerts
from secops.incidents.cases import cases_url_for
from secops.incidents.settings import IncidentSettings
from secops.ingest.pipeline import Ingestor
from secops.store import Query, StoreError
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import AUTH_LOG, alert_from, events

CASE_TABLES = {
    "alerts", "incidents", "incident_alerts", "incident_entities", "incident_transitions",
    "incident_notes", "incident_notifications", "incident_evidence",
}


def test_cases_share_the_event_stores_sqlite_file(auth_store: SQLiteStore, db: Path, tmp_path: Path) -> None:
    with open_cases(f"sqlite:///{db}") as cases:
        record_alerts(cases, [alert_from(events(auth_store, source__ip="203.0.113.9"), "brute", "high")])
        # The event store keeps writing to the same file while the case store is open.
        more = tmp_path / "more.log"
        more.write_text(AUTH_LOG.replace("2026-11-22", "2026-11-23"), encoding="utf-8")
        report = Ingestor(auth_store).run([str(more)], "auth")
        record_alerts(cases, [alert_from(events(auth_store, source__ip="10.0.0.6"), "login", "low")])
        assert [i.id for i in cases.incidents()] == [2, 1]

    with closing(sqlite3.connect(db)) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= CASE_TABLES and "events" in tables
    assert report.accepted == 5 and auth_store.count(Query(limit=None)) == 10


def test_where_cases_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = IncidentSettings()
    elsewhere = IncidentSettings(cases_url=f"sqlite:///{tmp_path / 'cases.db'}")
    monkeypatch.chdir(tmp_path)

    assert cases_url_for("sqlite:///var/egovops.db", defaults) == "sqlite:///var/egovops.db"
    assert cases_url_for("elasticsearch://127.0.0.1:9200", defaults) == "sqlite:///var/egovops-cases.db"
    assert cases_url_for("elasticsearch://127.0.0.1:9200", elsewhere) == elsewhere.cases_url
    with open_cases("elasticsearchs://es.example:9200") as cases:
        assert cases.incidents() == []
    assert (tmp_path / "var" / "egovops-cases.db").is_file()
    with pytest.raises(StoreError, match="unknown store URL"):
        open_cases("redis://x")
    with pytest.raises(StoreError, match="not a usable case store URL"):
        open_cases("sqlite:///x.db", "nosuchdb+driver://x")


def test_spans_in_settings_read_as_people_write_them() -> None:
    sla = {"critical": {"acknowledge": "10m", "contain": 7200}}
    settings = IncidentSettings.model_validate({"group_window": "12h", "pcap_margin": 30, "sla": sla})
    assert settings.group_window.total_seconds() == 12 * 3600
    assert settings.pcap_margin.total_seconds() == 30
    assert settings.target("critical").acknowledge.total_seconds() == 600
    assert settings.target("critical").contain.total_seconds() == 7200
    assert settings.target("high").contain.total_seconds() == 24 * 3600, "other severities keep defaults"
    assert settings.target("weird") == settings.target("low")
    with pytest.raises(ValueError, match="unknown time zone"):
        IncidentSettings(timezone="Mars/Olympus")


def test_a_case_store_made_before_the_queue_index_gains_it(db: Path) -> None:
    def indexes() -> set[str]:
        with closing(sqlite3.connect(db)) as raw:
            return {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}

    open_cases(f"sqlite:///{db}").close()
    with closing(sqlite3.connect(db)) as old:
        old.execute("DROP INDEX ix_incidents_last_seen")
    assert "ix_incidents_last_seen" not in indexes()

    open_cases(f"sqlite:///{db}").close()

    assert "ix_incidents_last_seen" in indexes()
