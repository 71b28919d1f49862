"""The auth-log source against CrowdSec's hub tests (third-party ground truth) and our own fixture lines.

CrowdSec's `parser.assert` says, per log line, which fields its sshd/PAM parsers extract; its
`scenario.assert` lists the events that fed each detection. Their vocabulary is mapped to ours here
(`CROWDSEC_FIELDS`, `LOG_TYPES`) and every line is checked on its own, so a failure names the file and
line. The hub datasets are found by their config (any that parses or detects ssh/PAM), not by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from secops.events import Doc, Frame, Rejected, format_ts, get, parse_iso
from secops.sources import source_class
from secops.sources.auth import AuthLog
from secops.sources.base import SourceOptions
from secops.sources.syslog import MONTHS
from tests.components import CORPORA, corpus

DATA = Path(__file__).resolve().parents[1] / "data" / "auth"
HUB_TESTS = ("crowdsec-hub", ".tests")
# CrowdSec reads syslog times as UTC; only month, day and time are compared (the year is the run's).
CROWDSEC_OPTIONS = SourceOptions(timezone="UTC")
FIXTURE_OPTIONS = SourceOptions(timezone="Asia/Shanghai", year=2026)


def parse_line(line: bytes | str, options: SourceOptions = FIXTURE_OPTIONS) -> Doc:
    raw = line.encode() if isinstance(line, str) else line
    docs = AuthLog(options).parse(Frame(0, raw))
    assert len(docs) == 1
    return docs[0]


# --- CrowdSec hub ground truth -----------------------------------------------------------------------


@dataclass
class Expected:
    """What CrowdSec says about one log line (or one event behind a detection)."""

    where: str
    parsed: bool = True
    fields: dict[str, str] = field(default_factory=dict)


_LINE_ASSERT = re.compile(
    r'^results\["(?P<stage>s\d\d-[\w-]+)"\]\["[^"]+"\]\[(?P<index>\d+)\]\.'
    r'(?:Success == (?P<success>true|false)'
    r'|Evt\.(?:Parsed|Meta|Enriched)\["(?P<key>\w+)"\](?:\[4:\])? == "(?P<value>.*)")$'
)
_EVENT_ASSERT = re.compile(
    r'^results\[(?P<result>\d+)\]\.Overflow\.Alert\.Events\[(?P<index>\d+)\]\.GetMeta\("(?P<key>\w+)"\)'
    r'(?:\[4:\])? == "(?P<value>.*)"$'
)


def _go_string(text: str) -> str:
    value: str = json.loads(f'"{text}"')
    return value


def _hub_datasets() -> list[Path]:
    """Hub tests whose parsers or scenarios are about ssh or PAM (read at collection time)."""
    root = CORPORA.joinpath(*HUB_TESTS)
    if not root.is_dir():
        return []
    found = []
    for config in sorted(root.glob("*/config.yaml")):
        text = config.read_text(encoding="utf-8").lower()
        if re.search(r"\b(sshd?|pam)[-_/]", text):
            found.append(config.parent)
    return found


def _log_path(dataset: Path) -> Path:
    config = yaml.safe_load((dataset / "config.yaml").read_text(encoding="utf-8"))
    return dataset / str(config["log_file"])


def _line_expectations(dataset: Path) -> list[Expected]:
    """Per log line: every stage's assertions merged (raw syslog fields, parsed fields, enriched time)."""
    lines: dict[int, Expected] = {}
    parse_stage_seen = False
    for text in (dataset / "parser.assert").read_text(encoding="utf-8").splitlines():
        match = _LINE_ASSERT.match(text.strip())
        if match is None:
            continue
        index = int(match["index"])
        expected = lines.setdefault(index, Expected(f"{dataset.name} line {index + 1}"))
        stage = match["stage"]
        if match["success"] is not None:
            if stage.startswith("s01"):
                parse_stage_seen = True
                expected.parsed = expected.parsed and match["success"] == "true"
            continue
        key = match["key"]
        expected.fields[key] = _go_string(match["value"])
    if not parse_stage_seen:
        return []
    return [lines[i] for i in sorted(lines)]


def _event_expectations(dataset: Path) -> list[Expected]:
    events: dict[tuple[int, int], Expected] = {}
    for text in (dataset / "scenario.assert").read_text(encoding="utf-8").splitlines():
        match = _EVENT_ASSERT.match(text.strip())
        if match is None:
            continue
        key = (int(match["result"]), int(match["index"]))
        where = f"{dataset.name} detection {key[0]} event {key[1]}"
        events.setdefault(key, Expected(where)).fields[match["key"]] = _go_string(match["value"])
    return [events[k] for k in sorted(events)]


def _hub_cases(kind: str) -> list[Any]:
    cases: list[Any] = []
    for dataset in _hub_datasets():
        if kind == "lines" and (dataset / "parser.assert").is_file():
            expected = _line_expectations(dataset)
        elif kind == "events" and (dataset / "scenario.assert").is_file():
            expected = _event_expectations(dataset)
        else:
            continue
        cases += [pytest.param(dataset, i, e, id=e.where) for i, e in enumerate(expected)]
    return cases or [pytest.param(None, 0, None, id="corpus-missing")]


def _same(actual: Any, wanted: str) -> bool:
    return actual is not None and str(actual) == wanted


def _time(doc: Doc, wanted: str) -> bool:
    """CrowdSec's `-MM-DDTHH:MM:SSZ` (year cut off) against our UTC `@timestamp`."""
    stamp = str(doc["@timestamp"])
    return f"{stamp[4:19]}Z" == wanted[-16:] and wanted.endswith("Z")


def _iso_time(doc: Doc, wanted: str) -> bool:
    moment = parse_iso(wanted)
    return (doc["@timestamp"], get(doc, "event.timezone")) == (format_ts(moment), wanted[-6:])


Check = Callable[[Doc, str], bool]


def _field(path: str) -> Check:
    return lambda doc, wanted: _same(get(doc, path), wanted)


def _either(*paths: str) -> Check:
    return lambda doc, wanted: any(_same(get(doc, p), wanted) for p in paths)


def _log_type(doc: Doc, wanted: str) -> bool:
    check = LOG_TYPES.get(wanted)
    return check is not None and bool(check(doc))


def _failed_authentication(doc: Doc) -> bool:
    return get(doc, "event.outcome") == "failure" and "authentication" in get(doc, "event.category", [])


def _outcome(doc: Doc) -> tuple[Any, Any]:
    return get(doc, "event.action"), get(doc, "event.outcome")


def _failed(action: str) -> Callable[[Doc], bool]:
    return lambda doc: _outcome(doc) == (action, "failure")


LOG_TYPES: dict[str, Callable[[Doc], bool]] = {
    "ssh_failed-auth": _failed_authentication,
    "auth_success": lambda doc: _outcome(doc) == ("ssh_login", "success"),
    "ssh_bad_keyexchange": _failed("ssh_negotiation_failed"),
    "ssh_auth_timeout": _failed("ssh_auth_timeout"),
    "ssh_dispatch_fatal": _failed("ssh_protocol_error"),
    "ssh_refused_conn": _failed("ssh_connection_refused"),
    "pam_failed_auth": lambda doc: _failed("authentication_failure")(doc) and _failed_authentication(doc),
    "pam_user_lock": _failed("user_locked"),
}
"""CrowdSec's `log_type` and what it means in our fields."""

CROWDSEC_FIELDS: dict[str, Check] = {
    "message": _field("message"),
    "program": _field("process.name"),
    "pid": _field("process.pid"),
    "machine": _field("host.hostname"),
    "log_type": _log_type,
    "service": lambda doc, wanted: (
        str(get(doc, "process.name", "")).startswith("sshd") if wanted == "ssh"
        else get(doc, "system.auth.pam.module") is not None if wanted == "pam" else False
    ),
    "source_ip": _field("source.ip"),
    "sshd_client_ip": _field("source.ip"),
    "sshd_client_port": _field("source.port"),
    "sshd_port": _field("source.port"),
    "sshd_invalid_user": _field("user.name"),
    "sshd_auth_user": _field("user.name"),
    "target_user": _field("user.name"),
    "user": _field("user.name"),
    "username": _field("user.name"),
    "sshd_trail": lambda doc, wanted: _same(get(doc, "system.auth.ssh.signature"), wanted.removeprefix(": ")),
    "pam_type": _field("system.auth.pam.module"),
    "uid": _either("system.auth.pam.uid", "user.id"),
    "euid": _field("system.auth.pam.euid"),
    "tty": _field("system.auth.pam.tty"),
    "logname": _field("system.auth.pam.logname"),
    "ruser": _field("system.auth.pam.ruser"),
    "MarshaledTime": _time,
    "timestamp8601": _iso_time,
}
"""CrowdSec field -> the check that our document says the same."""

IGNORED = {
    "logsource": "CrowdSec's acquisition label ('syslog'), not a property of the line",
    "datasource_path": "where CrowdSec read the file",
    "datasource_type": "where CrowdSec read the file",
    "sshd_protocol": "the protocol word 'ssh2' only; it stays in `message`",
}


def _timestamp_check(key: str, value: str) -> Check | None:
    """CrowdSec's `timestamp` is the raw header text in `Parsed` and a cut ISO time in `Meta`."""
    if key != "timestamp":
        return None
    return _time if value.endswith("Z") else lambda doc, wanted: True  # raw text: compared via MarshaledTime


def _disagreements(doc: Doc, expected: Expected) -> list[str]:
    problems = []
    for key, value in expected.fields.items():
        if key in IGNORED:
            continue
        check = _timestamp_check(key, value) or CROWDSEC_FIELDS.get(key)
        if check is None:
            problems.append(f"no mapping for CrowdSec field {key!r} (= {value!r})")
        elif not check(doc, value):
            problems.append(f"CrowdSec {key}={value!r}; ours: {_summary(doc)}")
    return problems


def _summary(doc: Doc) -> dict[str, Any]:
    keys = ("event.action", "event.outcome", "event.category", "user.name", "source.ip", "source.port",
            "@timestamp", "message")
    return {k: get(doc, k) for k in keys if get(doc, k) is not None}


@pytest.mark.parametrize(("dataset", "index", "expected"), _hub_cases("lines"))
def test_crowdsec_parser_lines_agree(dataset: Path | None, index: int, expected: Expected | None) -> None:
    if dataset is None or expected is None:
        corpus(*HUB_TESTS, "sshd-logs")
        pytest.fail("no ssh/PAM hub tests with parser.assert found in the corpus")
    lines = _log_path(dataset).read_bytes().splitlines()
    assert len(lines) == len(_line_expectations(dataset)), "parser.assert and the log disagree on line count"
    doc = parse_line(lines[index], CROWDSEC_OPTIONS)
    if not expected.parsed:
        # CrowdSec's parser refuses this line: we must not claim to have understood it either.
        assert get(doc, "event.action") is None and get(doc, "user.name") is None, _summary(doc)
    assert _disagreements(doc, expected) == []


@pytest.mark.parametrize(("dataset", "index", "expected"), _hub_cases("events"))
def test_crowdsec_detection_events_are_parsed_alike(
    dataset: Path | None, index: int, expected: Expected | None
) -> None:
    """Each event behind a CrowdSec detection is a line we classify the same way (type, peer, user, time)."""
    if dataset is None or expected is None:
        corpus(*HUB_TESTS, "ssh-slow-bf")
        pytest.fail("no ssh/PAM hub tests with scenario.assert found in the corpus")
    lines = _log_path(dataset).read_bytes().splitlines()
    docs = [parse_line(line, CROWDSEC_OPTIONS) for line in lines if line]
    verdicts = [_disagreements(doc, expected) for doc in docs]
    assert [] in verdicts, f"no line matches {expected.fields}; closest: {min(verdicts, key=len)}"


# --- our own fixture lines ---------------------------------------------------------------------------


def _cases(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("case", _cases("cases.yaml"), ids=lambda case: str(case["id"]))
def test_fixture_line(case: dict[str, Any]) -> None:
    doc = parse_line(case["line"])
    wrong = {path: get(doc, path) for path, value in case["expect"].items() if get(doc, path) != value}
    assert wrong == {}, f"expected {case['expect']}"
    present = [path for path in case.get("absent", []) if get(doc, path) is not None]
    assert present == []
    assert doc["event"]["kind"] == "event"
    assert "dataset" not in doc["event"] and "original" not in doc["event"], "the pipeline sets those"


@pytest.mark.parametrize("case", _cases("rejected.yaml"), ids=lambda case: str(case["reason"]))
def test_unreadable_header_is_rejected_with_reason(case: dict[str, Any]) -> None:
    with pytest.raises(Rejected, match=re.escape(case["reason"])):
        parse_line(case["line"])


def test_every_fixture_line_is_sniffed_as_auth() -> None:
    tagged = [c["line"] for c in _cases("cases.yaml") if c["id"] != "no-tag"]
    assert [line for line in tagged if not AuthLog.sniff(line.encode())] == []


@pytest.mark.parametrize(
    "head",
    [
        b'{"timestamp":"2026-11-22T10:01:02.000000+0800","event_type":"alert"}\n',
        b"type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes\n",
        b"--a1b2c3d4-A--\n[22/Nov/2026:10:01:02 +0800] XYZ 10.0.0.1 5000 10.0.0.2 80\n",
        b"Nov 22 10:01:02 web01\n",
        b"",
    ],
)
def test_sniff_refuses_other_formats(head: bytes) -> None:
    assert not AuthLog.sniff(head)


def test_sniff_skips_journalctl_banner() -> None:
    head = b"-- Logs begin at Mon 2026-11-16 08:00:00 CST. --\n2026-11-22T10:01:02+0800 web01 sshd[1]: x\n"
    assert AuthLog.sniff(head)


def test_registered_as_auth_format() -> None:
    assert source_class("auth") is AuthLog
    assert AuthLog.dataset == "system.auth"


# --- time: RFC 3164 has neither year nor zone ---------------------------------------------------------


def _bsd(moment: datetime) -> str:
    month = next(name for name, number in MONTHS.items() if number == moment.month)
    return f"{month} {moment.day:2d} {moment:%H:%M:%S} web01 sshd[1]: Invalid user x from 192.0.2.1"


def test_year_is_inferred_and_steps_back_for_future_dates() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime.now(zone).replace(microsecond=0)
    options = SourceOptions(timezone="Asia/Shanghai")
    past = now - timedelta(hours=1)
    assert parse_line(_bsd(past), options)["@timestamp"] == format_ts(past)
    future = now + timedelta(days=3)
    wanted = future.replace(year=future.year - 1) if not (future.month == 2 and future.day == 29) else None
    if wanted is not None:
        assert parse_line(_bsd(future), options)["@timestamp"] == format_ts(wanted)


def test_configured_year_and_iana_zone_with_daylight_saving() -> None:
    options = SourceOptions(timezone="Europe/Berlin", year=2020)
    summer = parse_line("Jul  1 12:00:00 h sshd[1]: x", options)
    winter = parse_line("Jan  1 12:00:00 h sshd[1]: x", options)
    assert (summer["@timestamp"], summer["event"]["timezone"]) == ("2020-07-01T10:00:00.000000Z", "+02:00")
    assert (winter["@timestamp"], winter["event"]["timezone"]) == ("2020-01-01T11:00:00.000000Z", "+01:00")


def test_same_instant_in_two_zones_keeps_each_zone() -> None:
    east = parse_line("2026-11-22T10:01:02+08:00 a sshd[1]: x")
    west = parse_line("2026-11-22T02:01:02Z b sshd[1]: x")
    assert east["@timestamp"] == west["@timestamp"] == "2026-11-22T02:01:02.000000Z"
    assert (east["event"]["timezone"], west["event"]["timezone"]) == ("+08:00", "+00:00")


def test_february_29_finds_a_leap_year() -> None:
    doc = parse_line("Feb 29 12:00:00 h sshd[1]: x", SourceOptions(timezone="UTC"))
    year = int(doc["@timestamp"][:4])
    assert year % 4 == 0 and year <= datetime.now().year


def test_unknown_timezone_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        AuthLog(SourceOptions(timezone="Mars/Olympus"))


# --- bytes -------------------------------------------------------------------------------------------


def test_gbk_line_is_decoded() -> None:
    raw = "Nov 22 10:01:02 政务云-01 sshd[1]: Invalid user 张三 from 192.0.2.1 port 22".encode("gbk")
    doc = parse_line(raw)
    assert (get(doc, "user.name"), get(doc, "host.hostname")) == ("张三", "政务云-01")


def test_crlf_line_ending_is_not_part_of_the_message() -> None:
    doc = parse_line(b"Nov 22 10:01:02 h sshd[1]: Invalid user a from 192.0.2.1 port 22\r")
    assert doc["message"].endswith("port 22") and get(doc, "source.port") == 22


def _assert_outcome(raw: bytes) -> None:
    try:
        docs = AuthLog(FIXTURE_OPTIONS).parse(Frame(0, raw))
    except Rejected as exc:
        assert str(exc)
        return
    assert len(docs) == 1 and isinstance(docs[0]["@timestamp"], str) and docs[0]["event"]["kind"] == "event"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_end_as_event_or_rejection(raw: bytes) -> None:
    _assert_outcome(raw)


_HEADERS = st.sampled_from([
    "Nov 22 10:01:02 web01 sshd[1]: ",
    "<86>Nov 22 10:01:02 web01 sudo: ",
    "<34>1 2026-11-22T10:01:02Z web01 sshd 1 - - ",
    "2026-11-22T10:01:02+0800 web01 useradd[2]: ",
    "2026-11-22T10:01:02.5+08:00 web01 su[3]: ",
    "Nov 22 10:01:02 web01 systemd-logind[4]: ",
])
_WORDS = st.sampled_from([
    "Accepted", "Failed", "Invalid", "user", "for", "from", "port", "ssh2:", "invalid", "Connection",
    "closed", "by", "[preauth]", "pam_unix(sshd:auth):", "session", "opened", "TTY=x", ";", "COMMAND=",
    "new", "name=", "Unable", "to", "negotiate", "with", "1.2.3.4", "::ffff:1.2.3.4", "22", "'a'", "(to",
    "root)", ":", "",
])


@settings(max_examples=400, deadline=None)
@given(_HEADERS, st.lists(st.one_of(_WORDS, st.text(max_size=8)), max_size=14))
def test_any_message_behind_a_valid_header_is_an_event(header: str, words: list[str]) -> None:
    """Only headers are grounds for rejection: whatever follows a good one is kept as an event."""
    raw = (header + " ".join(words)).encode("utf-8", "surrogatepass")
    docs = AuthLog(FIXTURE_OPTIONS).parse(Frame(0, raw))
    assert docs[0]["event"]["kind"] == "event"

