"""The JSON audit logs: ModSecurity 2.9 (`SecAuditLogFormat JSON`) and libmodsecurity 3.

Both write one object per line under a `transaction` key; they differ in everything below it, so each
has a small reader that fills the shared `Transaction`. Untrusted input: every field is type-checked
and anything unexpected is a `Rejected` with the field's name, never a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from secops.events import Rejected
from secops.sources.modsecurity_model import (
    RuleMatch,
    Transaction,
    apply_content_length,
    apply_request_line,
    count,
    parse_log_time,
    parse_message,
    port,
    severity_name,
)


def _obj(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"JSON field {name} is not an object")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _headers(value: Any, name: str) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in _obj(value, name).items()}


def parse_json(raw: bytes, zone: ZoneInfo) -> Transaction:
    """One JSON audit record → Transaction; `zone` reads libmodsecurity 3's offset-less local time."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON: {exc}") from exc
    if not isinstance(record, dict) or not isinstance(record.get("transaction"), dict):
        raise Rejected("JSON record without a transaction object")
    tx = record["transaction"]
    if "transaction_id" in tx or "audit_data" in record:
        return _v2(record, tx)
    if "unique_id" in tx or "messages" in tx or "time_stamp" in tx:
        return _v3(tx, zone)
    raise Rejected("JSON transaction is neither ModSecurity 2.9 nor libmodsecurity 3 layout")


def _v2(record: dict[str, Any], tx: dict[str, Any]) -> Transaction:
    time = _str(tx.get("time"))
    unique_id = _str(tx.get("transaction_id"))
    if not time or not unique_id:
        raise Rejected("ModSecurity JSON transaction lacks time or transaction_id")
    out = Transaction(parse_log_time(time), unique_id)
    out.client_ip = _str(tx.get("remote_address"))
    out.client_port = port(tx.get("remote_port"))
    out.server_ip = _str(tx.get("local_address"))
    out.server_port = port(tx.get("local_port"))
    request = _obj(record.get("request"), "request")
    line = _str(request.get("request_line"))
    if line:
        apply_request_line(out, line)
    out.request_headers = _headers(request.get("headers"), "request.headers")
    body = request.get("body")
    if isinstance(body, list) and body:
        out.request_body_bytes = sum(len(str(part).encode()) for part in body)
    apply_content_length(out)
    response = _obj(record.get("response"), "response")
    status = response.get("status")
    out.status = status if isinstance(status, int) else None
    out.response_headers = _headers(response.get("headers"), "response.headers")
    audit = _obj(record.get("audit_data"), "audit_data")
    messages = audit.get("messages")
    if isinstance(messages, list):
        out.rules = [parse_message(str(m)) for m in messages]
    action = _obj(audit.get("action"), "audit_data.action")
    out.intercepted = action.get("intercepted") is True
    out.engine_mode = _str(audit.get("engine_mode"))
    producer = audit.get("producer")
    if isinstance(producer, list):
        out.producer = "; ".join(str(p) for p in producer)
    return out


def _v3(tx: dict[str, Any], zone: ZoneInfo) -> Transaction:
    stamp = _str(tx.get("time_stamp"))
    unique_id = _str(tx.get("unique_id"))
    if not stamp or not unique_id:
        raise Rejected("libmodsecurity JSON transaction lacks time_stamp or unique_id")
    try:
        moment = datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y").replace(tzinfo=zone)
    except ValueError as exc:
        raise Rejected(f"unreadable time_stamp {stamp[:60]!r}") from exc
    out = Transaction(moment, unique_id)
    out.client_ip = _str(tx.get("client_ip"))
    out.client_port = port(tx.get("client_port"))
    out.server_ip = _str(tx.get("host_ip"))
    out.server_port = port(tx.get("host_port"))
    request = _obj(tx.get("request"), "transaction.request")
    out.method = _str(request.get("method"))
    out.uri = _str(request.get("uri"))
    version = request.get("http_version")
    if isinstance(version, (int, float, str)) and not isinstance(version, bool):
        out.http_version = str(version)
    out.request_headers = _headers(request.get("headers"), "transaction.request.headers")
    body = request.get("body")
    if isinstance(body, str) and body:
        out.request_body_bytes = len(body.encode())
    apply_content_length(out)
    response = _obj(tx.get("response"), "transaction.response")
    status = response.get("http_code")
    out.status = status if isinstance(status, int) else None
    out.response_headers = _headers(response.get("headers"), "transaction.response.headers")
    messages = tx.get("messages")
    if isinstance(messages, list):
        out.rules = [_v3_message(m) for m in messages if isinstance(m, dict)]
    producer = _obj(tx.get("producer"), "transaction.producer")
    engine = _str(producer.get("secrules_engine"))
    out.engine_mode = engine
    out.producer = _str(producer.get("modsecurity"))
    # libmodsecurity 3 records no interception flag: an enforcing engine that matched rules and
    # answered with an error status is what an interception looks like in its log.
    out.intercepted = bool(engine == "Enabled" and out.rules and out.status is not None and out.status >= 400)
    return out


def _v3_message(message: dict[str, Any]) -> RuleMatch:
    details = _obj(message.get("details"), "messages[].details")
    tags = details.get("tags")
    line = str(details.get("lineNumber", ""))
    return RuleMatch(
        id=_str(details.get("ruleId")),
        message=_str(message.get("message")),
        severity=severity_name(details.get("severity")),
        data=_str(details.get("data")) or None,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        file=_str(details.get("file")),
        line=count(line),
        version=_str(details.get("ver")) or None,
        text=_str(details.get("match")) or "",
    )
