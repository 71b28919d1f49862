"""What the attacker does in a drill step, run inside the attacker's network namespace.

The runner starts `python -m secops.drills.actions KIND` in the attacker namespace (through the range) with
`{"action": ..., "target": ...}` on standard input and reads one `ActionResult` as JSON from standard
output. Actions name hosts of the range (`web`, `ssh`, ...); the runner resolves them from the range
itself, so a drill can only ever aim at addresses inside the range.
"""

from __future__ import annotations

import http.client
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from uuid import uuid4

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

CRS_REGRESSION = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "crs-regression"
"""The OWASP CRS regression tests, read in place from ../shared beside the repository."""
_HOP_HEADERS = {"host", "content-length", "connection", "proxy-connection", "keep-alive", "transfer-encoding"}
HostName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", description="a host of the range")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(_Model):
    method: str = "GET"
    path: str = Field("/", pattern=r"^/", description="path and query, sent to the range's web URL")
    headers: dict[str, str] = {}
    body: str | None = None


class PayloadSet(_Model):
    """Requests of one CRS regression file (method, URI, headers, body), replayed at the range's web host."""

    file: str = Field(description="a path inside ../shared/corpora/crs-regression")
    limit: int | None = Field(None, ge=1)

    @field_validator("file")
    @classmethod
    def _inside_the_corpus(cls, value: str) -> str:
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError(f"{value!r}: give a path relative to {CRS_REGRESSION}")
        if not (CRS_REGRESSION / value).is_file():
            raise ValueError(f"{value!r}: no such file under {CRS_REGRESSION} (is ../shared checked out?)")
        return value

    def requests(self) -> list[Request]:
        found: list[Request] = []
        cases = yaml.safe_load((CRS_REGRESSION / self.file).read_text(encoding="utf-8")) or {}
        for case in cases.get("tests", []):
            for stage in case.get("stages", []):
                given = (stage.get("stage") or {}).get("input") or {}
                if "uri" not in given or "raw_request" in given or "encoded_request" in given:
                    continue  # raw byte streams are the WAF tests' business, not an attacker's
                headers = {k: str(v) for k, v in (given.get("headers") or {}).items()
                           if k.lower() not in _HOP_HEADERS}
                data = given.get("data")
                body = "\r\n".join(map(str, data)) if isinstance(data, list) else data
                path = str(given["uri"])
                found.append(Request(
                    method=str(given.get("method", "GET")),
                    path=path if path.startswith("/") else "/" + path,
                    headers=headers,
                    body=None if body is None else str(body),
                ))
        return found[: self.limit]


class Paced(_Model):
    rate: float | None = Field(None, gt=0, description="attempts per second (a slow variant); none: at once")

    def paced(self, count: int) -> Iterator[int]:
        for n in range(count):
            if n and self.rate is not None:
                time.sleep(1 / self.rate)
            yield n


class HttpAction(Paced):
    """HTTP requests at the range's web host: a list of its own and payload sets from the CRS corpus."""

    kind: Literal["http"] = "http"
    requests: list[Request] = []
    payloads: list[PayloadSet] = []

    def all_requests(self) -> list[Request]:
        return [*self.requests, *(r for p in self.payloads for r in p.requests())]


class UploadAction(_Model):
    """A multipart upload of a file (a web shell) to the web application."""

    kind: Literal["upload"] = "upload"
    path: str = Field(pattern=r"^/")
    field: str = "file"
    filename: str
    content: str


class SshGuessAction(Paced):
    """Wrong passwords for the range's SSH user, then optionally the right one and commands in the session."""

    kind: Literal["ssh_guess"] = "ssh_guess"
    host: HostName = "ssh"
    wrong: int = Field(0, ge=0, le=200)
    login: bool = True
    commands: list[str] = Field(default_factory=list, description="run in the session; {web_url} is replaced")


class PortScanAction(Paced):
    """TCP connects to every port of every host (a connect scan)."""

    kind: Literal["port_scan"] = "port_scan"
    hosts: list[HostName] = Field(min_length=1)
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(min_length=1)
    timeout_s: float = Field(0.5, gt=0, le=10)


Action = Annotated[HttpAction | UploadAction | SshGuessAction | PortScanAction, Field(discriminator="kind")]


class Target(_Model):
    """Where the action may aim: addresses of the range's hosts, its web URL and its SSH account."""

    addresses: dict[str, str]
    web_url: str
    ssh_user: str
    ssh_password: str


class Order(_Model):
    action: Action
    target: Target


class ActionResult(BaseModel):
    """What the attacker saw. `blocked`: answers 403 or refused connections (the defence said no)."""

    kind: str
    attempts: int = 0
    succeeded: int = 0
    blocked: int = 0
    refused: int = 0
    statuses: dict[str, int] = {}
    outputs: list[str] = []
    errors: list[str] = []
    elapsed_s: float = 0.0


def _http(action: HttpAction, target: Target) -> ActionResult:
    result = ActionResult(kind=action.kind)
    statuses: Counter[str] = Counter()
    requests = action.all_requests()
    for n in action.paced(len(requests)):
        request = requests[n]
        status = _send(target.web_url, request.method, request.path, request.headers,
                       None if request.body is None else request.body.encode("utf-8", "surrogateescape"))
        _count_http(result, statuses, status)
    result.statuses = dict(statuses)
    return result


def _count_http(result: ActionResult, statuses: Counter[str], status: int | str) -> None:
    result.attempts += 1
    statuses[str(status)] += 1
    if status == 403:
        result.blocked += 1
    elif status == "refused":
        result.refused += 1
    elif isinstance(status, int) and status < 400:
        result.succeeded += 1


def _send(base: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> int | str:
    """One request on its own connection; the status, or `refused` / the error's name."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=10)
    target = quote(url.path.rstrip("/") + path, safe="/?&=%:+,;@!$'()*[]~#")
    try:
        connection.request(method, target, body=body, headers=headers)
        return connection.getresponse().status
    except ConnectionRefusedError:
        return "refused"
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        connection.close()


def _upload(action: UploadAction, target: Target) -> ActionResult:
    boundary = uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{action.field}\"; "
        f"filename=\"{action.filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        f"{action.content}\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    result = ActionResult(kind=action.kind)
    statuses: Counter[str] = Counter()
    _count_http(result, statuses, _send(target.web_url, "POST", action.path, headers, body))
    result.statuses = dict(statuses)
    return result


def _ssh(action: SshGuessAction, target: Target) -> ActionResult:
    import paramiko  # type: ignore[import-untyped]  # no stubs; imported here: only this action needs it

    address = target.addresses[action.host]
    result = ActionResult(kind=action.kind)
    passwords = [f"wrong-{n}-{uuid4().hex[:6]}" for n in range(action.wrong)]
    if action.login:
        passwords.append(target.ssh_password)
    for n in action.paced(len(passwords)):
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        result.attempts += 1
        try:
            client.connect(address, username=target.ssh_user, password=passwords[n], timeout=10,
                           allow_agent=False, look_for_keys=False, banner_timeout=10, auth_timeout=10)
        except paramiko.AuthenticationException:
            continue  # a wrong password: the answer the guess expected
        except ConnectionRefusedError:
            result.refused += 1
            continue
        except (OSError, paramiko.SSHException) as exc:
            result.errors.append(f"attempt {n + 1}: {type(exc).__name__}: {exc}")
            continue
        try:
            result.succeeded += 1
            for line in action.commands:
                command = line.replace("{web_url}", target.web_url)
                _stdin, stdout, stderr = client.exec_command(command, timeout=30)
                status = stdout.channel.recv_exit_status()
                complaint = stderr.read().decode(errors="replace")[:200]
                result.outputs.append(f"$ {command} → {status} {complaint}".rstrip())
        finally:
            client.close()
    return result


def _scan(action: PortScanAction, target: Target) -> ActionResult:
    result = ActionResult(kind=action.kind)
    pairs = [(target.addresses[h], p) for h in action.hosts for p in action.ports]
    for n in action.paced(len(pairs)):
        result.attempts += 1
        try:
            with socket.create_connection(pairs[n], timeout=action.timeout_s):
                result.succeeded += 1
                result.outputs.append(f"{pairs[n][0]}:{pairs[n][1]} open")
        except ConnectionRefusedError:
            result.refused += 1
        except OSError:
            pass  # filtered / timed out: nothing answered
    return result


_RUNNERS: dict[str, Callable[[Any, Target], ActionResult]] = {
    "http": _http, "upload": _upload, "ssh_guess": _ssh, "port_scan": _scan,
}


def execute(action: Action, target: Target) -> ActionResult:
    started = time.monotonic()
    result = _RUNNERS[action.kind](action, target)
    result.elapsed_s = round(time.monotonic() - started, 3)
    return result


def main() -> None:
    """`python -m secops.drills.actions KIND` with an `Order` as JSON on standard input."""
    order = Order.model_validate_json(sys.stdin.buffer.read())
    if len(sys.argv) > 1 and sys.argv[1] != order.action.kind:
        sys.exit(f"asked for {sys.argv[1]} but the order is a {order.action.kind}")
    sys.stdout.write(execute(order.action, order.target).model_dump_json())


if __name__ == "__main__":
    main()
