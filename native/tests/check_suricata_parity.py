"""Differential check: the native Suricata EVE parser against the Python reference.

Feeds the same EVE inputs to `secops.sources.suricata.SuricataEve` (framed by the default `Framer`,
parsed through the pipeline's `parse_frame`, stamped as the native contract says) and to
`egovops_native.SuricataParser.feed`, and compares every event (id, timestamp, dataset, message and
the document by dict equality) and every dead letter (offset, reason, raw bytes). Inputs: the EVE
fixtures and test cases of the repository, every EVE file under /work/shared/corpora (read in place),
the benchmark corpus of `benchmarks/eve_corpus.py`, seeded random mutations of real records (values
of every JSON type anywhere, corrupted bytes, odd timestamps in several zones, odd addresses) and,
with `--eve-dir`, EVE logs written by a real Suricata.

    cd native && CARGO_TARGET_DIR=target-suricata cargo build --release --no-default-features \\
        --features suricata
    mkdir -p /tmp/native-suricata
    cp target-suricata/release/libegovops_native.so /tmp/native-suricata/egovops_native.abi3.so
    cd .. && PYTHONPATH=/tmp/native-suricata .venv/bin/python native/tests/check_suricata_parity.py

`--bench` also times `feed` against the reference's `parse` (CPU time per event, with the calibration
figure). Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import egovops_native  # type: ignore[import-untyped]  # noqa: E402

from benchmarks.calibration import calibrate  # noqa: E402
from benchmarks.eve_corpus import write_eve  # noqa: E402
from secops.events import Doc, Frame, Rejected, decode  # noqa: E402
from secops.ingest.pipeline import parse_frame  # noqa: E402
from secops.sources.base import Framer, SourceOptions  # noqa: E402
from secops.sources.suricata import SuricataEve  # noqa: E402

CORPORA = Path("/work/shared/corpora")
FIXTURES = ROOT / "tests" / "data" / "suricata" / "eve.json"
PREFIX = "0123456789abcdef"
LABEL = "input.eve.json"
OBSERVER = "sensor-1"
DATASET = "suricata.eve"
ZONES = ("Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC")
BLOCK_LINES = 97
"""Lines per `feed` call: blocks start at arbitrary offsets, as a reader's blocks do."""

Event = tuple[str, str, str, Any, str | None]
Letter = tuple[int, str, bytes]


# --- the two sides --------------------------------------------------------------------------------------


def stamp(doc: Doc, position: int, index: int, raw: bytes) -> Event:
    """`Stamper.event` with the id scheme of the native contract."""
    ident = f"{PREFIX}{position:012x}{index:04x}"
    meta = doc.get("event")
    if not isinstance(meta, dict):
        meta = doc["event"] = {}
    meta["id"] = ident
    dataset = meta.setdefault("dataset", DATASET)
    if "original" not in meta:
        meta["original"] = decode(raw)
    log = doc.get("log")
    if isinstance(log, dict):
        log["file"] = {"path": LABEL}
        log["offset"] = position
    else:
        doc["log"] = {"file": {"path": LABEL}, "offset": position}
    observer = doc.get("observer")
    if not isinstance(observer, dict):
        doc["observer"] = {"hostname": OBSERVER}
    elif "hostname" not in observer:
        observer["hostname"] = OBSERVER
    timestamp = doc.get("@timestamp")
    if not isinstance(timestamp, str):
        raise Rejected("parser produced no @timestamp")
    message = doc.get("message")
    return ident, timestamp, dataset, doc, message if isinstance(message, str) and message else None


def reference(data: bytes, zone: str) -> tuple[list[Event], list[Letter]]:
    source = SuricataEve(SourceOptions(timezone=zone))
    events: list[Event] = []
    letters: list[Letter] = []
    for frame in Framer().feed(0, data):
        try:
            docs = parse_frame(source, frame)
            events += [stamp(doc, frame.offset, i, frame.raw) for i, doc in enumerate(docs)]
        except Rejected as exc:
            letters.append((frame.offset, str(exc) or "rejected", frame.raw))
    return events, letters


def native(data: bytes, zone: str) -> tuple[list[Event], list[Letter]]:
    parser = egovops_native.SuricataParser(
        id_prefix=PREFIX, label=LABEL, observer=OBSERVER, keep_original=True, dataset=DATASET, timezone=zone
    )
    events: list[Event] = []
    letters: list[Letter] = []
    lines = [line + b"\n" for line in data.split(b"\n")[:-1]]
    offset = 0
    for start in range(0, len(lines), BLOCK_LINES):
        block = b"".join(lines[start : start + BLOCK_LINES])
        found, rejected = parser.feed(offset, block)
        events += [(i, ts, ds, json.loads(doc), msg) for i, ts, ds, doc, msg in found]
        letters += rejected
        offset += len(block)
    done, rejected = parser.finish()
    assert not done and not rejected and parser.pending_offset() is None
    return events, letters


# --- comparison -----------------------------------------------------------------------------------------


def differences(expected: Any, got: Any, path: str = "") -> Iterator[str]:
    """Field paths where two JSON values differ."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in expected.keys() | got.keys():
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                yield f"{where}: missing (expected {expected[key]!r:.80})"
            elif key not in expected:
                yield f"{where}: unexpected {got[key]!r:.80}"
            else:
                yield from differences(expected[key], got[key], where)
    elif type(expected) is not type(got) or expected != got:
        yield f"{path}: expected {expected!r:.100}, got {got!r:.100}"


@dataclass
class Tally:
    verbose: bool = False
    inputs: int = 0
    records: int = 0
    equal: int = 0
    different: int = 0
    examples: list[str] = field(default_factory=list)

    def compare(self, name: str, data: bytes, zone: str = "Asia/Shanghai") -> None:
        self.inputs += 1
        want_events, want_letters = reference(data, zone)
        got_events, got_letters = native(data, zone)
        if self.verbose:
            print(f"  {name} [{zone}]: {len(want_events)} events, {len(want_letters)} dead letters")
        want = {e[0]: e for e in want_events} | {f"dead@{o}": (o, r, b) for o, r, b in want_letters}
        got = {e[0]: e for e in got_events} | {f"dead@{o}": (o, r, b) for o, r, b in got_letters}
        for key in sorted(want.keys() | got.keys()):
            self.records += 1
            found = list(self.describe(want.get(key), got.get(key)))
            if not found:
                self.equal += 1
                continue
            self.different += 1
            if len(self.examples) < 12:
                position = int(key.split("@")[1]) if key.startswith("dead@") else int(key[16:28], 16)
                line = data[position:].split(b"\n", 1)[0]
                self.examples.append(
                    f"{name} [{zone}] @{position}: {line[:300]!r}\n    " + "\n    ".join(found[:6])
                )

    @staticmethod
    def describe(want: Any, got: Any) -> Iterator[str]:
        if want is None or got is None:
            yield f"only {'native' if want is None else 'reference'}: {str(want or got)[:300]}"
            return
        if len(want) == 3:  # dead letters: (offset, reason, raw)
            if len(got) != 3:
                yield f"reference rejects ({want[1]}), native accepts"
            else:
                if want[1] != got[1]:
                    yield f"reason: expected {want[1]!r}, got {got[1]!r}"
                if want[2] != got[2]:
                    yield "raw bytes differ"
            return
        if len(got) != 5:
            yield f"reference accepts, native rejects ({got[1]})"
            return
        for name, a, b in zip(("id", "timestamp", "dataset"), want[:3], got[:3], strict=True):
            if a != b:
                yield f"{name}: expected {a!r}, got {b!r}"
        if want[4] != got[4]:
            yield f"message: expected {want[4]!r}, got {got[4]!r}"
        yield from differences(want[3], got[3])


# --- inputs ---------------------------------------------------------------------------------------------


def corpus_files() -> Iterator[Path]:
    """Every file under the shared corpora whose first non-blank line is an EVE record."""
    for path in sorted(CORPORA.rglob("*")):
        if (
            not path.is_file()
            or path.suffix in {".pcap", ".pcapng", ".gz"}
            or path.stat().st_size > 200_000_000
        ):
            continue
        with path.open("rb") as handle:
            head = handle.read(4096)
        if b'"event_type"' in head and SuricataEve.sniff(head):
            yield path


def lines_of(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if line.strip()]


def inline_cases() -> bytes:
    """The records `tests/sources/test_suricata.py` builds inline, one per line."""
    fixture = FIXTURES.read_bytes().splitlines()
    cases = [
        b'{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":"alert"',
        b"not json at all",
        b'[{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":"dns"}]',
        b'"just a string"',
        b'{"event_type":"dns","dns":{}}',
        b'{"timestamp":1709604942,"event_type":"dns"}',
        b'{"timestamp":"yesterday","event_type":"dns"}',
        b'{"timestamp":"2024-02-30T10:15:42.123456+0800","event_type":"dns"}',
        b'{"timestamp":"2024-03-05T10:15:42.123456+0800","dns":{}}',
        b'{"timestamp":"2024-03-05T10:15:42.123456+0800","event_type":7}',
        b"\xef\xbb\xbf" + fixture[6],
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbf" + fixture[0][:50],
    ]
    record = orjson.loads(fixture[0])
    record["alert"]["signature"] = "疑似 WebShell 上传 (政务外网)"
    record["http"]["hostname"] = "门户.汕尾.政务.cn"
    cases.append(orjson.dumps(record).decode().encode("gbk"))
    record = orjson.loads(fixture[5])
    record["http"]["url"] = "/搜索?q=政务"
    cases.append(orjson.dumps(record) + b"\r")
    record = orjson.loads(fixture[5])
    record.update(src_port="61000", dest_ip="not-an-ip")
    record["http"]["status"] = "200"
    cases.append(orjson.dumps(record))
    stamps = [
        "2024-03-05T10:23:01.000100",
        "2024-03-05T10:23:01.000100+0800",
        "2024-03-05T10:23:59.999999+0000",
        "2024-03-05T10:23:30.500000-0530",
        "2024-03-05T10:23:02.000000+0800",
        "2024-03-05T10:23:60.000000+0800",
    ]
    for _ in range(2):
        for stamp_text in stamps:
            for address in ("2001:0db8:0000:0000:0000:0000:0000:0001", "not-an-ip"):
                record = orjson.loads(fixture[6])
                record["timestamp"], record["dest_ip"] = stamp_text, address
                cases.append(orjson.dumps(record))
    return b"\n".join(cases) + b"\n"


# --- mutations ------------------------------------------------------------------------------------------

WORDS = [
    "",
    "a",
    "TCP",
    "Http",
    "FTP-DATA",
    "failed",
    "STATS",
    "Alert",
    "ΣΑΣ",
    "İx",
    "政务",
    "é",
    "\x00",
    "\t",
    "\x7f",
    "\u200b",
    "\U0001f600",
    "'",
    '"',
    "\\",
    "a'b\"c",
    "x" * 80,
    ".",
    "-",
    "2001:DB8::1",
    "::ffff:1.2.3.4",
    "10.0.0.1",
    "010.0.0.1",
    "1.2.3.4.5",
    "fe80::1%eth0",
    "HTTP/1.1",
    "HTTP/",
    "TLS 1.3",
    "SSLv3",
    "TLSv1",
    "TLS ",
    "c2.bad.example.",
    "a@b",
    "<a@b>",
    '"N, a" <a@b>, c@d',
    "a@[1.2.3.4]",
    "(x <a@b>",
    "query",
    "answer",
    "response",
    "request",
    "new",
    "closed",
    "aa:bb:cc",
    "ß:ü",
]


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(WORDS)
    alphabet = "ab:./-_ 0123456789TZ+\t中\u00a0\u0085\U0001f600\x1c\"'\\"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.12:
        return None
    if roll < 0.2:
        return rng.choice((True, False))
    if roll < 0.4:
        return rng.choice(
            (
                0,
                -1,
                1,
                80,
                65535,
                65536,
                399,
                400,
                2**63 - 1,
                -(2**63),
                2**64 - 1,
                2**64,
                -(2**63) - 1,
                10**30,
                rng.randrange(-(10**6), 10**6),
            )
        )
    if roll < 0.5:
        return rng.choice((0.0, -0.0, 1.5, 1e16, 1e-5, 123.456, 1e300, rng.uniform(-1e6, 1e6)))
    if roll < 0.8 or depth > 2:
        return random_text(rng)
    if roll < 0.9:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutated_values(records: list[Any], rng: random.Random, count: int) -> bytes:
    """Real records with fields replaced by any JSON value (the hypothesis test's mutations)."""
    out = []
    for _ in range(count):
        record = json.loads(json.dumps(rng.choice(records)))
        for _ in range(rng.randrange(1, 4)):
            where = paths(record)
            if not where:
                break
            path = rng.choice(where)
            node = record
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = random_value(rng)
        out.append(json.dumps(record, ensure_ascii=rng.random() < 0.5, separators=(",", ":")).encode())
    return b"\n".join(out) + b"\n"


def corrupted_bytes(lines: list[bytes], rng: random.Random, count: int) -> bytes:
    """Real lines truncated, cut, spliced with odd bytes (invalid UTF-8, GBK, escapes, controls)."""
    pieces = [
        b"\\",
        b'"',
        b"\\u",
        b"\\ud800",
        b"\\udc00",
        b"\xff",
        b"\x80",
        b"\xd5\xfe",
        b"\xa1\x40",
        b"\xe4\xb8",
        b"\x00",
        b"\x01",
        b"\r",
        b",",
        b"}",
        b"]",
        b"{",
        b"[",
        b" ",
        b"-",
        b".",
        b"e",
        b"0",
        b"01",
        b"tru",
        b"nul",
        b"1e999",
        b"\xef\xbb\xbf",
        "政".encode("gbk"),
        "政".encode(),
        b"\x81\x30\x81\x30",
    ]
    out = []
    for _ in range(count):
        line = rng.choice(lines)
        for _ in range(rng.randrange(1, 3)):
            at = rng.randrange(len(line) + 1)
            roll = rng.random()
            if roll < 0.3:
                line = line[:at]
            elif roll < 0.5:
                line = line[:at] + line[at + rng.randrange(1, 8) :]
            else:
                line = line[:at] + rng.choice(pieces) + line[at:]
        out.append(line.replace(b"\n", b" "))
    return b"\n".join(out) + b"\n"


def random_timestamp(rng: random.Random) -> str:
    """ISO 8601 and near misses: every layout fromisoformat knows, bad fields, odd zones."""
    if rng.random() < 0.05:
        return random_text(rng)
    year = rng.choice(
        (1, 2, 999, 1000, 1900, 1969, 1970, 2000, 2024, 2038, 2090, 9999, 0, rng.randrange(1, 10000))
    )
    month, day = rng.choice((1, 2, 3, 6, 10, 11, 12, 0, 13)), rng.choice((1, 5, 10, 28, 29, 30, 31, 0, 32))
    hour, minute, second = (
        rng.randrange(26),
        rng.choice((0, 1, 30, 59, 60)),
        rng.choice((0, 1, 30, 59, 60, 61)),
    )
    if rng.random() < 0.5:
        month, day, hour, minute, second = (
            rng.randrange(1, 13),
            rng.randrange(1, 29),
            rng.randrange(24),
            rng.randrange(60),
            rng.randrange(60),
        )
    date = rng.choice(
        (
            f"{year:04d}-{month:02d}-{day:02d}",
            f"{year:04d}{month:02d}{day:02d}",
            f"{year:04d}-W{rng.randrange(0, 54):02d}-{rng.randrange(0, 9)}",
            f"{year:04d}-W{day:02d}",
            f"{year:04d}W{day:02d}{rng.randrange(1, 8)}",
            f"{year}-{month}-{day}",
        )
    )
    if rng.random() < 0.08:
        return date
    separator = rng.choice(("T", "T", "T", " ", "t", "x", "中", "-", "1"))
    fraction = rng.choice(
        (
            "",
            "",
            ".000000",
            f".{rng.randrange(10**6):06d}",
            f",{rng.randrange(1000):03d}",
            f".{rng.randrange(10**9):09d}",
            ".",
            ".12a",
        )
    )
    clock = rng.choice(
        (
            f"{hour:02d}:{minute:02d}:{second:02d}",
            f"{hour:02d}{minute:02d}{second:02d}",
            f"{hour:02d}:{minute:02d}",
            f"{hour:02d}",
            f"{hour:02d}:{minute:02d}{second:02d}",
        )
    )
    zone = rng.choice(
        (
            "",
            "",
            "",
            "Z",
            "+0800",
            "+08:00",
            "-0500",
            "-05:30",
            "+0000",
            "-00:00",
            "+08",
            "+0845",
            "+14:00",
            "-23:59",
            "+2400",
            "-2500",
            "+08:00:30",
            "+08:00:00.5",
            "-00:00:01.5",
            "+0800Z",
            "Z+08",
            "+8",
            "+08:0",
            "+08,5",
            f"{rng.choice('+-')}{rng.randrange(24):02d}{rng.randrange(60):02d}",
        )
    )
    return f"{date}{separator}{clock}{fraction}{zone}"


def odd_times(lines: list[bytes], rng: random.Random, count: int) -> bytes:
    """Records whose timestamp, flow start/end and certificate dates are random ISO 8601 texts."""
    records = [orjson.loads(line) for line in lines]
    flows = [r for r in records if isinstance(r.get("flow"), dict)] or records
    tls = [r for r in records if isinstance(r.get("tls"), dict)] or records
    out = []
    for n in range(count):
        pool = (records, flows, tls)[n % 3]
        record = json.loads(json.dumps(rng.choice(pool)))
        record["timestamp"] = random_timestamp(rng)
        if isinstance(record.get("flow"), dict):
            record["flow"]["start"] = random_timestamp(rng) if rng.random() < 0.7 else record["timestamp"]
            record["flow"]["end"] = random_timestamp(rng) if rng.random() < 0.7 else record["timestamp"]
        if isinstance(record.get("tls"), dict):
            record["tls"]["notbefore"] = random_timestamp(rng)
            record["tls"]["notafter"] = random_timestamp(rng)
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
    return b"\n".join(out) + b"\n"


def dst_edges(lines: list[bytes], rng: random.Random) -> bytes:
    """Naive times around daylight-saving changes and zone history, minute by minute."""
    record = orjson.loads(lines[2])
    out = []
    for day in (
        "2024-03-10",
        "2024-11-03",
        "2024-03-31",
        "2024-10-27",
        "2024-04-07",
        "2024-10-06",
        "1901-01-01",
        "1900-12-31",
        "1986-05-04",
        "1991-09-15",
        "2037-11-01",
        "2099-03-08",
        "0001-01-01",
        "9999-12-31",
    ):
        for minute in range(0, 24 * 60, 7):
            stamp_text = f"{day}T{minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}"
            record["timestamp"] = stamp_text + rng.choice(("", f".{rng.randrange(10**6):06d}"))
            record["flow"]["start"] = record["timestamp"]
            record["flow"]["end"] = f"{day}T{(minute + 90) // 60 % 24:02d}:{minute % 60:02d}:00"
            out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def odd_addresses(lines: list[bytes], rng: random.Random, count: int) -> bytes:
    """Records with random IPv4/IPv6 texts: every form inet_pton takes and many it refuses."""
    record = orjson.loads(lines[0])
    out = []
    for _ in range(count):
        groups = [
            f"{rng.randrange(0, 0x10000 if rng.random() < 0.5 else 3):0{rng.randrange(1, 5)}x}"
            for _ in range(rng.randrange(1, 9))
        ]
        if rng.random() < 0.5:
            at = rng.randrange(len(groups) + 1)
            groups[at:at] = [""] * rng.choice((1, 1, 2))
        text = ":".join(groups)
        if rng.random() < 0.2:
            text += ":" + ".".join(
                str(rng.choice((0, 1, 255, 256, 10, "01"))) for _ in range(rng.choice((3, 4, 4)))
            )
        if rng.random() < 0.2:
            text = ".".join(
                str(rng.choice((0, 1, 9, 255, 256, "00", "01", "1a"))) for _ in range(rng.choice((3, 4, 5)))
            )
        record["src_ip"] = text.upper() if rng.random() < 0.2 else text
        record["dest_ip"] = rng.choice((text, "10.20.30.40", "::1"))
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def json_soup(rng: random.Random, count: int) -> bytes:
    """Short runs of JSON tokens and near misses: every kind of syntax error orjson reports."""
    atoms = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"',
        '"a"',
        '"timestamp"',
        "1",
        "-",
        "0",
        ".",
        "e",
        "E",
        "+",
        "true",
        "tru",
        "null",
        "nul",
        "false",
        " ",
        "\t",
        "\r",
        "\\",
        "\\u",
        "d800",
        "dc00",
        "00",
        "\\ud800",
        "\\udc00",
        "x",
        "政",
        "\x00",
        "\x1f",
        "\x7f",
        "1e400",
        "0x",
        '"\\',
        '""',
    ]
    lines = ["".join(rng.choice(atoms) for _ in range(rng.randrange(1, 12))) for _ in range(count)]
    return "\n".join(lines).encode() + b"\n"


def iso_soup(rng: random.Random, count: int) -> bytes:
    """Timestamps of random ISO-ish characters, and real ones with characters changed, cut or added."""
    alphabet = "0123456789" * 3 + "-:T W.,+Z-zt中\x00"
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(5, 36)))
        else:
            chars = list("2024-03-05T10:15:42.123456+08:00")
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(chars))
                roll = rng.random()
                if roll < 0.4:
                    chars[at] = rng.choice(alphabet)
                elif roll < 0.7:
                    del chars[at]
                else:
                    chars.insert(at, rng.choice(alphabet))
            text = "".join(chars)
        out.append(
            orjson.dumps({"timestamp": text, "event_type": "dns", "dns": {"type": "query", "rrname": "x"}})
        )
    return b"\n".join(out) + b"\n"


def address_soup(rng: random.Random, count: int) -> bytes:
    """SMTP records whose addresses are random runs of RFC 2822 specials (getaddresses' corners)."""
    alphabet = 'ab@.<>(),:;"[]\\ \t\r' + "xy"
    out = []
    for _ in range(count):
        values = [
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(20)))
            for _ in range(rng.randrange(1, 3))
        ]
        value: Any = values if rng.random() < 0.5 else values[0]
        record = {
            "timestamp": "2024-03-05T10:15:42.123456+0800",
            "event_type": "smtp",
            "smtp": {"mail_from": value, "rcpt_to": values},
            "email": {"from": value, "to": values, "cc": value},
        }
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def naive_times(rng: random.Random, count: int) -> bytes:
    """Flow records with times without a zone over the whole datetime range."""
    out = []
    for _ in range(count):
        year = rng.choice((rng.randrange(1, 10000), rng.randrange(1850, 2110), rng.randrange(2030, 2400)))
        day = f"{year:04d}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        start = f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        end = f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        stamp_text = start + (f".{rng.randrange(10**6):06d}" if rng.random() < 0.5 else "")
        out.append(
            orjson.dumps(
                {"timestamp": stamp_text, "event_type": "flow", "flow": {"start": start, "end": end}}
            )
        )
    return b"\n".join(out) + b"\n"


# --- direct normalise -----------------------------------------------------------------------------------


def check_normalise(tally: Tally, data: bytes) -> None:
    """`suricata_normalise(raw)` against `SuricataEve().parse(Frame(0, raw))`, line by line."""
    source = SuricataEve()
    for raw in lines_of(data):
        tally.records += 1
        try:
            want: Any = [json.loads(json.dumps(doc)) for doc in parse_frame(source, Frame(0, raw))]
        except Rejected as exc:
            want = str(exc)
        try:
            got: Any = [json.loads(doc) for doc in egovops_native.suricata_normalise(raw)]
        except ValueError as exc:
            got = str(exc)
        if want == got:
            tally.equal += 1
        else:
            tally.different += 1
            if len(tally.examples) < 12:
                tally.examples.append(
                    f"normalise {raw[:200]!r}: expected {str(want)[:200]}, got {str(got)[:200]}"
                )


# --- speed ----------------------------------------------------------------------------------------------


def bench(events: int) -> None:
    """CPU time per event of `feed` (with and without `event.original`) and of the reference's `parse`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eve.json"
        write_eve(path, events)
        data = path.read_bytes()
    lines = data.splitlines()
    blocks: list[tuple[int, bytes]] = []
    offset = 0
    for start in range(0, len(lines), 4096):
        block = b"\n".join(lines[start : start + 4096]) + b"\n"
        blocks.append((offset, block))
        offset += len(block)
    figures = []
    for keep_original in (False, True):
        parser = egovops_native.SuricataParser(
            id_prefix=PREFIX, label=LABEL, observer=OBSERVER, keep_original=keep_original, dataset=DATASET
        )
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            produced = 0
            for at, block in blocks:
                found, _ = parser.feed(at, block)
                produced += len(found)
            best = min(best, time.process_time() - started)
        assert produced == len(lines)
        figures.append(best / len(lines) * 1e6)
    source = SuricataEve()
    sample = lines[: min(len(lines), 50_000)]
    started = time.process_time()
    for raw in sample:
        source.parse(Frame(0, raw))
    python_us = (time.process_time() - started) / len(sample) * 1e6
    print(
        f"speed ({len(lines)} benchmark events, CPU time per event): native feed {figures[0]:.2f} µs "
        f"({1e6 / figures[0]:,.0f} events/s), with event.original {figures[1]:.2f} µs; "
        f"Python SuricataEve.parse {python_us:.2f} µs ({python_us / figures[0]:.1f}x); "
        f"calibration {calibrate():.3f} s"
    )


# --- main -----------------------------------------------------------------------------------------------


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--bench", action="store_true", help="also time feed against the reference")
    options.add_argument("--bench-only", action="store_true", help="time feed, skip the comparison")
    options.add_argument("--bench-events", type=int, default=200_000)
    options.add_argument("--eve-dir", type=Path, help="a folder of EVE logs (e.g. from a real Suricata)")
    options.add_argument("--mutations", type=int, default=3000, help="records per kind of mutation")
    options.add_argument("--seed", type=int, default=20240305)
    options.add_argument("--all-zones", action="store_true", help="also naive times in every IANA zone")
    options.add_argument("--verbose", action="store_true", help="a line per input")
    args = options.parse_args()
    if args.bench_only:
        bench(args.bench_events)
        return 0
    rng = random.Random(args.seed)
    tally = Tally(verbose=args.verbose)

    fixture_lines = lines_of(FIXTURES.read_bytes())
    inputs: list[tuple[str, bytes, tuple[str, ...]]] = [
        ("tests/data/suricata/eve.json", FIXTURES.read_bytes(), ZONES),
        ("test_suricata.py inline cases", inline_cases(), ZONES[:2]),
    ]
    real_lines = list(fixture_lines)
    for path in corpus_files():
        data = path.read_bytes()
        inputs.append((str(path.relative_to(CORPORA)), data, ZONES[:1]))
        real_lines += lines_of(data)
    if args.eve_dir:
        for path in sorted(args.eve_dir.rglob("*.json")):
            data = path.read_bytes()
            inputs.append((str(path), data, ZONES[:1]))
            real_lines += lines_of(data)[:200]
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "eve.json"
        write_eve(corpus, 20_000)
        inputs.append(("benchmarks/eve_corpus.py write_eve(20000)", corpus.read_bytes(), ZONES[:1]))
    records = [orjson.loads(line) for line in real_lines if line.startswith(b"{")]
    n = args.mutations
    generators: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = [
        ("mutated values", lambda: mutated_values(records, rng, n), ZONES[:1]),
        ("corrupted bytes", lambda: corrupted_bytes(real_lines, rng, n), ZONES[:1]),
        ("odd times", lambda: odd_times(fixture_lines, rng, n), ZONES),
        ("zone edges", lambda: dst_edges(fixture_lines, rng), ZONES),
        ("odd addresses", lambda: odd_addresses(fixture_lines, rng, n), ZONES[:1]),
        ("json soup", lambda: json_soup(rng, n), ZONES[:1]),
        ("iso soup", lambda: iso_soup(rng, n), ZONES[:1]),
        ("address soup", lambda: address_soup(rng, n), ZONES[:1]),
    ]
    if args.all_zones:
        generators += [
            (f"naive times in {zone}", lambda: naive_times(rng, 100), (zone,))
            for zone in sorted(zoneinfo.available_timezones())
        ]
    for name, make, zones in generators:
        inputs.append((name, make(), zones))

    for name, data, zones in inputs:
        for zone in zones:
            tally.compare(name, data, zone)
    check_normalise(tally, inline_cases() + FIXTURES.read_bytes())

    print(
        f"inputs {tally.inputs}, records compared {tally.records}, equal {tally.equal}, "
        f"different {tally.different}"
    )
    for example in tally.examples:
        print("DIFF", example)
    if args.bench:
        bench(args.bench_events)
    return 1 if tally.different else 0


if __name__ == "__main__":
    sys.exit(main())
