"""A realistic Suricata EVE mix for benchmarks: flows, DNS, HTTP, TLS and alerts in sensor proportions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

MIX = (("flow", 40), ("dns", 25), ("http", 15), ("tls", 10), ("alert", 10))


def _endpoints(rng: random.Random) -> dict[str, object]:
    return {
        "src_ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "src_port": rng.randrange(1024, 65535),
        "dest_ip": f"203.0.113.{rng.randrange(1, 255)}",
        "dest_port": rng.choice((53, 80, 443, 8080, 22)),
        "proto": "TCP",
        "community_id": "1:" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789+/", k=27)) + "=",
    }


def _record(kind: str, n: int, when: datetime, rng: random.Random) -> dict[str, object]:
    base: dict[str, object] = {
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+0800",
        "flow_id": 1_000_000_000 + n,
        "in_iface": "eth0",
        "event_type": kind,
        **_endpoints(rng),
    }
    host = f"www{rng.randrange(500)}.gov.example.cn"
    if kind == "flow":
        base["app_proto"] = "http"
        base["flow"] = {
            "pkts_toserver": rng.randrange(1, 90), "pkts_toclient": rng.randrange(1, 90),
            "bytes_toserver": rng.randrange(60, 90000), "bytes_toclient": rng.randrange(60, 900000),
            "start": base["timestamp"], "end": base["timestamp"], "age": rng.randrange(0, 30),
            "state": "closed", "reason": "timeout", "alerted": False,
        }
        base["tcp"] = {"tcp_flags": "1b", "tcp_flags_ts": "1b", "tcp_flags_tc": "1b", "syn": True,
                       "fin": True, "psh": True, "ack": True, "state": "closed"}
    elif kind == "dns":
        base["proto"] = "UDP"
        base["dns"] = {"version": 2, "type": "answer", "id": rng.randrange(65535), "flags": "8180",
                       "qr": True, "rd": True, "ra": True, "rrname": host, "rrtype": "A", "rcode": "NOERROR",
                       "answers": [{"rrname": host, "rrtype": "A", "ttl": 300,
                                    "rdata": f"198.51.100.{rng.randrange(1, 255)}"}],
                       "grouped": {"A": [f"198.51.100.{rng.randrange(1, 255)}"]}}
    elif kind == "http":
        base["tx_id"] = rng.randrange(10)
        base["http"] = {"hostname": host, "url": f"/portal/item?id={rng.randrange(100000)}",
                        "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                        "http_content_type": "text/html", "http_method": "GET", "protocol": "HTTP/1.1",
                        "status": rng.choice((200, 200, 200, 302, 404)), "length": rng.randrange(100, 50000)}
    elif kind == "tls":
        base["tls"] = {"subject": f"CN={host}", "issuerdn": "CN=GDCA TrustAUTH R5 ROOT",
                       "serial": "12:34:56", "fingerprint": "aa:bb:cc", "sni": host, "version": "TLS 1.2",
                       "notbefore": "2026-01-01T00:00:00", "notafter": "2027-01-01T00:00:00",
                       "ja3": {"hash": "e7d705a3286e19ea42f587b344ee6865", "string": "771,4865-4866"}}
    else:
        base["tx_id"] = 0
        sid = 2_010_000 + rng.randrange(300)
        base["alert"] = {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3,
                         "signature": f"ET WEB_SERVER Possible SQL Injection Attempt {sid}",
                         "category": "Web Application Attack", "severity": 1,
                         "metadata": {"attack_target": ["Web_Server"], "signature_severity": ["Major"]}}
        base["http"] = {"hostname": host, "url": "/login.php?user=admin'--", "http_method": "GET",
                        "protocol": "HTTP/1.1", "status": 200, "length": 512}
        base["app_proto"] = "http"
    return base


def write_eve(path: Path, events: int, seed: int = 7) -> int:
    """Write `events` EVE lines to `path`; returns bytes written."""
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    written = 0
    with path.open("wb") as handle:
        for n in range(events):
            line = orjson.dumps(_record(rng.choice(kinds), n, start + timedelta(milliseconds=n), rng))
            handle.write(line + b"\n")
            written += len(line) + 1
    return written


def write_eve_bytes(path: Path, target_bytes: int, seed: int = 7) -> int:
    """Write EVE lines until the file reaches `target_bytes`; returns the number of events."""
    per_event = write_eve(path, 1000, seed) / 1000
    events = int(target_bytes / per_event)
    write_eve(path, events, seed)
    return events
