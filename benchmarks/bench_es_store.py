"""Benchmark: the Elasticsearch store's write path with EVE-shaped events (issue floor: 15,000 events/s).

Documents are what the pipeline hands the store: the fixture lines of `tests/data/suricata/eve.json`
(flow, dns, http, alert, tls, in a sensor-like mix) varied per event and parsed by the real Suricata
source, then stamped with id, dataset, `event.original` and provenance as the pipeline does. Parsing is
done before the clock starts: this measures serialisation, bulk requests and indexing only.

For each bulk size and refresh interval it reports wall-clock events/s (until `flush()` has made every
event searchable), the client's CPU per event (the client is pinned to one core) and the server JVM's CPU
per event. Without `--url` it starts its own node from the integ-test zip (pinned to the other core).

`--shapes` asks what the node itself needs per document, whatever egovops sends: the same events are
bulk-indexed straight over HTTP in several shapes (as stored; without `event.original` and the hidden
text tokens; with the mapping's `dynamic: false` so that fields outside the ECS template are kept in
`_source` but not indexed; both; a two-field document), after a warm-up of the node's JIT, and the
node's CPU per document is reported. At 66 µs per document one core indexes 15,000 a second.

    .venv/bin/python benchmarks/bench_es_store.py [--events N] [--url elasticsearch://...] [--shapes] [--json]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

if not __package__:  # run as a script (`make bench`): the node launcher lives in the test components
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_suricata_parse import FIXTURES, variants
from secops.events import Event, event_id, format_ts, put, utc_now
from secops.sources.suricata import SuricataEve
from secops.store.elasticsearch import HIDDEN, ElasticsearchStore, ecs_template
from tests.components.elasticsearch import ElasticsearchServer, launch, shutdown

MIX = {"flow": 0.40, "dns": 0.25, "http": 0.15, "alert": 0.12, "tls": 0.08}
BATCH = 2000  # events per `write` call, as the pipeline hands them over


def eve_events(count: int) -> list[Event]:
    """`count` parsed and pipeline-stamped EVE events in the sensor-like mix of MIX."""
    templates: dict[str, dict[str, Any]] = {}
    for line in FIXTURES.read_bytes().splitlines():
        record = orjson.loads(line)
        templates.setdefault(record["event_type"], record)
    source, ingested = SuricataEve(), format_ts(utc_now())
    events: list[Event] = []
    for kind, share in MIX.items():
        for frame in variants(templates[kind], int(count * share)):
            for doc in source.parse(frame):
                offset = len(events) * 700
                ident = event_id("bench", "/var/log/suricata/eve.json", offset)
                put(doc, "event.id", ident)
                put(doc, "event.dataset", "suricata.eve")
                put(doc, "event.original", frame.raw.decode())
                put(doc, "event.ingested", ingested)
                put(doc, "log.file.path", "/var/log/suricata/eve.json")
                put(doc, "log.offset", offset)
                put(doc, "observer.hostname", "sensor-01")
                events.append(Event(ident, doc["@timestamp"], "suricata.eve", doc))
    events.sort(key=lambda e: e.timestamp)
    return events


def jvm_cpu_seconds(server: ElasticsearchServer | None) -> float:
    """CPU time of the node's processes (launcher and server JVM), from /proc; 0 when not ours."""
    if server is None or server.proc is None:
        return 0.0
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in _descendants(server.proc.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def run(url: str, events: list[Event], server: ElasticsearchServer | None, **options: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as spool:
        store = ElasticsearchStore.from_url(
            url, spool_dir=spool, prefix=f"bench{uuid.uuid4().hex[:8]}", **options
        )
        store.write(events[:1])  # template, index and dead-letter index exist before the clock starts
        store.flush()
        server_cpu = jvm_cpu_seconds(server)
        wall, cpu = time.perf_counter(), time.process_time()
        stored = 1
        for start in range(1, len(events), BATCH):
            stored += store.write(events[start : start + BATCH]).stored
        store.flush()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_cpu = jvm_cpu_seconds(server) - server_cpu
        store.client.indices.delete(index=f"{store.options.prefix}-*")
        store.client.indices.delete_index_template(name=f"{store.options.prefix}-events")
        store.close()
    n = len(events) - 1
    assert stored == len(events), f"stored {stored} of {len(events)}"
    return {
        **options,
        "events": n,
        "events_per_s": round(n / wall),
        "client_us_per_event": round(cpu / n * 1e6, 1),
        "client_events_per_cpu_s": round(n / cpu),
        "server_us_per_event": round(server_cpu / n * 1e6, 1) if server else None,
    }


SHAPES = ("stored", "lean", "undynamic", "lean-undynamic", "minimal", "stored")
"""`stored` twice: first and last, so the node's warming up shows rather than flatters the later shapes."""


def _shaped(item_body: bytes, shape: str) -> bytes:
    doc = orjson.loads(item_body)
    if shape == "minimal":
        return orjson.dumps({"@timestamp": doc["@timestamp"], "message": doc.get("message")})
    if shape.startswith("lean"):
        doc = copy.deepcopy(doc)
        doc["event"].pop("original", None)
        doc[HIDDEN].pop("text", None)
    return orjson.dumps(doc)


def node_cost_by_shape(url: str, events: list[Event], server: ElasticsearchServer) -> list[dict[str, Any]]:
    """Node CPU per document for each of SHAPES, sent as raw bulk bodies (no client library in the way)."""
    store = ElasticsearchStore.from_url(url, spool_dir=tempfile.mkdtemp())
    items = [store._item(e) for e in events]
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))

    def call(method: str, path: str, body: bytes) -> bytes:
        conn.request(method, path, body=body, headers={"content-type": "application/x-ndjson"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200 or b'"errors":true' in data:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def bulk(index: str, bodies: list[bytes]) -> None:
        for start in range(0, len(bodies), BATCH):
            call("POST", f"/{index}/_bulk?filter_path=errors", b"".join(bodies[start : start + BATCH]))

    warm = len(items) // 5
    results = []
    for number, shape in enumerate(SHAPES):
        template = ecs_template()
        if shape.endswith("undynamic"):
            template["mappings"]["dynamic"] = False
        index = f"bench-shape-{number}-{shape}"
        call("PUT", f"/{index}", orjson.dumps({k: template[k] for k in ("settings", "mappings")}))
        bodies = [
            b'{"create":{"_id":%b}}\n%b\n' % (orjson.dumps(i.id), _shaped(i.body, shape)) for i in items
        ]
        bulk(index, bodies[:warm])
        cpu, wall = jvm_cpu_seconds(server), time.perf_counter()
        bulk(index, bodies[warm:])
        call("POST", f"/{index}/_refresh", b"")
        wall, cpu = time.perf_counter() - wall, jvm_cpu_seconds(server) - cpu
        call("DELETE", f"/{index}", b"")
        n = len(bodies) - warm
        cost = round(cpu / n * 1e6, 1)
        results.append({"shape": shape, "events_per_s": round(n / wall), "server_us_per_event": cost})
    conn.close()
    return results


def serialise_only(events: list[Event]) -> float:
    """µs per event to build the bulk lines (hidden columns, tokens, orjson), without any I/O."""
    store = ElasticsearchStore.from_url("elasticsearch://127.0.0.1:9", spool_dir=tempfile.mkdtemp())
    began = time.process_time()
    for event in events:
        store._item(event)
    return (time.process_time() - began) / len(events) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run (default 200000)")
    parser.add_argument("--url", help="an existing node (default: start one from the integ-test zip)")
    parser.add_argument("--heap", default="1g", help="heap of the node this starts (default 1g)")
    parser.add_argument("--bulk", type=int, nargs="+", default=[500, 2000, 5000], help="bulk sizes to try")
    parser.add_argument("--refresh", nargs="+", default=["5s", "-1"], help="refresh intervals to try")
    parser.add_argument("--shapes", action="store_true", help="node CPU per document by document shape")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    cores = sorted(os.sched_getaffinity(0))
    server = None if args.url else launch(heap=args.heap)
    try:
        if server is not None and server.proc is not None and len(cores) > 1:
            for pid in _descendants(server.proc.pid):
                os.sched_setaffinity(pid, set(cores[1:]))
        os.sched_setaffinity(0, {cores[0]})
        url = args.url or (server.url if server else "")
        events = eve_events(args.events)
        size = sum(len(e.doc["event"]["original"]) for e in events) / len(events)
        results: dict[str, Any] = {
            "events": len(events),
            "eve_bytes_per_event": round(size),
            "serialise_us_per_event": round(serialise_only(events), 2),
            "runs": [
                run(url, events, server, bulk_docs=bulk, refresh_interval=refresh)
                for refresh in args.refresh
                for bulk in args.bulk
            ],
        }
        if args.shapes and server is not None:
            results["shapes"] = node_cost_by_shape(url, events, server)
    finally:
        if server is not None:
            shutdown(server)
    if args.json:
        sys.stdout.write(orjson.dumps(results).decode() + "\n")
        return 0
    print(
        f"{results['events']:,} EVE events, {results['eve_bytes_per_event']} B/line; building bulk lines "
        f"{results['serialise_us_per_event']} µs/event"
    )
    for r in results["runs"]:
        server_part = f", server {r['server_us_per_event']} µs/event" if r["server_us_per_event"] else ""
        print(
            f"bulk {r['bulk_docs']:>5} refresh {r['refresh_interval']:>3}: "
            f"{r['events_per_s']:>7,} events/s wall; client {r['client_us_per_event']} µs/event "
            f"({r['client_events_per_cpu_s']:,}/CPU-s){server_part}"
        )
    for r in results.get("shapes", []):
        rate, cost = r["events_per_s"], r["server_us_per_event"]
        print(f"shape {r['shape']:>15}: {rate:>7,} events/s wall, node {cost} µs/event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
