"""Suricata EVE source: ECS layout per event type, join keys, stats apart, rejections, bytes that never crash.

Golden expectations are written by hand from the EVE format and Filebeat's Suricata module for the
synthetic lines in `tests/data/suricata/eve.json`; the CrowdSec hub's real EVE log is checked against
the values CrowdSec's own parser extracted from it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import communityid
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secops.events import Doc, Frame, Rejected, get, stamp_time
from secops.sources import source_class
from secops.sources.base import SourceOptions
from secops.sources.suricata import SuricataEve
from tests.components import corpus

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "suricata" / "eve.json"
LINES = FIXTURES.read_bytes().splitlines()
ABSENT = object()
"""Expected value of a field that must not be in the document."""


def parse(raw: bytes, source: SuricataEve | None = None) -> Doc:
    docs = (source or SuricataEve()).parse(Frame(0, raw))
    assert len(docs) == 1
    return docs[0]


def line(number: int) -> bytes:
    """A fixture line by its 1-based line number in eve.json."""
    return LINES[number - 1]


GOLDEN: dict[str, tuple[int, dict[str, Any]]] = {
    "alert with http and flow": (1, {
        "@timestamp": "2024-03-05T02:15:42.123456Z",
        "event.timezone": "+08:00",
        "event.kind": "alert",
        "event.category": ["network", "intrusion_detection"],
        "event.type": ["allowed"],
        "event.severity": 2,
        "event.outcome": ABSENT,
        "event.start": "2024-03-05T02:15:42.101010Z",
        "source.ip": "203.0.113.45",
        "source.port": 51514,
        "destination.ip": "10.20.30.40",
        "destination.port": 80,
        "network.transport": "tcp",
        "network.protocol": "http",
        "network.community_id": "1:FZGwat+KzKPy2mmXsA6iU4yYTTo=",
        "rule.id": "2013028",
        "rule.name": "ET POLICY curl User-Agent Outbound",
        "rule.category": "Attempted Information Leak",
        "suricata.eve.alert.gid": 1,
        "suricata.eve.alert.rev": 7,
        "suricata.eve.alert.signature_id": 2013028,
        "suricata.eve.alert.severity": ABSENT,
        "suricata.eve.flow_id": 1146478563204587,
        "suricata.eve.tx_id": 2,
        "suricata.eve.src_ip": ABSENT,
        "suricata.eve.timestamp": ABSENT,
        "http.request.method": "GET",
        "http.response.status_code": 401,
        "url.original": "/api/login?user=admin&next=%2F",
        "url.path": "/api/login",
        "url.query": "user=admin&next=%2F",
        "url.domain": "gov.example.cn",
        "user_agent.original": "curl/7.88.1",
        "source.bytes": 412,
        "source.packets": 4,
        "destination.bytes": 510,
        "destination.packets": 3,
        "network.bytes": 922,
        "network.packets": 7,
        "related.ip": ["203.0.113.45", "10.20.30.40"],
        "message": "ET POLICY curl User-Agent Outbound",
    }),
    "blocked alert over IPv6 with tls": (2, {
        "@timestamp": "2024-03-05T02:16:00.000001Z",
        "event.type": ["denied"],
        "event.severity": 1,
        "source.ip": "2001:db8:10::5",
        "destination.ip": "2001:db8:20::443",
        "rule.id": "9000101",
        "tls.version": "1.3",
        "tls.version_protocol": "tls",
        "tls.client.server_name": "c2.bad.example",
        "tls.client.ja3": "e7d705a3286e19ea42f587b344ee6865",
        "destination.domain": "c2.bad.example",
        "suricata.eve.alert.action": "blocked",
    }),
    "closed flow": (3, {
        "@timestamp": "2024-03-05T02:20:31.500000Z",
        "event.timezone": "+00:00",
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "end"],
        "event.start": "2024-03-05T02:18:01.250000Z",
        "event.end": "2024-03-05T02:18:04.750500Z",
        "event.duration": 3_500_500_000,
        "source.bytes": 1543,
        "source.packets": 12,
        "destination.bytes": 6230,
        "destination.packets": 10,
        "network.bytes": 7773,
        "network.packets": 22,
        "network.protocol": "tls",
        "network.community_id": "1:HG0+mYCgzo2TaxLsmRcTcPcGOE8=",
        "suricata.eve.flow.state": "closed",
        "suricata.eve.flow.age": 3,
        "suricata.eve.flow.start": ABSENT,
        "suricata.eve.flow.bytes_toserver": ABSENT,
        "suricata.eve.tcp.tcp_flags": "1b",
        "message": "flow tcp 10.20.30.40:43210 -> 198.51.100.23:443 closed (timeout)",
    }),
    "new IPv6 flow, failed app proto": (4, {
        "@timestamp": "2018-07-05T19:51:54.001329Z",
        "event.timezone": "-04:00",
        "event.type": ["connection", "start"],
        "event.duration": 0,
        "source.ip": "fe80::5054:ff:fe12:3456",
        "destination.ip": "ff02::1:2",
        "network.transport": "udp",
        "network.protocol": ABSENT,
        "suricata.eve.app_proto": "failed",
        "destination.bytes": 0,
        "network.bytes": 110,
        "message": "flow udp [fe80::5054:ff:fe12:3456]:546 -> [ff02::1:2]:547 new (timeout)",
    }),
    "netflow": (5, {
        "event.type": ["connection"],
        "source.bytes": 148,
        "source.packets": 2,
        "destination.bytes": ABSENT,
        "network.bytes": 148,
        "event.start": "2024-03-05T02:20:58.100000Z",
        "event.end": "2024-03-05T02:20:58.100250Z",
        "event.duration": 250_000,
        "network.protocol": "dns",
        "suricata.eve.netflow.min_ttl": 64,
        "message": "netflow udp 10.20.1.5:53001 -> 10.20.0.53:53",
    }),
    "http": (6, {
        "event.category": ["network", "web"],
        "event.type": ["access", "protocol"],
        "event.outcome": "success",
        "http.request.method": "POST",
        "http.request.referrer": "https://portal.example.gov.cn/index.html",
        "http.response.status_code": 200,
        "http.response.body.bytes": 5120,
        "http.version": "1.1",
        "url.domain": "portal.example.gov.cn",
        "url.port": 8080,
        "url.path": "/search",
        "url.query": "q=%E6%94%BF%E5%8A%A1&page=2",
        "destination.domain": "portal.example.gov.cn",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
        "network.protocol": "http",
        "suricata.eve.http.http_content_type": "text/html",
        "suricata.eve.http.hostname": ABSENT,
        "suricata.eve.tx_id": 1,
        "message": "POST portal.example.gov.cn/search?q=%E6%94%BF%E5%8A%A1&page=2 200",
    }),
    "dns v1 query": (7, {
        "event.category": ["network"],
        "event.type": ["protocol"],
        "network.protocol": "dns",
        "dns.type": "query",
        "dns.id": "16000",
        "dns.question.name": "www.shanwei.example.gov.cn",
        "dns.question.type": "A",
        "suricata.eve.dns.rrname": "www.shanwei.example.gov.cn",
        "message": "DNS query www.shanwei.example.gov.cn A",
    }),
    "dns v1 answer": (8, {
        "dns.type": "answer",
        "dns.response_code": "NOERROR",
        "dns.question.name": ABSENT,
        "dns.answers": [
            {"name": "www.shanwei.example.gov.cn", "type": "A", "data": "198.51.100.7", "ttl": 300}
        ],
        "dns.resolved_ip": ["198.51.100.7"],
        "dns.header_flags": ["RD", "RA"],
        "related.ip": ["10.20.0.53", "10.20.1.5", "198.51.100.7"],
        "message": "DNS answer www.shanwei.example.gov.cn NOERROR 198.51.100.7",
    }),
    "dns v2 answer": (9, {
        "dns.question.name": "mail.example.org",
        "dns.question.type": "A",
        "dns.answers": [
            {"name": "mail.example.org", "type": "CNAME", "data": "mx.example.org", "ttl": 60},
            {"name": "mx.example.org", "type": "A", "data": "192.0.2.25", "ttl": 60},
        ],
        "dns.resolved_ip": ["192.0.2.25"],
        "suricata.eve.dns.answers": ABSENT,
        "suricata.eve.dns.grouped": {"CNAME": ["mx.example.org"], "A": ["192.0.2.25"]},
        "message": "DNS answer mail.example.org A NOERROR mx.example.org, 192.0.2.25",
    }),
    "dns v2 grouped only": (10, {
        "dns.question.name": "cdn.example.net",
        "dns.question.type": "AAAA",
        "dns.answers": [{"type": "AAAA", "data": "2001:db8::8:1"}, {"type": "AAAA", "data": "2001:db8::8:2"}],
        "dns.resolved_ip": ["2001:db8::8:1", "2001:db8::8:2"],
    }),
    "dns v2 nxdomain": (11, {
        "dns.response_code": "NXDOMAIN",
        "dns.question.name": "nonexistent.example.org",
        "dns.answers": ABSENT,
        "message": "DNS answer nonexistent.example.org A NXDOMAIN",
    }),
    "dns v3 request": (12, {
        "dns.type": "query",
        "dns.id": "2201",
        "dns.question.name": "updates.example.org",
        "dns.question.type": "AAAA",
        "dns.header_flags": ["RD"],
        "message": "DNS query updates.example.org AAAA",
    }),
    "tls": (13, {
        "network.protocol": "tls",
        "tls.version": "1.2",
        "tls.version_protocol": "tls",
        "tls.client.server_name": "portal.example.gov.cn",
        "tls.client.ja3": "6734f37431670b3ab4292b8f60f29984",
        "tls.server.ja3s": "f4febc55ea12b31ae17cfb7e614afda8",
        "tls.server.subject": "C=CN, ST=Guangdong, L=Shanwei, O=Example Gov, CN=portal.example.gov.cn",
        "tls.server.issuer": "C=US, O=Example Trust, CN=Example Issuing CA R3",
        "tls.server.hash.sha1": "6AFFACA65F8A05E7A98C7629B908C769ADDC7247",
        "tls.server.x509.serial_number": "04A19F3C007E",
        "tls.server.not_before": "2024-01-01T00:00:00.000000Z",
        "tls.server.not_after": "2024-03-31T23:59:59.000000Z",
        "suricata.eve.tls.sni": "portal.example.gov.cn",
        "message": "TLS 1.2 portal.example.gov.cn",
    }),
    "fileinfo": (14, {
        "event.category": ["network", "file"],
        "event.type": ["info"],
        "event.outcome": ABSENT,
        "file.path": "/downloads/2024/report.pdf",
        "file.name": "report.pdf",
        "file.size": 48213,
        "file.hash.md5": "0cc175b9c0f1b6a831c399e269772661",
        "file.hash.sha1": "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        "file.hash.sha256": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
        "url.original": "/downloads/2024/report.pdf",
        "http.response.status_code": 200,
        "suricata.eve.fileinfo.magic": "PDF document, version 1.7",
        "suricata.eve.fileinfo.filename": ABSENT,
        "message": "file /downloads/2024/report.pdf (48213 bytes)",
    }),
    "decoder anomaly": (15, {
        "event.category": ["network"],
        "event.type": ["info"],
        "event.action": "decoder.ipv4.trunc_pkt",
        "source.ip": "10.20.9.9",
        "source.port": ABSENT,
        "network.transport": "udp",
        "network.protocol": ABSENT,
        "message": "anomaly decode decoder.ipv4.trunc_pkt",
    }),
    "app-layer anomaly": (16, {
        "event.action": "REQUEST_HEADER_INVALID",
        "network.protocol": "http",
        "suricata.eve.anomaly.layer": "proto_parser",
    }),
    "ssh": (17, {
        "event.type": ["protocol"],
        "network.protocol": "ssh",
        "suricata.eve.ssh.client.hassh.hash": "ec7378c1a92f5a8dde7e8b7a1ddf33d1",
        "message": "SSH libssh2_1.10.0 -> OpenSSH_9.2p1",
    }),
    "smtp": (18, {
        "network.protocol": "smtp",
        "email.from.address": ["alerts@example.gov.cn"],
        "email.to.address": ["soc@example.gov.cn"],
        "email.cc.address": ["duty@example.gov.cn"],
        "email.subject": "Daily report",
        "email.attachments": [{"file": {"name": "report.xlsx"}}],
        "suricata.eve.smtp.helo": "mail.example.gov.cn",
        "message": "SMTP mail from alerts@example.gov.cn to soc@example.gov.cn, duty@example.gov.cn",
    }),
    "ftp": (19, {
        "network.protocol": "ftp",
        "event.action": "user",
        "message": "FTP USER anonymous 331",
    }),
    "ftp_data": (20, {
        "network.protocol": "ftp",
        "event.type": ["protocol"],
        "file.name": "notes.txt",
        "file.path": "pub/notes.txt",
        "suricata.eve.app_proto": ABSENT,
        "message": "FTP data RETR pub/notes.txt",
    }),
    "dhcp": (21, {
        "network.protocol": "dhcp",
        "event.action": "ack",
        "suricata.eve.dhcp.lease_time": 86400,
        "message": "DHCP ack 10.20.40.101 for 52:54:00:12:34:56",
    }),
    "smb, kept generically": (22, {
        "event.category": ["network"],
        "event.type": ["protocol"],
        "network.protocol": "smb",
        "suricata.eve.smb.share": "\\\\fileserver\\finance",
        "suricata.eve.tx_id": 3,
        "message": "smb tcp 10.20.30.90:49700 -> 10.20.30.10:445",
    }),
    "unknown event type": (23, {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["info"],
        "network.protocol": ABSENT,
        "suricata.eve.event_type": "frobnicate",
        "suricata.eve.frobnicate.knob": 11,
        "message": "frobnicate tcp 10.20.30.91:5000 -> 10.20.30.11:6000",
    }),
    "drop": (24, {
        "event.type": ["denied"],
        "suricata.eve.drop.reason": "rules",
        "message": "drop tcp 203.0.113.66:44444 -> 10.20.30.40:3389",
    }),
    "stats": (25, {
        "@timestamp": "2024-03-05T02:33:00.000000Z",
        "event.kind": "metric",
        "event.dataset": "suricata.stats",
        "event.category": ABSENT,
        "source": ABSENT,
        "suricata.eve.stats.uptime": 86400,
        "suricata.eve.stats.detect.alert": 17,
        "message": "Suricata stats, uptime 86400 s",
    }),
    "http, Suricata 4 escaping": (26, {
        "@timestamp": "2018-07-05T19:43:47.690014Z",
        "url.original": "/dd.xml",
        "user_agent.original": "Mozilla/5.0 (Macintosh)",
        "http.response.status_code": 404,
        "http.response.body.bytes": 0,
        "event.outcome": "failure",
    }),
    "alert with a dns query list": (27, {
        "rule.id": "2027863",
        "event.severity": 3,
        "network.protocol": "dns",
        "dns.question.name": "tracker.example.top",
        "dns.question.type": "A",
        "dns.id": ABSENT,
        "destination.packets": 0,
        "message": "ET INFO Observed DNS Query to .top TLD",
    }),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_fields(name: str) -> None:
    number, expected = GOLDEN[name]
    doc = parse(line(number))
    wrong = {
        field: (get(doc, field, ABSENT), value)
        for field, value in expected.items()
        if get(doc, field, ABSENT) != value
    }
    assert not wrong, f"line {number} ({name}): field: (got, expected) {wrong}"


def test_golden_covers_every_fixture_line() -> None:
    assert sorted(number for number, _ in GOLDEN.values()) == list(range(1, len(LINES) + 1))


PIPELINE_FIELDS = ("event.id", "event.original", "event.ingested", "log", "observer")


@pytest.mark.parametrize("number", range(1, len(LINES) + 1))
def test_every_document_is_well_formed(number: int) -> None:
    raw = line(number)
    record = orjson.loads(raw)
    doc = parse(raw)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", doc["@timestamp"])
    assert doc["event"]["kind"] in {"alert", "event", "metric"}
    assert isinstance(doc["message"], str) and doc["message"]
    for field in PIPELINE_FIELDS:
        assert get(doc, field, ABSENT) is ABSENT, f"{field} belongs to the pipeline"
    if record["event_type"] != "stats":
        assert get(doc, "event.dataset", ABSENT) is ABSENT  # the pipeline stamps the source's default
        assert isinstance(doc["event"]["category"], list) and isinstance(doc["event"]["type"], list)
    # Join keys survive where Suricata wrote them.
    if "flow_id" in record:
        assert get(doc, "suricata.eve.flow_id") == record["flow_id"]
    if "tx_id" in record:
        assert get(doc, "suricata.eve.tx_id") == record["tx_id"]
    if "community_id" in record:
        assert get(doc, "network.community_id") == record["community_id"]
    assert orjson.loads(orjson.dumps(doc)) == doc  # stores serialise with orjson


def test_community_id_matches_the_ecs_five_tuple() -> None:
    """The 5-tuple we publish (IPv6 in canonical form) hashes to the community id Suricata wrote."""
    calculator = communityid.CommunityID()
    makers = {"tcp": communityid.FlowTuple.make_tcp, "udp": communityid.FlowTuple.make_udp}
    checked = 0
    for raw in LINES:
        doc = parse(raw)
        if "community_id" not in doc.get("network", {}):
            continue
        flow = makers[doc["network"]["transport"]](
            doc["source"]["ip"], doc["destination"]["ip"], doc["source"]["port"], doc["destination"]["port"]
        )
        assert calculator.calc(flow) == doc["network"]["community_id"]
        checked += 1
    assert checked >= 8


def test_stats_are_kept_apart_from_security_events() -> None:
    docs = [parse(raw) for raw in LINES]
    metrics = [doc for doc in docs if doc["event"]["kind"] == "metric"]
    assert len(metrics) == 1
    assert all(get(doc, "event.dataset") == "suricata.stats" for doc in metrics)
    assert all(get(doc, "event.dataset", ABSENT) is ABSENT for doc in docs if doc not in metrics)
    assert sum(doc["event"]["kind"] == "alert" for doc in docs) == 3


# --- real data: the CrowdSec hub's EVE log and what CrowdSec's parser found in it -----------------------

_META = re.compile(r'results\[(\d+)\]\.Overflow\.Alert\.Events\[(\d+)\]\.GetMeta\("(\w+)"\) == "(.*)"')


def test_crowdsec_eve_log_agrees_with_crowdsec() -> None:
    folder = corpus("crowdsec-hub", ".tests", "suricata-eve-detect")
    expected: dict[tuple[str, str], dict[str, str]] = {}
    for match in _META.finditer((folder / "scenario.assert").read_text()):
        expected.setdefault((match[1], match[2]), {})[match[3]] = match[4]
    assert len(expected) == 4
    source = SuricataEve()
    raw_lines = (folder / "suricata-eve-detect.log").read_bytes().splitlines()
    assert SuricataEve.sniff(raw_lines[0][:200] + b"\n")
    docs = {doc["@timestamp"]: doc for doc in (parse(raw, source) for raw in raw_lines if raw.strip())}
    assert len(docs) == 4
    for meta in expected.values():
        doc = docs[meta["timestamp"]]  # CrowdSec writes the UTC time the way ECS @timestamp does
        assert get(doc, "source.ip") == meta["source_ip"]
        assert get(doc, "rule.id") == meta["suricata_alert_signature_id"]
        assert str(get(doc, "suricata.eve.flow_id")) == meta["suricata_flow_id"]
        assert str(get(doc, "event.severity")) == meta["suricata_rule_severity"]
        assert meta["log_type"] == "suricata_alert" and get(doc, "event.kind") == "alert"
    first = docs["2022-07-12T06:22:33.415742Z"]
    assert get(first, "url.original") == "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh"
    assert get(first, "http.request.method") == "POST"
    assert get(first, "rule.name").startswith("ET EXPLOIT Apache HTTP Server 2.4.49 - Path Traversal")
    assert get(first, "network.protocol") == "http"
    sip = docs["2022-07-12T11:26:34.407881Z"]
    assert get(sip, "network.protocol") == "sip"
    assert get(sip, "suricata.eve.sip.method") == "OPTIONS"


def test_fast_log_is_not_eve() -> None:
    fast = corpus("crowdsec-hub", ".tests", "suricata-logs-fastlog", "suricata-logs-fastlog.log")
    assert not SuricataEve.sniff(fast.read_bytes()[:4096])


# --- sniffing and the registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (FIXTURES.read_bytes()[:4096], True),
        (b"\xef\xbb\xbf" + line(3) + b"\n", True),
        (b"\n\n  " + line(7) + b"\n", True),
        (line(1)[:120], True),  # the head cuts a long first line short
        (b'{"transaction":{"time_stamp":"Mon Mar  4 10:00:00 2024","client_ip":"10.0.0.1"}}\n', False),
        (b'{"event_type":"alert"}\n', False),
        (b'["timestamp", "event_type"]\n', False),
        (b"type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2\n", False),
        (b"", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert SuricataEve.sniff(head) is expected


def test_registered_as_suricata() -> None:
    assert source_class("suricata") is SuricataEve
    assert SuricataEve.format == "suricata" and SuricataEve.dataset == "suricata.eve"


# --- rejections and odd bytes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":"alert"', "malformed JSON"),
        (b"not json at all", "malformed JSON"),
        (b"", "malformed JSON"),
        (b'[{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":"dns"}]',
         "EVE record must be a JSON object, got list"),
        (b'"just a string"', "EVE record must be a JSON object, got str"),
        (b'{"event_type":"dns","dns":{}}', "EVE record has no timestamp"),
        (b'{"timestamp":1709604942,"event_type":"dns"}', "EVE timestamp is not a string: 1709604942"),
        (b'{"timestamp":"yesterday","event_type":"dns"}', "invalid EVE timestamp 'yesterday'"),
        (b'{"timestamp":"2024-02-30T10:15:42.123456+0800","event_type":"dns"}',
         "invalid EVE timestamp '2024-02-30T10:15:42.123456+0800'"),
        (b'{"timestamp":"2024-03-05T10:15:42.123456+0800","dns":{}}', "EVE record has no event_type"),
        (b'{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":7}', "EVE record has no event_type"),
    ],
)
def test_rejections_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        SuricataEve().parse(Frame(0, raw))
    assert str(caught.value).startswith(reason)


def test_gbk_bytes_survive() -> None:
    record = orjson.loads(line(1))
    record["alert"]["signature"] = "疑似 WebShell 上传 (政务外网)"
    record["http"]["hostname"] = "门户.汕尾.政务.cn"
    raw = orjson.dumps(record).decode().encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    doc = parse(raw)
    assert get(doc, "rule.name") == "疑似 WebShell 上传 (政务外网)"
    assert get(doc, "url.domain") == "门户.汕尾.政务.cn"
    assert get(doc, "source.ip") == "203.0.113.45"
    assert doc["message"] == "疑似 WebShell 上传 (政务外网)"


def test_utf8_chinese_crlf_and_bom() -> None:
    record = orjson.loads(line(6))
    record["http"]["url"] = "/搜索?q=政务"
    doc = parse(orjson.dumps(record) + b"\r")
    assert get(doc, "url.path") == "/搜索" and get(doc, "url.query") == "q=政务"
    assert get(parse(b"\xef\xbb\xbf" + line(7)), "dns.question.name") == "www.shanwei.example.gov.cn"


def test_fields_with_unexpected_types_stay_under_suricata_eve() -> None:
    record = orjson.loads(line(6))
    record["src_port"] = "61000"
    record["dest_ip"] = "not-an-ip"
    record["http"]["status"] = "200"
    doc = parse(orjson.dumps(record))
    assert get(doc, "source.port", ABSENT) is ABSENT and get(doc, "suricata.eve.src_port") == "61000"
    assert get(doc, "destination.ip", ABSENT) is ABSENT and get(doc, "suricata.eve.dest_ip") == "not-an-ip"
    assert get(doc, "http.response.status_code", ABSENT) is ABSENT
    assert get(doc, "suricata.eve.http.status") == "200"


def test_times_without_zone_use_the_configured_zone() -> None:
    record = orjson.loads(line(7))
    record["timestamp"] = "2024-03-05T10:23:01.000100"
    doc = parse(orjson.dumps(record), SuricataEve(SourceOptions(timezone="Asia/Shanghai")))
    assert doc["@timestamp"] == "2024-03-05T02:23:01.000100Z"
    assert get(doc, "event.timezone") == "+08:00"


def test_one_source_keeps_zones_and_addresses_apart_across_records() -> None:
    """A source remembers minutes between records: the same wall-clock minute written with other offsets
    still gives each record its own time, a bad second in a known minute is still refused, and addresses
    seen before (valid or not) are still judged the same way."""
    source = SuricataEve()
    cases = [
        ("2024-03-05T10:23:01.000100+0800", "2024-03-05T02:23:01.000100Z", "+08:00"),
        ("2024-03-05T10:23:59.999999+0000", "2024-03-05T10:23:59.999999Z", "+00:00"),
        ("2024-03-05T10:23:30.500000-0530", "2024-03-05T15:53:30.500000Z", "-05:30"),
        ("2024-03-05T10:23:02.000000+0800", "2024-03-05T02:23:02.000000Z", "+08:00"),
        ("2024-03-05T10:23:60.000000+0800", None, None),  # no such second, even in a known minute
    ]
    addresses = [("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"), ("not-an-ip", None)]
    for _ in range(2):
        for stamp, utc, zone in cases:
            for text, canonical in addresses:
                record = orjson.loads(line(7))
                record["timestamp"], record["dest_ip"] = stamp, text
                if utc is None:
                    with pytest.raises(Rejected, match="invalid EVE timestamp"):
                        source.parse(Frame(0, orjson.dumps(record)))
                    continue
                doc = parse(orjson.dumps(record), source)
                assert (doc["@timestamp"], get(doc, "event.timezone")) == (utc, zone)
                assert get(doc, "destination.ip", ABSENT) == (canonical or ABSENT)
                assert get(doc, "suricata.eve.dest_ip", ABSENT) == (ABSENT if canonical else text)


# --- properties ---------------------------------------------------------------------------------------

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=offsets
)


@given(moment=moments, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
@settings(max_examples=300, deadline=None)
def test_times_agree_with_stamp_time(moment: datetime, later: timedelta) -> None:
    """The per-minute shortcut writes exactly what the shared `stamp_time` writes; durations are exact."""
    suricata = "%Y-%m-%dT%H:%M:%S.%f%z"
    record = {
        "timestamp": moment.strftime(suricata),
        "event_type": "flow",
        "flow": {"start": moment.strftime(suricata), "end": (moment + later).strftime(suricata)},
    }
    doc = parse(orjson.dumps(record))
    reference: Doc = {}
    stamp_time(reference, moment)
    assert doc["@timestamp"] == reference["@timestamp"]
    assert doc["event"]["timezone"] == reference["event"]["timezone"]
    assert doc["event"]["start"] == reference["@timestamp"]
    assert doc["event"]["duration"] == later // timedelta(microseconds=1) * 1000
    assert datetime.fromisoformat(doc["event"]["end"]) == (moment + later).astimezone(UTC)


@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London", "UTC"]),
    layout=st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"]),
)
@settings(max_examples=300, deadline=None)
def test_times_without_zone_agree_with_stamp_time(moment: datetime, zone: str, layout: str) -> None:
    if "%f" not in layout:
        moment = moment.replace(microsecond=0)
    doc = parse(
        orjson.dumps({"timestamp": moment.strftime(layout), "event_type": "dns"}),
        SuricataEve(SourceOptions(timezone=zone)),
    )
    reference: Doc = {}
    stamp_time(reference, moment.replace(tzinfo=ZoneInfo(zone)))
    assert doc["@timestamp"] == reference["@timestamp"]
    assert doc["event"]["timezone"] == reference["event"]["timezone"]


@given(raw=st.binary(max_size=600))
@settings(max_examples=400, deadline=None)
def test_arbitrary_bytes_give_a_document_or_a_reason(raw: bytes) -> None:
    try:
        docs = SuricataEve().parse(Frame(0, raw))
    except Rejected as rejected:
        assert str(rejected)
    else:
        assert len(docs) == 1 and "@timestamp" in docs[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value where another value could stand."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@given(data=st.data())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_eve_records_give_a_document_or_a_reason(data: st.DataObject) -> None:
    """Real-shaped records with any field replaced by any JSON value: a document or a reason, never a
    crash, and never an ECS field of the wrong type (which a typed store would refuse)."""
    record = orjson.loads(data.draw(st.sampled_from(LINES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(record)))
        node = record
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = data.draw(json_values)
    try:
        docs = SuricataEve().parse(Frame(0, orjson.dumps(record)))
    except Rejected as rejected:
        assert str(rejected)
        return
    doc = docs[0]
    orjson.dumps(doc)
    for field in ("source.port", "destination.port", "source.bytes", "event.severity", "event.duration",
                  "http.response.status_code", "file.size"):
        value = get(doc, field, ABSENT)
        assert value is ABSENT or type(value) is int, (field, value)
    for field in ("source.ip", "destination.ip", "rule.id", "rule.name", "url.original", "dns.question.name",
                  "tls.client.server_name", "network.transport", "network.protocol", "message"):
        value = get(doc, field, ABSENT)
        assert value is ABSENT or type(value) is str, (field, value)
