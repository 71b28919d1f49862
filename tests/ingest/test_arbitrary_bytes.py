"""Whatever bytes arrive, every format ends each record as an event or a dead letter, and never raises."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secops.ingest.pipeline import Ingestor
from secops.store.base import Query
from secops.store.sqlite import SQLiteStore
from tests.components import require_binary

TEXT_FORMATS = ["suricata", "modsecurity", "auditd", "auth"]

# Fragments real logs are made of, so the generator reaches deep into each parser, mixed with noise.
FRAGMENTS = [
    b'{"timestamp":"2026-11-20T10:00:00.000000+0800","event_type":"alert","src_ip":"1.2.3.4"}',
    b'{"event_type":"flow","flow":{"start":1}}', b"--a1b2c3d4-A--", b"--a1b2c3d4-Z--",
    b"[20/Nov/2026:10:00:00 +0800] YZ123 10.0.0.1 4444 10.0.0.2 80", b"GET /?q=1' OR 1=1 HTTP/1.1",
    b'Message: Warning. [id "942100"] [msg "SQL Injection"]', b"type=SYSCALL msg=audit(1700000000.123:42):",
    b"arch=c000003e syscall=59 success=yes exit=0", b"type=PROCTITLE msg=audit(1700000000.123:42): "
    b"proctitle=2F62696E2F7368", b"type=EOE msg=audit(1700000000.123:42):",
    b"Nov 20 10:00:00 host sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
    b"<34>1 2026-11-20T10:00:00+08:00 host sshd 1 - - Accepted publickey for a from ::1 port 2",
    "检测到攻击".encode("gbk"), b"\xff\xfe\x00", b"\r", b"\n", b"\n\n", b"{", b"}", b"\x1d",
]

chunks = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=64)), max_size=30).map(b"".join)


def ingest_bytes(data: bytes, fmt: str, suffix: str = ".log") -> tuple[int, int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        store = SQLiteStore(Path(tmp) / "events.db")
        report = Ingestor(store).run([path], fmt)
        stored = store.count(Query(limit=None))
        dead = store.stats().dead_letters
        store.close()
    return report.accepted, report.rejected, stored, dead


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=chunks)
def test_any_bytes_end_as_events_or_dead_letters(fmt: str, data: bytes) -> None:
    accepted, rejected, stored, dead = ingest_bytes(data, fmt)

    assert stored == accepted
    assert dead == rejected
    if data.strip():
        assert accepted + rejected >= 1, "non-blank input must leave a trace"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(min_size=0, max_size=400))
def test_any_bytes_after_a_pcap_header_never_raise(body: bytes) -> None:
    require_binary("tshark", "apt-get install -y tshark")
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)

    accepted, rejected, stored, dead = ingest_bytes(header + body, "pcap", ".pcap")

    assert stored == accepted
    assert dead == rejected
