"""The drill range end to end: traffic from the attacker crosses the router to the real services, and each
sensor writes what egovops' own sources parse — with the attacker's address and the drill user's uid.
Taking a range down, or failing to bring one up, leaves nothing behind."""

from __future__ import annotations

import pwd
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from secops.drills.range import SHIPPED, DescriptionError, Range, RangeError, Sensor, down, up
from secops.events import Doc, get
from secops.sources import create
from secops.sources.base import FileSource, Source
from tests.drills.conftest import host_links, leftovers, processes_with, require_range_tools, work_dir
from tests.sources import parse_text_log as read_text_log

HTTP_GET = """\
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    answer = opener.open(sys.argv[1], timeout=10)
    print(answer.status); sys.stdout.write(answer.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code); sys.stdout.write(exc.read().decode())
"""

UPLOAD = """\
import sys, urllib.request
url, name, content = sys.argv[1:4]
body = (f"--b0undary\\r\\nContent-Disposition: form-data; name=\\"file\\"; filename=\\"{name}\\"\\r\\n"
        f"Content-Type: application/octet-stream\\r\\n\\r\\n{content}\\r\\n--b0undary--\\r\\n").encode()
headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
request = urllib.request.Request(url, data=body, headers=headers)
print(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).status)
"""

WEBSHELL = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n/bin/echo \"$QUERY_STRING\"\n"

SSH_LOGIN = """\
import sys, paramiko
host, user, password, command = sys.argv[1:5]
client = paramiko.SSHClient()
client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
try:
    client.connect(host, username=user, password=password, look_for_keys=False, allow_agent=False, timeout=10)
except paramiko.AuthenticationException:
    print("denied")
    sys.exit(0)
_, out, _ = client.exec_command(command)
sys.stdout.write(out.read().decode())
client.close()
"""


def http_get(rng: Range, url: str) -> tuple[int, str]:
    result = rng.run("attacker", [sys.executable, "-c", HTTP_GET, url])
    status, _, body = result.stdout.partition("\n")
    assert status.isdigit(), result.stderr
    return int(status), body


def ssh_login(rng: Range, password: str, command: str = "true") -> str:
    user, _ = rng.credentials("ssh")
    argv = [sys.executable, "-c", SSH_LOGIN, rng.address("ssh"), user, password, command]
    result = rng.run("attacker", argv)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sensor(rng: Range, name: str) -> Sensor:
    return next(s for s in rng.sensors() if s.name == name)


def parse_text_log(fmt: str, path: Path) -> Iterator[Doc]:
    """Every document egovops' source `fmt` reads from a text log."""
    source = create(fmt)
    assert isinstance(source, Source)
    return read_text_log(source, path)


def wait_for_doc(read: Callable[[], Iterator[Doc]], match: Callable[[Doc], bool], timeout: float = 20) -> Doc:
    deadline = time.monotonic() + timeout
    while True:
        found = next((doc for doc in read() if match(doc)), None)
        if found is not None:
            return found
        assert time.monotonic() < deadline, "no matching document before the deadline"
        time.sleep(0.3)


def test_range_is_up_with_its_sensors(drill_range: Range) -> None:
    status = drill_range.status()
    assert set(status["hosts"]) == {"router", "attacker", "web", "ssh"}
    processes = [p for h in (*status["hosts"].values(), *status["segments"].values()) for p in h["processes"]]
    assert sorted(processes) == ["apache2", "sshd", "staticd", "tshark", "zebra"]
    alive = [s["alive"] for h in (*status["hosts"].values(), *status["segments"].values())
             for s in h["processes"].values()] + [s["alive"] for s in status["local"].values()]  # fmt: skip
    assert alive and all(alive), status
    assert {(s.name, s.format) for s in drill_range.sensors()} == {
        ("waf", "modsecurity"),
        ("ssh", "auth"),
        ("audit", "auditd"),
        ("pcap", "pcap"),
    }
    assert drill_range.address("web", 4).startswith("198.18.2.")
    assert drill_range.address("web", 6).startswith("fd00:")
    assert Range.load(drill_range.root).status()["hosts"] == status["hosts"]


def test_drill_user_exists_only_inside_the_ssh_namespace(drill_range: Range) -> None:
    user, _ = drill_range.credentials("ssh")
    with pytest.raises(KeyError):
        pwd.getpwnam(user)
    inside = drill_range.run("ssh", ["id", "-u", user])
    assert inside.stdout.strip() == str(drill_range.uid)


@pytest.mark.parametrize("family", [4, 6])
def test_web_app_answers_the_attacker_through_the_router(drill_range: Range, family: int) -> None:
    web = drill_range.address("web", family)
    route = drill_range.run("attacker", ["ip", f"-{family}", "route", "get", web])
    assert f"via {drill_range.hosts['router'].addresses['internet'][0 if family == 4 else 1]}" in route.stdout
    status, body = http_get(drill_range, drill_range.web_url(family))
    assert status == 200
    assert "Range intranet portal" in body


def test_sql_injection_is_in_the_waf_audit_log_with_the_attackers_address(drill_range: Range) -> None:
    token = uuid.uuid4().hex[:12]
    attack = f"x' UNION SELECT name, secret FROM staff WHERE '{token}'='{token}'-- "
    status, body = http_get(drill_range, f"{drill_range.web_url()}search?q={quote(attack)}")
    assert status == 200 and "s3cret-li" in body  # DetectionOnly: the injection works and is logged
    log = sensor(drill_range, "waf").path
    doc = wait_for_doc(lambda: parse_text_log("modsecurity", log),
                       lambda d: token in str(get(d, "url.original")))  # fmt: skip
    assert get(doc, "source.ip") == drill_range.address("attacker")
    assert any(str(rule).startswith("942") for rule in get(doc, "rule.id")), get(doc, "rule.id")


def test_wrong_ssh_password_is_a_failed_login_from_the_attacker(drill_range: Range) -> None:
    assert ssh_login(drill_range, "not-the-password").strip() == "denied"
    log = sensor(drill_range, "ssh").path
    doc = wait_for_doc(lambda: parse_text_log("auth", log),
                       lambda d: get(d, "event.outcome") == "failure")  # fmt: skip
    assert get(doc, "source.ip") == drill_range.address("attacker")
    assert get(doc, "user.name") == drill_range.credentials("ssh")[0]


def test_command_over_ssh_is_in_the_audit_log(drill_range: Range) -> None:
    marker = uuid.uuid4().hex
    assert ssh_login(drill_range, drill_range.credentials("ssh")[1], f"/bin/echo {marker}").strip() == marker
    log = sensor(drill_range, "audit").path
    doc = wait_for_doc(lambda: parse_text_log("auditd", log),
                       lambda d: marker in (get(d, "process.args") or []))  # fmt: skip
    assert str(get(doc, "user.id")) == str(drill_range.uid)
    assert get(doc, "process.executable") == "/usr/bin/echo"


def test_webshell_upload_runs_as_the_web_account_and_is_audited(drill_range: Range) -> None:
    name, marker = f"shell-{uuid.uuid4().hex[:8]}.sh", uuid.uuid4().hex
    upload = drill_range.run(
        "attacker", [sys.executable, "-c", UPLOAD, f"{drill_range.web_url()}upload", name, WEBSHELL]
    )
    assert upload.stdout.strip() == "200", upload.stderr
    status, body = http_get(drill_range, f"{drill_range.web_url()}uploads/{name}?{marker}")
    assert (status, body.strip()) == (200, marker)
    log = sensor(drill_range, "audit").path
    doc = wait_for_doc(lambda: parse_text_log("auditd", log),
                       lambda d: get(d, "process.args") == ["/bin/echo", marker])  # fmt: skip
    assert str(get(doc, "user.id")) == str(drill_range.web_uid)


def test_scenario_audit_rules_are_loaded_with_the_ranges_key(drill_range: Range) -> None:
    rule = f"-a always,exit -F arch=b64 -S unlink,unlinkat -F uid={drill_range.uid}"
    drill_range.load_audit_rules([rule])
    listed = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=True).stdout
    assert f"-S unlink,unlinkat -F uid={drill_range.uid} -F key={drill_range.audit_key}" in listed
    assert Range.load(drill_range.root).audit.rules[-1] == f"{rule} -k {drill_range.audit_key}"
    with pytest.raises(RangeError, match="leave out the key"):
        drill_range.load_audit_rules([f"{rule} -k mine"])


def test_finished_capture_holds_the_http_request(drill_range: Range) -> None:
    token = uuid.uuid4().hex[:12]
    http_get(drill_range, f"{drill_range.web_url()}search?q={token}")
    directory, source, read = sensor(drill_range, "pcap").path, create("pcap"), set[Path]()
    assert isinstance(source, FileSource)

    def finished() -> Iterator[Doc]:
        files = sorted(directory.glob("*.pcap"))
        for path in files[:-1]:  # the newest file is still being written
            if path not in read:
                read.add(path)  # read whole: pyshark's tshark must not be cut off half way
                yield from [doc for item in source.read_path(path) if isinstance(item[1], list)
                            for doc in item[1]]  # fmt: skip

    doc = wait_for_doc(finished, lambda d: token in str(get(d, "url.original") or get(d, "url.query")), 30)
    assert get(doc, "http.request.method") == "GET"
    assert get(doc, "source.ip") == drill_range.address("attacker")


def _description(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "range.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_down_leaves_nothing_behind(tmp_path: Path) -> None:
    """A second range beside the session's (auditd can have one owner: this one runs without it)."""
    require_range_tools()
    description = _description(tmp_path, "audit: {enabled: true}", "audit: {enabled: false}")
    root, prefix, links = work_dir(), "egv-drilldown", host_links()
    rng = up(description, root, prefix)
    session = f"3600.{uuid.uuid4().int % 10**9}"  # a sleep whose command line names it
    try:
        assert http_get(rng, rng.web_url())[0] == 200
        login = ssh_login(rng, rng.password, f"nohup /usr/bin/sleep {session} >/dev/null 2>&1 & echo started")
        assert login.strip() == "started"
        assert processes_with(session)
    finally:
        down(Range.load(root))  # as another process would: from the state file
    assert processes_with(session) == []  # sessions sshd left running inside the namespace are stopped
    assert leftovers(prefix, root) == []
    assert host_links() == links
    root.parent.rmdir()


def test_failed_up_leaves_nothing_behind(tmp_path: Path) -> None:
    require_range_tools()
    description = _description(tmp_path, "  paranoia: 1\n", "  paranoia: 1\n  apache: /nonexistent/apache2\n")
    no_audit = description.read_text().replace("audit: {enabled: true}", "audit: {enabled: false}")
    description.write_text(no_audit)  # the session's range may own auditd
    root, prefix, links = work_dir(), "egv-drillfail", host_links()
    with pytest.raises(RangeError, match="/nonexistent/apache2: no such program"):
        up(description, root, prefix)
    assert leftovers(prefix, root) == []
    assert host_links() == links
    root.parent.rmdir()


def test_second_auditd_is_refused_before_anything_is_built(drill_range: Range) -> None:
    root, links = work_dir(), host_links()
    with pytest.raises(RangeError, match=rf"another auditd \(PID {drill_range.audit.pid}\) owns the kernel"):
        up(SHIPPED, root, "egv-drilltwo")
    assert leftovers("egv-drilltwo", root) == []
    assert host_links() == links
    root.parent.rmdir()


def test_address_clash_is_refused_with_its_line(tmp_path: Path) -> None:
    description = _description(tmp_path, "attacker: {segment: internet, host: 66}",
                               "attacker: {segment: dmz, host: 10}")  # fmt: skip
    root = work_dir()
    with pytest.raises(DescriptionError) as caught:
        up(description, root, "egv-drillclash")
    line = description.read_text().splitlines().index("  host: 10") + 1  # the web host's number
    assert caught.value.problems == [f"{description}:{line}: web.host: 10 on dmz is also attacker's address"]
    assert leftovers("egv-drillclash", root) == []
    root.parent.rmdir()
