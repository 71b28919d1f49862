"""The auditd source's fast paths against the slow definitions they replace.

The source reads most records without auparse's regex, splits framed blocks itself, formats timestamps
per second, decodes hex without a regex and reads its normalisations on first use. Each shortcut must give
what the straightforward code gives, on any input: these tests compare them on generated text built from
the characters and words that make key=value parsing hard (quotes, escapes, `msg='...'`, odd whitespace).
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from secops.events import Frame, format_ts
from secops.sources.auditd import AuditdLog, AuditFramer, records
from secops.sources.auditd import coalesce as coalesce_module

# auparse's pattern and loop, as the source first had them: the definition of what a record's body means.
_AUPARSE_KV = re.compile(r"""([a-z0-9_-]+)=([^"'\s]+|'(?:\\'|[^'])*'|"(?:\\"|[^"])*")""")


def reference_extract(body: str) -> tuple[dict[str, str], set[str]]:
    data: dict[str, str] = {}
    quoted: set[str] = set()
    for key, orig in _AUPARSE_KV.findall(body):
        value = orig.strip("'\" ")
        if value in ("", "?", "?,", "(null)"):
            continue
        if key == "msg":
            inner, inner_quoted = reference_extract(value)
            data.update(inner)
            quoted.update(inner_quoted)
            continue
        data[key] = value
        if orig[0] in "\"'":
            quoted.add(key)
        else:
            quoted.discard(key)
    return data, quoted


KEYS = st.sampled_from(["a", "uid", "key", "msg", "exe", "comm", "ab-c", "x_1", "A", "", "k.k", "ses"])
VALUES = st.sampled_from([
    "1", "?", "?,", "(null)", '""', '"?"', '"x"', '"a b"', "'y'", "'a b'", '"', "'", "a=b", '"a"b', 'b"c',
    "'x=1 y=\"2\"'", "'op=a acct=\"r\" res=ok'", "\\", "'\\''", '" x "', "''", "=", '"a=b"', "中", "2F62",
])
PAIRS = st.builds(lambda k, v: f"{k}={v}", KEYS, VALUES)
WORDS = st.one_of(
    PAIRS,
    VALUES,
    st.sampled_from(["user", "PAM:", "foo.bar=1", "=abc", "k=", "Xa=1", "msg='", "msg='op=x", "a=1xmsg='b"]),
    st.builds(lambda ws: "msg='" + " ".join(ws) + "'", st.lists(PAIRS, max_size=3)),
)
SPACES = st.sampled_from([" ", "  ", "\t", "", "\x1c", "\xa0"])
BODIES = st.lists(st.tuples(WORDS, SPACES), max_size=8).map(lambda ws: "".join(w + s for w, s in ws))


@settings(max_examples=1500, deadline=None)
@given(BODIES)
@example(""" pid=1 uid=0 msg='op=PAM:session_open acct="root" exe="/usr/sbin/cron" res=success""")
@example(""" user pid=2 msg='PAM: accounting acct=root : exe="/usr/sbin/crond" res=success'""")
@example(""" a="x" a=? b=1 b="y" msg='a=2' a=3""")
def test_fast_extraction_reads_what_auparse_reads(body: str) -> None:
    data, quoted = records._extract(body)
    want_data, want_quoted = reference_extract(body)
    assert list(data.items()) == list(want_data.items())
    assert quoted == want_quoted


@given(st.text(alphabet="0123456789ABCDEFabcG \u0660", max_size=9))
def test_hex_test_is_the_regex(value: str) -> None:
    assert records._is_hex(value) == bool(re.fullmatch(r"(?:[0-9A-F]{2})+", value))


LINES = st.lists(st.one_of(
    st.builds(lambda t, s, n: f"{n}type={t} msg=audit(1700000000.{s % 1000:03d}:{s}): pid=1".encode(),
              st.sampled_from(["SYSCALL", "PATH", "EOE", "PROCTITLE", "USER_LOGIN", "AVC", "CWD"]),
              st.integers(0, 5), st.sampled_from(["", "node=h1 "])),
    st.builds(lambda s: f"type=PATH msg=audit({1700000000 + s}.000:{s}): item=0".encode(), st.integers(0, 9)),
    st.sampled_from([b"", b"\r", b"garbage", b"type=SYSCALL msg=audit(1.0:1):\r"]),
), max_size=25)


@settings(max_examples=500, deadline=None)
@given(LINES, st.integers(1, 4))
def test_feeding_a_block_frames_as_pushing_its_lines(lines: list[bytes], window: int) -> None:
    pushed, fed = AuditFramer(window=window, max_age=1), AuditFramer(window=window, max_age=1)
    want: list[Frame] = []
    offset = 100
    for line in lines:
        want += pushed.push(offset, line[:-1] if line.endswith(b"\r") else line)
        offset += len(line) + 1
    got = fed.feed(100, b"".join(line + b"\n" for line in lines))
    assert got == want
    assert fed.pending_offset() == pushed.pending_offset()
    assert fed.finish() == pushed.finish()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 253402300799), st.integers(0, 999))
def test_timestamp_per_second_cache_is_format_ts(seconds: int, millis: int) -> None:
    line = f"type=USER_LOGIN msg=audit({seconds}.{millis:03d}:1): pid=1 res=success".encode()
    [doc] = AuditdLog().parse(Frame(0, line))
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, milliseconds=millis)
    assert doc["@timestamp"] == format_ts(moment)


def test_forged_argument_count_does_not_loop() -> None:
    """EXECVE `argc` is read from the log: a huge one must not walk billions of absent arguments."""
    record = records.parse_record('type=EXECVE msg=audit(1.0:1): argc=4294967295 a0="ls" a1=414243 a7=4445')
    assert record.data == {"argc": "4294967295", "a0": "ls", "a1": "ABC", "a7": "DE"}


def test_normalizations_load_on_first_use_and_match_the_yaml() -> None:
    """Importing the source (auto-detection imports every source) reads no YAML; the C loader reads it
    as the pure-Python one does."""
    probe = ("import sys, secops.sources.auditd; from secops.sources.auditd.coalesce import normalizations; "
             "print(normalizations.cache_info().currsize, 'yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False"]
    text = Path(coalesce_module.__file__).with_name("normalizations.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert yaml.load(text, Loader=loader) == yaml.safe_load(text)
