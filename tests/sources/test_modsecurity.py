"""ModSecurity audit-log source: serial, Concurrent and JSON (2.9 and libmodsecurity 3).

The serial, JSON and Concurrent fixtures under tests/data/modsecurity were written by the real WAF of
tests/components/waf.py (ModSecurity 2.9.7 + CRS 3.3.4, engine On, paranoia 1) for the same three
requests, so the formats can be checked against each other as well as against the raw text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secops import sources
from secops.events import Frame, Rejected, get
from secops.sources.modsecurity import AuditFramer, ModSecurityAudit
from secops.sources.modsecurity_model import parse_message
from tests.components.waf import WafFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "modsecurity"
SERIAL = DATA / "serial-2.9.log"
JSON29 = DATA / "json-2.9.log"
JSON3 = DATA / "libmodsecurity3.json"
CONCURRENT = DATA / "concurrent"


def frames_of(data: bytes) -> list[Frame]:
    framer = AuditFramer()
    frames: list[Frame] = []
    offset = 0
    for line in data.split(b"\n"):
        frames.extend(framer.push(offset, line.rstrip(b"\r")))
        offset += len(line) + 1
    frames.extend(framer.finish())
    return frames


def parse_all(data: bytes, source: ModSecurityAudit | None = None) -> list[dict[str, Any]]:
    source = source or ModSecurityAudit()
    return [doc for frame in frames_of(data) for doc in source.parse(frame)]


def h_section_ids(transaction: str) -> list[str]:
    """Independent oracle: the ids in the transaction's `Message:` lines, in order, once each."""
    ids: list[str] = []
    for line in transaction.splitlines():
        if line.startswith("Message: "):
            for rule in re.findall(r'\[id "(\d+)"\]', line):
                if rule not in ids:
                    ids.append(rule)
    return ids


def test_serial_one_event_per_transaction_with_every_rule() -> None:
    text = SERIAL.read_text()
    transactions = re.split(r"(?m)^(?=--[0-9a-f]+-A--$)", text)[1:]
    docs = parse_all(SERIAL.read_bytes())
    assert len(docs) == len(transactions) == 3
    for doc, raw in zip(docs, transactions, strict=True):
        assert get(doc, "rule.id") == h_section_ids(raw)
        assert get(doc, "modsecurity.unique_id") == raw.split("\n")[1].split()[2]
        assert get(doc, "transaction.id") == get(doc, "modsecurity.unique_id")
        assert [r["id"] for r in get(doc, "modsecurity.rules")] == re.findall(
            r'(?m)^Message: .*?\[id "(\d+)"\]', raw
        )
    sqli, xss, numeric_host = docs
    assert get(sqli, "http.request.method") == "GET"
    assert get(sqli, "url.original") == "/index.php?id=1%27%20or%20%271%27=%271"
    assert get(sqli, "url.path") == "/index.php"
    assert get(sqli, "url.query") == "id=1%27%20or%20%271%27=%271"
    assert get(sqli, "url.domain") == "www.example.gov.cn"
    assert get(sqli, "http.request.referrer") == "http://www.example.gov.cn/"
    assert get(sqli, "user_agent.original") == "Mozilla/5.0 (X11; Linux x86_64)"
    assert get(sqli, "http.version") == "1.1"
    assert get(sqli, "http.response.status_code") == 403
    assert get(sqli, "source.ip") == "127.0.0.1" and isinstance(get(sqli, "source.port"), int)
    assert get(sqli, "destination.ip") == "127.0.0.1"
    assert "942100" in get(sqli, "rule.id") and "949110" in get(sqli, "rule.id")
    assert get(sqli, "modsecurity.intercepted") is True
    assert get(sqli, "event.action") == "intercepted"
    assert get(sqli, "event.kind") == "alert"
    assert get(sqli, "event.category") == ["web", "intrusion_detection"]
    assert "denied" in get(sqli, "event.type")
    assert get(sqli, "event.outcome") == "failure"
    assert "attack-sqli" in get(sqli, "tags") and "attack-sqli" in get(sqli, "modsecurity.tags")
    assert get(sqli, "rule.ruleset") == "OWASP_CRS/3.3.4"
    score = int(re.search(r"Total Score: (\d+)", SERIAL.read_text()).group(1))  # type: ignore[union-attr]
    assert get(sqli, "modsecurity.anomaly_score.inbound") == score
    assert get(sqli, "message").startswith("GET /index.php?id=")
    assert "→ 403" in get(sqli, "message") and "942100" in get(sqli, "message")
    assert get(sqli, "@timestamp").endswith("Z") and get(sqli, "event.timezone") == "+00:00"
    rule = next(r for r in get(sqli, "modsecurity.rules") if r["id"] == "942100")
    assert rule["severity"] == "CRITICAL" and rule["paranoia_level"] == 1
    assert rule["file"].endswith("REQUEST-942-APPLICATION-ATTACK-SQLI.conf") and rule["line"] > 0
    assert rule["message"] == "SQL Injection Attack Detected via libinjection"
    assert rule["data"].startswith("Matched Data:")

    assert get(xss, "http.request.method") == "POST"
    assert get(xss, "http.request.body.bytes") == 38
    assert get(xss, "http.request.mime_type") == "application/x-www-form-urlencoded"
    assert get(xss, "url.domain") == "localhost"
    assert "attack-xss" in get(xss, "tags")

    # A warning below the blocking threshold: detected, not intercepted, the request went through.
    assert get(numeric_host, "rule.id") == ["920350"]
    assert get(numeric_host, "modsecurity.intercepted") is False
    assert get(numeric_host, "event.action") == "detected"
    assert get(numeric_host, "event.outcome") == "success"
    assert "allowed" in get(numeric_host, "event.type")


def _key_facts(doc: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        get(doc, name)
        for name in (
            "http.request.method",
            "url.original",
            "http.response.status_code",
            "rule.id",
            "modsecurity.intercepted",
            "modsecurity.anomaly_score.inbound",
            "event.action",
            "url.domain",
        )
    )


def test_json_29_agrees_with_serial_for_the_same_requests() -> None:
    serial = parse_all(SERIAL.read_bytes())
    json_docs = parse_all(JSON29.read_bytes())
    assert [_key_facts(d) for d in json_docs] == [_key_facts(d) for d in serial]
    assert all(get(d, "modsecurity.engine_mode") == "ENABLED" for d in json_docs)


def test_libmodsecurity3_json() -> None:
    blocked, passed = parse_all(JSON3.read_bytes())
    assert get(blocked, "rule.id") == ["941100", "949110"]
    assert get(blocked, "@timestamp") == "2026-11-22T03:06:35.000000Z"  # Asia/Shanghai local time
    assert get(blocked, "event.timezone") == "+08:00"
    assert get(blocked, "modsecurity.unique_id") == "176378079525.512633"
    assert get(blocked, "source.ip") == "192.0.2.10" and get(blocked, "source.port") == 51334
    assert get(blocked, "destination.port") == 443
    assert get(blocked, "http.version") == "1.1"
    assert get(blocked, "url.path") == "/search"
    assert get(blocked, "url.domain") == "zwfw.example.gov.cn"
    assert get(blocked, "modsecurity.rules")[0]["severity"] == "CRITICAL"
    assert get(blocked, "modsecurity.rules")[0]["paranoia_level"] == 1
    assert get(blocked, "modsecurity.rules")[0]["line"] == 55
    assert get(blocked, "modsecurity.anomaly_score.inbound") == 5
    assert get(blocked, "modsecurity.intercepted") is True
    assert get(passed, "event.kind") == "event" and get(passed, "event.action") == "passed"
    assert get(passed, "event.category") == ["web"]
    assert get(passed, "http.request.body.bytes") == 27
    assert get(passed, "modsecurity.intercepted") is False
    assert get(passed, "rule") is None


def test_concurrent_index_reads_each_transaction_file() -> None:
    index = (CONCURRENT / "index.log").read_bytes()
    source = ModSecurityAudit(storage_dir=CONCURRENT / "audit")
    docs = parse_all(index, source)
    assert [_key_facts(d) for d in docs] == [_key_facts(d) for d in parse_all(SERIAL.read_bytes())]
    for doc, line in zip(docs, index.decode().splitlines(), strict=True):
        assert get(doc, "modsecurity.unique_id") == line.split('"')[-3].split()[-1]
        assert Path(get(doc, "modsecurity.audit_file")).is_file()


def test_concurrent_storage_dir_defaults_to_the_index_directory(tmp_path: Path) -> None:
    index = (CONCURRENT / "index.log").read_bytes()
    unbound = ModSecurityAudit()
    with pytest.raises(Rejected, match="storage dir is unknown"):
        parse_all(index, unbound)
    bound = ModSecurityAudit()
    bound.bind(CONCURRENT / "audit" / "index.log")
    assert len(parse_all(index, bound)) == 3
    with pytest.raises(Rejected, match="unreadable"):
        parse_all(index, ModSecurityAudit(storage_dir=tmp_path))


def test_framer_cuts_transactions_and_reports_open_one() -> None:
    data = SERIAL.read_bytes()
    lines = data.split(b"\n")
    framer = AuditFramer()
    offset = 0
    emitted = 0
    second_start = data.index(b"\n--2c278a1b-A--") + 1
    for line in lines:
        emitted += len(framer.push(offset, line))
        if offset == second_start:
            assert framer.pending_offset() == second_start
        offset += len(line) + 1
    assert emitted == 3 and framer.pending_offset() is None
    frames = frames_of(data)
    assert [f.offset for f in frames][1] == second_start


def test_cut_transactions_are_rejected_with_their_reason() -> None:
    data = SERIAL.read_bytes()
    cut = data[: data.index(b"--2c278a1b-H--")]
    frames = frames_of(cut + b"\n")
    source = ModSecurityAudit()
    assert len(source.parse(frames[0])) == 1
    with pytest.raises(Rejected, match="no Z section"):
        source.parse(frames[1])
    # A new transaction starting before the previous one's Z: both kept, the cut one rejected.
    spliced = cut + data[data.index(b"--b873d930-A--", 10) :]
    frames = frames_of(spliced)
    assert len(frames) == 3
    with pytest.raises(Rejected, match="no Z section"):
        source.parse(frames[1])
    assert len(source.parse(frames[2])) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"hello world", "neither a serial transaction"),
        (b'{"transaction": 5}', "without a transaction object"),
        (b'{"transaction": {"x": 1}}', "neither ModSecurity 2.9 nor libmodsecurity 3"),
        (b'{"transaction": {"time": "yesterday", "transaction_id": "x"}}', "unreadable transaction time"),
        (b"{not json", "invalid JSON"),
        (b"--abc-A--\n[bad time] id\n--abc-Z--", "unreadable transaction time"),
        (b"--abc-A--\n[22/Nov/2026:03:01:57 +0000] id\n--def-B--\nGET / HTTP/1.1\n--abc-Z--", "boundary"),
    ],
)
def test_bad_input_is_rejected_with_a_precise_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        ModSecurityAudit().parse(Frame(0, raw))


def test_message_metadata_with_escaped_quotes() -> None:
    rule = parse_message(
        'Warning. Pattern match "[\\"]" at ARGS:a. [file "/r.conf"] [line "7"] [id "942100"] '
        '[msg "SQLi"] [data "Matched Data: \\"x\\" found"] [severity "2"] [tag "attack-sqli"] '
        '[tag "paranoia-level/3"]'
    )
    assert (rule.id, rule.line, rule.severity, rule.paranoia_level) == ("942100", 7, "CRITICAL", 3)
    assert rule.data == 'Matched Data: "x" found'
    assert rule.text == 'Warning. Pattern match "[\\"]" at ARGS:a.'


def test_sniff_and_registry() -> None:
    for path in (SERIAL, JSON29, JSON3):
        assert ModSecurityAudit.sniff(path.read_bytes()[:8192])
    assert ModSecurityAudit.sniff((CONCURRENT / "index.log").read_bytes())
    assert not ModSecurityAudit.sniff(b'{"timestamp":"2024-01-01T00:00:00Z","event_type":"alert"}\n')
    assert not ModSecurityAudit.sniff(b"Nov 22 03:01:57 host sshd[1]: Accepted password for root\n")
    assert sources.source_class("modsecurity") is ModSecurityAudit


def _docs_or_rejected(source: ModSecurityAudit, data: bytes) -> None:
    for frame in frames_of(data):
        try:
            docs = source.parse(frame)
        except Rejected as exc:
            assert str(exc)
            continue
        for doc in docs:
            assert isinstance(doc["@timestamp"], str) and get(doc, "event.kind") in {"alert", "event"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_end_as_events_or_rejections(data: bytes) -> None:
    _docs_or_rejected(ModSecurityAudit(), data)


_REAL = SERIAL.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_REAL)), st.integers(0, 400), st.binary(max_size=64))
def test_damaged_real_logs_end_as_events_or_rejections(start: int, length: int, junk: bytes) -> None:
    _docs_or_rejected(ModSecurityAudit(), _REAL[:start] + junk + _REAL[start + length :])


@pytest.mark.component("apache")
@pytest.mark.parametrize("log_format", ["Native", "JSON"])
def test_live_concurrent_log_of_a_blocking_waf(waf_factory: WafFactory, log_format: str) -> None:
    """A real WAF with the engine On, Concurrent layout: the index leads to every blocked transaction."""
    waf = waf_factory("Concurrent", log_format, 1, "On")
    answer = waf.send(
        b"GET /?id=1%27%20or%20%271%27=%271 HTTP/1.1\r\nHost: localhost\r\n"
        b"User-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 403")
    marker = waf.mark()
    source = ModSecurityAudit(storage_dir=waf.storage_dir)
    docs = parse_all(waf.audit_log.read_bytes(), source)
    blocked = next(d for d in docs if get(d, "url.original", "").startswith("/?id="))
    assert get(blocked, "modsecurity.intercepted") is True
    assert get(blocked, "http.response.status_code") == 403
    assert "942100" in get(blocked, "rule.id")
    assert any(marker == r["message"] for d in docs for r in get(d, "modsecurity.rules", []))


def _serial(a_line: str, trailer: str = "", body: str = "") -> bytes:
    """A small serial transaction: request, optional body, response, optional trailer."""
    text = (
        f"--t1-A--\n{a_line}\n--t1-B--\nPOST /p?q=1 HTTP/1.1\nHost: h.example\nhost: second\n\n"
        + (f"--t1-C--\n{body}\n" if body else "")
        + "--t1-F--\nHTTP/1.1 200 OK\nContent-Length: 5\n\n"
        + (f"--t1-H--\n{trailer}\n" if trailer else "")
        + "--t1-Z--\n"
    )
    return text.encode()


@pytest.mark.parametrize(
    ("stamp", "utc", "zone"),
    [
        ("22/Nov/2026:03:06:33.5 +0000", "2026-11-22T03:06:33.500000Z", "+00:00"),
        ("22/Nov/2026:11:06:33.25 +0800", "2026-11-22T03:06:33.250000Z", "+08:00"),
        ("22/Nov/2026:03:06:33 +0800", "2026-11-21T19:06:33.000000Z", "+08:00"),
        ("22/Nov/2026:03:06:33.000007 -0130", "2026-11-22T04:36:33.000007Z", "-01:30"),
        ("22/Nov/2026:03:06:33.5 +0000", "2026-11-22T03:06:33.500000Z", "+00:00"),
    ],
)
def test_timestamps_of_one_second_in_several_zones(stamp: str, utc: str, zone: str) -> None:
    """Formatting is cached per second: the same instant or wall time in other zones stays exact."""
    (doc,) = ModSecurityAudit().parse(Frame(0, _serial(f"[{stamp}] uid 10.0.0.1 1234 10.0.0.2 80")))
    assert get(doc, "@timestamp") == utc and get(doc, "event.timezone") == zone


def test_trailer_lines_found_wherever_they_are() -> None:
    trailer = "\n".join(
        [
            'Apache-Error: [file "x"] ModSecurity: Message: not a message line [id "1"]',
            'Message: Warning. a [file "/r.conf"] [line "1"] [id "920350"] [msg "first"] [severity "4"]',
            'Engine-Mode: "DETECTION_ONLY"',
            "Stopwatch: 1 2",
            'Message: Warning. b [file "/r.conf"] [id "942100"] [msg "second"] [tag "attack-sqli"]',
            "Producer: first producer",
            "Action: Intercepted (phase 2)",
            "Producer: ModSecurity for Apache/2.9.7; OWASP_CRS/3.3.4.",
            'Engine-Mode: "ENABLED"',
        ]
    )
    (doc,) = ModSecurityAudit().parse(Frame(0, _serial("[22/Nov/2026:03:06:33 +0000] uid", trailer)))
    assert get(doc, "rule.id") == ["920350", "942100"]
    assert [r["message"] for r in get(doc, "modsecurity.rules")] == ["first", "second"]
    assert get(doc, "modsecurity.intercepted") is True and get(doc, "event.action") == "intercepted"
    assert get(doc, "modsecurity.engine_mode") == "ENABLED"
    assert get(doc, "modsecurity.producer") == "ModSecurity for Apache/2.9.7; OWASP_CRS/3.3.4."
    assert get(doc, "event.severity") == 4  # WARNING (written as 4), the only severity given
    assert get(doc, "modsecurity.rules")[0]["severity"] == "WARNING"
    assert get(doc, "url.domain") == "h.example"  # the first Host header counts
    (quiet,) = ModSecurityAudit().parse(Frame(0, _serial("[22/Nov/2026:03:06:33 +0000] uid")))
    assert get(quiet, "modsecurity.intercepted") is False and get(quiet, "rule") is None


def test_multipart_body_lines_are_not_section_boundaries() -> None:
    body = '----------b7\nContent-Disposition: form-data; name="a"\n\n1\n----------b7--'
    frames = frames_of(_serial("[22/Nov/2026:03:06:33 +0000] uid", body=body))
    assert len(frames) == 1
    (doc,) = ModSecurityAudit().parse(frames[0])
    assert get(doc, "http.request.body.bytes") == len(body.encode())
    assert get(doc, "http.response.status_code") == 200


def test_unusual_metadata_tail_uses_the_careful_reading() -> None:
    """A tail the fast split cannot take (unknown key, `"] [` inside a value) still yields its rule."""
    unknown = parse_message('Warning. x [file "/r.conf"] [line "3"] [id "1"] [other "z"] [tag "t"]')
    assert (unknown.id, unknown.line, unknown.tags) == ("1", 3, ["t"])
    nested = parse_message('Warning. x [file "/r.conf"] [id "2"] [data "a\\"] [b"] [tag "t"]')
    assert nested.id == "2" and nested.data == 'a"] [b' and nested.tags == ["t"]


_LINES = st.sampled_from(
    [b"--ab12cd34-A--", b"--ab12cd34-B--", b"--ab12cd34-Z--", b"--ff00ff00-A--", b"--ff00ff00-Z--",
     b"--ab12cd34-Z--  ", b"GET / HTTP/1.1", b"Host: x", b"", b"  ", b"--not-a-boundary",
     b'{"transaction":{}}', b"Message: Warning.\r", b"\r", b"--ab12cd34-Z--\r", b"--ff00ff00-A--\r",
     b"--ff00ff00-Z-- \r"]
)


def _frames(framer: AuditFramer, data: bytes, cuts: list[int], per_line: bool) -> list[tuple[int, bytes]]:
    out: list[Frame] = []
    position = 0
    for cut in [*cuts, len(data)]:
        block = data[position:cut]
        if per_line:
            offset = position
            for line in block.split(b"\n")[:-1]:
                out += framer.push(offset, line.removesuffix(b"\r"))
                offset += len(line) + 1
        else:
            out += framer.feed(position, block)
        position = cut
    out += framer.finish()
    return [(f.offset, f.raw) for f in out]


@given(st.lists(_LINES, max_size=60), st.lists(st.integers(0, 59), max_size=6))
def test_block_framing_equals_line_framing(lines: list[bytes], cut_lines: list[int]) -> None:
    # `feed` finds boundaries in whole blocks; wherever the blocks are cut it must frame line by line.
    data = b"".join(line + b"\n" for line in lines)
    ends = [i for i, byte in enumerate(data) if byte == 10]
    cuts = sorted({ends[i] + 1 for i in cut_lines if i < len(ends)})
    assert _frames(AuditFramer(), data, cuts, False) == _frames(AuditFramer(), data, cuts, True)
