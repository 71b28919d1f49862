"""The pcap source against suricata-verify: what Suricata logged from a capture, we recover from it too.

For every test directory with a capture, each `checks` filter whose `match` has `event_type` dns, http,
tls or flow and `count` >= 1 becomes an expectation: at least `count` of our events of that kind carry
every protocol fact of the match that a packet decoder must recover. Compared keys (Suricata -> ECS):

- all:  `src_ip`, `dest_ip` (IPv6 compared normalised: Suricata writes them expanded), `src_port`,
        `dest_port`, `proto`, `community_id` (with the test's `community-id-seed`), `ether.src_mac`,
        `ether.dest_mac`;
- flow: `flow.pkts_toserver/toclient`, `flow.bytes_toserver/toclient`, `flow.start`, `flow.end`,
        `app_proto` when it is dns, http or tls, `vlan`, `ether.src_macs[0]`;
- dns:  `dns.type`, `dns.id`, the question name and type (`dns.rrname`/`dns.rrtype` in v1,
        `dns.queries[0]` in v2/v3, `dns.query[0]` in v2 variants), `dns.rcode`, every
        `dns.answers[i]` (rrname, rrtype, rdata, ttl);
- http: `http.hostname`, `http.url`, `http.http_method`, `http.http_user_agent`, `http.http_refer`,
        `http.protocol`, `http.status`;
- tls:  `tls.sni`, `tls.version`, `tls.ja3.hash`.

Not compared, because they describe Suricata rather than the traffic: alerts, anomalies, stats, `pcap_cnt`,
`tx_id`, flow state/age/reason/alerted/action, TCP flag summaries and state, app_proto values other than
the three protocols (e.g. `failed`), DNS header bits, `dns.version`, authorities and `grouped` views,
HTTP body length, content type and header lists, the server certificate (`tls.subject`, `issuerdn`,
`serial`, `fingerprint`, validity, SAN: not part of the client hello), `tls.ja3.string` (ECS keeps the
hash), `tls.ja4` (tshark 4.0 has no JA4) and `tls.session_resumed`. Filters with `count: 0` assert an
absence of Suricata output and are not protocol facts either.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from secops.events import Doc, Rejected, flatten, parse_iso
from secops.sources import pcap_capture, source_class
from secops.sources.pcap import PcapSource, tls_version
from secops.sources.pcap_capture import read_layers
from tests.components import CORPORA, corpus, require_binary

INSTALL = (
    'echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections'
    " && apt-get install -y tshark"
)
SUITE = CORPORA / "suricata-verify" / "tests"
KINDS = {"dns", "http", "tls", "flow"}

Norm = Callable[[Any], Any]


def _ip(value: Any) -> str:
    return str(ipaddress.ip_address(str(value)))


def _mac(value: Any) -> str:
    return str(value).upper().replace(":", "-")


def _time(value: Any) -> datetime:
    return parse_iso(str(value))


def _text(value: Any) -> str:
    return str(value)


def _lower(value: Any) -> str:
    return str(value).lower()


def _version(value: Any) -> str:
    return str(value).removeprefix("HTTP/")


def _dns_type(value: Any) -> str:
    return "answer" if value in ("answer", "response") else "query"


def _tls(value: Any) -> tuple[str, str] | None:
    """Suricata's version names (`TLSv1`, `TLS 1.3`, `TLS 1.3 draft-28`, `SSLv3`) as ECS would hold them."""
    found = re.match(r"(SSL|TLS) ?v?(\d)(?:\.(\d))?", str(value))
    if not found:
        return None
    proto, major, minor = found.group(1).lower(), int(found.group(2)), int(found.group(3) or 0)
    code = (major << 8) if proto == "ssl" else 0x0301 + minor
    return tls_version(code)


# Suricata key -> (ECS field, normaliser applied to both sides)
COMMON: dict[str, tuple[str, Norm]] = {
    "src_ip": ("source.ip", _ip),
    "dest_ip": ("destination.ip", _ip),
    "src_port": ("source.port", int),
    "dest_port": ("destination.port", int),
    "proto": ("network.transport", _lower),
    "community_id": ("network.community_id", _text),
    "ether.src_mac": ("source.mac", _mac),
    "ether.dest_mac": ("destination.mac", _mac),
}
PER_KIND: dict[str, dict[str, tuple[str, Norm]]] = {
    "flow": {
        "flow.pkts_toserver": ("source.packets", int),
        "flow.pkts_toclient": ("destination.packets", int),
        "flow.bytes_toserver": ("source.bytes", int),
        "flow.bytes_toclient": ("destination.bytes", int),
        "flow.start": ("event.start", _time),
        "flow.end": ("event.end", _time),
        "ether.src_macs[0]": ("source.mac", _mac),
    },
    "dns": {
        "dns.type": ("dns.type", _dns_type),
        "dns.id": ("dns.id", _text),
        "dns.rrname": ("dns.question.name", _text),
        "dns.rrtype": ("dns.question.type", _text),
        "dns.queries[0].rrname": ("dns.question.name", _text),
        "dns.queries[0].rrtype": ("dns.question.type", _text),
        "dns.query[0].rrname": ("dns.question.name", _text),
        "dns.query[0].rrtype": ("dns.question.type", _text),
        "dns.rcode": ("dns.response_code", _text),
    },
    "http": {
        "http.hostname": ("url.domain", _text),
        "http.url": ("url.original", _text),
        "http.http_method": ("http.request.method", _text),
        "http.http_user_agent": ("user_agent.original", _text),
        "http.http_refer": ("http.request.referrer", _text),
        "http.protocol": ("http.version", _version),
        "http.status": ("http.response.status_code", int),
    },
    "tls": {
        "tls.sni": ("tls.client.server_name", _text),
        "tls.ja3.hash": ("tls.client.ja3", _text),
    },
}
ANSWER = re.compile(r"dns\.answers\[(\d+)\]\.(rrname|rrtype|rdata|ttl)$")
ANSWER_FIELDS = {"rrname": "name", "rrtype": "type", "rdata": "data", "ttl": "ttl"}
APP_PROTOCOLS = {"dns", "http", "tls"}
KNOWN_GAPS = {
    "http-not09": "tshark's HTTP dissector takes no request line without a version (`GET /` + bare LF "
    "headers on port 8000); Suricata's parser is deliberately lenient here",
}


def _is(kind: str, doc: dict[str, Any]) -> bool:
    action = doc.get("event.action")
    return {
        "flow": action == "network_flow",
        "dns": str(action).startswith("dns-"),
        "http": str(action).startswith("http-"),
        "tls": action == "tls-client-hello",
    }[kind]


def _flat(match: dict[str, Any]) -> dict[str, Any]:
    """Suricata-verify writes matches both nested (`http: {hostname: ...}`) and dotted; unify."""
    return flatten(match)


@dataclass
class Expectation:
    kind: str
    count: int
    facts: dict[str, tuple[Any, Norm]]
    answers: list[dict[str, Any]]
    tls: tuple[str, str] | None
    source: dict[str, Any]

    def satisfied_by(self, doc: dict[str, Any], raw: Doc) -> bool:
        if not _is(self.kind, doc):
            return False
        for ecs, (want, norm) in self.facts.items():
            have = doc.get(ecs)
            if have is None:
                return False
            try:
                if norm(have) != norm(want):
                    return False
            except ValueError:
                return False
        if self.tls is not None and (doc.get("tls.version_protocol"), doc.get("tls.version")) != self.tls:
            return False
        ours = raw.get("dns", {}).get("answers", [])
        return all(any(_answer_matches(want, have) for have in ours) for want in self.answers)


def _answer_matches(want: dict[str, Any], have: dict[str, Any]) -> bool:
    for key, value in want.items():
        mine = have.get(key)
        if key == "ttl":
            if mine is None or int(mine) != int(value):
                return False
        elif key == "data" and have.get("type") in ("A", "AAAA") and mine is not None:
            if _ip(mine) != _ip(value):
                return False
        elif str(mine if mine is not None else "") != str(value):
            return False
    return True


def expectations(test_yaml: Path) -> list[Expectation]:
    """The protocol facts a test's checks expect, built from its YAML."""
    spec = yaml.safe_load(test_yaml.read_text()) or {}
    out = []
    for check in spec.get("checks") or []:
        flt = check.get("filter") if isinstance(check, dict) else None
        if not flt or int(flt.get("count", 0)) < 1:
            continue
        match = _flat(flt.get("match") or {})
        kind = match.get("event_type")
        if kind not in KINDS:
            continue
        table = {**COMMON, **PER_KIND[kind]}
        facts: dict[str, tuple[Any, Norm]] = {}
        answers: dict[int, dict[str, Any]] = {}
        tls = None
        for key, value in match.items():
            if key in table:
                ecs, norm = table[key]
                facts[ecs] = (value, norm)
            elif kind == "flow" and key == "app_proto" and value in APP_PROTOCOLS:
                facts["network.protocol"] = (value, _text)
            elif kind == "flow" and key == "vlan" and isinstance(value, list) and value:
                facts["network.vlan.id"] = (value[0], _text)
                if len(value) > 1:
                    facts["network.inner.vlan.id"] = (value[1], _text)
            elif kind == "tls" and key == "tls.version":
                tls = _tls(value)
            elif kind == "dns" and (found := ANSWER.match(key)):
                answers.setdefault(int(found.group(1)), {})[ANSWER_FIELDS[found.group(2)]] = value
        count = int(flt["count"])
        if kind == "dns" and "dns.rrname" in match and _dns_type(match.get("dns.type")) == "answer":
            count = 1  # DNS v1 logs one event per answer record, we log one per message
        out.append(Expectation(kind, count, facts, list(answers.values()), tls, match))
    return out


def capture_of(directory: Path) -> Path | None:
    spec = yaml.safe_load((directory / "test.yaml").read_text()) or {}
    if spec.get("pcap"):
        named = (directory / str(spec["pcap"])).resolve()
        return named if named.exists() else None
    found = sorted(p for p in directory.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return found[0] if found else None


def community_seed(directory: Path) -> int:
    config = directory / "suricata.yaml"
    if config.exists():
        found = re.search(r"community-id-seed:\s*(\d+)", config.read_text())
        if found:
            return int(found.group(1))
    return 0


def _test_dirs() -> list[str]:
    if not SUITE.exists():
        return ["(corpus missing)"]
    return sorted(
        str(t.parent.relative_to(SUITE))
        for t in SUITE.rglob("test.yaml")
        if capture_of(t.parent) is not None and expectations(t)
    )


def _read(path: Path, seed: int = 0) -> tuple[list[Doc], list[tuple[int, str]], list[int]]:
    docs: list[Doc] = []
    rejected: list[tuple[int, str]] = []
    positions: list[int] = []
    for item in PcapSource(community_id_seed=seed).read_path(path):
        if len(item) == 3:
            position, reason, _ = item
            assert isinstance(reason, Rejected)
            rejected.append((position, str(reason)))
            continue
        position, batch = item
        positions.extend([position] * len(batch))
        docs.extend(batch)
    return docs, rejected, positions


@pytest.fixture(scope="module")
def tshark() -> str:
    return require_binary("tshark", INSTALL)


@pytest.mark.component("tshark")
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_GAPS[n], strict=True)) if n in KNOWN_GAPS else n
        for n in _test_dirs()
    ],
)
def test_recovers_what_suricata_logged(tshark: str, name: str) -> None:
    directory = corpus("suricata-verify", "tests", *Path(name).parts)
    pcap = capture_of(directory)
    assert pcap is not None
    docs, rejected, _ = _read(pcap, community_seed(directory))
    assert not rejected, rejected
    flat = [flatten(doc) for doc in docs]
    missing = []
    for expected in expectations(directory / "test.yaml"):
        found = sum(1 for f, d in zip(flat, docs, strict=True) if expected.satisfied_by(f, d))
        if found < expected.count:
            missing.append(f"{expected.kind} x{expected.count} (found {found}): {expected.source}")
    assert not missing, "\n".join(missing)


@pytest.mark.component("tshark")
def test_every_capture_is_sniffed_and_every_position_yielded_once(tshark: str) -> None:
    """Ids come from (position, index): a position yielded twice would make two events share an id."""
    captures = sorted(p for p in corpus("suricata-verify", "tests").rglob("*.pcap"))
    assert captures
    for pcap in captures[:12]:
        assert PcapSource.sniff(pcap.read_bytes()[:64]), pcap
        seen: set[int] = set()
        for item in PcapSource().read_path(pcap):
            if len(item) == 2:
                assert item[0] not in seen, (pcap, item[0])
                seen.add(item[0])
    assert not PcapSource.sniff(b'{"event_type": "flow"}\n')
    assert source_class("pcap") is PcapSource


@pytest.mark.component("tshark")
def test_flow_and_dns_events_carry_ecs_fields(tshark: str) -> None:
    pcap = corpus("suricata-verify", "tests", "dns", "dns-udp-eve-txt", "input.pcap")
    docs, rejected, positions = _read(pcap)
    assert not rejected
    flows = [flatten(d) for d in docs if d["event"]["action"] == "network_flow"]
    queries = [flatten(d) for d in docs if d["event"]["action"] == "dns-query"]
    answers = [flatten(d) for d in docs if d["event"]["action"] == "dns-answer"]
    assert len(flows) == 2 and len(queries) == 2 and len(answers) == 2
    for flow in flows:
        assert flow["event.category"] == ["network"] and flow["event.type"] == ["connection"]
        assert flow["network.type"] == "ipv4" and flow["network.transport"] == "udp"
        assert flow["network.protocol"] == "dns" and flow["destination.port"] == 53
        assert flow["event.start"] <= flow["event.end"] and flow["@timestamp"] == flow["event.start"]
        assert flow["network.community_id"].startswith("1:")
        assert flow["source.packets"] == 1 and flow["destination.packets"] == 1
    for answer in answers:
        assert answer["dns.response_code"] == "NOERROR" and answer["dns.answers"]
        assert answer["source.port"] == 53
        assert answer["network.community_id"] in {f["network.community_id"] for f in flows}
    assert {q["dns.question.name"] for q in queries} == {a["dns.question.name"] for a in answers}
    # a flow is yielded together with the query of its first frame
    assert positions.count(min(positions)) == 2


@pytest.mark.component("tshark")
def test_truncated_capture_keeps_what_was_read(tshark: str, tmp_path: Path) -> None:
    whole = corpus("suricata-verify", "tests", "dns", "bug-1158", "input.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) // 2 + 7])
    docs, rejected, _ = _read(cut)
    assert rejected and "frame" in rejected[0][1]
    assert any(d["event"]["action"] == "dns-query" for d in docs)
    assert any(d["event"]["action"] == "network_flow" for d in docs)


@pytest.mark.component("tshark")
def test_garbage_behind_a_pcap_magic_is_rejected(tshark: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(range(256)) * 4)
    docs, rejected, _ = _read(bad)
    assert docs == [] and len(rejected) == 1 and rejected[0][1].startswith("tshark")


def _repeat_capture(source: Path, target: Path, copies: int) -> int:
    """A classic little-endian pcap whose records are those of `source` `copies` times; returns the count."""
    data = source.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    records, offset = 0, 24
    while offset + 16 <= len(data):
        offset += 16 + struct.unpack("<I", data[offset + 8 : offset + 12])[0]
        records += 1
    target.write_bytes(data[:24] + data[24:offset] * copies)
    return records * copies


@pytest.mark.component("tshark")
def test_a_capture_of_many_batches_gives_every_frame_once_and_counts_it_once(
    tshark: str, tmp_path: Path
) -> None:
    """The EK reader hands over ~128 KiB per batch, cutting lines anywhere: no frame lost or doubled."""
    big = tmp_path / "big.pcap"
    frames = _repeat_capture(corpus("suricata-verify", "tests", "ethernet-eve", "test.pcap"), big, 12)
    layers = list(read_layers(big))
    assert [int(packet["frame_number"][0]) for packet in layers] == list(range(1, frames + 1))
    assert sum(len(json.dumps(packet)) for packet in layers) > 4 * pcap_capture._BATCH  # several batches
    ip_frames = sum(
        1 for packet in layers if {"ip", "ipv6"} & set(packet["frame_protocols"][0].split(":"))
    )
    docs, rejected, _ = _read(big)
    assert not rejected
    flows = [d for d in docs if d["event"]["action"] == "network_flow"]
    assert sum(f["network"]["packets"] for f in flows) == ip_frames
    assert all(f["source"]["packets"] + f["destination"]["packets"] == f["network"]["packets"] for f in flows)


@pytest.mark.component("tshark")
@pytest.mark.parametrize("variant", ["tiny batches", "no stdbuf"])
def test_how_tshark_output_is_read_does_not_change_the_events(
    tshark: str, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch size (lines cut across reads) and tshark's stdout buffering are speed, never content."""
    pcap = corpus("suricata-verify", "tests", "ethernet-eve", "test.pcap")
    expected = _read(pcap)
    if variant == "tiny batches":
        monkeypatch.setattr(pcap_capture, "_BATCH", 97)
    else:
        found = shutil.which
        monkeypatch.setattr(shutil, "which", lambda name: None if name == "stdbuf" else found(name))
    assert _read(pcap) == expected
    assert expected[0]


@pytest.mark.component("tshark")
@pytest.mark.filterwarnings("error")
def test_a_capture_read_off_the_main_thread_leaves_every_exit_status_to_its_owner(tshark: str) -> None:
    """A drill follows pcaps on a worker thread while the main thread runs commands: each side gets its own
    children's exit statuses, and asyncio's process-wide state is left as it was, even after a capture on
    the main thread (pyshark itself would install a SafeChildWatcher there)."""
    pcap = corpus("suricata-verify", "tests", "ethernet-eve", "test.pcap")
    watcher = asyncio.get_child_watcher()
    expected = _read(pcap)
    read: list[tuple[list[Doc], list[tuple[int, str]], list[int]]] = []
    loops: list[bool] = []

    def follow() -> None:
        read.extend(_read(pcap) for _ in range(3))
        try:
            asyncio.get_event_loop_policy().get_event_loop()
            loops.append(True)
        except RuntimeError:  # no loop left set as this thread's current one
            loops.append(False)

    worker = threading.Thread(target=follow)
    worker.start()
    statuses: list[tuple[str, int]] = []
    while worker.is_alive() or len(statuses) < 200:
        for command in ("true", "false"):
            statuses.append((command, subprocess.run([command], check=False).returncode))
    worker.join()
    gc.collect()  # an unclosed loop or pipe would warn (an error here) when collected
    assert statuses.count(("true", 0)) == statuses.count(("false", 1)) == len(statuses) // 2
    assert read == [expected] * 3 and loops == [False]
    assert expected[0] and not expected[1]
    assert asyncio.get_child_watcher() is watcher
